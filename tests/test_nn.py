"""sg.nn against NumPy/SciPy: softmax family (stable at ±1000), one_hot, relu, losses and
dropout, with gradients against finite differences."""

import numpy as np
import pytest
import scipy.special

import symgraph as sg
from helpers import (BACKENDS, check_against_numpy, check_all_against_numpy,
                     check_eager_matches_symbolic, check_grad, check_jacobian)

HAS_EAGER = hasattr(sg, "eager")  # from the eager branch, merged separately
HAS_JACOBIAN = hasattr(sg, "jacobian")  # from the grad branch, merged separately
REFERENCE = ["python"]


def check_reference(fn, np_fn, values, **tol):
    """The detailed tables run on the reference backend; every backend runs the compact
    `test_*_on_every_backend` cases (one compile per case), which keeps compiling backends
    within the suite's time budget."""
    check_against_numpy(fn, np_fn, values, backends=REFERENCE, **tol)

SOFTMAX = [(sg.nn.softmax, scipy.special.softmax), (sg.nn.log_softmax, scipy.special.log_softmax)]
SOFTMAX_CASES = [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -3),
                 ((0, 4), -1), ((1, 1), 0)]


@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
@pytest.mark.parametrize("fn,ref", SOFTMAX, ids=["softmax", "log_softmax"])
def test_softmax_table(fn, ref, shape, axis, rng):
    x = rng.standard_normal(shape) * 3
    for dtype in ("float64", "float32", "int32"):
        value = x.astype(dtype)
        expected = lambda a: ref(a, axis=axis).astype("float32" if dtype == "float32"
                                                      else "float64")
        check_reference(lambda a: fn(a, axis=axis), expected, [value],
                            **({"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {}))


@pytest.mark.parametrize("fn,ref", SOFTMAX, ids=["softmax", "log_softmax"])
def test_softmax_non_contiguous_and_nan_inf(fn, ref, rng):
    x = rng.standard_normal((6, 8))[::-2, ::3]
    check_reference(lambda a: fn(a, 0), lambda a: ref(a, axis=0), [x])
    special = np.array([[np.nan, 1.0, 2.0], [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 3.0]])
    with np.errstate(all="ignore"):
        check_reference(lambda a: fn(a), lambda a: ref(a, axis=-1), [special])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_family_is_stable_at_1000(dtype):
    x = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -999.0, -1000.0]], dtype)
    exact = scipy.special.softmax(x.astype("float64"), axis=-1)
    assert np.isfinite(exact).all()
    tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == "float32" else {}
    check_reference(sg.nn.softmax, lambda a: exact.astype(dtype), [x], **tol)
    log_exact = scipy.special.log_softmax(x.astype("float64"), axis=-1)
    check_reference(sg.nn.log_softmax, lambda a: log_exact.astype(dtype), [x], **tol)
    lse = scipy.special.logsumexp(x.astype("float64"), axis=-1)
    check_reference(lambda a: sg.nn.logsumexp(a, -1), lambda a: lse.astype(dtype), [x], **tol)
    v = sg.matrix("v", dtype=dtype)
    weights = np.array([1.0, 2.0, 3.0], dtype)
    grads = sg.function([v], [sg.grad(sg.sum(sg.nn.log_softmax(v) * weights), v),
                              sg.grad(sg.sum(sg.nn.softmax(v) * weights), v)])(x)
    y = scipy.special.softmax(x.astype("float64"), axis=-1)
    expected = [weights - y * weights.sum(), y * (weights - (y * weights).sum(-1, keepdims=True))]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [sg.nn.softmax, sg.nn.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((4,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_grad(fn, shape, axis, rng):
    check_grad(lambda a: fn(a, axis), [rng.standard_normal(shape)])


@pytest.mark.parametrize("fn", [sg.nn.softmax, sg.nn.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_is_empty(fn):
    # SciPy cannot do this one (no maximum of an empty axis); the result is simply empty.
    check_reference(fn, lambda a: np.zeros((3, 0)), [np.zeros((3, 0))])


NN = [  # (symgraph, NumPy) of logits x (4, 5), probabilities p (4, 5), labels y (4,)
    (lambda x, p, y: sg.nn.softmax(x), lambda x, p, y: scipy.special.softmax(x, -1)),
    (lambda x, p, y: sg.nn.softmax(x, 0), lambda x, p, y: scipy.special.softmax(x, 0)),
    (lambda x, p, y: sg.nn.log_softmax(x), lambda x, p, y: scipy.special.log_softmax(x, -1)),
    (lambda x, p, y: sg.nn.logsumexp(x, -1), lambda x, p, y: scipy.special.logsumexp(x, -1)),
    (lambda x, p, y: sg.nn.cross_entropy(x, y, reduction="none"),
     lambda x, p, y: np_cross_entropy(x, y)),
    (lambda x, p, y: sg.nn.cross_entropy(x, y), lambda x, p, y: np_cross_entropy(x, y).mean()),
    (lambda x, p, y: sg.nn.binary_cross_entropy(p, p * 0 + 0.25, reduction="none"),
     lambda x, p, y: np_bce(p, p * 0 + 0.25)),
    (lambda x, p, y: sg.nn.binary_cross_entropy(x, p, from_logits=True),
     lambda x, p, y: np.mean(np.logaddexp(0, x) - x * p)),
    (lambda x, p, y: sg.nn.one_hot(y, 5, x.dtype), lambda x, p, y: np.eye(5, dtype=x.dtype)[y]),
    (lambda x, p, y: sg.nn.relu(x), lambda x, p, y: np.maximum(x, 0)),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_nn_on_every_backend(backend, rng):
    for dtype, scale in (("float64", 3), ("float32", 3), ("float64", 1000)):  # 1000: stability
        x = (rng.standard_normal((5, 10))[::-1, ::2][:4] * scale).astype(dtype)
        p = rng.uniform(0.05, 0.95, (4, 5)).astype(dtype)
        y = rng.integers(0, 5, 4)
        expected = [ref(x.astype("float64"), p.astype("float64"), y) for _, ref in NN]
        pairs = [(fn, lambda x, p, y, e=e: np.asarray(e).astype(dtype)) for (fn, _), e in
                 zip(NN, expected)]
        tol = {"rtol": 1e-5, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10}
        check_all_against_numpy(pairs, [x, p, y], backends=[backend], **tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nn_grads_on_every_backend(backend, rng):
    labels = sg.constant(np.array([1, 0, 3]))
    check_grad(lambda x, t: sg.nn.softmax(x) + sg.nn.log_softmax(x, 0) + sg.nn.relu(x)
               + sg.expand_dims(sg.nn.cross_entropy(x, labels, reduction="none"), 1)
               + sg.nn.binary_cross_entropy(x, t, from_logits=True),
               [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))], backend=backend)


def test_softmax_errors():
    with pytest.raises(sg.ShapeError, match="softmax: axis 2 is out of range"):
        sg.nn.softmax(sg.matrix("x"), axis=2)
    with pytest.raises(sg.ShapeError, match="log_softmax"):
        sg.nn.log_softmax(sg.scalar("s"))


def test_reexported_activations_are_the_elementwise_functions(rng):
    assert sg.nn.sigmoid is sg.sigmoid and sg.nn.softplus is sg.softplus
    assert sg.nn.logsumexp is sg.logsumexp
    x = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
    check_reference(sg.nn.sigmoid, scipy.special.expit, [x])
    check_reference(sg.nn.softplus, lambda a: np.logaddexp(0, a), [x])


def test_relu(rng):
    x = np.array([-2.0, -0.0, 0.0, 1.5, np.inf, -np.inf, np.nan])
    for dtype in ("float32", "float64"):
        check_reference(sg.nn.relu, lambda a: np.maximum(a, 0), [x.astype(dtype)])
    check_reference(sg.nn.relu, lambda a: np.maximum(a, 0), [np.arange(-3, 3, dtype="int32")])
    check_reference(sg.nn.relu, lambda a: np.maximum(a, 0), [np.zeros((0, 2))])
    check_grad(sg.nn.relu, [np.array([[-1.5, 0.5], [2.0, -0.25]])])
    v = sg.vector("v", dtype="float64")
    g = sg.function([v], sg.grad(sg.sum(sg.nn.relu(v)), v))(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])  # the gradient at 0 is 0


@pytest.mark.parametrize("labels,n,dtype", [
    (np.array([0, 2, 1, 3], "int32"), 4, None), (np.array([[1, 0], [2, 2]], "int64"), 3, "int8"),
    (np.array(1, "uint8"), 2, "float64"), (np.zeros(0, "int64"), 3, "bool"),
    (np.array([-1, 5, 1]), 3, "float32"),  # out of range: a row of zeros
])
def test_one_hot(labels, n, dtype):
    eye = np.concatenate([np.eye(n), np.zeros((1, n))])  # row n: all zeros
    safe = np.where((labels >= 0) & (labels < n), labels, n)
    expected = eye[safe].astype(sg.config.floatX if dtype is None else dtype)
    check_reference(lambda a: sg.nn.one_hot(a, n, dtype), lambda a: expected, [labels])


def test_one_hot_refuses_float_labels():
    with pytest.raises(sg.DTypeError, match="one_hot: labels must be integers"):
        sg.nn.one_hot(sg.vector("y"), 3)


def np_cross_entropy(logits, labels):
    logp = scipy.special.log_softmax(logits, axis=-1)
    return -np.take_along_axis(logp, labels[..., None], -1)[..., 0]


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,), (1, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy(shape, dtype, rng):
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    labels = rng.integers(0, shape[-1], shape[:-1]).astype("int32")
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {}
    per_example = lambda x, y: np_cross_entropy(x, y).astype(dtype)
    check_reference(sg.nn.cross_entropy, lambda x, y: np.mean(per_example(x, y)),
                        [logits, labels], **tol)
    check_reference(lambda x, y: sg.nn.cross_entropy(x, y, reduction="none"),
                        per_example, [logits, labels], **tol)
    check_reference(lambda x, y: sg.nn.cross_entropy(x, y, reduction="sum"),
                        lambda x, y: np.sum(per_example(x, y)), [logits, labels], **tol)


def test_cross_entropy_broadcasts_logits_against_labels(rng):
    logits = rng.standard_normal((3, 4))[:, ::-1]      # negative strides too
    labels = np.array([[0, 1, 3], [2, 2, 0]])          # (2, 3) against logits' batch (3,)
    per_example = lambda x, y: np_cross_entropy(np.broadcast_to(x, (2, 3, 4)), y)
    check_reference(lambda x, y: sg.nn.cross_entropy(x, y, reduction="none"), per_example,
                        [logits, labels])
    check_grad(lambda x: sg.nn.cross_entropy(x, sg.constant(labels)), [logits])


def test_cross_entropy_is_stable_at_1000():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    labels = np.array([1, 2])
    expected = np.mean([2000.0, 0.0])
    check_reference(sg.nn.cross_entropy, lambda x, y: expected, [logits, labels])


@pytest.mark.parametrize("static_classes", [True, False])
def test_cross_entropy_gradient_is_softmax_minus_one_hot(static_classes, rng):
    n, classes = 6, 4
    x = sg.tensor("x", dtype="float64", shape=(None, classes if static_classes else None))
    y = sg.vector("y", dtype="int64")
    logits = rng.standard_normal((n, classes)) * 50  # large: the rule must stay exact
    labels = rng.integers(0, classes, n)
    g = sg.function([x, y], sg.grad(sg.nn.cross_entropy(x, y), x))(logits, labels)
    expected = (scipy.special.softmax(logits, axis=1) - np.eye(classes)[labels]) / n
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 3)])
def test_cross_entropy_check_grad(shape, rng):
    labels = rng.integers(0, shape[-1], shape[:-1])
    check_grad(lambda x: sg.nn.cross_entropy(x, sg.constant(labels)), [rng.standard_normal(shape)])


def test_cross_entropy_errors():
    x = sg.matrix("x")
    with pytest.raises(sg.DTypeError, match="labels must be integers"):
        sg.nn.cross_entropy(x, sg.vector("t"))
    with pytest.raises(sg.ShapeError, match="cannot broadcast"):
        sg.nn.cross_entropy(sg.tensor("z", shape=(3, 4)), sg.tensor("l", "int64", shape=(5,)))
    f = sg.function([x, y := sg.vector("y", dtype="int64")], sg.nn.cross_entropy(x, y))
    with pytest.raises(sg.ShapeError, match=r"labels must be in \[0, 3\)"):
        f(np.zeros((2, 3), "float32"), np.array([0, 3]))



def _loss_and_logit_gradient(logits_shape, labels_shape, dtype="float64"):
    """The loss and the logits' gradient of a cross-entropy, both in one function: the
    graph needs softmax(x) (for the gradient) beside the loss."""
    x = sg.tensor("x", dtype=dtype, shape=(None,) * len(logits_shape))
    y = sg.tensor("y", dtype="int64", shape=(None,) * len(labels_shape))
    loss = sg.nn.cross_entropy(x, y, reduction="sum")
    return [x, y], [loss, sg.grad(loss, x)]


@pytest.mark.parametrize("logits_shape,labels_shape", [
    ((6, 4), (6,)), ((1, 4), (6,)), ((2, 3, 4), (2, 3)), ((3, 4), (2, 3)), ((4,), ())])
@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_and_gradient_share_one_log_softmax(logits_shape, labels_shape, backend, rng):
    inputs, outputs = _loss_and_logit_gradient(logits_shape, labels_shape)
    logits = rng.standard_normal(logits_shape) * 30
    labels = rng.integers(0, logits_shape[-1], labels_shape)
    f = sg.function(inputs, outputs, backend=backend)
    assert f.rewrites["share_log_softmax.cross_entropy"] == 1
    ops = [n.op.name for n in f.graph.nodes if not n.is_leaf]
    assert "neg_log_likelihood" in ops and ops.count("log_softmax") == 1
    assert "softmax_cross_entropy" not in ops and "softmax" not in ops
    full = np.broadcast_shapes(logits_shape[:-1], labels_shape) + logits_shape[-1:]
    wide = np.broadcast_to(logits, full)
    loss, grad = f(logits, labels)
    np.testing.assert_allclose(loss, np_cross_entropy(wide, labels).sum(), rtol=1e-12)
    one_hot = np.eye(logits_shape[-1])[labels]
    expected = scipy.special.softmax(wide, axis=-1) - one_hot  # summed back to x's shape
    expected = expected.reshape((-1,) + logits.shape).sum(0) if expected.shape != \
        logits.shape else expected
    np.testing.assert_allclose(grad, expected, rtol=1e-10, atol=1e-14)
    unshared = sg.function(inputs, outputs, backend="python", optimize=False)(logits, labels)
    np.testing.assert_allclose(loss, unshared[0], rtol=1e-12)
    np.testing.assert_allclose(grad, unshared[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shared_log_softmax_still_refuses_a_label_out_of_range(backend):
    inputs, outputs = _loss_and_logit_gradient((2, 3), (2,), "float32")
    f = sg.function(inputs, outputs, backend=backend)
    assert f.rewrites["share_log_softmax.cross_entropy"] == 1
    logits = np.zeros((2, 3), "float32")
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(sg.ShapeError, match=r"softmax_cross_entropy: labels must be in "
                                                r"\[0, 3\).*test_nn.py:\d+"):
            f(logits, np.array(bad))
    loss, grad = f(logits, np.array([0, 2]))
    assert loss == pytest.approx(2 * np.log(3), rel=1e-6)


def test_a_loss_alone_or_a_softmax_on_another_axis_is_left_alone():
    x, y = sg.matrix("x", dtype="float64"), sg.vector("y", dtype="int64")
    alone = sg.function([x, y], sg.nn.cross_entropy(x, y), backend="python")
    other_axis = sg.function([x, y], [sg.nn.cross_entropy(x, y), sg.nn.softmax(x, axis=0)],
                             backend="python")
    for f in (alone, other_axis):
        assert "share_log_softmax.cross_entropy" not in f.rewrites
        assert any(n.op.name == "softmax_cross_entropy" for n in f.graph.nodes
                   if not n.is_leaf)


@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 3)])
def test_neg_log_likelihood_gradient(shape, rng):
    from symgraph.apply import apply
    from symgraph.ops.nn import NegLogLikelihood

    labels = rng.integers(0, shape[-1], shape[:-1])
    check_grad(lambda x: apply(NegLogLikelihood(), x, sg.constant(labels)),
               [rng.standard_normal(shape)])
    picked = lambda x: -np.take_along_axis(x, labels[..., None], -1)[..., 0]
    check_against_numpy(lambda x: apply(NegLogLikelihood(), x, sg.constant(labels)), picked,
                        [rng.standard_normal(shape).astype("float32")])

def np_bce(p, t):
    return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy(dtype, rng):
    p = rng.uniform(0.05, 0.95, (4, 3)).astype(dtype)
    t = (rng.random((4, 3)) > 0.5).astype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {}
    check_reference(sg.nn.binary_cross_entropy, lambda a, b: np.mean(np_bce(a, b)), [p, t],
                        **tol)
    logits = scipy.special.logit(p.astype("float64")).astype(dtype)
    check_reference(lambda a, b: sg.nn.binary_cross_entropy(a, b, from_logits=True,
                                                                reduction="none"),
                        lambda a, b: np_bce(p, b), [logits, t], rtol=1e-4, atol=1e-5)
    check_reference(lambda a, b: sg.nn.binary_cross_entropy(a, b, reduction="sum"),
                        lambda a, b: np.sum(np_bce(a, b)), [p, t], **tol)


def test_binary_cross_entropy_extremes_are_finite():
    p, t = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    check_reference(lambda a, b: sg.nn.binary_cross_entropy(a, b, reduction="none"),
                        lambda a, b: np.array([100.0, 100.0, 0.0, 0.0]), [p, t])
    logits = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    check_reference(
        lambda a, b: sg.nn.binary_cross_entropy(a, b, from_logits=True, reduction="none"),
        lambda a, b: np.array([0.0, 0.0, 1000.0, 1000.0]), [logits, np.array([1.0, 0, 0, 1])])


def test_binary_cross_entropy_grads(rng):
    p = rng.uniform(0.1, 0.9, (3, 2))
    t = rng.uniform(0, 1, (3, 2))
    check_grad(sg.nn.binary_cross_entropy, [p, t])
    check_grad(lambda a, b: sg.nn.binary_cross_entropy(a, b, from_logits=True), [p * 4 - 2, t])
    x = sg.vector("x", dtype="float64")
    labels = np.array([1.0, 0.0, 1.0])
    g = sg.function([x], sg.grad(sg.nn.binary_cross_entropy(x, labels, True, "sum"), x))
    logits = np.array([0.3, -2.0, 40.0])
    np.testing.assert_allclose(g(logits), scipy.special.expit(logits) - labels)


def test_loss_reduction_is_checked():
    with pytest.raises(sg.SymgraphError, match="reduction must be"):
        sg.nn.cross_entropy(sg.matrix("x"), sg.vector("y", dtype="int32"), reduction="avg")


def test_dropout(rng):
    stream = sg.random.RandomStream(7)
    x = sg.matrix("x", dtype="float64")
    assert sg.nn.dropout(x, 0.5, stream, training=False) is x
    assert sg.nn.dropout(x, 0.0, stream) is x
    y = sg.nn.dropout(x, 0.25, stream)
    f = sg.function([x], [y, sg.grad(sg.sum(y), x)])
    value = rng.uniform(1, 2, (100, 100))
    out, g = f(value)
    kept = out != 0
    assert out.dtype == np.float64 and out.shape == value.shape
    np.testing.assert_allclose(out[kept], value[kept] / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(g, kept / 0.75)   # the gradient passes the same mask
    out2, _ = f(value)
    assert (out2 != out).any()                    # a fresh mask on each call
    with pytest.raises(sg.SymgraphError, match="p must be in"):
        sg.nn.dropout(x, 1.0, stream)
    with pytest.raises(sg.SymgraphError, match="stream"):
        sg.nn.dropout(x, 0.5)


EAGER_CASES = [  # the same functions on eager tensors (after the eager branch is merged)
    (lambda x: sg.nn.softmax(x), [(3, 4)]), (lambda x: sg.nn.log_softmax(x, 0), [(3, 4)]),
    (lambda x: sg.nn.cross_entropy(x, np.array([0, 3, 1])), [(3, 4)]),
    (lambda x, t: sg.nn.binary_cross_entropy(x, t, from_logits=True), [(3, 4), (3, 4)]),
    (lambda x: sg.nn.relu(x), [(3, 4)]),
]

if HAS_EAGER:
    @pytest.mark.parametrize("fn,shapes", EAGER_CASES)
    def test_eager_matches_symbolic(fn, shapes, rng):
        check_eager_matches_symbolic(fn, [rng.standard_normal(s) for s in shapes])
        hot = sg.nn.one_hot(sg.eager.tensor(np.array([0, 2])), 3)
        np.testing.assert_array_equal(hot.numpy(), np.eye(3, dtype=sg.config.floatX)[[0, 2]])

    def test_eager_dropout(rng):
        x = sg.eager.tensor(rng.uniform(1, 2, (50, 40)), requires_grad=True)
        stream = sg.random.RandomStream(3)
        out = sg.nn.dropout(x, 0.5, stream)
        sg.sum(out).backward()
        kept = out.numpy() != 0
        assert abs(kept.mean() - 0.5) < 0.05
        np.testing.assert_allclose(out.numpy()[kept], 2 * x.numpy()[kept])
        np.testing.assert_allclose(x.grad.numpy(), 2 * kept)
        assert (sg.nn.dropout(x, 0.5, stream).numpy() != out.numpy()).any()


if HAS_JACOBIAN:
    @pytest.mark.parametrize("fn", [
        lambda x: sg.nn.softmax(x), lambda x: sg.nn.softmax(x, 0),
        lambda x: sg.nn.log_softmax(x, 0),
        lambda x: sg.nn.cross_entropy(x, np.array([0, 3, 1]), reduction="none"),
    ])
    def test_batched_jacobian(fn, rng):
        check_jacobian(fn, rng.standard_normal((3, 4)))
