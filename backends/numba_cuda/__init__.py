"""The `cuda` backend: numba.cuda kernels per kernel kind, launched by a host-side runner.

Kernels are generated from the same scalar bodies as the CPU backend
(`backends/scalar_code.py`), with every literal typed so float32 stays float32. Values
stay on the device for the whole call (views cost nothing, intermediates come from a
reusing pool); inputs are uploaded once per call, shared variables keep a device copy
across calls, and outputs come back as NumPy arrays. See docs/cuda.md.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import numpy as np
from numba import cuda

from backends.numba_cuda.device import SIMULATOR

if not SIMULATOR and not os.environ.get("SYMGRAPH_CUDA_PTX_ONLY") and not cuda.is_available():
    raise ImportError("no CUDA GPU found (set NUMBA_ENABLE_CUDASIM=1 to run on the simulator)")

from backends.numba_cuda.control import CONTROL
from backends.numba_cuda.device import POOL, SHARED, Tensor, to_host, upload
from backends.numba_cuda.runner import KINDS, Program, release
from symgraph.graph import Graph


class CudaBackend:
    """Lowers a graph to a `Program` of kernel launches (see the module docstring)."""

    name = "cuda"
    kinds = frozenset(KINDS) | frozenset(CONTROL)

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one call at a time: the pool is shared

    def lower(self, graph: Graph) -> Any:
        program = Program(graph)

        def run(inputs: list) -> list:
            with self._lock:
                tensors = [upload(np.asarray(a)) for a in inputs]
                outs = program.run(tensors)
                results = []
                for t in outs:
                    results.append(_download(t))
                return results

        run.program = program
        return run


def _download(t: Tensor) -> np.ndarray:
    """t as a new host array. The device tensor is remembered with it, so that when the
    array becomes a shared variable's value (an update) the next call reuses the device
    copy instead of uploading it again; the buffer returns to the pool when the array dies."""
    host = to_host(t)
    if t.buffer is None:
        return host
    t.buffer.pooled, pooled = False, t.buffer.pooled
    if pooled:
        weakref.finalize(host, _give_back, t)
    SHARED.remember(host, t)
    release(t)
    return host


def _give_back(t: Tensor) -> None:
    buffer = t.buffer
    if buffer.users == 0 and not SHARED.owns(buffer):
        POOL.give(buffer)
    else:
        buffer.pooled = True


BACKEND = CudaBackend()
