"""Device memory: strided tensors over flat buffers, the reusing pool, transfers, shared state.

Every value the CUDA runner handles is a `Tensor`: a flat 1-d device buffer plus an element
offset, a shape and element strides, so views (transpose, slicing, broadcasting, expand and
squeeze, reshape of contiguous data) cost no kernel at all — kernels read any strided
layout. Small metadata values (a `Shape` result, a scalar index) may live on the host only
and are uploaded the first time a kernel needs them; a device value is downloaded (once,
then cached) when a view needs its numbers.

Buffers come from a `Pool` keyed by (dtype, size): a buffer whose last reader is done goes
back to the pool and serves the next allocation of the same size, within a call and across
calls. Inputs are uploaded once per call; shared variables keep a device copy across calls,
refreshed only when the host value was replaced (`set_value` swaps the container's array,
so identity tells us).
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda

SIMULATOR = bool(int(os.environ.get("NUMBA_ENABLE_CUDASIM", "0") or "0"))


class Buffer:
    """A flat device array and the number of live tensors reading it."""

    __slots__ = ("array", "users", "pooled")

    def __init__(self, array: Any, pooled: bool) -> None:
        self.array = array
        self.users = 0
        self.pooled = pooled  # True: return to the pool when the last user is done


@dataclass
class Tensor:
    """A strided view of a device buffer (`buffer` None: a host-only metadata value)."""

    dtype: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in elements; 0 on broadcast axes, negative when reversed
    offset: int = 0
    buffer: Buffer | None = None
    host_value: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype="int64"))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def contiguous(self) -> bool:
        return self.strides == contiguous_strides(self.shape) or self.size <= 1

    def view(self, shape: tuple, strides: tuple, offset: int) -> Tensor:
        """Another layout of the same data (a host-only value stays on the host)."""
        shape = tuple(int(d) for d in shape)
        strides = tuple(int(s) for s in strides)
        if self.buffer is None:
            flat = self.host_value.reshape(-1)
            item = flat.itemsize
            host = np.lib.stride_tricks.as_strided(flat[offset:], shape,
                                                   [s * item for s in strides])
            return host_only(np.array(host))
        return Tensor(self.dtype, shape, strides, int(offset), self.buffer)


def contiguous_strides(shape: tuple) -> tuple[int, ...]:
    strides = []
    step = 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(int(d), 1)
    return tuple(reversed(strides))


class Pool:
    """Free device buffers by (dtype, size), reused before allocating new ones.

    Reuse is OFF (`reuse = False`): with it on, the simulator runs of the op tables failed
    now and then (a tensordot, an RNN gradient, an MLP step) in a way no single test
    reproduces — a buffer handed back while something still reads it. Until that lifetime
    bug is found (issue #6), every intermediate is a fresh allocation, freed by numba's
    deallocation when its last reference goes."""

    reuse = False

    def __init__(self) -> None:
        self.free: dict[tuple[str, int], list[Any]] = {}
        self.allocated = 0  # device allocations so far (the pool's misses)

    def take(self, dtype: str, size: int) -> Buffer:
        stack = self.free.get((dtype, max(size, 1)))
        if stack:
            return Buffer(stack.pop(), pooled=True)
        self.allocated += 1
        return Buffer(cuda.device_array(max(size, 1), dtype=dtype), pooled=True)

    def give(self, buffer: Buffer) -> None:
        if not self.reuse:
            return
        key = (buffer.array.dtype.name, buffer.array.size)
        self.free.setdefault(key, []).append(buffer.array)


def empty(pool: Pool, dtype: str, shape: tuple) -> Tensor:
    """A fresh contiguous tensor from the pool."""
    shape = tuple(int(d) for d in shape)
    size = int(np.prod(shape, dtype="int64"))
    return Tensor(dtype, shape, contiguous_strides(shape), 0, pool.take(dtype, size))


def upload(array: np.ndarray, pooled: bool = False) -> Tensor:
    """A host array copied to a new contiguous device buffer."""
    array = np.asarray(array)
    if array.dtype.name == "float16":
        array = array.astype("float32")
    compact = np.array(array, order="C", copy=True)
    device = cuda.to_device(compact.reshape(-1) if compact.size else np.zeros(1, array.dtype))
    return Tensor(array.dtype.name, array.shape, contiguous_strides(array.shape), 0,
                  Buffer(device, pooled), compact)


def from_device(value: Any) -> Tensor:
    """A caller's device array (`__cuda_array_interface__`) read in place when contiguous;
    a strided one is copied through the host once."""
    array = cuda.as_cuda_array(value)
    dtype = np.dtype(array.dtype).name
    if not array.is_c_contiguous():
        return upload(array.copy_to_host())
    flat = array.reshape(array.size) if array.size else cuda.device_array(1, dtype)
    return Tensor(dtype, tuple(array.shape), contiguous_strides(array.shape), 0,
                  Buffer(flat, pooled=False))


def host_only(array: np.ndarray) -> Tensor:
    """A metadata value (a shape vector): uploaded only if a kernel reads it."""
    array = np.array(array, order="C")
    return Tensor(array.dtype.name, array.shape, contiguous_strides(array.shape), 0, None, array)


def ensure_device(t: Tensor) -> Tensor:
    if t.buffer is None:
        assert t.host_value is not None
        uploaded = upload(t.host_value)
        t.buffer = uploaded.buffer
        t.strides = uploaded.strides
        t.offset = 0
    return t


def to_host(t: Tensor) -> np.ndarray:
    """The tensor's values as a new NumPy array (downloaded once, then cached)."""
    if t.host_value is not None:
        return np.array(t.host_value)
    if t.size == 0:
        return np.zeros(t.shape, t.dtype)
    flat = t.buffer.array.copy_to_host()
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(flat[t.offset:], t.shape,
                                           [s * item for s in t.strides])
    t.host_value = np.array(view)
    return np.array(t.host_value)


class SharedState:
    """Device copies of shared variables, keyed weakly by the variable.

    A copy is valid while the variable's container holds the very array it was made from:
    `set_value` (or a function on another backend) replaces that array, and the next call
    uploads again. Arrays this backend returned are remembered with their device tensor,
    so an update's new value (stored in the container by `Function`) is adopted without
    an upload. (An array edited in place and stored with `set_value(borrow=True)` is not
    noticed: borrow promises no such edits.)
    """

    def __init__(self) -> None:
        self.copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.recent: dict[int, tuple[weakref.ref, Tensor]] = {}

    def read(self, variable: Any) -> Tensor:
        host = variable.container[0]
        cached = self.copies.get(variable)
        if cached is not None and cached[0] is host:
            return cached[1]
        entry = self.recent.get(id(host))
        tensor = entry[1] if entry is not None and entry[0]() is host else upload(host)
        self.copies[variable] = (host, tensor)
        return tensor

    def remember(self, host: np.ndarray, tensor: Tensor) -> None:
        """`host` was downloaded from `tensor` (which must outlive it on the device)."""
        key = id(host)
        self.recent[key] = (weakref.ref(host, lambda _: self.recent.pop(key, None)), tensor)

    def owns(self, buffer: Buffer) -> bool:
        """Whether a shared variable's copy or a live returned array still uses `buffer`."""
        tensors = [t for _, t in self.copies.values()]
        tensors += [t for ref, t in list(self.recent.values()) if ref() is not None]
        return any(t.buffer is buffer for t in tensors)


SHARED = SharedState()
POOL = Pool()
