"""Reductions with NumPy names: `axis=None|int|tuple` (negative too) and `keepdims`.

`mean`, `var` and `std` are compositions of `sum`; the element count comes from the
static shape when it is known, else from the run-time shape (a product over `sg.shape`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.api.base import operands
from symgraph.api.math import cast, maximum, sqrt, where
from symgraph.apply import apply
from symgraph.dtypes import is_float
from symgraph.errors import ShapeError
from symgraph.graph import Node
from symgraph.ops import reduce as ops
from symgraph.types import normalize_axes, normalize_axis

builtin_sum, builtin_max, builtin_min, builtin_all, builtin_any = sum, max, min, all, any


def static_shape(x: Any) -> tuple:
    """The shape known before running: a node's type shape (None for unknown), or an eager
    tensor's shape."""
    return x.type.shape if isinstance(x, Node) else tuple(x.shape)


def _reduce(cls: type, name: str, x: Any, axis: Any, keepdims: bool) -> Any:
    (x,) = operands(x)
    return apply(cls(normalize_axes(axis, x.ndim, name), keepdims), x)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Sum over `axis` (all axes by default); an empty sum is 0."""
    return _reduce(ops.Sum, "sum", x, axis, keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over `axis` (all axes by default); an empty product is 1. Zeros are handled
    exactly by the gradient (see `ops.reduce.Prod`)."""
    return _reduce(ops.Prod, "prod", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Largest element over `axis`; NaN propagates; an empty axis is a ShapeError. The
    gradient is split equally among tied maxima."""
    return _reduce(ops.Max, "max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Smallest element over `axis`; NaN propagates; an empty axis is a ShapeError. The
    gradient is split equally among tied minima."""
    return _reduce(ops.Min, "min", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Whether every element over `axis` is non-zero (bool)."""
    return _reduce(ops.All, "all", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Whether some element over `axis` is non-zero (bool)."""
    return _reduce(ops.Any, "any", x, axis, keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) over `axis`, stable for large |x|; its gradient is the softmax."""
    return _reduce(ops.LogSumExp, "logsumexp", x, axis, keepdims)


def _arg(cls: type, name: str, x: Any, axis: Any, keepdims: bool) -> Any:
    (x,) = operands(x)
    if axis is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axis, (int, np.integer)):
        axes = (normalize_axis(int(axis), x.ndim, name),)
    else:
        raise ShapeError(f"{name}: axis must be None or an int, got {axis!r}")
    return apply(cls(axes, keepdims), x)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """int64 index of the largest element along `axis` (None: of the flattened array).
    The first NaN counts as the maximum, like NumPy."""
    return _arg(ops.Argmax, "argmax", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """int64 index of the smallest element along `axis` (None: of the flattened array).
    The first NaN counts as the minimum, like NumPy."""
    return _arg(ops.Argmin, "argmin", x, axis, keepdims)


def count(x: Any, axis: Any = None) -> Any:
    """The number of elements over `axis`: a Python int when the static shape knows it,
    else an int64 scalar computed from the run-time shape."""
    axes = normalize_axes(axis, x.ndim, "count")
    shape = static_shape(x)
    if builtin_all(shape[a] is not None for a in axes):
        return int(np.prod([shape[a] for a in axes], dtype="int64"))
    from symgraph.api.shape import shape as runtime_shape

    mask = np.array([i in axes for i in range(x.ndim)])
    return prod(where(mask, runtime_shape(x), 1))


def _divide_by_count(total: Any, n: Any) -> Any:
    # A Python int is weak, so float32 stays float32; an int64 node must be cast first.
    return total / (n if isinstance(n, int) else cast(n, total.dtype))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over `axis`; integers and booleans give float64; an empty mean is
    NaN (no error), like NumPy."""
    (x,) = operands(x)
    total = sum(x, axis, keepdims)
    if not is_float(total.dtype):
        total = cast(total, "float64")
    return _divide_by_count(total, count(x, axis))


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over `axis`: sum((x - mean)**2) / (n - ddof); NaN when n - ddof <= 0."""
    (x,) = operands(x)
    centered = x - mean(x, axis, keepdims=True)
    squares = sum(centered * centered, axis, keepdims)
    n = count(x, axis)
    if isinstance(n, int):
        return _divide_by_count(squares, builtin_max(n - ddof, 0))
    return _divide_by_count(squares, maximum(n - ddof, 0))


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over `axis`: sqrt(var(x, axis, ddof=ddof))."""
    return sqrt(var(x, axis, keepdims, ddof))


def cumsum(x: Any, axis: Any = None) -> Any:
    """Running sum along `axis`; `axis=None` runs over the flattened array (NumPy dtype
    rules: small integers and booleans accumulate in 64 bits)."""
    (x,) = operands(x)
    if axis is None:
        if x.ndim == 0:
            from symgraph.api.shape import expand_dims

            x = expand_dims(x, 0)
        elif x.ndim > 1:
            from symgraph import api

            x = api.reshape(x, (-1,))
        axis = 0
    return apply(ops.Cumsum(normalize_axis(axis, x.ndim, "cumsum")), x)

