"""Shape ops: the run-time shape, and views that only rearrange dimensions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.errors import ShapeError
from symgraph.ops.base import Op
from symgraph.types import TensorType


@dataclass(frozen=True)
class Shape(Op):
    """The run-time shape of x as an int64 vector (`x.shape`)."""

    kind: ClassVar[str] = "shape"
    differentiable: ClassVar[bool] = False

    def infer(self, x: TensorType) -> TensorType:
        return TensorType("int64", (x.ndim,))

    def reference(self, x):
        return np.array(x.shape, dtype="int64")


@dataclass(frozen=True)
class ExpandDims(Op):
    """x with new length-1 axes at `axis` (positions in the output, sorted, non-negative)."""

    axis: tuple[int, ...]
    kind: ClassVar[str] = "view"

    def infer(self, x: TensorType) -> TensorType:
        ndim = x.ndim + len(self.axis)
        if any(a >= ndim for a in self.axis):
            raise ShapeError(f"expand_dims: axis {self.axis} out of range for {ndim}-d output")
        dims = iter(x.shape)
        return TensorType(x.dtype, tuple(1 if i in self.axis else next(dims) for i in range(ndim)))

    def reference(self, x):
        return np.expand_dims(x, self.axis)

    def vjp(self, inputs, output, g):
        return (sg.squeeze(g, self.axis),)


@dataclass(frozen=True)
class Squeeze(Op):
    """x without the length-1 axes `axis` (sorted, non-negative)."""

    axis: tuple[int, ...]
    kind: ClassVar[str] = "view"

    def infer(self, x: TensorType) -> TensorType:
        for a in self.axis:
            if a >= x.ndim or x.shape[a] not in (1, None):
                raise ShapeError(f"squeeze: axis {a} of {x} does not have length 1")
        return TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in self.axis))

    def reference(self, x):
        if any(x.shape[a] != 1 for a in self.axis):
            raise ShapeError(f"squeeze: axes {self.axis} of shape {x.shape} are not all 1")
        return np.squeeze(x, self.axis)

    def vjp(self, inputs, output, g):
        return (sg.expand_dims(g, self.axis),)
