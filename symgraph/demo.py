"""`symgraph demo`: one small classifier trained twice, as a compiled static graph and in
define-by-run (eager) mode, on scikit-learn's bundled handwritten digits (no download).

Both runs use the same model code (`forward` below); the static run declares the graph
once, differentiates it symbolically and compiles one training-step function; the eager
run computes every operation as Python reaches it and differentiates the recorded tape.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import symgraph as sg


@dataclass
class Result:
    """What one training run measured."""

    mode: str
    accuracy: float = 0.0
    compile_s: float = 0.0
    epoch_s: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    nodes_before: int | None = None
    nodes_after: int | None = None
    fused: int | None = None


def load_digits(seed: int = 0) -> tuple[np.ndarray, ...]:
    """The 8x8 digits scaled to [0, 1], shuffled, split 80/20 into train and test."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        sys.exit("symgraph demo needs scikit-learn for its bundled digits data set:\n"
                 "    pip install -e '.[demo]'")
    digits = sklearn_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    return x[:cut], y[:cut], x[cut:], y[cut:]


def init_params(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    """He-initialized weights and zero biases for a ReLU MLP with these layer sizes."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype("float32"))
        params.append(np.zeros(n_out, "float32"))
    return params


def forward(params: list[Any], x: Any) -> Any:
    """The model, written once: symbolic variables and eager tensors both go through it."""
    h = x
    for i in range(0, len(params) - 2, 2):
        h = sg.nn.relu(h @ params[i] + params[i + 1])
    return h @ params[-2] + params[-1]


def batches(n: int, size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for start in range(0, n, size):
        yield order[start:start + size]


def progress(mode: str, epoch: int, epochs: int, loss: float) -> None:
    width = 24
    done = int(width * epoch / epochs)
    bar = "#" * done + "." * (width - done)
    end = "\n" if epoch == epochs or not sys.stderr.isatty() else ""
    print(f"\r  {mode:<8} [{bar}] epoch {epoch:>2}/{epochs}  loss {loss:.4f}", end=end,
          file=sys.stderr, flush=True)


def train_static(data, sizes, epochs, batch, lr, backend) -> tuple[Result, Any]:
    """Declare the graph, differentiate it, compile one SGD step, then run it."""
    xtr, ytr, xte, yte = data
    result = Result("static")
    params = [sg.shared(p, name=n) for p, n in
              zip(init_params(sizes), ["W1", "b1", "W2", "b2", "W3", "b3"])]
    x = sg.matrix("x", dtype="float32")
    y = sg.vector("y", dtype="int64")
    logits = forward(params, x)
    loss = sg.nn.cross_entropy(logits, y)
    grads = sg.grad(loss, params)
    start = time.perf_counter()
    step = sg.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)],
                       backend=backend)
    predict = sg.function([x], sg.argmax(logits, axis=1), backend=backend)
    result.compile_s = time.perf_counter() - start
    result.nodes_before, result.nodes_after = len(step.unoptimized), len(step.graph)
    result.fused = sum(1 for n in step.graph.nodes
                       if not n.is_leaf and n.op.kind in ("fused", "fused_reduce"))
    rng = np.random.default_rng(1)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        losses = [float(step(xtr[idx], ytr[idx])) for idx in batches(len(xtr), batch, rng)]
        result.epoch_s.append(time.perf_counter() - start)
        result.losses.append(float(np.mean(losses)))
        progress("static", epoch, epochs, result.losses[-1])
    result.accuracy = float(np.mean(predict(xte) == yte))
    return result, step


def train_eager(data, sizes, epochs, batch, lr) -> Result:
    """Run the same model define-by-run: compute, record, backward, update, repeat."""
    xtr, ytr, xte, yte = data
    result = Result("eager")
    tensor = sg.eager.tensor
    params = [tensor(p, requires_grad=True) for p in init_params(sizes)]
    rng = np.random.default_rng(1)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        losses = []
        for idx in batches(len(xtr), batch, rng):
            loss = sg.nn.cross_entropy(forward(params, tensor(xtr[idx])), tensor(ytr[idx]))
            loss.backward()
            with sg.eager.no_grad():
                params = [tensor((p - lr * p.grad).numpy(), requires_grad=True) for p in params]
            losses.append(loss.item())
        result.epoch_s.append(time.perf_counter() - start)
        result.losses.append(float(np.mean(losses)))
        progress("eager", epoch, epochs, result.losses[-1])
    with sg.eager.no_grad():
        predicted = sg.argmax(forward(params, tensor(xte)), axis=1).numpy()
    result.accuracy = float(np.mean(predicted == yte))
    return result


def table(results: list[Result]) -> str:
    """The side-by-side comparison, as aligned text."""
    def fmt(value: Any, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("test accuracy", lambda r: f"{100 * r.accuracy:.1f} %"),
        ("final train loss", lambda r: f"{r.losses[-1]:.4f}"),
        ("compile time", lambda r: f"{r.compile_s:.2f} s" if r.mode == "static" else "none"),
        ("time per epoch", lambda r: f"{1000 * float(np.median(r.epoch_s)):.1f} ms"),
        ("graph nodes (as written)", lambda r: fmt(r.nodes_before, "d")),
        ("graph nodes (optimized)", lambda r: fmt(r.nodes_after, "d")),
        ("fused kernels", lambda r: fmt(r.fused, "d")),
    ]
    width = max(len(name) for name, _ in rows) + 2
    lines = [" " * width + "".join(f"{r.mode + ' graph':>16}" for r in results)]
    for name, cell in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{cell(r):>16}" for r in results))
    return "\n".join(lines)


def save_pictures(results: list[Result], step: Any, out: str) -> list[str]:
    """The loss curves (PNG) and the optimized training graph (SVG via Graphviz, or DOT)."""
    os.makedirs(out, exist_ok=True)
    notes = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        # The two runs compute the same thing, so their curves coincide: draw the static one
        # wide and pale, the eager one dashed on top, so both stay visible.
        styles = {"static": dict(linewidth=6, alpha=0.35), "eager": dict(linestyle="--",
                                                                          marker="o")}
        for r in results:
            ax.plot(range(1, len(r.losses) + 1), r.losses, label=f"{r.mode} graph",
                    **styles.get(r.mode, {}))
        ax.set(xlabel="epoch", ylabel="mean training loss",
               title="symgraph demo: digits MLP (static and eager coincide)")
        ax.legend()
        ax.grid(alpha=0.3)
        path = os.path.join(out, "loss_curve.png")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        notes.append(f"loss curves:     {path}")
    except ImportError:
        notes.append("loss curves:     skipped (matplotlib is not installed: pip install -e '.[demo]')")
    dot_path = os.path.join(out, "graph.dot")
    with open(dot_path, "w") as handle:
        handle.write(sg.to_dot(step))
    if shutil.which("dot"):
        svg_path = os.path.join(out, "graph.svg")
        subprocess.run(["dot", "-Tsvg", dot_path, "-o", svg_path], check=False)
        notes.append(f"optimized graph: {svg_path} (Graphviz source: {dot_path})")
    else:
        notes.append(f"optimized graph: {dot_path} (Graphviz's `dot` is not installed, so "
                     "this is the source; render it with `dot -Tsvg`)")
    return notes


def run(epochs: int = 10, hidden: int = 64, batch: int = 64, lr: float = 0.1,
        backend: str | None = None, out: str = "symgraph-demo", eager: bool = True) -> list[Result]:
    """Train both ways, print the comparison, write the pictures; returns the results."""
    data = load_digits()
    sizes = [64, hidden, 10]
    backend = backend or sg.config.backend
    print(f"symgraph demo: {len(data[0])} training and {len(data[2])} test digits (8x8), "
          f"MLP {'-'.join(map(str, sizes))}, {epochs} epochs, backend {backend!r}\n")
    static, step = train_static(data, sizes, epochs, batch, lr, backend)
    results = [static]
    if eager:
        results.append(train_eager(data, sizes, epochs, batch, lr))
    print("\n" + table(results) + "\n")
    for note in save_pictures(results, step, out):
        print(note)
    return results
