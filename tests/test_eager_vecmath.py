"""Eager float32/float64 transcendental ops run the numba backend's vectorized kernels
(vecmath) from VECTOR_MATH_MIN_SIZE elements on: within 2 ulp of the ops' NumPy
references, bit for bit the compiled numba backend's results, gradients unchanged."""

import sys

import numpy as np
import pytest

import symgraph as sg
from backends import numba_cpu
from backends.numba_cpu import eager_kernels, vecmath
from symgraph import eager
from symgraph.eager import tensor
from symgraph.ops import unary
from symgraph.types import TensorType

NAMES = ["sin", "cos", "tanh", "exp", "log", "expm1", "log1p", "sigmoid", "softplus", "erf"]
FUNCTIONS = {"sin": sg.sin, "cos": sg.cos, "tanh": sg.tanh, "exp": sg.exp, "log": sg.log,
             "expm1": sg.expm1, "log1p": sg.log1p, "sigmoid": sg.nn.sigmoid,
             "softplus": sg.nn.softplus, "erf": sg.erf}
BIG = eager.VECTOR_MATH_MIN_SIZE + 45
# NumPy's own sin(inf) & co. (the expected values) warn
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, -1e-40, 88.0, -700.0, 1e20, -3e15]


def reference(name, x):
    """The op's NumPy reference, through the reference interpreter."""
    v = sg.tensor("v", dtype=x.dtype.name, shape=x.shape)
    return sg.function([v], FUNCTIONS[name](v), backend="python")(x)


def values(dtype, size, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-30, 30, size)
    x[1::2] = rng.uniform(0, 2, size // 2)  # where log and log1p are defined
    special = max(0, min(size - 2, len(SPECIAL)))
    x[2:2 + special] = SPECIAL[:special]
    return x.astype(dtype)


def assert_within_ulps(got, want, ulps=2):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    exact = np.isinf(want) | (want == 0)  # and NaN where NumPy's is (its sign is free)
    np.testing.assert_array_equal(got[exact], want[exact])
    np.testing.assert_array_equal(np.signbit(got[exact]), np.signbit(want[exact]))
    close = ~exact & ~np.isnan(want)
    error = np.abs(got[close].astype("float64") - want[close])
    assert np.all(error <= ulps * np.spacing(np.abs(want[close]))), (
        f"max error {np.max(error / np.spacing(np.abs(want[close])))} ulp")


def test_the_names_are_vecmaths():
    assert eager.VECTOR_MATH == {name for name, _ in vecmath.FUNCTIONS} == set(NAMES)
    assert set(eager_kernels.NAMES) == eager.VECTOR_MATH


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_within_two_ulps_of_numpy(name, dtype):
    fn = FUNCTIONS[name]
    for size in (BIG, 7):  # the kernel, and below the threshold NumPy's own functions
        x = values(dtype, size)
        assert_within_ulps(fn(tensor(x)).numpy(), reference(name, x))
    big = values(dtype, 2 * BIG, seed=1)
    square = big[:BIG - BIG % 5].reshape(5, -1)
    for view in (big[::2], big[::-2], square, square.T):  # strided views of eager results
        eager_view = tensor(big)[::2] if view is big[::2] else tensor(view)
        assert_within_ulps(fn(eager_view).numpy(), reference(name, np.ascontiguousarray(view)))
    zero_d = np.asarray(values(dtype, 1)[0])
    assert_within_ulps(fn(tensor(zero_d)).numpy(), reference(name, zero_d))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_are_used_and_numpys_functions_below_the_threshold(dtype):
    x = values(dtype, BIG)
    small = x[:eager.VECTOR_MATH_MIN_SIZE - 1]
    np.testing.assert_array_equal(sg.sin(tensor(small)).numpy(), np.sin(small))
    kernel = eager_kernels.mapper("sin", dtype, 1)
    np.testing.assert_array_equal(sg.sin(tensor(x)).numpy(), kernel(x))
    # somewhere the two differ in the last bit, or this test would prove nothing
    grid = np.linspace(0.1, 100.0, 4000).astype(dtype)
    assert not np.array_equal(sg.sin(tensor(grid)).numpy(), np.sin(grid))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trig_beyond_the_reduction_range_is_libms(dtype):
    """vecmath reduces |x| < 2**46 only; beyond, eager gives libm's value, as NumPy."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, BIG) * np.where(np.arange(BIG) % 3, 1e15, 1.0)
    x[:4] = [2.0 ** 46, -2.0 ** 46, np.inf, np.nan]
    x = x.astype(dtype)
    assert_within_ulps(sg.sin(tensor(x)).numpy(), np.sin(x))
    assert_within_ulps(sg.cos(tensor(x)[::-1]).numpy(), np.cos(x[::-1]))
    if dtype == "float64":  # both are glibc's sin there
        big = np.abs(x) >= 2.0 ** 46
        assert big.sum() > BIG // 2
        np.testing.assert_array_equal(sg.sin(tensor(x)).numpy()[big], np.sin(x)[big])


@pytest.mark.parametrize("name", ["sin", "cos", "tanh", "exp", "log"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bit_for_bit_the_compiled_numba_backend(name, dtype):
    """One op compiled alone (in a graph that fuses several functions into one loop, LLVM
    may contract vecmath's multiply-adds differently: 1 ulp apart, now and then)."""
    x = values(dtype, BIG, seed=2)
    x[np.abs(x) > 1e13] = 0.5  # the compiled sin/cos give NaN there, eager libm's number
    v = sg.vector("v", dtype=dtype)
    want = sg.function([v], FUNCTIONS[name](v), backend="numba")(x)
    got = FUNCTIONS[name](tensor(x)).numpy()
    np.testing.assert_array_equal(got.view(f"u{x.itemsize}"), want.view(f"u{x.itemsize}"))


@pytest.mark.parametrize("name", ["sin", "cos", "tanh", "exp", "log", "sigmoid", "erf"])
def test_gradients_pass_finite_differences(name):
    """Backward of the vectorized forward (sin' = cos runs the cos kernel, ...)."""
    fn = FUNCTIONS[name]
    rng = np.random.default_rng(3)
    x = rng.uniform(0.2, 2.0, BIG)
    weights = rng.standard_normal(BIG)
    leaf = tensor(x, requires_grad=True)
    sg.sum(fn(leaf) * weights).backward()
    step = 1e-6
    picks = rng.choice(BIG, 12, replace=False)
    for i in picks:
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        numeric = (np.sum(reference(name, up) * weights) -
                   np.sum(reference(name, down) * weights)) / (2 * step)
        assert np.isclose(leaf.grad.numpy()[i], numeric, rtol=1e-6, atol=1e-8)


def test_sum_accumulator_dtype_is_cached_and_unchanged():
    from symgraph.ops.reduce import accumulator_dtype

    for dtype, want in [("bool", "int64"), ("int8", "int64"), ("uint16", "uint64"),
                        ("float32", "float32"), ("int64", "int64"), ("float64", "float64")]:
        assert accumulator_dtype(dtype) == want
        assert sg.sum(tensor(np.ones(3, dtype))).dtype == want
    assert accumulator_dtype.cache_info().hits > 0


def test_without_numba_numpys_functions_run(monkeypatch):
    monkeypatch.setitem(sys.modules, "backends.numba_cpu.eager_kernels", None)  # ImportError
    monkeypatch.delattr(numba_cpu, "eager_kernels")
    monkeypatch.setattr(eager, "_PLANS", {})
    x = values("float64", BIG)
    key = (unary.Sin, "float64", x.shape)
    assert eager._vector_math(unary.Sin(), key, TensorType("float64", x.shape)) is None
    np.testing.assert_array_equal(sg.sin(tensor(x)).numpy(), np.sin(x))
    monkeypatch.undo()
    assert not np.array_equal(sg.sin(tensor(x)).numpy(), np.sin(x))  # kernels again
