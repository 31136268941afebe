"""Small numba helpers the generated modules import: layout tests, broadcasting, the
scalar functions that elementwise templates name (`maximum`, `sigmoid`, vectorizable math).
Generated modules import the random draws from `kernels/philox.py` and matrix products from
`blas.py` themselves, so graphs without them do not load those.

`functions(name, dtype)` is the CPU resolver given to `backends.scalar_code.render`: it maps
a template's function to the fastest exact-enough version here — the vectorizable ones of
`vecmath.py` for float loops when that module is present, otherwise libm through `math.*`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from backends.numba_cpu.memory import (broadcast_view, contiguous, converted,  # noqa: F401
                                       copy_at, copy_into, empty_of, expanded, new_empty,
                                       reshape_any, shaped, summed_to, transposed)
from backends.numba_cpu.rowops import (arg_rows, cross_entropy_rows,  # noqa: F401
                                       cumsum_rows, logsumexp_rows, matmul_loop, renamed,
                                       softmax_rows)
from symgraph.errors import SymgraphError

try:  # vectorizable float32/float64 math (branch vecmath); libm is the fallback
    from backends.numba_cpu.vecmath import FUNCTIONS as _VECMATH
except ImportError:  # pragma: no cover - depends on which branches are merged
    _VECMATH = {}

# Small helpers: LLVM inlines them; numba compiles each once per signature and caches it.
_HELPER = dict(cache=True, error_model="numpy", no_cfunc_wrapper=True)


@njit(**_HELPER)
def resolve_shape(size, target):
    """A reshape's target sizes with the -1 inferred: (ok, sizes)."""
    dims = converted(target, np.int64)  # (memory.py: no astype to compile)
    known = 1
    free = -1
    for j in range(dims.size):
        if dims[j] == -1 and free < 0:
            free = j
        elif dims[j] < 0:
            return False, dims
        else:
            known *= dims[j]
    if free >= 0:
        if known == 0 or size % known:
            return False, dims
        dims[free] = size // known
        known *= dims[free]
    return known == size, dims


@intrinsic
def bdim(typingctx, n, d):
    """Broadcast a run-time dimension `d` into `n` (-1 marks a mismatch): n where n < 0 or
    d == 1, else d where n == 1 or n == d, else -1. Lowered in place: generated code calls
    it for each broadcast dimension, and as a function it was one more compile."""
    if not (isinstance(n, types.Integer) and isinstance(d, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        n, d = (context.cast(builder, v, t, types.intp) for v, t in zip(args, sig.args))
        keep_n = builder.or_(builder.icmp_signed("<", n, n.type(0)),
                             builder.icmp_signed("==", d, d.type(1)))
        take_d = builder.or_(builder.icmp_signed("==", n, n.type(1)),
                             builder.icmp_signed("==", n, d))
        return builder.select(keep_n, n, builder.select(take_d, d, n.type(-1)))
    return types.intp(n, d), codegen


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
def _call(x):
    return function(x)  # noqa: F821 - `function` is a global of each renamed copy


def _called(function, name):
    """A plain (not inlined) numba function `name` calling `function`: the serial entry
    types one call instead of re-typing the inlined body at every use, which keeps compiles
    short. Named, so that each has its own disk cache."""
    scope = {"function": function, "__name__": __name__}  # numba's cache records the module
    return njit(**_HELPER)(renamed(_call, name, scope))


SCALAR_FUNCTIONS.update({key: _called(fn, "_".join(key)) for key, fn in _VECMATH.items()})
# The parallel entry (compiled on the first large call) uses the inlined versions, which
# LLVM vectorizes inside the prange loops: name in the generated module -> function.
INLINE = {f"{name}_{dtype}": fn for (name, dtype), fn in _VECMATH.items()}
# Exported under plain names so generated modules can import them.
for (_name, _dtype), _fn in SCALAR_FUNCTIONS.items():
    globals()[f"{_name}_{_dtype}"] = _fn

GENERIC = {"maximum": "maximum", "minimum": "minimum"}


@njit(**_HELPER)
def power_int(x, y):
    """Integer x ** y: a negative exponent raises, as in NumPy (the runner then shows the
    reference's message, with the dtypes and the exponent)."""
    if y < 0:
        raise SymgraphError("power: integers to negative integer powers are not allowed")
    return x ** y


class Functions:
    """The CPU resolver for scalar_code: records which helper names a module imports.
    `typed`: the vectorizable functions, which return their argument's dtype (scalar_code
    then does not cast their result; tests/test_vecmath.py checks the claim)."""

    typed = frozenset(f"{name}_{dtype}" for name, dtype in _VECMATH)

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, name: str, dtype: str) -> str | None:
        if name in GENERIC:
            self.used.add(GENERIC[name])
            return GENERIC[name]
        if name == "power" and dtype[0] in "iu":  # floats keep the template's np.power
            self.used.add("power_int")
            return "power_int"
        if (name, dtype) in SCALAR_FUNCTIONS:
            self.used.add(f"{name}_{dtype}")
            return f"{name}_{dtype}"
        return None
