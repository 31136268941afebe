"""W1 (a fused elementwise expression on 10M values) and W5 (per-call overhead of x + 1)."""

import numpy as np

from benchmarks import peers
from benchmarks.common import w1_expr, w1_inputs
from benchmarks.harness import Case

# numexpr promotes Python float constants to float64: they come in as arrays of x's dtype.
W1_NUMEXPR = "exp(-x*x*half)*sin(x) + half*tanh(x*y)"


# ---------------------------------------------------------------- W1

def w1_numpy(x, y):
    return lambda: w1_expr(np, x, y)


def w1_numba(x, y):
    from benchmarks import kernels_numba
    half = x.dtype.type(0.5)
    return lambda: kernels_numba.w1(x, y, np.empty_like(x), half, half)


def w1_numexpr(x, y):
    import numexpr
    numexpr.set_num_threads(peers.threads())
    names = {"x": x, "y": y, "half": x.dtype.type(0.5)}
    return lambda: numexpr.evaluate(W1_NUMEXPR, local_dict=names)


def w1_jax(x, y):
    jax, jnp = peers.jax_modules()
    f = jax.jit(lambda a, b: w1_expr(jnp, a, b))
    xd = jnp.asarray(x)
    yd = jnp.asarray(y)
    return lambda: f(xd, yd).block_until_ready()


def w1_torch(x, y):
    torch = peers.torch_module()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    return lambda: w1_expr(torch, xt, yt)


def w1_torch_compile(x, y):
    torch = peers.torch_module()
    f = peers.torch_compile(lambda a, b: w1_expr(torch, a, b))
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    return lambda: f(xt, yt)


def w1_pytensor(x, y):
    _, pt = peers.pytensor_modules()
    xs = pt.vector("x", dtype=str(x.dtype))
    ys = pt.vector("y", dtype=str(y.dtype))
    f = peers.pytensor_function([xs, ys], w1_expr(pt, xs, ys))
    return lambda: f(x, y)


def w1_symgraph(x, y):
    sg = peers.symgraph()
    xs = sg.vector("x", dtype=str(x.dtype))
    ys = sg.vector("y", dtype=str(y.dtype))
    f = sg.function([xs, ys], w1_expr(sg, xs, ys), backend="numba")
    return lambda: f(x, y)


W1_IMPLS = {"numpy": w1_numpy, "numba": w1_numba, "numexpr": w1_numexpr, "jax.jit": w1_jax,
            "torch": w1_torch, "torch.compile": w1_torch_compile, "pytensor": w1_pytensor,
            "symgraph": w1_symgraph}


# ---------------------------------------------------------------- W5

def w5_numpy(x):
    return lambda: x + 1


def w5_numba(x):
    from benchmarks import kernels_numba
    return lambda: kernels_numba.add_one(x)


def w5_jax(x):
    jax, _ = peers.jax_modules()
    f = jax.jit(lambda a: a + 1)
    return lambda: f(x).block_until_ready()  # a NumPy input: conversion is part of the call


def w5_torch(x):
    torch = peers.torch_module()
    xt = torch.from_numpy(x)
    return lambda: xt + 1


def w5_pytensor(x):
    _, pt = peers.pytensor_modules()
    xs = pt.vector("x", dtype="float64")
    f = peers.pytensor_function([xs], xs + 1)
    return lambda: f(x)


def w5_symgraph(x):
    sg = peers.symgraph()
    xs = sg.vector("x", dtype="float64")
    f = sg.function([xs], xs + 1, backend="numba")
    return lambda: f(x)


W5_IMPLS = {"numpy": w5_numpy, "numba": w5_numba, "jax.jit": w5_jax, "torch": w5_torch,
            "pytensor": w5_pytensor, "symgraph": w5_symgraph}


def cases(size):
    n = size["w1_n"]
    out = []
    for dtype in ("float32", "float64"):
        out.append(Case(
            name=f"W1 {dtype}", dtype=dtype,
            inputs=lambda dtype=dtype: w1_inputs(n, dtype),
            reference=lambda x, y: [w1_expr(np, x.astype("float64"), y.astype("float64"))],
            impls=W1_IMPLS))
    m = size["w5_n"]
    out.append(Case(
        name="W5 x+1 overhead", dtype="float64",
        inputs=lambda: (np.linspace(-1, 1, m),),
        reference=lambda x: [x + 1],
        impls=W5_IMPLS,
        labels={"numba": "numba (serial)", "torch": "torch eager"}))
    return out
