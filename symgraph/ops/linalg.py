"""Linear algebra: one op, `MatMul`; `dot`, `outer`, `tensordot` and `einsum` are
compositions in `symgraph/api/linalg.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.dtypes import result_type
from symgraph.errors import ShapeError
from symgraph.ops.base import Op
from symgraph.types import TensorType, broadcast_shapes


@dataclass(frozen=True)
class MatMul(Op):
    """`a @ b` with NumPy's rules: batch dimensions broadcast, a 1-d `a` is a row and a
    1-d `b` a column (that axis is removed from the result), 0-d operands are refused.

    `transpose_a` / `transpose_b` swap the last two axes of a (≥2-d) operand first, like a
    BLAS gemm's flags; the gradient rules use them so no transpose node is needed.
    The result dtype is NumPy's promotion of the two (integer and bool matmul allowed).
    """

    transpose_a: bool = False
    transpose_b: bool = False
    kind: ClassVar[str] = "matmul"
    vjp_batches: ClassVar[bool] = True  # the rule counts axes from the end

    @property
    def name(self) -> str:
        return "matmul"

    def core(self, a: TensorType, b: TensorType) -> tuple:
        """(batch_a, n, k_a, k_b, m, batch_b) after promotion and the transpose flags."""
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must be at least 1-d, got {a} @ {b}; "
                             "use * (multiply) for a scalar")
        for flag, t, label in ((self.transpose_a, a, "a"), (self.transpose_b, b, "b")):
            if flag and t.ndim < 2:
                raise ShapeError(f"matmul: transpose_{label} needs a ≥2-d operand, got {t}")
        sa = ((1,) + a.shape) if a.ndim == 1 else a.shape
        sb = (b.shape + (1,)) if b.ndim == 1 else b.shape
        n, ka = (sa[-1], sa[-2]) if self.transpose_a else (sa[-2], sa[-1])
        kb, m = (sb[-1], sb[-2]) if self.transpose_b else (sb[-2], sb[-1])
        return sa[:-2], n, ka, kb, m, sb[:-2]

    def infer(self, a: TensorType, b: TensorType) -> TensorType:
        batch_a, n, ka, kb, m, batch_b = self.core(a, b)
        if ka is not None and kb is not None and ka != kb:
            raise ShapeError(
                f"matmul: contracted dimensions differ in {a} @ {b}{self._flags()}: "
                f"{ka} vs {kb}; a's last dimension must equal b's second-to-last")
        batch = broadcast_shapes(batch_a, batch_b, op="matmul")
        shape = batch + ((n,) if a.ndim > 1 else ()) + ((m,) if b.ndim > 1 else ())
        return TensorType(result_type(a.dtype, b.dtype), shape)

    def _flags(self) -> str:
        flags = [f for f, on in (("transpose_a", self.transpose_a),
                                 ("transpose_b", self.transpose_b)) if on]
        return f" (with {', '.join(flags)})" if flags else ""

    def reference(self, a, b):
        dtype = result_type(a.dtype.name, b.dtype.name)
        a = np.swapaxes(a, -1, -2) if self.transpose_a else a
        b = np.swapaxes(b, -1, -2) if self.transpose_b else b
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else -1]:
            raise ShapeError(f"matmul: contracted dimensions differ: {a.shape} @ {b.shape}")
        with np.errstate(all="ignore"):
            return np.asarray(np.matmul(a, b), dtype=dtype)

    def vjp(self, inputs, output, g):
        from symgraph.apply import apply
        from symgraph.grad import sum_like

        a, b = inputs
        ta, tb = self.transpose_a, self.transpose_b
        a2 = sg.expand_dims(a, 0) if a.ndim == 1 else a
        b2 = sg.expand_dims(b, -1) if b.ndim == 1 else b
        lead = g.ndim - output.ndim  # leading batch axes of a jacobian's gradient
        if a.ndim == 1 and b.ndim == 1:
            g = sg.expand_dims(g, (-2, -1))
        elif a.ndim == 1:
            g = sg.expand_dims(g, -2)
        elif b.ndim == 1:
            g = sg.expand_dims(g, -1)
        # out = op(A) @ op(B): d op(A) = G @ op(B)^T and d op(B) = op(A)^T @ G; a transposed
        # operand takes the transpose of its gradient, rewritten with the flags.
        ga = apply(MatMul(tb, True), b2, g) if ta else apply(MatMul(False, not tb), g, b2)
        gb = apply(MatMul(True, ta), g, a2) if tb else apply(MatMul(not ta, False), a2, g)
        batch = {"batch": lead} if lead else {}  # keep a jacobian's batch axes
        ga = sum_like(ga, a2, [_batch_only(b2)], **batch)
        gb = sum_like(gb, b2, [_batch_only(a2)], **batch)
        ga = sg.squeeze(ga, -2) if a.ndim == 1 else ga
        gb = sg.squeeze(gb, -1) if b.ndim == 1 else gb
        return (ga, gb)


def _batch_only(x) -> tuple:
    """x's static shape with the two matrix axes marked 1: only batch axes broadcast."""
    shape = x.type.shape if hasattr(x, "type") else tuple(x.shape)
    return tuple(shape[:-2]) + (1, 1)
