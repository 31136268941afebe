"""W3: one SGD step of a 784-256-10 ReLU MLP with softmax cross-entropy, float32.

Every implementation starts from copies of the same initial parameters; its first call
is checked (loss and the parameter updates) against a float64 NumPy step, then it keeps
stepping while it is timed. `call()` returns nothing costly; `fetch()` gives the outputs.
"""

import numpy as np

from benchmarks import peers
from benchmarks.common import LR, mlp_inputs, mlp_reference, mlp_step_numpy
from benchmarks.harness import Case


def numpy_(X, labels, params):
    params = [p.copy() for p in params]
    state = {}

    def call():
        state["loss"] = mlp_step_numpy(X, labels, params)

    return call, lambda: [state["loss"]] + params


def numba_(X, labels, params):
    from benchmarks import kernels_numba
    params = [p.copy() for p in params]
    lr = np.float32(LR)
    state = {}

    def call():
        state["loss"] = kernels_numba.mlp_step(X, labels, *params, lr)

    return call, lambda: [np.float32(state["loss"])] + params  # the kernel sums in float64


def jax_(X, labels, params):
    jax, jnp = peers.jax_modules()

    def loss_fn(ps, X, labels):
        W1, b1, W2, b2 = ps
        logits = jax.nn.relu(X @ W1 + b1) @ W2 + b2
        logp = jax.nn.log_softmax(logits, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

    def step(ps, X, labels):
        loss, grads = jax.value_and_grad(loss_fn)(ps, X, labels)
        return loss, [p - LR * g for p, g in zip(ps, grads)]

    step = jax.jit(step, donate_argnums=0)
    Xd = jnp.asarray(X)
    ld = jnp.asarray(labels)
    state = {"params": [jnp.array(p) for p in params]}

    def call():
        state["loss"], state["params"] = step(state["params"], Xd, ld)
        state["loss"].block_until_ready()

    return call, lambda: [state["loss"]] + state["params"]


def _torch_step(compiled):
    def make(X, labels, params):
        torch = peers.torch_module()
        F = torch.nn.functional
        ps = [torch.tensor(p, requires_grad=True) for p in params]
        Xt = torch.from_numpy(X)
        lt = torch.from_numpy(labels)

        def loss_fn(X, labels, W1, b1, W2, b2):
            return F.cross_entropy(torch.relu(X @ W1 + b1) @ W2 + b2, labels)

        if compiled:
            loss_fn = peers.torch_compile(loss_fn)
        state = {}

        def call():
            loss = loss_fn(Xt, lt, *ps)
            grads = torch.autograd.grad(loss, ps)
            with torch.no_grad():
                torch._foreach_add_(ps, grads, alpha=-LR)
            state["loss"] = loss

        return call, lambda: [state["loss"]] + ps

    return make


def pytensor_(X, labels, params):
    pytensor, pt = peers.pytensor_modules()
    ps = [pytensor.shared(p.copy(), name=n) for p, n in zip(params, ["W1", "b1", "W2", "b2"])]
    W1, b1, W2, b2 = ps
    Xs = pt.matrix("X", dtype="float32")
    ls = pt.vector("labels", dtype="int64")
    logits = pt.maximum(Xs @ W1 + b1, 0) @ W2 + b2
    logp = pt.special.log_softmax(logits, axis=1)
    loss = -logp[pt.arange(ls.shape[0]), ls].mean()
    grads = pytensor.grad(loss, ps)
    lr = np.float32(LR)  # PyTensor would make a Python 0.1 float64, and so the updates
    f = peers.pytensor_function([Xs, ls], loss,
                                updates=[(p, p - lr * g) for p, g in zip(ps, grads)])
    state = {}

    def call():
        state["loss"] = f(X, labels)

    return call, lambda: [state["loss"]] + [p.get_value(borrow=True) for p in ps]


def symgraph_(X, labels, params):
    sg = peers.symgraph()
    # Fixed parameter shapes, as every peer has them: the optimizer specializes on them.
    ps = [sg.shared(p.copy(), name=n, shape=p.shape)
          for p, n in zip(params, ["w1", "b1", "w2", "b2"])]
    w1, b1, w2, b2 = ps
    Xs = sg.matrix("X", dtype="float32")
    ls = sg.vector("labels", dtype="int64")
    logits = sg.nn.relu(Xs @ w1 + b1) @ w2 + b2
    loss = sg.nn.cross_entropy(logits, ls)
    grads = sg.grad(loss, ps)
    f = sg.function([Xs, ls], loss, updates=[(p, p - LR * g) for p, g in zip(ps, grads)],
                    backend="numba")
    state = {}

    def call():
        state["loss"] = f(X, labels)

    return call, lambda: [state["loss"]] + [p.get_value() for p in ps]


IMPLS = {"numpy": numpy_, "numba": numba_, "jax.jit": jax_, "torch": _torch_step(False),
         "torch.compile": _torch_step(True), "pytensor": pytensor_, "symgraph": symgraph_}


def updates(outputs, inputs):
    """[loss, W1', ...] -> [loss, W1' - W1, ...]: the check then sees the gradients."""
    params = inputs[2]
    return [np.asarray(outputs[0], "float64")] + \
        [np.asarray(o, "float64") - p.astype("float64") for o, p in zip(outputs[1:], params)]


def cases(size):
    batch = size["w3_batch"]
    return [Case(name="W3 mlp sgd step", dtype="float32", inputs=lambda: mlp_inputs(batch),
                 reference=mlp_reference, impls=IMPLS, tol=(1e-3, 1e-4), post=updates,
                 labels={"numpy": "numpy backprop", "numba": "numba (+BLAS)",
                         "torch": "torch eager"})]
