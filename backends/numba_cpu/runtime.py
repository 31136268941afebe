"""Small numba helpers the generated modules import: layout tests, broadcasting, and the
scalar functions that elementwise templates name (`maximum`, `sigmoid`, vectorizable math).

`functions(name, dtype)` is the CPU resolver given to `backends.scalar_code.render`: it maps
a template's function to the fastest exact-enough version here — the vectorizable ones of
`vecmath.py` for float loops when that module is present, otherwise libm through `math.*`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

try:  # vectorizable float32/float64 math (branch vecmath); libm is the fallback
    from backends.numba_cpu.vecmath import FUNCTIONS as _VECMATH
except ImportError:  # pragma: no cover - depends on which branches are merged
    _VECMATH = {}

# Small helpers: LLVM inlines them; numba compiles each once per signature and caches it.
_HELPER = dict(cache=True, error_model="numpy")


@njit(**_HELPER)
def bdim(n, d):
    """Broadcast a run-time dimension `d` into `n` (-1 marks a mismatch)."""
    if n < 0 or d == 1:
        return n
    if n == 1 or n == d:
        return d
    return -1


@njit(**_HELPER)
def maximum(a, b):
    """NumPy's maximum: NaN in either operand propagates."""
    return a if (a >= b or a != a) else b


@njit(**_HELPER)
def minimum(a, b):
    """NumPy's minimum: NaN in either operand propagates."""
    return a if (a <= b or a != a) else b


def _make_fallbacks(dtype: str) -> dict:
    """libm-based sigmoid and softplus with every constant typed in `dtype`."""
    ftype = getattr(np, dtype)
    zero = ftype(0)
    one = ftype(1)

    @njit(**_HELPER)
    def sigmoid(x):
        z = math.exp(-abs(x))
        s = one / (one + z)
        return s if x >= zero else z * s

    @njit(**_HELPER)
    def softplus(x):
        return max(x, zero) + math.log1p(math.exp(-abs(x)))

    return {("sigmoid", dtype): sigmoid, ("softplus", dtype): softplus}


SCALAR_FUNCTIONS: dict[tuple[str, str], object] = {}
for _dtype in ("float32", "float64"):
    SCALAR_FUNCTIONS.update(_make_fallbacks(_dtype))
SCALAR_FUNCTIONS.update(_VECMATH)
# Exported under plain names so generated modules can import them.
for (_name, _dtype), _fn in SCALAR_FUNCTIONS.items():
    globals()[f"{_name}_{_dtype}"] = _fn

GENERIC = {"maximum": "maximum", "minimum": "minimum"}


class Functions:
    """The CPU resolver for scalar_code: records which helper names a module imports."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, name: str, dtype: str) -> str | None:
        if name in GENERIC:
            self.used.add(GENERIC[name])
            return GENERIC[name]
        if (name, dtype) in SCALAR_FUNCTIONS:
            self.used.add(f"{name}_{dtype}")
            return f"{name}_{dtype}"
        return None
