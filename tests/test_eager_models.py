"""One MLP, written once with `@`, sg.nn.softmax and sg.nn.cross_entropy, trained eagerly
and compiled with sg.jit: equal losses, gradients and parameters over several SGD steps;
the eager gradients against finite differences."""

import numpy as np
import pytest

import symgraph as sg
from helpers import numeric_grad
from symgraph.eager import tensor


def mlp_loss(params, x, labels):
    hidden = sg.tanh(x @ params["w1"] + params["b1"])
    logits = hidden @ params["w2"] + params["b2"]
    return sg.nn.cross_entropy(logits, labels)


def mlp_softmax_loss(params, x, onehot):
    hidden = sg.nn.relu(x @ params["w1"] + params["b1"])
    probs = sg.nn.softmax(hidden @ params["w2"] + params["b2"], axis=-1)
    return -sg.mean(sg.sum(onehot * sg.log(probs), axis=1))


def make_step(loss_fn):
    def step(params, x, target, lr):
        loss, grads = sg.value_and_grad(loss_fn)(params, x, target)
        return loss, grads, {k: params[k] - lr * grads[k] for k in params}

    return step


def init(rng, sizes=(5, 8, 3)):
    return {"w1": rng.standard_normal(sizes[:2]) * 0.5, "b1": np.zeros(sizes[1]),
            "w2": rng.standard_normal(sizes[1:]) * 0.5, "b2": np.full(sizes[2], 0.1)}


@pytest.mark.parametrize("loss_fn", [mlp_loss, mlp_softmax_loss])
def test_mlp_eager_and_jit_agree_over_sgd_steps(loss_fn, rng):
    x = rng.standard_normal((12, 5))
    labels = rng.integers(0, 3, 12)
    target = labels if loss_fn is mlp_loss else np.eye(3)[labels]
    step = make_step(loss_fn)
    jitted = sg.jit(step)
    start = init(rng)
    eager_params = {k: tensor(v) for k, v in start.items()}
    jit_params = start
    losses = []
    for _ in range(4):
        loss_e, grads_e, eager_params = step(eager_params, tensor(x), tensor(target), 0.3)
        loss_j, grads_j, jit_params = jitted(jit_params, x, target, 0.3)
        np.testing.assert_allclose(loss_j, loss_e.item(), rtol=1e-12)
        for k in start:
            np.testing.assert_allclose(grads_j[k], grads_e[k].numpy(), rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(jit_params[k], eager_params[k].numpy(), rtol=1e-12)
        losses.append(float(loss_j))
    assert losses[-1] < losses[0]
    assert (jitted.trace_count, jitted.hit_count) == (1, 3)


def test_mlp_eager_gradients_finite_differences(rng):
    params = init(rng, (3, 4, 2))
    x = rng.standard_normal((5, 3))
    labels = rng.integers(0, 2, 5)
    ts = {k: tensor(v, requires_grad=True) for k, v in params.items()}
    mlp_loss(ts, tensor(x), tensor(labels)).backward()
    names = list(params)
    flat = lambda *values: mlp_loss({k: tensor(v) for k, v in zip(names, values)},
                                    tensor(x), tensor(labels)).item()
    for name, want in zip(names, numeric_grad(flat, [params[k] for k in names])):
        np.testing.assert_allclose(ts[name].grad.numpy(), want, rtol=1e-6, atol=1e-8)
