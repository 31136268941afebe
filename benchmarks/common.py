"""What every implementation shares: sizes, inputs, NumPy references, timing, checking.

This module needs NumPy only, because it is imported both by the runner (the project's
Python) and by `peer_pytensor.py` (PyTensor's own venv, which has another numba).
"""

import math
import time

import numpy as np

SEED = 0
LR = 0.1  # learning rate of the W3 SGD step

# Sizes: the defaults of the brief, and a quick smoke-run variant.
SIZES = {
    "full": {"w1_n": 10_000_000, "w2_n": 4096, "w3_batch": 128, "w5_n": 10,
             "e1_n": 1_000, "s1_steps": 1_000, "chain_n": 1_000},
    "quick": {"w1_n": 200_000, "w2_n": 256, "w3_batch": 32, "w5_n": 10,
              "e1_n": 1_000, "s1_steps": 100, "chain_n": 1_000},
}
MLP_SHAPE = (784, 256, 10)
CHAIN_LENGTH = 100

# Tolerances per dtype: |got - ref| <= atol_scale * max|ref| + rtol * |ref|, elementwise.
TOLERANCE = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}


# ---------------------------------------------------------------- the expressions

def w1_expr(ns, x, y):
    """W1, written once for every namespace with exp/sin/tanh (np, jnp, torch, pt, sg)."""
    return ns.exp(-x * x / 2) * ns.sin(x) + 0.5 * ns.tanh(x * y)


# The 100-node chain of W4 and E1: (kind, constant) steps, bounded values throughout.
CHAIN = [(("mul", 1.25), ("add_y", None), ("sin", None), ("tanh", None))[i % 4]
         for i in range(CHAIN_LENGTH)]


def chain_expr(ns, x, y):
    """Apply CHAIN to x (y is added at the add_y steps); ns provides sin and tanh."""
    v = x
    for kind, c in CHAIN:
        if kind == "mul":
            v = v * c
        elif kind == "add_y":
            v = v + y
        elif kind == "sin":
            v = ns.sin(v)
        else:
            v = ns.tanh(v)
    return v


def chain_reference(x, y):
    """Forward and hand-written backward of sum(chain(x, y)): (value, dL/dx, dL/dy)."""
    values = [x]
    for kind, c in CHAIN:
        v = values[-1]
        values.append({"mul": lambda: v * c, "add_y": lambda: v + y,
                       "sin": lambda: np.sin(v), "tanh": lambda: np.tanh(v)}[kind]())
    g = np.ones_like(x)
    gy = np.zeros_like(y)
    for (kind, c), v_in, v_out in zip(reversed(CHAIN), reversed(values[:-1]),
                                      reversed(values[1:])):
        if kind == "mul":
            g = g * c
        elif kind == "add_y":
            gy = gy + g
        elif kind == "sin":
            g = g * np.cos(v_in)
        else:
            g = g * (1 - v_out * v_out)
    return [np.asarray(values[-1].sum()), g, gy]


# ---------------------------------------------------------------- inputs

def rng():
    return np.random.default_rng(SEED)


def w1_inputs(n, dtype):
    r = rng()
    x = r.uniform(-3, 3, n).astype(dtype)
    y = r.uniform(-3, 3, n).astype(dtype)
    return x, y


def w2_inputs(n):
    return (rng().standard_normal((n, n)) * 4).astype("float32")


def mlp_inputs(batch):
    """(X, labels, [W1, b1, W2, b2]) with He-style initial weights, all float32."""
    r = rng()
    n_in, n_hidden, n_out = MLP_SHAPE
    X = r.standard_normal((batch, n_in)).astype("float32")
    labels = r.integers(0, n_out, batch).astype("int64")
    params = [(r.standard_normal((n_in, n_hidden)) * math.sqrt(2 / n_in)).astype("float32"),
              np.zeros(n_hidden, "float32"),
              (r.standard_normal((n_hidden, n_out)) * math.sqrt(2 / n_hidden)).astype("float32"),
              np.zeros(n_out, "float32")]
    return X, labels, params


def chain_inputs(n, dtype):
    r = rng()
    return r.uniform(-1, 1, n).astype(dtype), r.uniform(-0.5, 0.5, n).astype(dtype)


S1_PARAMS = (0.1, 0.9, -0.2)  # h0, a, b


# ---------------------------------------------------------------- NumPy references

def w2_logsumexp_reference(X):
    X = X.astype("float64")
    m = X.max(axis=1)
    return np.log(np.exp(X - m[:, None]).sum(axis=1)) + m


def w2_softmax_reference(X):
    X = X.astype("float64")
    e = np.exp(X - X.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_step_numpy(X, labels, params, lr=LR):
    """One SGD step with hand-written backprop; updates params in place, returns loss."""
    W1, b1, W2, b2 = params
    z1 = X @ W1 + b1
    h = np.maximum(z1, 0)
    logits = h @ W2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    n = X.shape[0]
    rows = np.arange(n)
    loss = np.mean(np.log(s[:, 0]) - shifted[rows, labels])
    dlogits = e / s
    dlogits[rows, labels] -= 1
    dlogits /= n
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dz1 = (dlogits @ W2.T) * (z1 > 0)
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return loss


def mlp_reference(X, labels, params):
    """[loss, W1', b1', W2', b2'] after one step, computed in float64."""
    p64 = [p.astype("float64") for p in params]
    loss = mlp_step_numpy(X.astype("float64"), labels, p64)
    return [np.asarray(loss)] + p64


def s1_reference(steps):
    h0, a, b = S1_PARAMS
    out = np.empty(steps)
    h = h0
    for i in range(steps):
        h = math.tanh(a * h + b)
        out[i] = h
    return out


# ---------------------------------------------------------------- timing and checking

def measure(call, repeat=7, warmup=2, budget_s=3.0, min_batch_s=2e-3):
    """Time `call` (outputs ready when it returns): median and min seconds per call.

    Fast calls are timed in batches of `number` calls so that one batch lasts at least
    `min_batch_s`; the repetition count shrinks (never below 3) to stay near `budget_s`.
    """
    t0 = time.perf_counter()
    for _ in range(warmup):
        call()
    one = (time.perf_counter() - t0) / max(warmup, 1)
    number = 1
    if one < min_batch_s:
        number = max(1, int(min_batch_s / max(one, 1e-8)))
    repeat = max(3, min(repeat, int(budget_s / max(one * number, 1e-9))))
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            call()
        samples.append((time.perf_counter() - t) / number)
    samples.sort()
    return {"median_s": samples[len(samples) // 2], "min_s": samples[0],
            "repeat": repeat, "number": number}


def check_dtypes(got, dtype):
    """Floating outputs must have the workload's dtype. Returns None, else a reason."""
    for i, g in enumerate(got):
        g = np.asarray(g)
        if g.dtype.kind == "f" and g.dtype != np.dtype(dtype):
            return f"output {i}: dtype {g.dtype}, expected {dtype}"
    return None


def check(got, ref, dtype, tol=None):
    """Compare outputs with the references. Returns None when close, else a reason."""
    rtol, atol_scale = tol or TOLERANCE[dtype]
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    ref = list(ref) if isinstance(ref, (list, tuple)) else [ref]
    if len(got) != len(ref):
        return f"{len(got)} outputs, expected {len(ref)}"
    for i, (g, r) in enumerate(zip(got, ref)):
        g = np.asarray(g)
        r = np.asarray(r)
        if g.shape != r.shape:
            return f"output {i}: shape {g.shape}, expected {r.shape}"
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        err = np.abs(g.astype("float64") - r)
        bad = ~(err <= atol_scale * scale + rtol * np.abs(r))
        if bad.any():
            return (f"output {i}: {int(bad.sum())} of {r.size} values off, "
                    f"max abs error {float(np.nanmax(err)):.3g} (scale {scale:.3g})")
    return None


def describe(exc):
    """One line for an exception: its type and first line of its message."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:150]
