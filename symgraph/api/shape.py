"""Shape functions with NumPy names."""

from __future__ import annotations

from typing import Any

from symgraph.api.base import operands
from symgraph.apply import apply
from symgraph.errors import ShapeError
from symgraph.ops import shape as ops
from symgraph.types import normalize_axes


def shape(x: Any) -> Any:
    """The run-time shape of x as an int64 vector (a tuple for eager tensors)."""
    (x,) = operands(x)
    return apply(ops.Shape(), x)


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
