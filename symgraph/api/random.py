"""`sg.random.RandomStream` (re-exported by `symgraph/random.py`): reproducible random
numbers inside compiled graphs.

    srng = sg.random.RandomStream(seed=42)
    noise = srng.normal((x.shape[0], 3), scale=0.1)
    f = sg.function([x], x @ w + noise)     # each call of f draws fresh numbers

A stream owns a call counter, an int64 shared variable whose default update adds one, so
every compiled function that draws from the stream advances it on each call. Each draw
node is a pure function of (seed, its index in the stream, counter, size) — see
`symgraph/ops/random.py` — so a new stream with the same seed repeats the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.api.base import _is_eager, constant, operands, shared
from symgraph.api.math import add, cast, less, multiply, subtract
from symgraph.api.creation import broadcast_like
from symgraph.api.shape import shape as runtime_shape
from symgraph.apply import apply
from symgraph.config import config
from symgraph.dtypes import as_dtype, is_integer, is_python_scalar
from symgraph.errors import DTypeError, ShapeError
from symgraph.graph import Constant, Node
from symgraph.ops import random as ops
from symgraph.ops.shape import Shape


def _entry(value: Any) -> int | Node:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, Node) and value.ndim == 0 and value.dtype.startswith(("int", "uint")):
        return int(value.value) if isinstance(value, Constant) else value
    raise ShapeError(f"random: size entries must be ints or integer scalar variables, got "
                     f"{value!r}")


def size_vector(size: Any) -> tuple[Node, tuple[int | None, ...]]:
    """The size as an int64 vector node and its static shape (None where unknown).

    Accepts an int, a tuple/list of ints and integer scalar variables (`x.shape[0]`), or
    an integer vector variable (`x.shape`).
    """
    if isinstance(size, Node) and size.ndim == 1:
        if size.type.shape[0] is None:
            raise ShapeError(f"random: a size vector must have a known length, got {size.type}")
        if isinstance(size, Constant):
            return cast(size, "int64"), tuple(int(s) for s in size.value)
        if isinstance(size.op, Shape):
            return cast(size, "int64"), size.inputs[0].type.shape
        return cast(size, "int64"), (None,) * size.type.shape[0]
    entries = [_entry(s) for s in ((size,) if not isinstance(size, (tuple, list)) else size)]
    if any(isinstance(e, int) and e < 0 for e in entries):
        raise ShapeError(f"random: negative size {size!r}")
    known = np.array([e if isinstance(e, int) else 0 for e in entries], dtype="int64")
    vector: Any = constant(known)
    unit = np.eye(len(entries), dtype="int64")
    for i, e in enumerate(entries):
        if not isinstance(e, int):  # symbolic entry i added in place: no stack op needed
            vector = add(vector, multiply(cast(e, "int64"), unit[i]))
    static = tuple(e if isinstance(e, int) else None for e in entries)
    return vector, static


def _affine(z: Any, shift: Any, scale: Any) -> Any:
    """shift + scale * z, leaving out a Python 0 shift and a Python 1 scale."""
    if not (is_python_scalar(scale) and scale == 1):
        z = multiply(scale, z)
    if not (is_python_scalar(shift) and shift == 0):
        z = add(shift, z)
    return z


def _any_eager(*values: Any) -> bool:
    """Whether a draw's arguments include eager tensors (then it is drawn eagerly)."""
    flat = [v for value in values
            for v in (value if isinstance(value, (tuple, list)) else (value,))]
    return any(_is_eager(v) for v in flat)


def _concrete_size(size: Any) -> tuple[int, ...]:
    """An eager draw's size as ints (from ints, 0-d eager tensors or a vector tensor)."""
    if _is_eager(size):
        return tuple(int(s) for s in np.asarray(size.numpy()).reshape(-1))
    entries = size if isinstance(size, (tuple, list)) else (size,)
    out = tuple(int(e.numpy()) if _is_eager(e) else int(e) for e in entries)
    if any(s < 0 for s in out):
        raise ShapeError(f"random: negative size {out}")
    return out


class RandomStream:
    """A seeded source of random draws for symbolic graphs (`sg.random.RandomStream(42)`).

    `size` may be an int, a tuple of ints and integer scalar variables, or an integer
    vector such as `x.shape`; None takes the broadcast shape of the parameters.
    Parameters (loc, scale, low, high, p) may be symbolic and broadcast against `size`.
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (1 << 63))
        if not 0 <= int(seed) < (1 << 64):
            raise ValueError(f"RandomStream: seed must be in [0, 2**64), got {seed}")
        self.seed = int(seed)
        self.counter = shared(np.int64(0), name=f"random_counter_{self.seed}")
        self.counter.set_default_update(self.counter + 1)
        self._draws = 0

    def __repr__(self) -> str:
        return f"RandomStream(seed={self.seed}, draws={self._draws})"

    def _draw(self, cls: type, size: Any, dtype: str, params: tuple = (),
              eager: bool = False) -> Any:
        if eager:
            return self._draw_now(cls, size, dtype, params)
        vector, static = size_vector(size)
        op = cls(self.seed, self._draws, static, dtype)
        self._draws += 1
        return apply(op, self.counter, vector, *params)

    def _draw_now(self, cls: type, size: Any, dtype: str, params: tuple) -> Any:
        """An eager draw: the counter is read and advanced now, as one call would do."""
        from symgraph.eager import as_tensor

        shape = _concrete_size(size)
        op = cls(self.seed, self._draws, shape, dtype)
        self._draws += 1
        counter = self.counter.get_value()
        self.counter.set_value(counter + 1)
        return apply(op, as_tensor(counter), as_tensor(np.array(shape, dtype="int64")),
                     *params)

    def _size_of(self, size: Any, *params: Any) -> Any:
        if size is not None:
            return size
        nodes = [p for p in params if not is_python_scalar(p)]
        if not nodes:
            return ()
        values = operands(*nodes)
        base = values[0]
        for other in values[1:]:
            base = broadcast_like(base, other)
        return runtime_shape(base)

    def normal(self, size: Any = None, loc: Any = 0.0, scale: Any = 1.0,
               dtype: object = None) -> Any:
        """Normal draws `loc + scale * z`, z standard normal of `dtype` (default floatX);
        gradients flow to `loc` and `scale` (reparameterization)."""
        dtype = as_dtype(dtype or config.floatX)
        z = self._draw(ops.StandardNormal, self._size_of(size, loc, scale), dtype,
                       eager=_any_eager(size, loc, scale))
        return cast(_affine(z, loc, scale), dtype)

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0,
                dtype: object = None) -> Any:
        """Uniform draws in [low, high): `low + (high - low) * u`, u in [0, 1) of `dtype`
        (default floatX); gradients flow to `low` and `high`."""
        dtype = as_dtype(dtype or config.floatX)
        u = self._draw(ops.StandardUniform, self._size_of(size, low, high), dtype,
                       eager=_any_eager(size, low, high))
        if is_python_scalar(high) and is_python_scalar(low):
            width = high - low  # stays a weak Python number: no node, no dtype change
        else:
            width = subtract(high, low)
        return cast(_affine(u, low, width), dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None,
                 dtype: object = "int64") -> Any:
        """Uniform integers in [low, high) (NumPy's `Generator.integers`; with one bound,
        [0, low)). No gradient."""
        if high is None:
            low, high = 0, low
        low_node, high_node = operands(low, high)
        if not (is_integer(low_node.dtype) and is_integer(high_node.dtype)):
            raise DTypeError(f"integers: low and high must be integers, got {low_node.dtype} "
                             f"and {high_node.dtype}; use uniform for real numbers")
        size = self._size_of(size, *(p for p in (low, high) if not is_python_scalar(p)))
        return self._draw(ops.Integers, size, as_dtype(dtype),
                          (cast(low_node, "int64"), cast(high_node, "int64")),
                          eager=_any_eager(size, low_node))

    def bernoulli(self, p: Any = 0.5, size: Any = None, dtype: object = None) -> Any:
        """1 with probability p, else 0, as `dtype` (default floatX). No gradient."""
        dtype = as_dtype(dtype or config.floatX)
        u = self._draw(ops.StandardUniform, self._size_of(size, p), "float64",
                       eager=_any_eager(size, p))
        return cast(less(u, p), dtype)
