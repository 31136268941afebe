"""The standard basis of a tensor's space: the batched seed of `sg.jacobian`.

`Basis` of a (d1, …, dk) tensor is the (d1, …, dk, d1, …, dk) array whose entry
[i…, j…] is 1 where i… == j…: the identity matrix with both of its axes reshaped like the
tensor. Seeding reverse mode with it (one cotangent per leading index) gives every row of
a Jacobian in one backward pass, even when the sizes are only known at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph.ops.base import Op
from symgraph.types import TensorType


@dataclass(frozen=True)
class Basis(Op):
    """The basis of x's shape in x's dtype (x's values are not read)."""

    kind: ClassVar[str] = "basis"
    differentiable: ClassVar[bool] = False

    def infer(self, x: TensorType) -> TensorType:
        return TensorType(x.dtype, x.shape + x.shape)

    def reference(self, x: np.ndarray) -> np.ndarray:
        return np.eye(x.size, dtype=x.dtype).reshape(x.shape + x.shape)
