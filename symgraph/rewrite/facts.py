"""Facts rules need to prove before they fire: equal run-time shapes, non-negativity.

Static shapes leave dimensions unknown (`None`), and a `None` may be 1 at run time and
broadcast. So `x * 1 -> x` is only right when the result provably has x's shape, and
`sum_to(g, shape(x)) -> g` only when g provably has x's shape. `same_shape` proves it
from the structure: an elementwise node has the broadcast shape of its inputs, so when
one input has b's shape and the others fit inside it, the node has b's shape too.
"""

from __future__ import annotations

import math

import numpy as np

from symgraph.graph import Constant, Node
from symgraph.ops import unary
from symgraph.ops.base import Elemwise
from symgraph.ops.binary import Multiply
from symgraph.ops.fused import Fused
from symgraph.ops.reduce import SumTo
from symgraph.ops.shape import Shape
from symgraph.types import TensorType

# How deep the shape proof may follow a chain before it gives up (keeps it linear-ish).
MAX_DEPTH = 24

# Ops defined elsewhere whose output has exactly the shape of their first input.
_SAME_SHAPE_NAMES = {"Softmax", "LogSoftmax"}


def _known_equal(a: Node, b: Node) -> bool:
    return a.type.shape == b.type.shape and None not in a.type.shape


def _clash(a: Node, b: Node) -> bool:
    return any(x is not None and y is not None and x != y
               for x, y in zip(a.type.shape, b.type.shape))


def same_shape(a: Node, b: Node, depth: int = 0) -> bool:
    """Whether a and b surely have the same run-time shape."""
    if a is b:
        return True
    if not isinstance(a.type, TensorType) or not isinstance(b.type, TensorType):
        return False
    if a.ndim != b.ndim or _clash(a, b):
        return False
    if _known_equal(a, b):
        return True
    if depth >= MAX_DEPTH:
        return False
    return _derived(a, b, depth + 1) or _derived(b, a, depth + 1)


def _derived(a: Node, b: Node, depth: int) -> bool:
    """Whether a's shape is built from b's shape (one direction of `same_shape`)."""
    op = a.op
    if op is None:
        return False
    if isinstance(op, Elemwise) or type(op) is Fused:
        # A single-output fused loop reads every input on its way to the output.
        inputs = a.inputs
        return (any(same_shape(i, b, depth) for i in inputs)
                and all(fits(i, b, depth) for i in inputs))
    if isinstance(op, SumTo):
        target = a.inputs[1]
        return isinstance(target.op, Shape) and same_shape(target.inputs[0], b, depth)
    if type(op).__name__ in _SAME_SHAPE_NAMES:
        return same_shape(a.inputs[0], b, depth)
    return False


def fits(small: Node, big: Node, depth: int = 0) -> bool:
    """Whether `small` broadcast against `big` leaves big's shape unchanged."""
    if small.ndim > big.ndim:
        return False
    pairs = zip(reversed(small.type.shape), reversed(big.type.shape))
    if all(s == 1 or (s is not None and s == b) for s, b in pairs):
        return True
    return small.ndim == big.ndim and same_shape(small, big, depth)


def at_least_as_known(a: Node, b: Node) -> bool:
    """Whether every dimension b knows statically, a knows too (and equal)."""
    return a.ndim == b.ndim and all(d is None or d == e for d, e in zip(b.type.shape, a.type.shape))


def keeps_shape(node: Node, x: Node) -> bool:
    """Whether elementwise `node` has x's dtype and shape, so x may stand for it."""
    return node.dtype == x.dtype and all(fits(i, x) for i in node.inputs if i is not x)


def constant_scalar(node: Node) -> float | int | bool | None:
    """The single value of a constant whose elements are all equal, else None."""
    return node.scalar if isinstance(node, Constant) else None


# Ops whose result is >= 0 (or NaN) for every input.
_NONNEGATIVE = (unary.Exp, unary.Sqrt, unary.Abs, unary.Sigmoid, unary.Softplus, unary.Cosh)


def nonnegative(node: Node) -> bool:
    """Whether every element of `node` is >= 0 or NaN (never negative)."""
    if isinstance(node, Constant):
        with np.errstate(invalid="ignore"):
            return bool(np.all(~(node.value < 0)))
    if isinstance(node.op, _NONNEGATIVE):
        return True
    if isinstance(node.op, Multiply):
        return node.inputs[0] is node.inputs[1]
    return False


def static_size(node: Node) -> int | None:
    """The number of elements when every dimension is known."""
    shape = node.type.shape
    return None if None in shape else math.prod(shape)
