"""Optimized and unoptimized compilations agree: on the whole elementwise op table (values
with NaN/inf, and gradients) and on random graphs (hypothesis, derandomized and bounded).

Stabilizations may turn an inf/NaN of the graph as written into the correct finite
value, so where the unoptimized result is not finite only the optimized one's dtype and
shape are compared; everywhere else the values must agree to rounding.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.compile import PASSES
from test_elemwise import BINARY, COMPARE, PIECEWISE, UNARY, sample
from test_rewrite import optimize_checked


def compile_both(inputs, outputs):
    plain = sg.function(inputs, outputs, backend="python", optimize=False)
    optimize_checked(plain.graph, PASSES)  # the IR verifies after every pass
    return plain, sg.function(inputs, outputs, backend="python")


def assert_agree(want, got, rtol=1e-9, atol=1e-12):
    for a, b in zip(want, got):
        assert a.dtype == b.dtype and a.shape == b.shape
        finite = np.isfinite(a) if a.dtype.kind == "f" else np.ones(a.shape, bool)
        np.testing.assert_allclose(b[finite], a[finite], rtol=rtol, atol=atol)
        np.testing.assert_array_equal(np.isnan(b[~finite]) | np.isfinite(b[~finite]) |
                                      (b[~finite] == a[~finite]), True)


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 3.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("fn,ref,domain", UNARY + [(f, r, "any") for f, r in PIECEWISE],
                         ids=[u[0].__name__ for u in UNARY + PIECEWISE])
def test_unary_table_agrees(fn, ref, domain, rng):
    x = sg.vector("x", dtype="float64")
    weights = rng.standard_normal(4)
    outputs = [fn(x) * 1.0 + 0.0, fn(-(-x)) - fn(x)]
    plain, optimized = compile_both([x], outputs)
    with np.errstate(all="ignore"):
        assert_agree(plain(SPECIAL), optimized(SPECIAL))
    if fn not in [p[0] for p in PIECEWISE]:
        cost = sg.sum(fn(x) * weights)
        plain, optimized = compile_both([x], sg.grad(cost, x))
        value = sample(domain, (4,), "float64", rng)
        assert_agree([plain(value)], [optimized(value)])


@pytest.mark.parametrize("fn,ref", BINARY + COMPARE, ids=[b[0].__name__ for b in BINARY + COMPARE])
def test_binary_table_agrees_with_broadcasting(fn, ref, rng):
    x, y = sg.tensor("x", "float64", (None, 1, None)), sg.matrix("y", dtype="float64")
    outputs = [fn(x, y), fn(x * 1.0, y + 0.0) * 2.0, fn(x, 2.0), fn(3.0, y)]
    if fn not in [c[0] for c in COMPARE]:
        outputs += sg.grad(sg.sum(fn(x, y) * 0.5), [x, y])
    plain, optimized = compile_both([x, y], outputs)
    values = [rng.uniform(0.5, 2, (3, 1, 4)), rng.uniform(0.5, 2, (5, 1))]
    with np.errstate(all="ignore"):
        assert_agree(plain(*values), optimized(*values))


UNARY_OPS = [sg.exp, sg.log, sg.sin, sg.tanh, sg.sigmoid, sg.softplus, sg.negative, sg.abs,
             sg.sqrt, sg.log1p, sg.expm1]
BINARY_OPS = [sg.add, sg.subtract, sg.multiply, sg.true_divide, sg.maximum, sg.minimum]
CONSTANTS = [0.0, 1.0, -1.0, 2.0, 0.5]


@st.composite
def programs(draw):
    """A random straight-line program over x (vector) and m (matrix) as a list of steps."""
    steps = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["unary", "binary", "constant", "power", "reduce"]))
        steps.append((kind, draw(st.integers(0, 1000)), draw(st.integers(0, 1000))))
    return steps


def build(steps, x, m):
    pool = [x, m]
    for kind, a, b in steps:
        first, second = pool[a % len(pool)], pool[b % len(pool)]
        if kind == "unary":
            pool.append(UNARY_OPS[b % len(UNARY_OPS)](first))
        elif kind == "binary":
            pool.append(BINARY_OPS[b % len(BINARY_OPS)](first, second))
        elif kind == "constant":
            op = BINARY_OPS[a % len(BINARY_OPS)]
            constant = CONSTANTS[b % len(CONSTANTS)]
            pool.append(op(first, constant) if a % 2 else op(constant, first))
        elif kind == "power":
            pool.append(first ** [2, 3, 0.5, -1, 0, 4][b % 6])
        elif first.ndim:
            pool.append(sg.sum(first, first.ndim - 1, keepdims=bool(b % 2)))
    return pool[2:] or [x * 1.0]


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_agree(steps):
    x, m = sg.vector("x", dtype="float64"), sg.matrix("m", dtype="float64")
    outputs = build(steps, x, m)
    cost = sum(sg.sum(o) for o in outputs)
    outputs += sg.grad(cost, [x, m], disconnected="zero")
    plain, optimized = compile_both([x, m], outputs)
    rng = np.random.default_rng(len(steps))
    values = [rng.uniform(0.2, 1.5, 4), rng.uniform(0.2, 1.5, (4, 4))]
    with np.errstate(all="ignore"):
        assert_agree(plain(*values), optimized(*values), rtol=1e-7, atol=1e-9)
