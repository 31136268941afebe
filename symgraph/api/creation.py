"""Arrays shaped like others: `zeros_like`, `ones_like`, `full_like`, `broadcast_like`."""

from __future__ import annotations

from typing import Any

from symgraph.api.base import operands
from symgraph.api.math import add
from symgraph.apply import apply
from symgraph.dtypes import as_dtype
from symgraph.ops.logic import FullLike


def full_like(x: Any, value: bool | int | float, dtype: object = None) -> Any:
    """An array with x's shape, filled with `value` (x's dtype unless `dtype` is given)."""
    (x,) = operands(x)
    dtype = as_dtype(dtype) if dtype is not None else x.dtype
    import numpy as np

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
