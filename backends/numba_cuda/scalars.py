"""Scalar device functions the elementwise templates name, and the CUDA resolver for
`backends.scalar_code.render`.

On a GPU, `math.*` lowers to libdevice in the argument's precision (`math.exp` of a float32
is `__nv_expf`), and the rounding functions go to libdevice directly. Under the simulator
(`NUMBA_ENABLE_CUDASIM=1`) kernels run as plain Python on NumPy scalars: there `math.exp`
would compute in double and raise on overflow, and libdevice is a stub, so the resolver
swaps in NumPy's functions, which keep float32 in float32 and give inf/NaN like a GPU.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
from numba import cuda
from numba.cuda import libdevice

from backends.numba_cuda.device import SIMULATOR

_DEVICE = dict(device=True, inline=True) if not SIMULATOR else dict(device=True)


@cuda.jit(**_DEVICE)
def maximum(a, b):
    """NumPy's maximum: NaN in either operand propagates."""
    return a if (a >= b or a != a) else b


@cuda.jit(**_DEVICE)
def minimum(a, b):
    """NumPy's minimum: NaN in either operand propagates."""
    return a if (a <= b or a != a) else b


def _float_helpers(dtype: str) -> dict:
    """sigmoid and softplus with every constant typed in `dtype`."""
    ftype = getattr(np, dtype)
    zero = ftype(0)
    one = ftype(1)
    exp = np.exp if SIMULATOR else math.exp
    log1p = np.log1p if SIMULATOR else math.log1p

    @cuda.jit(**_DEVICE)
    def sigmoid(x):
        z = exp(-abs(x))
        s = one / (one + z)
        return s if x >= zero else z * s

    @cuda.jit(**_DEVICE)
    def softplus(x):
        return (x if x > zero else zero) + log1p(exp(-abs(x)))

    return {f"sigmoid_{dtype}": sigmoid, f"softplus_{dtype}": softplus}


@cuda.jit(**_DEVICE)
def power(x, y):
    """x ** y. A kernel cannot raise, so for integers the runner has checked that no
    exponent is negative before the launch (runner.check_exponents), as NumPy raises."""
    return x ** y


@cuda.jit(**_DEVICE)
def same(x):
    """floor, ceil, trunc and rint of an integer."""
    return x


_ROUNDING = {"floor": "floor", "ceil": "ceil", "trunc": "trunc", "rint": "rint"}
# math.* names whose NumPy spelling differs (used under the simulator only).
_NUMPY_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
                "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2"}
_MATH = ("exp expm1 log log1p sqrt sin cos tan asin acos atan sinh cosh tanh asinh acosh "
         "atanh atan2").split()

FUNCTIONS: dict[str, object] = {"maximum": maximum, "minimum": minimum, "power": power,
                                "same": same}
for _dtype in ("float32", "float64"):
    FUNCTIONS.update(_float_helpers(_dtype))


def namespace() -> dict:
    """The globals generated kernels run with."""
    return dict(FUNCTIONS, cuda=cuda, np=np, math=math, libdevice=libdevice,
                scipy=scipy)


def resolve(name: str, dtype: str) -> str | None:
    """The CUDA resolver: a template's function name -> the name to call for `dtype`."""
    floating = dtype in ("float32", "float64")
    if name in ("maximum", "minimum", "power"):
        return name
    if name in ("sigmoid", "softplus") and floating:
        return f"{name}_{dtype}"
    if name in _ROUNDING and not floating:
        return "same"
    if name in _ROUNDING:
        if SIMULATOR:
            return f"np.{name}"
        return f"libdevice.{name}{'f' if dtype == 'float32' else ''}"
    if SIMULATOR and name in _MATH:
        return f"np.{_NUMPY_NAMES.get(name, name)}"
    if SIMULATOR and name in ("erf", "erfc"):
        return f"scipy.special.{name}"
    return None
