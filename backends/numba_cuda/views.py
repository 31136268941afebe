"""Kind "view" (metadata only, no kernel) and the index plans of gathers and scatters.

A view rewrites a tensor's (shape, strides, offset); only a reshape of non-contiguous data
copies first. An index plan describes where x[index] lives in x's buffer: a loop shape,
a base offset, one stride per loop axis and a table of offsets for the advanced part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from backends.numba_cuda import codegen, launch
from backends.numba_cuda.device import POOL, Tensor, contiguous_strides, empty, to_host, upload
from symgraph.errors import LoweringError, ShapeError
from symgraph.graph import Node
from symgraph.ops.index import DYN, IndexOutOfBoundsError, is_advanced, items_text


def _expand_dims(op: Any, x: Tensor, *_: Tensor) -> Tensor:
    shape, strides = list(x.shape), list(x.strides)
    for a in op.axis:
        shape.insert(a, 1)
        strides.insert(a, 0)
    return x.view(shape, strides, x.offset)


def _squeeze(op: Any, x: Tensor, *_: Tensor) -> Tensor:
    if any(x.shape[a] != 1 for a in op.axis):
        raise ShapeError(f"squeeze: axes {op.axis} of shape {x.shape} are not all 1")
    keep = [d for d in range(x.ndim) if d not in op.axis]
    return x.view([x.shape[d] for d in keep], [x.strides[d] for d in keep], x.offset)


def _transpose(op: Any, x: Tensor, *_: Tensor) -> Tensor:
    return x.view([x.shape[a] for a in op.axes], [x.strides[a] for a in op.axes], x.offset)


def _reshape(op: Any, x: Tensor, shape_t: Tensor) -> Tensor:
    target = [int(d) for d in to_host(shape_t)]
    size = x.size
    if target.count(-1) == 1:
        known = int(np.prod([d for d in target if d != -1], dtype="int64"))
        if known and size % known == 0:
            target[target.index(-1)] = size // known
    if any(d < 0 for d in target) or int(np.prod(target, dtype="int64")) != size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} (size {size}) "
                         f"into shape {tuple(target)}; the sizes must match (at most one -1)")
    if x.buffer is not None:
        x = launch.contiguous(POOL, x)
    return x.view(target, contiguous_strides(target), x.offset)


def _broadcast_to(op: Any, x: Tensor, shape_t: Tensor) -> Tensor:
    target = tuple(int(d) for d in to_host(shape_t))
    lead = len(target) - x.ndim
    if lead < 0 or any(d != 1 and d != t for d, t in zip(x.shape, target[lead:])):
        raise ShapeError(f"broadcast_to: cannot broadcast an array of shape {x.shape} to "
                         f"{target}")
    return x.view(target, launch.broadcast_strides(x, target), x.offset)


def _subtensor(op: Any, x: Tensor, *dynamic: Tensor) -> Tensor:
    plan = index_plan(op.name, op.items, x, dynamic)
    return x.view(plan.shape, plan.strides, plan.base)


VIEWS = {"ExpandDims": _expand_dims, "Squeeze": _squeeze, "Transpose": _transpose,
         "Reshape": _reshape, "BroadcastTo": _broadcast_to, "Subtensor": _subtensor}


def view(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "view": look the op up by class name."""
    rule = VIEWS.get(type(node.op).__name__)
    if rule is None:
        raise LoweringError(f"{node.op.name}: the cuda backend has no view rule for it")
    return rule(node.op, *inputs)


@dataclass
class Plan:
    """Where x[index] lives: loop `shape`, `base` offset, `strides`, and the offset
    `table` (a flat int64 device array) read at sum(j * table_strides)."""

    shape: tuple
    base: int
    strides: tuple
    table: Any
    table_strides: tuple
    advanced: bool


def _bound(name: str, k: int, dim: int, axis: int) -> int:
    if not -dim <= k < dim:
        raise IndexOutOfBoundsError(f"{name}: index {k} is out of bounds for axis {axis} "
                                    f"with size {dim}")
    return k + dim if k < 0 else k


def index_plan(name: str, items: tuple, x: Tensor, dynamic: Sequence[Tensor]) -> Plan:
    """The plan of x[items] (NumPy's rules: advanced indices broadcast together; their
    block replaces them in place when they are adjacent, else goes first)."""
    supply = iter(dynamic)
    advanced = is_advanced(items)
    dims: list[tuple[int, int]] = []  # (length, stride) of the basic output axes
    arrays: list[tuple[Tensor, int, int]] = []  # (index array, axis size, axis stride)
    positions: list[int] = []
    insert_at = 0
    base = x.offset
    axis = 0
    for pos, item in enumerate(items):
        kind = item[0]
        if kind == "newaxis":
            dims.append((1, 0))
            continue
        if axis >= x.ndim:
            raise IndexOutOfBoundsError(f"{name}: too many indices for an array of shape "
                                        f"{x.shape} (index [{items_text(items)}])")
        size, stride = x.shape[axis], x.strides[axis]
        if kind == "slice":
            parts = [int(to_host(next(supply))) if p == DYN else p for p in item[1:]]
            if parts[2] == 0:
                raise ShapeError(f"{name}: slice step cannot be zero")
            start, stop, step = slice(*parts).indices(size)
            dims.append((len(range(start, stop, step)), stride * step))
            base += start * stride
            axis += 1
            continue
        if advanced and not positions:
            insert_at = len(dims)
        if kind == "index":
            k = int(to_host(next(supply))) if item[1] == DYN else item[1]
            base += _bound(name, k, size, axis) * stride
            axis += 1
            if advanced:
                positions.append(pos)
            continue
        positions.append(pos)
        t = next(supply)
        if kind == "array":
            arrays.append((t, size, stride))
            axis += 1
            continue
        mask = to_host(t).astype(bool)
        if mask.shape != x.shape[axis:axis + mask.ndim]:
            raise IndexOutOfBoundsError(f"{name}: boolean index of shape {mask.shape} does "
                                        f"not match axes of shape {x.shape[axis:]}")
        for found in np.nonzero(mask):
            arrays.append((upload(found), x.shape[axis], x.strides[axis]))
            axis += 1
    dims += [(x.shape[d], x.strides[d]) for d in range(axis, x.ndim)]
    if not advanced:
        return Plan(tuple(d for d, _ in dims), base, tuple(s for _, s in dims),
                    launch.zero_table(), (0,) * len(dims), False)
    if positions != list(range(positions[0], positions[-1] + 1)):
        insert_at = 0
    block = launch.loop_shape(name, [a for a, _, _ in arrays])
    table = _offset_table(name, arrays, block)
    block_strides = contiguous_strides(block)
    before, after = dims[:insert_at], dims[insert_at:]
    shape = tuple(d for d, _ in before) + block + tuple(d for d, _ in after)
    strides = tuple(s for _, s in before) + (0,) * len(block) + tuple(s for _, s in after)
    table_strides = (0,) * len(before) + block_strides + (0,) * len(after)
    return Plan(shape, base, strides, table, table_strides, True)


def _offset_table(name: str, arrays: list, block: tuple) -> Any:
    """sum(wrap(array) * stride) over the block, checking bounds on the device."""
    for t, _, _ in arrays:
        if t.dtype[0] not in "iu":
            raise ShapeError(f"{name}: index arrays must be integers, got {t.dtype}")
    out = empty(POOL, "int64", block)
    flag = upload(np.zeros(1, "int32"))
    n = out.size
    if n:
        args: list = []
        for t, size, stride in arrays:
            launch.ensure_device(t)
            args += [t.buffer.array, t.offset, *launch.broadcast_strides(t, block), size,
                     stride]
        kernel = codegen.kernel("offsets", n_arrays=len(arrays), ndim=len(block),
                                index_dtypes=tuple(t.dtype for t, _, _ in arrays))
        kernel[launch.blocks(n), launch.THREADS](n, *block, out.buffer.array,
                                                 flag.buffer.array, *args)
        flag.host_value = None  # written by the kernel: read it back
        if to_host(flag)[0]:
            sizes = ", ".join(str(size) for _, size, _ in arrays)
            raise IndexOutOfBoundsError(f"{name}: an index array holds an index out of bounds "
                                        f"for its axis (sizes {sizes})")
    return out.buffer.array
