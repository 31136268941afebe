"""Indexing (basic and advanced), set_subtensor / inc_subtensor: against NumPy, gradients
against finite differences, and errors at build and run time."""

import numpy as np
import pytest

import symgraph as sg
from helpers import check_against_numpy, check_grad, check_static

MASK2 = np.array([[True, False, True, False], [False, False, False, False],
                  [True, True, False, True]])

BASIC = [  # (id, index) applied to a (3, 4, 5) input
    ("int", 1), ("neg_int", -1), ("int_int", (1, -2)), ("to_0d", (2, 3, -5)),
    ("slice", slice(1, 3)), ("steps", (slice(None, None, 2), slice(1, None, 2))),
    ("neg_step", (slice(None, None, -1), slice(3, 0, -2))),
    ("neg_step_to_start", (slice(None), slice(None, None, -3), slice(-2, None, -1))),
    ("neg_bounds", (slice(-2, None), slice(None, -1))), ("empty_slice", slice(2, 1)),
    ("clipped", (slice(1, 100), slice(-100, 2))), ("newaxis", (None, slice(None), None, 0)),
    ("ellipsis", (Ellipsis, 1)), ("ellipsis_mid", (0, Ellipsis, slice(None, None, -1))),
    ("ellipsis_newaxis", (Ellipsis, None)), ("everything", Ellipsis),
    ("numpy_int", np.int32(2)),
]
ADVANCED = [
    ("array", [2, 0, 0]), ("array_neg", np.array([-1, 0])),
    ("array_2d", np.array([[0, 1], [2, 2]])), ("array_col", (slice(None), [3, 1])),
    ("array_last", (Ellipsis, [4, 0, 4])), ("pair", ([0, 2], [1, 3])),
    ("pair_broadcast", (np.array([[0], [2]]), np.array([1, 3, 0]))),
    ("separated", ([0, 2], slice(None), [1, 3])), ("int_separated", (1, slice(None), [0, 4])),
    ("int_adjacent", (slice(None), 1, [0, 4])), ("newaxis_between", ([0, 1], None, [1, 2])),
    ("slice_array_slice", (slice(1, None), [0, 0, 3], slice(None, None, -2))),
    ("empty_array", []), ("uint8_array", np.array([2, 1], dtype="uint8")),
    ("mask_leading", MASK2), ("mask_1d", np.array([True, False, True])),
    ("mask_axis1", (slice(None), np.array([True, False, True, False]))),
    ("mask_none_true", np.zeros(3, bool)),
]
TABLE = BASIC + ADVANCED
IDS = [t[0] for t in TABLE]


def base_value(rng, dtype="float64"):
    # a (3, 4, 5) view with a negative and a non-unit stride
    return (rng.standard_normal((6, 4, 10)) * 10).astype(dtype)[::2, :, ::-2]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
@pytest.mark.parametrize("name,index", TABLE, ids=IDS)
def test_getitem_against_numpy(name, index, dtype, rng):
    x = base_value(rng, dtype)
    check_against_numpy(lambda a: a[index], lambda a: a[index], [x])


@pytest.mark.parametrize("name,index", TABLE, ids=IDS)
def test_getitem_static_shape(name, index, rng):
    exact = "mask" not in name  # how many elements a mask selects is known only at run time
    check_static(lambda a: a[index], lambda a: a[index], [base_value(rng)], exact=exact)


@pytest.mark.parametrize("name,index", TABLE, ids=IDS)
def test_getitem_grad(name, index, rng):
    check_grad(lambda a: a[index], [base_value(rng)])


def test_getitem_kinds():
    x = sg.tensor("x", shape=(3, 4))
    assert x[1, ::-1].op.kind == "view"
    assert x[[0, 0]].op.kind == "index"
    assert x[MASK2].op.kind == "index"
    assert sg.inc_subtensor(x[0], 1.0).op.kind == "scatter"
    assert str(x[...].op) == "subtensor[:, :]"  # kept as an op: set_subtensor(x[:], v) works


def test_getitem_on_0d_and_empty(rng):
    check_against_numpy(lambda a: a[...], lambda a: a[...], [np.array(2.5)])
    check_against_numpy(lambda a: a[None], lambda a: a[None], [np.array(2.5)])
    empty = np.zeros((0, 3))
    check_against_numpy(lambda a: a[:, 1], lambda a: a[:, 1], [empty])
    check_against_numpy(lambda a: a[::-1, [2, 2]], lambda a: a[::-1, [2, 2]], [empty])
    check_grad(lambda a: a[None][0], [np.array(1.5)])


def test_symbolic_scalar_indices_and_bounds(rng):
    x = rng.standard_normal((6, 5))
    a, i, j = sg.matrix("a", "float64"), sg.scalar("i", "int64"), sg.scalar("j", "int32")
    f = sg.function([a, i, j], [a[i], a[i:j], a[j:i:-1, i], a[::j], a[:, -j]])
    for iv, jv in [(1, 4), (-2, 2), (0, 5), (4, 1)]:
        got = f(x, iv, jv)
        want = [x[iv], x[iv:jv], x[jv:iv:-1, iv], x[::jv], x[:, -jv]]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
            assert g.shape == w.shape
    check_grad(lambda b: b[sg.constant(1):sg.constant(np.int32(-1))], [x])
    # gradients through run-time bounds scatter into the right rows
    g = sg.function([a, i, j], sg.grad(sg.sum(a[j:i:-1] * 2.0), a))(x, 1, 4)
    want = np.zeros_like(x)
    want[4:1:-1] = 2.0
    np.testing.assert_array_equal(g, want)


def test_shape_entries_are_int_nodes():
    x = sg.tensor("x", "float64", shape=(None, 3, 2))
    first = x.shape[0]
    assert first.dtype == "int64" and first.ndim == 0
    f = sg.function([x], [x.shape, first, x.shape[-1], x.shape[::-1]])
    got = f(np.zeros((4, 3, 2)))
    assert got[0].dtype == np.int64 and list(got[0]) == [4, 3, 2]
    assert got[1] == 4 and got[2] == 2 and list(got[3]) == [2, 3, 4]


def test_symbolic_index_arrays_and_masks(rng):
    x = rng.standard_normal((5, 3))
    labels = np.array([2, 0, 1, 1, 2])
    a, idx, m = sg.matrix("a", "float64"), sg.vector("idx", "int64"), sg.vector("m", "bool")
    n = a.shape[0]
    f = sg.function([a, idx, m], [a[sg.arange(n), idx], a[m], a[m, 1:], a[:, idx[:2]]])
    mask = np.array([True, False, True, True, False])
    got = f(x, labels, mask)
    want = [x[np.arange(5), labels], x[mask], x[mask, 1:], x[:, labels[:2]]]
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_out_of_range_at_build_time():
    x = sg.tensor("x", shape=(3, 4))
    cases = [lambda: x[3], lambda: x[:, -5], lambda: x[[0, 4]], lambda: x[:, [1, -5]],
             lambda: x[0, 0, 0], lambda: x[MASK2[:2]], lambda: x[..., 0, ...]]
    for case in cases:
        with pytest.raises(sg.IndexOutOfBoundsError) as info:
            case()
        assert isinstance(info.value, IndexError) and isinstance(info.value, sg.ShapeError)
        assert "test_index.py" in str(info.value)
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for axis 0 with size 3"):
        x[3]


def test_out_of_range_at_run_time():
    x, i = sg.matrix("x", "float64"), sg.scalar("i", "int64")
    idx = sg.vector("idx", "int64")
    cases = [(x[5], [x], ()), (x[:, -4], [x], ()), (x[i], [x, i], (7,)),
             (x[idx], [x, idx], (np.array([0, 3]),)),
             (sg.inc_subtensor(x[idx], 1.0), [x, idx], (np.array([9]),))]
    for out, inputs, args in cases:
        f = sg.function(inputs, out)
        with pytest.raises(sg.IndexOutOfBoundsError, match=r"out of bounds.*test_index.py"):
            f(np.zeros((3, 3)), *args)


def test_bad_index_dtypes():
    x = sg.matrix("x")
    for bad in [1.5, np.array([0.5, 1.0]), sg.vector("f", "float32"), sg.scalar("s", "float64"),
                True, np.bool_(False), "a", np.array(True)]:
        with pytest.raises(sg.DTypeError):
            x[bad]
    with pytest.raises(sg.DTypeError):
        x[sg.scalar("s", "float32"):]


UPDATES = [  # (id, index, value shape) on a (4, 3) input
    ("int", 1, (3,)), ("int_scalar_value", -1, ()), ("slice", slice(None, None, -2), (1, 3)),
    ("column", (slice(None), 0), (4,)), ("newaxis", (None, 2), (1, 3)),
    ("array", [0, 2], (2, 3)), ("pair", ([0, 3], [2, 1]), (2,)),
    ("mask", np.array([True, False, False, True]), (3,)),
    ("col_array", (slice(1, None), [2, 0]), (3, 2)),
]


@pytest.mark.parametrize("mode", ["set", "inc"])
@pytest.mark.parametrize("name,index,vshape", UPDATES, ids=[u[0] for u in UPDATES])
def test_updates_against_numpy(name, index, vshape, mode, rng):
    x = rng.standard_normal((8, 3))[::2]
    v = rng.standard_normal(vshape)
    update = sg.set_subtensor if mode == "set" else sg.inc_subtensor

    def expected(a, b):
        out = a.copy()
        if mode == "set":
            out[index] = b
        else:
            np.add.at(out, index, b)
        return out

    before = x.copy()
    check_against_numpy(lambda a, b: update(a[index], b), expected, [x, v])
    check_static(lambda a, b: update(a[index], b), expected, [x, v])
    np.testing.assert_array_equal(x, before)  # the input is never modified
    check_grad(lambda a, b: update(a[index], b), [x, v])


def test_inc_subtensor_duplicates_accumulate_like_add_at(rng):
    x = rng.standard_normal((5, 2))
    idx = np.array([0, 3, 0, 0, 4, 3])
    v = rng.standard_normal((6, 2))
    want = x.copy()
    np.add.at(want, idx, v)
    check_against_numpy(lambda a, b: sg.inc_subtensor(a[idx], b), lambda a, b: want, [x, v])
    check_grad(lambda a, b: sg.inc_subtensor(a[idx], b), [x, v])
    pairs = (np.array([1, 1, 1]), np.array([0, 0, 1]))
    want2 = x.copy()
    np.add.at(want2, pairs, 2.0)
    check_against_numpy(lambda a: sg.inc_subtensor(a[pairs], 2.0), lambda a: want2, [x])


def test_duplicate_gather_gradient_accumulates(rng):
    x = rng.standard_normal((4, 3))
    idx = np.array([1, 1, 3, 1])
    check_grad(lambda a: a[idx] * a[idx], [x])
    check_grad(lambda a: a[idx, [0, 2, 2, 0]], [x])
    a = sg.matrix("a", "float64")
    g = sg.function([a], sg.grad(sg.sum(a[idx]), a))(x)
    want = np.zeros_like(x)
    np.add.at(want, idx, 1.0)
    np.testing.assert_array_equal(g, want)


def test_set_subtensor_duplicates_last_write_wins():
    x = np.zeros(3)
    idx = np.array([1, 1, 2])
    a = sg.vector("a", "float64")
    got = sg.function([a], sg.set_subtensor(a[idx], np.array([5.0, 7.0, 9.0])))(x)
    np.testing.assert_array_equal(got, [0.0, 7.0, 9.0])


def test_symbolic_index_updates(rng):
    x = rng.standard_normal((5, 2))
    a, i, idx = sg.matrix("a", "float64"), sg.scalar("i", "int64"), sg.vector("idx", "int64")
    out = [sg.set_subtensor(a[i:], 0.0), sg.inc_subtensor(a[idx, 1], 1.0)]
    f = sg.function([a, i, idx], out)
    got = f(x, 3, np.array([4, 4, 0]))
    want0 = x.copy()
    want0[3:] = 0
    want1 = x.copy()
    np.add.at(want1, (np.array([4, 4, 0]), 1), 1.0)
    np.testing.assert_array_equal(got[0], want0)
    np.testing.assert_array_equal(got[1], want1)


def test_update_dtypes_and_errors():
    x = sg.tensor("x", "float32", shape=(4, 3))
    out = sg.set_subtensor(x[0], np.ones(3))  # float64 into float32: cast, like NumPy
    assert out.dtype == "float32"
    assert sg.inc_subtensor(x[1:], 2).dtype == "float32"
    n = sg.tensor("n", "int32", shape=(3,))
    with pytest.raises(sg.DTypeError, match="set_subtensor.*float64"):
        sg.set_subtensor(n[0], 1.5)
    with pytest.raises(sg.ShapeError, match=r"set_subtensor: cannot broadcast.*\[2,3\]"):
        sg.set_subtensor(x[:2], np.ones(2))
    with pytest.raises(sg.SymgraphError, match="indexing result"):
        sg.inc_subtensor(x, 1.0)
    with pytest.raises(sg.ShapeError, match="test_index.py"):
        sg.inc_subtensor(x[[0, 1]], np.ones((3, 3)))


def test_printed_index():
    x = sg.matrix("x")
    text = str(sg.Graph([x], [x[1:, ::-1][0]]))
    assert "subtensor[1:, ::-1]" in text and "subtensor[0, :]" in text


def test_list_of_symbolic_indices():
    i, j = sg.scalar("i", "int64"), sg.scalar("j", "int32")
    a = sg.vector("a", "float64")
    out = sg.function([a, i, j], a[[i, j, 0]])(np.array([1.0, 2.0, 3.0]), 2, -2)
    np.testing.assert_array_equal(out, [3.0, 2.0, 1.0])
