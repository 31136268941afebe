"""Launching kernels on tensors: launch sizes, operand layouts, copies, reductions.

Launches use grid-stride loops over a bounded grid: on a GPU up to 4096 blocks of 256
threads; under the simulator 2 blocks of 16, because it runs one Python thread per CUDA
thread (a launch of thousands of threads takes seconds there).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from backends.numba_cuda import codegen
from backends.numba_cuda.codegen import FLAT, SCALAR, STRIDED
from backends.numba_cuda.device import (SIMULATOR, Pool, Tensor, contiguous_strides, empty,
                                        ensure_device, upload)
from symgraph.errors import LoweringError, ShapeError

THREADS = 16 if SIMULATOR else 256
MAX_BLOCKS = 2 if SIMULATOR else 4096
REDUCE_THREADS = 8 if SIMULATOR else 256  # each simulated barrier costs a thread switch
REDUCE_BLOCKS = 4 if SIMULATOR else 8192
TILE = 4 if SIMULATOR else 16
_ZERO_TABLE: list = []


def blocks(n: int) -> int:
    return max(1, min(MAX_BLOCKS, -(-n // THREADS)))


def broadcast_strides(t: Tensor, shape: tuple) -> tuple[int, ...]:
    """t's element strides when read as `shape` (zero on broadcast axes)."""
    lead = len(shape) - t.ndim
    strides = [0] * lead
    for d, s, target in zip(t.shape, t.strides, shape[lead:]):
        strides.append(0 if d == 1 and target != 1 else s)
    return tuple(strides)


def operand(t: Tensor, shape: tuple) -> tuple[str, list]:
    """(mode, kernel arguments) of t read over a loop of `shape`."""
    ensure_device(t)
    if t.size == 1:
        return SCALAR, [t.buffer.array, t.offset]
    if t.shape == shape and t.contiguous:
        return FLAT, [t.buffer.array, t.offset]
    return STRIDED, [t.buffer.array, t.offset, *broadcast_strides(t, shape)]


def loop_shape(name: str, tensors: Sequence[Tensor]) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*(t.shape for t in tensors)))
    except ValueError:
        shapes = ", ".join(f"{t.dtype}{list(t.shape)}" for t in tensors)
        raise ShapeError(f"{name}: cannot broadcast the run-time shapes {shapes} "
                         "(trailing dimensions must be equal or 1)") from None


def run_program(pool: Pool, program: tuple, outputs: tuple, out_dtypes: Sequence[str],
                inputs: Sequence[Tensor], shape: tuple) -> list[Tensor]:
    """A fused elementwise program over inputs broadcast to `shape`: new contiguous outputs."""
    outs = [empty(pool, d, shape) for d in out_dtypes]
    n = int(np.prod(shape, dtype="int64"))
    if n == 0:
        return outs
    modes, args = [], []
    for t in inputs:
        mode, more = operand(t, shape)
        modes.append(mode)
        args += more
    dtypes = tuple(t.dtype for t in inputs)
    kernel = codegen.kernel("elemwise", program=program, outputs=outputs, in_dtypes=dtypes,
                            modes=tuple(modes), ndim=len(shape))
    kernel[blocks(n), THREADS](n, *shape, *(o.buffer.array for o in outs), *args)
    return outs


def zero_table() -> object:
    if not _ZERO_TABLE:
        _ZERO_TABLE.append(upload(np.zeros(1, "int64")).buffer.array)
    return _ZERO_TABLE[0]


def move(mode: str, x: Tensor, shape: tuple, base: int, strides: Sequence[int],
         table: object, table_strides: Sequence[int], other: Tensor) -> None:
    """The index kernel: gather from x into `other`, or set/add `other` into x."""
    n = int(np.prod(shape, dtype="int64"))
    if n == 0:
        return
    ensure_device(other)
    kernel = codegen.kernel("index", ndim=len(shape), mode=mode, dtype=x.dtype)
    head = [n, *shape, x.buffer.array, base, *strides, table, *table_strides]
    if mode == "gather":
        kernel[blocks(n), THREADS](*head, other.buffer.array)
    else:
        tail = [other.buffer.array, other.offset, *broadcast_strides(other, shape)]
        kernel[blocks(n), THREADS](*head, *tail)


def copy_into(dst: Tensor, src: Tensor) -> None:
    """dst[...] = src (src broadcast to dst's shape; dst any strided layout)."""
    ensure_device(src)
    move("set", dst, dst.shape, dst.offset, dst.strides, zero_table(), (0,) * dst.ndim, src)


def contiguous(pool: Pool, t: Tensor) -> Tensor:
    """t itself when it is contiguous, else a contiguous copy."""
    ensure_device(t)
    if t.contiguous:
        return t
    out = empty(pool, t.dtype, t.shape)
    copy_into(out, t)
    return out


def reduce(pool: Pool, name: str, reducer: str, program: tuple, outputs: tuple,
           inputs: Sequence[Tensor], shape: tuple, axes: Sequence[int], acc: str) -> Tensor:
    """Reduce the program's output (over inputs broadcast to `shape`) over `axes`; the
    result is contiguous with the kept axes only."""
    if reducer not in codegen.REDUCERS:
        raise LoweringError(f"{name}: the cuda backend has no reduction kernel for "
                            f"{reducer}; use the numba or python backend for it")
    kept = [d for d in range(len(shape)) if d not in axes]
    n_out = int(np.prod([shape[d] for d in kept], dtype="int64"))
    n_red = int(np.prod([shape[d] for d in axes], dtype="int64"))
    if n_red == 0 and reducer in ("Max", "Min"):
        raise ShapeError(f"{name}: cannot reduce the empty axes {tuple(axes)} of shape "
                         f"{shape} (there is no identity); check the input's shape")
    out = empty(pool, acc, tuple(shape[d] for d in kept))
    if n_out == 0:
        return out
    args = []
    for t in inputs:
        ensure_device(t)
        strides = broadcast_strides(t, shape)
        args += [t.buffer.array, t.offset, *(strides[d] for d in kept),
                 *(strides[d] for d in axes)]
    kernel = codegen.kernel("reduce", program=program, outputs=outputs,
                            in_dtypes=tuple(t.dtype for t in inputs), n_kept=len(kept),
                            n_red=len(axes), reducer=reducer, acc=acc, block=REDUCE_THREADS,
                            warp=codegen.default_warp())
    grid = max(1, min(REDUCE_BLOCKS, n_out))
    shared = REDUCE_THREADS * np.dtype(acc).itemsize  # dynamic shared memory (codegen)
    kernel[grid, REDUCE_THREADS, 0, shared](n_out, n_red, *(shape[d] for d in kept),
                                            *(shape[d] for d in axes), out.buffer.array, *args)
    return out


def reshaped(t: Tensor, shape: tuple) -> Tensor:
    """A contiguous t under a new shape of the same size."""
    assert t.contiguous
    return t.view(shape, contiguous_strides(shape), t.offset)
