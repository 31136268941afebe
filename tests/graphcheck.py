"""Differential evaluation of generated programs (see graphgen.py).

Evaluators, each `(program, data) -> list of arrays`:

- `python_raw`: the python backend on the graph as written: the reference;
- `python_opt`: the python backend after the optimizer;
- `numba_opt`: the numba backend, optimized (graphs with kinds numba lacks are skipped);
- `cuda_opt`: the cuda backend, optimized (on the simulator in CI: fuzz_cuda_sim.py);
- `eager`: the recipe replayed on eager tensors;
- `jit`: the recipe traced by sg.jit (static shapes) and compiled.

`agree(reference, result)` compares per dtype: the same dtype and shape; floats within a
dtype tolerance scaled by the output's magnitude, with NaN in the same places and infinities
of the same sign; everything else exactly. `check_gradients` compares sg.grad (python and
numba, optimized or not) and eager backward() against float64 central differences.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np

import symgraph as sg
from graphgen import Program
from symgraph.ops.binary import NegativePowerError, Power

# rtol per float dtype; the absolute part is rtol * max(1, |largest finite reference value|),
# since reassociation and fused libm calls err relative to intermediate magnitudes.
RTOL = {"float32": 1e-4, "float64": 1e-8}


# LoweringError texts that mean "this backend has no kernel for that yet", not a wrong answer.
UNSUPPORTED = ("the numba backend has no", "not supported by numba", "the cuda backend has no",
               "not supported by the cuda")


class Unsupported(Exception):
    """The backend cannot lower this graph (a missing kernel kind): not a disagreement."""


def _compiled(program: Program, backend: str, optimize: bool) -> Callable:
    inputs = program.symbolic_inputs()
    outputs = program.build(inputs)
    try:
        return sg.function(inputs, outputs, backend=backend, optimize=optimize)
    except sg.LoweringError as error:
        if any(text in str(error) for text in UNSUPPORTED):
            raise Unsupported(str(error)) from None
        raise


def python_raw(program: Program, data: list) -> list:
    return _compiled(program, "python", False)(*data)


def python_opt(program: Program, data: list) -> list:
    return _compiled(program, "python", True)(*data)


def numba_opt(program: Program, data: list) -> list:
    return _compiled(program, "numba", True)(*data)


def cuda_opt(program: Program, data: list) -> list:
    """The cuda backend (under NUMBA_ENABLE_CUDASIM=1 in a subprocess: see fuzz_cuda_sim.py)."""
    return _compiled(program, "cuda", True)(*data)


def eager(program: Program, data: list) -> list:
    leaves = [sg.eager.tensor(value) for value in data]
    return [np.asarray(out.numpy()) for out in program.build(leaves)]


def jit(program: Program, data: list) -> list:
    """sg.jit traces the recipe (static shapes from the data) and compiles it (python)."""
    outputs = sg.jit(lambda *xs: program.build(list(xs)), backend="python")(*data)
    return [np.asarray(out) for out in outputs]


EVALUATORS: dict[str, Callable] = {"python_opt": python_opt, "numba_opt": numba_opt,
                                   "eager": eager, "jit": jit, "cuda_opt": cuda_opt}


def agree(expected: np.ndarray, got: np.ndarray, label: str, rtol: float | None = None) -> None:
    """Raise AssertionError with a description unless `got` matches `expected`."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.dtype != expected.dtype or got.shape != expected.shape:
        raise AssertionError(f"{label}: got {got.dtype}{list(got.shape)}, expected "
                             f"{expected.dtype}{list(expected.shape)}")
    if expected.dtype.kind != "f":
        if not np.array_equal(got, expected):
            raise AssertionError(f"{label}: values differ\n got {got!r}\n want {expected!r}")
        return
    nan = np.isnan(expected)
    if not np.array_equal(nan, np.isnan(got)):
        raise AssertionError(f"{label}: NaN positions differ\n got {got!r}\n want {expected!r}")
    inf = np.isinf(expected)
    if not np.array_equal(got[inf], expected[inf]) or np.isinf(got[~inf]).any():
        raise AssertionError(f"{label}: infinities differ\n got {got!r}\n want {expected!r}")
    finite = ~(nan | inf)
    tol = rtol if rtol is not None else RTOL[expected.dtype.name]
    scale = max(1.0, float(np.abs(expected[finite]).max())) if finite.any() else 1.0
    close = np.abs(got[finite] - expected[finite]) <= tol * (scale + np.abs(expected[finite]))
    if not close.all():
        raise AssertionError(f"{label}: values differ beyond rtol={tol}\n got {got!r}\n "
                             f"want {expected!r}")


def run_all(program: Program, evaluators: tuple[str, ...] = tuple(EVALUATORS)) -> dict:
    """Evaluate `program` everywhere and check agreement with the reference; returns how
    many evaluators ran and which were unsupported. Failures raise with the reproducer."""
    data = program.data()
    try:
        reference = python_raw(program, program.data())
    except NegativePowerError as error:  # NumPy's policy: every evaluator must raise it too
        return _all_raise(program, evaluators, error)
    ran, skipped, raised_unneeded = [], [], []
    for name in evaluators:
        inputs = program.data()  # fresh copies with the same (possibly reversed) layout
        try:
            results = EVALUATORS[name](program, inputs)
        except Unsupported:
            skipped.append(name)
            continue
        except NegativePowerError:
            if name != "eager":
                raise
            raised_unneeded.append(name)  # eager ran a step the graph never needs (an unused
            continue                      # value, the branch ifelse did not take): NumPy raised
        except Exception as error:
            raise AssertionError(f"{name} raised {type(error).__name__}: {error}\n"
                                 f"program:\n{program}") from error
        for k, (want, got) in enumerate(zip(reference, results)):
            try:
                agree(want, got, f"{name} output {k}")
            except AssertionError as error:
                raise AssertionError(f"{error}\nprogram:\n{program}\ninputs: {data!r}") from None
        for before, after in zip(data, inputs):  # no evaluator may write into its inputs
            np.testing.assert_array_equal(before, after, err_msg=f"{name} mutated an input")
        ran.append(name)
    return {"ran": ran, "skipped": skipped, "raised_unneeded": raised_unneeded}


def _all_raise(program: Program, evaluators: tuple[str, ...], expected: Exception) -> dict:
    """Check that every evaluator raises the reference's data-dependent error, or computes
    outputs that do not depend on the failing values: the optimizer may drop a value no
    output needs (x ** y - x ** y is 0 for integers, without computing the power)."""
    head = str(expected).split(" (")[0]
    ran, skipped, raised_unneeded = [], [], []
    for name in evaluators:
        try:
            results = EVALUATORS[name](program, program.data())
        except Unsupported:
            skipped.append(name)
            continue
        except type(expected) as error:
            if str(error).split(" (")[0] != head:
                raise AssertionError(f"{name} raised {error}, the reference {expected}\n"
                                     f"program:\n{program}") from error
            ran.append(name)
            continue
        masked = []
        for value in (77, -55):  # two stand-ins for the negative powers: must not matter
            with _negative_powers_give(value):
                masked.append(python_raw(program, program.data()))
        try:
            for k, (a, b) in enumerate(zip(*masked)):
                agree(a, b, f"output {k}")
        except AssertionError:
            raise AssertionError(f"{name} did not raise {expected}\nprogram:\n{program}") from None
        for k, (want, got) in enumerate(zip(masked[0], results)):
            agree(want, got, f"{name} output {k} (an integer power no output needs dropped)")
        ran.append(name)
    return {"ran": ran, "skipped": skipped, "raised_unneeded": raised_unneeded}


@contextlib.contextmanager
def _negative_powers_give(value: int) -> Iterator[None]:
    """The python backend with integer powers giving `value` for a negative exponent."""
    original = Power.reference

    def reference(self: Power, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = original(self, x, np.abs(y))
        if out.dtype.kind not in "iu" or y.dtype.kind != "i":
            return original(self, x, y)
        return np.where(y < 0, np.asarray(value).astype(out.dtype), out)

    Power.reference = reference
    try:
        yield
    finally:
        Power.reference = original


# -- gradients ---------------------------------------------------------------------------------

def _cost(program: Program, leaves: list, projections: list) -> Any:
    outs = program.build(leaves)
    total = 0.0
    for out, p in zip(outs, projections):
        total = total + sg.sum(out * p)
    return total


def check_gradients(program: Program, backends: tuple[str, ...] = ("python",),
                    rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """sg.grad and eager backward() of sum(outputs * random projections) equal central
    differences, for every float64 leaf. False when the cost is not finite (nothing checked)."""
    data = [np.asarray(d, dtype="float64") for d in program.data()]
    inputs = program.symbolic_inputs()
    shapes = [np.shape(o) for o in python_raw(program, data)]
    rng = np.random.default_rng(program.seed)
    projections = [rng.standard_normal(s) for s in shapes]
    cost = _cost(program, inputs, projections)
    grads = sg.grad(cost, inputs, disconnected="zero")
    f_cost = sg.function(inputs, cost, backend="python", optimize=False)
    if not np.isfinite(f_cost(*data)):
        return False  # e.g. logsumexp of an empty array: no derivative to compare
    expected = _central_differences(lambda *a: float(f_cost(*a)), data)
    label = f"\nprogram:\n{program}"
    for backend in backends:
        for optimize in (False, True):
            try:
                f = sg.function(inputs, grads, backend=backend, optimize=optimize)
            except sg.LoweringError as error:
                if any(text in str(error) for text in UNSUPPORTED):
                    continue
                raise
            for k, (got, want) in enumerate(zip(f(*data), expected)):
                np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=(
                    f"grad of input {k}, backend={backend}, optimize={optimize}{label}"))
    leaves = [sg.eager.tensor(d, requires_grad=True) for d in data]
    _cost(program, leaves, projections).backward()
    for k, (leaf, want) in enumerate(zip(leaves, expected)):
        got = np.zeros_like(want) if leaf.grad is None else leaf.grad.numpy()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"eager grad of input {k}{label}")
    return True


def _central_differences(f: Callable[..., float], values: list, eps: float = 1e-6) -> list:
    grads = []
    for k, v in enumerate(values):
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            plus = [a.copy() for a in values]
            minus = [a.copy() for a in values]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads
