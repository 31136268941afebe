"""ifelse and scan: laziness, values against NumPy loops, gradients against finite differences."""

import numpy as np
import pytest

import symgraph as sg
from helpers import BACKENDS, numeric_grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_ifelse_is_lazy(backend):
    x = sg.vector("x", dtype="float64")
    c = sg.scalar("c", dtype="bool")
    # The else branch raises at run time (squeezing a length-3 axis) — only if it runs.
    f = sg.function([c, x], sg.ifelse(c, sg.sum(x * x), sg.sum(sg.squeeze(x, 0))),
                    backend=backend)
    assert f(True, np.arange(3.0)) == 5.0
    with pytest.raises(sg.ShapeError, match="squeeze"):
        f(False, np.arange(3.0))
    assert f(False, np.array([7.0])) == 7.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_ifelse_gradient(backend):
    x = sg.vector("x", dtype="float64")
    c = sg.scalar("c", dtype="bool")
    y = sg.ifelse(c, sg.sum(x * x), sg.sum(sg.sin(x)))
    f = sg.function([c, x], sg.grad(y, x), backend=backend)
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(f(True, v), 2 * v)
    np.testing.assert_allclose(f(False, v), np.cos(v))


def test_ifelse_type_mismatch_is_clear():
    x = sg.vector("x", dtype="float64")
    with pytest.raises(sg.SymgraphError, match="branches have types float64"):
        sg.ifelse(sg.scalar("c", dtype="bool"), x, sg.matrix("m", dtype="float64"))


def test_ifelse_cond_must_be_scalar():
    x = sg.vector("x", dtype="float64")
    with pytest.raises(sg.ShapeError, match="must be a scalar"):
        sg.ifelse(x > 0, x, -x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_recurrence_matches_python_loop(backend):
    h0 = sg.scalar("h0", dtype="float64")
    a = sg.scalar("a", dtype="float64")
    outs, updates = sg.scan(lambda h, a: sg.tanh(a * h + 1), outputs_info=h0,
                            non_sequences=a, n_steps=6)
    assert updates == {}
    got = sg.function([h0, a], outs, backend=backend)(0.5, 0.9)
    h, expected = 0.5, []
    for _ in range(6):
        h = np.tanh(0.9 * h + 1)
        expected.append(h)
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_fibonacci_with_two_taps(backend):
    init = sg.constant(np.array([0, 1], "int64"))
    fib, _ = sg.scan(lambda a, b: a + b, outputs_info={"initial": init, "taps": [-2, -1]},
                     n_steps=10)
    np.testing.assert_array_equal(sg.function([], fib, backend=backend)(),
                                  [1, 2, 3, 5, 8, 13, 21, 34, 55, 89])


def test_scan_step_type_mismatch_is_clear():
    h0 = sg.scalar("h0", dtype="float32")
    with pytest.raises(sg.SymgraphError, match="returns float64.*initial value is float32"):
        sg.scan(lambda h: sg.cast(h, "float64") * 2, outputs_info=h0, n_steps=3)


def test_scan_counts_outputs():
    h0 = sg.scalar("h0")
    with pytest.raises(sg.SymgraphError, match="returns 2 value"):
        sg.scan(lambda h: [h, h], outputs_info=[h0], n_steps=3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_gradient_through_state_and_non_sequence(backend):
    h0 = sg.scalar("h0", dtype="float64")
    a = sg.scalar("a", dtype="float64")
    outs, _ = sg.scan(lambda h, a: sg.tanh(a * h + 0.3), outputs_info=h0,
                      non_sequences=a, n_steps=5)
    cost = sg.sum(outs * outs)
    f = sg.function([h0, a], sg.grad(cost, [h0, a]), backend=backend)
    f_cost = sg.function([h0, a], cost, backend="python")
    point = [np.array(0.2), np.array(0.7)]
    expected = numeric_grad(lambda u, v: float(f_cost(u, v)), point)
    for got, want in zip(f(*point), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)
