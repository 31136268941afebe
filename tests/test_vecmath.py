"""Accuracy, special values and vectorization of backends/numba_cpu/vecmath.py.

Each function x dtype runs over a dense sweep (uniform, log-spaced magnitudes of both signs
from the smallest denormal to the largest finite value, and the overflow / underflow
thresholds) inside a numba loop, and its error in ulp is measured against a reference that is
much more precise than the dtype: float64 NumPy/SciPy for float32, 80-bit long double NumPy
(mpmath for erf) for float64.
"""
from __future__ import annotations

import re
import warnings

import mpmath
import numpy as np
import pytest
import scipy.special
from numba import njit, types

from backends.numba_cpu import vecmath

LD = np.longdouble
HAVE_LONG_DOUBLE = np.finfo(LD).nmant >= 63
NAMES = ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "softplus", "erf")
DTYPES = ("float32", "float64")
MAX_ULP = 2.0
TRIG_LIMIT = 2.0 ** 46          # documented range of sin/cos; NaN beyond

_FLOAT64_REF = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "erf": scipy.special.erf, "sigmoid": scipy.special.expit,
    "softplus": lambda x: np.logaddexp(np.zeros_like(x), x),
}


def _softplus_ld(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, LD(0))


_LONG_DOUBLE_REF = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "sigmoid": lambda x: LD(1) / (LD(1) + np.exp(-x)),
    "softplus": _softplus_ld,
}


def _mp_erf(x: np.ndarray) -> np.ndarray:
    with mpmath.workdps(40):
        return np.array([LD(str(mpmath.erf(mpmath.mpf(float(v))))) if np.isfinite(v)
                         else LD(np.sign(v)) if np.isinf(v) else LD(np.nan) for v in x])


def reference(name: str, x: np.ndarray) -> np.ndarray:
    """The function at x, to long double precision or better than the dtype of x needs."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if x.dtype == np.float32:
            return _FLOAT64_REF[name](x.astype(np.float64)).astype(LD)
        if name == "erf":
            return _mp_erf(x)
        return _LONG_DOUBLE_REF[name](x.astype(LD))


_KERNELS: dict = {}


def kernel(name: str, dtype: str):
    """A plain loop calling the function: compiled once, also used for the asm checks."""
    key = (name, dtype)
    if key not in _KERNELS:
        fn = vecmath.FUNCTIONS[key]

        @njit
        def run(x, out):
            for i in range(x.size):
                out[i] = fn(x[i])
        _KERNELS[key] = run
    return _KERNELS[key]


def evaluate(name: str, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    kernel(name, x.dtype.name)(x, out)
    return out


def ulp_errors(got: np.ndarray, ref: np.ndarray, dtype) -> np.ndarray:
    """|got - ref| in units of the spacing at the correctly rounded result. Where that result
    is not finite (overflow, NaN) the answer must be identical, else the error is inf."""
    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
        err = np.abs(got.astype(LD) - ref) / np.spacing(np.abs(rounded)).astype(LD)
    special = ~np.isfinite(rounded)
    same = (got == rounded) | (np.isnan(got) & np.isnan(rounded))
    err[special] = np.where(same[special], 0.0, np.inf)
    err[~special & ~np.isfinite(got)] = np.inf
    return err


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------
def _thresholds(name: str, dtype) -> list[float]:
    """Where results overflow, underflow into denormals, or the algorithm switches."""
    fi = np.finfo(dtype)
    top, bottom = float(np.log(fi.max)), float(np.log(fi.smallest_subnormal))
    return {
        "exp": [top, bottom, float(np.log(fi.smallest_normal)), 0.0],
        "expm1": [top, 0.0, -0.3466, 0.3466, -17.0, -37.0],
        "sigmoid": [bottom, float(np.log(fi.smallest_normal)), 0.0, 17.0, 37.0],
        "softplus": [bottom, top, 0.0],
        "tanh": [0.625, -0.625, 9.0, 19.0],
        "erf": [1.0, -1.0, 3.9, 5.9],
        "log": [1.0, fi.smallest_normal, np.sqrt(2.0), np.sqrt(0.5)],
        "log1p": [-1.0, 0.0, np.sqrt(2.0) - 1.0, np.sqrt(0.5) - 1.0],
    }.get(name, [0.0, np.pi / 4])


def sweep(name: str, dtype, n: int, seed: int = 0) -> np.ndarray:
    """Uniform around the interesting region, log-spaced magnitudes of both signs over the
    whole range (denormals included), dense points around each threshold, special values."""
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    lo, hi = np.log10(float(fi.smallest_subnormal)), np.log10(float(fi.max)) - 1e-12
    mags = 10.0 ** rng.uniform(lo, hi, n)
    parts = [rng.uniform(-10, 10, n), mags, -mags, 10.0 ** np.linspace(lo, hi, n // 4)]
    for t in _thresholds(name, dtype):
        parts.append(t + np.linspace(-1e-3, 1e-3, 2001) * max(1.0, abs(t)))
        parts.append(t + rng.normal(0, 0.05 * max(1.0, abs(t)), n // 10))
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, fi.smallest_normal,
                fi.max, -fi.max, fi.eps, 1.0, -1.0]
    with np.errstate(over="ignore"):
        x = np.concatenate([np.concatenate(parts).astype(dtype), np.array(specials, dtype)])
    if name in ("sin", "cos"):
        x = x[~(np.abs(x) >= TRIG_LIMIT)]
    return x


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_max_ulp(name: str, dtype: str) -> None:
    if dtype == "float64" and not HAVE_LONG_DOUBLE:
        pytest.skip("needs an 80-bit long double reference")
    n = 20_000 if (name == "erf" and dtype == "float64") else 100_000   # mpmath is slow
    x = sweep(name, np.dtype(dtype).type, n)
    got = evaluate(name, x)
    assert got.dtype == x.dtype
    err = ulp_errors(got, reference(name, x), np.dtype(dtype).type)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP, (
        f"{name}[{dtype}]({x[worst]!r}) = {got[worst]!r}: {err[worst]:.3g} ulp")


SPECIAL = (0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, -2.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_special_values_match_libm(name: str, dtype: str) -> None:
    x = np.array(SPECIAL, dtype)
    got = evaluate(name, x)
    with np.errstate(all="ignore"):
        want = _FLOAT64_REF[name](x.astype(np.float64)).astype(dtype)
    exact = np.isnan(want) | np.isinf(want) | (want == 0) | (np.abs(want) == 1)
    assert np.array_equal(got[exact], want[exact], equal_nan=True), (x[exact], got[exact])
    signed = exact & ~np.isnan(want)                    # the sign of a NaN is not specified
    assert np.array_equal(np.signbit(got[signed]), np.signbit(want[signed]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_range(name: str, dtype: str) -> None:
    """Accurate up to the documented bound (well past 1e5), NaN beyond it: never silently
    wrong. Dense at large arguments, where the reduction is the hard part."""
    rng = np.random.default_rng(1)
    x = (10.0 ** rng.uniform(4.0, np.log10(TRIG_LIMIT), 40_000)).astype(dtype)
    x = np.concatenate([x, -x, np.arange(1, 20_000, dtype=dtype) * np.float32(np.pi / 2)])
    x = x[np.abs(x) < TRIG_LIMIT]
    got = evaluate(name, x)
    err = ulp_errors(got, reference(name, x), np.dtype(dtype).type)
    assert err.max() <= MAX_ULP, (x[np.argmax(err)], err.max())
    huge = np.array([TRIG_LIMIT, -TRIG_LIMIT, 1e20, np.finfo(dtype).max], dtype)
    assert np.isnan(evaluate(name, huge)).all()


_PACKED = {"float32": re.compile(r"\bv?(mul|add|sub|fmadd\d*|fnmadd\d*)ps\b"),
           "float64": re.compile(r"\bv?(mul|add|sub|fmadd\d*|fnmadd\d*)pd\b")}


def _asm(name: str, dtype: str) -> str:
    arr = types.Array(getattr(types, dtype), 1, "C")
    run = kernel(name, dtype)
    run.compile((arr, arr))
    return run.inspect_asm((arr, arr))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_loop_vectorizes(name: str, dtype: str) -> None:
    """A loop calling the function compiles to packed SIMD arithmetic (the point of the
    module), and float32 code never widens to float64 except in sin/cos, on purpose."""
    asm = _asm(name, dtype)
    wide = "float64" if name in ("sin", "cos") else dtype
    assert _PACKED[wide].search(asm), f"{name}[{dtype}]: no packed arithmetic in the loop"
    if dtype == "float32" and name not in ("sin", "cos"):
        assert not re.search(r"\bv?cvt(ss2sd|ps2pd)\b", asm), f"{name}[float32] widens"


def test_exp_f32_prange_uses_vector_registers() -> None:
    from numba import prange

    @njit(parallel=True)
    def run(x, out):
        for i in prange(x.size):
            out[i] = vecmath.exp_f32(x[i])

    x = np.linspace(-5, 5, 1000, dtype=np.float32)
    out = np.empty_like(x)
    run(x, out)
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=2e-7)
    asm = run.inspect_asm(run.signatures[0])
    assert re.search(r"\bv(mul|fmadd\d*)ps\s+%(ymm|xmm)", asm)


def test_lookup_table_is_complete() -> None:
    assert set(vecmath.FUNCTIONS) == {(n, d) for n in NAMES for d in DTYPES}
    for (name, dtype), fn in vecmath.FUNCTIONS.items():
        assert getattr(vecmath, f"{name}_f{dtype[-2:]}") is fn


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_function_returns_its_arguments_dtype(dtype: str) -> None:
    # Generated code does not cast their results (runtime.Functions.typed): a float64
    # result would silently widen the rest of a float32 loop.
    from backends.numba_cpu import runtime

    for name in NAMES:
        wrapper = getattr(runtime, f"{name}_{dtype}")
        assert f"{name}_{dtype}" in runtime.Functions.typed
        wrapper(np.dtype(dtype).type(0.5))
        (signature,) = wrapper.nopython_signatures
        assert str(signature.return_type) == dtype, (name, signature)
