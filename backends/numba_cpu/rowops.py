"""Generic row kernels for the kinds that work along axes: softmax, logsumexp, cross-entropy,
argmax/argmin, cumsum, and integer matmul.

The generated code moves the op's axes to the end and views the input as a C-contiguous
(rows, cols) matrix, so each kernel here is written once and numba specializes it per
dtype (cached on disk with `cache=True`, shared by every graph). Every constant is typed
from the input's dtype, so float32 rows stay float32.
"""

from __future__ import annotations

import types as pytypes

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from backends.numba_cpu.memory import new_empty, shaped
from backends.numba_cpu.vecmath import FUNCTIONS as VECMATH

_FLAGS = dict(cache=True, error_model="numpy", nogil=True, no_cfunc_wrapper=True)


def vexp(x):
    """exp from vecmath.py for float32/float64 (LLVM inlines it, so row loops vectorize)."""


def vlog(x):
    """log from vecmath.py for float32/float64."""


def _by_dtype(name: str):
    def typer(x):
        if x in (types.float32, types.float64):
            function = VECMATH[(name, str(x))]
            return lambda x: function(x)
        return None
    return typer


# Plain calls, like the helpers below, for LLVM to inline: numba's own inlining
# ("always") types the whole caller again after each inlined call (~0.3 s of
# softmax_rows' ~1.3 s cold compile, for the same machine code).
overload(vexp)(_by_dtype("exp"))
overload(vlog)(_by_dtype("log"))


def _flip_negatives(builder, bits):
    """Integer bits with every bit but the sign flipped where the sign is set: signed
    integer order of the result is the float order of `bits` (-0.0 just below +0.0, NaNs
    beyond the infinities on their sign's side). It is its own inverse."""
    width = bits.type.width
    sign = builder.ashr(bits, bits.type(width - 1))
    return builder.xor(bits, builder.and_(sign, bits.type((1 << (width - 1)) - 1)))


@intrinsic
def _order_key(typingctx, x):
    """A float's bits as a signed integer ordered as the floats are (`_flip_negatives`)."""
    if x not in (types.float32, types.float64):
        return None
    key = types.int32 if x == types.float32 else types.int64

    def codegen(context, builder, sig, args):
        bits = builder.bitcast(args[0], ir.IntType(key.bitwidth))
        return _flip_negatives(builder, bits)
    return key(x), codegen


@intrinsic
def _from_key(typingctx, key, like):
    """The float whose `_order_key` is `key` (`like`: a value of the float type)."""
    if (key, like) not in ((types.int32, types.float32), (types.int64, types.float64)):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(_flip_negatives(builder, args[0]), args[1].type)
    return like(key, like), codegen


@njit(**_FLAGS)
def _row_shift(row):
    """The row's maximum, or 0 where it is not finite (so x - shift is never inf - inf).

    The maximum is taken over `_order_key`s: an integer max reduction, which LLVM
    vectorizes, where a float one needs `nnan` (and llvm.maxnum was slower). A NaN needs no
    flag here: where one is the maximum the shift is 0, and any other NaN makes its exp
    term, the sum and so the row's result NaN, as in NumPy."""
    zero = row.dtype.type(0)
    if row.size == 0:
        return zero
    top = _order_key(row[0])
    for j in range(1, row.size):
        key = _order_key(row[j])
        top = key if key > top else top
    value = _from_key(top, zero)
    return value if np.isfinite(value) else zero


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"}, no_cfunc_wrapper=True)
def _sum(terms):
    """Sum of a row, reassociated so LLVM adds 8 lanes at a time (vector partial sums:
    more accurate than one running total, and the same for every call on the same row).
    Only `reassoc`: no assumption about NaN or inf, which pass through as in NumPy."""
    total = terms.dtype.type(0)
    for j in range(terms.size):
        total += terms[j]
    return total


@njit(**_FLAGS)
def _exp_terms(row, shift, terms):
    """terms[j] = exp(row[j] - shift) (a loop LLVM vectorizes), and their sum."""
    for j in range(row.size):
        terms[j] = vexp(row[j] - shift)
    return _sum(terms)


@njit(cache=True, error_model="numpy", nogil=True, no_cfunc_wrapper=True)
def _exp(x):
    """vexp as a call: LLVM inlines it into `_exp_sum`'s loop, but its instructions keep
    their own (strict) flags instead of taking the caller's `reassoc`."""
    return vexp(x)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"}, no_cfunc_wrapper=True)
def _exp_sum(row, shift):
    """The sum of exp(row[j] - shift) in one vectorized pass, no buffer: only the sum is
    reassociated (as in `_sum`), the exponentials are computed exactly as elsewhere."""
    total = row.dtype.type(0)
    for j in range(row.size):
        total += _exp(row[j] - shift)
    return total


def _softmax_rows(x, log):
    """softmax (or log_softmax when `log`) of each row of a (rows, cols) float array."""
    out = shaped(new_empty(x.size, x.dtype), x.shape)
    for i in prange(x.shape[0]):
        shift = _row_shift(x[i])
        total = _exp_terms(x[i], shift, out[i])
        if log:  # (x - shift) first: exact, where x - (shift + log(total)) would round
            offset = vlog(total)
            for j in range(x.shape[1]):
                out[i, j] = (x[i, j] - shift) - offset
        else:
            for j in range(x.shape[1]):
                out[i, j] = out[i, j] / total
    return out


def _logsumexp_rows(x):
    """log(sum(exp(row))) of each row, stable; an empty row gives -inf."""
    out = new_empty(x.shape[0], x.dtype)
    for i in prange(x.shape[0]):
        shift = _row_shift(x[i])
        out[i] = vlog(_exp_sum(x[i], shift)) + shift
    return out


def _cross_entropy_rows(x, labels, rows):
    """-log softmax(row)[label] for `rows` rows, and whether some label was out of range
    (its row gets 0; the caller raises with its own message). The first axes of x and
    labels broadcast: each is 1 or `rows` long (the caller checked)."""
    out = new_empty(rows, x.dtype)
    bad = 0  # a count: parallel loops sum it across threads
    x_step = 1 if x.shape[0] > 1 else 0
    label_step = 1 if labels.shape[0] > 1 else 0
    for i in prange(rows):
        label = labels[i * label_step]
        row = x[i * x_step]
        if label < 0 or label >= x.shape[1]:
            bad += 1
            out[i] = x.dtype.type(0)
        else:
            shift = _row_shift(row)
            out[i] = (shift - row[label]) + vlog(_exp_sum(row, shift))
    return out, bad > 0


def _both(function):
    """A serial kernel and a `parallel=True` twin under another name (numba's disk cache
    keys on the name, not the flags). The parallel entry calls the twins."""
    name = function.__name__.lstrip("_")
    serial = njit(**_FLAGS)(renamed(function, name))
    PARALLEL[name] = njit(parallel=True, **_FLAGS)(renamed(function, f"{name}_parallel"))
    return serial


def renamed(function, name, scope=None):
    """A copy of `function` under another name (numba caches per name), reading `scope` as
    its globals if given."""
    copy = pytypes.FunctionType(function.__code__, function.__globals__ if scope is None
                                else scope, name, function.__defaults__, function.__closure__)
    copy.__qualname__ = name
    return copy


PARALLEL: dict = {}   # name in generated modules -> its parallel twin
softmax_rows = _both(_softmax_rows)
logsumexp_rows = _both(_logsumexp_rows)
cross_entropy_rows = _both(_cross_entropy_rows)


@njit(**_FLAGS)
def arg_rows(x, largest):
    """Index of the first maximum (minimum) of each row, the first NaN winning, as NumPy."""
    out = new_empty(x.shape[0], np.int64)
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
