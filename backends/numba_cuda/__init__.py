"""The `cuda` backend: numba.cuda kernels per kernel kind, launched by a host-side runner.

Kernels are generated from the same scalar bodies as the CPU backend
(`backends/scalar_code.py`), with every literal typed so float32 stays float32. Values
stay on the device for the whole call (views cost nothing, intermediates come from a
reusing pool); inputs are uploaded once per call, shared variables live on the device
across calls (updates are never downloaded unless the host reads them), and outputs come
back as NumPy arrays (device arrays for device inputs). See docs/cuda.md.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numba import cuda

from backends.numba_cuda.device import SIMULATOR

if not SIMULATOR and not os.environ.get("SYMGRAPH_CUDA_PTX_ONLY") and not cuda.is_available():
    raise ImportError("no CUDA GPU found (set NUMBA_ENABLE_CUDASIM=1 to run on the simulator)")

from backends.numba_cuda.control import CONTROL
from backends.numba_cuda.device import (LOCK, POOL, CudaValue, Tensor, empty, ensure_device,
                                        from_device, hold, release, to_host, upload)
from backends.numba_cuda.launch import copy_into
from backends.numba_cuda.nn import NN
from backends.numba_cuda.random import RANDOM
from backends.numba_cuda.runner import KINDS, Program
from symgraph.graph import Graph


class CudaBackend:
    """Lowers a graph to a `Program` of kernel launches (see the module docstring)."""

    name = "cuda"
    kinds = frozenset(KINDS) | frozenset(CONTROL) | frozenset(NN) | frozenset(RANDOM)

    def __init__(self) -> None:
        self._lock = LOCK  # one call at a time: the pool and reference counts are shared

    def lower(self, graph: Graph) -> Any:
        program = Program(graph)
        # compile.function marks how many outputs are the user's; the rest are update
        # values, which stay on the device (a CudaValue in the shared variable's container).
        n_outputs = getattr(graph, "n_outputs", len(graph.outputs))

        def run(inputs: list) -> list:
            on_device = any(hasattr(a, "__cuda_array_interface__") for a in inputs)
            with self._lock:
                POOL.settle()
                tensors = [from_device(a) if hasattr(a, "__cuda_array_interface__") else
                           upload(a, POOL) for a in inputs]
                outs = program.run(tensors)
                results = [_keep(t) if k >= n_outputs else _hand_over(t) if on_device
                           else _download(t) for k, t in enumerate(outs)]
            return results

        run.program = program
        run.fresh = (True,) * len(graph.outputs)  # each result is a new array or device value
        return run


def _download(t: Tensor) -> np.ndarray:
    """t as a new host array; its buffer goes back to the pool."""
    host = to_host(t)
    release(t)
    return host


def _keep(t: Tensor) -> CudaValue:
    """An update's value, left on the device."""
    value = CudaValue(t)
    release(t)
    return value


def _hand_over(t: Tensor) -> Any:
    """t as a numba device array the caller owns (a copy unless t is a whole pooled buffer)."""
    ensure_device(t)
    whole = t.contiguous and t.offset == 0 and t.buffer.array.size == max(t.size, 1)
    if not (whole and t.buffer.pooled and t.buffer.users == 1):
        copy = empty(POOL, t.dtype, t.shape)
        copy_into(copy, t)
        release(t)
        t = hold(copy)
    t.buffer.pooled = False  # the caller's from now on
    release(t)
    return t.buffer.array.reshape(t.shape) if t.size else cuda.device_array(t.shape, t.dtype)


BACKEND = CudaBackend()
