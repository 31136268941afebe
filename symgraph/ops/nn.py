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
        if logits.ndim == 0:
            raise ShapeError(f"softmax_cross_entropy: logits must have a class axis, got "
                             f"{logits}")
        if not is_integer(labels.dtype):
            raise DTypeError(f"softmax_cross_entropy: labels must be integers, got {labels}; "
                             "for probability targets use -sum(t * log_softmax(x))")
        if logits.dtype not in ("float32", "float64"):
            raise DTypeError(f"softmax_cross_entropy: logits must be float, got {logits}")
        batch = broadcast_shapes(logits.shape[:-1], labels.shape, op="softmax_cross_entropy")
        return TensorType(logits.dtype, batch)

    def reference(self, logits, labels):
        classes = logits.shape[-1]
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ShapeError(f"softmax_cross_entropy: labels must be in [0, {classes}), got "
                             f"values from {labels.min()} to {labels.max()}")
        batch = np.broadcast_shapes(logits.shape[:-1], labels.shape)
        logits = np.broadcast_to(logits, batch + (classes,))
        index = np.broadcast_to(labels, batch)[..., None].astype("int64")
        picked = np.take_along_axis(_log_softmax(logits, logits.ndim - 1), index, -1)
        return np.asarray(-picked[..., 0], dtype=logits.dtype)

    def vjp(self, inputs, output, g):
        from symgraph import nn

        logits, labels = inputs
        classes = logits.type.shape[-1] if hasattr(logits, "type") else logits.shape[-1]
        if classes is not None:
            target = nn.one_hot(labels, classes, logits.dtype)
        else:  # C known only at run time: compare with a run-time arange(C)
            index = sg.arange(sg.shape(logits)[-1])
            target = sg.cast(sg.eq(sg.expand_dims(labels, -1), index), logits.dtype)
        return (sg.expand_dims(g, -1) * (nn.softmax(logits, -1) - target), None)
