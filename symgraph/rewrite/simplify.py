"""simplify: algebraic identities that remove work.

Each rule fires only when the result provably keeps the node's dtype and run-time shape
(see `facts.py`), and never changes a NaN or infinity into something else:

- `x * 1`, `x + 0`, `x + zeros_like(y)`, `x * ones_like(y)` -> x, `--x` -> x, with
  negations moved outwards first (`(-a) * b -> -(a * b)`, `sum(-x) -> -sum(x)`: exact);
- `x * 0` and `x - x` -> zeros only for integer and boolean x: for floats, `inf * 0` and
  `inf - inf` are NaN, which zeros would hide;
- `log(exp(x))` -> x always (it also turns exp's overflow into the right finite value);
  `exp(log(x))` -> x only where x is provably >= 0 (for x < 0 it is NaN);
- `full_like(f(x))` -> `full_like(x)` and `shape(f(x))` -> `shape(x)` when f keeps x's
  shape (they only read the shape, so f's result may then fuse or die);
- `where(c, x, x)` -> x, casts to the same dtype, empty reductions, squeeze/expand pairs;
- `sum_to(g, shape(x))` -> g when g provably has x's shape (gradient graphs are full of
  these), or a plain `sum` when both static shapes are known;
- `sum(a + zeros_like(x))` over axes where a is broadcast -> `sum(a) * count`;
- transpose of transpose and reshape of reshape (for the shape ops, where present).
"""

from __future__ import annotations

import math

from symgraph.dtypes import is_float
from symgraph.graph import Constant, Node
from symgraph.ops import binary, logic, unary
from symgraph.ops.reduce import Sum, SumTo
from symgraph.ops.shape import ExpandDims, Shape, Squeeze
from symgraph.rewrite.canonicalize import rules as canonical_rules
from symgraph.rewrite.engine import RuleSet
from symgraph.ops.base import Elemwise
from symgraph.rewrite.facts import (at_least_as_known, constant_scalar, fits, keeps_shape,
                                     nonnegative, same_shape)
from symgraph.rewrite.nodes import constant_like, make
from symgraph.rewrite.optional import op_class

rules = RuleSet("simplify", canonical_rules)
rule = rules.rule


def _is_fill(node: Node, value: float) -> bool:
    """A constant or full_like whose every element equals `value`."""
    if isinstance(node.op, logic.FullLike):
        return node.op.value == value
    return constant_scalar(node) == value


def _integral(node: Node) -> bool:
    return not is_float(node.dtype)


def _zeros(node: Node, like: Node) -> Node:
    return make(logic.FullLike(0, node.dtype), like)


def _both_orders(node: Node) -> tuple[tuple[Node, Node], tuple[Node, Node]]:
    x, y = node.inputs
    return ((x, y), (y, x))


@rule(binary.Multiply)
def mul_by_one(node: Node) -> Node | None:  # x * 1 -> x
    for x, one in _both_orders(node):
        if _is_fill(one, 1) and keeps_shape(node, x):
            return x


@rule(binary.Add)
def add_zero(node: Node) -> Node | None:  # x + 0 -> x
    for x, zero in _both_orders(node):
        if _is_fill(zero, 0) and keeps_shape(node, x):
            return x


@rule(binary.Multiply)
def mul_by_zero(node: Node) -> Node | None:  # x * 0 -> 0, integers only (inf * 0 is NaN)
    for x, zero in _both_orders(node):
        if _is_fill(zero, 0) and _integral(x) and fits(zero, x) and x.dtype == node.dtype:
            return _zeros(node, x)


@rule(binary.Subtract)
def sub_self(node: Node) -> Node | None:  # x - x -> 0, integers only (inf - inf is NaN)
    match node.inputs:
        case (x, y) if x is y and _integral(x):
            return _zeros(node, x)


@rule(unary.Negative)
def double_negation(node: Node) -> Node | None:  # --x -> x
    match node.inputs:
        case (Node(op=unary.Negative(), inputs=(x,)),):
            return x


@rule(binary.Multiply, binary.TrueDivide)
def negation_outwards(node: Node) -> Node | None:
    # (-a) * b -> -(a * b): exact, and lets --x cancel
    if not is_float(node.dtype):
        return None
    match node.inputs:
        case (Node(op=unary.Negative(), inputs=(a,)), b) if a.dtype == node.dtype:
            return make(unary.Negative(), make(node.op, a, b))
        case (a, Node(op=unary.Negative(), inputs=(b,))) if b.dtype == node.dtype:
            return make(unary.Negative(), make(node.op, a, b))


@rule(Sum)
def sum_of_negation(node: Node) -> Node | None:  # sum(-x) -> -sum(x)
    match node.inputs:
        case (Node(op=unary.Negative(), inputs=(x,)),) if is_float(x.dtype):
            return make(unary.Negative(), make(node.op, x))


@rule(unary.Log)
def log_exp(node: Node) -> Node | None:  # log(exp(x)) -> x
    match node.inputs:
        case (Node(op=unary.Exp(), inputs=(x,)),) if x.dtype == node.dtype:
            return x


@rule(unary.Exp)
def exp_log(node: Node) -> Node | None:  # exp(log(x)) -> x where x >= 0
    match node.inputs:
        case (Node(op=unary.Log(), inputs=(x,)),) if x.dtype == node.dtype and nonnegative(x):
            return x


@rule(logic.Where)
def where_same_branches(node: Node) -> Node | None:  # where(c, x, x) -> x
    match node.inputs:
        case (_, x, y) if x is y and keeps_shape(node, x):
            return x


@rule(logic.Where)
def where_constant_condition(node: Node) -> Node | None:  # where(True, x, y) -> x
    match node.inputs:
        case (Constant() as cond, x, y):
            value = constant_scalar(cond)
            chosen = x if value else y
            if value is not None and keeps_shape(node, chosen):
                return chosen


@rule(logic.FullLike)
def full_like_shape_source(node: Node) -> Node | None:
    # full_like(f(g(x))) -> full_like(x) when f, g keep x's shape. Walk the whole chain in
    # one rewrite: one rewrite per link would nest as deep as the chain (a gradient's seed
    # sits on top of the whole forward graph).
    y = node.inputs[0]
    while isinstance(y.op, Elemwise):
        source = next((x for x in y.inputs if at_least_as_known(x, y) and same_shape(x, y)), None)
        if source is None:
            break
        y = source
    if y is not node.inputs[0]:
        return make(node.op, y)


@rule(Shape)
def shape_source(node: Node) -> Node | None:  # shape(f(x)) -> shape(x) when f keeps x's shape
    y = node.inputs[0]
    if not isinstance(y.op, Elemwise):
        return None
    for x in y.inputs:
        if x.ndim == y.ndim and same_shape(x, y):
            return make(node.op, x)


@rule(logic.Cast)
def cast_to_same_dtype(node: Node) -> Node | None:  # cast(x: float32, float32) -> x
    match node.inputs:
        case (x,) if x.dtype == node.dtype:
            return x


@rule(Sum)
def sum_no_axes(node: Node) -> Node | None:  # sum(x, axis=()) -> x
    match node.inputs:
        case (x,) if not node.op.axis and x.dtype == node.dtype:
            return x


@rule(Squeeze)
def squeeze_expand_dims(node: Node) -> Node | None:  # squeeze(expand_dims(x, a), a) -> x
    match node.inputs:
        case (Node(op=ExpandDims(axis=axis), inputs=(x,)),) if axis == node.op.axis:
            return x


@rule(ExpandDims)
def expand_dims_squeeze(node: Node) -> Node | None:
    # expand_dims(squeeze(x, a), a) -> x, when x's axes are 1
    match node.inputs:
        case (Node(op=Squeeze(axis=axis), inputs=(x,)),) if axis == node.op.axis and all(
                x.type.shape[a] == 1 for a in axis):
            return x


@rule(SumTo)
def sum_to_same_shape(node: Node) -> Node | None:  # sum_to(g, shape(x)) -> g when g has x's shape
    match node.inputs:
        case (g, Node(op=Shape(), inputs=(x,))) if at_least_as_known(g, node) and same_shape(
                g, x):
            return g


@rule(SumTo)
def sum_to_static(node: Node) -> Node | None:
    # sum_to(g, s) -> sum(g, axes) when both shapes are known
    g = node.inputs[0]
    target, shape = node.op.like.shape, g.type.shape
    lead = len(shape) - len(target)
    if None in shape or None in target or lead < 0:
        return None
    kept = tuple(lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1)
    if any(d not in (1, shape[lead + i]) for i, d in enumerate(target)):
        return None
    out = make(Sum(kept, keepdims=True), g) if kept else g
    return make(Sum(tuple(range(lead))), out) if lead else out


@rule(Sum)
def sum_of_broadcast(node: Node) -> Node | None:
    # sum(broadcast of a) over axes where a is 1 -> sum(a) * n, for `a + zeros_like(x)`
    # (how gradients broadcast) and broadcast_to(a, shape)
    total = node.inputs[0]
    for a in _broadcast_source(total):
        if (is_float(node.dtype) and a.dtype == node.dtype
                and not (a.ndim == 0 and node.op.keepdims)):
            count = _broadcast_count(a, total, node.op.axis)
            if count is not None:
                reduced = make(Sum(node.op.axis, node.op.keepdims), a) if a.ndim else a
                return make(binary.Multiply(), reduced, constant_like(count, node))


BroadcastTo = op_class("symgraph.ops.shape", "BroadcastTo")


def _broadcast_source(total: Node) -> list[Node]:
    """The operand `total` broadcasts, when it is only a broadcast of it."""
    if BroadcastTo is not None and type(total.op) is BroadcastTo:
        return [total.inputs[0]]
    if isinstance(total.op, binary.Add):
        return [a for a, zero in _both_orders(total)
                if isinstance(zero.op, logic.FullLike) and _is_fill(zero, 0)]
    return []


def _broadcast_count(a: Node, total: Node, axis: tuple[int, ...]) -> int | None:
    """How many copies of each element of a the sum adds up, when a is only broadcast
    along the reduced axes (and all their sizes are known); else None."""
    full = total.type.shape
    if not axis or any(full[k] is None for k in axis):
        return None
    if a.ndim == 0:
        return math.prod(full) if len(axis) == total.ndim else None
    if a.ndim != total.ndim:
        return None
    for k, (ad, d) in enumerate(zip(a.type.shape, full)):
        if (ad != 1) if k in axis else (ad is None or ad != d):
            return None
    return math.prod(full[k] for k in axis)


Transpose = op_class("symgraph.ops.shape", "Transpose")
Reshape = op_class("symgraph.ops.shape", "Reshape")


@rule(Transpose)
def transpose_transpose(node: Node) -> Node | None:
    # transpose(transpose(x, p), q) -> transpose(x, p[q])
    match node.inputs:
        case (Node(op=inner, inputs=(x,)),) if type(inner) is Transpose:
            outer_axes, inner_axes = _axes(node.op, node.ndim), _axes(inner, x.ndim)
            combined = tuple(inner_axes[a] for a in outer_axes)
            if combined == tuple(range(x.ndim)):
                return x
            return make(type(node.op)(**{_axes_field(node.op): combined}), x)


def _axes_field(op: object) -> str:
    return "axes" if hasattr(op, "axes") else "perm"


def _axes(op: object, ndim: int) -> tuple[int, ...]:
    axes = getattr(op, _axes_field(op), None)
    return tuple(reversed(range(ndim))) if axes is None else tuple(axes)


@rule(Reshape)
def reshape_reshape(node: Node) -> Node | None:  # reshape(reshape(x, s1), s2) -> reshape(x, s2)
    match node.inputs:
        case (Node(op=inner, inputs=(x, *rest)), *own) if type(inner) is Reshape and (
                len(rest) == len(own)):
            # Only when dropping s1 drops no run-time size check (s1 is a flatten, or every
            # size in s2 is known) and no statically known dimension.
            if inner.shape != (-1,) and not all(d is not None and d >= 0 for d in node.op.shape):
                return None
            new = make(node.op, x, *own)
            if all(a is None or a == b for a, b in zip(node.type.shape, new.type.shape)):
                return new


@rule(Reshape)
def reshape_to_same_shape(node: Node) -> Node | None:
    # reshape(x, s) -> x when s is x's known shape
    x = node.inputs[0]
    if None not in node.type.shape and x.type.shape == node.type.shape:
        return x


simplify = rules.as_pass("simplify", "Algebraic identities: x*1, --x, log(exp(x)), sum_to, ...")
