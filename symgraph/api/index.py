"""Indexing with NumPy semantics (`x[idx]`) and the functional updates `set_subtensor` /
`inc_subtensor`.

Supported index entries: ints (negative too), slices with any step (start, stop and step
may be symbolic integer scalars), `None`, `...`, integer arrays (lists, NumPy arrays or
symbolic/eager integer tensors; NumPy's advanced-indexing rules, mixing with slices
included) and boolean masks. A mask selects over the axes it covers, like NumPy; the
number of selected elements, and so that output dimension, is known only at run time.
Python `True`/`False` as an index (NumPy's 0-d masks) is refused.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from symgraph.api.base import _is_eager, as_variable, operands
from symgraph.api.math import cast
from symgraph.apply import apply
from symgraph.dtypes import is_python_scalar
from symgraph.errors import DTypeError, SymgraphError, with_origin
from symgraph.graph import Constant, Node, user_origin
from symgraph.ops.index import (DYN, AdvancedSubtensor, IncSubtensor,
                                IndexOutOfBoundsError, Subtensor, is_advanced)


# Eager results have no node to read their base and index back from, so getitem remembers
# its last few eager results (strong references: kept few, so little memory stays alive);
# `set_subtensor(t[idx], v)` looks its argument up right after the indexing made it.
_RECENT_EAGER: OrderedDict[int, tuple] = OrderedDict()
_RECENT_LIMIT = 8


def _fail(error: SymgraphError) -> SymgraphError:
    return with_origin(error, user_origin())


def _dims(x: Any) -> tuple:
    return x.type.shape if isinstance(x, Node) else tuple(x.shape)


def _is_tensor(value: Any) -> bool:
    return isinstance(value, Node) or _is_eager(value)


def _static_int(value: Any) -> Any:
    """An int for static values (ints, 0-d integer constants); the value itself if symbolic."""
    if isinstance(value, (bool, np.bool_)):
        raise _fail(DTypeError(f"getitem: a boolean {value!r} is not an index; use an integer"))
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Constant) and value.ndim == 0 and value.dtype[0] in "iu":
        return int(value.value)
    if _is_tensor(value):
        if value.ndim != 0 or value.dtype[0] not in "iu":
            raise _fail(DTypeError(f"getitem: a slice bound or scalar index must be an integer "
                                   f"scalar, got {value!r}; cast it with .astype('int64')"))
        return value
    raise _fail(DTypeError(f"getitem: {value!r} ({type(value).__name__}) is not a valid index; "
                           "use ints, slices, None, ..., integer arrays or boolean masks"))


def _classify(entry: Any) -> tuple:
    """One index entry as (kind, payload): the payload is a value or a symbolic node."""
    if entry is Ellipsis:
        return ("ellipsis", None)
    if entry is None:
        return ("newaxis", None)
    if isinstance(entry, slice):
        parts = tuple(None if p is None else _static_int(p)
                      for p in (entry.start, entry.stop, entry.step))
        return ("slice", parts)
    if is_python_scalar(entry) or isinstance(entry, (np.integer, np.bool_)):
        return ("index", _static_int(entry))
    if isinstance(entry, list) and any(_is_tensor(e) for e in entry):
        entry = as_variable(entry)  # [i, j] with symbolic scalars: stacked into a vector
    value = entry if _is_tensor(entry) else np.asarray(entry)
    if isinstance(value, np.ndarray) and value.size == 0 and value.dtype.kind == "f":
        value = value.astype("int64")  # `[]` is an empty integer index, as in NumPy
    kind = np.dtype(value.dtype).kind
    if kind == "b":
        if value.ndim == 0:
            raise _fail(DTypeError("getitem: a 0-d boolean index is not supported; index "
                                   "with a boolean array (a mask) or use sg.where"))
        return ("mask", value)
    if kind not in "iu":
        raise _fail(DTypeError(f"getitem: index arrays must be integers or booleans, got "
                               f"{value.dtype}; cast it with .astype('int64')"))
    if value.ndim == 0:
        return ("index", _static_int(value if _is_tensor(value) else value.item()))
    return ("array", value)


def _width(kind: str, payload: Any) -> int:
    """How many axes of x an entry consumes."""
    if kind in ("index", "slice", "array"):
        return 1
    return payload.ndim if kind == "mask" else 0


def _expand(index: Any, ndim: int) -> list[tuple]:
    """Classified entries with the Ellipsis (or the missing trailing axes) as full slices."""
    entries = [_classify(e) for e in (index if isinstance(index, tuple) else (index,))]
    used = sum(_width(kind, payload) for kind, payload in entries)
    ellipses = [i for i, (kind, _) in enumerate(entries) if kind == "ellipsis"]
    if len(ellipses) > 1:
        raise _fail(IndexOutOfBoundsError("getitem: an index can only have one ellipsis (...)"))
    if used > ndim:
        raise _fail(IndexOutOfBoundsError(
            f"getitem: too many indices: the input is {ndim}-d, but {used} were indexed"))
    fill = [("slice", (None, None, None))] * (ndim - used)
    if not ellipses:
        return entries + fill
    at = ellipses[0]
    return entries[:at] + fill + entries[at + 1:]


def _check_constant_array(value: Any, axis: int, dim: int | None) -> None:
    array = value.value if isinstance(value, Constant) else value
    if dim is None or not isinstance(array, np.ndarray) or array.size == 0:
        return
    low, high = int(array.min()), int(array.max())
    if low < -dim or high >= dim:
        bad = high if high >= dim else low
        raise _fail(IndexOutOfBoundsError(
            f"getitem: index {bad} is out of bounds for axis {axis} with size {dim}; "
            f"valid indices are {-dim}..{dim - 1}"))


def parse_index(x: Any, index: Any) -> tuple[tuple, list[Any]]:
    """The op items of a NumPy index over x, and the run-time inputs they read, in order."""
    dims = _dims(x)
    items: list[tuple] = []
    dynamic: list[Any] = []
    axis = 0
    for kind, payload in _expand(index, len(dims)):
        if kind in ("array", "mask"):
            if kind == "array":
                _check_constant_array(payload, axis, dims[axis])
            items.append((kind,))
            dynamic.append(payload)
        elif kind == "newaxis":
            items.append(("newaxis",))
        else:
            parts = payload if kind == "slice" else (payload,)
            static = tuple(p if p is None or isinstance(p, int) else DYN for p in parts)
            dynamic.extend(p for p in parts if not (p is None or isinstance(p, int)))
            items.append((kind,) + static)
        axis += _width(kind, payload)
    return tuple(items), dynamic


def getitem(x: Any, index: Any) -> Any:
    """x[index] with NumPy semantics (see the module docstring for what is supported).

    Basic indexing (ints, slices, None, ...) gives a view (op kind "view"); integer arrays
    and masks give a copy (kind "index"). Constant indices out of range raise an
    IndexOutOfBoundsError (an IndexError) now where x's shape is known, else at run time.
    """
    (x,) = operands(x)
    items, dynamic = parse_index(x, index)
    op = AdvancedSubtensor(items) if is_advanced(items) else Subtensor(items)
    args = operands(x, *dynamic)
    out = apply(op, *args)
    if not isinstance(out, Node):
        _RECENT_EAGER[id(out)] = (out, op, args)
        while len(_RECENT_EAGER) > _RECENT_LIMIT:
            _RECENT_EAGER.popitem(last=False)
    return out


def _source(indexed: Any) -> tuple[Any, Any, list[Any]] | None:
    """The op and inputs (x, then the index's run-time parts) that produced `indexed`."""
    if isinstance(indexed, Node):
        if isinstance(indexed.op, Subtensor):
            return indexed.op, *indexed.inputs
        return None
    entry = _RECENT_EAGER.get(id(indexed))
    if entry is None or entry[0] is not indexed:
        return None
    return entry[1], *entry[2]


def _update(mode: str, indexed: Any, value: Any) -> Any:
    source = _source(indexed)
    if source is None:
        raise _fail(SymgraphError(
            f"{mode}_subtensor: the first argument must be an indexing result such as x[idx], "
            f"got {indexed!r}; write sg.{mode}_subtensor(x[idx], v) (for eager tensors, "
            "with the indexing inside the call)"))
    op, base, *dynamic = source
    if is_python_scalar(value):
        (base, value) = operands(base, value)
    value = as_variable(value)
    if not np.can_cast(value.dtype, base.dtype, "same_kind"):
        raise _fail(DTypeError(f"{mode}_subtensor: cannot store {value.dtype} values in "
                               f"{base.type}; cast the value with .astype('{base.dtype}')"))
    return apply(IncSubtensor(op.items, mode), base, cast(value, base.dtype), *dynamic)


def set_subtensor(indexed: Any, value: Any) -> Any:
    """A copy of x with x[idx] set to `value` (broadcast), given `indexed = x[idx]`.

    Functional: x is not modified, a new variable is returned. With duplicate advanced
    indices the last value written wins (as in NumPy assignment), and the gradient with
    respect to `value` reaches only the values that won.
    """
    return _update("set", indexed, value)


def inc_subtensor(indexed: Any, value: Any) -> Any:
    """A copy of x with `value` added to x[idx], given `indexed = x[idx]`.

    Functional: x is not modified. Duplicate advanced indices accumulate every value, like
    `np.add.at` (not like NumPy's `a[idx] += v`, which keeps one).
    """
    return _update("inc", indexed, value)
