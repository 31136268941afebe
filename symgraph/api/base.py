"""Turning user values into graph values: constructors and argument conversion."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from symgraph.config import config
from symgraph.dtypes import as_dtype, is_python_scalar, result_type
from symgraph.errors import DTypeError, ShapeError
from symgraph.graph import Constant, Input, Node, SharedVariable, user_origin
from symgraph.types import TensorType
# Safe from any import order: eager defines Tensor before it imports the ops (which import us).
from symgraph.eager import Tensor as _EagerTensor


def tensor(name: str | None = None, dtype: object = None,
           shape: Sequence[int | None] | None = None, ndim: int | None = None) -> Input:
    """A symbolic input; `shape` entries may be None (unknown), default 0-d of `floatX`."""
    if shape is None:
        shape = (None,) * (ndim or 0)
    elif ndim is not None and ndim != len(shape):
        raise ValueError(f"tensor {name}: shape {tuple(shape)} does not have ndim={ndim}")
    if isinstance(shape, (str, bytes)) or not all(
            d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool))
            for d in shape):
        raise ShapeError(f"tensor {name}: shape {shape!r} must be a tuple of whole numbers "
                         "or None (unknown)")
    dims = tuple(None if d is None else int(d) for d in shape)
    if any(d is not None and d < 0 for d in dims):
        raise ShapeError(f"tensor {name}: negative dimension in shape {tuple(shape)}")
    return Input(TensorType(as_dtype(dtype or config.floatX), dims), name, user_origin())


def scalar(name: str | None = None, dtype: object = None) -> Input:
    """A symbolic 0-d input."""
    return tensor(name, dtype, ())


def vector(name: str | None = None, dtype: object = None,
           shape: Sequence[int | None] = (None,)) -> Input:
    """A symbolic 1-d input."""
    return tensor(name, dtype, shape, ndim=1)


def matrix(name: str | None = None, dtype: object = None,
           shape: Sequence[int | None] = (None, None)) -> Input:
    """A symbolic 2-d input."""
    return tensor(name, dtype, shape, ndim=2)


def constant(value: Any, dtype: object = None, name: str | None = None) -> Constant:
    """A constant array in the graph (NumPy's dtype for the value unless `dtype` is given)."""
    array = np.asarray(value)
    if dtype is not None:
        array = array.astype(as_dtype(dtype))
    else:
        array = array.astype(as_dtype(array.dtype), copy=False)
    return Constant(array, name, user_origin())


def shared(value: Any, name: str | None = None, dtype: object = None,
           shape: tuple | None = None) -> SharedVariable:
    """A variable whose value persists across calls; read with get_value, set with set_value.

    Its dimensions are unknown to the optimizer (so `set_value` may resize it) unless
    `shape` fixes them, e.g. `shape=w.shape`, or `(None, 10)` to fix only the second: known
    sizes let the optimizer drop run-time broadcasting checks and specialize kernels, and
    `set_value` or an update that changes a fixed size is then a ShapeError."""
    array = np.array(value, dtype=None if dtype is None else as_dtype(dtype))
    array = array.astype(as_dtype(array.dtype), copy=False)
    return SharedVariable(array, name, user_origin(), shape)


def _is_eager(value: Any) -> bool:
    return type(value) is _EagerTensor


def _typed_dtype(value: Any) -> str:
    return value.dtype if isinstance(value, Node) or _is_eager(value) else np.asarray(value).dtype


def _scalar_array(value: Any, dtype: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=dtype)
    except OverflowError as exc:
        raise DTypeError(f"the Python number {value} does not fit in {dtype}; "
                         "cast the other operand to a wider dtype first") from exc


def operands(*args: Any) -> list[Any]:
    """Make graph values of an op's arguments.

    Python scalars are weak: they take the dtype the typed operands promote to (NumPy 2).
    With any eager tensor among the arguments the others become eager tensors; otherwise
    arrays and scalars become constants.
    """
    for a in args:  # all eager: nothing to convert (the eager hot path)
        if type(a) is not _EagerTensor:
            break
    else:
        if args:
            return list(args)
    typed = [a for a in args if not is_python_scalar(a)]
    scalars = [a for a in args if is_python_scalar(a)]
    weak_dtype = None
    if scalars:
        weak_dtype = result_type(*(as_dtype(_typed_dtype(a)) for a in typed), *scalars)
    if any(_is_eager(a) for a in args):
        from symgraph.eager import as_tensor

        return [as_tensor(_scalar_array(a, weak_dtype) if is_python_scalar(a) else a)
                for a in args]
    out = []
    for a in args:
        if isinstance(a, Node):
            out.append(a)
        elif is_python_scalar(a):
            out.append(Constant(_scalar_array(a, weak_dtype), origin=user_origin()))
        else:
            out.append(as_variable(a))
    return out


def as_variable(value: Any) -> Any:
    """A graph value: nodes and eager tensors pass through; arrays become constants."""
    if isinstance(value, Node) or _is_eager(value):
        return value
    if isinstance(value, (list, tuple)) and any(isinstance(v, Node) for v in value):
        from symgraph.api.shape import stack

        return stack(list(value))
    array = np.asarray(value)
    if array.dtype == object:
        raise DTypeError(f"cannot make a tensor of {type(value).__name__} {value!r}")
    return Constant(array.astype(as_dtype(array.dtype), copy=False), origin=user_origin())
