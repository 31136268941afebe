"""A multilayer perceptron on the 8x8 digits (tutorial 3): ReLU layers, dropout from a
random stream, and SGD, momentum or Adam written as update rules.

    python examples/mlp_digits.py --optimizer adam --hidden 64 64 --dropout 0.2 --epochs 5
"""

import argparse
import time

import numpy as np

import symgraph as sg


def load_digits(seed):
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = (digits.data / 16.0).astype("float32")
    labels = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    cut = int(0.8 * len(images))
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def init_params(sizes, seed):
    rng = np.random.default_rng(seed)
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)  # He initialization
        params.append(sg.shared(w.astype("float32"), name=f"W{i}"))
        params.append(sg.shared(np.zeros(n_out, "float32"), name=f"b{i}"))
    return params


def mlp(params, x, dropout=0.0, stream=None):
    h = x
    for i in range(0, len(params) - 2, 2):
        h = sg.nn.relu(h @ params[i] + params[i + 1])
        h = sg.nn.dropout(h, dropout, stream=stream, training=dropout > 0)
    return h @ params[-2] + params[-1]


def sgd(params, grads, lr):
    return [(p, p - lr * g) for p, g in zip(params, grads)]


def momentum(params, grads, lr, beta=0.9):
    updates = []
    for p, g in zip(params, grads):
        v = sg.shared(np.zeros_like(p.get_value()), name=f"v_{p.name}")
        v_new = beta * v - lr * g
        updates += [(v, v_new), (p, p + v_new)]
    return updates


def adam(params, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = sg.shared(np.float32(0.0), name="t")
    t_new = t + 1
    updates = [(t, t_new)]
    for p, g in zip(params, grads):
        m = sg.shared(np.zeros_like(p.get_value()), name=f"m_{p.name}")
        v = sg.shared(np.zeros_like(p.get_value()), name=f"v_{p.name}")
        m_new = beta1 * m + (1 - beta1) * g
        v_new = beta2 * v + (1 - beta2) * g * g
        m_hat = m_new / (1 - beta1 ** t_new)
        v_hat = v_new / (1 - beta2 ** t_new)
        updates += [(m, m_new), (v, v_new), (p, p - lr * m_hat / (sg.sqrt(v_hat) + eps))]
    return updates


OPTIMIZERS = {"sgd": (sgd, 0.1), "momentum": (momentum, 0.05), "adam": (adam, 0.003)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="update rule (default adam)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: 0.1 sgd, 0.05 momentum, 0.003 adam)")
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 64],
                        help="hidden layer sizes (default 64 64)")
    parser.add_argument("--dropout", type=float, default=0.2,
                        help="dropout probability of hidden units (default 0.2)")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the data (default 5)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    X_train, Y_train, X_test, Y_test = load_digits(args.seed)
    rule, default_lr = OPTIMIZERS[args.optimizer]
    sizes = [64, *args.hidden, 10]
    params = init_params(sizes, args.seed)
    x = sg.matrix("x", dtype="float32")
    y = sg.vector("y", dtype="int64")
    stream = sg.random.RandomStream(args.seed + 1)
    loss = sg.nn.cross_entropy(mlp(params, x, args.dropout, stream), y)
    updates = rule(params, sg.grad(loss, params), args.lr or default_lr)
    start = time.perf_counter()
    step = sg.function([x, y], loss, updates=updates, backend=args.backend)
    predict = sg.function([x], sg.argmax(mlp(params, x), axis=1), backend=args.backend)
    print(f"MLP {'-'.join(map(str, sizes))}, {args.optimizer}, dropout {args.dropout}: "
          f"compiled in {time.perf_counter() - start:.2f} s")
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = rng.permutation(len(X_train))
        batches = np.array_split(order, max(1, len(order) // args.batch_size))
        losses = [step(X_train[idx], Y_train[idx]) for idx in batches]
        print(f"epoch {epoch:3d}  loss {float(np.mean(losses)):.4f}  "
              f"({time.perf_counter() - start:.2f} s)")
    print(f"test accuracy {np.mean(predict(X_test) == Y_test):.3f}")


if __name__ == "__main__":
    main()
