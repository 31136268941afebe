"""Shared variables with fixed dimensions (`sg.shared(value, shape=...)`): the optimizer
sees the sizes, and set_value and updates must keep them."""

import numpy as np
import pytest

import symgraph as sg
from helpers import BACKENDS


def test_shape_is_checked_against_the_value_and_kept_in_the_type():
    w = sg.shared(np.zeros((3, 2), "float32"), name="w", shape=(3, None))
    assert w.type.shape == (3, None)
    assert sg.shared(np.zeros(4), shape=(4,)).type.shape == (4,)
    assert sg.shared(np.zeros(4)).type.shape == (None,)
    with pytest.raises(sg.ShapeError, match=r"shared v: shape=\(5,\) does not fit .*\(4,\)"):
        sg.shared(np.zeros(4), name="v", shape=(5,))
    with pytest.raises(sg.ShapeError, match="does not fit"):
        sg.shared(np.zeros(4), shape=(4, 1))


def test_set_value_keeps_fixed_dimensions_and_may_change_free_ones():
    w = sg.shared(np.zeros((3, 2)), name="w", shape=(3, None))
    w.set_value(np.ones((3, 5)))
    assert w.get_value().shape == (3, 5)
    with pytest.raises(sg.ShapeError, match=r"set_value of shared w: got shape \(2, 5\).*"
                                            r"fixed as \(3, None\)"):
        w.set_value(np.ones((2, 5)))
    np.testing.assert_array_equal(w.get_value(), np.ones((3, 5)))


def test_an_update_of_a_conflicting_static_shape_is_refused_when_compiling():
    w = sg.shared(np.zeros(3), name="w", shape=(3,))
    with pytest.raises(sg.ShapeError, match=r"shared w has the fixed shape \(3,\) but its "
                                            r"update is float64\[4\]"):
        sg.function([], [], updates=[(w, sg.zeros(4))])


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_update_that_resizes_at_run_time_fails_and_changes_nothing(backend):
    a = sg.shared(np.zeros(3), name="a", shape=(3,))
    b = sg.shared(np.zeros(3), name="b")
    n = sg.scalar("n", dtype="int64")
    f = sg.function([n], [], updates=[(b, b + 1), (a, sg.ones(n))], backend=backend)
    f(3)
    np.testing.assert_array_equal(a.get_value(), np.ones(3))
    with pytest.raises(sg.ShapeError, match=r"update of shared a: got shape \(4,\)"):
        f(4)
    np.testing.assert_array_equal(a.get_value(), np.ones(3))
    np.testing.assert_array_equal(b.get_value(), np.ones(3))   # the other update too


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_shapes_give_the_same_training_step_with_a_smaller_graph(backend, rng):
    x = rng.standard_normal((8, 5)).astype("float32")
    labels = rng.integers(0, 3, 8)
    start = [rng.standard_normal((5, 4)).astype("float32") * 0.3, np.zeros(4, "float32"),
             rng.standard_normal((4, 3)).astype("float32") * 0.3, np.zeros(3, "float32")]
    results = []
    for fixed in (False, True):
        ps = [sg.shared(p, shape=p.shape if fixed else None) for p in start]
        X = sg.matrix("X", dtype="float32")
        y = sg.vector("y", dtype="int64")
        logits = sg.nn.relu(X @ ps[0] + ps[1]) @ ps[2] + ps[3]
        loss = sg.nn.cross_entropy(logits, y)
        grads = sg.grad(loss, ps)
        f = sg.function([X, y], loss, updates=[(p, p - 0.5 * g) for p, g in zip(ps, grads)],
                        backend=backend)
        losses = [f(x, labels) for _ in range(3)]
        results.append((losses, [p.get_value() for p in ps], len(f.graph.nodes)))
    (loose, loose_params, loose_nodes), (fixed, fixed_params, fixed_nodes) = results
    np.testing.assert_allclose(fixed, loose, rtol=1e-5)
    assert loose[2] < loose[0]
    for a, b in zip(fixed_params, loose_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert fixed_nodes < loose_nodes
