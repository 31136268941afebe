"""Logistic regression on two of the 8x8 digits (tutorial 2): sigmoid, binary
cross-entropy from logits, minibatch gradient descent, accuracy on held-out images.

    python examples/logistic_regression.py --digits 3 8 --epochs 30
"""

import argparse

import numpy as np

import symgraph as sg


def load(pair, seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = (digits.target == pair[0]) | (digits.target == pair[1])
    images = (digits.data[keep] / 16.0).astype("float32")
    labels = (digits.target[keep] == pair[1]).astype("float32")
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    cut = int(0.75 * len(images))
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, nargs=2, default=[3, 8], metavar=("A", "B"),
                        help="the two digits to tell apart (default 3 8)")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    X_train, Y_train, X_test, Y_test = load(args.digits, args.seed)
    print(f"{len(X_train)} training and {len(X_test)} test images: {args.digits[0]} vs "
          f"{args.digits[1]}")
    w = sg.shared(np.zeros(64, "float32"), name="w")
    b = sg.shared(np.float32(0.0), name="b")
    x = sg.matrix("x", dtype="float32")
    t = sg.vector("t", dtype="float32")
    logit = x @ w + b
    loss = sg.nn.binary_cross_entropy(logit, t, from_logits=True)
    gw, gb = sg.grad(loss, [w, b])
    train = sg.function([x, t], loss, backend=args.backend,
                        updates=[(w, w - args.lr * gw), (b, b - args.lr * gb)])
    predict = sg.function([x], logit > 0, backend=args.backend)
    size = args.batch_size
    for epoch in range(args.epochs):
        losses = [train(X_train[i:i + size], Y_train[i:i + size])
                  for i in range(0, len(X_train), size)]
        if epoch % max(1, args.epochs // 5) == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:3d}  loss {float(np.mean(losses)):.4f}")
    print(f"train accuracy {np.mean(predict(X_train) == (Y_train == 1)):.3f}")
    print(f"test accuracy {np.mean(predict(X_test) == (Y_test == 1)):.3f}")


if __name__ == "__main__":
    main()
