"""Creating arrays: `zeros`, `ones`, `full`, `arange`, `eye`, and arrays shaped like others
(`zeros_like`, `ones_like`, `full_like`, `broadcast_like`).

Sizes may be ints or symbolic integer scalars (`sg.zeros((x.shape[0], 3))`). The default
dtype follows NumPy: float64 for `zeros`/`ones`/`eye`, the fill value's for `full`, the
bounds' for `arange`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symgraph.api.base import _typed_dtype, operands
from symgraph.api.math import add
from symgraph.api.shape import broadcast_to, shape_vector, static_int
from symgraph.apply import apply
from symgraph.dtypes import as_dtype, is_python_scalar
from symgraph.errors import DTypeError, ShapeError, with_origin
from symgraph.graph import user_origin
from symgraph.ops.creation import Arange, Eye, Full
from symgraph.ops.logic import FullLike


def full(shape: Any, fill_value: Any, dtype: object = None) -> Any:
    """An array of `shape` filled with `fill_value` (its NumPy dtype unless `dtype` is given);
    a symbolic fill value is broadcast."""
    return _full("full", shape, fill_value, dtype)


def _full(name: str, shape: Any, fill_value: Any, dtype: object) -> Any:
    vector, static = shape_vector(shape, name)
    if any(d is not None and d < 0 for d in static):
        raise with_origin(ShapeError(f"{name}: negative dimensions are not allowed, got shape "
                                     f"{static}"), user_origin())
    if not is_python_scalar(fill_value) and not isinstance(fill_value, np.generic):
        from symgraph.api.math import cast

        (value,) = operands(fill_value)
        value = value if dtype is None else cast(value, dtype)
        return broadcast_to(value, shape)
    dtype = as_dtype(dtype) if dtype is not None else as_dtype(np.asarray(fill_value).dtype)
    (vector,) = operands(vector)
    return apply(Full(np.asarray(fill_value, dtype).item(), dtype, static), vector)


def zeros(shape: Any, dtype: object = "float64") -> Any:
    """An array of `shape` filled with zeros (float64 unless `dtype` is given)."""
    return _full("zeros", shape, 0, "float64" if dtype is None else dtype)


def ones(shape: Any, dtype: object = "float64") -> Any:
    """An array of `shape` filled with ones (float64 unless `dtype` is given)."""
    return _full("ones", shape, 1, "float64" if dtype is None else dtype)


def _static_number(value: Any) -> int | float | None:
    if is_python_scalar(value) or isinstance(value, np.generic):
        return value.item() if isinstance(value, np.generic) else value
    return static_int(value)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: object = None) -> Any:
    """Values from `start` to `stop` (excluded) by `step`, like `np.arange`; `arange(n)`
    counts from 0. Bounds may be symbolic scalars. As in NumPy the dtype is int64 when
    every bound is an integer (whatever its width) and float64 otherwise, unless given."""
    if stop is None:
        start, stop = 0, start
    for bound in (start, stop, step):
        if isinstance(bound, (bool, np.bool_)):
            raise with_origin(DTypeError("arange: bounds must be numbers, not booleans"),
                              user_origin())
    bounds = operands(start, stop, step)
    if dtype is None:  # NumPy: int64 for integer bounds of any width, else float64
        kinds = [np.dtype(_typed_dtype(b)).kind for b in (start, stop, step)]
        dtype = "float64" if "f" in kinds else "int64"
    numbers = [_static_number(b) for b in (start, stop, step)]
    length = None
    if None not in numbers:
        if numbers[2] == 0:
            raise with_origin(ShapeError("arange: step must not be zero"), user_origin())
        length = max(0, math.ceil((numbers[1] - numbers[0]) / numbers[2]))
    return apply(Arange(as_dtype(dtype), length), *bounds)


def eye(n: Any, m: Any = None, k: int = 0, dtype: object = "float64") -> Any:
    """An n x m matrix (m = n by default) with ones on diagonal k (above the main one for
    k > 0), float64 unless `dtype` is given."""
    m = n if m is None else m
    static = (static_int(n), static_int(m))
    if any(d is not None and d < 0 for d in static):
        raise with_origin(ShapeError(f"eye: negative dimensions are not allowed, got {static}"),
                          user_origin())
    n, m = operands(np.int64(n) if isinstance(n, int) else n,
                    np.int64(m) if isinstance(m, int) else m)
    return apply(Eye(int(k), as_dtype("float64" if dtype is None else dtype), static), n, m)


def full_like(x: Any, value: bool | int | float, dtype: object = None) -> Any:
    """An array with x's shape, filled with `value` (x's dtype unless `dtype` is given)."""
    (x,) = operands(x)
    dtype = as_dtype(dtype) if dtype is not None else x.dtype
    return apply(FullLike(np.asarray(value, dtype).item(), dtype), x)


def zeros_like(x: Any, dtype: object = None) -> Any:
    """Zeros with x's shape and dtype."""
    return full_like(x, 0, dtype)


def ones_like(x: Any, dtype: object = None) -> Any:
    """Ones with x's shape and dtype."""
    return full_like(x, 1, dtype)


def broadcast_like(a: Any, x: Any) -> Any:
    """a broadcast against x's shape (a's dtype): `a + zeros_like(x)`, fusable."""
    a, x = operands(a, x)
    return add(a, zeros_like(x, a.dtype))
