"""W2: row-wise logsumexp and softmax of a square float32 matrix."""

import numpy as np

from benchmarks import peers
from benchmarks.common import w2_inputs, w2_logsumexp_reference, w2_softmax_reference
from benchmarks.harness import Case


def numpy_logsumexp(X):
    m = X.max(axis=1)
    return np.log(np.exp(X - m[:, None]).sum(axis=1)) + m


def numpy_softmax(X):
    e = np.exp(X - X.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def impls(kind):
    """The implementations of one kind ('logsumexp' or 'softmax')."""

    def numpy_(X):
        f = numpy_logsumexp if kind == "logsumexp" else numpy_softmax
        return lambda: f(X)

    def numba_(X):
        from benchmarks import kernels_numba
        if kind == "logsumexp":
            return lambda: kernels_numba.logsumexp_rows(X, np.empty(X.shape[0], X.dtype))
        return lambda: kernels_numba.softmax_rows(X, np.empty_like(X))

    def jax_(X):
        jax, jnp = peers.jax_modules()
        op = jax.nn.logsumexp if kind == "logsumexp" else jax.nn.softmax
        f = jax.jit(lambda a: op(a, axis=1))
        Xd = jnp.asarray(X)
        return lambda: f(Xd).block_until_ready()

    def torch_op():
        torch = peers.torch_module()
        if kind == "logsumexp":
            return torch, lambda a: torch.logsumexp(a, dim=1)
        return torch, lambda a: torch.softmax(a, dim=1)

    def torch_(X):
        torch, op = torch_op()
        Xt = torch.from_numpy(X)
        return lambda: op(Xt)

    def torch_compile_(X):
        torch, op = torch_op()
        f = peers.torch_compile(op)
        Xt = torch.from_numpy(X)
        return lambda: f(Xt)

    def pytensor_(X):
        _, pt = peers.pytensor_modules()
        Xs = pt.matrix("X", dtype="float32")
        out = pt.logsumexp(Xs, axis=1) if kind == "logsumexp" else pt.special.softmax(Xs, axis=1)
        f = peers.pytensor_function([Xs], out)
        return lambda: f(X)

    def symgraph_(X):
        sg = peers.symgraph()
        Xs = sg.matrix("X", dtype="float32")
        out = sg.logsumexp(Xs, axis=1) if kind == "logsumexp" else sg.nn.softmax(Xs, axis=1)
        f = sg.function([Xs], out, backend="numba")
        return lambda: f(X)

    return {"numpy": numpy_, "numba": numba_, "jax.jit": jax_, "torch": torch_,
            "torch.compile": torch_compile_, "pytensor": pytensor_, "symgraph": symgraph_}


def cases(size):
    n = size["w2_n"]
    return [
        Case(name="W2 logsumexp", dtype="float32", inputs=lambda: (w2_inputs(n),),
             reference=lambda X: [w2_logsumexp_reference(X)], impls=impls("logsumexp")),
        Case(name="W2 softmax", dtype="float32", inputs=lambda: (w2_inputs(n),),
             reference=lambda X: [w2_softmax_reference(X)], impls=impls("softmax")),
    ]
