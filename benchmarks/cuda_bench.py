"""CUDA backend benchmarks (need a GPU; `--small` runs tiny sizes, also on the simulator).

    python benchmarks/cuda_bench.py            # on a machine with an NVIDIA GPU
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/cuda_bench.py --small   # smoke test, no GPU

1. W1, exp(-x*x/2)*sin(x) + 0.5*tanh(x*y) on 100M float32: the fused kernel's effective
   bandwidth (12 bytes per element: two reads, one write) as a fraction of a
   device-to-device copy's bandwidth on the same GPU. Inputs already on the device.
2. Row-wise logsumexp of a 4096 x 4096 float32 matrix (and torch.logsumexp when PyTorch
   is installed).
3. One SGD step of an MLP 784-256-10 (batch 128, float32) against the same step written
   in PyTorch on the same GPU: symgraph's full call (batch upload, loss returned; the
   updated weights stay on the device) and PyTorch's step with everything on the device.

Timings are medians of repeated runs after a warm-up call, each ended by a device sync.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
from numba import cuda

import symgraph as sg
from backends.numba_cuda.device import upload


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def device_runner(f: sg.Function, arrays: list[np.ndarray]) -> Callable[[], object]:
    """Run a compiled function's kernels on inputs uploaded once (no transfers timed)."""
    tensors = [upload(a) for a in arrays]
    program = f.runner.program
    return lambda: program.run(tensors)


def w1(n: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    xv = rng.standard_normal(n).astype("float32")
    yv = rng.standard_normal(n).astype("float32")
    x, y = sg.vector("x", dtype="float32"), sg.vector("y", dtype="float32")
    out = sg.exp(-x * x / 2) * sg.sin(x) + 0.5 * sg.tanh(x * y)
    f = sg.function([x, y], out, backend="cuda")
    expected = np.exp(-xv * xv / 2) * np.sin(xv) + 0.5 * np.tanh(xv * yv)
    np.testing.assert_allclose(f(xv, yv), expected, rtol=1e-4, atol=1e-5)
    kernel_ms = median_ms(device_runner(f, [xv, yv]), repeat)
    src = cuda.to_device(xv)
    dst = cuda.device_array_like(src)
    copy_ms = median_ms(lambda: dst.copy_to_device(src), repeat)
    copy_bw = 2 * xv.nbytes / copy_ms / 1e6
    w1_bw = 3 * xv.nbytes / kernel_ms / 1e6
    print(f"W1 {n:,} float32: {kernel_ms:.2f} ms, {w1_bw:.0f} GB/s effective; device copy "
          f"{copy_ms:.2f} ms = {copy_bw:.0f} GB/s; fraction {w1_bw / copy_bw:.2f}")
    end_to_end = median_ms(lambda: f(xv, yv), max(1, repeat // 4))
    print(f"W1 with host arrays in and out (transfers included): {end_to_end:.1f} ms")


def logsumexp(rows: int, cols: int, repeat: int) -> None:
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((rows, cols)).astype("float32")
    x = sg.matrix("x", dtype="float32")
    f = sg.function([x], sg.logsumexp(x, axis=1), backend="cuda")
    want = np.log(np.sum(np.exp(xv.astype("float64")), axis=1))
    np.testing.assert_allclose(f(xv), want, rtol=1e-5)
    ms = median_ms(device_runner(f, [xv]), repeat)
    print(f"logsumexp rows of {rows}x{cols} float32: {ms:.3f} ms, "
          f"{xv.nbytes / ms / 1e6:.0f} GB/s read")
    try:
        import torch
    except ImportError:
        print("  (PyTorch not installed: no comparison)")
        return
    if torch.cuda.is_available():
        tx = torch.from_numpy(xv).cuda()
        print(f"  torch.logsumexp: {median_ms(lambda: torch.logsumexp(tx, 1), repeat):.3f} ms")


def mlp(batch: int, sizes: tuple[int, int, int], repeat: int) -> None:
    rng = np.random.default_rng(2)
    n_in, n_hidden, n_out = sizes
    init = [rng.standard_normal((n_in, n_hidden)).astype("float32") * 0.05,
            np.zeros(n_hidden, "float32"),
            rng.standard_normal((n_hidden, n_out)).astype("float32") * 0.05,
            np.zeros(n_out, "float32")]
    xv = rng.standard_normal((batch, n_in)).astype("float32")
    labels = rng.integers(0, n_out, batch)
    params = [sg.shared(p.copy(), shape=p.shape) for p in init]
    x = sg.matrix("x", dtype="float32")
    y = sg.vector("y", dtype="int64")
    h = sg.nn.relu(x @ params[0] + params[1])
    loss = sg.mean(sg.nn.cross_entropy(h @ params[2] + params[3], y))
    grads = sg.grad(loss, params)
    step = sg.function([x, y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)],
                       backend="cuda")
    ms = median_ms(lambda: step(xv, labels), repeat)
    print(f"MLP {n_in}-{n_hidden}-{n_out} batch {batch} SGD step, symgraph cuda: {ms:.3f} ms")
    try:
        import torch
    except ImportError:
        print("  (PyTorch not installed: no comparison)")
        return
    if not torch.cuda.is_available():
        return
    tp = [torch.from_numpy(p.copy()).cuda().requires_grad_() for p in init]
    tx = torch.from_numpy(xv).cuda()
    ty = torch.from_numpy(labels).cuda()

    def torch_step() -> None:
        hidden = torch.relu(tx @ tp[0] + tp[1])
        cost = torch.nn.functional.cross_entropy(hidden @ tp[2] + tp[3], ty)
        for p, g in zip(tp, torch.autograd.grad(cost, tp)):
            p.data -= 0.1 * g

    print(f"  PyTorch eager, same GPU: {median_ms(torch_step, repeat):.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    args = parser.parse_args()
    if args.small:
        w1(1000, 2)
        logsumexp(8, 50, 2)
        mlp(8, (20, 16, 4), 2)
    else:
        w1(100_000_000, 20)
        logsumexp(4096, 4096, 50)
        mlp(128, (784, 256, 10), 50)


if __name__ == "__main__":
    main()
