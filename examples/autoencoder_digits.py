"""A linear autoencoder on the 8x8 digits (tutorial 4), trained with Adam, compared with
the exact optimum it should approach: PCA with as many components as the code has.

    python examples/autoencoder_digits.py --code-size 8 --epochs 12
"""

import argparse

import numpy as np

import symgraph as sg


def adam(params, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = sg.shared(np.float32(0.0), name="t")
    t_new = t + 1
    updates = [(t, t_new)]
    for p, g in zip(params, grads):
        m = sg.shared(np.zeros_like(p.get_value()))
        v = sg.shared(np.zeros_like(p.get_value()))
        m_new = beta1 * m + (1 - beta1) * g
        v_new = beta2 * v + (1 - beta2) * g * g
        step = lr * (m_new / (1 - beta1 ** t_new)) / (sg.sqrt(v_new / (1 - beta2 ** t_new)) + eps)
        updates += [(m, m_new), (v, v_new), (p, p - step)]
    return updates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-size", type=int, default=8, help="code dimensions (default 8)")
    parser.add_argument("--epochs", type=int, default=12, help="passes over the data (default 12)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits

    X = (load_digits().data / 16.0).astype("float32")
    Xc = X - X.mean(axis=0)
    rng = np.random.default_rng(args.seed)
    k = args.code_size
    encoder = sg.shared((rng.standard_normal((64, k)) * 0.1).astype("float32"), name="E")
    decoder = sg.shared((rng.standard_normal((k, 64)) * 0.1).astype("float32"), name="D")
    x = sg.matrix("x", dtype="float32")
    error = sg.mean(sg.sum((x @ encoder @ decoder - x) ** 2, axis=1))
    params = [encoder, decoder]
    train = sg.function([x], error, updates=adam(params, sg.grad(error, params), args.lr),
                        backend=args.backend)
    measure = sg.function([x], error, backend=args.backend)
    for epoch in range(args.epochs):
        for i in range(0, len(Xc), args.batch_size):
            train(Xc[i:i + args.batch_size])
        print(f"epoch {epoch:3d}  reconstruction error {float(measure(Xc)):.4f}")
    singular = np.linalg.svd(Xc, compute_uv=False)
    pca = (singular[k:] ** 2).sum() / len(Xc)
    print(f"autoencoder error {float(measure(Xc)):.4f}")
    print(f"PCA error {pca:.4f} ({k} components)")


if __name__ == "__main__":
    main()
