"""Fault injection (issue #10): what survives an interrupted call, a huge allocation, a very
deep graph, concurrent callers, and a damaged or hostile compile cache."""

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
