"""Generic row kernels for the kinds that work along axes: softmax, logsumexp, cross-entropy,
argmax/argmin, cumsum, and integer matmul.

The generated code moves the op's axes to the end and views the input as a C-contiguous
(rows, cols) matrix, so each kernel here is written once and numba specializes it per
dtype (cached on disk with `cache=True`, shared by every graph). Every constant is typed
from the input's dtype, so float32 rows stay float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FLAGS = dict(cache=True, error_model="numpy", nogil=True)


@njit(**_FLAGS)
def _row_shift(row):
    """The row's maximum, or 0 where it is not finite (so x - shift never is inf - inf)."""
    zero = row.dtype.type(0)
    if row.size == 0:
        return zero
    top = row[0]
    for value in row:
        if value > top or value != value:
            top = value
    return top if np.isfinite(top) else zero


@njit(**_FLAGS)
def softmax_rows(x, log):
    """softmax (or log_softmax when `log`) of each row of a (rows, cols) float array."""
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        shift = _row_shift(x[i])
        total = x.dtype.type(0)
        for j in range(x.shape[1]):
            total += np.exp(x[i, j] - shift)
        if log:  # (x - shift) first: exact, where x - (shift + log(total)) would round
            offset = np.log(total)
            for j in range(x.shape[1]):
                out[i, j] = (x[i, j] - shift) - offset
        else:
            for j in range(x.shape[1]):
                out[i, j] = np.exp(x[i, j] - shift) / total
    return out


@njit(**_FLAGS)
def logsumexp_rows(x):
    """log(sum(exp(row))) of each row, stable; an empty row gives -inf."""
    out = np.empty(x.shape[0], x.dtype)
    for i in prange(x.shape[0]):
        shift = _row_shift(x[i])
        total = x.dtype.type(0)
        for j in range(x.shape[1]):
            total += np.exp(x[i, j] - shift)
        out[i] = np.log(total) + shift
    return out


@njit(**_FLAGS)
def cross_entropy_rows(x, labels):
    """-log softmax(row)[label] per row; returns -1 as the first element's label check
    failure flag in `bad` (the caller raises with its own message)."""
    out = np.empty(x.shape[0], x.dtype)
    bad = False
    for i in range(x.shape[0]):
        label = labels[i]
        if label < 0 or label >= x.shape[1]:
            bad = True
            out[i] = x.dtype.type(0)
            continue
        shift = _row_shift(x[i])
        total = x.dtype.type(0)
        for j in range(x.shape[1]):
            total += np.exp(x[i, j] - shift)
        out[i] = (shift - x[i, label]) + np.log(total)
    return out, bad


@njit(**_FLAGS)
def arg_rows(x, largest):
    """Index of the first maximum (minimum) of each row, the first NaN winning, as NumPy."""
    out = np.empty(x.shape[0], np.int64)
    for i in prange(x.shape[0]):
        best = 0
        for j in range(1, x.shape[1]):
            value = x[i, j]
            current = x[i, best]
            if current != current:
                break
            if value != value or (value > current if largest else value < current):
                best = j
        out[i] = best
    return out


@njit(**_FLAGS)
def cumsum_rows(x, out, reverse):
    """Running sums of each row of x into `out` (of the accumulator dtype)."""
    for i in prange(x.shape[0]):
        total = out.dtype.type(0)
        for k in range(x.shape[1]):
            j = x.shape[1] - 1 - k if reverse else k
            total += out.dtype.type(x[i, j])
            out[i, j] = total
    return out


@njit(**_FLAGS)
def matmul_loop(a, b, out):
    """out = a @ b for integer and boolean (n, k) and (k, m) matrices, accumulated in 64
    bits and stored in out's integer dtype (the caller casts to bool where needed)."""
    for i in prange(a.shape[0]):
        for j in range(b.shape[1]):
            total = 0
            for k in range(a.shape[1]):
                total += np.int64(a[i, k]) * np.int64(b[k, j])
            out[i, j] = total
    return out
