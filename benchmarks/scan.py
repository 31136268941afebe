"""S1: a scalar recurrence h = tanh(a*h + b) over many steps: loop and scan machinery."""

import numpy as np

from benchmarks import peers
from benchmarks.common import S1_PARAMS, s1_reference
from benchmarks.harness import Case


def numpy_loop(h0, a, b, steps):
    def call():
        out = np.empty(steps)
        h = np.float64(h0)
        for i in range(steps):
            h = np.tanh(a * h + b)
            out[i] = h
        return out

    return call


def numba_(h0, a, b, steps):
    from benchmarks import kernels_numba
    return lambda: kernels_numba.recurrence(h0, a, b, steps)


def jax_(h0, a, b, steps):
    jax, jnp = peers.jax_modules()

    @jax.jit
    def f(h0, a, b):
        def body(h, _):
            h = jnp.tanh(a * h + b)
            return h, h
        return jax.lax.scan(body, h0, None, length=steps)[1]

    args = [jnp.asarray(v, dtype="float64") for v in (h0, a, b)]
    return lambda: f(*args).block_until_ready()


def pytensor_(h0, a, b, steps):
    pytensor, pt = peers.pytensor_modules()
    hs, as_, bs = pt.dscalar("h0"), pt.dscalar("a"), pt.dscalar("b")
    outs = pytensor.scan(lambda h, a, b: pt.tanh(a * h + b), outputs_info=hs,
                         non_sequences=[as_, bs], n_steps=steps, return_updates=False)
    f = peers.pytensor_function([hs, as_, bs], outs)
    args = [np.float64(v) for v in (h0, a, b)]
    return lambda: f(*args)


def symgraph_(h0, a, b, steps):
    sg = peers.symgraph()
    hs, as_, bs = (sg.scalar(n, dtype="float64") for n in ("h0", "a", "b"))
    outs, updates = sg.scan(lambda h, a, b: sg.tanh(a * h + b), sequences=None,
                            outputs_info=hs, non_sequences=[as_, bs], n_steps=steps)
    f = sg.function([hs, as_, bs], outs, updates=updates or None, backend="numba")
    args = [np.float64(v) for v in (h0, a, b)]
    return lambda: f(*args)


IMPLS = {"numpy": numpy_loop, "numba": numba_, "jax.jit": jax_, "pytensor": pytensor_,
         "symgraph": symgraph_}


def cases(size):
    steps = size["s1_steps"]
    return [Case(name=f"S1 scan {steps} steps", dtype="float64",
                 inputs=lambda: (*S1_PARAMS, steps),
                 reference=lambda h0, a, b, steps: [s1_reference(steps)], impls=IMPLS,
                 labels={"numpy": "python loop", "numba": "numba loop",
                         "jax.jit": "jax lax.scan", "pytensor": "pytensor scan",
                         "symgraph": "symgraph scan"})]
