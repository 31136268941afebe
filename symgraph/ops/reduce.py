"""Reductions over axes (`axis` normalized to a sorted tuple of non-negative ints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.errors import ShapeError
from symgraph.ops.base import Op
from symgraph.types import TensorType


@dataclass(frozen=True)
class Reduce(Op):
    """Base: reduce `axis` (a sorted tuple) of one input, keeping them as 1 if `keepdims`."""

    axis: tuple[int, ...]
    keepdims: bool = False
    kind: ClassVar[str] = "reduce"

    def out_shape(self, shape: tuple) -> tuple:
        if self.keepdims:
            return tuple(1 if i in self.axis else d for i, d in enumerate(shape))
        return tuple(d for i, d in enumerate(shape) if i not in self.axis)

    def out_dtype(self, dtype: str) -> str:
        return dtype

    def infer(self, x: TensorType) -> TensorType:
        if any(a >= x.ndim for a in self.axis):
            raise ShapeError(f"{self.name}: axis {self.axis} out of range for {x}")
        return TensorType(self.out_dtype(x.dtype), self.out_shape(x.shape))

    def expand(self, g, x):
        """g (reduced) reshaped so that it broadcasts against x."""
        if self.keepdims or not self.axis:
            return g
        return sg.expand_dims(g, self.axis)


@dataclass(frozen=True)
class Sum(Reduce):
    """Sum over `axis`; booleans and small integers accumulate in int64/uint64, like NumPy."""

    def out_dtype(self, dtype: str) -> str:
        return np.sum(np.ones(1, dtype)).dtype.name

    def reference(self, x):
        out = np.sum(x, axis=self.axis, keepdims=self.keepdims)
        return np.asarray(out, dtype=self.out_dtype(x.dtype.name))

    def vjp(self, inputs, output, g):
        x = inputs[0]
        return (sg.broadcast_like(self.expand(g, x), x),)


@dataclass(frozen=True)
class SumTo(Op):
    """Sum `g` down to the run-time shape `shape` (undoes broadcasting, for gradients).

    Leading extra axes are summed away and axes where `shape` is 1 are summed with keepdims.
    The static output type is `like`, the type of the variable the gradient belongs to.
    """

    like: TensorType
    kind: ClassVar[str] = "sum_to"

    def infer(self, g: TensorType, shape: TensorType) -> TensorType:
        return TensorType(g.dtype, self.like.shape)

    def reference(self, g, shape):
        shape = tuple(int(s) for s in shape)
        lead = g.ndim - len(shape)
        if lead < 0:
            raise ShapeError(f"sum_to: cannot sum a {g.ndim}-d gradient to shape {shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
        out = np.sum(g, axis=axes, keepdims=True) if axes else g
        return out.reshape(shape) if out.shape != shape else out

    def vjp(self, inputs, output, g):
        return (sg.broadcast_like(g, inputs[0]), None)
