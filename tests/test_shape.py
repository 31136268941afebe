"""Shape ops against NumPy (values, dtypes, static and run-time shapes), their gradients
against finite differences, and their errors at build and run time."""

import numpy as np
import pytest

import symgraph as sg
from helpers import check_against_numpy, check_grad, check_static

ONE = [  # (id, input shape, symgraph fn, NumPy fn)
    ("reshape", (2, 3, 4), lambda a: sg.reshape(a, (6, 4)), lambda a: a.reshape(6, 4)),
    ("reshape_minus1", (2, 3, 4), lambda a: sg.reshape(a, (-1, 2)), lambda a: a.reshape(-1, 2)),
    ("reshape_int", (2, 3), lambda a: sg.reshape(a, 6), lambda a: a.reshape(6)),
    ("reshape_to_0d", (1, 1), lambda a: sg.reshape(a, ()), lambda a: a.reshape(())),
    ("reshape_from_0d", (), lambda a: sg.reshape(a, (1, -1, 1)), lambda a: a.reshape(1, -1, 1)),
    ("reshape_empty", (0, 3), lambda a: sg.reshape(a, (3, 0, 2)), lambda a: a.reshape(3, 0, 2)),
    ("reshape_empty_m1", (0, 3), lambda a: sg.reshape(a, (-1,)), lambda a: a.reshape(-1)),
    ("method_reshape", (2, 6), lambda a: a.reshape(3, 4), lambda a: a.reshape(3, 4)),
    ("method_reshape_tuple", (2, 6), lambda a: a.reshape((4, -1)), lambda a: a.reshape(4, -1)),
    ("flatten", (2, 3, 2), lambda a: a.flatten(), lambda a: a.flatten()),
    ("sg_flatten", (3, 2), sg.flatten, lambda a: a.reshape(-1)),
    ("transpose", (2, 3, 4), sg.transpose, np.transpose),
    ("T", (2, 3), lambda a: a.T, lambda a: a.T),
    ("T_1d", (3,), lambda a: a.T, lambda a: a.T),
    ("T_0d", (), lambda a: a.T, lambda a: a.T),
    ("transpose_axes", (2, 3, 4), lambda a: sg.transpose(a, (1, 0, 2)),
     lambda a: a.transpose(1, 0, 2)),
    ("transpose_neg_axes", (2, 3, 4), lambda a: a.transpose(-1, 0, -2),
     lambda a: a.transpose(2, 0, 1)),
    ("transpose_tuple", (2, 3, 4), lambda a: a.transpose((2, 1, 0)),
     lambda a: a.transpose(2, 1, 0)),
    ("transpose_empty", (0, 3), sg.transpose, np.transpose),
    ("broadcast_to", (3,), lambda a: sg.broadcast_to(a, (2, 3)),
     lambda a: np.broadcast_to(a, (2, 3))),
    ("broadcast_to_ones", (1, 3), lambda a: sg.broadcast_to(a, (4, 2, 3)),
     lambda a: np.broadcast_to(a, (4, 2, 3))),
    ("broadcast_0d", (), lambda a: sg.broadcast_to(a, (2,)), lambda a: np.broadcast_to(a, (2,))),
    ("broadcast_to_empty", (1,), lambda a: sg.broadcast_to(a, (0,)),
     lambda a: np.broadcast_to(a, (0,))),
    ("expand_dims", (2, 3), lambda a: sg.expand_dims(a, -1), lambda a: np.expand_dims(a, -1)),
    ("expand_dims_many", (2, 3), lambda a: sg.expand_dims(a, (0, -1)),
     lambda a: np.expand_dims(a, (0, -1))),
    ("squeeze", (1, 3, 1), lambda a: sg.squeeze(a, -1), lambda a: np.squeeze(a, -1)),
]
IDS = [case[0] for case in ONE]


def strided(rng, shape, dtype="float64"):
    """Random values of `shape` laid out with negative, non-unit strides."""
    big = (rng.standard_normal(tuple(2 * d for d in shape)) * 5).astype(dtype)
    return np.asarray(big[tuple(slice(None, None, -2) for _ in shape)])


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "bool"])
@pytest.mark.parametrize("name,shape,fn,ref", ONE, ids=IDS)
def test_shape_ops_against_numpy(name, shape, fn, ref, dtype, layout, rng):
    if layout == "contiguous":
        x = (rng.standard_normal(shape) * 5).astype(dtype)
    else:
        x = strided(rng, shape, dtype)
        assert x.ndim == 0 or x.size == 0 or x.strides[0] < 0
    check_against_numpy(fn, ref, [x])


@pytest.mark.parametrize("name,shape,fn,ref", ONE, ids=IDS)
def test_shape_ops_static_shape(name, shape, fn, ref, rng):
    check_static(fn, ref, [rng.standard_normal(shape)])


@pytest.mark.parametrize("name,shape,fn,ref", ONE, ids=IDS)
def test_shape_ops_grad(name, shape, fn, ref, rng):
    check_grad(fn, [rng.standard_normal(shape)])


def test_squeeze_without_axis_uses_static_ones(rng):
    # Which dimensions are 1 must be known when the graph is built (it fixes the ndim).
    x = rng.standard_normal((1, 3, 1))
    check_static(sg.squeeze, np.squeeze, [x])
    check_grad(sg.squeeze, [x])
    assert sg.squeeze(sg.tensor("t", shape=(None, 1))).type.shape == (None,)


def test_non_contiguous_and_negative_stride_inputs(rng):
    x = rng.standard_normal((4, 6, 2))[::-1, ::2]  # (4, 3, 2), negative and non-unit strides
    check_against_numpy(lambda a: sg.reshape(a, (2, -1)), lambda a: a.reshape(2, -1), [x])
    check_against_numpy(lambda a: sg.transpose(a, (2, 0, 1)).flatten(),
                        lambda a: a.transpose(2, 0, 1).flatten(), [x])
    check_against_numpy(lambda a: sg.concatenate([a, a[::-1]], -1),
                        lambda a: np.concatenate([a, a[::-1]], -1), [x])
    check_grad(lambda a: sg.reshape(sg.transpose(a), (6, 4)), [x])


def test_reshape_with_symbolic_sizes(rng):
    x = sg.tensor("x", "float64", shape=(None, 3, 4))
    y = sg.reshape(x, (x.shape[0], -1))
    assert y.type.shape == (None, None)
    z = sg.reshape(x, (-1, x.shape[2]))
    value = rng.standard_normal((2, 3, 4))
    got = sg.function([x], [y, z])(value)
    np.testing.assert_array_equal(got[0], value.reshape(2, -1))
    np.testing.assert_array_equal(got[1], value.reshape(-1, 4))
    check_grad(lambda a: sg.reshape(a, (a.shape[0] * 2, -1)), [value])
    # sizes known at build time flow into the static type
    s = sg.tensor("s", "float64", shape=(2, 3, 4))
    assert sg.reshape(s, (s.shape[0], -1)).type.shape == (2, 12)
    assert sg.reshape(s, (s.shape[2], s.shape[1], -1)).type.shape == (4, 3, 2)


def test_reshape_with_a_shape_vector(rng):
    x, like = sg.matrix("x", "float64"), sg.tensor("like", "float64", shape=(None, None, 2))
    out = sg.reshape(x, like.shape)
    assert out.ndim == 3 and out.type.shape == (None, None, 2)
    got = sg.function([x, like], out)(np.arange(12.0).reshape(3, 4), np.zeros((3, 2, 2)))
    np.testing.assert_array_equal(got, np.arange(12.0).reshape(3, 2, 2))
    n = sg.vector("n", "int32", shape=(2,))
    got = sg.function([x, n], sg.reshape(x, n))(np.arange(6.0).reshape(2, 3), [3, 2])
    assert got.shape == (3, 2)


def test_reshape_errors():
    x = sg.tensor("x", shape=(3, 4))
    for target, text in [((5, 2), r"\(size 10\)"), ((5, -1), "-1 cannot be inferred"),
                         ((-1, -1), "at most one -1"), ((2, -3), "at most one -1")]:
        with pytest.raises(sg.ShapeError, match=r"reshape: .*" + text + ".*test_shape.py"):
            sg.reshape(x, target)
    with pytest.raises(sg.DTypeError):
        sg.reshape(x, (2.0, 6))
    with pytest.raises(sg.ShapeError, match="unknown length"):
        sg.reshape(x, sg.vector("v", "int64"))
    y = sg.matrix("y")
    f = sg.function([y], sg.reshape(y, (5, -1)))
    with pytest.raises(sg.ShapeError, match=r"reshape: .*\(3, 4\).*\(5, -1\).*test_shape.py"):
        f(np.zeros((3, 4), "float32"))


def test_transpose_errors():
    x = sg.tensor("x", shape=(3, 4))
    with pytest.raises(sg.ShapeError, match="repeat"):
        sg.transpose(x, (1, 1))
    with pytest.raises(sg.ShapeError, match="do not match"):
        sg.transpose(x, (1, 0, 2))
    with pytest.raises(sg.ShapeError, match="out of range"):
        sg.transpose(x, (2, 0))


def test_broadcast_to_symbolic_and_errors(rng):
    x, n = sg.vector("x", "float64"), sg.scalar("n", "int64")
    out = sg.broadcast_to(x, (n, x.shape[0]))
    got = sg.function([x, n], out)(np.arange(3.0), 2)
    np.testing.assert_array_equal(got, np.broadcast_to(np.arange(3.0), (2, 3)))
    with pytest.raises(sg.ShapeError, match="broadcast_to.*test_shape.py"):
        sg.broadcast_to(sg.tensor("s", shape=(3,)), (2, 4))
    with pytest.raises(sg.ShapeError, match="broadcast_to"):
        sg.broadcast_to(sg.tensor("s", shape=(2, 3)), (3,))
    f = sg.function([x], sg.broadcast_to(x, (2, 4)))
    with pytest.raises(sg.ShapeError, match=r"broadcast_to: .*\(3,\).*\(2, 4\).*test_shape"):
        f(np.zeros(3))
    # a dimension unknown at build time that turns out to be 1 is summed in the gradient
    check_grad(lambda a: sg.broadcast_to(a, (4, 3)), [rng.standard_normal((1, 3))])
    check_grad(lambda a: sg.broadcast_to(a, (2, 3, 1)), [rng.standard_normal((1, 1))])


JOIN = [  # (id, input shapes, symgraph fn, NumPy fn)
    ("concat0", [(2, 3), (1, 3)], lambda *a: sg.concatenate(a), lambda *a: np.concatenate(a)),
    ("concat_neg", [(2, 3), (2, 1), (2, 2)], lambda *a: sg.concatenate(a, -1),
     lambda *a: np.concatenate(a, -1)),
    ("concat_empty", [(0, 3), (2, 3)], lambda *a: sg.concatenate(a, 0),
     lambda *a: np.concatenate(a, 0)),
    ("concat_none", [(2, 2), (3,)], lambda *a: sg.concatenate(a, None),
     lambda *a: np.concatenate(a, None)),
    ("concat_one", [(3,)], lambda *a: sg.concatenate(a), lambda *a: np.concatenate(a)),
    ("stack0", [(2, 3), (2, 3)], lambda *a: sg.stack(a), lambda *a: np.stack(a)),
    ("stack_neg", [(2, 3), (2, 3), (2, 3)], lambda *a: sg.stack(a, -1),
     lambda *a: np.stack(a, -1)),
    ("stack_mid", [(2, 3), (2, 3)], lambda *a: sg.stack(a, 1), lambda *a: np.stack(a, 1)),
    ("stack_0d", [(), ()], lambda *a: sg.stack(a), lambda *a: np.stack(a)),
]
JOIN_IDS = [case[0] for case in JOIN]


@pytest.mark.parametrize("name,shapes,fn,ref", JOIN, ids=JOIN_IDS)
def test_join_against_numpy(name, shapes, fn, ref, rng):
    values = [strided(rng, s) for s in shapes]
    check_against_numpy(fn, ref, values)
    check_against_numpy(fn, ref, [(v * 3).astype("int16") for v in values])
    check_static(fn, ref, values)
    check_grad(fn, values)


def test_concatenate_promotes_dtypes():
    check_against_numpy(lambda a, b: sg.concatenate([a, b]), lambda a, b: np.concatenate([a, b]),
                        [np.arange(3, dtype="int32"), np.ones(2, "float32")])
    check_against_numpy(lambda a, b: sg.stack([a, b]), lambda a, b: np.stack([a, b]),
                        [np.arange(3, dtype="uint8"), np.arange(3, dtype="int8")])


def test_concatenate_gradient_with_unknown_sizes(rng):
    a, b = sg.matrix("a", "float64"), sg.matrix("b", "float64")
    cost = sg.sum(sg.concatenate([a, b * 2.0], 0) * np.arange(5.0)[:, None])
    ga, gb = sg.function([a, b], sg.grad(cost, [a, b]))(np.ones((2, 3)), np.ones((3, 3)))
    np.testing.assert_array_equal(ga, np.broadcast_to(np.arange(2.0)[:, None], (2, 3)))
    np.testing.assert_array_equal(gb, np.broadcast_to(2 * np.arange(2.0, 5.0)[:, None], (3, 3)))


def test_join_errors():
    x, y = sg.tensor("x", shape=(2, 3)), sg.tensor("y", shape=(2, 4))
    with pytest.raises(sg.ShapeError, match="concatenate: dimension 1 differs.*test_shape"):
        sg.concatenate([x, y], 0)
    with pytest.raises(sg.ShapeError, match="out of range"):
        sg.concatenate([x, x], 2)
    with pytest.raises(sg.ShapeError, match="zero-dimensional"):
        sg.concatenate([sg.scalar("s"), sg.scalar("t")])
    with pytest.raises(sg.ShapeError, match="same ndim"):
        sg.concatenate([x, sg.vector("v")])
    with pytest.raises(sg.ShapeError):
        sg.stack([x, y])
    with pytest.raises(sg.ShapeError, match="stack: all arrays"):
        sg.stack([x, sg.vector("v")])
    a, b = sg.matrix("a"), sg.matrix("b")
    f = sg.function([a, b], sg.concatenate([a, b], 1))
    with pytest.raises(sg.ShapeError, match=r"concatenate: .*\(2, 3\), \(3, 3\).*test_shape"):
        f(np.zeros((2, 3), "float32"), np.zeros((3, 3), "float32"))


def test_list_of_variables_becomes_a_stack():
    from symgraph.api import as_variable

    x = sg.scalar("x", "float64")
    v = as_variable([x, 2.0, x * 3])
    np.testing.assert_array_equal(sg.function([x], v)(1.5), [1.5, 2.0, 4.5])


def test_shape_of_variable():
    x = sg.tensor("x", "float32", shape=(None, 2, 0))
    check = sg.function([x], [x.shape, sg.shape(x)[1:]])
    got = check(np.zeros((5, 2, 0), "float32"))
    assert got[0].dtype == np.int64 and got[0].tolist() == [5, 2, 0]
    assert got[1].tolist() == [2, 0]
    assert x.shape.type == sg.shape(x).type and x.shape.type.shape == (3,)
