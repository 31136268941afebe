"""Indexing ops: basic indexing (a view), advanced indexing (a gather), and the functional
updates `set_subtensor` / `inc_subtensor` (a scatter).

An index is stored as a tuple of items, one per entry of the (Ellipsis-expanded) NumPy
index, so the op stays a small hashable dataclass:

- `("index", k)`                  an integer (`x[2]`, `x[-1]`);
- `("slice", start, stop, step)`  a slice, each part an int or None;
- `("newaxis",)`                  `None` in the index;
- `("array",)`                    an integer array (advanced indexing);
- `("mask",)`                     a boolean array (advanced indexing, consumes mask.ndim axes).

A part equal to `DYN` (`"?"`) is given at run time by the next scalar input, so `x[i:j]`
with symbolic `i`, `j` works; arrays and masks are always inputs. The op's inputs are x (and
for the update ops the value v) followed by those run-time parts in item order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from symgraph import api as sg
from symgraph.apply import apply
from symgraph.dtypes import is_integer
from symgraph.errors import DTypeError, ShapeError
from symgraph.ops.base import Op
from symgraph.types import TensorType, broadcast_shapes

DYN = "?"  # an index part given at run time by the next scalar input
ADVANCED = ("array", "mask")


class IndexOutOfBoundsError(ShapeError, IndexError):
    """An index outside an axis (or more indices than axes); both a ShapeError and an
    IndexError, like NumPy's."""


def is_advanced(items: tuple) -> bool:
    """Whether the index has an integer array or a mask (NumPy advanced indexing)."""
    return any(item[0] in ADVANCED for item in items)


def dynamic_count(items: tuple) -> int:
    """How many run-time inputs the items read."""
    return sum(1 for item in items for part in _parts(item) if part == DYN)


def _parts(item: tuple) -> tuple:
    if item[0] in ADVANCED:
        return (DYN,)
    return item[1:]


def build_index(items: tuple, values: Sequence[np.ndarray]) -> tuple:
    """The NumPy index the items describe, with run-time parts taken from `values`."""
    supply = iter(values)
    index: list[Any] = []
    for item in items:
        kind = item[0]
        if kind == "newaxis":
            index.append(None)
        elif kind in ADVANCED:
            index.append(np.asarray(next(supply)))
        else:
            parts = [int(next(supply)) if p == DYN else p for p in item[1:]]
            index.append(parts[0] if kind == "index" else slice(*parts))
    return tuple(index)


def items_text(items: tuple) -> str:
    """The index as NumPy syntax: `0, ::-1, None, ?` (`?` is a run-time value)."""
    words = []
    for item in items:
        kind = item[0]
        if kind == "slice":
            start, stop, step = ("" if p is None else str(p) for p in item[1:])
            words.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        elif kind == "index":
            words.append(str(item[1]))
        else:
            words.append({"newaxis": "None", "array": "[?]", "mask": "mask"}[kind])
    return ", ".join(words)


def _slice_length(name: str, item: tuple, dim: int | None) -> int | None:
    start, stop, step = item[1:]
    if step == 0:
        raise ShapeError(f"{name}: slice step cannot be zero")
    if start is None and stop is None and step in (None, 1, -1):
        return dim  # a full slice keeps the length, even an unknown one
    if dim is None or DYN in (start, stop, step):
        return None
    return len(range(*slice(start, stop, step).indices(dim)))


def _check_scalar(name: str, t: TensorType) -> None:
    if t.ndim != 0 or not is_integer(t.dtype):
        raise DTypeError(f"{name}: a run-time index or slice bound must be an integer scalar, "
                         f"got {t}; cast it with .astype('int64')")


def _take_axis(name: str, x: TensorType, axis: int, count: int = 1) -> tuple:
    if axis + count > x.ndim:
        raise IndexOutOfBoundsError(
            f"{name}: too many indices for {x}: it has {x.ndim} dimension(s)")
    return x.shape[axis:axis + count]


def indexed_shape(name: str, items: tuple, x: TensorType,
                  dynamic: Sequence[TensorType]) -> tuple:
    """The static shape of x[items] under NumPy's rules (advanced indices broadcast together;
    their dimensions replace them in place when they are adjacent, else go first)."""
    supply: Iterator[TensorType] = iter(dynamic)
    advanced = is_advanced(items)
    out: list[int | None] = []
    blocks: list[tuple] = []  # the shapes the advanced indices broadcast
    positions: list[int] = []
    insert_at = 0
    axis = 0
    for pos, item in enumerate(items):
        kind = item[0]
        if kind == "newaxis":
            out.append(1)
            continue
        if kind == "slice":
            for part in item[1:]:
                if part == DYN:
                    _check_scalar(name, next(supply))
            (dim,) = _take_axis(name, x, axis)
            out.append(_slice_length(name, item, dim))
            axis += 1
            continue
        if not positions:
            insert_at = len(out)
        if kind == "index":
            (dim,) = _take_axis(name, x, axis)
            if item[1] == DYN:
                _check_scalar(name, next(supply))
            elif dim is not None and not -dim <= item[1] < dim:
                raise IndexOutOfBoundsError(
                    f"{name}: index {item[1]} is out of bounds for axis {axis} with size "
                    f"{dim} of {x}; valid indices are {-dim}..{dim - 1}")
            axis += 1
            if advanced:
                blocks.append(())
                positions.append(pos)
            continue
        t = next(supply)
        if kind == "array":
            if not is_integer(t.dtype):
                raise DTypeError(f"{name}: index arrays must be integers or booleans, got {t}; "
                                 "cast it with .astype('int64')")
            _take_axis(name, x, axis)
            blocks.append(t.shape)
            axis += 1
        else:
            if t.dtype != "bool" or t.ndim == 0:
                raise DTypeError(f"{name}: a mask must be a boolean array of 1 or more "
                                 f"dimensions, got {t}")
            dims = _take_axis(name, x, axis, t.ndim)
            if any(a is not None and b is not None and a != b for a, b in zip(t.shape, dims)):
                raise IndexOutOfBoundsError(
                    f"{name}: mask {t} does not match dimensions {axis}.."
                    f"{axis + t.ndim - 1} of {x}; a mask must have the shape of the axes "
                    "it selects")
            blocks.append((None,))  # the number of true elements is known only at run time
            axis += t.ndim
        positions.append(pos)
    out.extend(x.shape[axis:])
    if not blocks:
        return tuple(out)
    block = broadcast_shapes(*blocks, op=name)
    if positions != list(range(positions[0], positions[-1] + 1)):
        insert_at = 0  # separated advanced indices: NumPy puts their dimensions first
    return tuple(out[:insert_at]) + block + tuple(out[insert_at:])


def _describe(values: Sequence[np.ndarray]) -> str:
    return ", ".join(f"{v.dtype}{list(np.shape(v))}" for v in values)


def _run(name: str, action: Any, items: tuple, values: Sequence[np.ndarray]) -> Any:
    """Run a NumPy indexing action, turning its errors into ours (naming op and shapes)."""
    where = f"(inputs {_describe(values)}, index [{items_text(items)}])"
    try:
        return action()
    except IndexError as error:
        raise IndexOutOfBoundsError(f"{name}: {error} {where}") from None
    except ValueError as error:
        raise ShapeError(f"{name}: {error} {where}") from None


@dataclass(frozen=True)
class Subtensor(Op):
    """x[index] with basic indices only (ints, slices, None): a view, as in NumPy.

    The gradient scatters g into zeros shaped like x.
    """

    items: tuple
    kind: ClassVar[str] = "view"

    def __str__(self) -> str:
        return f"{self.name}[{items_text(self.items)}]"

    def infer(self, x: TensorType, *dynamic: TensorType) -> TensorType:
        if len(dynamic) != dynamic_count(self.items):
            raise ShapeError(f"{self.name}: expected {dynamic_count(self.items)} run-time "
                             f"index inputs, got {len(dynamic)}")
        return TensorType(x.dtype, indexed_shape(self.name, self.items, x, dynamic))

    def reference(self, x, *dynamic):
        index = build_index(self.items, dynamic)
        return np.asarray(_run(self.name, lambda: x[index], self.items, (x,) + dynamic))

    def vjp(self, inputs, output, g):
        x, *dynamic = inputs
        scatter = IncSubtensor(self.items, "inc")
        gx = apply(scatter, sg.zeros_like(x, g.dtype), g, *dynamic)
        return (gx,) + (None,) * len(dynamic)


@dataclass(frozen=True)
class AdvancedSubtensor(Subtensor):
    """x[index] with integer arrays or a boolean mask (NumPy advanced indexing): a gather
    that copies. The gradient scatter-adds g, so duplicate indices accumulate."""

    kind: ClassVar[str] = "index"


@dataclass(frozen=True)
class IncSubtensor(Op):
    """A copy of x with x[index] replaced by v (`mode="set"`) or increased by v
    (`mode="inc"`); v broadcasts to the shape of x[index]; x itself is never modified.

    With duplicate advanced indices, "inc" accumulates every value (like `np.add.at`) and
    "set" keeps the last one written (like NumPy assignment); the gradient with respect to
    v then reaches only the values kept, and the one with respect to x is 0 wherever
    something was written.
    """

    items: tuple
    mode: str
    kind: ClassVar[str] = "scatter"

    def __str__(self) -> str:
        return f"{self.mode}_subtensor[{items_text(self.items)}]"

    def infer(self, x: TensorType, v: TensorType, *dynamic: TensorType) -> TensorType:
        assert self.mode in ("set", "inc")
        sub = indexed_shape(f"{self.mode}_subtensor", self.items, x, dynamic)
        if v.dtype != x.dtype:
            raise DTypeError(f"{self.mode}_subtensor: the value is {v} but x is {x}; cast the "
                             f"value with .astype('{x.dtype}')")
        fits = v.ndim <= len(sub) and all(
            a in (1, None) or b is None or a == b for a, b in zip(v.shape[::-1], sub[::-1]))
        if not fits:
            shown = ",".join("?" if d is None else str(d) for d in sub)
            raise ShapeError(f"{self.mode}_subtensor: cannot broadcast the value {v} to the "
                             f"indexed shape [{shown}] of {x}")
        return x

    def reference(self, x, v, *dynamic):
        index = build_index(self.items, dynamic)
        out = np.array(x, copy=True)

        def scatter() -> None:
            if self.mode == "set":
                out[index] = v
            elif is_advanced(self.items):
                np.add.at(out, index, v)
            else:
                out[index] += v

        _run(f"{self.mode}_subtensor", scatter, self.items, (x, v) + tuple(dynamic))
        return out

    def vjp(self, inputs, output, g):
        from symgraph.grad import sum_like

        x, v, *dynamic = inputs
        getter = AdvancedSubtensor if is_advanced(self.items) else Subtensor
        g_sub = apply(getter(self.items), g, *dynamic)
        if self.mode == "inc":
            return (g, sum_like(g_sub, v)) + (None,) * len(dynamic)
        gx = apply(IncSubtensor(self.items, "set"), g, sg.zeros_like(g_sub), *dynamic)
        if any(item[0] == "array" for item in self.items):  # only arrays can repeat a position
            g_sub = sg.where(self.survivors(x, g_sub, dynamic), g_sub, 0)
        return (gx, sum_like(g_sub, v)) + (None,) * len(dynamic)

    def survivors(self, x: Any, written: Any, dynamic: Sequence[Any]) -> Any:
        """Which elements of `written` (shaped like x[index]) are still in the result of
        "set": the last write to each position. Found by setting each element's number
        into zeros like x with this same op, so the forward's order decides, and reading
        back which number stayed."""
        numbers = sg.cumsum(sg.ones_like(sg.flatten(written), "int64"))
        numbers = sg.reshape(numbers, sg.shape(written))
        owner = apply(IncSubtensor(self.items, "set"), sg.zeros_like(x, "int64"), numbers,
                      *dynamic)
        return sg.eq(apply(AdvancedSubtensor(self.items), owner, *dynamic), numbers)
