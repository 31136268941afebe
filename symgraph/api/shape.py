"""Shape functions with NumPy names: reshape, transpose, broadcast_to, concatenate, stack, …

Target shapes may mix ints, -1 (reshape only) and symbolic integer scalars such as
`x.shape[0]`, or be one symbolic integer vector; what is known statically (ints, constants,
dimensions of `x.shape` known at build time) goes into the static type.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from symgraph.api.base import _is_eager, operands
from symgraph.apply import apply
from symgraph.dtypes import result_type
from symgraph.errors import DTypeError, ShapeError, SymgraphError, with_origin
from symgraph.graph import Constant, Node, user_origin
from symgraph.ops import shape as ops
from symgraph.types import normalize_axes, normalize_axis


def _fail(error: SymgraphError) -> SymgraphError:
    return with_origin(error, user_origin())


def _dims(x: Any) -> tuple:
    return x.type.shape if isinstance(x, Node) else tuple(x.shape)


def shape(x: Any) -> Any:
    """The run-time shape of x as an int64 vector; `x.shape[i]` is an int64 scalar."""
    (x,) = operands(x)
    return apply(ops.Shape(), x)


def static_int(value: Any) -> int | None:
    """The value of an integer known at build time (an int, a 0-d integer constant, or a
    statically known entry of `x.shape`), else None."""
    from symgraph.ops.index import Subtensor

    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, Constant) and value.ndim == 0 and value.dtype[0] in "iu":
        return int(value.value)
    if isinstance(value, Node) and isinstance(value.op, Subtensor):
        source = value.inputs[0]
        items = value.op.items
        if isinstance(source.op, ops.Shape) and len(items) == 1 and items[0][0] == "index":
            k = items[0][1]
            if isinstance(k, int):
                return source.inputs[0].type.shape[k]
    return None


def _vector_static(vector: Any, length: int) -> tuple:
    if isinstance(vector, Constant):
        return tuple(int(v) for v in vector.value)
    if isinstance(vector, Node) and isinstance(vector.op, ops.Shape):
        return vector.inputs[0].type.shape
    if not isinstance(vector, Node):  # eager: the values are at hand
        return tuple(int(v) for v in np.asarray(vector.numpy()))
    return (None,) * length


def _check_entry(entry: Any, name: str) -> None:
    is_int = isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_))
    tensor = isinstance(entry, Node) or _is_eager(entry)
    if is_int or tensor and entry.ndim == 0 and entry.dtype[0] in "iu":
        return
    raise _fail(DTypeError(f"{name}: shape entries must be ints or integer scalars (like "
                           f"x.shape[0]), got {entry!r}"))


def shape_vector(shape: Any, name: str) -> tuple[Any, tuple]:
    """A target shape as (an int64 vector value, its statically known entries).

    The value is a NumPy array when every entry is an int, so that `operands` makes it a
    constant or an eager tensor to match the other arguments.
    """
    if (isinstance(shape, Node) or _is_eager(shape)) and shape.ndim == 1:
        if shape.dtype[0] not in "iu":
            raise _fail(DTypeError(f"{name}: a shape vector must be integers, got {shape!r}"))
        (length,) = _dims(shape)
        if length is None:
            raise _fail(ShapeError(f"{name}: the shape vector {shape!r} has an unknown length, "
                                   "so the result's ndim is unknown; give a tuple of sizes"))
        from symgraph.api.math import cast

        return cast(shape, "int64"), _vector_static(shape, length)
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    entries = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for entry in entries:
        _check_entry(entry, name)
    static = tuple(static_int(e) for e in entries)
    if all(isinstance(e, (int, np.integer)) for e in entries):
        return np.array(entries, dtype="int64"), static
    from symgraph.api.math import cast

    parts = [e if isinstance(e, (int, np.integer)) else cast(e, "int64") for e in entries]
    return stack([int(p) if isinstance(p, np.integer) else p for p in parts]), static


def reshape(x: Any, shape: Any) -> Any:
    """x with a new shape of the same size (NumPy's reshape, C order).

    `shape` is an int, a tuple of ints / -1 / symbolic integer scalars (`x.shape[0]`), or a
    symbolic integer vector. Known incompatible sizes raise a ShapeError now, others when
    the graph runs.
    """
    (x,) = operands(x)
    vector, static = shape_vector(shape, "reshape")
    if static == _dims(x) and None not in static:
        return x
    x, vector = operands(x, vector)
    return apply(ops.Reshape(static), x, vector)


def flatten(x: Any) -> Any:
    """x as a 1-d array (`reshape(x, -1)`)."""
    return reshape(x, (-1,))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """x with its axes permuted (reversed by default); negative axes count from the end."""
    (x,) = operands(x)
    ndim = len(_dims(x))
    if axes is None:
        axes = tuple(range(ndim))[::-1]
    axes = tuple(axes)
    if len(axes) != ndim:
        raise _fail(ShapeError(f"transpose: axes {axes} do not match the {ndim} axes of {x!r}"))
    perm = tuple(normalize_axis(a, ndim, "transpose") for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise _fail(ShapeError(f"transpose: axes {axes} repeat an axis; give a permutation "
                               f"of 0..{ndim - 1}"))
    if perm == tuple(range(ndim)):
        return x
    return apply(ops.Transpose(perm), x)


def broadcast_to(x: Any, shape: Any) -> Any:
    """x broadcast to `shape` (ints or symbolic integer scalars), NumPy's rules."""
    (x,) = operands(x)
    vector, static = shape_vector(shape, "broadcast_to")
    if -1 in static:
        raise _fail(ShapeError(f"broadcast_to: negative size in shape {static}"))
    x, vector = operands(x, vector)
    return apply(ops.BroadcastTo(static), x, vector)


def concatenate(xs: Sequence[Any], axis: int | None = 0) -> Any:
    """The arrays joined along an existing `axis` (None: flattened first), NumPy's dtype
    promotion."""
    from symgraph.api.math import cast

    xs = operands(*xs)
    if not xs:
        raise _fail(ShapeError("concatenate: needs at least one array"))
    if axis is None:
        xs = [flatten(x) for x in xs]
        axis = 0
    dtype = result_type(*(x.dtype for x in xs))
    xs = [cast(x, dtype) for x in xs]
    ndim = len(_dims(xs[0]))
    if ndim == 0:
        raise _fail(ShapeError("concatenate: zero-dimensional arrays cannot be concatenated; "
                               "use sg.stack"))
    return apply(ops.Concatenate(normalize_axis(axis, ndim, "concatenate")), *xs)


def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """The arrays (same shape) joined along a new `axis`."""
    xs = operands(*xs)
    if not xs:
        raise _fail(ShapeError("stack: needs at least one array"))
    ndim = len(_dims(xs[0]))
    if any(len(_dims(x)) != ndim for x in xs):
        listed = ", ".join(repr(x) for x in xs)
        raise _fail(ShapeError(f"stack: all arrays must have the same shape, got {listed}"))
    axis = normalize_axis(axis, ndim + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def expand_dims(x: Any, axis: Any) -> Any:
    """x with new length-1 axes at `axis` (positions in the result)."""
    (x,) = operands(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    return apply(ops.ExpandDims(normalize_axes(axes, ndim, "expand_dims")), x)


def squeeze(x: Any, axis: Any = None) -> Any:
    """x without length-1 axes (all statically known ones when `axis` is None)."""
    (x,) = operands(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.type.shape if hasattr(x, "type") else x.shape)
                     if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
    if not axes:
        return x
    return apply(ops.Squeeze(axes), x)
