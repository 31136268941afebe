"""Reductions over axes (`axis` normalized to a sorted tuple of non-negative ints).

`Reduce` ops fold an axis with one associative operation (sum, prod, max, min, all, any);
backends implement them as the kernel kind "reduce" and may fuse them with elementwise
producers. `Argmax`/`Argmin` ("argreduce"), `LogSumExp` ("softmax") and `Cumsum`
("cumulative") share the axis handling of `AxisOp` but are separate kernel kinds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph import api as sg
from symgraph.dtypes import name_of
from symgraph.errors import ShapeError
from symgraph.ops.base import Op, ufunc_dtype
from symgraph.types import TensorType


@functools.lru_cache(maxsize=None)  # a NumPy probe per call cost eager sg.sum ~2 µs
def accumulator_dtype(dtype: str) -> str:
    """The dtype NumPy sums and multiplies `dtype` in: small ints and bools widen to 64 bits."""
    return np.sum(np.ones(1, dtype)).dtype.name


@dataclass(frozen=True)
class AxisOp(Op):
    """Base: an op over `axis` (a sorted tuple) of one input, kept as 1 if `keepdims`."""

    axis: tuple[int, ...]
    keepdims: bool = False
    vjp_batches: ClassVar[bool] = True  # rules take gradients with leading batch axes

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
        """g (reduced) with the reduced axes back as 1, so that it broadcasts against x.

        g may carry extra leading (batch) axes, as `jacobian` passes them
        (`vjp_batches`): the axes are shifted by their number.
        """
        if self.keepdims or not self.axis:
            return g
        lead = g.ndim - (x.ndim - len(self.axis))
        return sg.expand_dims(g, tuple(a + lead for a in self.axis))

    def check_not_empty(self, x: TensorType | np.ndarray) -> None:
        """Refuse reducing an empty axis (there is no identity): statically for a type whose
        dimension is known to be 0, at run time for an array."""
        shape = x.shape
        if any(shape[a] == 0 for a in self.axis if a < len(shape)):
            shown = x if isinstance(x, TensorType) else f"shape {shape}"
            raise ShapeError(f"{self.name}: cannot reduce the empty axis {self.axis} of {shown} "
                             "(there is no identity); check the input's shape, or use a "
                             "reduction with an identity such as sum")


@dataclass(frozen=True)
class Reduce(AxisOp):
    """Base of reductions that fold an axis with one associative operation."""

    kind: ClassVar[str] = "reduce"


@dataclass(frozen=True)
class Sum(Reduce):
    """Sum over `axis`; booleans and small integers accumulate in int64/uint64, like NumPy."""

    def out_dtype(self, dtype: str) -> str:
        return accumulator_dtype(dtype)

    def reference(self, x):
        out = np.sum(x, axis=self.axis, keepdims=self.keepdims)
        return np.asarray(out, dtype=self.out_dtype(name_of(x.dtype)))  # both cached

    def vjp(self, inputs, output, g):
        x = inputs[0]
        return (sg.broadcast_like(self.expand(g, x), x),)


@dataclass(frozen=True)
class Prod(Reduce):
    """Product over `axis` (dtype like `Sum`); an empty product is 1.

    The gradient of each element is the product of the others, with no division by zero
    and written so that it keeps its dependence on every element (its own gradient is then
    right too, so Hessians are exact). A non-zero element's is prod / x: 0 as soon as the
    slice has a zero, but still a product that depends on it. A zero element's is the
    product of the non-zero elements when it is the slice's only zero; when there are two
    it is 0, written as that product times the other zero (the sum of the zeros, less its
    own); with three or more it is 0. So derivatives of third and higher order are exact
    except with respect to three or more zeros of one slice.
    """

    def out_dtype(self, dtype: str) -> str:
        return accumulator_dtype(dtype)

    def reference(self, x):
        with np.errstate(all="ignore"):
            out = np.prod(x, axis=self.axis, keepdims=self.keepdims)
        return np.asarray(out, dtype=self.out_dtype(x.dtype.name))

    def vjp(self, inputs, output, g):
        x = inputs[0]
        is_zero = sg.eq(x, 0)
        zeros = sg.where(is_zero, x, 0)  # 0, but with the zero elements' slope
        product = sg.prod(sg.where(is_zero, 1, x), self.axis)  # of the non-zero elements
        count = sg.sum(is_zero, self.axis)
        # Per-slice factors at the reduced shape, widened at the end: they run as a small
        # loop of their own, and the loop over every element stays short.
        two = sg.where(sg.eq(count, 2), product, 0)
        one = sg.where(sg.eq(count, 1), product, two * sg.sum(zeros, self.axis))
        at_zero = sg.expand_dims(one, self.axis) - sg.expand_dims(two, self.axis) * zeros
        at_nonzero = self.expand(output, x) / sg.where(is_zero, 1, x)
        return (self.expand(g, x) * sg.where(is_zero, at_zero, at_nonzero),)


def _extreme_vjp(op: AxisOp, x, output, g):
    """Max/min gradient: split equally among the elements equal to the result (ties), and
    among the NaNs when the result is NaN."""
    out = op.expand(output, x)
    hit = sg.logical_or(sg.eq(x, out), sg.logical_and(sg.isnan(x), sg.isnan(out)))
    hit = sg.cast(hit, x.dtype)
    count = sg.sum(hit, op.axis, keepdims=True)
    return (op.expand(g, x) * hit / count,)


@dataclass(frozen=True)
class Max(Reduce):
    """Largest element over `axis`; NaN propagates; an empty axis is a ShapeError.

    Gradient convention for ties: the gradient is split equally among all elements equal
    to the maximum (so it sums to the incoming gradient, like PyTensor and JAX's mean rule).
    """

    def infer(self, x: TensorType) -> TensorType:
        self.check_not_empty(x)
        return super().infer(x)

    def reference(self, x):
        self.check_not_empty(x)
        return np.asarray(np.max(x, axis=self.axis, keepdims=self.keepdims))

    def vjp(self, inputs, output, g):
        return _extreme_vjp(self, inputs[0], output, g)


@dataclass(frozen=True)
class Min(Reduce):
    """Smallest element over `axis`; NaN propagates; an empty axis is a ShapeError.

    Gradient convention for ties: split equally among all elements equal to the minimum.
    """

    def infer(self, x: TensorType) -> TensorType:
        self.check_not_empty(x)
        return super().infer(x)

    def reference(self, x):
        self.check_not_empty(x)
        return np.asarray(np.min(x, axis=self.axis, keepdims=self.keepdims))

    def vjp(self, inputs, output, g):
        return _extreme_vjp(self, inputs[0], output, g)


@dataclass(frozen=True)
class All(Reduce):
    """Whether every element over `axis` is non-zero (True for an empty axis)."""

    differentiable: ClassVar[bool] = False

    def out_dtype(self, dtype: str) -> str:
        return "bool"

    def reference(self, x):
        return np.asarray(np.all(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class Any(Reduce):
    """Whether some element over `axis` is non-zero (False for an empty axis)."""

    differentiable: ClassVar[bool] = False

    def out_dtype(self, dtype: str) -> str:
        return "bool"

    def reference(self, x):
        return np.asarray(np.any(x, axis=self.axis, keepdims=self.keepdims))


@dataclass(frozen=True)
class Argmax(AxisOp):
    """int64 index of the largest element along one axis, or over all axes of the flattened
    input when `axis` lists them all. The first NaN wins, then the first maximum (NumPy)."""

    kind: ClassVar[str] = "argreduce"
    differentiable: ClassVar[bool] = False

    def out_dtype(self, dtype: str) -> str:
        return "int64"

    def infer(self, x: TensorType) -> TensorType:
        self.check_not_empty(x)
        assert len(self.axis) <= 1 or len(self.axis) == x.ndim
        return super().infer(x)

    def reference(self, x):
        return _arg(np.argmax, self, x)


@dataclass(frozen=True)
class Argmin(AxisOp):
    """int64 index of the smallest element along one axis, or of the flattened input when
    `axis` lists every axis. The first NaN wins, then the first minimum (NumPy)."""

    kind: ClassVar[str] = "argreduce"
    differentiable: ClassVar[bool] = False

    def out_dtype(self, dtype: str) -> str:
        return "int64"

    def infer(self, x: TensorType) -> TensorType:
        self.check_not_empty(x)
        assert len(self.axis) <= 1 or len(self.axis) == x.ndim
        return super().infer(x)

    def reference(self, x):
        return _arg(np.argmin, self, x)


def _arg(fn, op: AxisOp, x: np.ndarray) -> np.ndarray:
    if x.ndim == 0:
        return np.zeros((), "int64")
    op.check_not_empty(x)
    axis = op.axis[0] if len(op.axis) == 1 else None
    out = fn(x, axis=axis, keepdims=op.keepdims)
    return np.asarray(out, dtype="int64")


@dataclass(frozen=True)
class LogSumExp(AxisOp):
    """log(sum(exp(x))) over `axis`, computed stably by shifting with the finite maximum.

    An empty axis gives -inf; ±inf and NaN propagate as in exact arithmetic. Integer inputs
    give float64, like `exp`. The gradient is softmax(x) along `axis`.
    """

    kind: ClassVar[str] = "softmax"

    @property
    def name(self) -> str:
        return "logsumexp"

    def out_dtype(self, dtype: str) -> str:
        return ufunc_dtype(np.exp, (dtype,))

    def reference(self, x):
        x = x.astype(self.out_dtype(x.dtype.name), copy=False)
        with np.errstate(all="ignore"):
            shift = _finite_max(x, self.axis)
            total = np.sum(np.exp(x - shift), axis=self.axis, keepdims=True)
            out = np.log(total) + shift
        if not self.keepdims:
            out = np.squeeze(out, self.axis)
        return np.asarray(out, dtype=x.dtype)

    def vjp(self, inputs, output, g):
        x = inputs[0]
        return (self.expand(g, x) * sg.exp(x - self.expand(output, x)),)


def _finite_max(x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    """The maximum over `axis` (keepdims), replaced by 0 where it is not finite, so that
    subtracting it never makes inf - inf."""
    if x.size == 0:
        return np.zeros([1 if i in axis else d for i, d in enumerate(x.shape)], x.dtype)
    shift = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(shift), shift, 0).astype(x.dtype)


@dataclass(frozen=True)
class Cumsum(Op):
    """Running sum along `axis` (dtype like `Sum`); `reverse` sums from the end instead.

    The gradient of a running sum is the reverse running sum of the gradient.
    """

    axis: int
    reverse: bool = False
    kind: ClassVar[str] = "cumulative"
    vjp_batches: ClassVar[bool] = True

    def infer(self, x: TensorType) -> TensorType:
        if not 0 <= self.axis < x.ndim:
            raise ShapeError(f"cumsum: axis {self.axis} out of range for {x}")
        return TensorType(accumulator_dtype(x.dtype), x.shape)

    def reference(self, x):
        dtype = accumulator_dtype(x.dtype.name)
        if not self.reverse:
            return np.cumsum(x, axis=self.axis, dtype=dtype)
        flipped = np.flip(x, self.axis)
        return np.flip(np.cumsum(flipped, axis=self.axis, dtype=dtype), self.axis)

    def vjp(self, inputs, output, g):
        from symgraph.apply import apply

        lead = g.ndim - output.ndim  # leading batch axes of a jacobian's gradient
        return (apply(Cumsum(self.axis + lead, not self.reverse), g),)


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
