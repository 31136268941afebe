"""Reverse mode (symgraph/grad.py) and verify_grad (symgraph/testing.py): every elementwise
rule against finite differences (first and second order, broadcast shapes), the engine's
bookkeeping (known_grads, disconnected inputs, integer paths, dtypes, run-time
broadcasting), jacobian / hessian / vjp / jvp, rules at special values (prod with zeros,
set_subtensor with repeated positions), and verify_grad's failure report."""

from dataclasses import dataclass

import numpy as np
import pytest

import symgraph as sg
from symgraph import api
from symgraph.apply import apply
from symgraph.ops.base import Op
from symgraph.testing import GradientMismatch, verify_grad
from symgraph.types import TensorType
from helpers import BACKENDS
from test_elemwise import BINARY, UNARY, sample

UNARY_IDS = [u[0].__name__ for u in UNARY]
BINARY_IDS = [b[0].__name__ for b in BINARY]


def run(outputs, inputs, *values):
    return sg.function(list(inputs), outputs, backend="python")(*values)


def numeric_jacobian(f, x, eps=1e-6):
    """d f(x)[i…] / d x[j…] by central differences, shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype="float64")
    columns = []
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        columns.append((np.asarray(f(plus)) - np.asarray(f(minus))) / (2 * eps))
    out_shape = np.shape(f(x))
    stacked = np.stack(columns, axis=-1) if columns else np.zeros(out_shape + (0,))
    return stacked.reshape(out_shape + x.shape)


# -- every elementwise rule, first and second order ------------------------------------------

def points(fn, domain, shape, rng):
    x = sample(domain, shape, "float64", rng)
    if fn is sg.abs:  # keep away from the kink at 0
        x = np.where(np.abs(x) < 0.1, 0.5, x)
    return x


@pytest.mark.parametrize("fn,ref,domain", UNARY, ids=UNARY_IDS)
def test_unary_rule_matches_finite_differences(fn, ref, domain, rng):
    verify_grad(fn, [points(fn, domain, (2, 3), rng)])


@pytest.mark.parametrize("fn,ref,domain", UNARY, ids=UNARY_IDS)
def test_unary_rule_in_float32(fn, ref, domain, rng):
    # float32 in, float32 gradient out (verify_grad checks the dtype), float32 tolerances.
    verify_grad(fn, [points(fn, domain, (5,), rng).astype("float32")])


@pytest.mark.parametrize("fn,ref,domain", UNARY, ids=UNARY_IDS)
def test_unary_second_derivative(fn, ref, domain, rng):
    # verify_grad of the first derivative: its finite differences are the second derivative.
    verify_grad(lambda x: sg.grad(sg.sum(fn(x)), x), [points(fn, domain, (4,), rng)])


BROADCASTS = [((2, 1, 3), (4, 1)), ((3,), ()), ((1,), (2, 3))]


@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("fn,ref", BINARY, ids=BINARY_IDS)
def test_binary_rule_with_broadcasting(fn, ref, shapes, rng):
    x, y = (rng.uniform(0.5, 2, s) for s in shapes)
    if fn in (sg.maximum, sg.minimum):  # no ties
        y = y + 0.01 * np.sign(y - x.mean())
    verify_grad(fn, [x, y])


@pytest.mark.parametrize("fn,ref", BINARY, ids=BINARY_IDS)
def test_binary_rule_in_float32(fn, ref, rng):
    x, y = rng.uniform(0.5, 2, (2, 3)).astype("float32"), rng.uniform(0.5, 2, 3)
    verify_grad(fn, [x, y.astype("float32") + 0.01])


@pytest.mark.parametrize("fn,ref", BINARY, ids=BINARY_IDS)
def test_binary_second_derivatives(fn, ref, rng):
    x, y = rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.5, 2, (3,))
    verify_grad(lambda a, b: sg.grad(sg.sum(fn(a, b) * fn(a, b)), [a, b]), [x, y])


def test_power_with_negative_base_and_integer_exponent(rng):
    x = -rng.uniform(0.5, 2, (3,))
    verify_grad(lambda a: a ** 3 + sg.power(a, np.array(2.0)), [x])


def test_power_base_gradient_is_zero_for_zero_exponent():
    x, y = sg.vector("x", dtype="float64"), sg.vector("y", dtype="float64")
    gx = sg.grad(sg.sum(x ** y), x)
    out = run(gx, [x, y], np.array([0.0, 0.0, 2.0]), np.array([0.0, 1.0, 3.0]))
    np.testing.assert_array_equal(out, [0.0, 1.0, 12.0])


def test_where_cast_clip_and_piecewise_rules(rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    verify_grad(lambda a, b: sg.where(a > 0.3, a * b, sg.exp(b)), [x, y])
    # Rounding to float32 on the way: a step much larger than float32's resolution.
    verify_grad(lambda a: sg.cast(sg.cast(a, "float32"), "float64") * a, [x],
                eps=1e-2, rtol=1e-4, atol=1e-4)
    verify_grad(lambda a: sg.clip(a, -0.5, 0.5) + sg.floor(a) + sg.sign(a), [x + 0.01])


# -- conventions: subgradients and masking ----------------------------------------------------

def test_subgradient_conventions():
    x, y = sg.vector("x", dtype="float64"), sg.vector("y", dtype="float64")
    at = np.array([-1.0, 0.0, 1.0, 2.0])
    g_abs = run(sg.grad(sg.sum(sg.abs(x)), x), [x], at)
    np.testing.assert_array_equal(g_abs, [-1, 0, 1, 1])  # |x|' at 0 is 0
    g_max = run(sg.grad(sg.sum(sg.maximum(x, y)), [x, y]), [x, y], at, np.ones(4))
    np.testing.assert_array_equal(g_max, [[0, 0, 1, 1], [1, 1, 0, 0]])  # a tie goes to x
    g_min = run(sg.grad(sg.sum(sg.minimum(x, y)), [x, y]), [x, y], at, np.ones(4))
    np.testing.assert_array_equal(g_min, [[1, 1, 1, 0], [0, 0, 0, 1]])
    g_clip = run(sg.grad(sg.sum(sg.clip(x, -1.0, 1.0)), x), [x], at)
    np.testing.assert_array_equal(g_clip, [1, 1, 1, 0])  # 1 on the closed interval


def test_where_needs_the_double_where_for_nan_safe_branches():
    x = sg.vector("x", dtype="float64")
    at = np.array([0.0, 2.0])
    single = sg.where(x > 0, sg.log(x), 0.0)
    g = run(sg.grad(sg.sum(single), x), [x], at)
    assert np.isnan(g[0]) and g[1] == 0.5  # 0 * (1/0): the masked branch's own NaN
    double = sg.where(x > 0, sg.log(sg.where(x > 0, x, 1.0)), 0.0)
    np.testing.assert_array_equal(run(sg.grad(sg.sum(double), x), [x], at), [0.0, 0.5])


# -- the engine's bookkeeping ----------------------------------------------------------------

def test_cost_must_be_a_float_scalar():
    x = sg.vector("x")
    with pytest.raises(sg.GradientError, match=r"scalar \(0-d\), got float32\[\?\]"):
        sg.grad(x * 2, x)
    with pytest.raises(sg.GradientError, match="only float values"):
        sg.grad(sg.sum(sg.cast(x, "int32")), x)
    with pytest.raises(sg.GradientError, match="wrt must be symbolic"):
        sg.grad(sg.sum(x), np.ones(3))
    with pytest.raises(ValueError, match="disconnected must be"):
        sg.grad(sg.sum(x), x, disconnected="skip")


def test_wrt_list_gives_list_and_intermediate_values():
    x = sg.vector("x", dtype="float64")
    h = sg.exp(x)
    cost = sg.sum(h * h)
    gx, gh = sg.grad(cost, [x, h])
    at = np.array([0.5, -1.0])
    out_x, out_h = run([gx, gh], [x], at)
    np.testing.assert_allclose(out_h, 2 * np.exp(at))
    np.testing.assert_allclose(out_x, 2 * np.exp(2 * at))
    assert sg.grad(cost, [x])[0].type.shape == (None,)


def test_known_grads():
    x = sg.vector("x", dtype="float64")
    h = sg.sin(x)
    g = sg.vector("g", dtype="float64")
    at, seed = np.array([0.3, 1.2]), np.array([2.0, -1.0])
    only_known = sg.grad(None, x, known_grads={h: g})
    np.testing.assert_allclose(run(only_known, [x, g], at, seed), seed * np.cos(at))
    both = sg.grad(sg.sum(h), x, known_grads={h: g})  # added to the cost's gradient
    np.testing.assert_allclose(run(both, [x, g], at, seed), (seed + 1) * np.cos(at))
    scalar_seed = sg.grad(None, x, known_grads={h: 3.0})  # broadcast to h's shape
    np.testing.assert_allclose(run(scalar_seed, [x], at), 3 * np.cos(at))
    with pytest.raises(sg.GradientError, match="only float values"):
        sg.grad(None, x, known_grads={sg.cast(x, "int64"): 1.0})
    with pytest.raises(sg.GradientError, match="give a cost or known_grads"):
        sg.grad(None, x)


def test_disconnected_modes():
    x, z = sg.vector("x", dtype="float64"), sg.matrix("z", dtype="float32")
    cost = sg.sum(x * 2)
    with pytest.raises(sg.GradientError, match="does not depend on z .*disconnected"):
        sg.grad(cost, [x, z])
    gx, gz = sg.grad(cost, [x, z], disconnected="zero")
    out = run(gz, [z], np.ones((2, 3), "float32"))
    assert out.dtype == np.float32 and out.shape == (2, 3) and not out.any()
    assert sg.grad(cost, [x, z], disconnected="ignore")[1] is None


def test_integer_and_boolean_paths_carry_no_gradient():
    x = sg.vector("x", dtype="float64")
    through_int = sg.sum(sg.cast(sg.cast(x, "int32"), "float64"))
    with pytest.raises(sg.GradientError, match="does not depend on x"):
        sg.grad(through_int, x)
    through_bool = sg.sum(sg.where(x > 0, 1.0, 0.0))
    g = sg.grad(through_bool, x, disconnected="zero")
    np.testing.assert_array_equal(run(g, [x], np.array([1.0, -1.0])), [0.0, 0.0])
    n = sg.vector("n", dtype="int64")
    with pytest.raises(sg.GradientError, match="n is int64: integer and boolean"):
        sg.grad(sg.sum(x * n), n)
    mixed = sg.grad(sg.sum(x * n), [x, n], disconnected="ignore")
    np.testing.assert_array_equal(run(mixed[0], [x, n], np.ones(2), np.array([3, 4])), [3, 4])
    assert mixed[1] is None
    floor = sg.grad(sg.sum(sg.floor(x)), x)  # piecewise constant: connected, zero
    np.testing.assert_array_equal(run(floor, [x], np.array([0.5, 1.5])), [0.0, 0.0])


def test_gradient_has_the_variable_dtype():
    x = sg.vector("x", dtype="float32")
    w = sg.shared(np.ones(3, "float32"), name="w")
    cost = sg.sum(sg.cast(x, "float64") * np.arange(3.0) + w * x)  # float64 on the way
    gx, gw = sg.grad(cost, [x, w])
    assert gx.dtype == "float32" and gw.dtype == "float32"
    out_x, out_w = run([gx, gw], [x], np.array([1, 2, 3], "float32"))
    assert out_x.dtype == np.float32 and out_w.dtype == np.float32
    np.testing.assert_allclose(out_x, [1, 2, 3])
    np.testing.assert_allclose(out_w, [1, 2, 3])
    assert sg.hessian(sg.sum(x * x * x), x).dtype == "float32"


def test_unknown_dimension_broadcast_at_run_time():
    x, y = sg.vector("x", dtype="float64"), sg.vector("y", dtype="float64")
    gx, gy = sg.grad(sg.sum(x * y), [x, y])
    values = np.array([2.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    out_x, out_y = run([gx, gy], [x, y], *values)
    np.testing.assert_allclose(out_x, [15.0])  # x (length 1) broadcast: summed gradient
    np.testing.assert_allclose(out_y, [2.0] * 5)
    a, b = sg.matrix("a", dtype="float64"), sg.matrix("b", dtype="float64")
    ga = sg.grad(sg.sum(sg.exp(a) * b), a)
    out = run(ga, [a, b], np.zeros((1, 3)), np.ones((4, 3)))
    np.testing.assert_allclose(out, [[4.0, 4.0, 4.0]])
    assert run(ga, [a, b], np.zeros((4, 3)), np.ones((1, 3))).shape == (4, 3)


def test_statically_known_broadcast_needs_no_run_time_sum():
    x, y = sg.tensor("x", "float64", (1, 3)), sg.matrix("y", dtype="float64")
    g = sg.grad(sg.sum(x * y), x)
    assert "sum_to" not in str(sg.Graph([x, y], [g]))
    np.testing.assert_allclose(run(g, [x, y], np.ones((1, 3)), np.ones((4, 3))), [[4.0] * 3])


@dataclass(frozen=True)
class Twice(Op):
    """A test op that is not elementwise and declares no batched rule."""

    def infer(self, x):
        return x

    def reference(self, x):
        return x * 2

    def vjp(self, inputs, output, g):
        return (g * 2,)


@dataclass(frozen=True)
class NoRule(Twice):
    def vjp(self, inputs, output, g):
        return (g, g)


def test_rule_errors_name_the_op_and_the_users_line():
    x = sg.vector("x", dtype="float64")
    with pytest.raises(sg.GradientError, match=r"no_rule: its vjp rule returned 2 gradients "
                       r"for 1 inputs.*created at test_grad.py:\d+"):
        sg.grad(sg.sum(apply(NoRule(), x)), x)


# -- jacobian, hessian, vjp, jvp -------------------------------------------------------------

def dense(x):
    return sg.tanh(x) * sg.sum(x * x) + sg.sin(x)


def dense_np(x):
    return np.tanh(x) * np.sum(x * x) + np.sin(x)


@pytest.mark.parametrize("n", [4, 1, 0])
def test_jacobian_of_unknown_length_vector(n, rng):
    x = sg.vector("x", dtype="float64")
    jac = sg.jacobian(dense(x), x)
    assert jac.type.shape == (None, None)
    at = rng.standard_normal(n)
    np.testing.assert_allclose(run(jac, [x], at), numeric_jacobian(dense_np, at), atol=1e-7)


def test_jacobian_shapes_static_and_of_matrices(rng):
    x = sg.tensor("x", "float64", (3,))
    m = sg.matrix("m", dtype="float64")
    y = sg.expand_dims(dense(x), 0) * m  # (?, 3) from (3,) and (?, ?)
    jx, jm = sg.jacobian(y, [x, m])
    at_x, at_m = rng.standard_normal(3), rng.standard_normal((2, 3))
    got_x, got_m = run([jx, jm], [x, m], at_x, at_m)
    assert got_x.shape == (2, 3, 3) and got_m.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(
        got_x, numeric_jacobian(lambda v: dense_np(v)[None] * at_m, at_x), atol=1e-7)
    np.testing.assert_allclose(
        got_m, numeric_jacobian(lambda v: dense_np(at_x)[None] * v, at_m), atol=1e-7)
    scalar = sg.jacobian(sg.sum(x * x), x)  # a 0-d y: the gradient
    np.testing.assert_allclose(run(scalar, [x], at_x), 2 * at_x)


def test_jacobian_seed_of_a_large_static_output_is_computed_at_run_time(rng):
    x = sg.tensor("x", "float64", (300,))
    jac = sg.jacobian(sg.sin(x), x)
    graph = sg.Graph([x], [jac])
    assert "eye" in str(graph)
    assert all(n.value.size < 1000 for n in graph.nodes if isinstance(n, sg.Constant))
    at = rng.standard_normal(300)
    np.testing.assert_array_equal(run(jac, [x], at), np.diag(np.cos(at)))
    small = sg.tensor("s", "float64", (3,))
    assert "eye" not in str(sg.Graph([small], [sg.jacobian(sg.sin(small), small)]))


def test_jacobian_unrolls_over_ops_without_a_batched_rule(rng):
    static = sg.tensor("s", "float64", (3,))
    jac = sg.jacobian(apply(Twice(), sg.exp(static)), static)
    at = rng.standard_normal(3)
    np.testing.assert_allclose(run(jac, [static], at), np.diag(2 * np.exp(at)))
    unknown = sg.vector("u", dtype="float64")
    with pytest.raises(sg.GradientError, match="twice between wrt and y cannot take a batched"):
        sg.jacobian(apply(Twice(), unknown), unknown)


@dataclass(frozen=True)
class SumAxis(Op):
    """A test reduction whose rule follows the vjp_batches protocol (axes shifted by lead)."""

    axis: int
    vjp_batches = True

    def infer(self, x):
        return TensorType(x.dtype, x.shape[:self.axis] + x.shape[self.axis + 1:])

    def reference(self, x):
        return np.sum(x, axis=self.axis)

    def vjp(self, inputs, output, g):
        lead = g.ndim - output.ndim
        return (api.broadcast_like(api.expand_dims(g, self.axis + lead), inputs[0]),)


def test_jacobian_batches_over_ops_that_declare_it(rng):
    m = sg.matrix("m", dtype="float64")
    y = sg.squeeze(sg.expand_dims(apply(SumAxis(0), sg.sin(m)), 0), 0)  # (?,) from (?, ?)
    jac = sg.jacobian(y, m)
    at = rng.standard_normal((2, 3))
    want = numeric_jacobian(lambda v: np.sum(np.sin(v), axis=0), at)
    np.testing.assert_allclose(run(jac, [m], at), want, atol=1e-8)
    hess = sg.hessian(sg.sum(apply(SumAxis(1), m * m * m)), m)
    np.testing.assert_allclose(run(hess, [m], at).reshape(6, 6), np.diag(6 * at.ravel()))


def test_jacobian_disconnected_and_errors():
    x, z = sg.vector("x", dtype="float64"), sg.vector("z", dtype="float64")
    with pytest.raises(sg.GradientError, match="y does not depend on z"):
        sg.jacobian(x * 2, [x, z])
    jz = sg.jacobian(x * 2, z, disconnected="zero")
    out = run(jz, [x, z], np.ones(2), np.ones(3))
    assert out.shape == (2, 3) and not out.any()
    with pytest.raises(sg.GradientError, match="only float values"):
        sg.jacobian(sg.cast(x, "int32"), x)


def softmax_mlp_loss(w1, b1, w2, data, labels):
    """A 2-layer MLP's cross-entropy, matmul written with broadcasting and sums."""
    hidden = sg.tanh(sg.sum(sg.expand_dims(data, -1) * w1, axis=1) + b1)
    logits = sg.sum(sg.expand_dims(hidden, -1) * w2, axis=1)
    shifted = logits - sg.expand_dims(sg.sum(logits, axis=1) / 2, 1)
    log_z = sg.log(sg.sum(sg.exp(shifted), axis=1))
    return -sg.sum(sg.sum(shifted * labels, axis=1) - log_z) / data.type.shape[0]


def test_hessian_of_a_small_mlp_matches_finite_differences(rng):
    data = rng.standard_normal((5, 3))
    labels = np.eye(2)[rng.integers(0, 2, 5)]
    params = [rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.standard_normal((4, 2)) * 0.5]
    variables = [sg.tensor(n, "float64", (None,) * p.ndim) for n, p in
                 zip(["w1", "b1", "w2"], params)]
    cost = softmax_mlp_loss(*variables, sg.constant(data), sg.constant(labels))
    blocks = sg.hessian(cost, variables)
    grads = sg.grad(cost, variables)
    f_grads = sg.function(variables, grads, backend="python")
    got = sg.function(variables, [b for row in blocks for b in row], backend="python")(*params)
    for i in range(3):
        for j in range(3):
            def grad_i(v, i=i, j=j):
                return f_grads(*params[:j], v, *params[j + 1:])[i]
            want = numeric_jacobian(grad_i, params[j])
            np.testing.assert_allclose(got[3 * i + j], want, rtol=1e-5, atol=1e-7)
    full = np.block([[got[3 * i + j].reshape(params[i].size, params[j].size)
                      for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(full, full.T, atol=1e-12)  # symmetric


def test_hessian_of_a_linear_cost_is_zero():
    x = sg.vector("x", dtype="float64")
    out = run(sg.hessian(sg.sum(x * 3.0), x), [x], np.ones(2))
    np.testing.assert_array_equal(out, np.zeros((2, 2)))


def test_vjp_both_forms(rng):
    x, y = sg.vector("x", dtype="float64"), sg.vector("y", dtype="float64")
    at_x, at_y, u = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    gx, gy = sg.vjp(x * sg.exp(y), [x, y], u)
    out = run([gx, gy], [x, y], at_x, at_y)
    np.testing.assert_allclose(out[0], u * np.exp(at_y))
    np.testing.assert_allclose(out[1], u * at_x * np.exp(at_y))
    outputs, pullback = sg.vjp(lambda a, b: [a * b, sg.sin(a)], x, y)
    pa, pb = pullback(u, 2 * u)
    got = run([outputs[0], pa, pb], [x, y], at_x, at_y)
    np.testing.assert_allclose(got[0], at_x * at_y)
    np.testing.assert_allclose(got[1], u * at_y + 2 * u * np.cos(at_x))
    np.testing.assert_allclose(got[2], u * at_x)


def test_jvp_both_forms_match_the_jacobian(rng):
    x = sg.vector("x", dtype="float64")
    t = sg.vector("t", dtype="float64")
    at, tangent = rng.standard_normal(4), rng.standard_normal(4)
    want = numeric_jacobian(dense_np, at) @ tangent
    np.testing.assert_allclose(run(sg.jvp(dense(x), x, t), [x, t], at, tangent), want,
                               atol=1e-7)
    outputs, tangents = sg.jvp(lambda a: [dense(a), sg.sum(a)], [x], [t])
    got = run([outputs[0], *tangents], [x, t], at, tangent)
    np.testing.assert_allclose(got[0], dense_np(at))
    np.testing.assert_allclose(got[1], want, atol=1e-7)
    np.testing.assert_allclose(got[2], tangent.sum())
    z = sg.vector("z", dtype="float64")
    with pytest.raises(sg.GradientError, match="output z does not depend on wrt"):
        sg.jvp(z, x, t)
    zero = sg.jvp([dense(x), z * 2], x, t, disconnected="zero")[1]
    np.testing.assert_array_equal(run(zero, [x, t, z], at, tangent, np.ones(2)), [0.0, 0.0])


def test_jvp_of_a_second_order_quantity(rng):
    # Hessian-vector product as forward-over-reverse: jvp of the gradient.
    x, v = sg.vector("x", dtype="float64"), sg.vector("v", dtype="float64")
    cost = sg.sum(sg.exp(x) * sg.sum(x))
    hvp = sg.jvp(sg.grad(cost, x), x, v)
    at, direction = rng.standard_normal(3), rng.standard_normal(3)
    hess = run(sg.hessian(cost, x), [x], at)
    np.testing.assert_allclose(run(hvp, [x, v], at, direction), hess @ direction)


# -- rules at special values: prod with zeros, set_subtensor with repeated positions ---------

def prod_hessian_np(x):
    """The Hessian of prod(x) for a vector x: entry (i, j), i != j, is the product of the
    elements other than i and j."""
    h = np.zeros((x.size, x.size))
    for i, j in zip(*np.nonzero(~np.eye(x.size, dtype=bool))):
        h[i, j] = np.prod(np.delete(x, [i, j]))
    return h


# Rows with 1, 2, 3 and no zeros; its columns have 3, 2 and 1 zeros.
PROD_AT = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [1.5, 2.0, -3.0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_hessian_is_exact_with_zeros(backend):
    # With one zero in a slice the other elements' gradient is 0, but it is that zero times
    # a product: the Hessian must keep the dependence (it used to lose it).
    x, v = sg.tensor("x", "float64", (4, 3)), sg.tensor("v", "float64", (3,))
    w_rows, w_cols = np.array([1.0, 2.0, -1.0, 0.5]), np.array([[0.5, -2.0, 1.0]])
    by_rows = sg.sum(sg.prod(x, axis=1) * w_rows)
    by_cols = sg.sum(sg.prod(x, axis=0, keepdims=True) * w_cols)
    outputs = [sg.grad(by_rows, x), sg.hessian(by_rows, x), sg.grad(by_cols, x),
               sg.hessian(by_cols, x), sg.hessian(sg.prod(v), v)]
    f = sg.function([x, v], outputs, backend=backend)
    got = f(PROD_AT, PROD_AT[0])
    np.testing.assert_array_equal(got[4], [[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    want_rows, want_cols = np.zeros((4, 3, 4, 3)), np.zeros((4, 3, 4, 3))
    for r in range(4):
        want_rows[r, :, r, :] = w_rows[r] * prod_hessian_np(PROD_AT[r])
    for c in range(3):
        want_cols[:, c, :, c] = w_cols[0, c] * prod_hessian_np(PROD_AT[:, c])
    np.testing.assert_allclose(got[1], want_rows, atol=1e-14)
    np.testing.assert_allclose(got[3], want_cols, atol=1e-14)
    for k in (0, 2):  # the Hessian is the finite-difference Jacobian of the gradient
        numeric = numeric_jacobian(lambda a, k=k: f(a, PROD_AT[0])[k], PROD_AT)
        np.testing.assert_allclose(got[k + 1], numeric, atol=1e-7)


def test_prod_second_derivatives_with_zeros_in_eager_mode():
    for row in ([0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [2.0, 0.5, 3.0]):
        at = np.array(row)
        rows = []
        for i in range(3):
            t = sg.eager.tensor(at, requires_grad=True)
            (g,) = sg.eager.grad(sg.prod(t), [t], create_graph=True)
            g[i].backward()
            rows.append(t.grad.numpy())
        np.testing.assert_allclose(rows, prod_hessian_np(at), atol=1e-14, err_msg=str(row))


@pytest.mark.parametrize("backend", BACKENDS)
def test_prod_gradient_with_zeros_in_float32(backend, rng):
    at = rng.uniform(0.5, 2.0, (3, 40))
    at[1, 7] = 0.0
    at[2, [3, 30]] = 0.0
    x = sg.tensor("x", "float32", (None, None))
    got = sg.function([x], sg.grad(sg.sum(sg.prod(x, axis=1)), x), backend=backend)(
        at.astype("float32"))
    at = at.astype("float32").astype("float64")
    want = [[np.prod(np.delete(r, j)) for j in range(r.size)] for r in at]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=0)


def set_cases(x, m, v, s, big, u):
    """set_subtensor with positions written twice: NumPy's last write wins, so only that
    value reaches the result (and gets a gradient), and x's gradient is 0 where written."""
    return [sg.set_subtensor(x[np.array([0, 0])], v),  # v[1] wins
            sg.set_subtensor(x[np.array([0, 0, 2])], s),  # a broadcast scalar, kept twice
            sg.set_subtensor(x[np.array([2, -1])], v),  # -1 is 2 again
            sg.set_subtensor(m[np.array([1, 1, 0]), 1:], big),  # rows, with a slice
            sg.set_subtensor(m[np.array([0, 0, 1]), np.array([2, 2, 2])], u)]  # pairs


SET_AT = [np.zeros(3), np.arange(6.0).reshape(2, 3), np.array([5.0, 7.0]), np.array(1.0),
          np.arange(6.0).reshape(3, 2) + 10, np.array([1.0, 2.0, 3.0])]
SET_WEIGHTS = [np.array([1.0, 10.0, 100.0]), np.ones(3), np.array([1.0, 10.0, 100.0]),
               np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
               np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])]
SET_OPERANDS = [(0, 2), (0, 3), (0, 2), (1, 4), (1, 5)]  # (x, value) of each case, in SET_AT
SET_GRADS = [  # by hand: (d cost / d x, d cost / d value)
    ([0.0, 10.0, 100.0], [0.0, 1.0]),
    ([0.0, 1.0, 0.0], 2.0),
    ([1.0, 10.0, 0.0], [0.0, 100.0]),
    ([[1.0, 0.0, 0.0], [4.0, 0.0, 0.0]], [[0.0, 0.0], [5.0, 6.0], [2.0, 3.0]]),
    ([[1.0, 2.0, 0.0], [4.0, 5.0, 0.0]], [0.0, 3.0, 6.0]),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_subtensor_gradient_follows_the_last_write(backend):
    variables = [sg.tensor(f"a{i}", "float64", (None,) * a.ndim) for i, a in enumerate(SET_AT)]
    costs = [sg.sum(y * w) for y, w in zip(set_cases(*variables), SET_WEIGHTS)]
    grads = [g for cost, (i, j) in zip(costs, SET_OPERANDS)
             for g in sg.grad(cost, [variables[i], variables[j]])]
    f = sg.function(variables, costs + grads, backend=backend)
    got = f(*SET_AT)
    np.testing.assert_array_equal(got[0], 7.0)  # the forward: x[0] = v[1]
    for k, ((i, j), (want_x, want_v)) in enumerate(zip(SET_OPERANDS, SET_GRADS)):
        gx, gv = got[5 + 2 * k], got[6 + 2 * k]
        np.testing.assert_array_equal(gx, want_x, err_msg=f"case {k}, x")
        np.testing.assert_array_equal(gv, want_v, err_msg=f"case {k}, value")
        for n, g in ((i, gx), (j, gv)):  # and central differences of the compiled cost agree

            def cost(a, k=k, n=n):
                return f(*SET_AT[:n], a, *SET_AT[n + 1:])[k]
            np.testing.assert_allclose(g, numeric_jacobian(cost, SET_AT[n]), atol=1e-7)


def test_set_subtensor_gradient_follows_the_last_write_in_eager_mode():
    tensors = [sg.eager.tensor(a, requires_grad=True) for a in SET_AT]
    for k, (y, w) in enumerate(zip(set_cases(*tensors), SET_WEIGHTS)):
        i, j = SET_OPERANDS[k]
        gx, gv = sg.eager.grad(sg.sum(y * w), [tensors[i], tensors[j]])
        np.testing.assert_array_equal(gx.numpy(), SET_GRADS[k][0], err_msg=f"case {k}, x")
        np.testing.assert_array_equal(gv.numpy(), SET_GRADS[k][1], err_msg=f"case {k}, value")


# -- verify_grad ---------------------------------------------------------------------------

@dataclass(frozen=True)
class WrongSin(Op):
    """sin with a wrong rule (cos replaced by sin): verify_grad must catch it."""

    def infer(self, x):
        return x

    def reference(self, x):
        return np.sin(x)

    def vjp(self, inputs, output, g):
        return (g * sg.sin(inputs[0]),)


def test_verify_grad_reports_both_gradients_and_the_worst_element(rng):
    at = rng.standard_normal((2, 3))
    with pytest.raises(GradientMismatch) as info:
        verify_grad(lambda a, b: apply(WrongSin(), a) + b, [at, np.ones(3)])
    error = info.value
    assert isinstance(error, AssertionError) and isinstance(error, sg.GradientError)
    message = str(error)
    assert "gradient of input 0 (float64[2, 3])" in message
    assert "largest difference at index (" in message
    assert "symbolic gradient:" in message and "numeric gradient:" in message
    assert "rtol=1e-05, atol=1e-07, eps=1e-06" in message
    worst = message.split("largest difference at index ")[1].split(":")[0]
    index = tuple(int(i) for i in worst.strip("()").split(",") if i.strip())
    assert len(index) == 2 and all(0 <= i < s for i, s in zip(index, at.shape))


def test_verify_grad_tolerances_follow_the_dtype(rng):
    at = rng.standard_normal((3, 2))
    verify_grad(lambda a, n: sg.tanh(a) * n, [at.astype("float32"), np.array([1, 2])])
    with pytest.raises(GradientMismatch):  # a float32 gradient cannot reach float64 rtol
        verify_grad(sg.exp, [at.astype("float32") * 3], rtol=1e-9, atol=1e-12)
    with pytest.raises(sg.GradientError, match="no float input"):
        verify_grad(lambda n: n * 2, [np.array([1, 2])])
