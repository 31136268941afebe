"""Unary elementwise ops: one frozen dataclass each, described by a NumPy ufunc.

Each gives the ufunc (the reference), `scalar` (one element as a Python expression that
both numba targets compile; `math.*` names are swapped for vectorizable versions by the
CPU backend) and `vjp`, written with the public functions so it serves both modes.
Piecewise-constant ops (floor, sign, …) have a zero gradient; comparisons and logic have
none (their outputs are boolean, and boolean paths carry no gradient).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.dtypes import as_dtype, result_type
from symgraph.ops.base import Elemwise
from symgraph.types import TensorType


class _SciPyUfunc:
    """A class attribute that is `scipy.special.<name>`, imported on first use: importing
    scipy.special takes ~0.2 s, half of `import symgraph`, and most programs never need it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: Any, owner: type) -> np.ufunc:
        ufunc = getattr(importlib.import_module("scipy.special"), self.name)
        setattr(owner, self.attribute, ufunc)  # later lookups find the ufunc itself
        return ufunc


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.zeros((), x.dtype), x)


# -- unary math ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Negative(Elemwise):
    """-x"""
    ufunc = np.negative
    scalar = "-{0}"

    def vjp(self, inputs, output, g):
        return (-g,)


@dataclass(frozen=True)
class Abs(Elemwise):
    """|x|; the gradient at 0 is 0 (the subgradient sign(x))."""
    ufunc = np.absolute
    scalar = "abs({0})"

    def vjp(self, inputs, output, g):
        return (g * sg.sign(inputs[0]),)


@dataclass(frozen=True)
class Exp(Elemwise):
    """e**x"""
    ufunc = np.exp
    scalar = "math.exp({0})"

    def vjp(self, inputs, output, g):
        return (g * output,)


@dataclass(frozen=True)
class Expm1(Elemwise):
    """e**x - 1, accurate for small x."""
    ufunc = np.expm1
    scalar = "math.expm1({0})"

    def vjp(self, inputs, output, g):
        return (g * (output + 1),)


@dataclass(frozen=True)
class Log(Elemwise):
    """Natural logarithm."""
    ufunc = np.log
    scalar = "math.log({0})"

    def vjp(self, inputs, output, g):
        return (g / inputs[0],)


@dataclass(frozen=True)
class Log1p(Elemwise):
    """log(1 + x), accurate for small x."""
    ufunc = np.log1p
    scalar = "math.log1p({0})"

    def vjp(self, inputs, output, g):
        return (g / (inputs[0] + 1),)


@dataclass(frozen=True)
class Sqrt(Elemwise):
    """Square root."""
    ufunc = np.sqrt
    scalar = "math.sqrt({0})"

    def vjp(self, inputs, output, g):
        return (g * 0.5 / output,)


@dataclass(frozen=True)
class Sin(Elemwise):
    """Sine."""
    ufunc = np.sin
    scalar = "math.sin({0})"

    def vjp(self, inputs, output, g):
        return (g * sg.cos(inputs[0]),)


@dataclass(frozen=True)
class Cos(Elemwise):
    """Cosine."""
    ufunc = np.cos
    scalar = "math.cos({0})"

    def vjp(self, inputs, output, g):
        return (-g * sg.sin(inputs[0]),)


@dataclass(frozen=True)
class Tan(Elemwise):
    """Tangent."""
    ufunc = np.tan
    scalar = "math.tan({0})"

    def vjp(self, inputs, output, g):
        return (g * (1 + output * output),)


@dataclass(frozen=True)
class Arcsin(Elemwise):
    """Inverse sine."""
    ufunc = np.arcsin
    scalar = "math.asin({0})"

    def vjp(self, inputs, output, g):
        return (g / sg.sqrt(1 - inputs[0] * inputs[0]),)


@dataclass(frozen=True)
class Arccos(Elemwise):
    """Inverse cosine."""
    ufunc = np.arccos
    scalar = "math.acos({0})"

    def vjp(self, inputs, output, g):
        return (-g / sg.sqrt(1 - inputs[0] * inputs[0]),)


@dataclass(frozen=True)
class Arctan(Elemwise):
    """Inverse tangent."""
    ufunc = np.arctan
    scalar = "math.atan({0})"

    def vjp(self, inputs, output, g):
        return (g / (1 + inputs[0] * inputs[0]),)


@dataclass(frozen=True)
class Sinh(Elemwise):
    """Hyperbolic sine."""
    ufunc = np.sinh
    scalar = "math.sinh({0})"

    def vjp(self, inputs, output, g):
        return (g * sg.cosh(inputs[0]),)


@dataclass(frozen=True)
class Cosh(Elemwise):
    """Hyperbolic cosine."""
    ufunc = np.cosh
    scalar = "math.cosh({0})"

    def vjp(self, inputs, output, g):
        return (g * sg.sinh(inputs[0]),)


@dataclass(frozen=True)
class Tanh(Elemwise):
    """Hyperbolic tangent."""
    ufunc = np.tanh
    scalar = "math.tanh({0})"

    def vjp(self, inputs, output, g):
        return (g * (1 - output * output),)


@dataclass(frozen=True)
class Arcsinh(Elemwise):
    """Inverse hyperbolic sine."""
    ufunc = np.arcsinh
    scalar = "math.asinh({0})"

    def vjp(self, inputs, output, g):
        return (g / sg.sqrt(inputs[0] * inputs[0] + 1),)


@dataclass(frozen=True)
class Arccosh(Elemwise):
    """Inverse hyperbolic cosine."""
    ufunc = np.arccosh
    scalar = "math.acosh({0})"

    def vjp(self, inputs, output, g):
        return (g / sg.sqrt(inputs[0] * inputs[0] - 1),)


@dataclass(frozen=True)
class Arctanh(Elemwise):
    """Inverse hyperbolic tangent."""
    ufunc = np.arctanh
    scalar = "math.atanh({0})"

    def vjp(self, inputs, output, g):
        return (g / (1 - inputs[0] * inputs[0]),)


@dataclass(frozen=True)
class Erf(Elemwise):
    """The error function."""
    ufunc = _SciPyUfunc("erf")
    scalar = "math.erf({0})"

    def vjp(self, inputs, output, g):
        return (g * (2 / math.sqrt(math.pi)) * sg.exp(-inputs[0] * inputs[0]),)


@dataclass(frozen=True)
class Erfc(Elemwise):
    """1 - erf(x), accurate for large x."""
    ufunc = _SciPyUfunc("erfc")
    scalar = "math.erfc({0})"

    def vjp(self, inputs, output, g):
        return (g * (-2 / math.sqrt(math.pi)) * sg.exp(-inputs[0] * inputs[0]),)


@dataclass(frozen=True)
class Sigmoid(Elemwise):
    """1 / (1 + e**-x), computed without overflow."""
    ufunc = _SciPyUfunc("expit")
    scalar = "sigmoid({0})"

    def vjp(self, inputs, output, g):
        return (g * output * (1 - output),)


@dataclass(frozen=True)
class Softplus(Elemwise):
    """log(1 + e**x), computed without overflow."""
    ufunc = staticmethod(_softplus)
    scalar = "softplus({0})"

    def vjp(self, inputs, output, g):
        return (g * sg.sigmoid(inputs[0]),)


@dataclass(frozen=True)
class PiecewiseConstant(Elemwise):
    """Base of ops whose gradient is zero wherever it exists."""

    def vjp(self, inputs, output, g):
        return (sg.zeros_like(g),)


@dataclass(frozen=True)
class Sign(PiecewiseConstant):
    """-1, 0 or 1 (NaN for NaN). The template spells NumPy's rule out: numba's np.sign keeps
    the sign bit of -0.0 and gives 255 for a uint8 255; x - x is +0.0 for both zeros and NaN
    for NaN."""
    ufunc = np.sign
    scalar = "(1 if {0} > 0 else (-1 if {0} < 0 else {0} - {0}))"


@dataclass(frozen=True)
class Floor(PiecewiseConstant):
    """Largest integer not greater than x (integers pass through)."""
    ufunc = np.floor
    scalar = "np.floor({0})"


@dataclass(frozen=True)
class Ceil(PiecewiseConstant):
    """Smallest integer not less than x (integers pass through)."""
    ufunc = np.ceil
    scalar = "np.ceil({0})"


@dataclass(frozen=True)
class Trunc(PiecewiseConstant):
    """x rounded towards zero."""
    ufunc = np.trunc
    scalar = "np.trunc({0})"


@dataclass(frozen=True)
class Round(PiecewiseConstant):
    """Round half to even, like NumPy (2.5 -> 2.0, 3.5 -> 4.0)."""
    ufunc = np.rint
    scalar = "np.rint({0})"
