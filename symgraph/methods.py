"""Operators and methods shared by symbolic variables and eager tensors.

Both kinds of value get `+ - * / // % ** @`, comparisons, `& | ^ ~`, indexing, `.T`,
`.sum()` and friends from this one mixin; each forwards to the public function, so the
symbolic and eager paths cannot drift apart. `==` stays identity (values are hashable);
elementwise equality is `sg.eq`.
"""

from __future__ import annotations

import sys
from typing import Any


def _api() -> Any:
    api = sys.modules.get("symgraph.api")  # a dict lookup: operators are eager's hot path
    if api is None:
        from symgraph import api
    return api


class TensorMethods:
    """Mixin: NumPy-style operators and methods, forwarding to `symgraph.api`."""

    __slots__ = ()
    __array_priority__ = 1000  # so `ndarray + variable` defers to us

    def __add__(self, other): return _api().add(self, other)
    def __radd__(self, other): return _api().add(other, self)
    def __sub__(self, other): return _api().subtract(self, other)
    def __rsub__(self, other): return _api().subtract(other, self)
    def __mul__(self, other): return _api().multiply(self, other)
    def __rmul__(self, other): return _api().multiply(other, self)
    def __truediv__(self, other): return _api().true_divide(self, other)
    def __rtruediv__(self, other): return _api().true_divide(other, self)
    def __floordiv__(self, other): return _api().floor_divide(self, other)
    def __rfloordiv__(self, other): return _api().floor_divide(other, self)
    def __mod__(self, other): return _api().mod(self, other)
    def __rmod__(self, other): return _api().mod(other, self)
    def __pow__(self, other): return _api().power(self, other)
    def __rpow__(self, other): return _api().power(other, self)
    def __matmul__(self, other): return _api().matmul(self, other)
    def __rmatmul__(self, other): return _api().matmul(other, self)
    def __neg__(self): return _api().negative(self)
    def __pos__(self): return self
    def __abs__(self): return _api().abs(self)
    def __lt__(self, other): return _api().less(self, other)
    def __le__(self, other): return _api().less_equal(self, other)
    def __gt__(self, other): return _api().greater(self, other)
    def __ge__(self, other): return _api().greater_equal(self, other)
    def __and__(self, other): return _api().bitwise_and(self, other)
    def __rand__(self, other): return _api().bitwise_and(other, self)
    def __or__(self, other): return _api().bitwise_or(self, other)
    def __ror__(self, other): return _api().bitwise_or(other, self)
    def __xor__(self, other): return _api().bitwise_xor(self, other)
    def __rxor__(self, other): return _api().bitwise_xor(other, self)
    def __invert__(self): return _api().invert(self)
    def __getitem__(self, index): return _api().getitem(self, index)

    @property
    def T(self): return _api().transpose(self)
    @property
    def shape(self): return _api().shape(self)

    def sum(self, axis=None, keepdims=False): return _api().sum(self, axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return _api().mean(self, axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return _api().max(self, axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return _api().min(self, axis, keepdims=keepdims)
    def prod(self, axis=None, keepdims=False): return _api().prod(self, axis, keepdims=keepdims)
    def std(self, axis=None, keepdims=False): return _api().std(self, axis, keepdims=keepdims)
    def var(self, axis=None, keepdims=False): return _api().var(self, axis, keepdims=keepdims)
    def argmax(self, axis=None, keepdims=False): return _api().argmax(self, axis, keepdims=keepdims)
    def argmin(self, axis=None, keepdims=False): return _api().argmin(self, axis, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return _api().all(self, axis, keepdims=keepdims)
    def any(self, axis=None, keepdims=False): return _api().any(self, axis, keepdims=keepdims)
    def reshape(self, *shape): return _api().reshape(self, shape[0] if len(shape) == 1 else shape)
    def transpose(self, *axes): return _api().transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    def astype(self, dtype): return _api().cast(self, dtype)
    def flatten(self): return _api().reshape(self, (-1,))
    def dot(self, other): return _api().dot(self, other)
    def clip(self, lo=None, hi=None): return _api().clip(self, lo, hi)
    def squeeze(self, axis=None): return _api().squeeze(self, axis)
    def cumsum(self, axis=None): return _api().cumsum(self, axis)

    def eval(self, inputs: dict | None = None, backend: str = "python"):
        """Compile and run this expression once with `{variable: value}` inputs."""
        from symgraph.compile import function

        inputs = inputs or {}
        return function(list(inputs), self, backend=backend)(*inputs.values())
