"""Reductions with NumPy names: `axis=None|int|tuple` (negative too) and `keepdims`."""

from __future__ import annotations

from typing import Any

from symgraph.api.base import operands
from symgraph.apply import apply
from symgraph.ops import reduce as ops
from symgraph.types import normalize_axes

builtin_sum = sum


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Sum over `axis` (all axes by default); an empty sum is 0."""
    (x,) = operands(x)
    return apply(ops.Sum(normalize_axes(axis, x.ndim, "sum"), keepdims), x)
