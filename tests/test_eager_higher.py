"""Higher-order eager gradients: `create_graph=True` records the backward pass, so
gradients of gradients work. Checked against analytic second derivatives, finite
differences of the eager first derivative, `sg.hessian` and `sg.grad` of `sg.grad`."""

import numpy as np
import pytest

import symgraph as sg
from helpers import numeric_grad
from symgraph.eager import tensor

X = np.array([0.3, -1.2, 2.0, 0.7])

# (name, f as sg code, f'' analytic in NumPy, domain transform of X)
SECOND = [
    ("sin", lambda x: sg.sin(x), lambda v: -np.sin(v), lambda v: v),
    ("exp", lambda x: sg.exp(x * 0.5), lambda v: 0.25 * np.exp(v * 0.5), lambda v: v),
    ("tanh", lambda x: sg.tanh(x), lambda v: -2 * np.tanh(v) / np.cosh(v) ** 2, lambda v: v),
    ("cube", lambda x: x * x * x, lambda v: 6 * v, lambda v: v),
    ("pow", lambda x: x ** 3.0, lambda v: 6 * v, lambda v: np.abs(v) + 0.1),
    ("log", lambda x: sg.log(x), lambda v: -1 / v ** 2, lambda v: np.abs(v) + 0.1),
    ("reciprocal", lambda x: 1.0 / x, lambda v: 2 / v ** 3, lambda v: np.abs(v) + 0.5),
    ("sqrt", lambda x: sg.sqrt(x), lambda v: -0.25 * v ** -1.5, lambda v: np.abs(v) + 0.5),
    ("x_sin_x", lambda x: x * sg.sin(x), lambda v: 2 * np.cos(v) - v * np.sin(v), lambda v: v),
    ("sigmoid", lambda x: sg.nn.sigmoid(x),
     lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s), lambda v: v),
]


@pytest.mark.parametrize("name,f,d2,domain", SECOND, ids=[s[0] for s in SECOND])
def test_second_derivative_of_scalar_functions(name, f, d2, domain):
    v = domain(X)
    x = tensor(v, requires_grad=True)
    (g,) = sg.eager.grad(sg.sum(f(x)), [x], create_graph=True)
    assert g.requires_grad and not g.is_leaf  # the backward pass is on the tape
    (h,) = sg.eager.grad(sg.sum(g), [x])
    assert h.dtype == "float64" and h.shape == v.shape
    np.testing.assert_allclose(h.numpy(), d2(v), rtol=1e-10, atol=1e-12)

    def first(w):  # the eager first derivative, differentiated by central differences
        t = tensor(w, requires_grad=True)
        return sg.eager.grad(sg.sum(f(t)), t).numpy()

    fd = np.array([numeric_grad(lambda w: first(w)[i], [v])[0][i] for i in range(len(v))])
    np.testing.assert_allclose(h.numpy(), fd, rtol=1e-5, atol=1e-6)


def test_backward_create_graph_gives_grad_a_history():
    x = tensor(X, requires_grad=True)
    sg.sum(x * x * x).backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and not first.is_leaf
    np.testing.assert_allclose(first.numpy(), 3 * X ** 2, rtol=1e-14)
    x.grad = None
    sg.sum(first).backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * X, rtol=1e-14)


def test_third_derivative():
    x = tensor(X, requires_grad=True)
    y = sg.sum(x ** 4.0)
    (g1,) = sg.eager.grad(y, [x], create_graph=True)
    (g2,) = sg.eager.grad(sg.sum(g1), [x], create_graph=True)
    (g3,) = sg.eager.grad(sg.sum(g2), [x])
    np.testing.assert_allclose(g1.numpy(), 4 * X ** 3, rtol=1e-13)
    np.testing.assert_allclose(g2.numpy(), 12 * X ** 2, rtol=1e-13)
    np.testing.assert_allclose(g3.numpy(), 24 * X, rtol=1e-13)


def _model(w, b, a, inputs):
    """A small scalar cost with a matrix product, broadcasting, a reduction, tanh."""
    hidden = sg.tanh(sg.matmul(inputs, w) + b)
    return sg.sum(hidden * hidden) * 0.5 + sg.sum(sg.exp(w * a))


def _data():
    rng = np.random.default_rng(3)
    return (rng.standard_normal((3, 2)) * 0.5, rng.standard_normal(2) * 0.1,
            rng.standard_normal((3, 2)) * 0.3, rng.standard_normal((4, 3)))


def test_hessian_vector_product_matches_sg_hessian():
    w0, b0, a0, inputs0 = _data()
    v = np.random.default_rng(4).standard_normal(w0.shape)
    w = tensor(w0, requires_grad=True)
    cost = _model(w, tensor(b0), tensor(a0), tensor(inputs0))
    (g,) = sg.eager.grad(cost, [w], create_graph=True)
    (hvp,) = sg.eager.grad(sg.sum(g * tensor(v)), [w])

    ws = sg.matrix("w", dtype="float64")
    hess = sg.hessian(_model(ws, sg.constant(b0), sg.constant(a0), sg.constant(inputs0)), ws)
    full = sg.function([ws], hess, backend="python")(w0)  # shape (3, 2, 3, 2)
    want = np.tensordot(full, v, axes=2)
    assert hvp.shape == w0.shape and hvp.dtype == "float64"
    np.testing.assert_allclose(hvp.numpy(), want, rtol=1e-12, atol=1e-14)


def test_grad_of_grad_equals_symbolic_grad_of_grad():
    w0, b0, a0, inputs0 = _data()
    b = tensor(b0, requires_grad=True)
    w = tensor(w0, requires_grad=True)
    cost = _model(w, b, tensor(a0), tensor(inputs0))
    gw, gb = sg.eager.grad(cost, [w, b], create_graph=True)
    mixed = sg.sum(gw * gw) + sg.sum(sg.sin(gb))  # a scalar of the first derivatives
    dw, db = sg.eager.grad(mixed, [w, b])

    ws, bs = sg.matrix("w", dtype="float64"), sg.vector("b", dtype="float64")
    sym_cost = _model(ws, bs, sg.constant(a0), sg.constant(inputs0))
    sgw, sgb = sg.grad(sym_cost, [ws, bs])
    sym_mixed = sg.sum(sgw * sgw) + sg.sum(sg.sin(sgb))
    want = sg.function([ws, bs], sg.grad(sym_mixed, [ws, bs]), backend="python")(w0, b0)
    np.testing.assert_allclose(dw.numpy(), want[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db.numpy(), want[1], rtol=1e-12, atol=1e-14)


def test_create_graph_through_broadcasting_and_casts():
    x = tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    cost = sg.sum(sg.sin(x * y) * y)  # x broadcast over rows, y over columns: sum_like runs
    gx, gy = sg.eager.grad(cost, [x, y], create_graph=True)
    assert gx.shape == (3,) and gy.shape == (2, 1)
    (dx,) = sg.eager.grad(sg.sum(gx), [x])  # d/dx sum_j sum_i y_i^2 cos(x_j y_i)
    yy = np.array([1.0, 2.0])[:, None]
    want = -(yy ** 3 * np.sin(x.numpy() * yy)).sum(axis=0)
    np.testing.assert_allclose(dx.numpy(), want, rtol=1e-13)


def test_float32_second_derivative_keeps_dtype():
    x = tensor(np.array([0.5, 1.5], "float32"), requires_grad=True)
    (g,) = sg.eager.grad(sg.sum(sg.exp(x * 2.0)), [x], create_graph=True)
    (h,) = sg.eager.grad(sg.sum(g), [x])
    assert g.dtype == "float32" and h.dtype == "float32"
    np.testing.assert_allclose(h.numpy(), 4 * np.exp(2 * x.numpy()), rtol=1e-6)


# -- sg.eager.grad: the functional form ----------------------------------------------------

def test_grad_leaves_dot_grad_alone_and_returns_a_list_for_a_list():
    x = tensor(X, requires_grad=True)
    x.grad = tensor(np.ones(4))
    y = sg.sum(x * x)
    g = sg.eager.grad(y, x, retain_graph=True)
    assert isinstance(g, sg.eager.Tensor)
    np.testing.assert_allclose(g.numpy(), 2 * X)
    (g2,) = sg.eager.grad(y, [x])
    np.testing.assert_allclose(g2.numpy(), 2 * X)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))  # untouched


def test_grad_of_an_intermediate_value():
    x = tensor(X, requires_grad=True)
    h = sg.sin(x)
    y = sg.sum(h * h)
    gh, gx = sg.eager.grad(y, [h, x])
    np.testing.assert_allclose(gh.numpy(), 2 * np.sin(X), rtol=1e-14)
    np.testing.assert_allclose(gx.numpy(), 2 * np.sin(X) * np.cos(X), rtol=1e-14)


def test_grad_several_outputs_and_grad_outputs():
    x = tensor(X, requires_grad=True)
    a, b = x * 2.0, sg.sin(x)
    seed = np.array([1.0, 0.0, -1.0, 2.0])
    (g,) = sg.eager.grad([a, sg.sum(b)], [x], grad_outputs=[seed, None])
    np.testing.assert_allclose(g.numpy(), 2 * seed + np.cos(X), rtol=1e-14)
    with pytest.raises(sg.GradientError, match="one-element"):
        sg.eager.grad(a, [x])
    with pytest.raises(ValueError, match="grad_outputs"):
        sg.eager.grad([a, b], [x], grad_outputs=[seed])


def test_grad_disconnected_inputs():
    x = tensor(X, requires_grad=True)
    z = tensor(np.ones(2), requires_grad=True)
    y = sg.sum(x * 3.0)
    with pytest.raises(sg.GradientError, match="do not depend"):
        sg.eager.grad(y, [x, z], retain_graph=True)
    gx, gz = sg.eager.grad(y, [x, z], disconnected="zero", retain_graph=True)
    np.testing.assert_array_equal(gz.numpy(), np.zeros(2))
    assert sg.eager.grad(y, [x, z], disconnected="ignore")[1] is None
    with pytest.raises(ValueError, match="disconnected"):
        sg.eager.grad(y, [x], disconnected="nope")
    with pytest.raises(sg.GradientError, match="eager tensors"):
        sg.eager.grad(y, [sg.vector("v")])


def test_create_graph_keeps_the_tape_unless_told_otherwise():
    x = tensor(X, requires_grad=True)
    y = sg.sum(sg.exp(x))
    (g,) = sg.eager.grad(y, [x], create_graph=True)
    (again,) = sg.eager.grad(y, [x])  # the tape was kept (retain_graph follows create_graph)
    np.testing.assert_allclose(again.numpy(), g.numpy())
    with pytest.raises(sg.GradientError, match="already freed"):
        sg.eager.grad(y, [x])
    x2 = tensor(X, requires_grad=True)
    y2 = sg.sum(sg.sin(x2) * x2)
    (g2,) = sg.eager.grad(y2, [x2], create_graph=True, retain_graph=False)
    with pytest.raises(sg.GradientError, match="already freed"):  # g2's history needs it
        sg.eager.grad(sg.sum(g2), [x2])


def test_without_create_graph_gradients_have_no_history():
    x = tensor(X, requires_grad=True)
    (g,) = sg.eager.grad(sg.sum(sg.sin(x) * x), [x])
    assert not g.requires_grad and g.is_leaf
    with pytest.raises(sg.GradientError, match="does not require"):
        sg.eager.grad(sg.sum(g), [x])


def test_create_graph_with_a_multi_output_op():
    from test_eager import sincos

    x = tensor(X, requires_grad=True)
    s, c = sincos(x)
    (g,) = sg.eager.grad(sg.sum(s * c), [x], create_graph=True)  # cos(2x)
    np.testing.assert_allclose(g.numpy(), np.cos(2 * X), rtol=1e-13)
    (h,) = sg.eager.grad(sg.sum(g), [x])
    np.testing.assert_allclose(h.numpy(), -2 * np.sin(2 * X), rtol=1e-12)


def test_grad_mode_is_restored_after_a_pass():
    x = tensor(X, requires_grad=True)
    y = sg.sum(x * x)
    with sg.eager.no_grad():
        (g,) = sg.eager.grad(y, [x], create_graph=True)
        assert not sg.eager.is_grad_enabled() and not (x * x).requires_grad
    assert g.requires_grad  # the pass itself records, as asked
    (g,) = sg.eager.grad(sg.sum(x * x), [x])
    assert sg.eager.is_grad_enabled() and (x * x).requires_grad
