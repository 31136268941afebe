"""sg.jit: tracing, output structures, the signature cache, control-flow errors, and
sg.value_and_grad eagerly and under jit; logistic regression trained both ways."""

import collections

import numpy as np
import pytest

import symgraph as sg
from helpers import numeric_grad
from symgraph.eager import Tensor, tensor


def test_jit_matches_eager_and_returns_arrays(rng):
    def fn(x, y):
        return sg.tanh(x * y + 1.0) - sg.exp(-x)

    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    out = sg.jit(fn)(x, y)
    assert isinstance(out, np.ndarray) and out.dtype == "float64" and out.shape == (3, 4)
    np.testing.assert_allclose(out, fn(tensor(x), tensor(y)).numpy(), rtol=1e-15)
    again = sg.jit(fn)(tensor(x), tensor(y))  # eager tensors are accepted too
    np.testing.assert_array_equal(again, out)


def test_output_structures(rng):
    @sg.jit
    def fn(pair, table, scale):
        a, b = pair
        return {"sum": a + b, "parts": [a * scale, (b, table["k"] * 2)], "note": "kept",
                "n": 3}

    a, b, k = rng.standard_normal(2), rng.standard_normal(2), np.arange(3, dtype="int32")
    out = fn((a, b), {"k": k}, 2.0)
    assert set(out) == {"sum", "parts", "note", "n"} and out["note"] == "kept" and out["n"] == 3
    np.testing.assert_array_equal(out["sum"], a + b)
    assert isinstance(out["parts"], list) and isinstance(out["parts"][1], tuple)
    np.testing.assert_array_equal(out["parts"][0], a * 2.0)
    assert out["parts"][1][1].dtype == "int32"
    np.testing.assert_array_equal(out["parts"][1][1], k * 2)


def test_namedtuple_arguments_and_keywords():
    Pair = collections.namedtuple("Pair", "a b")

    @sg.jit
    def fn(pair, *, shift):
        return Pair(pair.a + shift, pair.b * pair.a)

    out = fn(Pair(np.ones(2), np.full(2, 3.0)), shift=np.float64(1.0))
    assert isinstance(out, Pair)
    np.testing.assert_array_equal(out.a, [2.0, 2.0])
    np.testing.assert_array_equal(out.b, [3.0, 3.0])


def test_cache_hits_and_retraces():
    calls = []

    @sg.jit
    def fn(x, power):
        calls.append(1)
        return x ** power

    x3 = np.arange(3.0)
    for _ in range(3):
        np.testing.assert_array_equal(fn(x3, 2), x3 ** 2)
    assert (fn.trace_count, fn.hit_count, len(calls)) == (1, 2, 1)
    fn(np.arange(4.0), 2)  # new shape
    fn(np.arange(3, dtype="float32"), 2)  # new dtype
    fn(x3, 3)  # new static value
    assert (fn.trace_count, fn.hit_count, len(fn.cache)) == (4, 2, 4)
    np.testing.assert_array_equal(fn(np.arange(3, dtype="float32"), 2), x3 ** 2)
    assert (fn.trace_count, fn.hit_count) == (4, 3)
    assert fn.function_for(x3, 2).backend == sg.config.backend
    assert fn.__name__ == "fn"


def test_static_floats_are_keyed_by_their_bits():
    """-0.0 == 0.0 and NaN != NaN in Python; a trace is per value: x / -0.0 is -inf, and a
    NaN argument finds its trace again."""
    fn = sg.jit(lambda x, s: x / s, backend="python")
    ones = np.ones(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(fn(ones, 0.0), [np.inf, np.inf])
        np.testing.assert_array_equal(fn(ones, -0.0), [-np.inf, -np.inf])
        assert np.isnan(fn(ones, float("nan"))).all()
        assert np.isnan(fn(ones, float("nan"))).all()
    assert (fn.trace_count, fn.hit_count) == (3, 1)
    np.testing.assert_array_equal(fn(ones, 0.5), [2.0, 2.0])
    assert fn(ones, 2).dtype == fn(ones, 2.0).dtype == np.float64  # int 2 and float 2.0


def test_inputs_are_named_by_their_place_in_the_arguments():
    fn = sg.jit(lambda params, x, *, k: sg.sum(params["w"] * x) + params["b"][0] * k)
    args = ({"w": np.ones(2), "b": (np.ones(()), 2.0)}, np.ones(2))
    assert fn(*args, k=np.float64(2.0)) == 4.0
    listing = str(fn.function_for(*args, k=np.float64(2.0)).unoptimized)
    for name in ("arg0['w'] : float64[2]", "arg0['b'][0] : float64[]", "arg1 :", "k :"):
        assert f"input {name}" in listing


def test_backend_choice():
    fn = sg.jit(lambda x: x * 2.0, backend="python")
    np.testing.assert_array_equal(fn(np.ones(2)), [2.0, 2.0])
    assert fn.function_for(np.ones(2)).backend == "python"
    with pytest.raises(Exception, match="nosuch"):
        sg.jit(lambda x: x, backend="nosuch")(np.ones(2))


def test_shared_variables_are_read_each_call():
    w = sg.shared(np.ones(2), name="w")
    fn = sg.jit(lambda x: x * w)
    np.testing.assert_array_equal(fn(np.full(2, 3.0)), [3.0, 3.0])
    w.set_value(np.full(2, 2.0))
    np.testing.assert_array_equal(fn(np.full(2, 3.0)), [6.0, 6.0])


def test_jit_inside_jit_is_inlined():
    inner = sg.jit(lambda x: x * 3.0)
    outer = sg.jit(lambda x: inner(x) + 1.0)
    np.testing.assert_array_equal(outer(np.ones(2)), [4.0, 4.0])
    assert inner.trace_count == 0


def test_if_on_a_traced_value_explains_and_points_to_the_line():
    @sg.jit
    def clipped(x):
        if sg.sum(x) > 0:  # the line the error must show
            return x
        return -x

    with pytest.raises(sg.SymgraphError) as info:
        clipped(np.ones(3))
    message = str(info.value)
    assert message.startswith("jit(")
    assert "clipped" in message and "if/while" in message
    assert "test_jit.py:" in message and "if sg.sum(x) > 0:" in message
    for hint in ("sg.where", "sg.ifelse", "sg.scan"):
        assert hint in message


def test_while_and_float_on_traced_values():
    def loop(x):
        while sg.sum(x) < 10:
            x = x * 2.0
        return x

    with pytest.raises(sg.SymgraphError, match=r"jit\(.*loop\).*while sg.sum\(x\) < 10"):
        sg.jit(loop)(np.ones(2))
    np.testing.assert_array_equal(loop(tensor(np.ones(2))).numpy(), [8.0, 8.0])  # eagerly fine
    with pytest.raises(sg.SymgraphError, match="Python number"):
        sg.jit(lambda x: x * float(sg.sum(x)))(np.ones(2))


def test_captured_eager_tensor_is_refused_with_a_hint():
    w = tensor(np.ones(2))
    with pytest.raises(sg.SymgraphError, match="as an argument"):
        sg.jit(lambda x: x * w)(np.ones(2))


def test_other_errors_pass_through_unchanged():
    with pytest.raises(sg.ShapeError, match="cannot broadcast"):
        sg.jit(lambda x, y: x + y)(np.ones(3), np.ones(4))
    with pytest.raises(ZeroDivisionError):
        sg.jit(lambda x: x * (1 / 0))(np.ones(1))


# -- value_and_grad ----------------------------------------------------------------------

def quadratic(params, x):
    return sg.sum(sg.sin(x * params["a"]) * params["b"] + params["a"] * params["a"])


def test_value_and_grad_eager_symbolic_and_numeric(rng):
    params = {"a": rng.standard_normal(3), "b": rng.standard_normal(())}
    x = rng.standard_normal((2, 3))
    value, grads = sg.value_and_grad(quadratic)(params, x)
    assert isinstance(value, Tensor) and not value.requires_grad
    assert set(grads) == {"a", "b"} and grads["b"].shape == ()
    jitted = sg.jit(sg.value_and_grad(quadratic))(params, x)
    np.testing.assert_allclose(jitted[0], value.numpy(), rtol=1e-14)
    flat = lambda a, b: quadratic({"a": tensor(a), "b": tensor(b)}, tensor(x)).item()
    want_a, want_b = numeric_grad(flat, [params["a"], params["b"]])
    for got, jit_got, want in [(grads["a"], jitted[1]["a"], want_a),
                               (grads["b"], jitted[1]["b"], want_b)]:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(jit_got, got.numpy(), rtol=1e-13)


def test_value_and_grad_argnums_aux_and_untouched_inputs():
    def fn(x, y, scale):
        loss = sg.sum(x * y) * scale
        return loss, {"doubled": loss * 2.0}

    x = tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0])
    (value, aux), (gx, gy) = sg.value_and_grad(fn, argnums=(0, 1), has_aux=True)(x, y, 0.5)
    assert value.item() == 5.5 and aux["doubled"].item() == 11.0
    np.testing.assert_array_equal(gx.numpy(), [1.5, 2.0])
    np.testing.assert_array_equal(gy.numpy(), [0.5, 1.0])
    assert x.grad is None  # the caller's tensors are left alone
    jitted = sg.jit(sg.value_and_grad(fn, argnums=(0, 1), has_aux=True))
    (value_j, aux_j), (gx_j, gy_j) = jitted(x, y, 0.5)
    assert value_j == 5.5 and aux_j["doubled"] == 11.0
    np.testing.assert_array_equal(gx_j, [1.5, 2.0])
    np.testing.assert_array_equal(gy_j, [0.5, 1.0])
    _, gy_only = sg.value_and_grad(lambda a, b: sg.sum(b * b), argnums=-1)(x, y)
    np.testing.assert_array_equal(gy_only.numpy(), [6.0, 8.0])
    _, unused = sg.value_and_grad(lambda a, b: sg.sum(b))(np.ones(2), y)
    np.testing.assert_array_equal(unused.numpy(), [0.0, 0.0])  # not connected: zeros
    for run in (lambda f: f, sg.jit):  # Python numbers are static: no gradient
        _, grads = run(sg.value_and_grad(lambda p: sg.sum(p["w"] * p["k"])))(
            {"w": np.ones(2), "k": 3.0})
        assert grads["k"] is None
        np.testing.assert_array_equal(np.asarray(grads["w"]), [3.0, 3.0])


def test_value_and_grad_errors():
    with pytest.raises(sg.SymgraphError, match="scalar"):
        sg.value_and_grad(lambda x: x * 2.0)(np.ones(3))
    with pytest.raises(sg.SymgraphError, match="out of range"):
        sg.value_and_grad(lambda x: sg.sum(x), argnums=2)(np.ones(3))
    with pytest.raises(sg.GradientError, match="float"):
        sg.value_and_grad(lambda x: sg.sum(x))(np.arange(3))


# -- the same model, eager and compiled ----------------------------------------------------

N = 16


def logistic_loss(params, x, y):
    logits = sg.sum(x * params["w"], axis=1) + params["b"]
    return sg.sum(sg.softplus(logits) - y * logits) / N


def sgd_step(params, x, y, lr):
    loss, grads = sg.value_and_grad(logistic_loss)(params, x, y)
    return loss, grads, {k: params[k] - lr * grads[k] for k in params}


def test_logistic_regression_eager_and_jit_agree(rng):
    x = rng.standard_normal((N, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype("float64")
    start = {"w": np.zeros(3), "b": np.zeros(())}
    eager_params = {k: tensor(v) for k, v in start.items()}
    jit_params = start
    step = sg.jit(sgd_step)
    losses = []
    for _ in range(5):
        loss_e, grads_e, eager_params = sgd_step(eager_params, tensor(x), tensor(y), 0.5)
        loss_j, grads_j, jit_params = step(jit_params, x, y, 0.5)
        np.testing.assert_allclose(loss_j, loss_e.item(), rtol=1e-13)
        for k in start:
            np.testing.assert_allclose(grads_j[k], grads_e[k].numpy(), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(jit_params[k], eager_params[k].numpy(), rtol=1e-12)
        losses.append(float(loss_j))
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.6  # it learns
    assert (step.trace_count, step.hit_count) == (1, 4)
    p = {k: tensor(v) for k, v in start.items()}
    want = numeric_grad(lambda w, b: logistic_loss({"w": tensor(w), "b": tensor(b)},
                                                   tensor(x), tensor(y)).item(),
                        [start["w"], start["b"]])
    _, grads = sg.value_and_grad(logistic_loss)(p, tensor(x), tensor(y))
    np.testing.assert_allclose(grads["w"].numpy(), want[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grads["b"].numpy(), want[1], rtol=1e-6, atol=1e-9)


def test_eager_only_methods_on_traced_values_say_why():
    """.numpy(), .item() and .backward() inside sg.jit: the value is symbolic there."""
    for body, message in [(lambda x: x.numpy() * 2, "its value exists only when"),
                          (lambda x: x.sum().item(), "its value exists only when"),
                          (lambda x: (x * 2).sum().backward(), r"sg.grad\(cost, wrt\)")]:
        with pytest.raises(sg.SymgraphError, match=message):
            sg.jit(body, backend="python")(np.ones(2))
