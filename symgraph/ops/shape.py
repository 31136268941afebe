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


def _dims_text(shape: tuple) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _check_shape_vector(name: str, shape: TensorType, ndim: int) -> None:
    if shape.ndim != 1 or shape.dtype[0] not in "iu" or shape.shape[0] != ndim:
        raise ShapeError(f"{name}: the target shape must be an integer vector of length {ndim}, "
                         f"got {shape}")


@dataclass(frozen=True)
class Reshape(Op):
    """x with a new shape of the same size, given at run time by an int vector input.

    `shape` is what is known statically of the target: an int, -1 (inferred from the size,
    at most once), or None (known only at run time). The gradient reshapes g back.
    """

    shape: tuple[int | None, ...]
    kind: ClassVar[str] = "view"

    def infer(self, x: TensorType, shape: TensorType) -> TensorType:
        _check_shape_vector(self.name, shape, len(self.shape))
        target = list(self.shape)
        if target.count(-1) > 1 or any(d is not None and d < -1 for d in target):
            raise ShapeError(f"reshape: invalid target shape {_dims_text(self.shape)}: sizes "
                             "must be >= 0, with at most one -1")
        size = None if None in x.shape else int(np.prod(x.shape, dtype="int64"))
        known = [d for d in target if d is not None and d != -1]
        product = int(np.prod(known, dtype="int64"))
        if size is not None and None not in target:
            if -1 in target and (product == 0 or size % product):
                raise ShapeError(f"reshape: cannot reshape {x} (size {size}) into "
                                 f"{_dims_text(self.shape)}; the -1 cannot be inferred")
            if -1 not in target and product != size:
                raise ShapeError(f"reshape: cannot reshape {x} (size {size}) into "
                                 f"{_dims_text(self.shape)} (size {product}); the sizes "
                                 "must match")
            if -1 in target:
                target[target.index(-1)] = size // product
        return TensorType(x.dtype, tuple(None if d == -1 else d for d in target))

    def reference(self, x, shape):
        target = tuple(int(d) for d in shape)
        try:
            return np.reshape(x, target)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} (size "
                             f"{x.size}) into shape {target}; the sizes must match (at most "
                             "one -1)") from None

    def vjp(self, inputs, output, g):
        return (sg.reshape(g, _full_shape(inputs[0])), None)


@dataclass(frozen=True)
class Transpose(Op):
    """x with its axes permuted: output axis i is input axis `axes[i]` (a view)."""

    axes: tuple[int, ...]
    kind: ClassVar[str] = "view"

    def infer(self, x: TensorType) -> TensorType:
        if sorted(self.axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {self.axes} are not a permutation of the "
                             f"{x.ndim} axes of {x}")
        return TensorType(x.dtype, tuple(x.shape[a] for a in self.axes))

    def reference(self, x):
        return np.transpose(x, self.axes)

    def vjp(self, inputs, output, g):
        return (sg.transpose(g, tuple(int(a) for a in np.argsort(self.axes))),)


@dataclass(frozen=True)
class BroadcastTo(Op):
    """x broadcast to a shape given at run time by an int vector input (a read-only view).

    `shape` holds the statically known target sizes (None where unknown). The gradient
    sums g back to x's shape.
    """

    shape: tuple[int | None, ...]
    kind: ClassVar[str] = "view"

    def infer(self, x: TensorType, shape: TensorType) -> TensorType:
        _check_shape_vector(self.name, shape, len(self.shape))
        lead = len(self.shape) - x.ndim
        fail = ShapeError(f"broadcast_to: cannot broadcast {x} to {_dims_text(self.shape)}; "
                          "each dimension of x must be 1 or equal to the target's")
        if lead < 0:
            raise fail
        out = list(self.shape[:lead])
        for d, t in zip(x.shape, self.shape[lead:]):
            if d is not None and t is not None and d != 1 and d != t:
                raise fail
            out.append(t if t is not None or d == 1 else d)
        return TensorType(x.dtype, tuple(out))

    def reference(self, x, shape):
        target = tuple(int(d) for d in shape)
        try:
            return np.broadcast_to(x, target)
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast an array of shape {x.shape} to "
                             f"{target}") from None

    def vjp(self, inputs, output, g):
        from symgraph.grad import sum_like

        return (sum_like(g, inputs[0]), None)


@dataclass(frozen=True)
class Concatenate(Op):
    """The inputs (same dtype and ndim) joined along `axis` (non-negative).

    The gradient slices g back into the inputs' extents.
    """

    axis: int
    kind: ClassVar[str] = "join"

    def infer(self, *xs: TensorType) -> TensorType:
        if not xs:
            raise ShapeError("concatenate: needs at least one input")
        first = xs[0]
        if first.ndim == 0 or self.axis >= first.ndim:
            raise ShapeError(f"concatenate: axis {self.axis} is out of range for {first}")
        listed = ", ".join(str(t) for t in xs)
        if any(t.ndim != first.ndim or t.dtype != first.dtype for t in xs):
            raise ShapeError(f"concatenate: inputs must have the same ndim and dtype, got "
                             f"{listed}")
        out: list[int | None] = []
        for axis in range(first.ndim):
            dims = [t.shape[axis] for t in xs]
            if axis == self.axis:
                out.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ShapeError(f"concatenate: dimension {axis} differs among {listed}; all "
                                 f"but the joined axis {self.axis} must match")
            out.append(known.pop() if known else None)
        return TensorType(first.dtype, tuple(out))

    def reference(self, *xs):
        try:
            return np.concatenate(xs, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ShapeError(f"concatenate: shapes {shapes} do not match except on axis "
                             f"{self.axis}") from None

    def vjp(self, inputs, output, g):
        grads = []
        start: object = 0
        for x in inputs:
            size = _dim(x, self.axis)
            stop = start + size
            grads.append(g[(slice(None),) * self.axis + (slice(start, stop),)])
            start = stop
        return tuple(grads)


def _full_shape(x):
    """x's shape: a tuple when known statically (always, for eager tensors), else symbolic."""
    shape = x.type.shape if hasattr(x, "type") else tuple(x.shape)
    return shape if None not in shape else sg.shape(x)


def _dim(x, axis: int):
    """Dimension `axis` of x: an int when known statically, else a symbolic scalar."""
    shape = x.type.shape if hasattr(x, "type") else tuple(x.shape)
    if shape[axis] is not None:
        return shape[axis]
    return sg.shape(x)[axis]
