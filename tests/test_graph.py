"""The IR: nodes, leaves, toposort, substitute, the flat listing, function() basics."""

import sys

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import Graph, substitute, toposort


def test_nodes_are_immutable_and_hash_by_identity():
    x = sg.vector("x")
    y = x + 1
    with pytest.raises(AttributeError):
        y.op = None
    assert y == y and y != x + 1
    assert len({y, y, x}) == 2


def test_listing_format():
    x = sg.matrix("x", shape=(None, 4))
    y = x * x
    text = str(Graph([x], [y]))
    assert "%0 = input x : float32[?,4]" in text
    assert "%1 = multiply %0 %0 : float32[?,4]" in text
    assert text.endswith("return %1")


def test_toposort_is_recursion_safe():
    x = sg.vector("x")
    y = x
    for _ in range(10_000):
        y = y + 1.0
    assert len(toposort([y])) == 20_001
    assert sys.getrecursionlimit() < 10_000


def test_substitute_reinfers_types():
    x = sg.vector("x")
    y = sg.exp(x) + 1
    z = sg.tensor("z", shape=(None, 3))
    (new,) = substitute([y], {x: z})
    assert new.type.shape == (None, 3)
    assert y.type.shape == (None,)


def test_python_scalars_are_weak():
    x = sg.vector("x", dtype="float32")
    assert (x * 2.0).dtype == "float32"
    i = sg.vector("i", dtype="int32")
    assert (i / i).dtype == "float64"
    assert (sg.vector("b", dtype="int8") + 1).dtype == "int8"
    with pytest.raises(sg.DTypeError, match="does not fit in int8"):
        sg.vector("b", dtype="int8") + 1000


def test_static_broadcast_error_names_op_and_line():
    a = sg.vector("a", shape=(3,))
    b = sg.vector("b", shape=(4,))
    with pytest.raises(sg.ShapeError, match=r"add: cannot broadcast \[3\] with \[4\].*test_graph.py:\d+"):
        a + b


def test_runtime_broadcast_of_unknown_length_one():
    x = sg.matrix("x")
    y = sg.vector("y")
    f = sg.function([x, y], x + y, backend="python")
    out = f(np.ones((2, 3), "float32"), np.ones(1, "float32"))
    np.testing.assert_array_equal(out, np.full((2, 3), 2, "float32"))
    with pytest.raises(sg.ShapeError, match="add"):
        f(np.ones((2, 3), "float32"), np.ones(2, "float32"))


def test_function_checks_inputs():
    x = sg.matrix("x", dtype="float32", shape=(None, 3))
    f = sg.function([x], x * 2, backend="python")
    with pytest.raises(TypeError, match="takes 1 input"):
        f()
    with pytest.raises(sg.DTypeError, match="input x: got float64"):
        f(np.ones((2, 3)))
    with pytest.raises(sg.ShapeError, match="input x: got a 1-d"):
        f(np.ones(3, "float32"))
    with pytest.raises(sg.ShapeError, match=r"got shape \(2, 4\)"):
        f(np.ones((2, 4), "float32"))
    np.testing.assert_array_equal(f(np.ones((2, 3), "int16")), np.full((2, 3), 2, "float32"))


def test_outputs_never_alias_inputs_and_inputs_are_not_mutated():
    x = sg.vector("x")
    f = sg.function([x], [x, x], backend="python")
    data = np.arange(3, dtype="float32")
    a, b = f(data)
    a[0] = 100
    assert data[0] == 0 and b[0] == 0


def test_updates_are_simultaneous_and_atomic():
    a = sg.shared(np.float64(1.0), name="a")
    b = sg.shared(np.float64(2.0), name="b")
    x = sg.scalar("x", dtype="float64")
    f = sg.function([x], a + b, updates=[(a, b), (b, a + x)], backend="python")
    assert f(10.0) == 3.0
    assert (a.get_value(), b.get_value()) == (2.0, 11.0)
    g = sg.function([x], sg.sqrt(x), updates=[(a, a + 1)], backend="python")
    with pytest.raises(TypeError):
        g("not a number")
    assert a.get_value() == 2.0


def test_missing_input_is_reported_at_compile_time():
    x, y = sg.vector("x"), sg.vector("y")
    with pytest.raises(sg.SymgraphError, match="need input.*y"):
        sg.function([x], x + y, backend="python")


def test_givens():
    x, y = sg.vector("x"), sg.vector("y")
    f = sg.function([y], x * 2, givens={x: y + 1}, backend="python")
    np.testing.assert_allclose(f(np.ones(2, "float32")), [4, 4])


def test_unknown_backend():
    with pytest.raises(sg.SymgraphError, match="unknown backend 'tpu'"):
        sg.function([], sg.constant(1.0), backend="tpu")


def test_iterating_a_variable_of_unknown_length_is_a_type_error():
    """Indexing alone would let Python iterate forever (x[0], x[1], ...)."""
    x = sg.vector("x")
    for attempt in (lambda: list(x), lambda: sum(x), lambda: list(sg.scalar("s"))):
        with pytest.raises(TypeError, match="cannot iterate over symbolic"):
            attempt()
    with pytest.raises(sg.SymgraphError, match=r"write sg.function\(\[x\]"):
        sg.function(x, x * 2)
    a, b = sg.tensor("v", shape=(2, 3))  # a known length iterates as NumPy's arrays do
    assert a.type.shape == b.type.shape == (3,)


def test_givens_must_have_the_type_of_what_they_replace():
    x = sg.vector("x", dtype="float32")
    z = sg.matrix("z", dtype="float32")
    d = sg.vector("d", dtype="float64")
    with pytest.raises(sg.ShapeError, match=r"givens replace x \(float32\[\?\]\) with a "):
        sg.function([z], sg.sum(x * 2, axis=0), givens={x: z})
    with pytest.raises(sg.DTypeError, match="the dtypes must be the same"):
        sg.function([d], x * 2, givens={x: d})
    y = sg.vector("y", dtype="float32")
    f = sg.function([y], x * 2, givens={x: y + 1})
    np.testing.assert_array_equal(f(np.ones(2, "float32")), [4.0, 4.0])


def test_malformed_declarations_and_updates_are_clear_errors():
    for shape in [(2.5, 3), "ab", (True, 2)]:
        with pytest.raises(sg.ShapeError, match="must be a tuple of whole numbers or None"):
            sg.tensor("t", shape=shape)
    w = sg.shared(np.zeros(2), name="w")
    for updates in ([w], (w, w + 1)):
        with pytest.raises(sg.SymgraphError, match=r"each update is a pair \(shared, new value\)"):
            sg.function([], [], updates=updates)
    x = sg.matrix("x", dtype="float64")
    with pytest.raises(sg.ShapeError, match=r"input x: \[\[1, 2\], \[3\]\] is not an array"):
        sg.function([x], x * 2, backend="python")([[1, 2], [3]])
