"""Random draws, stateless: a draw is a pure function of (seed, index, counter, size).

Each draw node's op holds the stream's `seed` and the draw's `index` within the stream
as fields; its inputs are the stream's call counter (an int64 shared variable that every
compiled function advances by one per call), the size and the distribution's integer
parameters. The reference draws from NumPy's Philox counter-based generator keyed by
(seed, index) with the call counter as the high word of Philox's counter, so every call
gives fresh numbers, the same seed gives the same numbers, and a backend can reproduce
them from the same three integers. Location and scale are applied outside the op
(`loc + scale * z`), so gradients reach them by reparameterization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph.dtypes import FLOATS, INTEGERS, is_integer
from symgraph.errors import DTypeError, ShapeError, SymgraphError
from symgraph.ops.base import Op
from symgraph.types import TensorType, broadcast_shapes


@dataclass(frozen=True)
class RandomOp(Op):
    """Base: a draw of static shape `shape` (None: known at run time) and `dtype`.

    Inputs: counter (int64 0-d), size (int64 1-d of length len(shape)), then parameters.
    """

    seed: int
    index: int
    shape: tuple[int | None, ...]
    dtype: str
    kind: ClassVar[str] = "random"
    differentiable: ClassVar[bool] = False
    random: ClassVar[bool] = True  # never constant-folded or merged away by the optimizer
    dtypes: ClassVar[tuple[str, ...]] = FLOATS  # the dtypes this distribution can draw

    def infer(self, counter: TensorType, size: TensorType, *params: TensorType) -> TensorType:
        if self.dtype not in self.dtypes:
            raise DTypeError(f"{self.name}: dtype must be one of {', '.join(self.dtypes)}, "
                             f"got {self.dtype}")
        if counter.ndim != 0 or not is_integer(counter.dtype):
            raise DTypeError(f"{self.name}: the counter must be an integer scalar, got "
                             f"{counter}")
        if size.ndim != 1 or not is_integer(size.dtype) or size.shape[0] != len(self.shape):
            raise ShapeError(f"{self.name}: size must be an integer vector of length "
                             f"{len(self.shape)}, got {size}")
        return TensorType(self.dtype, self.shape)

    def generator(self, counter: np.ndarray) -> np.random.Generator:
        """NumPy's Philox keyed by (seed, index), its counter's second word = the call."""
        key = np.array([self.seed, self.index], dtype="uint64")
        position = np.array([0, int(counter), 0, 0], dtype="uint64")
        return np.random.Generator(np.random.Philox(key=key, counter=position))

    def size(self, size: np.ndarray) -> tuple[int, ...]:
        """The run-time size as ints, checked against the static shape."""
        out = tuple(int(s) for s in size)
        if any(s < 0 for s in out) or not TensorType(self.dtype, self.shape).accepts_shape(out):
            raise ShapeError(f"{self.name}: size {out} is negative or does not fit the "
                             f"static shape {self.shape}")
        return out


@dataclass(frozen=True)
class StandardNormal(RandomOp):
    """Normal draws with mean 0 and standard deviation 1 (float `dtype`)."""

    def reference(self, counter, size):
        return self.generator(counter).standard_normal(self.size(size), dtype=self.dtype)


@dataclass(frozen=True)
class StandardUniform(RandomOp):
    """Uniform draws in [0, 1) (float `dtype`)."""

    def reference(self, counter, size):
        return self.generator(counter).random(self.size(size), dtype=self.dtype)


@dataclass(frozen=True)
class Integers(RandomOp):
    """Uniform integers in [low, high) of integer `dtype`; inputs counter, size, low, high
    (integer arrays that broadcast to the size)."""

    dtypes: ClassVar[tuple[str, ...]] = INTEGERS

    def infer(self, counter: TensorType, size: TensorType, low: TensorType,
              high: TensorType) -> TensorType:
        for t in (low, high):
            if not is_integer(t.dtype):
                raise DTypeError(f"integers: low and high must be integers, got {t}")
        broadcast_shapes(self.shape, low.shape, high.shape, op="integers")
        return super().infer(counter, size)

    def reference(self, counter, size, low, high):
        shape = self.size(size)
        if np.any(np.broadcast_to(low >= high, np.broadcast_shapes(low.shape, high.shape))):
            raise SymgraphError(f"integers: need low < high, got low={low}, high={high}")
        out = self.generator(counter).integers(low, high, size=shape, dtype=self.dtype)
        return np.asarray(out)

