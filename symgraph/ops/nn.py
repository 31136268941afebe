"""Neural-network ops that need their own stable kernels: softmax, log-softmax and the
softmax cross-entropy (kernel kind "softmax", shared with `LogSumExp`).

Each shifts by the finite maximum along the axis before exponentiating, so ±1000 inputs
give exact results instead of inf/NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.dtypes import is_integer
from symgraph.errors import DTypeError, ShapeError
from symgraph.ops.base import Op, ufunc_dtype
from symgraph.ops.reduce import _finite_max
from symgraph.types import TensorType, broadcast_shapes


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        shifted = x - _finite_max(x, (axis,))
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@dataclass(frozen=True)
class Softmax(Op):
    """exp(x) / sum(exp(x)) along `axis` (non-negative), stable for large |x|.

    Integers give float64, like `exp`. Gradient: y * (g - sum(g * y, axis)).
    """

    axis: int
    kind: ClassVar[str] = "softmax"
    vjp_batches: ClassVar[bool] = True  # rules take gradients with leading batch axes

    def infer(self, x: TensorType) -> TensorType:
        if not 0 <= self.axis < x.ndim:
            raise ShapeError(f"{self.name}: axis {self.axis} out of range for {x}")
        return TensorType(ufunc_dtype(np.exp, (x.dtype,)), x.shape)

    def reference(self, x):
        x = x.astype(ufunc_dtype(np.exp, (x.dtype.name,)), copy=False)
        with np.errstate(all="ignore"):
            e = np.exp(x - _finite_max(x, (self.axis,)))
            return e / np.sum(e, axis=self.axis, keepdims=True)

    def vjp(self, inputs, output, g):
        axis = self.axis + g.ndim - output.ndim  # shifted past a jacobian's batch axes
        return (output * (g - sg.sum(g * output, axis, keepdims=True)),)


@dataclass(frozen=True)
class LogSoftmax(Softmax):
    """x - logsumexp(x) along `axis` (non-negative), stable for large |x|.

    Gradient: g - softmax(x) * sum(g, axis).
    """

    def reference(self, x):
        x = x.astype(ufunc_dtype(np.exp, (x.dtype.name,)), copy=False)
        return _log_softmax(x, self.axis)

    def vjp(self, inputs, output, g):
        axis = self.axis + g.ndim - output.ndim  # shifted past a jacobian's batch axes
        return (g - sg.exp(output) * sg.sum(g, axis, keepdims=True),)


@dataclass(frozen=True)
class SoftmaxCrossEntropy(Op):
    """Per-example loss -log(softmax(logits)[label]) over the last axis of `logits`
    (shape (..., classes), float) for integer `labels` (shape (...), broadcastable), as
    logsumexp(logits) - logits[label], stable for large logits.

    Gradient of the logits: g * (softmax(logits) - one_hot(labels)); labels get none.
    A label outside [0, classes) is a ShapeError at run time.
    """

    kind: ClassVar[str] = "softmax"
    vjp_batches: ClassVar[bool] = True  # the rule counts axes from the end

    def infer(self, logits: TensorType, labels: TensorType) -> TensorType:
        return _loss_type(logits, labels, "logits")

    def reference(self, logits, labels):
        return _negative_picked(_log_softmax, logits, labels)

    def vjp(self, inputs, output, g):
        from symgraph import nn

        logits, labels = inputs
        grad = sg.expand_dims(g, -1) * (nn.softmax(logits, -1) - _one_hot(logits, labels))
        return (_summed_back(grad, logits, labels, g.ndim - output.ndim), None)


@dataclass(frozen=True)
class NegLogLikelihood(Op):
    """Per-example loss -log_probs[label] over the last axis of `log_probs` (float, shape
    (..., classes)) for integer `labels`: softmax_cross_entropy of logits whose
    log_softmax is already computed. The optimizer's `share_log_softmax` pass makes it
    where a graph needs both the loss and softmax(logits), as training does: one
    log_softmax then serves the loss and, through exp, the gradient.

    Gradient: -g * one_hot(labels). A label outside [0, classes) is a ShapeError at run
    time, with softmax_cross_entropy's message (the op it stands for).
    """

    kind: ClassVar[str] = "softmax"
    vjp_batches: ClassVar[bool] = True

    def infer(self, log_probs: TensorType, labels: TensorType) -> TensorType:
        return _loss_type(log_probs, labels, "log_probs")

    def reference(self, log_probs, labels):
        return _negative_picked(lambda x, axis: x, log_probs, labels)

    def vjp(self, inputs, output, g):
        log_probs, labels = inputs
        grad = -sg.expand_dims(g, -1) * _one_hot(log_probs, labels)
        return (_summed_back(grad, log_probs, labels, g.ndim - output.ndim), None)


def _loss_type(x: TensorType, labels: TensorType, what: str) -> TensorType:
    """The type of a per-example loss of x (..., classes) and labels (...)."""
    if x.ndim == 0:
        raise ShapeError(f"softmax_cross_entropy: {what} must have a class axis, got {x}")
    if not is_integer(labels.dtype):
        raise DTypeError(f"softmax_cross_entropy: labels must be integers, got {labels}; "
                         "for probability targets use -sum(t * log_softmax(x))")
    if x.dtype not in ("float32", "float64"):
        raise DTypeError(f"softmax_cross_entropy: {what} must be float, got {x}")
    batch = broadcast_shapes(x.shape[:-1], labels.shape, op="softmax_cross_entropy")
    return TensorType(x.dtype, batch)


def _negative_picked(log_softmax, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """-log_softmax(x)[..., label], with labels checked to be in [0, classes)."""
    classes = x.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ShapeError(f"softmax_cross_entropy: labels must be in [0, {classes}), got "
                         f"values from {labels.min()} to {labels.max()}")
    batch = np.broadcast_shapes(x.shape[:-1], labels.shape)
    x = np.broadcast_to(x, batch + (classes,))
    index = np.broadcast_to(labels, batch)[..., None].astype("int64")
    picked = np.take_along_axis(log_softmax(x, x.ndim - 1), index, -1)
    return np.asarray(-picked[..., 0], dtype=x.dtype)


def _summed_back(grad, x, labels, batch: int):
    """The gradient of x (..., classes), summed over the batch axes x was broadcast along
    against the labels (known only at run time where x's shape is not static)."""
    from symgraph.grad import sum_like

    others = [tuple(labels.type.shape) + (1,)]  # the class axis is never broadcast
    return sum_like(grad, x, others, **({"batch": batch} if batch else {}))


def _one_hot(x, labels):
    """one_hot(labels) over x's last axis, in x's dtype (symbolic)."""
    from symgraph import nn

    classes = x.type.shape[-1] if hasattr(x, "type") else x.shape[-1]
    if classes is not None:
        return nn.one_hot(labels, classes, x.dtype)
    index = sg.arange(sg.shape(x)[-1])  # C known only at run time: a run-time arange(C)
    return sg.cast(sg.eq(sg.expand_dims(labels, -1), index), x.dtype)
