"""Test helpers: compare a symbolic expression on every backend against NumPy, and a
plain central finite-difference gradient check (float64)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import symgraph as sg

BACKENDS = ["python", "numba"]  # backends join this list as they land


def tolerance(dtype: str) -> dict:
    return {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}.get(
        str(dtype), dict(rtol=0, atol=0))


def symbolic_inputs(values: Sequence[np.ndarray]) -> list:
    return [sg.tensor(f"x{i}", dtype=v.dtype, shape=(None,) * v.ndim) for i, v in enumerate(values)]


def check_against_numpy(fn: Callable, np_fn: Callable, values: Sequence[np.ndarray],
                        backends: Sequence[str] = BACKENDS, **tol) -> None:
    """fn (symbolic) on each backend equals np_fn (NumPy): values, dtype and shape."""
    expected = np.asarray(np_fn(*values))
    inputs = symbolic_inputs(values)
    out = fn(*inputs)
    for backend in backends:
        got = sg.function(inputs, out, backend=backend)(*values)
        assert got.dtype == expected.dtype, (backend, got.dtype, expected.dtype)
        assert got.shape == expected.shape, (backend, got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, equal_nan=True,
                                   **(tol or tolerance(expected.dtype)), err_msg=backend)


# -- many expressions, one compile per backend (reductions, linalg, nn, random) --------------

def check_all_against_numpy(pairs: Sequence[tuple[Callable, Callable]],
                            values: Sequence[np.ndarray], backends: Sequence[str] = BACKENDS,
                            **tol) -> None:
    """Each (symgraph fn, NumPy fn) of the same inputs equals NumPy in values, dtype and
    shape; all of them are compiled as ONE function per backend, so a compiling backend
    pays one compile for the whole list."""
    inputs = symbolic_inputs(values)
    outputs = [fn(*inputs) for fn, _ in pairs]
    expected = [np.asarray(np_fn(*values)) for _, np_fn in pairs]
    for backend in backends:
        got = sg.function(inputs, outputs, backend=backend)(*values)
        for k, (g, e) in enumerate(zip(got, expected)):
            label = f"{backend}, expression {k}"
            assert g.dtype == e.dtype and g.shape == e.shape, (label, g.dtype, g.shape, e.dtype,
                                                               e.shape)
            np.testing.assert_allclose(g, e, equal_nan=True,
                                       **(tol or tolerance(e.dtype)), err_msg=label)


# -- eager mode agrees with the symbolic graph (reductions, linalg, nn) ------------------------

def check_eager_matches_symbolic(fn: Callable, values: Sequence[np.ndarray],
                                 rtol: float = 1e-12, atol: float = 1e-12) -> None:
    """fn on eager tensors equals fn compiled (python backend), and backward() equals
    sg.grad, for the cost sum(fn(*x) * projection) at float64 `values`."""
    values = [np.asarray(v, dtype="float64") for v in values]
    tensors = [sg.eager.tensor(v, requires_grad=True) for v in values]
    out = fn(*tensors)
    projection = np.random.default_rng(2).standard_normal(out.shape)
    sg.sum(out * projection).backward()
    inputs = symbolic_inputs(values)
    symbolic = fn(*inputs)
    expected = sg.function(inputs, [symbolic] + sg.grad(sg.sum(symbolic * projection), inputs),
                           backend="python")(*values)
    np.testing.assert_allclose(out.numpy(), expected[0], rtol=rtol, atol=atol)
    assert out.numpy().dtype == expected[0].dtype
    for tensor, want in zip(tensors, expected[1:]):
        np.testing.assert_allclose(tensor.grad.numpy(), want, rtol=rtol, atol=atol)


def check_jacobian(fn: Callable, value: np.ndarray, rtol: float = 1e-6,
                   atol: float = 1e-8) -> None:
    """sg.jacobian of fn at a float64 input whose shape is unknown statically (so the
    batched rules, `vjp_batches`, must serve) equals central finite differences."""
    value = np.asarray(value, dtype="float64")
    (x,) = symbolic_inputs([value])
    y = fn(x)
    f_y = sg.function([x], y, backend="python")
    got = sg.function([x], sg.jacobian(y, x), backend="python")(value)
    out_shape = f_y(value).shape
    expected = np.zeros(out_shape + value.shape)
    for idx in np.ndindex(value.shape):
        plus, minus = value.copy(), value.copy()
        plus[idx] += 1e-6
        minus[idx] -= 1e-6
        expected[(...,) + idx] = (f_y(plus) - f_y(minus)) / 2e-6
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)

def numeric_grad(f: Callable[..., float], values: Sequence[np.ndarray], eps: float = 1e-6):
    """Central differences of scalar f at float64 `values`, one array per input."""
    grads = []
    for k, v in enumerate(values):
        g = np.zeros_like(v, dtype="float64")
        for idx in np.ndindex(v.shape):
            plus = [np.array(a, dtype="float64", copy=True) for a in values]
            minus = [np.array(a, dtype="float64", copy=True) for a in values]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads


def check_grad(fn: Callable, values: Sequence[np.ndarray], rtol: float = 1e-5,
               atol: float = 1e-7, backend: str = "python") -> None:
    """sg.grad of sum(fn(*x) * projection) equals central finite differences (float64)."""
    values = [np.asarray(v, dtype="float64") for v in values]
    inputs = symbolic_inputs(values)
    out = fn(*inputs)
    rng = np.random.default_rng(1)
    projection = rng.standard_normal(sg.function(inputs, out, backend="python")(*values).shape)
    cost = sg.sum(out * projection)
    f_cost = sg.function(inputs, cost, backend=backend)
    f_grad = sg.function(inputs, sg.grad(cost, inputs), backend=backend)
    expected = numeric_grad(lambda *a: float(f_cost(*a)), values)
    for got, want in zip(f_grad(*values), expected):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# -- shape, creation and indexing (ops-b) ----------------------------------------------------

def check_static(fn: Callable, np_fn: Callable, values: Sequence[np.ndarray],
                 exact: bool = True) -> None:
    """fn on inputs of fully known static shape: its static type agrees with NumPy's result
    (every dimension known when `exact`), and running it gives NumPy's values."""
    expected = np.asarray(np_fn(*values))
    inputs = [sg.tensor(f"x{i}", dtype=v.dtype, shape=v.shape) for i, v in enumerate(values)]
    out = fn(*inputs)
    assert out.dtype == expected.dtype.name, (out.type, expected.dtype)
    assert out.ndim == expected.ndim, (out.type, expected.shape)
    for static, actual in zip(out.type.shape, expected.shape):
        assert static in ((None, actual) if not exact else (actual,)), (out.type, expected.shape)
    for backend in BACKENDS:
        got = sg.function(inputs, out, backend=backend)(*values)
        assert got.shape == expected.shape and got.dtype == expected.dtype, backend
        np.testing.assert_array_equal(got, expected, err_msg=backend)
