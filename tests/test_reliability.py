"""Failing loudly and safely: the NaN guard, errors that name the node, atomic updates; and
integer/sign edge cases (power with a negative exponent, sign of -0.0, MIN // -1) that every
backend must handle exactly as NumPy does (docs/reliability.md, findings 5-7)."""

import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import symgraph as sg


def test_nan_guard_names_the_first_bad_node():
    x = sg.vector("x", dtype="float64")
    y = sg.log(x)            # -inf / NaN for x <= 0: the first bad node
    z = sg.exp(y) * 2
    f = sg.function([x], z, check_nan=True)
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [2.0, 4.0])
    with pytest.raises(sg.NonFiniteError, match=r"log: produced NaN or inf .*1 NaN.*test_reliability.py:\d+"):
        f(np.array([1.0, -1.0]))


def test_exception_during_call_leaves_shared_unchanged():
    w = sg.shared(np.ones(3), name="w")
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.sum(sg.squeeze(x, 0)) + sg.sum(w), updates=[(w, w * 2)],
                    backend="python")
    with pytest.raises(sg.ShapeError):
        f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    f(np.ones(1))
    np.testing.assert_array_equal(w.get_value(), np.full(3, 2.0))


def test_concurrent_calls_serialize_updates():
    counter = sg.shared(np.int64(0), name="counter")
    f = sg.function([], counter, updates=[(counter, counter + 1)], backend="python")
    threads = [threading.Thread(target=lambda: [f() for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.get_value() == 400


def test_deep_graph_compiles_without_recursion_error():
    x = sg.scalar("x", dtype="float64")
    y = x
    for _ in range(10_000):
        y = y + 1.0
    assert sg.function([x], y, backend="python")(0.0) == 10_000.0


# -- integer edge cases where numba/cuda differed from NumPy (docs/reliability.md 5-7) ----------
#
# Each case is (function of symbolic/eager operands, input arrays); every backend must give
# NumPy's values bit for bit (sign bits of zeros included). The cuda backend runs the same
# cases in a simulator subprocess (`cuda_results`; `python tests/test_reliability.py OUT` also
# runs them on a real GPU).

def _ints(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, info.min, info.max, -7, 7, 0, info.min + 1, 9, -9, 5], dtype)
    y = np.array([-1, 1, -1, -1, -1, -1, -1, 2, -4, 0], dtype)
    return x, y


def _unsigned(dtype):
    top = np.iinfo(dtype).max
    return np.array([top, 7, 0, top, 5], dtype), np.array([top, 1, 3, 1, 0], dtype)


_FLOATS = np.array([5.5, -5.5, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, 2.0, -3.0])
_SIGNED = ("int8", "int16", "int32", "int64")


def _floor_divide(x, y):
    return x // y


def _remainder(x, y):
    return x % y


def _power(x, y):
    return x ** y


def _sign(x):
    return np.sign(x) if isinstance(x, np.ndarray) else sg.sign(x)


def _cube(x):
    return x ** 3


# name -> (function of symbolic, eager or NumPy operands; the inputs)
EDGE_CASES = {
    **{f"floor_divide_{d}": (_floor_divide, _ints(d)) for d in _SIGNED},
    **{f"remainder_{d}": (_remainder, _ints(d)) for d in _SIGNED},
    **{f"floor_divide_{d}": (_floor_divide, _unsigned(d)) for d in ("uint8", "uint64")},
    **{f"remainder_{d}": (_remainder, _unsigned(d)) for d in ("uint8", "uint64")},
    **{f"floor_divide_by_minus_one_{d}": (_floor_divide, (_FLOATS.astype(d), np.full(10, -1, d)))
       for d in ("float32", "float64")},
    **{f"remainder_by_minus_one_{d}": (_remainder, (_FLOATS.astype(d), np.full(10, -1, d)))
       for d in ("float32", "float64")},
    **{f"sign_{d}": (_sign, (np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -2.5, 3.0, -1e-30],
                                      d),))
       for d in ("float32", "float64")},
    **{f"sign_{d}": (_sign, (np.array([np.iinfo(d).min, -3, 0, 5, np.iinfo(d).max], d),))
       for d in ("int8", "int64")},
    "sign_uint8": (_sign, (np.array([0, 1, 255], "uint8"),)),
    "power_int64": (_power, (np.array([2, 3, -2, 0, 1, 0, -1, 7]),
                             np.array([3, 0, 5, 0, 7, 3, 9, 30]))),
    "power_int8_wraps": (_power, (np.array([3, -3, 2, 1], "int8"),
                                  np.array([5, 5, 7, 100], "int8"))),
    "power_int32_by_python_int": (_cube, (np.array([-4, 0, 1290], "int32"),)),
}


def _numpy_value(name):
    fn, arrays = EDGE_CASES[name]
    with np.errstate(all="ignore"):
        return fn(*arrays)


def _evaluate(fn, arrays, backend):
    if backend == "eager":
        return fn(*(sg.eager.tensor(a) for a in arrays)).numpy()
    inputs = [sg.tensor(f"x{k}", dtype=str(a.dtype), shape=(None,)) for k, a in enumerate(arrays)]
    return sg.function(inputs, fn(*inputs), backend=backend)(*arrays)


def _assert_bitwise_numpy(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)
    if want.dtype.kind == "f":  # -0.0 vs 0.0 (a NaN's sign bit means nothing)
        number = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))


@pytest.mark.parametrize("backend", ["python", "numba", "eager"])
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_regression_integer_and_sign_edge_cases_match_numpy(name, backend):
    # was (numba): INT64_MIN // -1 gave 0 (NumPy: INT64_MIN); sign(-0.0) gave -0.0 (NumPy: 0.0)
    fn, arrays = EDGE_CASES[name]
    _assert_bitwise_numpy(_evaluate(fn, arrays, backend), _numpy_value(name))


def test_regression_edge_cases_on_numbas_parallel_entry():
    # the prange entry (300,000 elements: above the parallel threshold) renders the same
    # templates
    x, y = _ints("int64")
    x, y = np.tile(x, 30_000), np.tile(y, 30_000)
    f = sg.function([a := sg.vector("a", dtype="int64"), b := sg.vector("b", dtype="int64")],
                    [a // b, a % b, sg.sign(sg.cast(a, "float64") * 0.0 - 0.0)], backend="numba")
    got = f(x, y)
    with np.errstate(all="ignore"):
        want = [x // y, x % y, np.sign(x.astype("float64") * 0.0 - 0.0)]
    for g, w in zip(got, want):
        _assert_bitwise_numpy(g, w)


NEGATIVE_POWER = r"power: integers to negative integer powers are not allowed.*exponent -1.*" \
                 r"cast the base to a float.*created at .*test_reliability.py:\d+"


@pytest.mark.parametrize("backend", ["python", "numba", "eager"])
def test_regression_integer_power_with_a_negative_exponent_raises_on_every_backend(backend):
    # was: python raised NumPy's ValueError relabelled as a ShapeError; numba returned 0
    x, y = np.array([2, 3], "int64"), np.array([2, -1], "int64")
    with pytest.raises(sg.SymgraphError, match=NEGATIVE_POWER) as caught:
        _evaluate(lambda a, b: a ** b, [x, y], backend)
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, sg.ShapeError)


def test_regression_integer_power_raises_on_numbas_parallel_entry_and_inside_fusion():
    a, b = sg.vector("a", dtype="int32"), sg.vector("b", dtype="int32")
    f = sg.function([a, b], sg.where(b >= 0, (a + 1) ** (b - 1), 0) * 2, backend="numba")
    x = np.arange(300_000, dtype="int32") % 5  # above the parallel threshold
    np.testing.assert_array_equal(f(x, x + 1), (x + 1) ** x * 2)
    with pytest.raises(sg.SymgraphError, match=r"power: integers to negative .*exponent -1"):
        f(x, x)  # NumPy too evaluates both sides of a where


@pytest.fixture(scope="module")
def cuda_results(tmp_path_factory):
    """The edge cases on the cuda backend, under the simulator, in a subprocess."""
    out = tmp_path_factory.mktemp("cuda_edges") / "results.npz"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=os.pathsep.join([root, os.path.join(root, "tests")]))
    done = subprocess.run([sys.executable, os.path.abspath(__file__), str(out)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(np.load(out, allow_pickle=False))


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_regression_edge_cases_on_the_cuda_simulator(cuda_results, name):
    _assert_bitwise_numpy(cuda_results[name], _numpy_value(name))


def test_regression_integer_power_with_a_negative_exponent_raises_on_cuda(cuda_results):
    message = str(cuda_results["negative_power_error"])
    assert re.search(NEGATIVE_POWER, message), message
    assert str(cuda_results["fused_negative_power_error"]).startswith("power: integers to neg")


def _cuda_main(path):
    """Run the edge cases with backend="cuda" and save the results to `path` (npz)."""
    results = {name: _evaluate(fn, arrays, "cuda") for name, (fn, arrays) in EDGE_CASES.items()}
    x, y = np.array([2, 3], "int64"), np.array([2, -1], "int64")
    for key, fn in (("negative_power_error", lambda a, b: a ** b),
                    ("fused_negative_power_error", lambda a, b: sg.sum((a + 1) ** (b * 2)))):
        try:
            _evaluate(fn, [x, y], "cuda")
            results[key] = np.array("no error")
        except sg.SymgraphError as error:
            results[key] = np.array(str(error))
    np.savez(path, **results)


if __name__ == "__main__":
    _cuda_main(sys.argv[1])


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_an_update_never_keeps_the_callers_array(backend):
    """updates=[(w, x)]: w gets a copy of the input, so reusing the batch buffer cannot
    rewrite the model; w = v gives w its own array too."""
    x = sg.vector("x", dtype="float64")
    w = sg.shared(np.zeros(3), name="w")
    v = sg.shared(np.ones(3), name="v")
    f = sg.function([x], x.sum(), updates=[(w, x)], backend=backend)
    batch = np.arange(3.0)
    f(batch)
    batch[:] = 99.0
    np.testing.assert_array_equal(w.get_value(), [0.0, 1.0, 2.0])
    sg.function([], [], updates=[(w, v)], backend=backend)()
    assert not np.shares_memory(w.container[0], v.container[0])


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_run_time_errors_name_the_line_after_rewrites(backend):
    """(a - 1.0) + b becomes a fused a + (-1.0) + b: the nodes rewrites make keep the line
    of the node they replace (they had none, so the message lost it)."""
    a = sg.vector("a", dtype="float64")
    b = sg.vector("b", dtype="float64")
    for y in [(a - 1.0) + b, a / 2.0 + b, (a * -1.0) * b]:
        f = sg.function([a, b], y, backend=backend)
        with pytest.raises(sg.ShapeError, match=r"\(created at test_reliability.py:\d+\)"):
            f(np.ones(3), np.ones(4))
