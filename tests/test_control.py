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
def test_scan_gradient_passes_over_integer_states(backend):
    # An integer state (a step count here; a random stream's counter is carried the same
    # way) and an integer output carry no gradient; the float state's still flows.
    x0 = sg.scalar("x0", dtype="float64")
    a = sg.scalar("a", dtype="float64")
    (ks, xs, parity), _ = sg.scan(
        lambda k, x, a: [k + 1, a * x + sg.cast(k, "float64"), k % 2],
        outputs_info=[sg.constant(np.int64(1)), x0, None], non_sequences=a, n_steps=4)
    cost = sg.sum(xs * xs) + sg.sum(sg.cast(ks, "float64"))
    f = sg.function([x0, a], [cost, ks, parity] + sg.grad(cost, [x0, a]), backend=backend)
    value, counts, parities, *grads = f(0.5, 0.9)
    np.testing.assert_array_equal(counts, [2, 3, 4, 5])
    np.testing.assert_array_equal(parities, [1, 0, 1, 0])
    expected = numeric_grad(lambda u, v: float(f(u, v)[0]), [np.float64(0.5), np.float64(0.9)])
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6)

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


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_cumulative_sum_equals_numpy(backend):
    x = sg.vector("x", dtype="float64")
    total, _ = sg.scan(lambda v, acc: acc + v, sequences=x,
                       outputs_info=sg.constant(np.float64(0)))
    data = np.random.default_rng(0).standard_normal(7)
    np.testing.assert_allclose(sg.function([x], total, backend=backend)(data), np.cumsum(data))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_linear_recurrence_and_map_and_foldl(backend):
    x = sg.matrix("x", dtype="float64")
    a = sg.matrix("a", dtype="float64")
    h0 = sg.vector("h0", dtype="float64")
    states, _ = sg.scan(lambda xt, h, a: a @ h + xt, sequences=x, outputs_info=h0,
                        non_sequences=a)
    squares = sg.map(lambda xt: xt * xt, sequences=x)
    total = sg.foldl(lambda xt, acc: acc + sg.sum(xt), sequences=x,
                     outputs_info=sg.constant(np.float64(0)))
    f = sg.function([x, a, h0], [states, squares, total], backend=backend)
    rng = np.random.default_rng(1)
    xv, av, hv = rng.standard_normal((5, 3)), rng.standard_normal((3, 3)) / 3, rng.standard_normal(3)
    got_states, got_squares, got_total = f(xv, av, hv)
    expected, h = [], hv
    for t in range(5):
        h = av @ h + xv[t]
        expected.append(h)
    np.testing.assert_allclose(got_states, expected)
    np.testing.assert_allclose(got_squares, xv * xv)
    np.testing.assert_allclose(got_total, xv.sum())


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_iteration_converges(backend):
    m = sg.matrix("m", dtype="float64")
    v0 = sg.vector("v0", dtype="float64")
    vs, _ = sg.scan(lambda v, m: (m @ v) / sg.sqrt(sg.sum((m @ v) ** 2)), outputs_info=v0,
                    non_sequences=m, n_steps=60)
    f = sg.function([m, v0], vs[-1], backend=backend)
    mat = np.diag([5.0, 2.0, 1.0]) + 0.1
    v = f(mat, np.ones(3))
    w, vecs = np.linalg.eigh(mat)
    np.testing.assert_allclose(abs(v), abs(vecs[:, -1]), atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rnn_forward_and_gradient_match_finite_differences(backend):
    x = sg.matrix("x", dtype="float64")
    w = sg.matrix("w", dtype="float64")
    u = sg.matrix("u", dtype="float64")
    h0 = sg.vector("h0", dtype="float64")
    hs, _ = sg.scan(lambda xt, h, w, u: sg.tanh(xt @ w + h @ u), sequences=x,
                    outputs_info=h0, non_sequences=[w, u])
    cost = sg.sum(hs[-1] ** 2) + 0.1 * sg.sum(hs)
    inputs = [x, w, u, h0]
    f_cost = sg.function(inputs, cost, backend="python")
    f_grad = sg.function(inputs, sg.grad(cost, inputs), backend=backend)
    rng = np.random.default_rng(2)
    point = [rng.standard_normal((20, 3)) * 0.5, rng.standard_normal((3, 4)) * 0.5,
             rng.standard_normal((4, 4)) * 0.5, rng.standard_normal(4) * 0.5]
    expected = numeric_grad(lambda *v: float(f_cost(*v)), point)
    for got, want in zip(f_grad(*point), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def _scan_node(f):
    return next(n for n in f.graph.nodes if not n.is_leaf and type(n.op).__name__ == "Scan")


def test_loop_invariants_move_out_of_the_step():
    h0 = sg.scalar("h0", dtype="float64")
    a = sg.vector("a", dtype="float64")
    outs, _ = sg.scan(lambda h, a: sg.tanh(sg.sum(sg.exp(a)) * h), outputs_info=h0,
                      non_sequences=a, n_steps=4)
    before = sg.function([h0, a], outs, backend="python", optimize=False)
    after = sg.function([h0, a], outs, backend="python")
    assert "exp" in str(_scan_node(before).op.step)
    step = str(_scan_node(after).op.step)
    assert "exp" not in step and "input invariant0" in step
    assert after.rewrites["loops.hoist_invariants"] == 1
    np.testing.assert_allclose(after(0.5, np.array([0.1, -0.2])), before(0.5, np.array([0.1, -0.2])))


def test_history_read_only_at_the_end_is_not_kept():
    x = sg.vector("x", dtype="float64")
    total = sg.foldl(lambda v, acc: acc + v, sequences=x, outputs_info=sg.constant(np.float64(0)))
    f = sg.function([x], total, backend="python")
    node = _scan_node(f)
    assert node.op.keep_last == (0,)
    assert f(np.arange(5.0)) == 10.0
    full = sg.function([x], sg.scan(lambda v, acc: acc + v, sequences=x,
                                    outputs_info=sg.constant(np.float64(0)))[0],
                       backend="python")
    assert _scan_node(full).op.keep_last == ()


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_gradient_after_zero_steps(backend):
    """n_steps == 0: no step ran, so the initial state and the non-sequence get only the
    gradient of the rest of the cost (it had read the last backward state, of none)."""
    h0 = sg.vector("h0", dtype="float64")
    w = sg.vector("w", dtype="float64")
    n = sg.scalar("n", dtype="int64")
    hs, _ = sg.scan(lambda h, w: sg.sin(h * w), outputs_info=h0, non_sequences=w, n_steps=n)
    cost = sg.sum(hs) + sg.sum(h0 * w)
    f_cost = sg.function([h0, w, n], cost, backend="python")
    f_grad = sg.function([h0, w, n], sg.grad(cost, [h0, w]), backend=backend)
    point = [np.array([0.3, -0.7]), np.array([1.5, 0.4])]
    g_h0, g_w = f_grad(*point, 0)
    np.testing.assert_allclose(g_h0, point[1])
    np.testing.assert_allclose(g_w, point[0])
    expected = numeric_grad(lambda a, b: float(f_cost(a, b, 3)), point)
    for got, want in zip(f_grad(*point, 3), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_backward_loop_keeps_only_its_final_states():
    """The gradient of an RNN reads the backward loop's states (dh, dW) only at their end:
    the loop keeps one of each, not one per step (for dW, a matrix per step)."""
    xs = sg.matrix("xs", dtype="float64")
    h0 = sg.vector("h0", dtype="float64")
    w = sg.matrix("w", dtype="float64")
    hs, _ = sg.scan(lambda x, h, w: sg.tanh(x + h @ w), sequences=xs, outputs_info=h0,
                    non_sequences=w)
    f = sg.function([xs, h0, w], sg.grad(sg.sum(hs[-1]), [h0, w]), backend="python")
    scans = [n for n in f.graph.nodes if not n.is_leaf and type(n.op).__name__ == "Scan"]
    backward = next(n for n in scans if n.op.go_backwards)
    assert backward.op.keep_last == (0, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_reads_values_made_outside_as_inputs(backend):
    """A value computed before the scan (h = 2 * x) is an input of the loop, computed once:
    the gradient with respect to it flows through the loop, and a random draw made outside
    is the same in every step, while one made inside the step is fresh in each."""
    x = sg.vector("x", dtype="float64")
    h = 2.0 * x
    ys, _ = sg.scan(lambda t: sg.sin(h) * t, sequences=sg.constant(np.arange(1.0, 4.0)))
    cost = sg.sum(ys)
    f = sg.function([x], [cost, sg.grad(cost, h)], backend=backend)
    value, g_h = f(np.array([0.3, -0.4]))
    np.testing.assert_allclose(value, 6.0 * np.sin([0.6, -0.8]).sum())
    np.testing.assert_allclose(g_h, 6.0 * np.cos([0.6, -0.8]))

    rs = sg.random.RandomStream(5)
    outside = rs.normal(size=(2,))
    rows = sg.constant(np.zeros((3, 1), outside.dtype))
    same, _ = sg.scan(lambda r: outside + r, sequences=rows)
    fresh, _ = sg.scan(lambda r: rs.normal(size=(2,)) + r, sequences=rows)
    drawn, same_rows, fresh_rows = sg.function([], [outside, same, fresh], backend=backend)()
    np.testing.assert_array_equal(same_rows, np.stack([drawn] * 3))
    assert len({tuple(row) for row in fresh_rows}) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp_through_ifelse(backend):
    """jvp's inner vjp reads its cotangent inside the ifelse's gradient branches: as a
    computed value it was rebuilt there, out of reach ("does not depend on wrt")."""
    x = sg.vector("x", dtype="float64")
    c = sg.scalar("c", dtype="float64")
    out, tangent = sg.jvp(lambda x: sg.ifelse(c > 0, x ** 3, x), [x], [sg.constant(np.ones(2))])
    f = sg.function([x, c], [out, tangent], backend=backend)
    point = np.array([1.0, 2.0])
    for cond, value, slope in [(1.0, point ** 3, 3 * point ** 2), (-1.0, point, np.ones(2))]:
        got_value, got_slope = f(point, cond)
        np.testing.assert_allclose(got_value, value)
        np.testing.assert_allclose(got_slope, slope)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_step_that_changes_shape_is_a_clear_error(backend):
    h0 = sg.vector("h0", dtype="float64")
    hs, _ = sg.scan(lambda h: sg.concatenate([h, h]), outputs_info=h0, n_steps=3)
    f = sg.function([h0], hs, backend=backend)
    with pytest.raises(sg.ShapeError, match=r"scan: step 0 returned shape \(4,\) for output 0, "
                                            r"which had shape \(2,\) \(its initial value\)"):
        f(np.ones(2))
