"""The store of optimized graphs (symgraph/rewrite/store.py): a second compile of the same
graph reads the optimizer's result back instead of running the passes, and that result
computes exactly what the passes' result computes."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import symgraph as sg
from symgraph.compile import optimize
from symgraph.rewrite import store


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(sg.config, "cache_dir", str(tmp_path))
    return tmp_path


def _entries(cache):
    return glob.glob(os.path.join(cache, "graphs", "*.graph"))


def _mlp_step(backend, w_value):
    """A step with updates: the same lines build the same graph (names and origins too)."""
    x = sg.matrix("x", dtype="float64")
    w = sg.shared(w_value.copy(), name="w")
    loss = sg.mean(sg.tanh(x @ w) ** 2 + 0 * x[:, :1])
    f = sg.function([x], loss, updates=[(w, w - 0.5 * sg.grad(loss, w))], backend=backend)
    return f, w


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_second_compile_reads_the_graph_back_and_updates_the_callers_shared(cache, backend):
    w0 = np.linspace(-1, 1, 6).reshape(3, 2)
    x = np.arange(12.0).reshape(4, 3) / 10
    first, w1 = _mlp_step(backend, w0)
    second, w2 = _mlp_step(backend, w0)
    assert (first.rewrite_cache_hit, second.rewrite_cache_hit) == (False, True)
    assert len(_entries(cache)) == 1
    assert str(second.graph) == str(first.graph)
    assert second.rewrites == first.rewrites and sum(first.rewrites.values()) > 0
    for _ in range(3):
        np.testing.assert_array_equal(second(x), first(x))
    np.testing.assert_array_equal(w2.get_value(), w1.get_value())
    assert not np.array_equal(w2.get_value(), w0)  # the caller's own variable moved
    assert second.graph.shared[0] is w2


def test_result_is_the_optimizers_own(cache):
    x = sg.vector("x", dtype="float64")
    y = sg.log(1 + sg.exp(x * 1)) + sg.sum(x) * sg.constant(np.arange(3.0))
    computed = sg.function([x], y, backend="python")
    loaded = sg.function([x], y, backend="python")
    assert loaded.rewrite_cache_hit
    assert str(loaded.graph) == str(optimize(computed.unoptimized))
    v = np.array([-30.0, 0.5, 40.0])
    np.testing.assert_array_equal(loaded(v), computed(v))


def test_constants_and_origins_are_part_of_the_key(cache):
    x = sg.vector("x", dtype="float64")
    a = sg.function([x], x * 2.0 + 1.0, backend="python")
    b = sg.function([x], x * 3.0 + 1.0, backend="python")  # another constant
    c = sg.function([x], x * 2.0 + 1.0, backend="python")  # another line: another origin
    assert (a.rewrite_cache_hit, b.rewrite_cache_hit, c.rewrite_cache_hit) == (False,) * 3
    np.testing.assert_array_equal(b(np.ones(2)), [4.0, 4.0])
    assert len(_entries(cache)) == 3


def _shape_error_function():
    x = sg.vector("x", dtype="float64")
    y = sg.vector("y", dtype="float64")
    return sg.function([x, y], sg.exp(x) + y, backend="python")


def test_a_loaded_graph_still_names_where_a_node_was_created(cache):
    _shape_error_function()
    loaded = _shape_error_function()
    assert loaded.rewrite_cache_hit
    with pytest.raises(sg.ShapeError, match=r"test_store\.py:\d+"):
        loaded(np.ones(3), np.ones(4))


@pytest.mark.parametrize("damage", ["truncate", "flip", "unsealed"])
def test_damaged_entry_is_a_miss_and_is_rewritten(cache, damage):
    def build():
        x = sg.vector("x", dtype="float64")
        return sg.function([x], sg.sin(x) * 2 - x, backend="python")

    build()
    (path,) = _entries(cache)
    with open(path, "rb") as f:
        blob = f.read()
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob = blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:]
    else:  # a valid pickle without our seal: must never be unpickled
        blob = b"0" * 64 + b"\n" + blob[65:]
    with open(path, "wb") as f:
        f.write(blob)
    again = build()
    assert again.rewrite_cache_hit is False
    np.testing.assert_allclose(again(np.arange(3.0)), np.sin(np.arange(3.0)) * 2 - np.arange(3.0))
    assert build().rewrite_cache_hit is True  # rewritten whole


def test_unusable_cache_dir_optimizes_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(sg.config, "cache_dir", str(blocker))
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], x * 1 + 2, backend="python")
    assert f.rewrite_cache_hit is False
    np.testing.assert_array_equal(f(np.arange(2.0)), [2.0, 3.0])


def test_not_optimized_and_nan_checked_functions_bypass_the_store(cache):
    x = sg.vector("x", dtype="float64")
    assert sg.function([x], x + 1, optimize=False, backend="python").rewrite_cache_hit is None
    assert sg.function([x], x + 1, check_nan=True, backend="python").rewrite_cache_hit is None
    assert _entries(cache) == []


def test_debug_levels_2_and_3_run_the_passes_for_a_stored_graph(cache, monkeypatch, capsys):
    import symgraph.compile as compile_module

    x = sg.vector("x", dtype="float64")
    out = sg.exp(x) * 2.0 + 1.0
    sg.function([x], out, backend="python")
    assert sg.function([x], out, backend="python").rewrite_cache_hit is True
    verified = []
    real = compile_module.verify
    monkeypatch.setattr(compile_module, "verify", lambda g, b: verified.append(1) or real(g, b))
    monkeypatch.setattr(sg.config, "debug", 3)
    f = sg.function([x], out, backend="python")
    assert f.rewrite_cache_hit is None
    assert len(verified) == len(compile_module.PASSES)
    assert "== after fuse" in capsys.readouterr().out
    np.testing.assert_allclose(f(np.arange(3.0)), np.exp(np.arange(3.0)) * 2 + 1)


def _loops(backend):
    """A scan whose step reads a shared variable, and an ifelse, with an update."""
    h0 = sg.vector("h0", dtype="float64")
    c = sg.scalar("c", dtype="bool")
    scale = sg.shared(np.array([0.5, 2.0]), name="scale")
    hs, _ = sg.scan(lambda h: sg.tanh(h * scale) + 1, outputs_info=h0, n_steps=3)
    out = sg.ifelse(c, sg.sum(hs * hs), sg.sum(hs))
    return sg.function([c, h0], out, updates=[(scale, scale * 1.5)], backend=backend), scale


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_inner_graphs_and_their_shared_variables_round_trip(cache, backend):
    first, scale1 = _loops(backend)
    second, scale2 = _loops(backend)
    assert second.rewrite_cache_hit
    h0 = np.array([0.1, -0.3])
    for flag in (True, False, True):
        np.testing.assert_allclose(second(flag, h0), first(flag, h0), rtol=1e-14)
    np.testing.assert_array_equal(scale2.get_value(), [0.5 * 1.5**3, 2.0 * 1.5**3])
    np.testing.assert_array_equal(scale2.get_value(), scale1.get_value())


def test_a_graph_attribute_the_store_does_not_know_is_not_stored(cache):
    x = sg.vector("x", dtype="float64")
    graph = sg.graph.Graph([x], [x + 1])
    graph.surprise = {"node": x}  # an attribute the store does not know: never dropped

    def run(g):
        return g

    assert store.optimized(graph, run).from_cache is False
    assert _entries(cache) == []


SCRIPT = """
import numpy as np, symgraph as sg
x = sg.matrix("x", dtype="float32")
w = sg.shared(np.full((3, 2), 0.25, dtype="float32"), name="w")
y = sg.nn.softmax(x @ w, axis=-1)
f = sg.function([x], sg.log(y), updates=[(w, w * 0.5)], backend="numba")
print(f.rewrite_cache_hit, float(f(np.ones((2, 3), "float32")).sum()), float(w.get_value().sum()))
"""


def test_a_second_process_reads_the_graph_back(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path), PYTHONPATH=root)
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=root, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr
        runs.append(done.stdout.split())
    assert [r[0] for r in runs] == ["False", "True"]
    assert runs[0][1:] == runs[1][1:]
    assert abs(float(runs[0][1]) - 4 * np.log(0.5)) < 1e-5 and runs[0][2] == "0.75"
