"""W4: compile latency in a fresh process, cold (empty cache) and warm (second process).

The runner starts `python -m benchmarks.compile_latency --impl IMPL --graph GRAPH` once
with an empty cache directory (cold) and once more with the same directory (warm); for
symgraph a third time with only its kernels' cache kept (`NUMBA_CACHE_DIR`): a graph
this machine never compiled, in a process where symgraph itself was used before. The
probe times the import of the framework, then building, compiling and running the graph
once (what a user waits for), checks the result, and prints one JSON line.
"""

import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import mlp, peers
from benchmarks.common import CHAIN, chain_expr, chain_inputs, check, describe, mlp_inputs, \
    mlp_reference

GRAPHS = ("mlp", "chain")
CHAIN_DTYPE = "float64"  # numba literals are float64: keeps the hand-written chain exact

# The environment variable that points each implementation at its cache directory;
# None: no persistent cache by default, so only a cold run is meaningful.
CACHE_ENV = {"numba": "NUMBA_CACHE_DIR", "jax.jit": None,
             "torch.compile": "TORCHINDUCTOR_CACHE_DIR", "pytensor": "PYTENSOR_FLAGS",
             "symgraph": "SYMGRAPH_CACHE_DIR"}
IMPORTS = {"numba": "numba", "jax.jit": "jax", "torch.compile": "torch",
           "pytensor": "pytensor", "symgraph": "symgraph"}


def cache_env(impl, directory):
    """Environment entries that make `impl` keep its compile cache in `directory`."""
    name = CACHE_ENV[impl]
    if name is None:
        return {}
    if name == "PYTENSOR_FLAGS":
        return {name: f"base_compiledir={directory}"}
    env = {name: directory}
    if impl == "symgraph":  # the backend's own kernels too: a cold start compiles everything
        env["NUMBA_CACHE_DIR"] = os.path.join(directory, "kernels")
    if impl == "torch.compile":
        env.update(TORCHINDUCTOR_FX_GRAPH_CACHE="1", TORCHINDUCTOR_AUTOGRAD_CACHE="1")
    return env


# ---------------------------------------------------------------- the chain graph

def chain_numba(x, y):
    """Generated source in a real file (numba caches only those), one fused prange loop."""
    import numba
    lines = ["import numpy as np", "from numba import prange", "",
             "def chain(x, y, out):", "    for i in prange(x.shape[0]):",
             "        v = x[i]", "        yi = y[i]"]
    body = {"mul": "v = v * {c!r}", "add_y": "v = v + yi", "sin": "v = np.sin(v)",
            "tanh": "v = np.tanh(v)"}
    lines += ["        " + body[kind].format(c=c) for kind, c in CHAIN]
    lines += ["        out[i] = v", "    return out", ""]
    directory = os.environ.get("NUMBA_CACHE_DIR") or tempfile.mkdtemp()
    path = os.path.join(directory, "bench_chain_kernel.py")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    spec = importlib.util.spec_from_file_location("bench_chain_kernel", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a cached kernel is loaded back through its module
    spec.loader.exec_module(module)
    kernel = numba.njit(parallel=True, cache=True)(module.chain)
    return lambda: kernel(x, y, np.empty_like(x))


def chain_jax(x, y):
    jax, jnp = peers.jax_modules()
    f = jax.jit(lambda a, b: chain_expr(jnp, a, b))
    return lambda: f(x, y).block_until_ready()


def chain_torch_compile(x, y):
    torch = peers.torch_module()
    f = peers.torch_compile(lambda a, b: chain_expr(torch, a, b))
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    return lambda: f(xt, yt)


def chain_pytensor(x, y):
    _, pt = peers.pytensor_modules()
    xs = pt.vector("x", dtype=CHAIN_DTYPE)
    ys = pt.vector("y", dtype=CHAIN_DTYPE)
    f = peers.pytensor_function([xs, ys], chain_expr(pt, xs, ys))
    return lambda: f(x, y)


def chain_symgraph(x, y):
    sg = peers.symgraph()
    xs = sg.vector("x", dtype=CHAIN_DTYPE)
    ys = sg.vector("y", dtype=CHAIN_DTYPE)
    f = sg.function([xs, ys], chain_expr(sg, xs, ys), backend="numba")
    return lambda: f(x, y)


CHAIN_IMPLS = {"numba": chain_numba, "jax.jit": chain_jax,
               "torch.compile": chain_torch_compile, "pytensor": chain_pytensor,
               "symgraph": chain_symgraph}


# ---------------------------------------------------------------- the probe

def probe(impl, graph, n_chain=1000):
    """Run in a fresh process: {"import_s", "first_s", "status", "reason"}."""
    result = {"status": "ok", "reason": ""}
    try:
        t0 = time.perf_counter()
        importlib.import_module(IMPORTS[impl])
        result["import_s"] = time.perf_counter() - t0
        if graph == "mlp":
            inputs = mlp_inputs(128)
            t0 = time.perf_counter()
            call, fetch = mlp.IMPLS[impl](*inputs)
            call()
            out = fetch()
            result["first_s"] = time.perf_counter() - t0
            out = mlp.updates([np.asarray(o) for o in _numpy(out)], inputs)
            ref = mlp.updates(mlp_reference(*inputs), inputs)
            problem = check(out, ref, "float32", (1e-3, 1e-4))
        else:
            x, y = chain_inputs(n_chain, CHAIN_DTYPE)
            t0 = time.perf_counter()
            out = CHAIN_IMPLS[impl](x, y)()
            result["first_s"] = time.perf_counter() - t0
            problem = check(_numpy(out), [chain_expr(np, x, y)], CHAIN_DTYPE)
    except Exception as exc:  # noqa: BLE001 - reported as the row's status
        unavailable = impl == "symgraph" or isinstance(exc, ImportError)
        result.update(status="unavailable" if unavailable else "failed", reason=describe(exc))
        return result
    if problem:
        result.update(status="mismatch", reason=problem)
    return result


def _numpy(out):
    from benchmarks.harness import to_numpy
    return to_numpy(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", required=True, choices=sorted(CACHE_ENV))
    parser.add_argument("--graph", required=True, choices=GRAPHS)
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.impl, args.graph)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
