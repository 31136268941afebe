"""Device memory: strided tensors over flat buffers, the reusing pool, transfers, shared state.

Every value the CUDA runner handles is a `Tensor`: a flat 1-d device buffer plus an element
offset, a shape and element strides, so views (transpose, slicing, broadcasting, expand and
squeeze, reshape of contiguous data) cost no kernel at all — kernels read any strided
layout. Small metadata values (a `Shape` result, a scalar index) may live on the host only
and are uploaded the first time a kernel needs them; a device value is downloaded (once,
then cached) when a view needs its numbers.

Buffers come from a `Pool` keyed by (dtype, size): a buffer whose last reader is done goes
back to the pool and serves the next allocation of the same size, within a call and across
calls. Inputs are uploaded into pooled buffers once per call. An update's new value stays
on the device (a `CudaValue` in the shared variable's container, downloaded only when the
host reads the container); a host value (`set_value`) gets a device copy, refreshed only
when the container's array is replaced (identity tells us). `STATS` counts transfers and
allocations.
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda

from symgraph.graph import DeviceValue

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

    Lifetimes are reference counts (`Buffer.users`): every tensor the runner keeps in a call,
    and every reference that outlives one (a shared variable's device copy, an update's
    `CudaValue`, a downloaded value the next call may adopt), is a hold; a pooled buffer goes
    back here when its last hold is released. Holds that end outside a call (a finalizer, any
    thread) are queued with `later` and released by the next call (`settle`), so counts only
    change under the backend's lock. (Reuse was off for a while on a suspected lifetime bug;
    the failures were the simulator's shared-array race, see codegen.py.)"""

    def __init__(self) -> None:
        self.free: dict[tuple[str, int], list[Any]] = {}
        self.pending: collections.deque = collections.deque()

    def take(self, dtype: str, size: int) -> Buffer:
        stack = self.free.get((dtype, max(size, 1)))
        if stack:
            STATS["reuses"] += 1
            return Buffer(stack.pop(), pooled=True)
        STATS["allocations"] += 1
        return Buffer(cuda.device_array(max(size, 1), dtype=dtype), pooled=True)

    def give(self, buffer: Buffer) -> None:
        key = (buffer.array.dtype.name, buffer.array.size)
        self.free.setdefault(key, []).append(buffer.array)

    def later(self, tensor: Tensor) -> None:
        """Release `tensor`'s hold at the start of the next call (safe from finalizers)."""
        self.pending.append(tensor)

    def settle(self) -> None:
        while self.pending:
            release(self.pending.popleft())


def hold(value: Any) -> Any:
    """One more reader of `value` (a tensor or a tuple of them)."""
    for t in value if isinstance(value, tuple) else (value,):
        if t.buffer is not None:
            t.buffer.users += 1
    return value


def release(value: Any) -> None:
    """One reader of `value` is done; a pooled buffer nobody reads goes back to the pool."""
    for t in value if isinstance(value, tuple) else (value,):
        buffer = t.buffer
        if buffer is None:
            continue
        buffer.users -= 1
        # (A host-only value that a kernel read got an unpooled buffer after its holds.)
        assert buffer.users >= 0 or not buffer.pooled, "a buffer released more than held"
        if buffer.users == 0 and buffer.pooled:
            POOL.give(buffer)


def empty(pool: Pool, dtype: str, shape: tuple) -> Tensor:
    """A fresh contiguous tensor from the pool."""
    shape = tuple(int(d) for d in shape)
    size = int(np.prod(shape, dtype="int64"))
    return Tensor(dtype, shape, contiguous_strides(shape), 0, pool.take(dtype, size))


def upload(array: np.ndarray, pool: Pool | None = None) -> Tensor:
    """A host array copied to a contiguous device buffer: from `pool` (returned there when
    released), or a new one of its own (constants, small metadata)."""
    array = np.asarray(array)
    if array.dtype.name == "float16":
        array = array.astype("float32")
    compact = np.array(array, order="C", copy=True)
    flat = compact.reshape(-1) if compact.size else np.zeros(1, array.dtype)
    STATS["uploads"] += 1
    if pool is None:
        buffer = Buffer(cuda.to_device(flat), pooled=False)
    else:
        buffer = pool.take(array.dtype.name, flat.size)
        buffer.array.copy_to_device(flat)
    return Tensor(array.dtype.name, array.shape, contiguous_strides(array.shape), 0, buffer,
                  compact)


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
    STATS["downloads"] += 1
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(flat[t.offset:], t.shape,
                                           [s * item for s in t.strides])
    t.host_value = np.array(view)
    return np.array(t.host_value)


class CudaValue(DeviceValue):
    """An update's result left on the device, stored in the shared variable's container: the
    next call reads it in place; `get_value` (any read of `container[0]`) downloads it once."""

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = hold(tensor)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)

    def fetch(self) -> np.ndarray:
        with LOCK:  # get_value may run in another thread while a call holds and releases
            host = to_host(self.tensor)
            SHARED.remember(host, self.tensor)  # a later call adopts it without an upload
        return host

    def __del__(self) -> None:
        if POOL is not None:  # (module globals may be gone at interpreter exit)
            POOL.later(self.tensor)


class SharedState:
    """Device copies of shared variables whose container holds a host array.

    A copy is valid while the container holds the very array it was made from: `set_value`
    (or a function on another backend) replaces that array, and the next call uploads again.
    A host array fetched from a `CudaValue` is remembered with its device tensor, so the
    next call adopts it instead of uploading. (An array edited in place and stored with
    `set_value(borrow=True)` is not noticed: borrow promises no such edits.)
    """

    def __init__(self) -> None:
        self.copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.recent: dict[int, tuple[weakref.ref, Tensor]] = {}

    def read(self, variable: Any) -> Tensor:
        value = variable.container.peek()
        cached = self.copies.get(variable)
        if isinstance(value, CudaValue):
            if cached is not None:
                del self.copies[variable]
                release(cached[1])
            return value.tensor
        if cached is not None and cached[0] is value:
            return cached[1]
        entry = self.recent.get(id(value))
        found = entry is not None and entry[0]() is value
        tensor = hold(entry[1] if found else upload(value, POOL))
        if cached is not None:
            release(cached[1])
        self.copies[variable] = (value, tensor)
        return tensor

    def remember(self, host: np.ndarray, tensor: Tensor) -> None:
        """`host` was downloaded from `tensor`, which stays held while `host` lives."""
        key = id(host)

        def forget(_: Any) -> None:
            self.recent.pop(key, None)
            POOL.later(tensor)

        self.recent[key] = (weakref.ref(host, forget), hold(tensor))


LOCK = threading.RLock()
"""Held by every call of a cuda function and by fetches: reference counts change under it."""
STATS: collections.Counter = collections.Counter()
"""Transfers and allocations so far: uploads, downloads, allocations (pool misses), reuses."""
SHARED = SharedState()
POOL = Pool()
