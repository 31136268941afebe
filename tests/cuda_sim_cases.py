"""The cuda backend on the simulator: kernels the op tables do not reach (fused kinds, every
reducer, matmul), memory (pool reuse, shared variables on the device), errors, and an MLP
training step against the python backend.

Not collected by default (its name has no test_ prefix): tests/test_cuda.py runs it in a
subprocess with NUMBA_ENABLE_CUDASIM=1, because the simulator is chosen at import time.
"""

from dataclasses import dataclass
from typing import ClassVar

import sys
import time

import numpy as np
import pytest

import symgraph as sg
from backends.numba_cuda import codegen, device
from symgraph.apply import apply
from symgraph.ops.base import Op, TupleGet
from symgraph.ops.binary import Multiply, Subtract
from symgraph.ops.fused import Fused, FusedReduce
from symgraph.ops.logic import FullLike
from symgraph.ops.reduce import Reduce, Sum
from symgraph.ops.unary import Exp
from symgraph.types import TensorType

# The simulator runs a CUDA thread per Python thread; its barriers wait for thread switches.
sys.setswitchinterval(5e-5)


def both(inputs, outputs, values, **tol):
    """Run on cuda and python; values, dtypes and shapes must agree."""
    got = sg.function(inputs, outputs, backend="cuda")(*values)
    want = sg.function(inputs, outputs, backend="python")(*values)
    for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, list)
                    else [want]):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g, w, equal_nan=True, **(tol or dict(rtol=2e-6)))


@dataclass(frozen=True)
class Max(Reduce):
    def reference(self, x):
        return np.asarray(np.max(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class Min(Reduce):
    def reference(self, x):
        return np.asarray(np.min(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class Prod(Reduce):
    def out_dtype(self, dtype):
        return np.prod(np.ones(1, dtype)).dtype.name

    def reference(self, x):
        return np.asarray(np.prod(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class All(Reduce):
    def out_dtype(self, dtype):
        return "bool"

    def reference(self, x):
        return np.asarray(np.all(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class Any(Reduce):
    def out_dtype(self, dtype):
        return "bool"

    def reference(self, x):
        return np.asarray(np.any(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class MatMul(Op):
    """A stand-in with the matmul kind's interface (the real op lands with branch ops-a)."""
    transpose_a: bool = False
    transpose_b: bool = False
    kind: ClassVar[str] = "matmul"

    def infer(self, a, b):
        shape = self.reference(np.zeros([d or 1 for d in a.shape], a.dtype),
                               np.zeros([d or 1 for d in b.shape], b.dtype)).shape
        return TensorType(np.result_type(a.dtype, b.dtype).name, (None,) * len(shape))

    def reference(self, a, b):
        a = np.swapaxes(a, -1, -2) if self.transpose_a else a
        b = np.swapaxes(b, -1, -2) if self.transpose_b else b
        return np.asarray(np.matmul(a, b))


REDUCERS = [Sum, Max, Min, Prod, All, Any]
AXES = [(), (0,), (1,), (2,), (0, 2), (0, 1, 2)]


@pytest.mark.parametrize("reducer", REDUCERS, ids=[r.__name__ for r in REDUCERS])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_every_reducer_over_any_axes(reducer, axis, keepdims, rng):
    x = rng.uniform(0.5, 1.5, (3, 4, 5)).astype("float32")[::-1, :, ::2]  # negative strides
    t = sg.tensor("x", dtype="float32", shape=(None,) * 3)
    both([t], apply(reducer(axis, keepdims), t), [x], rtol=3e-6)


def test_reductions_larger_than_one_launch(rng):
    x = rng.standard_normal((9, 300))  # more rows than blocks, more columns than threads
    t = sg.tensor("x", dtype="float64", shape=(None, None))
    both([t], [apply(Sum((1,)), t), apply(Max((0,)), t), apply(Sum((0, 1)), t)], [x],
         rtol=1e-12)


def test_reduction_dtypes_nan_and_empty():
    i = sg.tensor("i", dtype="int32", shape=(None,))
    both([i], apply(Sum((0,)), i), [np.arange(-5, 70, dtype="int32")])
    b = sg.tensor("b", dtype="bool", shape=(None,))
    both([b], [apply(Sum((0,)), b), apply(Any((0,)), b), apply(All((0,)), b)],
         [np.array([True, False, True])])
    x = sg.tensor("x", dtype="float32", shape=(None,))
    both([x], [apply(Max((0,)), x), apply(Min((0,)), x)],
         [np.array([1, np.nan, -np.inf], "float32")])
    both([x], apply(Sum((0,)), x), [np.zeros(0, "float32")])
    with pytest.raises(sg.ShapeError, match="empty"):
        sg.function([x], apply(Max((0,)), x), backend="cuda")(np.zeros(0, "float32"))


def test_fused_outputs_of_different_shapes(rng):
    x = sg.tensor("x", dtype="float32", shape=(None, None))
    y = sg.tensor("y", dtype="float32", shape=(None,))
    op = Fused(((Exp(), (0,)), (Multiply(), (1, 1)), (Subtract(), (2, 3))), (3, 4, 2))
    node = apply(op, x, y)
    outs = [apply(TupleGet(k), node) for k in range(3)]
    xv = rng.standard_normal((3, 4)).astype("float32")
    both([x, y], outs, [xv, rng.standard_normal(4).astype("float32")])


def test_fused_reduce_is_one_kernel(rng):
    x = sg.tensor("x", dtype="float32", shape=(None, None))
    m = sg.tensor("m", dtype="float32", shape=(None, 1))
    op = FusedReduce(((Subtract(), (0, 1)), (Exp(), (2,))), (3,), reduce=Sum((1,), True))
    xv = rng.standard_normal((6, 70)).astype("float32")
    both([x, m], apply(op, x, m), [xv, xv.max(axis=1, keepdims=True)], rtol=1e-5)


def test_typed_literals_in_generated_source():
    text, _ = codegen.source("elemwise", program=((FullLike(0.5, "float32"), (0,)),),
                             outputs=(1,), in_dtypes=("float32",), modes=("flat",), ndim=1)
    assert "np.float32(0.5)" in text and " 0.5" not in text


@pytest.mark.parametrize("shapes,flags", [
    (((3, 4), (4, 5)), (False, False)), (((2, 3, 4), (4, 5)), (False, False)),
    (((4,), (4, 5)), (False, False)), (((3, 4), (4,)), (False, False)),
    (((2, 1, 4, 3), (3, 4, 5)), (True, False)), (((3, 9), (5, 9)), (False, True)),
    (((0, 4), (4, 2)), (False, False)), (((3, 0), (0, 2)), (False, False)),
])
def test_tiled_matmul(shapes, flags, rng):
    a = rng.standard_normal(shapes[0])
    b = rng.standard_normal(shapes[1])
    ta = sg.tensor("a", dtype="float64", shape=(None,) * a.ndim)
    tb = sg.tensor("b", dtype="float64", shape=(None,) * b.ndim)
    both([ta, tb], apply(MatMul(*flags), ta, tb), [a, b], rtol=1e-12)
    ia = sg.tensor("ia", dtype="int32", shape=(None,) * a.ndim)
    both([ia, tb], apply(MatMul(*flags), ia, tb), [(a * 5).astype("int32"), b], rtol=1e-12)


def test_kernels_do_not_race_on_the_simulators_shared_arrays(monkeypatch, rng):
    """The simulator hands out a static shared array with an unlocked check-then-store, so
    two simulated threads may each get a private one: the cause of issue #6's wrong RNN
    gradient and flaky matmul elements. Widen that window: our kernels, which use dynamic
    shared memory only, must still be right."""
    from numba.cuda.simulator import kernelapi

    class Slow(dict):
        def get(self, key, default=None):
            found = super().get(key, default)
            if found is None:
                time.sleep(0.002)  # the other threads look now, and miss too
            return found

    original = kernelapi.FakeCUDAShared.__init__

    def slow_init(self, size):
        original(self, size)
        self._allocations = Slow()

    monkeypatch.setattr(kernelapi.FakeCUDAShared, "__init__", slow_init)
    a = rng.standard_normal((2, 3, 9))
    b = rng.standard_normal((9, 4))
    ta = sg.tensor("a", dtype="float64", shape=(None,) * 3)
    tb = sg.tensor("b", dtype="float64", shape=(None,) * 2)
    both([ta, tb], [apply(MatMul(), ta, tb), apply(Sum((2,)), ta), apply(Max((0, 1)), ta)],
         [a, b], rtol=1e-12)


def test_pool_reuses_buffers_across_calls(rng):
    x = sg.tensor("x", dtype="float32", shape=(None, None))
    f = sg.function([x], sg.sum(sg.exp(x) * 2 + x, axis=0) * 3, backend="cuda")
    xv = rng.standard_normal((4, 5)).astype("float32")
    first = f(xv)
    np.testing.assert_allclose(f(xv), first)  # the pool now also covers a second output
    before = dict(device.STATS)
    for _ in range(3):
        np.testing.assert_allclose(f(xv), first)
    assert device.STATS["allocations"] == before["allocations"]
    assert device.STATS["reuses"] >= before["reuses"] + 3 * 3  # input, sum, output


def _poison(monkeypatch):
    """Fill every buffer the pool takes back with NaN: a read after release shows."""
    give = device.Pool.give

    def poisoned(self, buffer):
        host = buffer.array.copy_to_host()
        host[...] = np.nan if host.dtype.kind == "f" else 77
        buffer.array.copy_to_device(host)
        give(self, buffer)

    monkeypatch.setattr(device.Pool, "give", poisoned)


def test_a_buffer_read_through_a_view_is_not_reused(rng, monkeypatch):
    # exp(x) is read only through a reversed view; cumsum(x) and the product need buffers of
    # the same size while that view is live: they must not get exp(x)'s.
    _poison(monkeypatch)
    x = sg.tensor("x", dtype="float64", shape=(None, None))
    a = sg.exp(x)[::-1, ::-1]
    b = sg.cumsum(x * 2, axis=0)
    f = sg.function([x], [a * b, sg.cumsum(a, axis=1).T], backend="cuda")
    for _ in range(3):
        xv = rng.standard_normal((4, 5))
        ev = np.exp(xv)[::-1, ::-1]
        got = f(xv)
        np.testing.assert_allclose(got[0], ev * np.cumsum(xv * 2, axis=0), rtol=1e-12)
        np.testing.assert_allclose(got[1], np.cumsum(ev, axis=1).T, rtol=1e-12)


def test_shared_variables_stay_on_the_device(monkeypatch):
    _poison(monkeypatch)
    w = sg.shared(np.ones(3, "float32"), name="w")
    x = sg.tensor("x", dtype="float32", shape=(None,))
    f = sg.function([x], sg.sum(w * x), updates=[(w, w + x)], backend="cuda")
    start = dict(device.STATS)

    def moved(kind):
        return device.STATS[kind] - start.get(kind, 0)

    ones = np.ones(3, "float32")
    assert f(ones) == 3
    assert f(ones) == 6
    assert f(ones) == 9
    assert moved("uploads") == 3 + 1  # x each call, w once
    assert moved("downloads") == 3  # the outputs only: w stays on the device
    assert isinstance(w.container.peek(), device.CudaValue)
    np.testing.assert_array_equal(w.get_value(), [4, 4, 4])  # downloads now, once
    np.testing.assert_array_equal(w.get_value(), [4, 4, 4])
    assert moved("downloads") == 4
    assert f(ones) == 12  # the fetched value is adopted, not uploaded again
    assert moved("uploads") == 4 + 1
    w.set_value(np.zeros(3, "float32"))  # a host set_value must be noticed
    assert f(ones) == 0
    assert moved("uploads") == 5 + 2
    g = sg.function([x], sg.sum(w * x), backend="python")  # other backends read the host
    assert g(ones) == 3
    np.testing.assert_array_equal(w.get_value(), [1, 1, 1])


def test_device_values_die_back_into_the_pool(rng, monkeypatch):
    _poison(monkeypatch)
    w = sg.shared(np.zeros((2, 3)), name="w")
    v = sg.shared(np.zeros((3, 2)), name="v")
    x = sg.tensor("x", dtype="float64", shape=(None, None))
    y = w * 2 + x
    f = sg.function([x], [y, sg.sum(y)], updates=[(w, y), (v, y.T)], backend="cuda")
    g = sg.function([x], [w + x, v.T * 1], backend="cuda")
    want_w = np.zeros((2, 3))
    for k in range(6):
        xv = rng.standard_normal((2, 3))
        out, total = f(xv)
        want_w = want_w * 2 + xv
        np.testing.assert_allclose(out, want_w, rtol=1e-12)
        np.testing.assert_allclose(g(xv), [want_w + xv, want_w], rtol=1e-12)
        if k == 2:
            np.testing.assert_allclose(v.get_value(), want_w.T, rtol=1e-12)
            w.set_value(np.full((2, 3), 0.5))
            want_w = np.full((2, 3), 0.5)
    del out, total
    import gc

    gc.collect()
    before = device.STATS["allocations"]
    for _ in range(3):  # in the steady state every buffer comes from the pool
        f(xv)
    assert device.STATS["allocations"] == before


def test_missing_kind_is_a_lowering_error():
    @dataclass(frozen=True)
    class Mystery(Op):
        def infer(self, x):
            return x

    x = sg.tensor("x", dtype="float32", shape=(None,))
    with pytest.raises(sg.LoweringError, match="mystery: the cuda backend has no kernel"):
        sg.function([x], apply(Mystery(), x), backend="cuda")


def test_index_out_of_bounds_is_reported():
    x = sg.tensor("x", dtype="float32", shape=(None,))
    i = sg.tensor("i", dtype="int64", shape=(None,))
    f = sg.function([x, i], x[i], backend="cuda")
    np.testing.assert_array_equal(f(np.arange(4, dtype="float32"), np.array([3, -4])), [3, 0])
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.arange(4, dtype="float32"), np.array([4]))


def _mlp_step(params, x, labels, lr):
    """One SGD step of a 2-layer MLP written with broadcasting (matmul = sum of products)."""
    w1, b1, w2, b2 = params
    h = sg.maximum(sg.sum(sg.expand_dims(x, 2) * w1, axis=1) + b1, 0)
    logits = sg.sum(sg.expand_dims(h, 2) * w2, axis=1) + b2
    shifted = logits - sg.expand_dims(sg.sum(logits, axis=1), 1) / 3
    log_probs = shifted - sg.expand_dims(sg.log(sg.sum(sg.exp(shifted), axis=1)), 1)
    loss = -sg.sum(log_probs * labels) / 8
    grads = sg.grad(loss, list(params))
    return loss, [(p, p - lr * g) for p, g in zip(params, grads)]


def test_mlp_training_step_matches_python(rng):
    init = [rng.standard_normal((5, 6)) * 0.5, np.zeros(6), rng.standard_normal((6, 3)) * 0.5,
            np.zeros(3)]
    xv = rng.standard_normal((8, 5)).astype("float32")
    labels = np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    results = {}
    for backend in ("python", "cuda"):
        params = [sg.shared(p.astype("float32")) for p in init]
        x = sg.tensor("x", dtype="float32", shape=(None, 5))
        y = sg.tensor("y", dtype="float32", shape=(None, 3))
        loss, updates = _mlp_step(params, x, y, np.float32(0.5))
        step = sg.function([x, y], loss, updates=updates, backend=backend)
        losses = [step(xv, labels) for _ in range(3)]
        results[backend] = losses, [p.get_value() for p in params]
    (lp, pp), (lc, pc) = results["python"], results["cuda"]
    assert lc[2] < lc[0] and all(v.dtype == np.float32 for v in lc)
    np.testing.assert_allclose(lc, lp, rtol=1e-5)
    for a, b in zip(pc, pp):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)



def test_loss_and_gradient_from_one_log_softmax(rng):
    x, y = sg.matrix("x", dtype="float32"), sg.vector("y", dtype="int64")
    loss = sg.nn.cross_entropy(x, y, reduction="sum")
    outputs = [loss, sg.grad(loss, x)]
    f = sg.function([x, y], outputs, backend="cuda")
    assert f.rewrites["share_log_softmax.cross_entropy"] == 1  # neg_log_likelihood
    logits = (rng.standard_normal((5, 4)) * 10).astype("float32")
    for rows in (5, 1):  # one row of logits broadcasts against every label
        both([x, y], outputs, [logits[:rows], rng.integers(0, 4, 5)], rtol=1e-5, atol=1e-6)
    with pytest.raises(sg.ShapeError, match=r"softmax_cross_entropy: labels must be in"):
        f(logits, np.array([0, 1, 4, 2, 3]))

def test_mlp_with_matmul_and_cross_entropy_matches_python(rng):
    init = [rng.standard_normal((6, 5)) * 0.5, np.zeros(5), rng.standard_normal((5, 3)) * 0.5,
            np.zeros(3)]
    xv = rng.standard_normal((8, 6)).astype("float32")
    labels = rng.integers(0, 3, 8)
    results = {}
    for backend in ("python", "cuda"):
        params = [sg.shared(p.astype("float32")) for p in init]
        x = sg.matrix("x", dtype="float32")
        y = sg.vector("y", dtype="int64")
        h = sg.nn.relu(x @ params[0] + params[1])
        loss = sg.mean(sg.nn.cross_entropy(h @ params[2] + params[3], y))
        grads = sg.grad(loss, params)
        step = sg.function([x, y], loss, backend=backend,
                           updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)])
        results[backend] = [step(xv, labels) for _ in range(3)], [p.get_value() for p in params]
    (lp, pp), (lc, pc) = results["python"], results["cuda"]
    assert lc[2] < lc[0] and all(v.dtype == np.float32 for v in lc)
    np.testing.assert_allclose(lc, lp, rtol=1e-5)
    for a, b in zip(pc, pp):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _draws(backend, build, calls=2, inputs=(), values=()):
    f = sg.function(list(inputs), build(sg.random.RandomStream(987654321)), backend=backend)
    return [f(*values) for _ in range(calls)]


EXACT_DRAWS = {  # NumPy's Philox stream, bit for bit (see backends/numba_cuda/random.py)
    "uniform64": lambda s: s.uniform((5, 7), dtype="float64"),
    "uniform32": lambda s: s.uniform(13, -1.0, 3.0, dtype="float32"),
    "bernoulli": lambda s: s.bernoulli(0.3, 11),
    "integers64": lambda s: s.integers(-5, 1000, 17),
    "integers32": lambda s: s.integers(0, 10, (3, 4), dtype="int32"),
    "wide_range": lambda s: s.integers(-2 ** 40, 2 ** 41, 9),
    "int16": lambda s: s.integers(-100, 300, 13, dtype="int16"),
    "uint8": lambda s: s.integers(0, 7, 13, dtype="uint8"),
    "array_bounds": lambda s: s.integers(sg.constant(np.arange(6) - 3), 50, (2, 6)),
    "empty": lambda s: s.uniform((0, 3), dtype="float32"),
}


@pytest.mark.parametrize("name", EXACT_DRAWS)
def test_random_draws_equal_the_python_backends(name):
    want = _draws("python", EXACT_DRAWS[name])
    got = _draws("cuda", EXACT_DRAWS[name])
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    assert got[0].size == 0 or not np.array_equal(got[0], got[1])  # fresh on each call


def test_random_draws_inside_scan_steps_equal_the_python_backends():
    h0 = sg.tensor("h0", dtype="float64", shape=(None,))

    def build(stream):
        step = lambda h: h * 0.5 + stream.uniform((3,), dtype="float64")  # noqa: E731
        hs, _ = sg.scan(step, outputs_info=h0, n_steps=4)
        return [hs, stream.integers(0, 100, 5)]

    values = (np.zeros(3),)
    want = _draws("python", build, inputs=[h0], values=values)
    got = _draws("cuda", build, inputs=[h0], values=values)
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_draws_are_reproducible_fresh_and_standard(dtype):
    # Box-Muller, not NumPy's ziggurat: other values than the python backend's, same law.
    build = lambda s: [s.normal(2048, dtype=dtype), s.normal((4, 3), loc=5.0, scale=0.1,  # noqa
                                                              dtype=dtype)]
    first, second = _draws("cuda", build)
    again = _draws("cuda", build, calls=1)[0]
    for a, b, c in zip(first, again, second):
        assert a.dtype == dtype and a.shape == b.shape == c.shape
        np.testing.assert_array_equal(a, b)  # same seed, same numbers
        assert not np.array_equal(a, c)  # a new call, new numbers
    z = first[0]
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.05
    assert abs(np.mean(z ** 3)) < 0.2 and abs(np.mean(z ** 4) - 3) < 0.4  # skew, kurtosis
    assert np.all(np.isfinite(z)) and abs(first[1].mean() - 5) < 0.1


def test_integer_bounds_are_checked_on_the_device():
    low = sg.tensor("low", dtype="int64", shape=(None,))
    f = sg.function([low], sg.random.RandomStream(1).integers(low, 5, 3), backend="cuda")
    assert f(np.array([0, 1, 4])).max() < 5
    with pytest.raises(sg.SymgraphError, match="need low < high"):
        f(np.array([0, 5, 1]))


class GpuArray:
    """A stand-in for a CuPy/PyTorch tensor: a device array behind the interface (the
    simulator's own arrays do not have `__cuda_array_interface__`)."""

    def __init__(self, host):
        from numba import cuda

        self.device = cuda.to_device(host)
        self.__cuda_array_interface__ = {"shape": host.shape, "typestr": host.dtype.str,
                                         "data": (0, False), "strides": None, "version": 3}


def test_device_arrays_in_give_device_arrays_out(monkeypatch, rng):
    from numba import cuda

    monkeypatch.setattr(cuda, "as_cuda_array", lambda value: value.device, raising=False)
    x = sg.tensor("x", dtype="float32", shape=(None, None))
    f = sg.function([x], [sg.exp(x) + 1, x.T, sg.sum(x, axis=1)], backend="cuda")
    xv = rng.standard_normal((3, 4)).astype("float32")
    outs = f(GpuArray(xv))
    assert all(not isinstance(o, np.ndarray) and hasattr(o, "copy_to_host") for o in outs)
    np.testing.assert_allclose(outs[0].copy_to_host(), np.exp(xv) + 1, rtol=1e-6)
    np.testing.assert_array_equal(outs[1].copy_to_host(), xv.T)
    np.testing.assert_allclose(outs[2].copy_to_host(), xv.sum(axis=1), rtol=1e-6)
    outs[0][0, 0] = 5  # outputs own their memory: a second call is unaffected
    np.testing.assert_allclose(f(GpuArray(xv))[0].copy_to_host(), np.exp(xv) + 1, rtol=1e-6)
    with pytest.raises(sg.DTypeError, match="float64 device data"):
        f(GpuArray(xv.astype("float64")))


def test_fixed_shape_shared_updates_are_checked_on_the_device():
    a = sg.shared(np.zeros(3), name="a", shape=(3,))
    n = sg.scalar("n", dtype="int64")
    f = sg.function([n], [], updates=[(a, sg.ones(n) * 2)], backend="cuda")
    f(3)
    np.testing.assert_array_equal(a.get_value(), np.full(3, 2.0))
    with pytest.raises(sg.ShapeError, match=r"update of shared a: got shape \(4,\)"):
        f(4)
    np.testing.assert_array_equal(a.get_value(), np.full(3, 2.0))
