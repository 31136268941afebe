"""matmul, dot, outer, tensordot and einsum against NumPy, and their gradients.

Cases that need `sg.reshape` / `sg.transpose` (from the shape family, merged separately)
are listed in the `*_NEEDS_SHAPE_OPS` tables; they join the tests once those functions
exist in `sg`, so this file is green on its own and complete after the merge.
"""

import numpy as np
import pytest

import symgraph as sg
from helpers import (BACKENDS, check_against_numpy, check_all_against_numpy,
                     check_eager_matches_symbolic, check_grad, check_jacobian)
from symgraph.apply import apply
from symgraph.ops.linalg import MatMul

HAS_EAGER = hasattr(sg, "eager")  # from the eager branch, merged separately
HAS_JACOBIAN = hasattr(sg, "jacobian")  # from the grad branch, merged separately
HAS_SHAPE_OPS = hasattr(sg, "reshape") and hasattr(sg, "transpose")
REFERENCE = ["python"]


def check_reference(fn, np_fn, values, **tol):
    """The detailed tables run on the reference backend; every backend runs the compact
    `test_*_on_every_backend` cases (one compile per case), which keeps compiling backends
    within the suite's time budget."""
    check_against_numpy(fn, np_fn, values, backends=REFERENCE, **tol)

MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 5)),
    ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((0, 4), (4, 5)), ((3, 0), (0, 5)),
    ((2, 0, 3), (3, 1)), ((1, 1), (1, 1)),
]
DTYPE_PAIRS = [("float64", "float64"), ("float32", "float32"), ("int32", "int32"),
               ("int64", "float32"), ("int8", "uint8"), ("bool", "bool"), ("float32", "float64")]


def sample(shape, dtype, rng):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 5, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
def test_matmul_table(shape_a, shape_b, rng):
    for da, db in DTYPE_PAIRS:
        a, b = sample(shape_a, da, rng), sample(shape_b, db, rng)
        check_reference(sg.matmul, np.matmul, [a, b], rtol=1e-5, atol=1e-5)
    a, b = sample(shape_a, "float64", rng), sample(shape_b, "float64", rng)
    check_reference(lambda x, y: x @ y, np.matmul, [a, b])


def test_matmul_non_contiguous_and_negative_strides(rng):
    a = rng.standard_normal((6, 8))[::-2, 1::2]          # (3, 4), negative stride
    b = np.asfortranarray(rng.standard_normal((4, 5)))    # column-major
    c = rng.standard_normal((5, 4)).T                     # a transposed view
    check_reference(sg.matmul, np.matmul, [a, b])
    check_reference(sg.matmul, np.matmul, [a, c])


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_matmul_transpose_flags(ta, tb, rng):
    a = rng.standard_normal((2, 4, 3) if ta else (2, 3, 4))
    b = rng.standard_normal((5, 4) if tb else (4, 5))
    ref = np.matmul(np.swapaxes(a, -1, -2) if ta else a, b.T if tb else b)
    check_reference(lambda x, y: apply(MatMul(ta, tb), x, y), lambda x, y: ref, [a, b])
    check_grad(lambda x, y: apply(MatMul(ta, tb), x, y), [a, b])


def test_matmul_errors():
    a = sg.tensor("a", shape=(3, 4))
    with pytest.raises(sg.ShapeError, match=r"matmul: contracted dimensions differ.*4 vs 5"):
        a @ sg.tensor("b", shape=(5, 2))
    with pytest.raises(sg.ShapeError, match="at least 1-d"):
        sg.matmul(a, sg.scalar("s"))
    with pytest.raises(sg.ShapeError, match="matmul: cannot broadcast"):
        sg.tensor("c", shape=(2, 3, 4)) @ sg.tensor("d", shape=(3, 4, 5))
    x, y = sg.matrix("x"), sg.matrix("y")
    f = sg.function([x, y], x @ y)
    with pytest.raises(sg.ShapeError, match="matmul"):
        f(np.ones((2, 3), "float32"), np.ones((4, 2), "float32"))


@pytest.mark.parametrize("shape_a,shape_b", [s for s in MATMUL_SHAPES if 0 not in s[0] + s[1]])
def test_matmul_grad(shape_a, shape_b, rng):
    check_grad(sg.matmul, [rng.standard_normal(shape_a), rng.standard_normal(shape_b)])


def test_matmul_grad_with_runtime_broadcast_batch(rng):
    # Unknown batch dims that turn out to be 1 on one side: the gradient is summed back.
    a = sg.tensor("a", dtype="float64", shape=(None, None, None))
    b = sg.tensor("b", dtype="float64", shape=(None, None, None))
    cost = sg.sum(sg.matmul(a, b) ** 2)
    f = sg.function([a, b], sg.grad(cost, [a, b]))
    va, vb = rng.standard_normal((1, 3, 4)), rng.standard_normal((2, 4, 5))
    ga, gb = f(va, vb)
    out = va @ vb
    np.testing.assert_allclose(ga, (2 * out @ np.swapaxes(vb, -1, -2)).sum(0, keepdims=True))
    np.testing.assert_allclose(gb, np.swapaxes(va, -1, -2) @ (2 * out))


# -- every backend: the products of a few operands, one compiled function per dtype -----------

PRODUCTS = [  # (symgraph, NumPy) of the operands a (3,4), b (4,5), v (4,), c (2,3,4), d (2,4,5)
    (lambda a, b, v, c, d: a @ b, lambda a, b, v, c, d: a @ b),
    (lambda a, b, v, c, d: sg.matmul(v, b), lambda a, b, v, c, d: v @ b),
    (lambda a, b, v, c, d: sg.matmul(a, v), lambda a, b, v, c, d: a @ v),
    (lambda a, b, v, c, d: sg.matmul(v, v), lambda a, b, v, c, d: v @ v),
    (lambda a, b, v, c, d: sg.matmul(c, b), lambda a, b, v, c, d: c @ b),
    (lambda a, b, v, c, d: sg.matmul(c, d), lambda a, b, v, c, d: c @ d),
    (lambda a, b, v, c, d: sg.matmul(c, v), lambda a, b, v, c, d: c @ v),
    (lambda a, b, v, c, d: sg.matmul(a, d), lambda a, b, v, c, d: a @ d),  # batch broadcast
    (lambda a, b, v, c, d: sg.dot(a, v), lambda a, b, v, c, d: np.dot(a, v)),
    (lambda a, b, v, c, d: sg.outer(v, v), lambda a, b, v, c, d: np.outer(v, v)),
    (lambda a, b, v, c, d: sg.tensordot(a, b, 1), lambda a, b, v, c, d: np.tensordot(a, b, 1)),
    (lambda a, b, v, c, d: sg.einsum("bij,bjk->bik", c, d),
     lambda a, b, v, c, d: np.einsum("bij,bjk->bik", c, d)),
    (lambda a, b, v, c, d: sg.einsum("ij,ij->i", a, a),
     lambda a, b, v, c, d: np.einsum("ij,ij->i", a, a)),
    (lambda a, b, v, c, d: sg.einsum("bij,bij->b", c, c),
     lambda a, b, v, c, d: np.einsum("bij,bij->b", c, c)),
    (lambda a, b, v, c, d: sg.einsum("ij->j", a), lambda a, b, v, c, d: np.einsum("ij->j", a)),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_products_on_every_backend(backend, rng):
    shapes = [(3, 4), (4, 5), (4,), (2, 3, 4), (2, 4, 5)]
    for dtype in ("float32", "float64", "int32"):
        values = [sample(s, dtype, rng) for s in shapes]
        values[0] = np.asfortranarray(values[0])[::-1]  # column-major and a negative stride
        tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {}
        check_all_against_numpy(PRODUCTS, values, backends=[backend], **tol)
    mixed = [sample((3, 4), "int64", rng), sample((4, 5), "float32", rng)]
    check_all_against_numpy([(sg.matmul, np.matmul)], mixed, backends=[backend])
    empty = [np.zeros((0, 4)), np.ones((4, 5)), np.ones((3, 0)), np.ones((0, 5))]
    check_all_against_numpy([(lambda a, b, c, d: a @ b, lambda a, b, c, d: a @ b),
                             (lambda a, b, c, d: c @ d, lambda a, b, c, d: c @ d)],
                            empty, backends=[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_product_grads_on_every_backend(backend, rng):
    check_grad(lambda a, b, c: sg.matmul(a, b) + sg.sum(sg.matmul(c, b), 0)
               + sg.einsum("ij,jk->ik", a, b),
               [rng.standard_normal((3, 4)), rng.standard_normal((4, 5)),
                rng.standard_normal((2, 3, 4))], backend=backend)


DOT_SHAPES = [((), (3, 4)), ((3,), ()), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)),
              ((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (4,))]
DOT_NEEDS_SHAPE_OPS = [((2, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))]


@pytest.mark.parametrize("shape_a,shape_b", DOT_SHAPES + (DOT_NEEDS_SHAPE_OPS if HAS_SHAPE_OPS
                                                          else []))
def test_dot(shape_a, shape_b, rng):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    check_reference(sg.dot, np.dot, [a, b])
    check_reference(lambda x, y: x.dot(y), np.dot, [a.astype("float32"), b.astype("int32")],
                        rtol=1e-5, atol=1e-5)
    check_grad(sg.dot, [a, b])


OUTER_SHAPES = [((3,), (4,)), ((), (4,)), ((3,), ()), ((0,), (2,))]
OUTER_NEEDS_SHAPE_OPS = [((2, 3), (4,)), ((2, 2), (3, 1))]


@pytest.mark.parametrize("shape_a,shape_b", OUTER_SHAPES + (OUTER_NEEDS_SHAPE_OPS
                                                            if HAS_SHAPE_OPS else []))
def test_outer(shape_a, shape_b, rng):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    check_reference(sg.outer, np.outer, [a, b])
    check_reference(sg.outer, np.outer, [a.astype("int32"), b.astype("float32")])
    if a.size and b.size:
        check_grad(sg.outer, [a, b])


TENSORDOT = [  # (shape a, shape b, axes) that need only matmul
    ((3, 4), (4, 5), 1), ((3, 4), (4, 5), ([1], [0])), ((4,), (4, 5), 1), ((3, 4), (4,), 1),
    ((2, 3), (4,), 0), ((3,), (3,), ([0], [0])), ((3, 4), (4, 5), ([-1], [-2])),
]
TENSORDOT_NEEDS_SHAPE_OPS = [
    ((2, 3, 4), (3, 4, 5), 2), ((3, 4), (3, 4), 2), ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
    ((3, 4), (5, 3), ([0], [1])), ((2, 3, 4), (5, 4), ([-1], [1])), ((2, 3), (3, 2, 4), 1),
]


@pytest.mark.parametrize("shape_a,shape_b,axes", TENSORDOT + (TENSORDOT_NEEDS_SHAPE_OPS
                                                              if HAS_SHAPE_OPS else []))
def test_tensordot(shape_a, shape_b, axes, rng):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    check_reference(lambda x, y: sg.tensordot(x, y, axes),
                        lambda x, y: np.tensordot(x, y, axes), [a, b])
    check_grad(lambda x, y: sg.tensordot(x, y, axes), [a, b])


def test_tensordot_errors():
    a, b = sg.tensor("a", shape=(3, 4)), sg.tensor("b", shape=(5, 2))
    with pytest.raises(sg.ShapeError, match=r"tensordot: axis 1 of a \(4\) and axis 0 of b"):
        sg.tensordot(a, b, 1)
    with pytest.raises(sg.ShapeError, match="2 axes of a against 1 of b"):
        sg.tensordot(a, b, ([0, 1], [0]))
    with pytest.raises(sg.ShapeError, match="out of range"):
        sg.tensordot(a, b, 3)



@pytest.mark.parametrize("backend", BACKENDS)
def test_tensordot_checks_each_summed_length_at_run_time(backend):
    """Lengths unknown until run time: summed axes of (3, 4) against (4, 3) have the same
    product, which is all the reshapes and the matrix product see; it is an error, as in
    NumPy, not 12 wrongly paired products."""
    a = sg.tensor("a", dtype="float64", shape=(None, None, None))
    b = sg.tensor("b", dtype="float64", shape=(None, None, None))
    f = sg.function([a, b], sg.tensordot(a, b, axes=([1, 2], [0, 1])), backend=backend)
    x, y = np.arange(24.0).reshape(2, 3, 4), np.arange(60.0).reshape(3, 4, 5)
    np.testing.assert_allclose(f(x, y), np.tensordot(x, y, axes=([1, 2], [0, 1])))
    for wrong in [(4, 3, 5), (1, 12, 5), (12, 1, 5)]:
        with pytest.raises(sg.ShapeError, match="test_linalg.py"):
            f(x, np.ones(wrong))

EINSUM = [  # expressions that map onto matmul, products and sums without moving axes
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(4,), (4,)]), ("i,i", [(4,), (4,)]),
    ("ij,j->i", [(3, 4), (4,)]), ("j,jk->k", [(4,), (4, 5)]), ("bij,bj->bi", [(2, 3, 4), (2, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]), ("i,j->ij", [(3,), (4,)]), ("ij->i", [(3, 4)]),
    ("ijk->", [(2, 3, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("ij", [(3, 4)]),
    ("ijk,ijk->i", [(2, 3, 4), (2, 3, 4)]), ("ij,jk->ijk", [(2, 3), (3, 4)]),
]
EINSUM_NEEDS_SHAPE_OPS = [
    ("ij->ji", [(3, 4)]), ("ij,kj->ik", [(3, 4), (5, 4)]), ("ji", [(3, 4)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]), ("ij,jk->ki", [(3, 4), (4, 5)]),
    ("abc,cd->dba", [(2, 3, 4), (4, 5)]),
]


@pytest.mark.parametrize("expr,shapes", EINSUM + (EINSUM_NEEDS_SHAPE_OPS if HAS_SHAPE_OPS
                                                  else []))
def test_einsum(expr, shapes, rng):
    values = [rng.standard_normal(s) for s in shapes]
    check_reference(lambda *xs: sg.einsum(expr, *xs), lambda *xs: np.einsum(expr, *xs), values)
    for dtype in ("int8", "bool", "float32"):  # einsum keeps the operands' dtype, like NumPy
        typed = [sample(s, dtype, rng) for s in shapes]
        check_reference(lambda *xs: sg.einsum(expr, *xs), lambda *xs: np.einsum(expr, *xs),
                        typed, rtol=1e-5, atol=1e-5)
    check_grad(lambda *xs: sg.einsum(expr, *xs), values)


def test_einsum_batched_matmul_is_one_matmul():
    a, b = sg.tensor("a", shape=(None, 3, 4)), sg.tensor("b", shape=(None, 4, 5))
    listing = str(sg.Graph([a, b], [sg.einsum("bij,bjk->bik", a, b)]))
    assert listing.count("matmul") == 1 and "multiply" not in listing, listing


def test_einsum_errors():
    a = sg.matrix("a")
    with pytest.raises(sg.ShapeError, match="diagonals"):
        sg.einsum("ii->i", a)
    with pytest.raises(sg.ShapeError, match="ellipses"):
        sg.einsum("...i->i", a)
    with pytest.raises(sg.ShapeError, match="names 2 operand"):
        sg.einsum("ij,jk->ik", a)
    with pytest.raises(sg.ShapeError, match="3 indices but the value is 2-d"):
        sg.einsum("ijk->i", a)
    with pytest.raises(sg.ShapeError, match="index 'j'.*lengths 4 and 5"):
        sg.einsum("ij,jk->ik", sg.tensor("x", shape=(3, 4)), sg.tensor("y", shape=(5, 2)))
    with pytest.raises(sg.ShapeError, match="appears in no operand"):
        sg.einsum("ij->k", a)


EAGER_CASES = [  # the same functions on eager tensors (after the eager branch is merged)
    (sg.matmul, [(3, 4), (4, 5)]), (sg.matmul, [(2, 3, 4), (4,)]), (sg.dot, [(3, 4), (4,)]),
    (sg.outer, [(3,), (4,)]), (lambda a, b: sg.tensordot(a, b, 1), [(3, 4), (4, 2)]),
    (lambda a, b: sg.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
]

if HAS_EAGER:
    @pytest.mark.parametrize("fn,shapes", EAGER_CASES)
    def test_eager_matches_symbolic(fn, shapes, rng):
        check_eager_matches_symbolic(fn, [rng.standard_normal(s) for s in shapes])


if HAS_JACOBIAN:
    @pytest.mark.parametrize("fn", [
        lambda x: sg.matmul(x, np.arange(8.0).reshape(4, 2)),
        lambda x: sg.matmul(np.arange(3.0), x), lambda x: sg.matmul(x, np.ones(4)),
        lambda x: sg.matmul(sg.expand_dims(x, 0), np.ones((2, 4, 3))),
        lambda x: sg.einsum("ij,jk->ik", x, np.ones((4, 2))),
        lambda x: sg.einsum("ij,ij->i", x, x),
    ])
    def test_batched_jacobian(fn, rng):
        check_jacobian(fn, rng.standard_normal((3, 4)))
