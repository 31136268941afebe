"""The `sg.nn` functions (re-exported by `symgraph/nn.py`): activations, the softmax
family, one-hot encoding, losses and dropout.

`softmax`, `log_softmax` and the softmax cross-entropy are their own stable ops
(`symgraph/ops/nn.py`); everything else is a composition of public functions, so it works
on symbolic variables and eager tensors alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.api.base import operands
from symgraph.api.math import cast, eq, log, log1p, maximum, multiply, negative, softplus, where
from symgraph.api.reduce import mean, sum
from symgraph.api.shape import expand_dims
from symgraph.apply import apply
from symgraph.config import config
from symgraph.dtypes import as_dtype, is_integer
from symgraph.errors import DTypeError, SymgraphError
from symgraph.ops import nn as ops
from symgraph.types import normalize_axis


def relu(x: Any) -> Any:
    """max(x, 0), keeping x's dtype; NaN stays NaN; the gradient at 0 is 0."""
    (x,) = operands(x)
    return where(x <= 0, 0, x)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, stable for large |x| (its own op)."""
    (x,) = operands(x)
    return apply(ops.Softmax(normalize_axis(axis, x.ndim, "softmax")), x)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x - logsumexp(x) along `axis`, stable for large |x| (its own op)."""
    (x,) = operands(x)
    return apply(ops.LogSoftmax(normalize_axis(axis, x.ndim, "log_softmax")), x)


def one_hot(labels: Any, n: int, dtype: object = None) -> Any:
    """`labels` (integers, any shape) as one-hot vectors along a new last axis of length
    `n`, of `dtype` (default `sg.config.floatX`). A label outside [0, n) gives a row of
    zeros, like `jax.nn.one_hot`."""
    (labels,) = operands(labels)
    if not is_integer(labels.dtype):
        raise DTypeError(f"one_hot: labels must be integers, got {labels.dtype}; "
                         "cast them with .astype('int64')")
    hot = eq(expand_dims(labels, -1), np.arange(int(n), dtype=labels.dtype))
    return cast(hot, as_dtype(dtype or config.floatX))


def _reduce(loss: Any, reduction: str, name: str) -> Any:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise SymgraphError(f"{name}: reduction must be 'mean', 'sum' or 'none', "
                        f"not {reduction!r}")


def binary_cross_entropy(output: Any, target: Any, from_logits: bool = False,
                         reduction: str = "mean") -> Any:
    """Binary cross-entropy between predictions and targets in [0, 1].

    output: probabilities, or logits when `from_logits=True` (then computed stably as
    softplus(x) - x * t, exact for large |x|). For probabilities each log is clamped at
    -100 (as PyTorch does) so p = 0 or 1 gives a finite loss. reduction: "mean" (default),
    "sum" or "none" (elementwise).
    """
    output, target = operands(output, target)
    if from_logits:
        loss = softplus(output) - output * target
    else:
        log_p = maximum(log(output), -100.0)
        log_not_p = maximum(log1p(negative(output)), -100.0)
        loss = negative(target * log_p + (1 - target) * log_not_p)
    return _reduce(loss, reduction, "binary_cross_entropy")


def cross_entropy(logits: Any, labels: Any, reduction: str = "mean") -> Any:
    """Softmax cross-entropy of `logits` (..., classes) against integer `labels` (...):
    -log softmax(logits)[label], averaged over the batch by default (`reduction` "mean",
    "sum" or "none"). Stable for large logits; its gradient is (softmax - one_hot) / n."""
    logits, labels = operands(logits, labels)
    loss = apply(ops.SoftmaxCrossEntropy(), logits, labels)
    return _reduce(loss, reduction, "cross_entropy")


def dropout(x: Any, p: float, stream: Any = None, training: bool = True) -> Any:
    """Zero each element with probability `p` and scale the others by 1 / (1 - p) (inverted
    dropout), with the mask drawn from `stream` (a `sg.random.RandomStream`); the identity
    when `training` is False or p is 0."""
    if not 0 <= p < 1:
        raise SymgraphError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    if stream is None:
        raise SymgraphError("dropout: give a stream=sg.random.RandomStream(seed) to draw "
                            "the mask from")
    # keep_prob as a typed value: an eager x makes it an eager tensor, so the mask is
    # drawn eagerly too; a symbolic x makes it a constant.
    x, keep_prob = operands(x, np.asarray(1 - p, "float64"))
    dtype = x.dtype if x.dtype in ("float32", "float64") else config.floatX
    keep = stream.bernoulli(keep_prob, size=x.shape, dtype=dtype)
    return multiply(x, keep) / (1 - p)
