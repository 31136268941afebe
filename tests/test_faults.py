"""Fault injection (issue #10): what survives an interrupted call, a huge allocation, a very
deep graph, concurrent callers, and a damaged or hostile compile cache."""

import hmac
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import symgraph as sg
from symgraph.apply import apply
from symgraph.ops.base import Op

BACKENDS = ["python", "numba"]


# -- interrupted calls leave every shared variable unchanged ---------------------------------

@dataclass(frozen=True)
class Explode(Op):
    """Identity that raises `error` when its reference runs (after `after` clean calls)."""

    error: type
    kind: ClassVar[str] = "custom"

    def infer(self, x):
        return x

    def reference(self, x):
        if Explode.armed:
            raise self.error("injected fault")
        return x.copy()


Explode.armed = False


@pytest.fixture
def armed():
    Explode.armed = True
    yield
    Explode.armed = False


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError, MemoryError])
@pytest.mark.parametrize("where", ["output", "update"])
def test_fault_during_a_call_leaves_every_shared_variable_unchanged(error, where, armed):
    a = sg.shared(np.arange(3.0), name="a")
    b = sg.shared(np.float64(5.0), name="b")
    x = sg.vector("x", dtype="float64")
    boom = apply(Explode(error), x)
    out = boom if where == "output" else x * 2
    upd_b = b + sg.sum(boom) if where == "update" else b + 1
    f = sg.function([x], out, updates=[(a, a + x), (b, upd_b)], backend="python")
    with pytest.raises(error):
        f(np.ones(3))
    np.testing.assert_array_equal(a.get_value(), np.arange(3.0))
    assert b.get_value() == 5.0
    Explode.armed = False  # the same function works afterwards: the lock was released
    f(np.ones(3))
    np.testing.assert_array_equal(a.get_value(), np.arange(3.0) + 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_leaves_shared_unchanged_and_function_usable(backend):
    w = sg.shared(np.ones(2), name="w")
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.sum(x * w), updates=[(w, w + x)], backend=backend)
    for bad in (np.ones(3), np.ones((2, 2)), np.array(["a", "b"])):
        with pytest.raises((sg.ShapeError, sg.DTypeError, ValueError)):
            f(bad)
        np.testing.assert_array_equal(w.get_value(), np.ones(2))
    assert f(np.ones(2)) == 2.0
    np.testing.assert_array_equal(w.get_value(), np.full(2, 2.0))


# -- huge allocations fail at once with a MemoryError naming the node ------------------------

@pytest.mark.parametrize("optimize", [False, True])
def test_huge_allocation_names_the_node(optimize):
    n = sg.scalar("n", dtype="int64")
    big = sg.zeros((n, n)) + 1.0  # 10**7 x 10**7 float64 = 800 TB: NumPy refuses at once
    f = sg.function([n], big, backend="python", optimize=optimize)
    with pytest.raises(MemoryError, match=r"out of memory computing a float64\[\?,\?\].*"
                                          r"test_faults.py:\d+"):
        f(10**7)
    assert f(2).shape == (2, 2)


def test_huge_static_allocation_is_not_folded_at_compile_time():
    big = sg.zeros((10**7, 10**7))
    f = sg.function([], big, backend="python")  # the optimizer must not try to fold it
    with pytest.raises(MemoryError, match=r"float64\[10000000,10000000\]"):
        f()


# -- recursion-safe traversal: a 10,000-node chain --------------------------------------------

def test_deep_chain_through_grad_unoptimized():
    x = sg.scalar("x", dtype="float64")
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    f = sg.function([x], [y, sg.grad(y, x)], backend="python", optimize=False)
    value, slope = f(2.0)
    np.testing.assert_allclose([value, slope], [2 * 1.0001 ** 10_000, 1.0001 ** 10_000],
                               rtol=1e-9)


def test_deep_chain_through_grad_and_optimizer():
    # deeper than Python's recursion limit; every link of the gradient's seed is rewritten
    x = sg.scalar("x", dtype="float64")
    y = x
    for _ in range(2_000):
        y = sg.sin(y)
    value, slope = sg.function([x], [y, sg.grad(y, x)], backend="python")(0.5)
    xs, d = 0.5, 1.0
    for _ in range(2_000):
        d *= np.cos(xs)
        xs = np.sin(xs)
    np.testing.assert_allclose([value, slope], [xs, d], rtol=1e-9)


def test_deep_chain_eager_backward():
    x = sg.eager.tensor(np.float64(0.25), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.backward()
    assert y.numpy() == 10_000.25 and x.grad.numpy() == 1.0


def test_deep_chain_numba():
    x = sg.scalar("x", dtype="float64")
    y = x
    for _ in range(10_000):
        y = y + 1.0
    assert sg.function([x], y, backend="numba")(0.0) == 10_000.0


# -- thread safety ---------------------------------------------------------------------------

def _in_threads(fn, n=8):
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def work(k):
        try:
            barrier.wait()
            results[k] = fn(k)
        except BaseException as error:  # report it in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_function_from_eight_threads(backend):
    x = sg.matrix("x", dtype="float64")
    f = sg.function([x], [sg.sum(sg.exp(x) * 2, axis=1), x + 1], backend=backend)
    data = [np.random.default_rng(k).standard_normal((64, 33)) for k in range(8)]
    results = _in_threads(lambda k: [f(data[k]) for _ in range(20)][-1])
    for k, (total, plus) in enumerate(results):
        np.testing.assert_allclose(total, (np.exp(data[k]) * 2).sum(1), rtol=1e-12)
        np.testing.assert_array_equal(plus, data[k] + 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_updates_are_serialized(backend):
    count = sg.shared(np.zeros(3), name="count")
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.sum(count), updates=[(count, count + x)], backend=backend)
    seen = _in_threads(lambda k: [float(f(np.ones(3))) for _ in range(25)])
    np.testing.assert_array_equal(count.get_value(), np.full(3, 200.0))
    # each call saw the state the previous one left: every total 0, 3, …, 597 exactly once
    assert sorted(v for per_thread in seen for v in per_thread) == [3.0 * i for i in range(200)]


# -- the numba disk cache: full disk, hostile entries, concurrent compiles ----------------------

@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    from backends.numba_cpu import cache

    monkeypatch.setattr(sg.config, "cache_dir", str(tmp_path))
    monkeypatch.setattr(cache, "_warned", False)
    return tmp_path


def test_full_disk_compiles_in_memory(fresh_cache, monkeypatch):
    import errno

    from backends.numba_cpu import cache
    from symgraph import diskcache

    def no_space(path, data, replace, mode=0o666):  # the key file too: nothing can be written
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(cache, "write_atomically", no_space)
    monkeypatch.setattr(diskcache, "write_atomically", no_space)
    x = sg.vector("x", dtype="float64")
    with pytest.warns(UserWarning, match="No space left"):
        f = sg.function([x], x * 7 + 0.25, backend="numba")
    assert f.runner.path is None
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.25, 7.25, 14.25])


HOSTILE_SCRIPT = """
import numpy as np, symgraph as sg
x = sg.vector("x", dtype="float64")
f = sg.function([x], sg.exp(x) * 3 - x, backend="numba")
assert np.allclose(f(np.arange(4.0)), np.exp(np.arange(4.0)) * 3 - np.arange(4.0))
print(f.runner.path, f.runner.cache_entry)
"""


def _run_script(script, cache_dir):
    """The words `script` prints, run in a new process with this cache directory."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(cache_dir), PYTHONPATH=root)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def _in_process(cache_dir):
    return _run_script(HOSTILE_SCRIPT, cache_dir)


def test_foreign_entry_with_a_valid_checksum_is_replaced_not_run(tmp_path):
    from backends.numba_cpu import cache

    path, status = _in_process(tmp_path)
    assert status in ("created", "valid")
    marker = tmp_path / "executed"
    evil = f"open({str(marker)!r}, 'w').write('pwned')\n"
    with open(path, "w") as handle:
        handle.write(cache.entry_text(evil))  # intact by its own checksum, but not ours
    assert cache.is_valid(cache.entry_text(evil))
    path_again, status = _in_process(tmp_path)
    assert (path_again, status) == (path, "repaired")
    assert not marker.exists()


def test_eight_threads_compile_one_new_graph_at_once(fresh_cache):
    x = sg.vector("x", dtype="float64")
    out = sg.tanh(x) * 5 + sg.sum(x)
    data = np.linspace(-1, 1, 7)
    results = _in_threads(lambda k: sg.function([x], out, backend="numba")(data))
    for got in results:
        np.testing.assert_allclose(got, np.tanh(data) * 5 + data.sum(), rtol=1e-12)
    entries = [p for p in os.listdir(fresh_cache / "numba") if p.endswith(".py")]
    assert len(entries) == 1


# -- regressions found by these tests -----------------------------------------------------------

def test_regression_string_input_is_a_dtype_error_naming_the_input():
    # was: TypeError "did not understand one of the types; 'None' not accepted" from NumPy
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], x + 1, backend="python")
    with pytest.raises(sg.DTypeError, match="input x: got str32 data, declared float64"):
        f(np.array(["a", "b"]))


def test_regression_optimizer_on_gradient_of_a_70_link_chain():
    # was: AssertionError "rewrite rules keep rewriting full_like: a loop?" — the gradient's
    # seed full_like(sin(sin(…x))) was simplified one link per nested rewrite (limit 64)
    x = sg.scalar("x", dtype="float64")
    y = x
    for _ in range(70):
        y = sg.sin(y)
    f = sg.function([x], sg.grad(y, x), backend="python")
    xs, d = 0.3, 1.0
    for _ in range(70):
        d *= np.cos(xs)
        xs = np.sin(xs)
    np.testing.assert_allclose(f(0.3), d, rtol=1e-12)


def test_cache_dir_writable_by_others_is_not_trusted(tmp_path, monkeypatch):
    """numba unpickles its cache index, so a cache folder others can write is refused and
    the function compiles in memory (with one warning) instead of loading from it."""
    import os
    import warnings

    import numpy as np

    import symgraph as sg
    from backends.numba_cpu import cache

    shared_dir = tmp_path / "shared-cache"
    (shared_dir / "numba").mkdir(parents=True)
    os.chmod(shared_dir / "numba", 0o777)
    monkeypatch.setattr(sg.config, "cache_dir", str(shared_dir))
    monkeypatch.setattr(cache, "_warned", False)
    x = sg.vector("x", dtype="float64")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = sg.function([x], sg.exp(x) + 41.5, backend="numba")
    assert f.runner.path is None and f.runner.cache_entry == "memory"
    assert any("not trusted" in str(w.message) for w in caught)
    np.testing.assert_allclose(f(np.zeros(2)), [42.5, 42.5])


# -- numba's own cache files are sealed (docs/reliability.md, finding 8) ------------------------

SEALED_SCRIPT = """
import numpy as np, symgraph as sg
x = sg.vector("x", dtype="float64")
f = sg.function([x], sg.exp(x) * 5 - x, backend="numba")
assert np.allclose(f(np.arange(4.0)), np.exp(np.arange(4.0)) * 5 - np.arange(4.0))
print(f.runner.cache_hit)
"""


class Planted:
    """A pickle that creates `marker` when unpickled (as a hostile cache file would run code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _sealed_run(cache_dir):
    return _run_script(SEALED_SCRIPT, cache_dir)[-1] == "True"


def test_regression_tampered_numba_cache_files_are_deleted_not_unpickled(tmp_path):
    # was: a pickle written over {cache_dir}/numba/__pycache__/*.nbi ran when numba loaded it
    import pickle

    assert not _sealed_run(tmp_path)  # compiled, and numba's files sealed
    assert _sealed_run(tmp_path)      # sealed files load: the cache still works
    pycache = tmp_path / "numba" / "__pycache__"
    (data,) = pycache.glob("*.entry-*.nbc")
    (index,) = pycache.glob("*.entry-*.nbi")
    # a data file without a seal of ours (the index is intact)
    data.write_bytes(pickle.dumps(Planted(str(tmp_path / "ran-nbc"))))
    (pycache / f"{data.name}.seal").unlink(missing_ok=True)
    hit = _sealed_run(tmp_path)
    assert not (tmp_path / "ran-nbc").exists()
    assert not hit  # deleted and recompiled, with the right values
    # an index with a seal made with another key
    index.write_bytes(pickle.dumps(Planted(str(tmp_path / "ran-nbi"))))
    forged = hmac.new(b"k" * 32, index.name.encode() + b"\0" + index.read_bytes(), "sha256")
    (pycache / f"{index.name}.seal").write_text(forged.hexdigest())
    hit = _sealed_run(tmp_path)
    assert not (tmp_path / "ran-nbi").exists()
    assert not hit
    assert _sealed_run(tmp_path)  # resealed after the recompile
    assert (pycache / f"{index.name}.seal").exists() and (pycache / f"{data.name}.seal").exists()
    # a directory in the index's place (was: IsADirectoryError in every later process)
    index.unlink()
    index.mkdir()
    assert not _sealed_run(tmp_path)
    assert index.is_file() and _sealed_run(tmp_path)


def test_cache_key_is_private_and_a_readable_one_is_not_trusted(fresh_cache):
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], x * 3 + 0.125, backend="numba")
    key = fresh_cache / "numba-cache.key"
    assert f.runner.path is not None and oct(key.stat().st_mode & 0o777) == oct(0o600)
    assert len(key.read_bytes()) == 32
    os.chmod(key, 0o644)
    with pytest.warns(UserWarning, match="numba-cache.key is owned by another user or readable"):
        g = sg.function([x], x * 3 + 0.375, backend="numba")
    assert g.runner.path is None
    np.testing.assert_array_equal(g(np.arange(2.0)), [0.375, 3.375])


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_big_endian_inputs_are_read_as_their_values(backend):
    """'>f4' data (a file written on another machine) is float32: numba compiles only
    native byte order, so the input check converts it instead of leaking its TypingError."""
    x = sg.vector("x", dtype="float32")
    f = sg.function([x], x * 2, backend=backend)
    got = f(np.arange(3, dtype=">f4"))
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, [0.0, 2.0, 4.0])


def test_settings_are_checked_where_they_are_set(monkeypatch):
    """A bad setting is an error naming it and what it may be, at the assignment (or at
    import, from its environment variable), not a TypeError deep inside a later call."""
    for name, value in [("debug", "yes"), ("debug", 5), ("parallel_threshold", "abc"),
                        ("parallel_threshold", 2.5), ("floatX", "int8"), ("cache_dir", None)]:
        with pytest.raises(sg.SymgraphError, match=rf"sg.config.{name} \(SYMGRAPH_"):
            setattr(sg.config, name, value)
    monkeypatch.setattr(sg.config, "parallel_threshold", "1e6")  # as the environment gives it
    assert sg.config.parallel_threshold == 1_000_000
    env = dict(os.environ, SYMGRAPH_DEBUG="abc")
    proc = subprocess.run([sys.executable, "-c", "import symgraph"], env=env, text=True,
                          capture_output=True, timeout=120)
    assert "sg.config.debug (SYMGRAPH_DEBUG) is 'abc'; it must be 0, 1, 2 or 3" in proc.stderr
