"""Elementwise ops against NumPy (the table) and their gradients against finite differences."""

import numpy as np
import pytest
import scipy.special

import symgraph as sg
from helpers import check_against_numpy, check_grad

UNARY = [  # (symgraph function, NumPy reference, domain)
    (sg.exp, np.exp, "any"), (sg.expm1, np.expm1, "any"), (sg.log, np.log, "positive"),
    (sg.log1p, np.log1p, "positive"), (sg.sqrt, np.sqrt, "positive"), (sg.sin, np.sin, "any"),
    (sg.cos, np.cos, "any"), (sg.tan, np.tan, "small"), (sg.arcsin, np.arcsin, "unit"),
    (sg.arccos, np.arccos, "unit"), (sg.arctan, np.arctan, "any"), (sg.sinh, np.sinh, "any"),
    (sg.cosh, np.cosh, "any"), (sg.tanh, np.tanh, "any"), (sg.arcsinh, np.arcsinh, "any"),
    (sg.arccosh, np.arccosh, "above1"), (sg.arctanh, np.arctanh, "unit"),
    (sg.erf, scipy.special.erf, "any"), (sg.erfc, scipy.special.erfc, "any"),
    (sg.sigmoid, scipy.special.expit, "any"), (sg.softplus, lambda x: np.logaddexp(0, x), "any"),
    (sg.negative, np.negative, "any"), (sg.abs, np.abs, "any"),
]
PIECEWISE = [(sg.sign, np.sign), (sg.floor, np.floor), (sg.ceil, np.ceil),
             (sg.trunc, np.trunc), (sg.round, np.round)]
BINARY = [
    (sg.add, np.add), (sg.subtract, np.subtract), (sg.multiply, np.multiply),
    (sg.true_divide, np.true_divide), (sg.maximum, np.maximum), (sg.minimum, np.minimum),
    (sg.arctan2, np.arctan2), (sg.power, np.power), (sg.mod, np.mod),
]
COMPARE = [(sg.less, np.less), (sg.less_equal, np.less_equal), (sg.greater, np.greater),
           (sg.greater_equal, np.greater_equal), (sg.eq, np.equal), (sg.neq, np.not_equal)]


def sample(domain, shape, dtype, rng):
    x = rng.uniform(-3, 3, shape)
    x = {"positive": np.abs(x) + 0.1, "unit": np.clip(x / 3.5, -0.95, 0.95),
         "above1": np.abs(x) + 1.1, "small": x / 3}.get(domain, x)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 4)])
@pytest.mark.parametrize("fn,ref,domain", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_unary(fn, ref, domain, shape, dtype, rng):
    check_against_numpy(fn, ref, [sample(domain, shape, dtype, rng)])


@pytest.mark.parametrize("fn,ref,domain", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_unary_grad(fn, ref, domain, rng):
    check_grad(fn, [sample(domain, (4,), "float64", rng) + (0.05 if fn is sg.abs else 0)])


@pytest.mark.parametrize("fn,ref", PIECEWISE, ids=[p[0].__name__ for p in PIECEWISE])
def test_piecewise(fn, ref, rng):
    x = np.array([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, np.nan, np.inf, -np.inf])
    check_against_numpy(fn, ref, [x])
    check_against_numpy(fn, ref, [np.arange(-3, 4, dtype="int32")])


@pytest.mark.parametrize("fn,ref", BINARY, ids=[b[0].__name__ for b in BINARY])
def test_binary_broadcast(fn, ref, rng):
    x = rng.uniform(0.5, 2, (3, 1, 4))
    y = rng.uniform(0.5, 2, (5, 1))
    check_against_numpy(fn, ref, [x, y])
    check_against_numpy(fn, ref, [x.astype("float32"), y.astype("float32")])
    check_grad(fn, [x[:, :, :2], y[:2]])


@pytest.mark.parametrize("fn,ref", COMPARE, ids=[c[0].__name__ for c in COMPARE])
def test_comparisons(fn, ref):
    x = np.array([1.0, np.nan, 2.0, -np.inf])
    y = np.array([1.0, 1.0, np.nan, -np.inf])
    check_against_numpy(fn, ref, [x, y])


def test_integer_division_and_modulo_signs():
    a = np.array([7, -7, 7, -7, 5, 0], dtype="int32")
    b = np.array([2, 2, -2, -2, 0, 0], dtype="int32")
    with np.errstate(all="ignore"):
        check_against_numpy(sg.floor_divide, np.floor_divide, [a, b])
        check_against_numpy(sg.mod, np.mod, [a, b])
    check_against_numpy(sg.true_divide, np.true_divide, [a[:4], b[:4]])


def test_round_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5], dtype="float32")
    check_against_numpy(sg.round, np.round, [x])



@pytest.mark.parametrize("backend", ["python", "numba"])
def test_round_keeps_integers_as_numpy_does(backend):
    x = sg.vector("x", dtype="int16")
    f = sg.function([x], [sg.round(x), sg.round(x * 3)], backend=backend)
    values = np.array([-7, 0, 5], "int16")
    for got, want in zip(f(values), [np.round(values), np.round(values * 3)]):
        assert got.dtype == want.dtype == np.int16
        np.testing.assert_array_equal(got, want)

def test_where_gradient_is_masked():
    # The untaken side gets exactly 0, even where its own gradient would be inf or NaN; the
    # inner where keeps sqrt's input valid (a NaN computed *inside* a branch is that
    # branch's own, as in JAX and PyTorch).
    x = sg.vector("x", dtype="float64")
    y = sg.where(x > 0, sg.sqrt(sg.where(x > 0, x, 1.0)), 1.0 / x)
    g = sg.grad(sg.sum(y), x)
    out = sg.function([x], g, backend="python")(np.array([-1.0, 4.0]))
    np.testing.assert_allclose(out, [-1.0, 0.25])


def test_non_contiguous_and_negative_stride_inputs(rng):
    x = rng.standard_normal((6, 8))
    check_against_numpy(lambda a: sg.exp(a) * 2, lambda a: np.exp(a) * 2, [x[::2, ::-3]])
