"""Benchmark backends/numba_cpu/vecmath.py against libm-in-numba and NumPy.

Run from the repository root: ``python benchmarks/vecmath_bench.py [--n 10000000] [--repeat 7]``.
Each row is one elementwise function over n elements: a ``prange`` loop calling numba's libm
(``math.exp`` ...), the same loop calling our vectorizable function, and the NumPy (or SciPy)
ufunc. Times are medians of ``repeat`` interleaved runs after a warm-up call; ratios are
relative to ours.
The last rows are the W1 kernel of DESIGN.md: exp(-x*x/2)*sin(x) + 0.5*tanh(x*y).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import scipy.special
from numba import njit, prange

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from backends.numba_cpu import vecmath  # noqa: E402


def _libm_sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _libm_softplus(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0)


LIBM = {"exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p,
        "sin": math.sin, "cos": math.cos, "tanh": math.tanh, "erf": math.erf,
        "sigmoid": njit(_libm_sigmoid), "softplus": njit(_libm_softplus)}
NUMPY = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "sin": np.sin,
         "cos": np.cos, "tanh": np.tanh, "erf": scipy.special.erf,
         "sigmoid": scipy.special.expit, "softplus": lambda x: np.logaddexp(0, x)}
DOMAIN = {"log": (1e-3, 1e3), "log1p": (-0.9, 1e3)}     # others: (-10, 10)


def _map_kernel(fn):
    @njit(parallel=True)
    def run(x, out):
        for i in prange(x.size):
            out[i] = fn(x[i])
    return run


def _w1_kernel(exp, sin, tanh, half):
    @njit(parallel=True)
    def run(x, y, out):
        for i in prange(x.size):
            xi = x[i]
            out[i] = exp(-xi * xi * half) * sin(xi) + half * tanh(xi * y[i])
    return run


def _medians_ms(fns: list, repeat: int) -> list[float]:
    """Median time of each callable; runs are interleaved so that load from other processes
    on the machine hits all of them alike."""
    for fn in fns:
        fn()                                    # warm-up (and compile)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [1e3 * float(np.median(ts)) for ts in times]


def _row(name: str, libm_ms: float, ours_ms: float, numpy_ms: float) -> str:
    return (f"{name:10s} {libm_ms:9.1f} {ours_ms:9.1f} {numpy_ms:9.1f}"
            f" {libm_ms / ours_ms:10.1f}x {numpy_ms / ours_ms:10.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"n={args.n:,}  median of {args.repeat}  threads={os.cpu_count()}  times in ms")
    for dtype in ("float32", "float64"):
        ft = np.dtype(dtype).type
        print(f"\n{dtype:10s} {'libm':>9s} {'ours':>9s} {'numpy':>9s}"
              f" {'libm/ours':>11s} {'numpy/ours':>11s}")
        for name in LIBM:
            lo, hi = DOMAIN.get(name, (-10.0, 10.0))
            x = rng.uniform(lo, hi, args.n).astype(dtype)
            out = np.empty_like(x)
            libm_k = _map_kernel(LIBM[name])
            ours_k = _map_kernel(vecmath.FUNCTIONS[(name, dtype)])
            times = _medians_ms([lambda: libm_k(x, out), lambda: ours_k(x, out),
                                 lambda: NUMPY[name](x)], args.repeat)
            print(_row(name, *times))
        x = rng.uniform(-4, 4, args.n).astype(dtype)
        y = rng.uniform(-4, 4, args.n).astype(dtype)
        out = np.empty_like(x)
        half = ft(0.5)
        libm_k = _w1_kernel(math.exp, math.sin, math.tanh, half)
        f = vecmath.FUNCTIONS
        ours_k = _w1_kernel(f[("exp", dtype)], f[("sin", dtype)], f[("tanh", dtype)], half)
        times = _medians_ms([lambda: libm_k(x, y, out), lambda: ours_k(x, y, out),
                             lambda: np.exp(-x * x / 2) * np.sin(x) + 0.5 * np.tanh(x * y)],
                            args.repeat)
        print(_row("W1", *times))


if __name__ == "__main__":
    main()
