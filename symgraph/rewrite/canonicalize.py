"""canonicalize: one spelling for equal expressions, so later rules match one pattern.

- `x - c -> x + (-c)` and `x / c -> x * (1/c)` for float constants c (see the docs for
  the reciprocal's rounding policy);
- commutative ops get their inputs in a fixed order: nested uses of the same op first,
  then by the engine's deterministic node order, constants last;
- nested adds and multiplies become a left-deep chain `((a + b) + c) + d`, constants
  moving outwards and combining: `(x + 1) + 2 -> x + 3` (float reassociation), unless
  the combined float constant overflows (or, for a product, underflows) where its parts
  did not: `(x * 1e200) * 1e200` stays, `x * inf` would turn 1e-300 into inf and 0 into NaN;
- `x + (-y) -> x - y` and `x * -1 -> -x`.

Reassociation needs one dtype throughout, so NumPy's promotion cannot differ.
"""

from __future__ import annotations

import numpy as np

from symgraph.dtypes import is_float
from symgraph.graph import Constant, Node
from symgraph.ops import binary, logic, unary
from symgraph.rewrite.engine import RuleSet, rank
from symgraph.rewrite.facts import constant_scalar, keeps_shape
from symgraph.rewrite.fold import fold_rules
from symgraph.rewrite.nodes import make

rules = RuleSet("canonicalize", fold_rules)
rule = rules.rule

COMMUTATIVE = (binary.Add, binary.Multiply, binary.Maximum, binary.Minimum, logic.Equal,
               logic.NotEqual, logic.BitwiseAnd, logic.BitwiseOr, logic.BitwiseXor,
               logic.LogicalAnd, logic.LogicalOr)
ASSOCIATIVE = (binary.Add, binary.Multiply)


def _constant(value: np.ndarray, like: Node) -> Constant:
    return Constant(np.asarray(value, dtype=like.dtype), origin=like.origin)


@rule(binary.Subtract)
def sub_constant_to_add(node: Node) -> Node | None:  # x - c -> x + (-c)
    match node.inputs:
        case (x, Constant() as c) if is_float(c.dtype) and node.dtype == c.dtype:
            return make(binary.Add(), x, _constant(-c.value, c))


@rule(binary.TrueDivide)
def div_constant_to_mul(node: Node) -> Node | None:  # x / c -> x * (1/c), 1/c finite, normal
    match node.inputs:
        case (x, Constant() as c) if is_float(c.dtype) and node.dtype == c.dtype:
            with np.errstate(all="ignore"):
                inverse = 1 / c.value
            # A subnormal 1/c (c near the largest float) has lost digits that x / c keeps.
            if (np.all(np.isfinite(inverse)) and np.all(np.isfinite(c.value))
                    and np.all(np.abs(inverse) >= np.finfo(inverse.dtype).tiny)):
                return make(binary.Multiply(), x, _constant(inverse, c))


def _order_key(node: Node, op_class: type) -> tuple:
    # Nested uses of the same associative op go first and keep their order among
    # themselves, so that commute and left_deep never undo each other.
    nested = isinstance(node.op, op_class) and op_class in ASSOCIATIVE
    return (isinstance(node, Constant), not nested, 0 if nested else rank(node))


@rule(*COMMUTATIVE)
def commute(node: Node) -> Node | None:  # b + a -> a + b in the fixed order (constants last)
    x, y = node.inputs
    op_class = type(node.op)
    if _order_key(y, op_class) < _order_key(x, op_class):
        return make(node.op, y, x)


def _same_dtype(*nodes: Node) -> bool:
    return len({n.dtype for n in nodes}) == 1


@rule(*ASSOCIATIVE)
def left_deep(node: Node) -> Node | None:
    # a + (b + c) -> (a + b) + c (not (x*x) * (x*x), which shares)
    op = node.op
    match node.inputs:
        case (a, Node(op=inner_op, inputs=(b, c)) as inner) if (
                inner_op == op and a is not inner and _same_dtype(node, a, inner, b, c)):
            return make(op, make(op, a, b), c)


def _combines_safely(op: object, c1: Constant, c2: Constant) -> bool:
    """Whether `c1 op c2` can stand for applying c1 and then c2: not when a float sum or
    product overflows to inf where both parts are finite, nor a product underflows to 0
    or a subnormal where both are non-zero (x * 1e-200 * 1e-200 is 1e-100 at x = 1e300)."""
    if not is_float(c1.dtype):
        return True  # integers wrap the same in any order
    with np.errstate(all="ignore"):
        a, b = np.broadcast_arrays(c1.value, c2.value)
        combined = a * b if isinstance(op, binary.Multiply) else a + b
    lost = np.isinf(combined) & np.isfinite(a) & np.isfinite(b)
    if isinstance(op, binary.Multiply):
        lost |= (np.abs(combined) < np.finfo(combined.dtype).tiny) & (a != 0) & (b != 0)
    return not np.any(lost)


@rule(*ASSOCIATIVE)
def constants_outwards(node: Node) -> Node | None:
    # (x + c) + y -> (x + y) + c ; (x + c1) + c2 -> x + (c1 + c2) when that does not overflow
    op = node.op
    match node.inputs:
        case (Node(op=inner_op, inputs=(x, Constant() as c1)) as inner, Constant() as c2) if (
                inner_op == op and _same_dtype(node, inner, x, c1, c2)):
            # Refused, it stays as written: moving c2 inwards instead would only swap back.
            return make(op, x, make(op, c1, c2)) if _combines_safely(op, c1, c2) else None
        case (Node(op=inner_op, inputs=(x, Constant() as c)) as inner, y) if (
                inner_op == op and _same_dtype(node, inner, x, c, y)):
            return make(op, make(op, x, y), c)


@rule(binary.Add)
def add_negation(node: Node) -> Node | None:  # x + (-y) -> x - y
    match node.inputs:
        case (x, Node(op=unary.Negative(), inputs=(y,))):
            return make(binary.Subtract(), x, y)
        case (Node(op=unary.Negative(), inputs=(y,)), x):
            return make(binary.Subtract(), x, y)


@rule(binary.Multiply)
def mul_by_minus_one(node: Node) -> Node | None:  # x * -1 -> -x
    match node.inputs:
        case (x, Constant() as c) if constant_scalar(c) == -1 and keeps_shape(node, x):
            if not x.dtype.startswith("uint") and x.dtype != "bool":
                return make(unary.Negative(), x)


canonicalize = rules.as_pass(
    "canonicalize", "One spelling per expression: constants last, left-deep sums, a - c -> a + -c.")
