"""Binary elementwise arithmetic. Gradients are summed back to each input's shape by
`sg.grad`, so rules here are written as if no broadcasting had happened."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symgraph import api as sg
from symgraph.dtypes import name_of
from symgraph.errors import SymgraphError
from symgraph.graph import Constant
from symgraph.ops.base import Elemwise


class NegativePowerError(SymgraphError, ValueError):
    """An integer raised to a negative integer power: both a SymgraphError and the
    ValueError NumPy raises."""


def negative_power_error(base: str, exponent: str, smallest: int) -> NegativePowerError:
    """The one message every backend gives (the cuda backend knows only the smallest
    exponent, so that is what all of them show)."""
    return NegativePowerError(
        f"power: integers to negative integer powers are not allowed ({base} ** {exponent}, "
        f"smallest exponent {smallest}); cast the base to a float first "
        "(x.astype('float64')), or keep the exponent non-negative")


@dataclass(frozen=True)
class Add(Elemwise):
    """x + y"""
    ufunc = np.add
    scalar = "{0} + {1}"

    def vjp(self, inputs, output, g):
        return (g, g)


@dataclass(frozen=True)
class Subtract(Elemwise):
    """x - y"""
    ufunc = np.subtract
    scalar = "{0} - {1}"

    def vjp(self, inputs, output, g):
        return (g, -g)


@dataclass(frozen=True)
class Multiply(Elemwise):
    """x * y"""
    ufunc = np.multiply
    scalar = "{0} * {1}"

    def vjp(self, inputs, output, g):
        x, y = inputs
        return (g * y, g * x)


@dataclass(frozen=True)
class TrueDivide(Elemwise):
    """x / y (integers give float64, like NumPy)."""
    ufunc = np.true_divide
    scalar = "{0} / {1}"

    def vjp(self, inputs, output, g):
        x, y = inputs
        return (g / y, -g * output / y)


@dataclass(frozen=True)
class FloorDivide(Elemwise):
    """x // y, rounding towards minus infinity. Integer division by zero gives 0, as in
    NumPy (without NumPy's warning). The template divides by -1 as (-x) // 1: numba gives 0
    for INT64_MIN // -1 where NumPy wraps to INT64_MIN; for floats the two are equal."""
    ufunc = np.floor_divide
    scalar = "((-{0}) // 1 if {1} == -1 else {0} // {1})"

    def vjp(self, inputs, output, g):
        return (sg.zeros_like(g), sg.zeros_like(g))


@dataclass(frozen=True)
class Mod(Elemwise):
    """x % y with the sign of y, like Python and NumPy. Integer modulo by zero gives 0."""
    ufunc = np.remainder
    scalar = "{0} % {1}"

    def vjp(self, inputs, output, g):
        x, y = inputs
        return (g, -g * sg.floor_divide(x, y))


@dataclass(frozen=True)
class Power(Elemwise):
    """x ** y. Integers to a negative integer power raise NegativePowerError, as NumPy's
    ValueError, on every backend (the numba kernels raise, the cuda backend checks the
    exponents before its launch). The base's gradient y * x**(y-1) is 0 where y == 0 (not
    0 * inf at x == 0); the exponent's gradient uses log(x) and is 0 where x == 0."""
    ufunc = np.power
    scalar = "np.power({0}, {1})"  # the backends resolve `power` per dtype

    def reference(self, x, y):
        out = self.out_dtype(name_of(x.dtype), name_of(y.dtype))
        if out[0] in "iu" and y.dtype.kind == "i" and y.size and y.min() < 0:
            raise negative_power_error(name_of(x.dtype), name_of(y.dtype), int(y.min()))
        return super().reference(x, y)

    def vjp(self, inputs, output, g):
        x, y = inputs
        slope = y * sg.power(x, y - 1)
        if not (isinstance(y, Constant) and y.scalar):  # a known non-zero exponent is safe
            slope = sg.where(sg.eq(y, 0), 0, slope)
        gx = g * slope
        safe_x = sg.where(sg.eq(x, 0), 1, x)
        gy = g * output * sg.log(safe_x)
        return (gx, gy)


@dataclass(frozen=True)
class Maximum(Elemwise):
    """Elementwise larger value; NaN propagates. A tie sends the gradient to x."""
    ufunc = np.maximum
    scalar = "maximum({0}, {1})"

    def vjp(self, inputs, output, g):
        x, y = inputs
        take_x = sg.greater_equal(x, y)
        return (sg.where(take_x, g, 0), sg.where(take_x, 0, g))


@dataclass(frozen=True)
class Minimum(Elemwise):
    """Elementwise smaller value; NaN propagates. A tie sends the gradient to x."""
    ufunc = np.minimum
    scalar = "minimum({0}, {1})"

    def vjp(self, inputs, output, g):
        x, y = inputs
        take_x = sg.less_equal(x, y)
        return (sg.where(take_x, g, 0), sg.where(take_x, 0, g))


@dataclass(frozen=True)
class Arctan2(Elemwise):
    """The angle of the point (x, y): arctan2(y, x)."""
    ufunc = np.arctan2
    scalar = "math.atan2({0}, {1})"

    def vjp(self, inputs, output, g):
        y, x = inputs
        norm = x * x + y * y
        return (g * x / norm, -g * y / norm)
