"""sg.random: reproducible by seed, fresh per call, plausible statistics, shapes/dtypes,
symbolic sizes, and reparameterized gradients."""

import numpy as np
import pytest

import symgraph as sg
from helpers import BACKENDS
from symgraph.ops.random import StandardNormal

HAS_EAGER = hasattr(sg, "eager")  # from the eager branch, merged separately

N = 10_000


def draw(fn_of_stream, seed=0, calls=1, inputs=(), values=()):
    stream = sg.random.RandomStream(seed)
    f = sg.function(list(inputs), fn_of_stream(stream))
    return [f(*values) for _ in range(calls)]


DISTRIBUTIONS = [  # (draw, dtype, mean, std)
    (lambda s: s.normal((N,)), "float32", 0.0, 1.0),
    (lambda s: s.normal(N, loc=2.0, scale=3.0, dtype="float64"), "float64", 2.0, 3.0),
    (lambda s: s.uniform((100, 100)), "float32", 0.5, np.sqrt(1 / 12)),
    (lambda s: s.uniform(N, low=-2.0, high=4.0, dtype="float64"), "float64", 1.0, np.sqrt(3)),
    (lambda s: s.integers(0, 10, (N,)), "int64", 4.5, np.sqrt(99 / 12)),
    (lambda s: s.integers(5, size=N, dtype="int32"), "int32", 2.0, np.sqrt(2)),
    (lambda s: s.bernoulli(0.3, (N,)), "float32", 0.3, np.sqrt(0.21)),
    (lambda s: s.bernoulli(0.5, N, dtype="int8"), "int8", 0.5, 0.5),
]


@pytest.mark.parametrize("fn,dtype,mean,std", DISTRIBUTIONS)
def test_statistics_dtype_and_shape(fn, dtype, mean, std):
    (x,) = draw(fn)
    assert x.dtype == dtype and x.size == N
    assert abs(x.mean() - mean) < 4 * std / np.sqrt(N)
    assert abs(x.std() - std) < 0.03 * std


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_on_every_backend(backend):
    loc = sg.vector("loc", dtype="float64")

    def build(stream):
        z = stream.normal((N // 4, 4), loc=loc, scale=2.0, dtype="float64")
        draws = [z, stream.uniform(N, -1.0, 3.0), stream.integers(0, 10, N),
                 stream.bernoulli(0.25, N)]
        return sg.function([loc], draws + [sg.grad(sg.sum(z * z), loc)], backend=backend)

    at = np.array([0.0, 1.0, -1.0, 5.0])
    first = build(sg.random.RandomStream(21))
    z, u, k, b, g = first(at)
    assert [a.dtype for a in (z, u, k, b)] == ["float64", "float32", "int64", "float32"]
    np.testing.assert_allclose(z.mean(0), at, atol=4 * 2 / np.sqrt(N // 4))
    assert abs(u.mean() - 1.0) < 0.05 and u.min() >= -1 and u.max() < 3
    assert set(np.unique(k)) == set(range(10)) and abs(b.mean() - 0.25) < 0.02
    np.testing.assert_allclose(g, (2 * z).sum(0))
    again = build(sg.random.RandomStream(21))(at)
    for x, y in zip((z, u, k, b), again):
        np.testing.assert_array_equal(x, y)           # same seed, same numbers
    fresh = first(at)
    assert all(not np.array_equal(x, y) for x, y in zip((z, u, k, b), fresh))


def test_integers_and_uniform_ranges():
    u, k, b = draw(lambda s: [s.uniform(N, -1.0, 1.0), s.integers(3, 7, N), s.bernoulli(0.5, N)])[0]
    assert u.min() >= -1 and u.max() < 1
    assert set(np.unique(k)) == {3, 4, 5, 6}
    assert set(np.unique(b)) == {0.0, 1.0}


def test_same_seed_same_numbers_fresh_per_call():
    first = draw(lambda s: [s.normal((5,)), s.uniform((2, 3))], seed=3, calls=3)
    again = draw(lambda s: [s.normal((5,)), s.uniform((2, 3))], seed=3, calls=3)
    other = draw(lambda s: [s.normal((5,)), s.uniform((2, 3))], seed=4, calls=1)
    for a, b in zip(first, again):  # a new stream with the same seed repeats each call
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(first[0][0], first[1][0])  # each call draws fresh numbers
    assert not np.array_equal(first[1][0], first[2][0])
    assert not np.array_equal(first[0][0], other[0][0])  # another seed, other numbers


def test_two_draws_of_one_stream_differ_and_counter_advances():
    stream = sg.random.RandomStream(1)
    a, b = stream.normal((4,)), stream.normal((4,))
    f = sg.function([], [a, b])
    x, y = f()
    assert not np.array_equal(x, y)
    assert stream.counter.get_value() == 1
    g = sg.function([], a)  # another function from the same stream also advances it
    z = g()
    assert stream.counter.get_value() == 2 and not np.array_equal(z, x)


def test_matches_the_documented_philox_construction():
    stream = sg.random.RandomStream(11)
    x = stream.normal((3, 2), dtype="float64")
    out = sg.function([], x)()
    gen = np.random.Generator(np.random.Philox(key=np.array([11, 0], "uint64"),
                                               counter=np.array([0, 0, 0, 0], "uint64")))
    np.testing.assert_array_equal(out, gen.standard_normal((3, 2)))


INTEGER_BOUNDS = {"int8": (-128, 128), "int16": (-7, 40000 - 32768), "int32": (-5, 2**31 - 1),
                  "int64": (-2**62, 2**62 + 12345), "uint8": (3, 256), "uint16": (0, 65536),
                  "uint32": (0, 2**32), "uint64": (0, 2**40 + 7)}


def test_numba_draws_equal_the_reference_bit_for_bit():
    n = sg.scalar("n", dtype="int64")

    def build(stream):
        draws = [stream.normal((n, 3), dtype="float32"), stream.normal((5,), dtype="float64"),
                 stream.uniform((n,), dtype="float32"), stream.uniform((), dtype="float64"),
                 stream.normal((0, 2)), stream.bernoulli(0.3, (n,))]
        draws += [stream.integers(low, high, (n,), dtype=dtype)
                  for dtype, (low, high) in INTEGER_BOUNDS.items()]
        return draws

    results = []
    for backend in ("python", "numba"):
        f = sg.function([n], build(sg.random.RandomStream(2**64 - 3)), backend=backend)
        results.append([f(40), f(7)])
    for got, want in zip(results[1], results[0]):
        for g, w in zip(got, want):
            assert (g.dtype, g.shape) == (w.dtype, w.shape)
            np.testing.assert_array_equal(g, w)
    assert [d.dtype for d in results[1][0][6:]] == list(INTEGER_BOUNDS)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_philox_follows_numpy_through_the_ziggurat_tail(dtype):
    # 300,000 normals pass the ziggurat's rejection test (~1% of draws) and its tail (~1 in
    # 4,000 draws) and cross many Philox blocks; a large seed and counter fill every word.
    from backends.numba_cpu.kernels import philox

    for seed, index, call in [(11, 0, 0), (2**63 + 5, 7, 2**40)]:
        generator = np.random.Generator(np.random.Philox(
            key=np.array([seed, index], "uint64"), counter=np.array([0, call, 0, 0], "uint64")))
        want = generator.standard_normal(300_000, dtype=dtype)
        draw = getattr(philox, f"draw_normal_{dtype}")
        got = draw(np.uint64(seed), np.uint64(index), np.int64(call), 300_000)
        np.testing.assert_array_equal(got, want)


def test_integers_outside_the_dtype_fail_alike_on_numba():
    high = sg.scalar("high", dtype="int64")
    stream = sg.random.RandomStream(1)
    f = sg.function([high], stream.integers(0, high, (3,), dtype="int8"), backend="numba")
    assert f(100).dtype == np.int8
    with pytest.raises(sg.ShapeError, match="high is out of bounds for int8"):
        f(300)
    with pytest.raises(sg.SymgraphError, match="low < high"):
        f(0)


def test_symbolic_sizes():
    x = sg.matrix("x")
    n = sg.scalar("n", dtype="int64")
    stream = sg.random.RandomStream(5)
    like_x = stream.uniform(x.shape)
    rows = stream.normal((n, 3))
    assert like_x.type.shape == (None, None) and rows.type.shape == (None, 3)
    fixed = stream.normal(sg.shape(sg.tensor("t", shape=(2, 4))))
    assert fixed.type.shape == (2, 4)
    a, b = sg.function([x, n], [like_x, rows])(np.zeros((4, 5), "float32"), 7)
    assert a.shape == (4, 5) and b.shape == (7, 3) and b.dtype == np.float32
    empty = sg.function([n], stream.normal((n, 2)))(0)
    assert empty.shape == (0, 2)


def test_size_from_parameters():
    loc = sg.vector("loc", dtype="float64")
    stream = sg.random.RandomStream(2)
    out = sg.function([loc], stream.normal(loc=loc, scale=1e-6, dtype="float64"))(
        np.arange(4.0))
    assert out.shape == (4,)
    np.testing.assert_allclose(out, np.arange(4.0), atol=1e-4)
    assert sg.function([], stream.normal())().shape == ()


def test_size_errors():
    stream = sg.random.RandomStream(0)
    with pytest.raises(sg.ShapeError, match="negative size"):
        stream.normal((2, -1))
    with pytest.raises(sg.ShapeError, match="size entries must be ints"):
        stream.normal((2, 1.5))
    with pytest.raises(sg.DTypeError, match="standard_uniform: dtype must be one of float32"):
        stream.uniform(3, dtype="int32")
    with pytest.raises(sg.DTypeError, match="integers: dtype must be one of int8"):
        stream.integers(0, 5, 3, dtype="float32")
    with pytest.raises(sg.DTypeError, match="integers: low and high must be integers"):
        stream.integers(0.5, 5, 3)
    with pytest.raises(ValueError, match="seed"):
        sg.random.RandomStream(-1)
    n = sg.scalar("n", dtype="int64")
    f = sg.function([n], stream.normal((n,)))
    with pytest.raises(sg.ShapeError, match="negative"):
        f(-2)
    g = sg.function([], stream.integers(5, 5, 3))
    with pytest.raises(sg.SymgraphError, match="low < high"):
        g()


def test_reparameterized_gradients():
    loc = sg.vector("loc", dtype="float64")
    scale = sg.vector("scale", dtype="float64")
    low, high = sg.scalar("low", dtype="float64"), sg.scalar("high", dtype="float64")
    stream = sg.random.RandomStream(9)
    z = stream.normal((3, 4), loc=loc, scale=scale, dtype="float64")
    u = stream.uniform((5,), low=low, high=high, dtype="float64")
    cost = sg.sum(z * z) + sg.sum(u)
    f = sg.function([loc, scale, low, high], [z, u] + sg.grad(cost, [loc, scale, low, high]))
    lv, sv = np.array([0.5, -1.0, 2.0, 0.0]), np.array([1.0, 2.0, 0.5, 3.0])
    zv, uv, gl, gs, glow, ghigh = f(lv, sv, -1.0, 3.0)
    eps = (zv - lv) / sv                 # the standard normal draw behind z
    frac = (uv + 1.0) / 4.0              # the standard uniform draw behind u
    np.testing.assert_allclose(gl, (2 * zv).sum(0))
    np.testing.assert_allclose(gs, (2 * zv * eps).sum(0))
    np.testing.assert_allclose(glow, (1 - frac).sum())
    np.testing.assert_allclose(ghigh, frac.sum())


def test_draw_op_is_not_differentiable_and_prints_its_seed():
    stream = sg.random.RandomStream(4)
    x = stream.normal((2,))
    node = x
    while not isinstance(node.op, StandardNormal):
        node = next(i for i in node.inputs if not i.is_leaf)
    assert not node.op.differentiable and node.op.kind == "random"
    assert "seed=4" in str(node.op) and "index=0" in str(node.op)


if HAS_EAGER:
    def test_eager_draws_reproducible_fresh_and_reparameterized():
        loc = sg.eager.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
        scale = sg.eager.tensor(np.array([1.0, 2.0, 0.5]), requires_grad=True)
        draws = []
        for _ in range(2):
            stream = sg.random.RandomStream(8)
            draws.append([stream.normal((4, 3), loc, scale, dtype="float64") for _ in range(2)])
        np.testing.assert_array_equal(draws[0][0].numpy(), draws[1][0].numpy())
        assert not np.array_equal(draws[0][0].numpy(), draws[0][1].numpy())
        z = draws[0][0]
        sg.sum(z * z).backward()
        eps = (z.numpy() - loc.numpy()) / scale.numpy()
        np.testing.assert_allclose(loc.grad.numpy(), (2 * z.numpy()).sum(0))
        np.testing.assert_allclose(scale.grad.numpy(), (2 * z.numpy() * eps).sum(0))
        assert z.numpy().shape == (4, 3)
