"""verify(): the IR invariants, and that it catches each kind of broken graph."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import Constant, Graph, Node
from symgraph.ops import unary
from symgraph.ops.base import TupleGet
from symgraph.ops.fused import Fused
from symgraph.types import TensorType
from symgraph.verify import VerifyError, verify


def test_a_sound_graph_verifies():
    x = sg.matrix("x")
    y = sg.sum(sg.exp(x) * 2.0, 0)
    verify(Graph([x], [y, sg.grad(sg.sum(y), x)]))


def test_wrong_type_is_caught():
    x = sg.vector("x", dtype="float32")
    bad = Node(unary.Exp(), (x,), TensorType("float64", (None,)))
    with pytest.raises(VerifyError, match="carries type float64.* inputs give float32"):
        verify(Graph([x], [bad]))


def test_wrong_static_shape_is_caught():
    x = sg.vector("x", shape=(3,))
    bad = Node(unary.Exp(), (x,), TensorType("float32", (4,)))
    with pytest.raises(VerifyError, match=r"float32\[4\]"):
        verify(Graph([x], [bad]))


def test_cycle_is_caught():
    x = sg.vector("x")
    a = sg.exp(x)
    b = sg.sin(a)
    object.__setattr__(a, "inputs", (b,))  # forge a cycle a -> b -> a
    with pytest.raises(VerifyError, match="cycle"):
        verify(Graph([x], [b]))


def test_input_that_is_not_a_node_is_caught():
    x = sg.vector("x")
    bad = Node(unary.Exp(), (x,), x.type)
    object.__setattr__(bad, "inputs", (np.zeros(3),))
    with pytest.raises(VerifyError, match="not a Node"):
        verify(Graph([x], [bad]))


def test_free_input_is_caught():
    x, y = sg.vector("x"), sg.vector("y")
    with pytest.raises(VerifyError, match="free input y"):
        verify(Graph([x], [x + y]))


def test_constant_type_must_match_its_value():
    c = Constant(np.ones(3, "float32"))
    object.__setattr__(c, "type", TensorType("float32", (4,)))
    with pytest.raises(VerifyError, match="constant"):
        verify(Graph([], [c]))


def test_multi_output_values_are_read_through_tuple_get():
    x = sg.vector("x")
    op = Fused(((unary.Exp(), (0,)), (unary.Sin(), (0,))), (1, 2))
    fused = Node(op, (x,), op.infer(x.type))
    good = Node(TupleGet(0), (fused,), fused.type.types[0])
    verify(Graph([x], [good]))
    bad = Node(unary.Cos(), (fused,), x.type)
    with pytest.raises(VerifyError, match="tuple_get"):
        verify(Graph([x], [bad]))


def test_a_pass_must_keep_output_types():
    x = sg.vector("x", shape=(3,))
    before = Graph([x], [sg.exp(x)])
    with pytest.raises(VerifyError, match=r"output 0 was float32\[3\]"):
        verify(Graph([x], [sg.cast(x, "float64")]), before)
    with pytest.raises(VerifyError, match="outputs became"):
        verify(Graph([x], [x, x]), before)
    y = sg.vector("y")
    verify(Graph([y], [sg.exp(y)]), Graph([y], [sg.sin(y)]))  # same types: fine
