"""The same MLP trained three ways (tutorial 1): as a static graph (sg.function), eagerly
(define-by-run with a tape), and traced into a graph by sg.jit; prints the losses, which
agree, and the measured time per training step of each.

    python examples/static_vs_dynamic.py --epochs 3 --batch-size 50
"""

import argparse
import time

import numpy as np

import symgraph as sg


def init(sizes, seed):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype("float32"))
        params.append(np.zeros(n_out, "float32"))
    return params


def forward(params, x):
    """The model, written once for symbolic variables and eager tensors alike."""
    h = x
    for i in range(0, len(params) - 2, 2):
        h = sg.nn.relu(h @ params[i] + params[i + 1])
    return h @ params[-2] + params[-1]


def batches(n, size):
    return [slice(i, i + size) for i in range(0, n - size + 1, size)]


def train_static(X, Y, sizes, args):
    params = [sg.shared(p) for p in init(sizes, args.seed)]
    x = sg.matrix("x", dtype="float32")
    y = sg.vector("y", dtype="int64")
    loss = sg.nn.cross_entropy(forward(params, x), y)
    grads = sg.grad(loss, params)
    start = time.perf_counter()
    step = sg.function([x, y], loss, backend=args.backend,
                       updates=[(p, p - args.lr * g) for p, g in zip(params, grads)])
    compile_s = time.perf_counter() - start
    times, losses = [], []
    for _ in range(args.epochs):
        for part in batches(len(X), args.batch_size):
            start = time.perf_counter()
            value = step(X[part], Y[part])
            times.append(time.perf_counter() - start)
        losses.append(float(value))
    return losses, times, compile_s


def train_eager(X, Y, sizes, args):
    tensor = sg.eager.tensor
    params = [tensor(p, requires_grad=True) for p in init(sizes, args.seed)]
    times, losses = [], []
    for _ in range(args.epochs):
        for part in batches(len(X), args.batch_size):
            start = time.perf_counter()
            value = sg.nn.cross_entropy(forward(params, tensor(X[part])), tensor(Y[part]))
            value.backward()
            with sg.eager.no_grad():
                params = [tensor((p - args.lr * p.grad).numpy(), requires_grad=True)
                          for p in params]
            times.append(time.perf_counter() - start)
        losses.append(value.item())
    return losses, times, 0.0


def train_jit(X, Y, sizes, args):
    loss_and_grad = sg.value_and_grad(lambda p, x, y: sg.nn.cross_entropy(forward(p, x), y))

    @sg.jit(backend=args.backend)
    def step(params, x, y):
        value, grads = loss_and_grad(params, x, y)
        return value, [p - args.lr * g for p, g in zip(params, grads)]

    params = init(sizes, args.seed)
    times, losses = [], []
    for _ in range(args.epochs):
        for part in batches(len(X), args.batch_size):
            start = time.perf_counter()
            value, params = step(params, X[part], Y[part])
            times.append(time.perf_counter() - start)
        losses.append(float(value))
    return losses, times[1:], times[0]   # the first call traces and compiles


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="passes over the data (default 3)")
    parser.add_argument("--batch-size", type=int, default=50, help="minibatch size (default 50)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    parser.add_argument("--lr", type=float, default=0.3, help="SGD learning rate (default 0.3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype("float32")
    Y = digits.target.astype("int64")
    sizes = [64, args.hidden, 10]
    print(f"MLP {'-'.join(map(str, sizes))} on {len(X)} digits, {args.epochs} epochs, "
          f"batch {args.batch_size}, backend {args.backend or sg.config.backend}")
    print(f"{'style':<8}{'compile':>10}{'ms/step':>10}   loss per epoch")
    for name, train in [("static", train_static), ("eager", train_eager), ("jit", train_jit)]:
        losses, times, compile_s = train(X, Y, sizes, args)
        curve = " ".join(f"{v:.4f}" for v in losses)
        print(f"{name:<8}{compile_s:>9.2f}s{1000 * float(np.median(times)):>10.3f}   {curve}")


if __name__ == "__main__":
    main()
