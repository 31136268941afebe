"""Kinds composed from the elementwise and reduction kernels: "softmax" (softmax,
log-softmax, logsumexp, softmax cross-entropy, each shifted by the finite maximum),
"argreduce" (the extreme value, then the first index holding it) and "cumulative"
(running sums, one thread per line)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from backends.numba_cuda import codegen, launch
from backends.numba_cuda.device import POOL, Tensor, empty, ensure_device, to_host
from symgraph.errors import LoweringError, ShapeError
from symgraph.graph import Node
from symgraph.ops.binary import Add, Subtract, TrueDivide
from symgraph.ops.logic import Cast, Equal, FullLike, IsFinite, IsNan, LogicalAnd, LogicalOr, Where
from symgraph.ops.unary import Exp, Log, Negative


def _program(program: tuple, inputs: Sequence[Tensor], dtype: str) -> Tensor:
    """One elementwise program (its last value is the output) over broadcast inputs."""
    shape = launch.loop_shape("softmax", inputs)
    last = (len(inputs) + len(program) - 1,)
    return launch.run_program(POOL, program, last, [dtype], inputs, shape)[0]


def _keep(shape: tuple, axes: Sequence[int]) -> tuple:
    return tuple(1 if d in axes else n for d, n in enumerate(shape))


def _reduce(reducer: str, program: tuple, inputs: Sequence[Tensor], shape: tuple,
            axes: Sequence[int], acc: str) -> Tensor:
    last = (len(inputs) + len(program) - 1,) if program else (0,)
    out = launch.reduce(POOL, "softmax", reducer, program, last, inputs, shape, axes, acc)
    return launch.reshaped(out, _keep(shape, axes))


def _finite_max(x: Tensor, axes: Sequence[int]) -> Tensor:
    """The maximum over `axes` (kept as 1), 0 where it is not finite or the axes are empty."""
    if any(x.shape[a] == 0 for a in axes):
        out = empty(POOL, x.dtype, _keep(x.shape, axes))
        _fill(out, 0)
        return out
    m = _reduce("Max", (), [x], x.shape, axes, x.dtype)
    zero = FullLike(0, x.dtype)
    return _program(((IsFinite(), (0,)), (zero, (0,)), (Where(), (1, 0, 2))), [m], x.dtype)


def _fill(out: Tensor, value: Any) -> None:
    if out.size:
        kernel = codegen.kernel("fill", dtype=out.dtype, value=value)
        kernel[launch.blocks(out.size), launch.THREADS](out.size, out.buffer.array)


def _shifted_sum(x: Tensor, axes: Sequence[int]) -> tuple[Tensor, Tensor]:
    """(m, sum(exp(x - m))) over `axes`, both kept as 1."""
    m = _finite_max(x, axes)
    s = _reduce("Sum", ((Subtract(), (0, 1)), (Exp(), (2,))), [x, m], x.shape, axes, x.dtype)
    return m, s


def _as_float(x: Tensor, dtype: str) -> Tensor:
    return x if x.dtype == dtype else _program(((Cast(dtype), (0,)),), [x], dtype)


def softmax(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "softmax": Softmax, LogSoftmax, LogSumExp, SoftmaxCrossEntropy, NegLogLikelihood."""
    op = node.op
    kind = type(op).__name__
    dtype = node.type.dtype
    if kind in ("SoftmaxCrossEntropy", "NegLogLikelihood"):
        return _cross_entropy(inputs[0], inputs[1], dtype, kind == "NegLogLikelihood")
    x = _as_float(ensure_device(inputs[0]), dtype)
    if kind == "LogSumExp":
        m, s = _shifted_sum(x, op.axis)
        out = _program(((Log(), (0,)), (Add(), (2, 1))), [s, m], dtype)
        return out if op.keepdims else launch.reshaped(out, op.out_shape(x.shape))
    if x.size == 0:
        return empty(POOL, dtype, x.shape)
    m, s = _shifted_sum(x, (op.axis,))
    if kind == "Softmax":
        program = ((Subtract(), (0, 1)), (Exp(), (3,)), (TrueDivide(), (4, 2)))
    elif kind == "LogSoftmax":
        program = ((Subtract(), (0, 1)), (Log(), (2,)), (Subtract(), (3, 4)))
    else:
        raise LoweringError(f"{op.name}: the cuda backend has no softmax rule for it")
    return _program(program, [x, m, s], dtype)


def _cross_entropy(logits: Tensor, labels: Tensor, dtype: str, log_probs: bool) -> Tensor:
    """logsumexp(x) - x[label] per row; -x[label] where x is `log_probs` already."""
    classes = logits.shape[-1]
    if labels.size:
        everything = tuple(range(labels.ndim))
        low = to_host(_reduce("Min", (), [labels], labels.shape, everything, labels.dtype))
        high = to_host(_reduce("Max", (), [labels], labels.shape, everything, labels.dtype))
        if low.min() < 0 or high.max() >= classes:
            raise ShapeError(f"softmax_cross_entropy: labels must be in [0, {classes}), got "
                             f"values from {low.min()} to {high.max()}")
    batch = launch.loop_shape("softmax_cross_entropy", [logits.view(
        logits.shape[:-1], logits.strides[:-1], logits.offset), labels])
    full = batch + (classes,)
    logits = logits.view(full, launch.broadcast_strides(logits, full), logits.offset)
    last = (len(full) - 1,)
    iota = _iota(classes)
    labels = ensure_device(labels).view(labels.shape + (1,), labels.strides + (0,),
                                        labels.offset)
    pick = ((Equal(), (2, 1)), (FullLike(0, dtype), (0,)), (Where(), (3, 0, 4)))
    picked = _reduce("Sum", pick, [logits, labels, iota], full, last, dtype)
    if log_probs:
        out = _program(((Negative(), (0,)),), [picked], dtype)
    else:
        m, s = _shifted_sum(logits, last)
        program = ((Log(), (0,)), (Add(), (3, 1)), (Subtract(), (4, 2)))
        out = _program(program, [s, m, picked], dtype)
    return launch.reshaped(out, batch)


def _iota(n: int) -> Tensor:
    out = empty(POOL, "int64", (n,))
    if n:
        kernel = codegen.kernel("arange", dtype="int64", compute="int64")
        kernel[launch.blocks(n), launch.THREADS](n, out.buffer.array, np.int64(0), np.int64(1))
    return out


def argreduce(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "argreduce": Argmax/Argmin; the first NaN wins, then the first extreme."""
    op = node.op
    x = ensure_device(inputs[0])
    if x.ndim == 0:
        out = empty(POOL, "int64", ())
        _fill(out, 0)
        return out
    axes = op.axis
    if any(x.shape[a] == 0 for a in axes):
        raise ShapeError(f"{op.name}: the reduced axis {axes} of shape {x.shape} is empty")
    if len(axes) == 1:
        iota = _iota(x.shape[axes[0]])
        iota = iota.view(_keep(x.shape, [d for d in range(x.ndim) if d != axes[0]]),
                         tuple(1 if d == axes[0] else 0 for d in range(x.ndim)), 0)
    else:
        iota = launch.reshaped(_iota(x.size), x.shape)
    extreme = "Max" if type(op).__name__ == "Argmax" else "Min"
    m = _reduce(extreme, (), [x], x.shape, axes, x.dtype)
    program = ((Equal(), (0, 1)), (IsNan(), (0,)), (IsNan(), (1,)), (LogicalAnd(), (4, 5)),
               (LogicalOr(), (3, 6)), (FullLike(2 ** 62, "int64"), (2,)), (Where(), (7, 2, 8)))
    out = _reduce("Min", program, [x, m, iota], x.shape, axes, "int64")
    return launch.reshaped(out, op.out_shape(x.shape))


def cumulative(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "cumulative": Cumsum along one axis, from either end."""
    op = node.op
    x = ensure_device(inputs[0])
    out = empty(POOL, node.type.dtype, x.shape)
    axis = op.axis
    others = [d for d in range(x.ndim) if d != axis]
    lines = int(np.prod([x.shape[d] for d in others], dtype="int64"))
    if out.size == 0:
        return out
    kernel = codegen.kernel("cumulative", ndim=len(others), in_dtype=x.dtype,
                            acc=out.dtype, reverse=op.reverse)
    kernel[launch.blocks(lines), launch.THREADS](
        lines, x.shape[axis], *(x.shape[d] for d in others), x.buffer.array, x.offset,
        *(x.strides[d] for d in others), x.strides[axis], out.buffer.array,
        *(out.strides[d] for d in others), out.strides[axis])
    return out


NN: dict[str, Callable] = {"softmax": softmax, "argreduce": argreduce,
                           "cumulative": cumulative}
