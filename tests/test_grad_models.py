"""Gradients of small models written with the public API (matmul, sg.nn): closed forms,
the Hessian of an MLP against finite differences, Hessian-vector products, the Jacobian of
softmax. Needs matmul, reductions and sg.nn (branch ops-a)."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.testing import verify_grad


def run(outputs, inputs, *values):
    return sg.function(list(inputs), outputs, backend="python")(*values)


def numeric_jacobian(f, x, eps=1e-6):
    """d f(x)[i…] / d x[j…] by central differences, shape f(x).shape + x.shape."""
    columns = []
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        columns.append((np.asarray(f(plus)) - np.asarray(f(minus))) / (2 * eps))
    return np.stack(columns, axis=-1).reshape(np.shape(f(x)) + x.shape)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_regression_gradient_is_the_closed_form(dtype, rng):
    X, w, y = sg.matrix("X", dtype), sg.vector("w", dtype), sg.vector("y", dtype)
    cost = sg.nn.binary_cross_entropy(X @ w, y, from_logits=True)
    gw = sg.grad(cost, w)
    residual = sg.sigmoid(X @ w) - y
    closed = residual @ X / sg.sum(sg.ones_like(residual))  # X.T @ (p - y) / n
    at_x = rng.standard_normal((7, 3)).astype(dtype)
    at_w = rng.standard_normal(3).astype(dtype)
    at_y = (rng.uniform(size=7) > 0.5).astype(dtype)
    got, symbolic_closed = run([gw, closed], [X, w, y], at_x, at_w, at_y)
    want = at_x.T.astype("float64") @ (sigmoid(at_x @ at_w.astype("float64")) - at_y) / 7
    assert got.dtype == dtype and got.shape == (3,)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(got, symbolic_closed, **tol)


def mlp_loss(w1, b1, w2, data, labels):
    hidden = sg.tanh(data @ w1 + b1)
    log_p = sg.nn.log_softmax(hidden @ w2, axis=-1)
    return -sg.mean(sg.sum(log_p * sg.nn.one_hot(labels, 2, "float64"), axis=-1))


def test_hessian_of_an_mlp_loss_matches_finite_differences(rng):
    data = rng.standard_normal((5, 3))
    labels = rng.integers(0, 2, 5)
    params = [rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.standard_normal((4, 2)) * 0.5]
    variables = [sg.tensor(name, "float64", p.shape) for name, p in
                 zip(["w1", "b1", "w2"], params)]
    cost = mlp_loss(*variables, sg.constant(data), sg.constant(labels))
    blocks = sg.hessian(cost, variables)
    f_grads = sg.function(variables, sg.grad(cost, variables), backend="python")
    got = run([b for row in blocks for b in row], variables, *params)
    for i in range(3):
        for j in range(3):
            def grad_i(v, i=i, j=j):
                return f_grads(*params[:j], v, *params[j + 1:])[i]
            want = numeric_jacobian(grad_i, params[j])
            assert got[3 * i + j].shape == params[i].shape + params[j].shape
            np.testing.assert_allclose(got[3 * i + j], want, rtol=1e-5, atol=1e-7)
    full = np.block([[got[3 * i + j].reshape(params[i].size, params[j].size)
                      for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(full, full.T, atol=1e-12)


def test_mlp_gradient_and_hessian_vector_product(rng):
    data = sg.constant(rng.standard_normal((6, 3)))
    labels = sg.constant(rng.integers(0, 2, 6))
    w1 = sg.tensor("w1", "float64", (3, 4))
    v = sg.tensor("v", "float64", (3, 4))
    b1, w2 = sg.constant(np.zeros(4)), sg.constant(rng.standard_normal((4, 2)))
    cost = mlp_loss(w1, b1, w2, data, labels)
    hvp = sg.jvp(sg.grad(cost, w1), w1, v)
    at, direction = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((3, 4))
    hess = run(sg.hessian(cost, w1), [w1], at).reshape(12, 12)
    np.testing.assert_allclose(run(hvp, [w1, v], at, direction).reshape(12),
                               hess @ direction.reshape(12), rtol=1e-10, atol=1e-12)
    verify_grad(lambda a: mlp_loss(a, b1, w2, data, labels), [at])


def test_cross_entropy_gradient_is_softmax_minus_one_hot(rng):
    logits = sg.matrix("logits", "float64")
    labels = sg.vector("labels", "int64")
    g = sg.grad(sg.nn.cross_entropy(logits, labels), logits)
    at, at_labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    soft = np.exp(at) / np.exp(at).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(run(g, [logits, labels], at, at_labels),
                               (soft - np.eye(3)[at_labels]) / 4, rtol=1e-12, atol=1e-14)


def test_jacobian_of_softmax(rng):
    x = sg.tensor("x", "float64", (4,))
    jac = sg.jacobian(sg.nn.softmax(x), x)
    at = rng.standard_normal(4)
    s = np.exp(at) / np.exp(at).sum()
    np.testing.assert_allclose(run(jac, [x], at), np.diag(s) - np.outer(s, s),
                               rtol=1e-12, atol=1e-14)


def test_jacobian_through_matmul_of_unknown_length(rng):
    # W @ x with every size unknown: one batched pass (matmul's rule declares vjp_batches).
    w, x = sg.matrix("w", "float64"), sg.vector("x", "float64")
    jac = sg.jacobian(sg.tanh(w @ x), x)
    assert jac.type.shape == (None, None)
    at_w, at_x = rng.standard_normal((2, 3)), rng.standard_normal(3)
    want = (1 - np.tanh(at_w @ at_x) ** 2)[:, None] * at_w
    np.testing.assert_allclose(run(jac, [w, x], at_w, at_x), want, rtol=1e-12)
    hess = sg.hessian(sg.sum(sg.nn.softmax(w @ x) * np.array([1.0, 2.0])), x)
    f_grad = sg.function([w, x], sg.grad(sg.sum(sg.nn.softmax(w @ x) * np.array([1.0, 2.0])),
                                         x), backend="python")
    np.testing.assert_allclose(run(hess, [w, x], at_w, at_x),
                               numeric_jacobian(lambda v: f_grad(at_w, v), at_x), atol=1e-7)
