"""k-means clustering of the 8x8 digits (tutorial 4): one compiled function per iteration
(assign each image to its nearest centroid, move each centroid to its members' mean),
then the clusters compared with the labels they never saw.

    python examples/kmeans_digits.py --k 10 --iterations 20
"""

import argparse

import numpy as np

import symgraph as sg


def kmeans_step(x, centroids, k):
    """The loss (inertia), the assignment, and the new centroids, as graph nodes."""
    distance2 = (sg.sum(x * x, axis=1, keepdims=True) - 2 * (x @ centroids.T)
                 + sg.sum(centroids * centroids, axis=1))
    assign = sg.argmin(distance2, axis=1)
    member = sg.nn.one_hot(assign, k, dtype="float32")
    counts = sg.sum(member, axis=0)
    means = (member.T @ x) / sg.maximum(counts, 1.0)[:, None]
    new_centroids = sg.where(counts[:, None] > 0, means, centroids)  # keep empty clusters
    return sg.sum(sg.min(distance2, axis=1)), assign, new_centroids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10, help="number of clusters (default 10)")
    parser.add_argument("--iterations", type=int, default=20,
                        help="assign/update rounds (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype("float32")
    rng = np.random.default_rng(args.seed)
    centroids = sg.shared(X[rng.choice(len(X), args.k, replace=False)].copy(), name="centroids")
    x = sg.matrix("x", dtype="float32")
    inertia, assign, new_centroids = kmeans_step(x, centroids, args.k)
    step = sg.function([x], [inertia, assign], updates=[(centroids, new_centroids)],
                       backend=args.backend)
    for iteration in range(args.iterations):
        value, clusters = step(X)
        print(f"iteration {iteration:3d}  inertia {float(value):9.1f}")
    purity = 0
    for c in range(args.k):
        members = digits.target[clusters == c]
        if len(members):
            counts = np.bincount(members, minlength=10)
            purity += counts.max()
            print(f"cluster {c:2d}: {len(members):4d} images, mostly {counts.argmax()} "
                  f"({counts.max() / len(members):.0%})")
    print(f"purity {purity / len(X):.3f}")


if __name__ == "__main__":
    main()
