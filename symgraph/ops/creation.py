"""Creation ops: arrays made from sizes alone (`full`, `arange`, `eye`).

Sizes are run-time integer inputs, so shapes may be symbolic (`sg.zeros(x.shape[0])`); what
the api knows of them at build time is kept in the op's `shape` (or `length`) field for the
static type. None of these ops carries a gradient: their inputs are sizes and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph.errors import DTypeError, ShapeError
from symgraph.ops.base import Op
from symgraph.types import TensorType


def _check_int_scalars(name: str, *types: TensorType) -> None:
    for t in types:
        if t.ndim != 0 or t.dtype[0] not in "iu":
            raise DTypeError(f"{name}: sizes must be integer scalars, got {t}; cast with "
                             ".astype('int64')")


def _sizes(name: str, values) -> tuple[int, ...]:
    sizes = tuple(int(v) for v in values)
    if any(s < 0 for s in sizes):
        raise ShapeError(f"{name}: negative dimensions are not allowed, got shape {sizes}")
    return sizes


@dataclass(frozen=True)
class Full(Op):
    """An array of the run-time shape (an int vector input) filled with `value` of `dtype`.

    `shape` holds the statically known sizes (None where known only at run time).
    """

    value: bool | int | float
    dtype: str
    shape: tuple[int | None, ...]
    kind: ClassVar[str] = "alloc"
    differentiable: ClassVar[bool] = False

    def infer(self, shape: TensorType) -> TensorType:
        if shape.ndim != 1 or shape.dtype[0] not in "iu" or shape.shape[0] != len(self.shape):
            raise ShapeError(f"full: the shape must be an integer vector of length "
                             f"{len(self.shape)}, got {shape}")
        return TensorType(self.dtype, self.shape)

    def reference(self, shape):
        return np.full(_sizes("full", shape), self.value, dtype=self.dtype)


@dataclass(frozen=True)
class Arange(Op):
    """Evenly spaced values in [start, stop) by step (three scalar inputs), NumPy's arange.

    `length` is the number of values when the bounds are known at build time.
    """

    dtype: str
    length: int | None
    kind: ClassVar[str] = "alloc"
    differentiable: ClassVar[bool] = False

    def infer(self, start: TensorType, stop: TensorType, step: TensorType) -> TensorType:
        for t in (start, stop, step):
            if t.ndim != 0 or t.dtype == "bool":
                raise DTypeError(f"arange: bounds must be numeric scalars, got {t}")
        return TensorType(self.dtype, (self.length,))

    def reference(self, start, stop, step):
        if step == 0:
            raise ShapeError("arange: step must not be zero")
        return np.arange(start.item(), stop.item(), step.item(), dtype=self.dtype)


@dataclass(frozen=True)
class Eye(Op):
    """An n x m matrix (two integer scalar inputs) with ones on diagonal `k`, zeros elsewhere.

    `shape` holds n and m when they are known at build time.
    """

    k: int
    dtype: str
    shape: tuple[int | None, int | None]
    kind: ClassVar[str] = "alloc"
    differentiable: ClassVar[bool] = False

    def infer(self, n: TensorType, m: TensorType) -> TensorType:
        _check_int_scalars("eye", n, m)
        return TensorType(self.dtype, self.shape)

    def reference(self, n, m):
        rows, cols = _sizes("eye", (n, m))
        return np.eye(rows, cols, self.k, dtype=self.dtype)
