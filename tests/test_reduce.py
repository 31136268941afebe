"""Reductions against NumPy (the table: shapes × axes × keepdims × dtypes, empty, NaN/inf,
non-contiguous inputs) and their gradients against finite differences."""

import warnings

import numpy as np
import pytest
import scipy.special

import symgraph as sg
from helpers import (BACKENDS, check_against_numpy, check_all_against_numpy,
                     check_eager_matches_symbolic, check_grad, check_jacobian)

HAS_EAGER = hasattr(sg, "eager")  # from the eager branch, merged separately
HAS_JACOBIAN = hasattr(sg, "jacobian")  # from the grad branch, merged separately
HAS_RESHAPE = hasattr(sg, "reshape")  # from the shape family, merged separately
REFERENCE = ["python"]


def check_reference(fn, np_fn, values, **tol):
    """The detailed tables run on the reference backend; every backend runs the compact
    `test_*_on_every_backend` cases (one compile per case), which keeps compiling backends
    within the suite's time budget."""
    check_against_numpy(fn, np_fn, values, backends=REFERENCE, **tol)


def np_logsumexp(a, axis=None, keepdims=False):
    """scipy's logsumexp, with NumPy's result shape for 0-d inputs (scipy gives (1,))."""
    out = np.asarray(scipy.special.logsumexp(a, axis=axis, keepdims=keepdims))
    return out.reshape(np.sum(a, axis=axis, keepdims=keepdims).shape)


REDUCTIONS = [  # (symgraph function, NumPy reference, dtypes NumPy accepts)
    (sg.sum, np.sum, "float32 float64 int32 int8 uint8 bool"),
    (sg.prod, np.prod, "float32 float64 int32 int8 uint8 bool"),
    (sg.mean, np.mean, "float32 float64 int32 bool"),
    (sg.var, np.var, "float32 float64 int32 bool"),
    (sg.std, np.std, "float32 float64 int32"),
    (sg.max, np.max, "float32 float64 int32 int8 bool"),
    (sg.min, np.min, "float32 float64 int32 uint8 bool"),
    (sg.all, np.all, "float64 int32 bool"),
    (sg.any, np.any, "float64 int32 bool"),
    (sg.logsumexp, np_logsumexp, "float32 float64 int32"),
]
CASES = [  # (shape, axis, keepdims)
    ((), None, False), ((), None, True), ((5,), None, False), ((5,), 0, True),
    ((3, 4), None, True), ((3, 4), 1, False), ((3, 4), -2, True),
    ((2, 3, 4), (0, 2), False), ((2, 3, 4), (-1, 0), True), ((2, 3, 4), -2, False),
    ((2, 3, 4), (), False),
]
ids = [r[0].__name__ for r in REDUCTIONS]


def sample(shape, dtype, rng):
    if dtype == "bool":
        return rng.random(shape) > 0.3
    if dtype.startswith(("int", "uint")):
        return rng.integers(0 if dtype.startswith("u") else -3, 4, shape).astype(dtype)
    return rng.uniform(0.5, 1.5, shape).astype(dtype) * rng.choice([-1, 1], shape)


@pytest.mark.parametrize("shape,axis,keepdims", CASES)
@pytest.mark.parametrize("fn,ref,dtypes", REDUCTIONS, ids=ids)
def test_reduction_table(fn, ref, dtypes, shape, axis, keepdims, rng):
    for dtype in dtypes.split():
        x = sample(shape, dtype, rng)
        check_reference(lambda a: fn(a, axis, keepdims=keepdims),
                            lambda a: ref(a, axis=axis, keepdims=keepdims), [x],
                            **({"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {}))


@pytest.mark.parametrize("fn,ref,dtypes", REDUCTIONS, ids=ids)
def test_non_contiguous_and_negative_strides(fn, ref, dtypes, rng):
    x = rng.uniform(0.5, 1.5, (4, 3, 6))[::2, ::-1, 1::2]
    check_reference(lambda a: fn(a, (0, -1)), lambda a: ref(a, axis=(0, -1)), [x])


@pytest.mark.parametrize("fn,ref", [(sg.sum, np.sum), (sg.prod, np.prod), (sg.mean, np.mean),
                                    (sg.var, np.var), (sg.all, np.all), (sg.any, np.any),
                                    (sg.logsumexp, np_logsumexp)],
                         ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("shape,axis", [((0,), None), ((0, 3), 0), ((0, 3), 1), ((2, 0), -1)])
def test_empty_reductions_like_numpy(fn, ref, shape, axis):
    dtypes = ("float64", "float32") if fn is sg.logsumexp else ("float64", "int32", "bool")
    for dtype in dtypes:
        x = np.zeros(shape, dtype)
        with warnings.catch_warnings():  # NumPy warns about the empty mean; we give NaN
            warnings.simplefilter("ignore")
            check_reference(lambda a: fn(a, axis), lambda a: ref(a, axis=axis), [x])


@pytest.mark.parametrize("fn", [sg.max, sg.min, sg.argmax, sg.argmin])
def test_empty_axis_has_no_identity(fn):
    x = sg.matrix("x", dtype="float64")
    f = sg.function([x], fn(x, 1))
    with pytest.raises(sg.ShapeError, match=fn.__name__ + r": cannot reduce the empty axis"):
        f(np.zeros((2, 0)))
    assert f(np.zeros((0, 3))).shape == (0,)  # an empty result is fine, like NumPy
    with pytest.raises(sg.ShapeError, match="empty"):
        fn(sg.tensor("y", shape=(2, 0)), -1)  # statically known: refused when built


NAN_INF = np.array([[1.0, np.nan, 3.0, np.nan], [np.inf, -np.inf, 0.0, 2.0],
                    [-np.inf, -np.inf, -np.inf, -np.inf], [5.0, 5.0, -1.0, np.inf]])


@pytest.mark.parametrize("fn,ref", [
    (sg.sum, np.sum), (sg.prod, np.prod), (sg.mean, np.mean), (sg.max, np.max),
    (sg.min, np.min), (sg.argmax, np.argmax), (sg.argmin, np.argmin), (sg.any, np.any),
    (sg.logsumexp, np_logsumexp), (sg.cumsum, np.cumsum)],
    ids=lambda f: getattr(f, "__name__", ""))
def test_nan_and_inf_propagate_like_numpy(fn, ref):
    with np.errstate(all="ignore"):
        check_reference(lambda a: fn(a, axis=1), lambda a: ref(a, axis=1), [NAN_INF])
        check_reference(lambda a: fn(a, axis=0), lambda a: ref(a, axis=0), [NAN_INF.T])


ARG_CASES = [((), None, False), ((7,), None, False), ((7,), -1, True), ((3, 4), None, False),
             ((3, 4), None, True), ((3, 4), 0, False), ((2, 3, 4), -1, True), ((2, 3, 4), 1, False)]


@pytest.mark.parametrize("shape,axis,keepdims", ARG_CASES)
@pytest.mark.parametrize("fn,ref", [(sg.argmax, np.argmax), (sg.argmin, np.argmin)],
                         ids=["argmax", "argmin"])
def test_argmax_argmin_table(fn, ref, shape, axis, keepdims, rng):
    for dtype in ("float32", "float64", "int32", "bool"):
        x = sample(shape, dtype, rng)
        check_reference(lambda a: fn(a, axis, keepdims=keepdims),
                            lambda a: ref(a, axis=axis, keepdims=keepdims), [x])
    ties = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], dtype="int8")  # first of the ties wins
    check_reference(lambda a: fn(a, -1), lambda a: ref(a, axis=-1), [ties[:, ::-1]])


def test_axis_errors():
    x = sg.tensor("x", shape=(2, 3, 4))
    with pytest.raises(sg.ShapeError, match="out of range"):
        sg.sum(x, 3)
    with pytest.raises(sg.ShapeError, match="repeated"):
        sg.max(x, (0, -3))
    with pytest.raises(sg.ShapeError, match="argmax: axis must be None or an int"):
        sg.argmax(x, (0, 1))
    with pytest.raises(sg.ShapeError, match="cumsum: axis 5 is out of range"):
        sg.cumsum(x, 5)


CUMSUM_CASES = [((), None), ((5,), None), ((5,), 0), ((0,), -1), ((3, 4), 0), ((3, 4), -1),
                ((2, 3, 4), 1)]
CUMSUM_NEEDS_RESHAPE = [((3, 4), None), ((2, 0, 3), None)]  # flattening uses sg.reshape


@pytest.mark.parametrize("shape,axis", CUMSUM_CASES + (CUMSUM_NEEDS_RESHAPE if HAS_RESHAPE
                                                       else []))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int32", "uint16", "bool"])
def test_cumsum_table(shape, axis, dtype, rng):
    x = sample(shape, dtype, rng)
    check_reference(lambda a: sg.cumsum(a, axis), lambda a: np.cumsum(a, axis=axis), [x])


def test_cumsum_method_and_negative_strides(rng):
    x = rng.standard_normal((4, 6))[::-1, ::2]
    check_reference(lambda a: a.cumsum(-1), lambda a: np.cumsum(a, -1), [x])


def test_methods_forward_to_the_functions(rng):
    x = rng.standard_normal((3, 4))
    for name in ("sum", "mean", "max", "min", "prod", "std", "var", "argmax", "argmin",
                 "all", "any"):
        check_reference(lambda a: getattr(a, name)(axis=0, keepdims=True),
                            lambda a: getattr(a, name)(axis=0, keepdims=True), [x])


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_var_std_ddof(ddof, rng):
    x = rng.standard_normal((3, 5))
    check_reference(lambda a: sg.var(a, 1, ddof=ddof), lambda a: np.var(a, 1, ddof=ddof), [x])
    check_reference(lambda a: sg.std(a, 0, keepdims=True, ddof=ddof),
                        lambda a: np.std(a, 0, keepdims=True, ddof=ddof), [x])
    with warnings.catch_warnings():  # n - ddof <= 0: NaN, like NumPy (which warns)
        warnings.simplefilter("ignore")
        check_reference(lambda a: sg.var(a, 0, ddof=3), lambda a: np.var(a, 0, ddof=3), [x])


def test_mean_with_static_shape_uses_no_runtime_shape(rng):
    x = sg.tensor("x", dtype="float32", shape=(3, 4))
    listing = str(sg.Graph([x], [sg.mean(x, 0)]))
    assert "shape" not in listing and "float32" in listing
    y = sg.tensor("y", dtype="float32", shape=(None, 4))
    value = rng.standard_normal((5, 4)).astype("float32")
    out = sg.function([y], sg.mean(y, 0))(value)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, value.mean(0), rtol=1e-6)


def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1001.0]])
    expected = scipy.special.logsumexp(x, axis=1)
    assert np.isfinite(expected).all()
    for dtype in ("float32", "float64"):
        check_reference(lambda a: sg.logsumexp(a, -1), lambda a: expected.astype(dtype),
                            [x.astype(dtype)])


# -- every backend: representative inputs, all reductions in one compiled function ------------

def _reductions_of(dtype: str) -> list:
    """(symgraph, NumPy) pairs: each reduction NumPy defines for `dtype`, over a few axes."""
    pairs = []
    for fn, ref, dtypes in REDUCTIONS:
        if dtype in dtypes.split():
            for axis, keep in ((None, False), (-1, True), ((0, 2), False)):
                pairs.append((lambda a, fn=fn, axis=axis, keep=keep: fn(a, axis, keepdims=keep),
                              lambda a, ref=ref, axis=axis, keep=keep: ref(a, axis=axis,
                                                                            keepdims=keep)))
    for fn, ref in ((sg.argmax, np.argmax), (sg.argmin, np.argmin)):
        pairs.append((lambda a, fn=fn: fn(a, 1), lambda a, ref=ref: ref(a, axis=1)))
        pairs.append((lambda a, fn=fn: fn(a), lambda a, ref=ref: ref(a)))
    pairs.append((lambda a: sg.cumsum(a, -1), lambda a: np.cumsum(a, axis=-1)))
    return pairs


@pytest.mark.parametrize("backend", BACKENDS)
def test_reductions_on_every_backend(backend, rng):
    for dtype in ("float32", "float64", "int32", "bool"):
        # Negative strides, from a slice in the graph: a strided input would compile the
        # function a second time (for its array layout), with the same kernels.
        pairs = [(lambda a, fn=fn: fn(a[:, ::-2]), lambda a, ref=ref: ref(a[:, ::-2]))
                 for fn, ref in _reductions_of(dtype)]
        tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {}
        check_all_against_numpy(pairs, [sample((2, 6, 4), dtype, rng)], backends=[backend],
                                **tol)
    empty = [(lambda a, fn=fn: fn(a, 0), lambda a, ref=ref: ref(a, axis=0)) for fn, ref in
             ((sg.sum, np.sum), (sg.prod, np.prod), (sg.any, np.any), (sg.all, np.all),
              (sg.logsumexp, np_logsumexp), (sg.cumsum, np.cumsum))]
    empty += [(lambda a, fn=fn: fn(a, 1), lambda a, ref=ref: ref(a, axis=1)) for fn, ref in
              ((sg.max, np.max), (sg.argmin, np.argmin))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty.append((lambda a: sg.mean(a, 0), lambda a: np.mean(a, axis=0)))
        check_all_against_numpy(empty, [np.zeros((0, 3))], backends=[backend])
    special = [(lambda a, fn=fn: fn(a, 1), lambda a, ref=ref: ref(a, axis=1)) for fn, ref in
               ((sg.sum, np.sum), (sg.max, np.max), (sg.min, np.min), (sg.argmax, np.argmax),
                (sg.argmin, np.argmin), (sg.logsumexp, np_logsumexp), (sg.cumsum, np.cumsum))]
    with np.errstate(all="ignore"):
        check_all_against_numpy(special, [NAN_INF], backends=[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_reduction_grads_on_every_backend(backend, rng):
    def cost(a):
        terms = [sg.sum(a, 1), sg.prod(a, 1), sg.mean(a, 1), sg.var(a, 1, ddof=1),
                 sg.std(a, 1), sg.max(a, 1), sg.min(a, 1), sg.logsumexp(a, 1),
                 sg.sum(sg.cumsum(a, 1), 1)]
        return sum(terms[1:], terms[0])
    check_grad(cost, [rng.permutation(12).reshape(3, 4) * 0.25 + 0.1], backend=backend)


# -- gradients --------------------------------------------------------------------------------

GRADS = [  # (function, input shapes, domain)
    (lambda x: sg.sum(x, (0, 2)), [(2, 3, 4)], "any"),
    (lambda x: sg.prod(x, -1, keepdims=True), [(3, 4)], "any"),
    (lambda x: sg.prod(x), [(2, 3)], "any"),
    (lambda x: sg.mean(x, 1), [(3, 4)], "any"),
    (lambda x: sg.mean(x, (0, 1), keepdims=True), [(2, 3, 2)], "any"),
    (lambda x: sg.var(x, 0), [(4, 3)], "any"),
    (lambda x: sg.var(x, -1, ddof=1, keepdims=True), [(2, 5)], "any"),
    (lambda x: sg.std(x), [(3, 4)], "any"),
    (lambda x: sg.std(x, (0, 2), ddof=1), [(3, 2, 4)], "any"),
    (lambda x: sg.max(x, -1), [(3, 4)], "distinct"),
    (lambda x: sg.min(x, (0, 1), keepdims=True), [(3, 4, 2)], "distinct"),
    (lambda x: sg.max(x), [()], "any"),
    (lambda x: sg.logsumexp(x, -1), [(3, 4)], "any"),
    (lambda x: sg.logsumexp(x, (0, 2), keepdims=True), [(2, 3, 2)], "any"),
    (lambda x: sg.cumsum(x, 0), [(4, 3)], "any"),
    (lambda x: sg.cumsum(x, -1), [(2, 3, 4)], "any"),
    (lambda x: sg.cumsum(x), [(5,)], "any"),
    (lambda x, y: sg.mean(x * y, 0), [(3, 4), (4,)], "any"),  # broadcast inside
] + ([(lambda x: sg.cumsum(x), [(3, 4)], "any")] if HAS_RESHAPE else [])


@pytest.mark.parametrize("fn,shapes,domain", GRADS)
def test_reduction_grads(fn, shapes, domain, rng):
    if domain == "distinct":  # max/min away from ties, where they are differentiable
        values = [rng.permutation(np.prod(s)).reshape(s) * 0.5 + 0.1 for s in shapes]
    else:
        values = [rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s) for s in shapes]
    check_grad(fn, values)


@pytest.mark.parametrize("x", [
    [2.0, 0.0, 3.0, 4.0],    # one zero: its gradient is the product of the others
    [0.0, 1.5, 0.0, -2.0],   # two zeros: every gradient is 0
    [0.0],                   # only a zero
    [1.5, -2.0, 0.5, 3.0],   # no zero
])
def test_prod_grad_with_zeros(x):
    x = np.array(x)
    expected = [np.prod(np.delete(x, i)) for i in range(x.size)]
    v = sg.vector("v", dtype="float64")
    got = sg.function([v], sg.grad(sg.prod(v), v))(x)
    np.testing.assert_allclose(got, expected)
    check_grad(lambda a: sg.prod(a), [x])


def test_prod_grad_with_zeros_along_an_axis():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    check_grad(lambda a: sg.prod(a, 1), [x])
    check_grad(lambda a: sg.prod(a, 0, keepdims=True), [x])


def test_max_min_ties_split_the_gradient_equally():
    x = sg.matrix("x", dtype="float64")
    value = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    g_max = sg.function([x], sg.grad(sg.sum(sg.max(x, 1)), x))(value)
    np.testing.assert_allclose(g_max, [[0, 0.5, 0.5, 0], [0.25, 0.25, 0.25, 0.25]])
    g_min = sg.function([x], sg.grad(sg.sum(sg.min(x)), x))(value)
    np.testing.assert_allclose(g_min, [[0, 0, 0, 1], [0, 0, 0, 0]])


def test_max_gradient_at_nan_goes_to_the_nans():
    x = sg.vector("x", dtype="float64")
    g = sg.function([x], sg.grad(sg.max(x), x))(np.array([1.0, np.nan, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])


def test_logsumexp_gradient_is_softmax_and_stable():
    x = sg.matrix("x", dtype="float64")
    value = np.array([[1000.0, 999.0, -1000.0], [-1000.0, -1000.0, -1001.0]])
    g = sg.function([x], sg.grad(sg.sum(sg.logsumexp(x, 1)), x))(value)
    np.testing.assert_allclose(g, scipy.special.softmax(value, axis=1), rtol=1e-12)


def test_integer_reductions_carry_no_gradient():
    x = sg.vector("x", dtype="float64")
    cost = sg.sum(x * sg.cast(sg.argmax(x), "float64"))
    g = sg.function([x], sg.grad(cost, x))(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(g, [1.0, 1.0, 1.0])


EAGER_CASES = [  # the same functions on eager tensors (after the eager branch is merged)
    (lambda x: sg.sum(x, 1), [(3, 4)]), (lambda x: sg.prod(x, 0), [(3, 4)]),
    (lambda x: sg.max(x, -1), [(3, 4)]), (lambda x: sg.min(x), [(3, 4)]),
    (lambda x: sg.mean(x, 0, keepdims=True), [(3, 4)]), (lambda x: sg.var(x, 1, ddof=1), [(3, 4)]),
    (lambda x: sg.std(x), [(3, 4)]), (lambda x: sg.logsumexp(x, 1), [(3, 4)]),
    (lambda x: sg.cumsum(x, 0), [(3, 4)]),
]

if HAS_EAGER:
    @pytest.mark.parametrize("fn,shapes", EAGER_CASES)
    def test_eager_matches_symbolic(fn, shapes, rng):
        check_eager_matches_symbolic(fn, [rng.permutation(np.prod(s)).reshape(s) * 0.1 + 0.05
                                          for s in shapes])
        x = sg.eager.tensor(rng.standard_normal((3, 4)))
        np.testing.assert_array_equal(sg.argmax(x, 1).numpy(), np.argmax(x.numpy(), 1))
        assert sg.all(x > -10).numpy().dtype == np.bool_


JACOBIANS = [  # batched rules: jacobians through reductions of unknown-shape inputs
    lambda x: sg.prod(x, 1), lambda x: sg.max(x, 0), lambda x: sg.min(x, -1, keepdims=True),
    lambda x: sg.logsumexp(x, 1), lambda x: sg.cumsum(x, 0), lambda x: sg.var(x, 1, ddof=1),
    lambda x: sg.std(x, 0, keepdims=True), lambda x: sg.mean(x, (0, 1)),
]

if HAS_JACOBIAN:
    @pytest.mark.parametrize("fn", JACOBIANS)
    def test_batched_jacobian(fn, rng):
        check_jacobian(fn, rng.permutation(12).reshape(3, 4) * 0.25 + 0.1)
