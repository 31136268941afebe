"""Facts rules need to prove before they fire: equal run-time shapes, non-negativity.

Static shapes leave dimensions unknown (`None`), and a `None` may be 1 at run time and
broadcast. So `x * 1 -> x` is only right when the result provably has x's shape, and
`sum_to(g, shape(x)) -> g` only when g provably has x's shape. `same_shape` proves it
from the structure: an elementwise node has the broadcast shape of its inputs, so when
one input has b's shape and the others fit inside it, the node has b's shape too; and a
keepdims reduction of x (`sum(x, 1, keepdims=True)`) fits into x.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from symgraph.graph import Constant, Node
from symgraph.ops import unary
from symgraph.ops.base import Elemwise
from symgraph.ops.binary import Multiply
from symgraph.ops.fused import Fused
from symgraph.ops.reduce import AxisOp, SumTo
from symgraph.ops.shape import Shape
from symgraph.types import TensorType

# Ops defined elsewhere whose output has exactly the shape of their first input.
_SAME_SHAPE_NAMES = {"Softmax", "LogSoftmax", "Cumsum", "IncSubtensor"}

# node -> its shape class: a static shape tuple, or the node its run-time shape comes from.
_SHAPE_CLASS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def same_shape(a: Node, b: Node) -> bool:
    """Whether a and b surely have the same run-time shape."""
    if a is b:
        return True
    if not isinstance(a.type, TensorType) or not isinstance(b.type, TensorType):
        return False
    return a.ndim == b.ndim and shape_class(a) == shape_class(b)


def shape_class(node: Node) -> object:
    """A key equal for nodes with provably equal run-time shapes: the static shape when it
    is fully known, else the node the shape comes from (computed once per node)."""
    shape = node.type.shape
    if None not in shape:
        return shape
    found = _SHAPE_CLASS.get(node)
    if found is None:
        for pending in _unclassified(node):  # inputs first: no recursion on long chains
            _SHAPE_CLASS[pending] = _derive(pending)
        found = _SHAPE_CLASS[node]
    return found


def _unclassified(root: Node) -> list[Node]:
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, index = stack.pop()
        if index < len(node.inputs):
            stack.append((node, index + 1))
            child = node.inputs[index]
            if id(child) not in seen and _needs_class(child):
                seen.add(id(child))
                stack.append((child, 0))
        else:
            order.append(node)
    return order


def _needs_class(node: Node) -> bool:
    return (isinstance(node.type, TensorType) and None in node.type.shape
            and node not in _SHAPE_CLASS)


def _derive(node: Node) -> object:
    """The shape class of a node whose inputs are classified."""
    op = node.op
    if op is None:
        return node
    if isinstance(op, Elemwise) or type(op) is Fused:
        # The broadcast of the inputs (a single-output fused loop reads every input on
        # its way to the output): one input that all the others fit into gives the shape.
        for candidate in node.inputs:
            if candidate.ndim == node.ndim and all(fits(i, candidate) for i in node.inputs):
                return shape_class(candidate)
        return node
    if isinstance(op, SumTo):
        target = node.inputs[1]
        if isinstance(target.op, Shape) and target.inputs[0].ndim == node.ndim:
            return shape_class(target.inputs[0])
    if type(op).__name__ in _SAME_SHAPE_NAMES:
        return shape_class(node.inputs[0])
    return node


def fits(small: Node, big: Node) -> bool:
    """Whether `small` broadcast against `big` leaves big's shape unchanged."""
    if small.ndim > big.ndim:
        return False
    pairs = zip(reversed(small.type.shape), reversed(big.type.shape))
    if all(s == 1 or (s is not None and s == b) for s, b in pairs):
        return True
    return small.ndim == big.ndim and (same_shape(small, big) or _reduced_from(small, big))


def _reduced_from(small: Node, big: Node) -> bool:
    """Whether small has the shape of a keepdims reduction (1 along its axes) of a node
    shaped like big, as `sum(x, 1, keepdims=True)` has for big = x."""
    source = shape_class(small)
    return (isinstance(source, Node) and isinstance(source.op, AxisOp) and source.op.keepdims
            and source.ndim == big.ndim and same_shape(source.inputs[0], big))


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
