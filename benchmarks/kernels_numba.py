"""Hand-written numba kernels: the "what a careful person writes by hand" column.

Imported lazily by the workload modules (only when the numba row runs). Constants are
passed as arguments of the input dtype, so float32 kernels stay float32.
"""

import math

import numba
import numpy as np
from numba import prange

OPTS = {"cache": True, "nogil": True}


@numba.njit(parallel=True, **OPTS)
def w1(x, y, out, half, c05):
    for i in prange(x.shape[0]):
        xi = x[i]
        out[i] = np.exp(-xi * xi * half) * np.sin(xi) + c05 * np.tanh(xi * y[i])
    return out


@numba.njit(parallel=True, **OPTS)
def logsumexp_rows(X, out):
    for i in prange(X.shape[0]):
        m = X[i, 0]
        for j in range(1, X.shape[1]):
            m = max(m, X[i, j])
        s = 0.0  # float64 accumulator: 4096 float32 terms
        for j in range(X.shape[1]):
            s += np.exp(X[i, j] - m)
        out[i] = math.log(s) + m
    return out


@numba.njit(parallel=True, **OPTS)
def softmax_rows(X, out):
    for i in prange(X.shape[0]):
        m = X[i, 0]
        for j in range(1, X.shape[1]):
            m = max(m, X[i, j])
        s = 0.0
        for j in range(X.shape[1]):
            e = np.exp(X[i, j] - m)
            out[i, j] = e
            s += e
        inv = 1.0 / s
        for j in range(X.shape[1]):
            out[i, j] = out[i, j] * inv
    return out


@numba.njit(**OPTS)
def mlp_step(X, labels, W1, b1, W2, b2, lr):
    """One SGD step in place: BLAS for the matmuls, loops for the rest.

    Serial on purpose: with parallel=True the prange loops and OpenBLAS's threads fight
    over the 2 cores (measured 25 ms per step against 1 ms serial at batch 128).
    """
    n = X.shape[0]
    z1 = np.dot(X, W1)
    h = np.empty_like(z1)
    for i in prange(n):
        for j in range(z1.shape[1]):
            z1[i, j] += b1[j]
            h[i, j] = max(z1[i, j], 0)
    logits = np.dot(h, W2)
    dlogits = np.empty_like(logits)
    losses = np.empty(n)
    for i in prange(n):
        m = logits[i, 0] + b2[0]
        for k in range(logits.shape[1]):
            logits[i, k] += b2[k]
            m = max(m, logits[i, k])
        s = 0.0
        for k in range(logits.shape[1]):
            e = np.exp(logits[i, k] - m)
            dlogits[i, k] = e
            s += e
        for k in range(logits.shape[1]):
            dlogits[i, k] = dlogits[i, k] / s / n
        dlogits[i, labels[i]] -= 1.0 / n
        losses[i] = math.log(s) + m - logits[i, labels[i]]
    dW2 = np.dot(h.T, dlogits)
    dh = np.dot(dlogits, W2.T)
    for i in prange(n):
        for j in range(dh.shape[1]):
            if z1[i, j] <= 0:
                dh[i, j] = 0
    dW1 = np.dot(X.T, dh)
    for j in prange(W1.shape[1]):
        g = 0.0
        for i in range(n):
            g += dh[i, j]
        b1[j] -= lr * g
    for k in range(W2.shape[1]):
        g = 0.0
        for i in range(n):
            g += dlogits[i, k]
        b2[k] -= lr * g
    for i in prange(W1.shape[0]):
        for j in range(W1.shape[1]):
            W1[i, j] -= lr * dW1[i, j]
    for i in prange(W2.shape[0]):
        for j in range(W2.shape[1]):
            W2[i, j] -= lr * dW2[i, j]
    return losses.mean()


@numba.njit(**OPTS)
def add_one(x):
    """Serial on purpose: a parallel launch alone costs ~3-4 us, more than 10 additions."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] + 1
    return out


@numba.njit(**OPTS)
def recurrence(h0, a, b, steps):
    out = np.empty(steps)
    h = h0
    for i in range(steps):
        h = math.tanh(a * h + b)
        out[i] = h
    return out
