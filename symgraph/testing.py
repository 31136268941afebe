"""Testing helpers for users: `verify_grad` checks symbolic gradients against finite
differences, the way every op's rule is tested in symgraph itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from symgraph import errors

if TYPE_CHECKING:  # only for annotations: the module's namespace is its public API
    from typing import Any, Callable, Sequence

# Per dtype: (finite-difference step, rtol, atol). Central differences err by about
# eps**2 (truncation) plus machine epsilon / eps (rounding); the tolerances leave room.
TOLERANCES = {"float64": (1e-6, 1e-5, 1e-7), "float32": (1e-3, 1e-2, 2e-3)}


class GradientMismatch(errors.GradientError, AssertionError):
    """verify_grad: a symbolic gradient differs from finite differences. It is an
    AssertionError too, so test runners report it as a failed check."""


def verify_grad(fn: Callable[..., Any], inputs: Sequence[Any], eps: float | None = None,
                rtol: float | None = None, atol: float | None = None,
                backend: str = "python", seed: int = 0) -> None:
    """Check `sg.grad` of `fn` at `inputs` against central finite differences.

    fn takes one symbolic variable per input array and returns an output or a list of
    them (any shapes). The outputs are projected on fixed random directions to a scalar
    cost; its symbolic gradient with respect to each float input must match the central
    difference `(cost(x + eps) - cost(x - eps)) / 2 eps`, elementwise within
    `atol + rtol * |numeric|`, and have the input's dtype. eps, rtol and atol default by
    the inputs' lowest precision (see TOLERANCES). Integer and boolean inputs are passed
    through, not differentiated. Raises GradientMismatch (an AssertionError and a
    GradientError) showing both gradients and where they differ most.
    """
    from symgraph import api as sg
    from symgraph.compile import function
    from symgraph.grad import grad

    values = [np.asarray(v) for v in inputs]
    variables = [sg.tensor(f"x{i}", dtype=v.dtype, shape=(None,) * v.ndim)
                 for i, v in enumerate(values)]
    floats = [k for k, v in enumerate(values) if v.dtype.name in TOLERANCES]
    if not floats:
        raise errors.GradientError("verify_grad: no float input to differentiate")
    default = TOLERANCES["float32" if any(values[k].dtype == np.float32 for k in floats)
                         else "float64"]
    eps, rtol, atol = (d if v is None else v for v, d in zip((eps, rtol, atol), default))
    outputs = fn(*variables)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    outputs = [sg.as_variable(o) for o in outputs]
    evaluated = function(variables, outputs, backend=backend)(*values)
    rng = np.random.default_rng(seed)
    terms = [sg.sum(o * rng.standard_normal(np.shape(v)).astype(o.dtype))
             for o, v in zip(outputs, evaluated) if o.dtype in TOLERANCES]
    if not terms:
        raise errors.GradientError("verify_grad: fn has no float output")
    cost = terms[0]
    for term in terms[1:]:
        cost = cost + term
    f_cost = function(variables, cost, backend=backend)
    wrt = [variables[k] for k in floats]
    symbolic = function(variables, grad(cost, wrt, disconnected="zero"),
                           backend=backend)(*values)
    for k, got in zip(floats, symbolic):
        numeric = _central_differences(f_cost, values, k, eps)
        _compare(k, values[k], got, numeric, eps, rtol, atol)


def _central_differences(f: Callable[..., Any], values: list[np.ndarray], k: int,
                         eps: float) -> np.ndarray:
    x = values[k]
    out = np.zeros(x.shape, dtype="float64")
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        # Divide by the step actually taken: x ± eps is rounded to x's precision.
        step = float(plus[index]) - float(minus[index])
        high = float(f(*values[:k], plus, *values[k + 1:]))
        low = float(f(*values[:k], minus, *values[k + 1:]))
        out[index] = (high - low) / step
    return out


def _compare(k: int, value: np.ndarray, got: np.ndarray, numeric: np.ndarray, eps: float,
             rtol: float, atol: float) -> None:
    where = f"input {k} ({value.dtype}{list(value.shape)})"
    if got.dtype != value.dtype or got.shape != value.shape:
        raise GradientMismatch(f"verify_grad: the gradient of {where} is {got.dtype}"
                               f"{list(got.shape)}; it must have the input's dtype and shape")
    got64 = got.astype("float64")
    allowed = atol + rtol * np.abs(numeric)
    error = np.abs(got64 - numeric)
    error = np.where(np.isnan(got64) & np.isnan(numeric), 0.0, error)
    error = np.where(np.isnan(error), np.inf, error)
    if np.all(error <= allowed):
        return
    worst = np.unravel_index(np.argmax(error / allowed), error.shape)
    with np.printoptions(precision=6, threshold=50, edgeitems=3):
        raise GradientMismatch(
            f"verify_grad: the symbolic gradient of {where} does not match finite "
            f"differences at {int(np.sum(~(error <= allowed)))} of {error.size} elements\n"
            f"  largest difference at index {tuple(int(i) for i in worst)}: symbolic "
            f"{got64[worst]:.8g}, numeric {numeric[worst]:.8g} (abs error "
            f"{error[worst]:.3g}, allowed {allowed[worst]:.3g})\n"
            f"  tolerances: rtol={rtol:g}, atol={atol:g}, eps={eps:g}\n"
            f"  symbolic gradient:\n{got64}\n  numeric gradient:\n{numeric}")
