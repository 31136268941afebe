"""The rewrite engine: fixpoint, merging, dead nodes, statistics, structural hash."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symgraph as sg
from symgraph import rewrite
from symgraph.compile import PASSES
from symgraph.graph import Graph
from symgraph.ops import unary
from symgraph.rewrite import RuleSet, graph_hash
from symgraph.rewrite.nodes import make
from test_rewrite import optimize_checked


def test_pass_list_is_the_documented_order():
    names = [p.__name__ for p in PASSES]
    assert names == ["canonicalize", "fold", "simplify", "stabilize", "specialize",
                     "share_log_softmax", "optimize_loops", "fuse", "plan_reuse"]


def test_common_subexpressions_merge_and_dead_nodes_drop():
    x = sg.vector("x", dtype="float64")
    a = sg.exp(x) + 1.0
    b = sg.exp(x) + 1.0
    sg.sin(a)  # built, never used: must not appear
    graph = optimize_checked(Graph([x], [a * b]))
    assert str(graph).count("exp") == 1 and str(graph).count("add") == 1
    assert "sin" not in str(graph)


def test_commuted_operands_merge():
    x, y = sg.vector("x"), sg.vector("y")
    graph = optimize_checked(Graph([x, y], [(x * y) - (y * x)]))
    assert str(graph).count("multiply") == 1


def test_rules_run_to_a_fixpoint_bottom_up():
    x = sg.vector("x", dtype="float64")
    out = -(-(-(-(x * 1.0 + 0.0) * 1.0)))  # each removal exposes the next
    graph = optimize_checked(Graph([x], [out]))
    assert str(graph) == "%0 = input x : float64[?]\nreturn %0"


def test_a_rule_loop_is_reported():
    rules = RuleSet("loop")

    @rules.rule(unary.Exp)
    def swap(node):  # exp(x) -> exp(x) built again: never settles
        return make(unary.Exp(), make(unary.Negative(), make(unary.Negative(), node.inputs[0])))

    @rules.rule(unary.Negative)
    def unneg(node):
        match node.inputs:
            case (sg.Node(op=unary.Negative(), inputs=(x,)),):
                return x

    x = sg.vector("x")
    with pytest.raises(AssertionError, match="loop"):
        rules.run(Graph([x], [sg.exp(x)]))


def test_a_rule_that_changes_the_type_is_caught():
    rules = RuleSet("bad")

    @rules.rule(unary.Exp)
    def to_float64(node):
        return sg.cast(node.inputs[0], "float64")

    x = sg.vector("x", dtype="float32")
    with pytest.raises(AssertionError, match="bad.to_float64"):
        rules.run(Graph([x], [sg.exp(x)]))


def test_long_chains_do_not_recurse():
    x = sg.vector("x", dtype="float64")
    y = x
    for _ in range(1500):  # deeper than the recursion limit
        y = sg.exp(y) * 1.0
    graph = rewrite.simplify(Graph([x], [y]))
    assert len(graph) == 1500


def test_function_reports_the_rules_that_fired():
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.log(1 + x) * 1.0 + sg.exp(x) * sg.exp(x), backend="python")
    assert f.rewrites["stabilize.log1p_from_log"] == 1
    assert f.rewrites["simplify.mul_by_one"] == 1
    assert f.rewrites["merge"] >= 1
    assert f.rewrites["fuse.fused"] == 1
    assert sg.function([x], x * 1.0, backend="python", optimize=False).rewrites == {}


def test_optimize_false_compiles_the_graph_as_written():
    x = sg.vector("x", dtype="float64")
    out = sg.log(1 + x) * 1.0
    f = sg.function([x], out, backend="python", optimize=False)
    assert str(f.graph) == str(Graph([x], [out]))


def test_debug_level_3_verifies_every_pass(monkeypatch, capsys):
    from symgraph.config import config

    monkeypatch.setattr(config, "debug", 3)
    calls = []
    import symgraph.compile as compile_module

    real = compile_module.verify
    monkeypatch.setattr(compile_module, "verify", lambda g, b: calls.append(1) or real(g, b))
    x = sg.vector("x")
    sg.function([x], sg.exp(x) + 1.0, backend="python")
    assert len(calls) == len(PASSES)
    assert "== after fuse" in capsys.readouterr().out


def _hash_program() -> str:
    return textwrap.dedent("""
        import numpy as np, symgraph as sg
        from symgraph.rewrite import graph_hash
        x, y = sg.matrix("x"), sg.vector("y")
        w = sg.shared(np.ones((3, 3), "float32"), name="w")
        out = sg.exp(x * 2.0) + y + sg.sum(w * x, 0) + sg.constant(np.arange(3.0, dtype="float32"))
        print(graph_hash(sg.function([x, y], out, backend="python").graph))
    """)


def test_graph_hash_is_stable_across_processes():
    program = _hash_program()
    here = {}
    exec(program.replace("print(", "here['hash'] = ("), {"here": here})
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env=env, cwd=".", check=True)
    assert done.stdout.strip() == here["hash"]


def test_graph_hash_tells_graphs_apart():
    x, y = sg.vector("x"), sg.vector("y")
    base = graph_hash(Graph([x, y], [x - y]))
    assert base == graph_hash(Graph([x, y], [x - y]))
    assert base != graph_hash(Graph([y, x], [x - y]))  # input order
    assert base != graph_hash(Graph([x, y], [y - x]))  # topology
    assert base != graph_hash(Graph([x, y], [x + y]))  # op
    assert graph_hash(Graph([x], [x + 1.0])) != graph_hash(Graph([x], [x + 2.0]))  # bytes
    x64 = sg.vector("x", dtype="float64")
    assert graph_hash(Graph([x], [sg.exp(x)])) != graph_hash(Graph([x64], [sg.exp(x64)]))
    xs = sg.vector("x", shape=(3,))
    assert graph_hash(Graph([x], [sg.exp(x)])) != graph_hash(Graph([xs], [sg.exp(xs)]))
    m = sg.matrix("m")
    assert graph_hash(Graph([m], [sg.sum(m, 0)])) != graph_hash(Graph([m], [sg.sum(m, 1)]))


def test_rank_orders_commutative_inputs_deterministically():
    x, y = sg.vector("x"), sg.vector("y")
    first = optimize_checked(Graph([x, y], [y * x + x * y]))
    second = optimize_checked(Graph([x, y], [x * y + y * x]))
    assert str(first).count("multiply") == 1 and str(second).count("multiply") == 1
    assert graph_hash(first) == graph_hash(optimize_checked(Graph([x, y], [y * x + x * y])))


def test_compile_of_a_training_step_is_fast_enough():
    """Not a benchmark: guards against a quadratic pass (the MLP step takes ~0.1 s)."""
    import time

    x, labels = sg.matrix("x"), sg.vector("labels", dtype="int64")
    params = [sg.shared(np.zeros(s, "float32")) for s in [(20, 16), (16,), (16, 4), (4,)]]
    w1, b1, w2, b2 = params
    h = sg.tanh(sg.sum(sg.expand_dims(x, 2) * w1, 1) + b1)
    z = sg.sum(sg.expand_dims(h, 2) * w2, 1) + b2
    cost = sg.sum(sg.log(1 + sg.exp(z)) - z) * (1.0 / 32)
    grads = sg.grad(cost, params)
    start = time.perf_counter()
    sg.function([x, labels], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)],
                backend="python")
    assert time.perf_counter() - start < 2.0
