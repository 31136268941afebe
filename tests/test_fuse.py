"""Elementwise fusion: chains, DAGs with several outputs, reductions, refusals, no cycles,
and the buffer-reuse plan."""

import logging

import networkx as nx
import numpy as np

import symgraph as sg
from symgraph import rewrite
from symgraph.graph import Graph
from symgraph.interpret import evaluate
from symgraph.ops.fused import Fused, FusedReduce
from symgraph.printing import to_networkx
from symgraph.verify import verify


def fused(inputs, outputs):
    """The graph after the whole pipeline up to fusion, verified."""
    graph = Graph(inputs, outputs)
    for rewrite_pass in (rewrite.canonicalize, rewrite.fold, rewrite.simplify,
                         rewrite.stabilize, rewrite.specialize, rewrite.fuse):
        before, graph = graph, rewrite_pass(graph)
        verify(graph, before)
    return graph


def kernels(graph):
    return [n for n in graph.nodes if isinstance(n.op, Fused)]


def assert_agrees(inputs, outputs, values):
    want = sg.function(inputs, outputs, backend="python", optimize=False)(*values)
    got = sg.function(inputs, outputs, backend="python")(*values)
    for a, b in zip(want if isinstance(want, list) else [want], got if isinstance(got, list)
                    else [got]):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_chain_becomes_one_kernel(rng):
    x, y = sg.matrix("x"), sg.vector("y")
    out = sg.exp(-x * x / 2) * sg.sin(x) + 0.5 * sg.tanh(x * y)
    graph = fused([x, y], [out])
    assert len(graph) == 1
    (kernel,) = kernels(graph)
    assert kernel.op.program[-1][0].name == "add" and len(kernel.op.outputs) == 1
    assert str(graph).startswith("%0 = input x : float32[?,?]\n%1 = input y : float32[?]")
    assert_agrees([x, y], out, [rng.standard_normal((3, 4), "float32"),
                                rng.standard_normal(4, "float32")])


def test_dag_with_two_outputs_is_one_kernel(rng):
    x = sg.vector("x", dtype="float64")
    e = sg.exp(x)
    a, b = e + 1.0, e * x
    graph = fused([x], [a, b, sg.sin(e)])
    (kernel,) = kernels(graph)
    assert len(kernel.op.outputs) == 3
    assert [n.op.name for n in graph.nodes if not n.is_leaf].count("tuple_get") == 3
    assert_agrees([x], [a, b, sg.sin(e)], [rng.standard_normal(5)])


def test_producers_fuse_into_their_reduction(rng):
    x = sg.matrix("x", dtype="float64")
    m = sg.sum(x, 1, keepdims=True)  # stand-in for a max: any reduction
    out = sg.sum(sg.exp(x - m), 1)
    graph = fused([x], [out])
    reduce_kernels = [n for n in graph.nodes if isinstance(n.op, FusedReduce)]
    assert len(reduce_kernels) == 1
    program = reduce_kernels[0].op
    assert [op.name for op, _ in program.program] == ["subtract", "exp"]
    assert program.reduce.axis == (1,)
    assert "sum{axis=(1,), keepdims=False}(fused{subtract+exp})" in str(graph)
    assert_agrees([x], out, [rng.standard_normal((3, 4))])


def test_reduction_of_a_value_needed_elsewhere_is_not_fused(rng, caplog):
    x = sg.vector("x", dtype="float64")
    e = sg.exp(x)
    with caplog.at_level(logging.DEBUG, logger="symgraph.fuse"):
        graph = fused([x], [sg.sum(e), e])
    assert not [n for n in graph.nodes if isinstance(n.op, FusedReduce)]
    assert any("needed besides by sum" in r.message for r in caplog.records)


def test_output_of_another_shape_is_refused_and_logged(caplog):
    x, y = sg.vector("x"), sg.matrix("y")
    e = sg.exp(x)  # float32[?]: needed outside, and not the loop's [?,?] shape
    with caplog.at_level(logging.DEBUG, logger="symgraph.fuse"):
        graph = fused([x, y], [sg.sin(e * y), e])
    assert any("is not provably the loop's" in r.message for r in caplog.records)
    assert all(len(k.op.outputs) == 1 for k in kernels(graph))


def test_fusion_never_creates_a_cycle(caplog):
    # a = exp(x) feeds a non-elementwise op whose result joins a's consumer:
    # fusing a with its consumer would need the sum before and after the loop.
    x = sg.vector("x", dtype="float64")
    a = sg.exp(x)
    s = sg.sum(a * 2.0, keepdims=True)
    out = sg.sin(a) + s
    with caplog.at_level(logging.DEBUG, logger="symgraph.fuse"):
        graph = fused([x], [out])
    assert nx.is_directed_acyclic_graph(to_networkx(graph))
    assert any("could make a cycle" in r.message for r in caplog.records)
    assert_agrees([x], out, [np.arange(4.0)])


def test_the_cycle_check_finds_exactly_the_cycles_networkx_finds():
    from symgraph.rewrite.fuse import _on_cycles

    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 12))
        edges = [(int(a), int(b)) for a, b in rng.integers(0, n, (int(rng.integers(0, 20)), 2))
                 if a != b]
        predecessors = {v: {a for a, b in edges if b == v} for v in range(n)}
        dag = nx.DiGraph(edges)
        dag.add_nodes_from(range(n))
        on_cycles = _on_cycles(predecessors)
        assert (not on_cycles) == nx.is_directed_acyclic_graph(dag), edges
        in_a_cycle = {v for c in nx.simple_cycles(dag) for v in c}
        assert in_a_cycle <= on_cycles, edges
        # what is left lies on a path from a cycle to a cycle
        for v in on_cycles:
            assert nx.ancestors(dag, v) & in_a_cycle or v in in_a_cycle, edges
            assert nx.descendants(dag, v) & in_a_cycle or v in in_a_cycle, edges


def test_single_ops_stay_unfused():
    x = sg.vector("x")
    graph = fused([x], [sg.exp(x)])
    assert not kernels(graph) and "exp %0" in str(graph)


def test_fused_graph_evaluates_like_the_original_with_broadcasting(rng):
    x, b = sg.matrix("x", dtype="float64"), sg.vector("b", dtype="float64")
    hidden = sg.tanh(x + b)
    out = [hidden * 2.0, sg.sum(hidden * hidden, 0)]
    values = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    graph = fused([x, b], out)
    for want, got in zip(evaluate(Graph([x, b], out), values), evaluate(graph, values)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_reuse_plan_marks_dead_intermediates():
    x, y = sg.matrix("x", dtype="float64"), sg.matrix("y", dtype="float64")
    s = sg.sum(x, 0, keepdims=True)  # a fresh buffer, used once
    out = sg.exp(s) * 2.0 + s
    graph = rewrite.plan_reuse(fused([x, y], [out, y * 3.0]))
    plan = graph.reuse
    (node,) = plan
    assert isinstance(node.op, Fused) and node.inputs[plan[node]].op.name == "sum"
    # Leaves (the caller's arrays) and graph outputs are never overwritten.
    assert all(not n.inputs[k].is_leaf for n, k in plan.items())


def test_reuse_refuses_values_with_other_users_or_outputs():
    x = sg.matrix("x", dtype="float64")
    s = sg.sum(x, 0, keepdims=True)
    graph = rewrite.plan_reuse(fused([x], [sg.exp(s) + 1.0, s]))
    assert graph.reuse == {}
    assert rewrite.reuse(Graph([x], [sg.exp(x)])) == {}


def test_sibling_merge_keeps_users_of_the_earlier_root_after_the_loop(rng):
    # a = x + 1 has a user (the sum) that an sin(e)-rooted loop would have to precede.
    x = sg.vector("x", dtype="float64")
    e = sg.exp(x)
    a = e + 1.0
    s = sg.sum(a, keepdims=True)
    out = sg.sin(e) * s
    graph = fused([x], [a, out])
    assert nx.is_directed_acyclic_graph(to_networkx(graph))
    assert_agrees([x], [a, out], [rng.standard_normal(4)])


def test_mlp_training_step_figures_in_the_docs():
    """The figures docs/optimizer.md states for the 784-256-10 MLP step; update both."""
    x = sg.matrix("x", dtype="float32", shape=(None, 784))
    labels = sg.vector("labels", dtype="int64")
    shapes = [(784, 256), (256,), (256, 10), (10,)]
    params = [sg.shared(np.zeros(s, "float32")) for s in shapes]
    w1, b1, w2, b2 = params
    logits = sg.nn.relu(x @ w1 + b1) @ w2 + b2
    cost = sg.nn.cross_entropy(logits, labels)
    updates = [(p, p - 0.1 * g) for p, g in zip(params, sg.grad(cost, params))]
    f = sg.function([x, labels], cost, updates=updates, backend="python")
    counts = (len(f.unoptimized), len(f.graph), len(kernels(f.graph)))
    assert counts == (54, 44, 8), f"update docs/optimizer.md: {counts}"
    rng = np.random.default_rng(0)
    for p, s in zip(params, shapes):
        p.set_value(rng.standard_normal(s).astype("float32") * 0.05)
    xv, yv = rng.standard_normal((16, 784)).astype("float32"), rng.integers(0, 10, 16)
    first = f(xv, yv)
    assert f(xv, yv) < first  # SGD on the same batch lowers the loss
