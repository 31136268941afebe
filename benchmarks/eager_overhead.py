"""Eager per-op overhead: 100 chained elementwise ops on 1,000 float64 values, forward and
backward, symgraph eager against PyTorch eager when it is installed.

    python benchmarks/eager_overhead.py [rounds]

Two chains: "arith" (y*w, y+b, y*0.5, y-c: the cost is the framework's, NumPy's arithmetic
on 1,000 values takes about 1 µs) and "transcendental" (y*w, sin, y+b, tanh: there NumPy's
own sin/tanh dominate). Steps of the two libraries are interleaved and the best CPU time
per step is kept, so a busy machine disturbs both alike. The figure is (forward + backward
time) / 101 ops (100 in the chain and the final sum).
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


def steps(mode, data):
    tensors = [sg.eager.tensor(d, requires_grad=True) for d in data]
    runs = {"symgraph": lambda: chain(*tensors, sg.sin, sg.tanh, mode).backward()}
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
