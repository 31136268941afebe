"""Eager per-op overhead: 100 chained elementwise ops on 1,000 float64 values, forward and
backward, symgraph eager against PyTorch eager when it is installed.

    python benchmarks/eager_overhead.py [rounds]

Two chains: "arith" (y*w, y+b, y*0.5, y-c: the cost is the framework's, NumPy's arithmetic
on 1,000 values takes about 1 µs) and "transcendental" (y*w, sin, y+b, tanh: symgraph runs
sin, tanh and the backward's cos with the numba backend's vectorized kernels, see
docs/eager.md, PyTorch with its own). Steps of the libraries are interleaved and the best CPU time per
step is kept, so a busy machine disturbs them alike. The figure is (forward + backward
time) / 101 ops (100 in the chain and the final sum). The "numpy" column is the same
forward and backward written by hand in NumPy, no framework: the floor of any NumPy-based
eager mode (its float64 sin, cos and tanh are scalar libm calls here, ~10-14 µs each).
"""

import sys
import time

import numpy as np

import symgraph as sg

OPS = 101


def chain(x, w, b, c, sin, tanh, mode):
    y = x
    for _ in range(25):
        if mode == "arith":
            y = y * w
            y = y + b
            y = y * 0.5
            y = y - c
        else:
            y = y * w
            y = sin(y)
            y = y + b
            y = tanh(y)
    return y.sum()


def numpy_step(x, w, b, c, mode):
    """Forward and hand-written backward of chain() in NumPy: (loss, dx, dw, db, dc)."""
    y, saved = x, []
    for _ in range(25):
        if mode == "arith":
            saved.append(y)
            y = (((y * w) + b) * 0.5) - c
        else:
            saved.append((y, np.sin(y * w)))
            y = np.tanh(saved[-1][1] + b)
            saved[-1] += (y,)
    g, dw, db, dc = np.ones_like(x), 0.0, 0.0, 0.0
    for item in reversed(saved):
        if mode == "arith":
            dc = dc - g
            g = g * 0.5
            db = db + g
            dw = dw + g * item
            g = g * w
        else:
            y_in, s, t = item
            g = g * (1 - t * t)
            db = db + g
            g = g * np.cos(y_in * w)
            dw = dw + g * y_in
            g = g * w
    return y.sum(), g, dw, db, dc


def steps(mode, data):
    tensors = [sg.eager.tensor(d, requires_grad=True) for d in data]
    runs = {"symgraph": lambda: chain(*tensors, sg.sin, sg.tanh, mode).backward(),
            "numpy": lambda: numpy_step(*data, mode)}
    try:
        import torch
    except ImportError:
        return runs
    torch.set_num_threads(1)
    torch_tensors = [torch.tensor(d, requires_grad=True) for d in data]
    runs["torch"] = lambda: chain(*torch_tensors, torch.sin, torch.tanh, mode).backward()
    return runs


def main(rounds: int) -> None:
    rng = np.random.default_rng(0)
    data = [rng.random(1000) for _ in range(4)]
    for mode in ("arith", "transcendental"):
        runs = steps(mode, data)
        best = {name: float("inf") for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.thread_time()
                run()
                best[name] = min(best[name], time.thread_time() - start)
        figures = "   ".join(f"{name} {t / OPS * 1e6:5.1f} µs/op" for name, t in best.items())
        print(f"{mode:15s} {figures}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
