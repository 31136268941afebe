"""Linear regression by gradient descent with a symbolic gradient (tutorial 2).

Fits y = x . w + b to synthetic data with known weights, then compares the result with
the least-squares solution.

    python examples/linear_regression.py --steps 100 --lr 0.1
"""

import argparse

import numpy as np

import symgraph as sg


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="data points (default 200)")
    parser.add_argument("--steps", type=int, default=100, help="gradient steps (default 100)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise std (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    w_true = np.array([2.0, -3.0, 0.5], "float32")
    b_true = 1.0
    X = rng.standard_normal((args.samples, 3)).astype("float32")
    Y = (X @ w_true + b_true + args.noise * rng.standard_normal(args.samples)).astype("float32")

    w = sg.shared(np.zeros(3, "float32"), name="w")
    b = sg.shared(np.float32(0.0), name="b")
    x = sg.matrix("x", dtype="float32")
    y = sg.vector("y", dtype="float32")
    loss = sg.mean((x @ w + b - y) ** 2)
    gw, gb = sg.grad(loss, [w, b])
    train = sg.function([x, y], loss, backend=args.backend,
                        updates=[(w, w - args.lr * gw), (b, b - args.lr * gb)])
    for step in range(args.steps):
        value = train(X, Y)
        if step % max(1, args.steps // 5) == 0:
            print(f"step {step:4d}  loss {float(value):.4f}")
    print(f"final loss {float(value):.4f}")
    print("learned w", w.get_value().round(3), "b", round(float(b.get_value()), 3))
    exact = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1), "float32")]), Y, rcond=None)[0]
    print("least squares w", exact[:3].round(3), "b", round(float(exact[3]), 3))
    gap = float(np.abs(np.append(w.get_value(), b.get_value()) - exact).max())
    print(f"largest difference from least squares {gap:.4f}")


if __name__ == "__main__":
    main()
