"""ifelse and scan on the numba backend: compiled loops and branches that match the python
(reference) backend exactly, edge cases included (zero or negative steps, go_backwards,
sequences longer or shorter than n_steps, taps, shared updates)."""

import numpy as np
import pytest

import symgraph as sg
from helpers import numeric_grad
from symgraph.graph import Graph, graph_hash


def both(inputs, outputs, updates=None):
    """The same graph compiled on the reference and on the numba backend."""
    return [sg.function(inputs, outputs, updates=updates, backend=b)
            for b in ("python", "numba")]


def assert_same(got, want):
    """numba's results equal the reference's: values, dtypes and shapes."""
    got = got if isinstance(got, (list, tuple)) else [got]
    want = want if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert (g.dtype, g.shape) == (w.dtype, w.shape)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)


def test_ifelse_is_lazy_and_branch_types_agree():
    x = sg.vector("x", dtype="float64")
    c = sg.scalar("c", dtype="bool")
    # then: a constant and a reversed (negative-stride) input; else: a squeeze that raises
    # for a length-3 x, and a computed vector — numba must unify the branches' types.
    outs = sg.ifelse(c, [sg.constant(np.array([1.0, 2.0, 3.0])), x[::-1]],
                     [sg.squeeze(x, 0) * x, x * 2.0])
    ref, f = both([c, x], outs)
    v = np.array([0.5, -1.0, 2.0])
    assert_same(f(True, v), ref(True, v))
    with pytest.raises(sg.ShapeError, match="squeeze"):
        f(False, v)
    assert_same(f(False, np.array([3.0])), ref(False, np.array([3.0])))
    assert "if v" in f.source and "def then" in f.source and "def otherwise" in f.source


def test_scan_go_backwards_reads_a_longer_sequence_from_its_end():
    x = sg.vector("x", dtype="float64")
    n = sg.scalar("n", dtype="int64")
    outs, _ = sg.scan(lambda v, acc: [acc * 0.5 + v, v * v], sequences=x,
                      outputs_info=[sg.constant(np.float64(1.0)), None], n_steps=n,
                      go_backwards=True)
    ref, f = both([x, n], outs)
    data = np.arange(1.0, 8.0)
    for steps in (7, 4, 1):
        assert_same(f(data, steps), ref(data, steps))
    np.testing.assert_allclose(f(data, 3)[1], [49.0, 36.0, 25.0])


def test_scan_zero_and_negative_steps_give_the_reference_shapes():
    m = sg.matrix("m", dtype="float32")
    h0 = sg.vector("h0", dtype="float32")
    n = sg.scalar("n", dtype="int32")
    outs, _ = sg.scan(lambda h, m: [m @ h, sg.sum(h), sg.outer(h, h)],
                      outputs_info=[h0, None, None], non_sequences=m, n_steps=n)
    ref, f = both([m, h0, n], outs)
    args = [np.eye(3, dtype="float32") * 0.5, np.ones(3, "float32")]
    for steps in (0, -2, 3):
        want = ref(*args, steps)
        assert_same(f(*args, steps), want)
    assert [o.shape for o in f(*args, 0)] == [(0, 3), (0,), (0, 0, 0)]


def test_scan_two_taps_on_a_vector_state():
    init = sg.matrix("init", dtype="int64")
    fib, _ = sg.scan(lambda a, b: a + b, outputs_info={"initial": init, "taps": [-2, -1]},
                     n_steps=8)
    ref, f = both([init], fib)
    # Three rows of history: the taps read the last two (t=-2, t=-1), as the reference.
    start = np.array([[9, 9], [0, 1], [1, 1]], "int64")
    assert_same(f(start), ref(start))
    np.testing.assert_array_equal(f(start)[:, 0], [1, 2, 3, 5, 8, 13, 21, 34])


def test_scan_shorter_sequence_is_a_shape_error():
    x = sg.matrix("x", dtype="float64")
    n = sg.scalar("n", dtype="int64")
    outs, _ = sg.scan(lambda row: sg.sum(row), sequences=x, n_steps=n)
    f = sg.function([x, n], outs, backend="numba")
    assert_same(f(np.ones((4, 2)), 3), np.full(3, 2.0))
    with pytest.raises(sg.ShapeError, match="shorter than n_steps"):
        f(np.ones((2, 2)), 3)


def test_scan_updates_shared_variable_and_reads_constants_and_ifelse_in_step():
    total = sg.shared(np.zeros(2), name="total")
    x = sg.matrix("x", dtype="float64")
    weights = np.array([[1.0, -1.0], [0.5, 2.0]])

    def step(row):
        picked = sg.ifelse(sg.sum(row) > 0, row @ sg.constant(weights), -row)
        return picked, {total: total + picked}

    outs, updates = sg.scan(step, sequences=x)
    data = np.array([[1.0, 2.0], [-3.0, 0.5], [0.25, 0.25]])
    results = []
    for backend in ("python", "numba"):
        total.set_value(np.ones(2))
        f = sg.function([x], outs, updates=updates, backend=backend)
        results.append((f(data), f(data), total.get_value()))
    assert_same(results[1], results[0])
    np.testing.assert_allclose(results[1][2], 1 + 2 * results[1][0].sum(axis=0))


def test_rnn_gradient_on_numba_equals_the_reference():
    x = sg.matrix("x", dtype="float64")
    w = sg.matrix("w", dtype="float64")
    u = sg.matrix("u", dtype="float64")
    h0 = sg.vector("h0", dtype="float64")
    hs, _ = sg.scan(lambda xt, h, w, u: sg.tanh(xt @ w + h @ u), sequences=x,
                    outputs_info=h0, non_sequences=[w, u])
    cost = sg.sum(hs[-1] ** 2) + 0.1 * sg.sum(hs)
    inputs = [x, w, u, h0]
    ref, f = both(inputs, [cost] + sg.grad(cost, inputs))
    rng = np.random.default_rng(3)
    point = [rng.standard_normal((12, 3)), rng.standard_normal((3, 4)) * 0.5,
             rng.standard_normal((4, 4)) * 0.5, rng.standard_normal(4)]
    got, want = f(*point), ref(*point)
    for g, w_ in zip(got, want):
        np.testing.assert_allclose(g, w_, rtol=1e-10, atol=1e-12)


def test_scan_loop_is_compiled_not_run_per_step_in_python():
    h0 = sg.scalar("h0", dtype="float64")
    a = sg.scalar("a", dtype="float64")
    hs, _ = sg.scan(lambda h, a: sg.tanh(a * h + 1.0), outputs_info=h0, non_sequences=a,
                    n_steps=1000)
    f = sg.function([h0, a], hs, backend="numba")
    source = f.source
    loop = source[source.index("def scan"):source.index("def entry")]
    assert "for t in range(n):" in loop
    assert source.count("@njit") == 2  # the step and the loop, both compiled
    assert "cache=CACHE)\ndef scan" in source and "cache=CACHE)\ndef step" in source
    runner = source[source.index("def make_runner"):]
    assert "for " not in runner and "step" not in runner
    h, want = 0.2, []
    for _ in range(1000):
        h = np.tanh(0.7 * h + 1.0)
        want.append(h)
    np.testing.assert_allclose(f(0.2, 0.7), want, rtol=1e-12)


def run_both(stream, inputs, outputs, updates, values, calls=2):
    """Each backend from the stream's counter at 0: every call's results and the counter."""
    results = []
    for backend in ("python", "numba"):
        stream.counter.set_value(np.int64(0))
        f = sg.function(inputs, outputs, updates=updates, backend=backend)
        results.append([f(*values) for _ in range(calls)] + [stream.counter.get_value()])
    return results


def assert_identical(got, want):
    """Bit for bit, dtypes and shapes too (nested lists of arrays)."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_identical(g, w)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_walk_in_scan_equals_the_reference_and_draws_fresh_per_step(dtype):
    stream = sg.random.RandomStream(5)
    h0 = sg.vector("h0", dtype=dtype)

    def step(h):
        kick = sg.cast(stream.integers(-2, 3, (3,), dtype="int8"), dtype)
        return [h + stream.normal((3,), scale=0.5, dtype=dtype), stream.uniform(dtype=dtype),
                kick]

    outs, updates = sg.scan(step, outputs_info=[h0, None, None], n_steps=6)
    assert list(updates) == [stream.counter]
    ref, got = run_both(stream, [h0], outs, updates, [np.zeros(3, dtype)])
    assert_identical(got, ref)
    (walk, u, kicks), again, counter = got
    assert counter == 12  # each call's scan advanced the stream by its 6 steps
    steps = np.diff(np.concatenate([np.zeros((1, 3), dtype), walk]), axis=0)
    assert len({tuple(s) for s in steps}) == 6 and len(set(u.tolist())) == 6  # fresh per step
    assert not np.array_equal(walk, again[0])  # and fresh per call
    assert set(np.unique(kicks)) <= {-2.0, -1.0, 0.0, 1.0, 2.0}


def test_ifelse_draws_only_in_the_taken_branch_as_the_reference():
    stream = sg.random.RandomStream(9)
    c = sg.scalar("c", dtype="bool")
    x = sg.vector("x", dtype="float64")
    out = sg.ifelse(c, x + stream.normal((4,), dtype="float64"), x * 2.0)
    # The gradient re-runs the branch: from the same counter it sees the same noise.
    outputs = [out, sg.grad(sg.sum(out ** 2), x)]
    for calls in ([True, False, True], [False, True, True]):
        results = []
        for backend in ("python", "numba"):
            stream.counter.set_value(np.int64(0))
            f = sg.function([c, x], outputs, backend=backend)
            results.append([f(flag, np.ones(4)) for flag in calls])
            # The stream's default update runs once per call, whichever branch ran.
            assert stream.counter.get_value() == 3
        assert_identical(results[1], results[0])
    (first, g_first), (second, g_second), (third, _) = results[1]
    np.testing.assert_array_equal(first, np.full(4, 2.0))
    np.testing.assert_array_equal(g_first, np.full(4, 8.0))
    np.testing.assert_allclose(g_second, 2 * second, rtol=1e-15)
    assert not np.array_equal(second, third)  # the counter moved on between the calls


def test_gradient_through_a_noisy_scan_matches_finite_differences():
    stream = sg.random.RandomStream(3)
    xs = sg.matrix("xs", dtype="float64")
    w = sg.vector("w", dtype="float64")
    h0 = sg.vector("h0", dtype="float64")
    hs, updates = sg.scan(lambda x, h, w: sg.tanh(h * w + x + 0.3 * stream.normal((3,),
                                                                      dtype="float64")),
                          sequences=xs, outputs_info=h0, non_sequences=w)
    cost = sg.sum(hs[-1] ** 2)
    rng = np.random.default_rng(4)
    point = [rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)]
    ref, got = run_both(stream, [xs, w, h0], [cost] + sg.grad(cost, [xs, w, h0]), updates,
                        point, calls=1)
    for g, r in zip(got[0], ref[0]):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)
    # The noise is a constant of the cost: from the same counter, the same noise each call.
    f = sg.function([xs, w, h0], [cost] + sg.grad(cost, [xs, w, h0]), backend="numba")

    def cost_at(*values):
        stream.counter.set_value(np.int64(0))
        return float(f(*values)[0])

    for g, want in zip(got[0][1:], numeric_grad(cost_at, point)):
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)


def test_reseeding_reproduces_and_map_draws_per_row():
    def build(seed):
        stream = sg.random.RandomStream(seed)
        xs = sg.matrix("xs", dtype="float32")
        out = sg.map(lambda row: row * stream.uniform((2,), 1.0, 2.0), sequences=xs)
        return stream, [xs], out

    data = np.ones((4, 2), "float32")
    stream, inputs, out = build(21)
    ref, got = run_both(stream, inputs, out, None, [data])
    assert_identical(got, ref)
    first, second, counter = got
    assert counter == 2 and not np.array_equal(first, second)  # map keeps no updates
    assert len({tuple(r) for r in first}) == 4 and first.min() >= 1 and first.max() < 2
    stream, inputs, out = build(21)  # a new stream with the same seed repeats the calls
    f = sg.function(inputs, out, backend="numba")
    assert_identical([f(data), f(data)], [first, second])
    stream, inputs, out = build(22)
    assert not np.array_equal(sg.function(inputs, out, backend="numba")(data), first)


def test_nested_scans_draw_fresh_numbers_in_every_inner_step():
    stream = sg.random.RandomStream(13)
    n = sg.scalar("n", dtype="int64")

    def outer(acc):
        inner, inner_updates = sg.scan(lambda a: a + stream.normal((), dtype="float64"),
                                       outputs_info=acc, n_steps=n)
        return [inner[-1], inner], inner_updates  # the outer step carries the stream on

    outs, updates = sg.scan(outer, outputs_info=[sg.constant(np.float64(0.0)), None],
                            n_steps=4)
    ref, got = run_both(stream, [n], outs, updates, [3])
    assert_identical(got, ref)
    assert got[-1] == 2 * 4 * 3  # 4 outer steps of 3 inner draws, twice
    totals, paths = got[0]
    starts = np.concatenate([[0.0], totals[:-1]])
    draws = np.diff(np.concatenate([starts[:, None], paths], axis=1), axis=1)
    assert draws.shape == (4, 3) and len(set(draws.ravel().tolist())) == 12


def test_nested_scan_compiles_to_nested_loops():
    x = sg.matrix("x", dtype="float64")

    def outer(row, acc):
        inner, _ = sg.scan(lambda v, a: a * 0.5 + v, sequences=row,
                           outputs_info=sg.constant(np.float64(0)))
        return acc + inner[-1]

    out, _ = sg.scan(outer, sequences=x, outputs_info=sg.constant(np.float64(1.0)))
    ref, f = both([x], out)
    data = np.arange(6.0).reshape(3, 2)
    assert_same(f(data), ref(data))
    np.testing.assert_allclose(f(data), [2.0, 6.0, 13.0])
    assert f.source.count("for t in range(n):") == 2


def test_graph_hash_of_a_scan_is_stable_across_builds():
    # The disk cache keys on graph_hash: inner graphs must hash by content, not address.
    def build(scale):
        h0 = sg.scalar("h0", dtype="float64")
        hs, _ = sg.scan(lambda h: h * scale, outputs_info=h0, n_steps=3)
        return Graph([h0], [hs])

    assert graph_hash(build(2.0)) == graph_hash(build(2.0))
    assert graph_hash(build(2.0)) != graph_hash(build(3.0))
