"""Comparisons, logic, `where` and `cast`.

Comparisons and logic produce booleans (or integers, for bitwise ops on integers) and carry
no gradient. `where` masks its gradient, so no NaN leaks from the branch not taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.dtypes import as_dtype, is_float, result_type
from symgraph.ops.base import Elemwise, Op
from symgraph.types import TensorType, broadcast_shapes


@dataclass(frozen=True)
class Predicate(Elemwise):
    """Base of elementwise ops without a gradient (comparisons, logic, bit operations)."""
    differentiable: ClassVar[bool] = False


@dataclass(frozen=True)
class Less(Predicate):
    """x < y"""
    ufunc = np.less
    scalar = "{0} < {1}"


@dataclass(frozen=True)
class LessEqual(Predicate):
    """x <= y"""
    ufunc = np.less_equal
    scalar = "{0} <= {1}"


@dataclass(frozen=True)
class Greater(Predicate):
    """x > y"""
    ufunc = np.greater
    scalar = "{0} > {1}"


@dataclass(frozen=True)
class GreaterEqual(Predicate):
    """x >= y"""
    ufunc = np.greater_equal
    scalar = "{0} >= {1}"


@dataclass(frozen=True)
class Equal(Predicate):
    """x == y elementwise (`sg.eq`)."""
    ufunc = np.equal
    scalar = "{0} == {1}"


@dataclass(frozen=True)
class NotEqual(Predicate):
    """x != y elementwise (`sg.neq`)."""
    ufunc = np.not_equal
    scalar = "{0} != {1}"


@dataclass(frozen=True)
class BitwiseAnd(Predicate):
    """x & y: logical for booleans, bitwise for integers."""
    ufunc = np.bitwise_and
    scalar = "{0} & {1}"


@dataclass(frozen=True)
class BitwiseOr(Predicate):
    """x | y: logical for booleans, bitwise for integers."""
    ufunc = np.bitwise_or
    scalar = "{0} | {1}"


@dataclass(frozen=True)
class BitwiseXor(Predicate):
    """x ^ y: logical for booleans, bitwise for integers."""
    ufunc = np.bitwise_xor
    scalar = "{0} ^ {1}"


@dataclass(frozen=True)
class Invert(Predicate):
    """~x: logical not for booleans, bitwise not for integers."""
    ufunc = np.invert
    scalar = "~{0}"


@dataclass(frozen=True)
class LogicalAnd(Predicate):
    """Truth of x and y, for any dtype."""
    ufunc = np.logical_and
    scalar = "({0} != 0) and ({1} != 0)"


@dataclass(frozen=True)
class LogicalOr(Predicate):
    """Truth of x or y, for any dtype."""
    ufunc = np.logical_or
    scalar = "({0} != 0) or ({1} != 0)"


@dataclass(frozen=True)
class LogicalNot(Predicate):
    """Truth of not x, for any dtype."""
    ufunc = np.logical_not
    scalar = "not ({0} != 0)"


@dataclass(frozen=True)
class IsNan(Predicate):
    """Whether x is NaN."""
    ufunc = np.isnan
    scalar = "math.isnan({0})"


@dataclass(frozen=True)
class IsInf(Predicate):
    """Whether x is ±inf."""
    ufunc = np.isinf
    scalar = "math.isinf({0})"


@dataclass(frozen=True)
class IsFinite(Predicate):
    """Whether x is neither NaN nor ±inf."""
    ufunc = np.isfinite
    scalar = "math.isfinite({0})"


@dataclass(frozen=True)
class Where(Elemwise):
    """cond ? x : y elementwise. The gradient is masked: the untaken side gets 0, never NaN."""
    nin: ClassVar[int] = 3
    scalar = "{1} if {0} else {2}"

    def out_dtype(self, *dtypes: str) -> str:
        return result_type(dtypes[1], dtypes[2])

    def check_dtypes(self, *dtypes: str) -> None:
        pass

    def reference(self, cond, x, y):
        out = np.where(cond.astype(bool), x, y)
        return out.astype(self.out_dtype(cond.dtype.name, x.dtype.name, y.dtype.name))

    def vjp(self, inputs, output, g):
        cond = inputs[0]
        return (None, sg.where(cond, g, 0), sg.where(cond, 0, g))


@dataclass(frozen=True)
class Cast(Elemwise):
    """x converted to `dtype` (float to integer truncates towards zero, like NumPy)."""
    dtype: str
    scalar = "{0}"

    def infer(self, x: TensorType) -> TensorType:
        return TensorType(self.dtype, x.shape)

    def out_dtype(self, *dtypes: str) -> str:
        return self.dtype

    def reference(self, x):
        with np.errstate(all="ignore"):
            return x.astype(self.dtype)

    def vjp(self, inputs, output, g):
        x = inputs[0]
        if not is_float(x.dtype):
            return (None,)
        return (sg.cast(g, x.dtype),)


@dataclass(frozen=True)
class FullLike(Elemwise):
    """An array shaped like x filled with `value` (of `dtype`); x's values are not read."""
    value: bool | int | float
    dtype: str
    differentiable: ClassVar[bool] = False

    @property
    def scalar(self) -> str:
        return repr(self.value)

    def infer(self, x: TensorType) -> TensorType:
        return TensorType(self.dtype, x.shape)

    def out_dtype(self, *dtypes: str) -> str:
        return self.dtype

    def reference(self, x):
        return np.full(x.shape, self.value, dtype=self.dtype)
