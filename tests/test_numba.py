"""The numba CPU backend: coverage of kernel kinds, generated code, semantics the op tables
do not reach (run-time broadcasting, strides, reductions, views), the disk cache across
processes, and thread safety. The op tables themselves run on numba through
`helpers.BACKENDS`."""

import gc
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
import pytest

import symgraph as sg
from backends import get as get_backend
from backends.numba_cpu import cache
from helpers import check_against_numpy, check_grad
from symgraph.apply import apply
from symgraph.ops.base import Op

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def all_op_classes(cls=Op):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_op_classes(sub)


def test_backend_covers_every_kind_that_an_op_declares():
    backend = get_backend("numba")
    kinds = {c.kind for c in all_op_classes() if c.__module__.startswith("symgraph.")}
    assert kinds - {"custom"} <= backend.kinds, kinds - backend.kinds
    assert {"elemwise", "fused", "fused_reduce", "reduce", "sum_to", "view"} <= backend.kinds


def test_missing_kind_is_a_lowering_error_naming_op_and_backend():
    @dataclass(frozen=True)
    class Mystery(Op):
        """An op of a kind no backend implements (local, so other tests never see it)."""
        kind: ClassVar[str] = "mystery"

        def infer(self, x):
            return x

        def reference(self, x):
            return x

    x = sg.vector("x")
    y = apply(Mystery(), x + 1)
    with pytest.raises(sg.LoweringError, match=r"mystery: the numba backend has no kernel for "
                                                r"kind 'mystery'.*test_numba.py:\d+"):
        sg.function([x], y, backend="numba")
    np.testing.assert_array_equal(sg.function([x], y, backend="python")(np.ones(2, "float32")),
                                  [2, 2])
    del Mystery, y
    gc.collect()


def test_source_is_a_real_module_file():
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.exp(x) + 1, backend="numba")
    assert "def entry(" in f.source and "math.exp" in f.source or "exp_float64" in f.source
    with open(f.runner.path) as handle:
        assert handle.read().endswith(f.source)
    assert f.runner.path.startswith(os.path.join(sg.config.cache_dir, "numba"))


@pytest.mark.parametrize("dtype,wide", [("float32", False), ("float64", True)])
def test_float32_loops_stay_float32(dtype, wide, tmp_path, monkeypatch):
    monkeypatch.setattr(sg.config, "cache_dir", str(tmp_path))  # compile: the IR is kept
    x = sg.vector("x", dtype=dtype)
    y = x * 0.5 + sg.exp(x) * 2 - x / 3 + sg.sigmoid(x) + 1
    f = sg.function([x], y, backend="numba")
    ir = "".join(f.runner.entry.inspect_llvm().values())
    assert ("double" in ir) == wide and ("fpext" in ir) is False
    data = np.linspace(-3, 3, 7).astype(dtype)
    np.testing.assert_allclose(f(data), sg.function([x], y, backend="python")(data), rtol=1e-6)


def test_runtime_broadcast_of_unknown_length_one_and_mismatch():
    x = sg.matrix("x")
    y = sg.vector("y")
    f = sg.function([x, y], x * 2 + y, backend="numba")
    np.testing.assert_array_equal(f(np.ones((2, 3), "float32"), np.ones(1, "float32")),
                                  np.full((2, 3), 3, "float32"))
    np.testing.assert_array_equal(f(np.ones((1, 3), "float32"), np.arange(3, dtype="float32")),
                                  [[2, 3, 4]])
    with pytest.raises(sg.ShapeError, match=r"(add|fused): .*broadcast.*test_numba.py:\d+"):
        f(np.ones((2, 3), "float32"), np.ones(2, "float32"))


def test_strided_transposed_and_empty_inputs(rng):
    x = rng.standard_normal((6, 8))
    fn = lambda a, b: sg.maximum(a, b) * 2 - sg.exp(a)  # noqa: E731
    ref = lambda a, b: np.maximum(a, b) * 2 - np.exp(a)  # noqa: E731
    check_against_numpy(fn, ref, [x[::2, ::-3], x[1::2, 1::3]])
    check_against_numpy(fn, ref, [x.T, x.T[::-1]])
    check_against_numpy(fn, ref, [np.ones((0, 3)), np.ones((1, 3))])
    check_against_numpy(fn, ref, [np.float64(2.0), np.array([np.nan, 1.0, 3.0])])


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, True), (1, False), ((0, 2), False),
                                           (-1, True), ((), False)])
def test_sum_reductions(axis, keepdims, rng):
    x = rng.standard_normal((3, 4, 5))
    fn = lambda a: sg.sum(a, axis=axis, keepdims=keepdims)  # noqa: E731
    ref = lambda a: np.sum(a, axis=axis, keepdims=keepdims)  # noqa: E731
    check_against_numpy(fn, ref, [x])
    check_against_numpy(fn, ref, [x.astype("float32")], rtol=1e-5)
    check_against_numpy(fn, ref, [(x > 0).astype("int8")])


def test_sum_of_edge_cases():
    check_against_numpy(lambda a: sg.sum(a), np.sum, [np.ones((0, 3))])
    check_against_numpy(lambda a: sg.sum(a, axis=0), lambda a: np.sum(a, axis=0),
                        [np.ones((0, 3), "float32")])
    check_against_numpy(lambda a: sg.sum(a), np.sum, [np.array([True, False, True])])
    check_against_numpy(lambda a: sg.sum(a), np.sum, [np.array(2.5)])
    check_against_numpy(lambda a: sg.sum(a * 2), lambda a: np.sum(a * 2),
                        [np.array([1.0, np.inf, np.nan])])


def test_gradients_through_broadcasting_use_sum_to(rng):
    check_grad(lambda a, b: a * b + sg.exp(b), [rng.standard_normal((3, 4)),
                                               rng.standard_normal((4,))], backend="numba")
    check_grad(lambda a, b: sg.sum(a * b, axis=1), [rng.standard_normal((2, 3)),
                                                   rng.standard_normal((1, 3))], backend="numba")


def test_sum_to_a_run_time_shape_equal_or_broadcast(rng):
    # The batch dimension of `m` is unknown to the optimizer, so sum_to stays: at run time
    # it is either the gradient's own shape (a copy) or a broadcast one (a sum).
    x = sg.matrix("x", dtype="float32")
    m = sg.matrix("m", dtype="float32")
    g = sg.grad(sg.sum(sg.tanh(x * m) * 3), [x, m])
    f = sg.function([x, m], g, backend="numba")
    ref = sg.function([x, m], g, backend="python")
    assert "sum_to" in str(f.graph) and "= converted(" in f.source  # the copy
    assert "summed_to(" in f.source                                   # or the sum
    for xs, ms in [((5, 4), (5, 4)), ((1, 4), (5, 4)), ((5, 4), (1, 4)), ((5, 1), (1, 4))]:
        xv = rng.standard_normal(xs).astype("float32")
        mv = rng.standard_normal(ms).astype("float32")
        got = f(xv, mv)
        for a, b in zip(got, ref(xv, mv)):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
        assert not np.shares_memory(got[0], got[1])


def test_summed_to_undoes_broadcasting_in_c_order_for_any_layout(rng):
    from backends.numba_cpu.memory import summed_to
    to_float64 = numba.njit(lambda g, shape: summed_to(g, shape, np.float64))
    to_int64 = numba.njit(lambda g, shape: summed_to(g, shape, np.int64))
    g = rng.standard_normal((2, 3, 4)).astype("float32")
    for source in (g, g[:, ::2].transpose(0, 2, 1)):     # C-contiguous, strided
        for shape in [source.shape, source.shape[1:], (1,) + source.shape[1:],
                      (source.shape[1], 1), (1, 1), (1,), ()]:
            lead = source.ndim - len(shape)
            axes = tuple(range(lead)) + tuple(lead + p for p, d in enumerate(shape)
                                              if d == 1 and source.shape[lead + p] != 1)
            want = source.astype(np.float64).sum(axis=axes, keepdims=True).reshape(shape)
            got = to_float64(source, shape)
            assert got.shape == shape and got.dtype == np.float64 and got.flags.c_contiguous
            np.testing.assert_allclose(got, want, rtol=1e-12)
    counts = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(to_int64(counts, (1, 4)), counts.sum(0, keepdims=True))


def test_shape_and_views(rng):
    x = rng.standard_normal((3, 1, 4))
    check_against_numpy(lambda a: sg.expand_dims(a, (0, 3)) * 1,
                        lambda a: np.expand_dims(a, (0, 3)) * 1, [x])
    check_against_numpy(lambda a: sg.squeeze(a, 1) + 1, lambda a: np.squeeze(a, 1) + 1, [x])
    check_against_numpy(lambda a: sg.squeeze(a, (0, 1)), np.squeeze, [np.ones((1, 1))])
    check_against_numpy(lambda a: sg.expand_dims(a, 0), lambda a: np.expand_dims(a, 0),
                        [np.array(3.0)])
    v = sg.tensor("v", dtype="float64", shape=(None, None, None))
    f = sg.function([v], [sg.shape(v), sg.squeeze(v, 1)], backend="numba")
    shape, squeezed = f(x[:, :, ::-1])
    np.testing.assert_array_equal(shape, [3, 1, 4])
    assert shape.dtype == np.int64
    np.testing.assert_array_equal(squeezed, x[:, 0, ::-1])
    with pytest.raises(sg.ShapeError, match="squeeze"):
        f(np.ones((3, 2, 4)))


def test_input_checks_and_aliasing_match_the_python_backend():
    x = sg.matrix("x", dtype="float32", shape=(None, 3))
    f = sg.function([x], [x * 2, x, x * 2], backend="numba")
    with pytest.raises(TypeError, match="takes 1 input"):
        f()
    with pytest.raises(sg.DTypeError, match="input x: got float64"):
        f(np.ones((2, 3)))
    with pytest.raises(sg.ShapeError, match="input x: got a 1-d"):
        f(np.ones(3, "float32"))
    with pytest.raises(sg.ShapeError, match=r"got shape \(2, 4\)"):
        f(np.ones((2, 4), "float32"))
    data = np.ones((2, 3), "float32")
    doubled, same, again = f(data)
    same[0, 0] = 100
    doubled[0, 0] = -1
    assert data[0, 0] == 1 and again[0, 0] == 2
    np.testing.assert_array_equal(f(np.ones((2, 3), "int16"))[0], np.full((2, 3), 2, "float32"))


def test_updates_are_simultaneous():
    a = sg.shared(np.float64(1.0), name="a")
    b = sg.shared(np.arange(3.0), name="b")
    x = sg.scalar("x", dtype="float64")
    f = sg.function([x], a + sg.sum(b), updates=[(a, a + x), (b, b * a)], backend="numba")
    assert f(10.0) == 4.0
    assert a.get_value() == 11.0
    np.testing.assert_array_equal(b.get_value(), [0, 1, 2])
    f(0.0)
    np.testing.assert_array_equal(b.get_value(), [0, 11, 22])


def test_eight_threads_call_one_function():
    x = sg.vector("x", dtype="float64")
    y = sg.scalar("y", dtype="float64")
    f = sg.function([x, y], sg.sum(sg.sin(x) * y), backend="numba")
    data = np.linspace(0, 1, 101)
    errors = []

    def work(k):
        for _ in range(200):
            if not np.isclose(f(data, float(k)), np.sum(np.sin(data) * k)):
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_unwritable_cache_dir_compiles_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(sg.config, "cache_dir", str(blocker / "cache"))
    monkeypatch.setattr(cache, "_warned", False)
    x = sg.vector("x", dtype="float64")
    with pytest.warns(UserWarning, match="cannot be used"):
        f = sg.function([x], x * 3 - 1, backend="numba")
    assert f.runner.path is None and f.cache_hit is False
    np.testing.assert_array_equal(f(np.arange(3.0)), [-1, 2, 5])


# -- the disk cache, seen from several processes -------------------------------------------

SCRIPT = """
import numpy as np, symgraph as sg
x = sg.vector("x", dtype="float64")
f = sg.function([x], sg.exp(x) * 2 + x, backend="numba")
data = np.arange(4.0)
assert np.allclose(f(data), np.exp(data) * 2 + data)
print("HIT" if f.cache_hit else "MISS", f.runner.path, f.runner.cache_entry)
"""


def run_processes(cache_dir, count=1):
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(cache_dir), PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # Python's default: bytecode files are written
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(count)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(out.split())
    return outputs


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """A cache directory two processes compiled the same graph into at the same time."""
    directory = tmp_path_factory.mktemp("numba-cache")
    first, second = run_processes(directory, count=2)
    assert first[1] == second[1]  # the same entry
    assert {first[2], second[2]} <= {"created", "valid"}
    return directory, first[1]


def test_second_process_hits_the_disk_cache(shared_cache):
    directory, path = shared_cache
    ((status, again, entry),) = run_processes(directory)
    assert (status, again, entry) == ("HIT", path, "valid")
    with open(path) as handle:
        assert cache.is_valid(handle.read())
    # No bytecode file beside the entry: nothing would check one (a truncated one had
    # broken every later process with "marshal data too short").
    assert not [name for name in os.listdir(os.path.join(directory, "numba", "__pycache__"))
                if name.endswith(".pyc")]


def test_corrupt_entries_are_detected_and_rebuilt(shared_cache):
    directory, path = shared_cache
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text[: len(text) // 2])  # a truncated write
    assert not cache.is_valid(text[: len(text) // 2])
    ((_, _, entry),) = run_processes(directory)
    assert entry == "repaired"
    with open(path) as handle:
        assert handle.read() == text
    # Damaged machine code (numba's index and data files) is dropped and compiled again.
    for stale in os.listdir(os.path.join(directory, "numba", "__pycache__")):
        if stale.startswith(os.path.basename(path)[:-3]) and not stale.endswith(".pyc"):
            with open(os.path.join(directory, "numba", "__pycache__", stale), "wb") as handle:
                handle.write(b"garbage")
    ((status, _, entry),) = run_processes(directory)
    assert (status, entry) == ("MISS", "valid")
    ((status, _, _),) = run_processes(directory)
    assert status == "HIT"


WARM_SCRIPT = """
import sys
import numpy as np, symgraph as sg
light = not ({"scipy.special", "networkx", "numba"} & set(sys.modules))
rng = np.random.default_rng(0)
x = sg.matrix("x", dtype="float32")
w = sg.shared(rng.normal(size=(5, 3)).astype("float32"), name="w")
t = sg.vector("t", dtype="int64")
loss = sg.nn.cross_entropy(sg.erf(x @ w), t)
f = sg.function([x, t], [loss, x @ w], backend="numba")
xv = rng.normal(size=(6, 5)).astype("float32")
tv = np.arange(6) % 3
got = f(xv, tv)
# numba's BLAS calls found scipy.linalg.cython_blas loaded alone (blas.py), not the package
blas = "blas-alone" if "scipy.linalg" not in sys.modules else "scipy.linalg"
ref = sg.function([x, t], [loss, x @ w], backend="python")(xv, tv)
for a, b in zip(got, ref):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
# a graph no process compiled before: numba's compiler loads what the warm load skipped
k = float(sys.argv[1])
y = sg.vector("y", dtype="float64")
g = sg.function([y], sg.tanh(y) * k + sg.sum(y), backend="numba")
assert not g.cache_hit
np.testing.assert_allclose(g(np.arange(3.0)), np.tanh(np.arange(3.0)) * k + 3)
from backends.numba_cpu import runtime  # a kernel g's entry calls, compiled by an earlier process
kernel = "kernel-cached" if not runtime.tanh_float64.stats.cache_misses else "kernel-compiled"
print("HIT" if f.cache_hit else "MISS", "light" if light else "heavy", kernel, blas)
"""


def test_a_warm_process_runs_cached_code_and_still_compiles_new_graphs(tmp_path):
    # The warm load skips numba's refresh of its whole target context (cache.py): the
    # cached BLAS, row-kernel and parallel code must still run, and a new compile work.
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path), PYTHONPATH=ROOT,
               SYMGRAPH_PARALLEL_THRESHOLD="0")
    runs = []
    for k in ("3", "4"):  # each process also compiles a graph no process compiled before
        proc = subprocess.run([sys.executable, "-c", WARM_SCRIPT, k], env=env, cwd=ROOT,
                              text=True, capture_output=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs.append(proc.stdout.split())
    # `import symgraph` leaves scipy.special, networkx and numba for when they are needed;
    # the backend's kernels keep their own disk cache (a graph's module once took it away)
    assert [run[:2] for run in runs] == [["MISS", "light"], ["HIT", "light"]]
    assert runs[1][2] == "kernel-cached"
    assert [run[3] for run in runs] == ["blas-alone", "blas-alone"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blas_dot_reads_every_layout_or_copies_it(dtype, rng):
    # gemm reads each operand in place where one of its axes is contiguous (either order,
    # any leading dimension); other views are copied; empty products need no BLAS at all
    from backends.numba_cpu.blas import as_any, blas_dot
    import numba

    @numba.njit
    def product(a, b):  # as generated code calls it
        return blas_dot(as_any(a), as_any(b))

    a = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal((5, 4)).astype(dtype)
    cases = [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)), (a[::2], b),
             (a[:, ::2], b[::2]), (a[:1], b), (a[:, :1], b[:1]), (a[:0], b), (a[:, :0], b[:0]),
             (np.broadcast_to(a[:1], (3, 5)), b), (a[::-1], b[:, ::-1]), (b.T, a.T),
             (a[:, :1].T, a[:, :1]), (a[1:6, 1:4], b[1:4, :2])]
    for x, y in cases:
        got = product(x, y)
        expected = x.astype(np.float64) @ y.astype(np.float64)
        assert got.dtype == dtype and got.shape == expected.shape and got.flags.c_contiguous
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # one compile per dtype, whatever the layouts (read-only operands are typed apart)
    writable = [sig for sig in blas_dot.signatures if all(t.mutable for t in sig)]
    assert len(writable) <= 2


def test_scipy_blas_falls_back_to_the_ordinary_import(monkeypatch):
    import importlib.util

    from backends.numba_cpu import blas

    alone = blas._scipy_gemm()
    monkeypatch.delitem(sys.modules, blas.CYTHON_BLAS)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # an odd install
    blas._load_cython_blas()
    assert blas.CYTHON_BLAS not in sys.modules  # left to the ordinary import, unharmed
    assert blas._scipy_gemm() == alone  # which finds the same functions
    assert blas.CYTHON_BLAS in sys.modules


BLAS_SCRIPT = """
import numpy as np, symgraph as sg
from backends.numba_cpu import blas
rng = np.random.default_rng(0)
for dtype in ("float32", "float64"):
    a, b = sg.matrix("a", dtype=dtype), sg.matrix("b", dtype=dtype)
    f = sg.function([a, b], [a @ b, a.T @ b.T], backend="numba")
    x = rng.standard_normal((33, 17)).astype(dtype)
    y = rng.standard_normal((17, 33)).astype(dtype)
    for got, want in zip(f(x, y), [x @ y, x.T @ y.T]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
print(blas.PROVIDER, blas._numpy_gemm() is not None, "HIT" if f.cache_hit else "MISS")
"""


def test_gemm_of_either_blas_runs_the_same_cached_code(tmp_path):
    # NumPy's bundled OpenBLAS (64-bit ints) where there is one, SciPy's (32-bit ints) on
    # request: compiled code is the same for both, so each process may load the other's
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path), PYTHONPATH=ROOT)
    runs = []
    for choice in ("scipy", "", "scipy"):
        env["SYMGRAPH_BLAS"] = choice
        proc = subprocess.run([sys.executable, "-c", BLAS_SCRIPT], env=env, cwd=ROOT,
                              text=True, capture_output=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs.append(proc.stdout.split())
    assert runs[0][0] == runs[2][0] == "scipy"
    assert runs[1][0] == ("numpy" if runs[1][1] == "True" else "scipy")
    assert [run[2] for run in runs] == ["MISS", "HIT", "HIT"]  # the first one's code


ROW_KERNEL_SCRIPT = """
import sys
import numpy as np, symgraph as sg
sg.config.parallel_threshold = 0    # the parallel entry, which calls the parallel row kernel
x = sg.matrix("x", dtype="float32")
f = sg.function([x], sg.logsumexp(x, axis=int(sys.argv[1])), backend="numba")
a = np.random.default_rng(0).standard_normal((64, 48)).astype("float32")
got, ref = f(a), np.log(np.exp(a.astype("float64")).sum(axis=int(sys.argv[1])))
np.testing.assert_allclose(got, ref, rtol=1e-5)
print("HIT" if f.cache_hit else "MISS")
"""


def test_a_cached_entry_calling_a_cached_parallel_kernel_runs_in_a_fresh_process(tmp_path):
    # The parallel entry of a graph without loops of its own is compiled without
    # numba's parallel passes; the parallel row kernel in its machine code uses numba's
    # thread pool, which loading cached code does not start: where the kernel had come
    # from the cache too, the next process crashed (SIGSEGV) on its first call.
    kernels = str(tmp_path / "kernels")
    runs = []
    for graphs, axis in [("a", "0"), ("b", "1"), ("b", "1")]:   # kernels cached, then not
        env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path / graphs),
                   NUMBA_CACHE_DIR=kernels, PYTHONPATH=ROOT)
        proc = subprocess.run([sys.executable, "-c", ROW_KERNEL_SCRIPT, axis], env=env,
                              cwd=ROOT, text=True, capture_output=True, timeout=600)
        assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
        runs.append(proc.stdout.split()[-1])
    assert runs == ["MISS", "MISS", "HIT"]


ARRAY_OPS_SCRIPT = """
import json
import numba.core.compiler
import numpy as np, symgraph as sg

compiled = []
original = numba.core.compiler.compile_extra


def recording(typingctx, targetctx, func, *args, **kwargs):
    compiled.append(f"{func.__module__}.{func.__qualname__}")
    return original(typingctx, targetctx, func, *args, **kwargs)


numba.core.compiler.compile_extra = recording   # the dispatcher calls it through the module
x = sg.tensor("x", dtype="float64", shape=(None, None, None))
outs = [sg.transpose(x, (2, 0, 1)) * 2.0, sg.broadcast_to(x[0, 0], (3, 4)) + 1.0,
        sg.reshape(x[:, ::2], (-1,)), x @ sg.transpose(x, (0, 2, 1)),
        sg.concatenate([x, x[:, ::-1], x[:, :1]], 1),
        sg.cumsum(x[:, 1:], -1), sg.cumsum(x[1:], -1), sg.cumsum(x, 0)]  # rows: copy, view
seq, _ = sg.scan(lambda row, h: h * 0.5 + row, sequences=x, outputs_info=sg.zeros_like(x[0]))
a = np.arange(24.0).reshape(2, 3, 4)
got = sg.function([x], outs + [seq], backend="numba")(a)
scan = [a[0] * 1.0]
scan.append(scan[0] * 0.5 + a[1])
want = [a.transpose(2, 0, 1) * 2, np.broadcast_to(a[0, 0], (3, 4)) + 1, a[:, ::2].ravel(),
        a @ a.transpose(0, 2, 1), np.concatenate([a, a[:, ::-1], a[:, :1]], 1),
        np.cumsum(a[:, 1:], -1), np.cumsum(a[1:], -1), np.cumsum(a, 0), np.stack(scan)]
for g, w in zip(got, want, strict=True):
    np.testing.assert_allclose(g, w, rtol=1e-12)
print(json.dumps(sorted(set(compiled))))
"""


def test_views_slice_copies_and_scans_compile_no_numba_array_functions(tmp_path):
    # numba's transpose, broadcast_to, reshape, astype, concatenate, ascontiguousarray,
    # np.empty and slice assignment of an array are functions it compiles in every process
    # (the transpose and the slice assignment format error messages: ~4-5 s each, cold).
    # Generated code lowers these in place (memory.py); a cold process compiles only the
    # graph's own functions, the backend's kernels and numba's min/max.
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path),
               NUMBA_CACHE_DIR=str(tmp_path / "kernels"), PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", ARRAY_OPS_SCRIPT], env=env, cwd=ROOT,
                          text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    compiled = json.loads(proc.stdout.splitlines()[-1])
    assert any(name.endswith(".scan1") for name in compiled)     # it did compile, cold
    others = [name for name in compiled if not name.startswith(("backends.", "sg_"))]
    assert set(others) <= {"numba.cpython.builtins.ol_min.<locals>.impl",
                           "numba.cpython.builtins.ol_max.<locals>.impl"}, others


def test_backend_kernels_are_cached_under_the_backend_salt():
    # A kernel's machine code includes what it calls from other files (vecmath.py inside
    # rowops.py's softmax), so its cache must go stale when any backend file changes, not
    # only its own file (numba's stamp).
    from backends.numba_cpu import blas, rowops, runtime
    for kernel in (rowops.softmax_rows, rowops.PARALLEL["softmax_rows"], runtime.sin_float64,
                   runtime.maximum, blas.blas_dot):
        assert kernel._cache._cache_file._source_stamp == cache.SALT, kernel
    x = sg.vector("x", dtype="float64")   # a generated module is not a backend kernel
    f = sg.function([x], sg.sin(x) * 2, backend="numba")
    assert f.runner.entry._cache._cache_file._source_stamp != cache.SALT


def test_parallel_entry_inlines_vectorizable_math_only_within_its_budget(rng, monkeypatch):
    from backends.numba_cpu import INLINE_BUDGET
    monkeypatch.setattr(sg.config, "parallel_threshold", 0)   # always the parallel entry
    x = sg.vector("x", dtype="float64")
    short = sg.exp(-x * x) * sg.sin(x)
    long = x
    for _ in range(INLINE_BUDGET + 1):      # past the budget: plain calls, a short compile
        long = sg.sin(long) * 0.9 + 0.05
    values = rng.uniform(-2, 2, 1000)
    f_short = sg.function([x], short, backend="numba")
    f_long = sg.function([x], long, backend="numba")
    assert f_short.runner.inline_math and not f_long.runner.inline_math
    np.testing.assert_allclose(f_short(values), np.exp(-values * values) * np.sin(values),
                               rtol=1e-14, atol=1e-15)
    expected = values
    for _ in range(INLINE_BUDGET + 1):
        expected = np.sin(expected) * 0.9 + 0.05
    np.testing.assert_allclose(f_long(values), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("size", [100, (4 << 20) // 8 + 3])   # below and above 4 MiB
def test_large_fused_outputs_get_the_huge_page_hint_and_stay_correct(size, rng):
    from backends.numba_cpu import runtime
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.tanh(x) * 2 + 1, backend="numba")
    assert "new_empty(" in f.source  # which gives the hint, for arrays of 4 MiB and more
    values = rng.uniform(-3, 3, size)
    out = f(values)
    np.testing.assert_allclose(out, np.tanh(values) * 2 + 1, rtol=1e-14, atol=1e-14)
    allocate = numba.njit(lambda n: runtime.new_empty(n, np.float32))
    fresh = allocate(size)
    assert fresh.shape == (size,) and fresh.dtype == np.float32 and fresh.flags.c_contiguous
    fresh[:] = 1.5                                    # its memory is all there
    assert fresh.sum() == 1.5 * size
    code = allocate.inspect_llvm(allocate.signatures[0])
    assert "@madvise(" in code and ", i32 14)" in code  # MADV_HUGEPAGE, from 4 MiB on
    with pytest.raises(ValueError, match="negative dimensions"):
        allocate(-1)


def test_parallel_entry_agrees_with_the_serial_one_on_loops_reductions_and_rows(rng,
                                                                             monkeypatch):
    x = sg.matrix("x", dtype="float32")
    v = sg.vector("v", dtype="float32")
    u = sg.vector("u", dtype="float32")   # v * u: the flat loop, where lengths agree
    outputs = [sg.exp(-x * x) * sg.sin(x) + v, sg.sum(sg.tanh(x), axis=0),
               sg.max(x * 2, axis=1), sg.nn.softmax(x + v), sg.cumsum(x, axis=1),
               x[::2, 1:] * 3, v * u + 1,        # a short body: the flat twin and the nest
               sg.exp(-v * v) * sg.sin(v) + 0.5 * sg.tanh(v * u)]   # long: flat, on copies
    xs = rng.standard_normal((37, 29)).astype("float32")
    vs = rng.standard_normal(29).astype("float32")
    serial = sg.function([x, v, u], outputs, backend="numba")
    monkeypatch.setattr(sg.config, "parallel_threshold", 0)
    parallel = sg.function([x, v, u], outputs, backend="numba")
    monkeypatch.setattr(sg.config, "parallel_threshold", 10**12)
    never = sg.function([x, v, u], outputs, backend="numba")
    assert "_g0 = shaped(" in serial.source and "expanded(" in serial.source
    for us in (vs[::-1].copy(), vs[:1]):       # flat loops, then the nest and a copy
        for a, b, c in zip(parallel(xs, vs, us), serial(xs, vs, us), never(xs, vs, us)):
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
            np.testing.assert_array_equal(b, c)
        w1 = np.exp(-vs * vs) * np.sin(vs) + 0.5 * np.tanh(vs * us)
        np.testing.assert_allclose(parallel(xs, vs, us)[-1], w1, rtol=2e-6, atol=1e-6)
    assert parallel.runner.entry is serial.runner.entry   # one module, two entries


@pytest.mark.parametrize("threshold", [10**12, 0])   # the serial entry, the parallel one
def test_transposes_are_views_lowered_in_place(threshold, rng, monkeypatch):
    # numba's own transpose formats its error messages from the shapes: ~5 s of every
    # cold compile of a graph with one. memory.transposed is a view built in IR.
    import itertools
    monkeypatch.setattr(sg.config, "parallel_threshold", threshold)
    x = sg.tensor("x", dtype="float32", shape=(None, None, None))
    perms = [p for p in itertools.permutations(range(3)) if p != (0, 1, 2)]
    outs = [sg.transpose(x, p) for p in perms]                 # views: returned as such
    outs += [sg.transpose(x, p) * 2.0 + 1.0 for p in perms]    # read by (parallel) loops
    outs += [sg.logsumexp(x, (0, 2)), sg.cumsum(x, 0), sg.max(x, 1, keepdims=True)]
    outs.append(sg.matmul(sg.transpose(x, (0, 2, 1)), x))      # batched, both BLAS ways
    f = sg.function([x], outs, backend="numba")
    assert "transposed(" in f.source and ".transpose(" not in f.source

    def expected(b):
        return [b.transpose(p) for p in perms] + [b.transpose(p) * 2 + 1 for p in perms] + [
            np.log(np.exp(b).sum((0, 2))), np.cumsum(b, 0), b.max(1, keepdims=True),
            b.transpose(0, 2, 1) @ b]

    a = rng.standard_normal((3, 4, 5)).astype("float32")
    for value in (a, a[:, ::-1, ::2]):                 # C-contiguous, then negative strides
        for got, want in zip(f(value), expected(value), strict=True):
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threshold", [10**12, 0])   # the serial entry, the parallel one
def test_a_long_fused_body_is_compiled_once_and_reads_copies_of_inputs_that_do_not_fit(
        threshold, rng, monkeypatch):
    from backends.numba_cpu.kernels.elemwise import LONG_BODY
    monkeypatch.setattr(sg.config, "parallel_threshold", threshold)

    def chain(m, a, b):
        for _ in range(LONG_BODY // 4 + 1):
            a = m.tanh(m.sin(a * 1.25 + b))
        return a

    x, y = sg.vector("x", dtype="float64"), sg.vector("y", dtype="float64")
    f = sg.function([x, y], chain(sg, x, y), backend="numba")
    assert f.source.count("sin_float64(") == LONG_BODY // 4 + 1   # one copy of the body
    assert f.source.count("prange(") == 1 and "expanded(" in f.source
    a, b = rng.uniform(-2, 2, 301), rng.uniform(-2, 2, 301)
    for xs, ys in [(a, b), (a, b[:1]), (a[:1], b), (a[::2], b[:151]), (a[:0], b[:0]),
                   (a[:0], b[:1])]:      # fits, broadcasts either way, strided, empty
        np.testing.assert_allclose(f(xs, ys), chain(np, xs, ys), rtol=1e-13, atol=1e-14)
    with pytest.raises(sg.ShapeError, match=r"\(3,\) \(301,\)"):
        f(a, b[:3])
    if not threshold:   # the 2-d loop is generated the same way: one (shorter) compile
        return
    X, Y = sg.matrix("X", dtype="float32"), sg.matrix("Y", dtype="float32")
    g = sg.function([X, Y], chain(sg, X, Y), backend="numba")
    A, B = (rng.uniform(-2, 2, (9, 7)).astype("float32") for _ in range(2))
    for xs, ys in [(A, B), (A[:, :1], B), (A, B[:1]), (A[:7].T, B[:7]), (A[::2], B[:1, :1])]:
        np.testing.assert_allclose(g(xs, ys), chain(np, xs, ys), rtol=1e-5, atol=1e-6)


def test_only_inputs_that_loops_read_choose_the_parallel_entry():
    from backends.numba_cpu.codegen import _loop_leaves
    x = sg.matrix("x", dtype="float32")
    w = sg.matrix("w", dtype="float32")
    b = sg.vector("b", dtype="float32")
    f = sg.function([x, w, b], sg.tanh(x @ w + b), backend="numba")
    looped = _loop_leaves(f.graph)
    assert b in looped and x not in looped and w not in looped   # x, w only feed BLAS
    assert "def entry(v0, v1, v2):" in f.source and "if v2.size < threshold:" in f.source


@pytest.mark.parametrize("threshold", [0, 10**12])     # parallel entry, serial entry
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_kernels_match_the_reference_on_special_rows(threshold, dtype, monkeypatch):
    monkeypatch.setattr(sg.config, "parallel_threshold", threshold)
    inf, nan = np.inf, np.nan
    rows = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [nan, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0],
                     [inf, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0], [-inf] * 11,
                     [-inf, 0, 1e30, -1e30, 5, 5, 5, 5, 5, 5, 5], [80, 90, 100] + [-200] * 8,
                     [-0.0, -1, -2, -3, -4, -5, -6, -7, -8, 0.0, -9],     # signed zeros
                     [-9, -8, -7, -6, -5, -4, -3, -2, -1, -10, -0.5],   # all negative
                     [-nan, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0],              # a negative NaN
                     [1, 2, 3, 4, 5, 6, 7, 8, 9, inf, nan],
                     [-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, 3]],
                    dtype=dtype)
    rows = np.concatenate([rows, np.random.default_rng(3).normal(0, 30, (6, 11)).astype(dtype)])
    assert np.signbit(rows[8, 0]) and np.isnan(rows[8, 0])
    x = sg.matrix("x", dtype=dtype)
    labels = sg.vector("labels", dtype="int64")
    outs = [sg.logsumexp(x, axis=1), sg.nn.softmax(x, axis=1), sg.nn.log_softmax(x, axis=1),
            sg.nn.cross_entropy(x, labels, reduction="none")]
    picked = np.arange(len(rows)) % 11
    got = sg.function([x, labels], outs, backend="numba")(rows, picked)
    want = sg.function([x, labels], outs, backend="python")(rows, picked)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        # atol: log_softmax near 0 is a difference of nearby values (both sums are rounded)
        np.testing.assert_allclose(g, w, rtol=4e-7 if dtype == "float32" else 1e-15,
                                   atol=4 * np.finfo(dtype).eps)
    empty = sg.function([x], sg.logsumexp(x, axis=1), backend="numba")(np.zeros((3, 0), dtype))
    np.testing.assert_array_equal(empty, np.full(3, -np.inf, dtype))
