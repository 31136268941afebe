"""Failing loudly and safely: the NaN guard, errors that name the node, atomic updates."""

import threading

import numpy as np
import pytest

import symgraph as sg


def test_nan_guard_names_the_first_bad_node():
    x = sg.vector("x", dtype="float64")
    y = sg.log(x)            # -inf / NaN for x <= 0: the first bad node
    z = sg.exp(y) * 2
    f = sg.function([x], z, check_nan=True)
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [2.0, 4.0])
    with pytest.raises(sg.NonFiniteError, match=r"log: produced NaN or inf .*1 NaN.*test_reliability.py:\d+"):
        f(np.array([1.0, -1.0]))


def test_exception_during_call_leaves_shared_unchanged():
    w = sg.shared(np.ones(3), name="w")
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.sum(sg.squeeze(x, 0)) + sg.sum(w), updates=[(w, w * 2)],
                    backend="python")
    with pytest.raises(sg.ShapeError):
        f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    f(np.ones(1))
    np.testing.assert_array_equal(w.get_value(), np.full(3, 2.0))


def test_concurrent_calls_serialize_updates():
    counter = sg.shared(np.int64(0), name="counter")
    f = sg.function([], counter, updates=[(counter, counter + 1)], backend="python")
    threads = [threading.Thread(target=lambda: [f() for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.get_value() == 400


def test_deep_graph_compiles_without_recursion_error():
    x = sg.scalar("x", dtype="float64")
    y = x
    for _ in range(10_000):
        y = y + 1.0
    assert sg.function([x], y, backend="python")(0.0) == 10_000.0
