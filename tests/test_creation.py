"""Creation functions against NumPy: values, dtypes, static and run-time shapes, with sizes
given as ints or as symbolic scalars."""

import numpy as np
import pytest

import symgraph as sg
from helpers import BACKENDS

CONSTANT = [  # (id, symgraph expression, NumPy value)
    ("zeros", lambda: sg.zeros((2, 3)), np.zeros((2, 3))),
    ("zeros_int", lambda: sg.zeros(4, "int32"), np.zeros(4, "int32")),
    ("zeros_0d", lambda: sg.zeros(()), np.zeros(())),
    ("zeros_empty", lambda: sg.zeros((0, 2), "bool"), np.zeros((0, 2), "bool")),
    ("ones", lambda: sg.ones([3]), np.ones([3])),
    ("ones_float32", lambda: sg.ones((2, 2), dtype="float32"), np.ones((2, 2), "float32")),
    ("ones_numpy_dtype", lambda: sg.ones(2, np.uint8), np.ones(2, np.uint8)),
    ("full_int", lambda: sg.full((2, 2), 7), np.full((2, 2), 7)),
    ("full_float", lambda: sg.full(3, 2.5), np.full(3, 2.5)),
    ("full_bool", lambda: sg.full((1, 2), True), np.full((1, 2), True)),
    ("full_dtype", lambda: sg.full((2,), 3, "float32"), np.full((2,), 3, "float32")),
    ("full_inf", lambda: sg.full((2,), -np.inf), np.full((2,), -np.inf)),
    ("full_numpy_scalar", lambda: sg.full(2, np.float32(1.5)), np.full(2, np.float32(1.5))),
    ("arange", lambda: sg.arange(5), np.arange(5)),
    ("arange_start", lambda: sg.arange(2, 7), np.arange(2, 7)),
    ("arange_step", lambda: sg.arange(1, 10, 3), np.arange(1, 10, 3)),
    ("arange_negative", lambda: sg.arange(5, -3, -2), np.arange(5, -3, -2)),
    ("arange_empty", lambda: sg.arange(3, 1), np.arange(3, 1)),
    ("arange_float", lambda: sg.arange(0, 1, 0.25), np.arange(0, 1, 0.25)),
    ("arange_float_stop", lambda: sg.arange(2.5), np.arange(2.5)),
    ("arange_dtype", lambda: sg.arange(4, dtype="float32"), np.arange(4, dtype="float32")),
    ("arange_int8", lambda: sg.arange(np.int8(4)), np.arange(np.int8(4))),
    ("eye", lambda: sg.eye(3), np.eye(3)),
    ("eye_rect", lambda: sg.eye(2, 4), np.eye(2, 4)),
    ("eye_k", lambda: sg.eye(3, k=1), np.eye(3, k=1)),
    ("eye_neg_k", lambda: sg.eye(4, 3, k=-2, dtype="int32"), np.eye(4, 3, k=-2, dtype="int32")),
    ("eye_far_k", lambda: sg.eye(2, k=5), np.eye(2, k=5)),
    ("eye_empty", lambda: sg.eye(0), np.eye(0)),
]


@pytest.mark.parametrize("name,build,expected", CONSTANT, ids=[c[0] for c in CONSTANT])
def test_creation_against_numpy(name, build, expected):
    out = build()
    assert out.dtype == expected.dtype.name
    assert out.type.shape == expected.shape  # every size here is known at build time
    for backend in BACKENDS:
        got = sg.function([], out, backend=backend)()
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_symbolic_sizes():
    x = sg.tensor("x", "float32", shape=(None, 3))
    n, k = sg.scalar("n", "int64"), sg.scalar("k", "int32")
    outs = [sg.zeros((x.shape[0], 2)), sg.ones(x.shape), sg.full((n, x.shape[1]), 4, "int16"),
            sg.arange(n), sg.arange(k, 10, 2), sg.arange(0.5, n), sg.eye(n, x.shape[0], k=1),
            sg.zeros(n, "bool")]
    assert outs[0].type.shape == (None, 2) and outs[1].type.shape == (None, 3)
    assert outs[2].type.shape == (None, 3) and outs[3].type.shape == (None,)
    assert [o.dtype for o in outs[3:6]] == ["int64", "int64", "float64"]
    got = sg.function([x, n, k], outs)(np.zeros((4, 3), "float32"), 3, 5)
    want = [np.zeros((4, 2)), np.ones((4, 3)), np.full((3, 3), 4, "int16"), np.arange(3),
            np.arange(np.int32(5), 10, 2), np.arange(0.5, 3), np.eye(3, 4, k=1),
            np.zeros(3, bool)]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_arange_with_run_time_integer_bounds(backend):
    # numba: NumPy's length in integer arithmetic and a loop, not numba's np.arange
    a, b, s = sg.scalar("a", "int64"), sg.scalar("b", "int64"), sg.scalar("s", "int32")
    f = sg.function([a, b, s], [sg.arange(a, b, s), sg.arange(a, b, s, dtype="int16")],
                    backend=backend)
    for args in [(0, 5, 1), (2, 7, 1), (1, 10, 3), (5, -3, -2), (3, 1, 1), (-4, 4, 3),
                 (0, 0, 1), (7, 0, -7), (0, 7, 7), (0, 8, 7), (-9, -1, 4), (1, 2, -1)]:
        got = f(*args)
        for g, w in zip(got, [np.arange(*args), np.arange(*args, dtype="int16")]):
            assert g.dtype == w.dtype and g.shape == w.shape, (args, g, w)
            np.testing.assert_array_equal(g, w)
    with pytest.raises(sg.ShapeError, match="step must not be zero"):
        f(0, 1, 0)


def test_full_with_a_symbolic_value(rng):
    v = sg.scalar("v", "float32")
    out = sg.full((2, 3), v)
    assert out.dtype == "float32" and out.type.shape == (2, 3)
    np.testing.assert_array_equal(sg.function([v], out)(1.5), np.full((2, 3), 1.5, "float32"))
    g = sg.function([v], sg.grad(sg.sum(sg.full((2, 3), v)), v))(1.0)
    assert g == 6.0


def test_like_functions(rng):
    x = rng.standard_normal((2, 0, 3))[:, :, ::-1]
    for fn, ref in [(sg.zeros_like, np.zeros_like), (sg.ones_like, np.ones_like)]:
        a = sg.tensor("a", "float64", shape=(None, None, None))
        got = sg.function([a], fn(a))(x)
        assert got.shape == x.shape and got.dtype == x.dtype
    a = sg.matrix("a", "int32")
    got = sg.function([a], [sg.full_like(a, 7), sg.zeros_like(a, "float32")])(
        np.ones((2, 2), "int32"))
    np.testing.assert_array_equal(got[0], np.full((2, 2), 7, "int32"))
    assert got[1].dtype == np.float32


def test_creation_errors():
    with pytest.raises(sg.ShapeError, match="zeros: negative.*test_creation.py"):
        sg.zeros((2, -1))
    with pytest.raises(sg.DTypeError, match="zeros: shape entries must be ints"):
        sg.zeros((2.0, 3))
    with pytest.raises(sg.DTypeError):
        sg.zeros(sg.scalar("f", "float32"))
    with pytest.raises(sg.ShapeError, match="arange: step must not be zero"):
        sg.arange(0, 5, 0)
    with pytest.raises(sg.ShapeError, match="eye: negative"):
        sg.eye(-1)
    with pytest.raises(sg.DTypeError):
        sg.arange(True)
    with pytest.raises(sg.DTypeError):
        sg.eye(sg.scalar("f", "float64"))
    n = sg.scalar("n", "int64")
    f = sg.function([n], sg.zeros((n, 2)))
    with pytest.raises(sg.ShapeError, match=r"full: negative.*\(-3, 2\).*test_creation.py"):
        f(-3)
    g = sg.function([n], sg.arange(0, 4, n))
    with pytest.raises(sg.ShapeError, match="step must not be zero"):
        g(0)
