"""fold: subgraphs of constants become constants, within a size cap.

A node whose inputs are all constants is computed now with its NumPy reference, unless
its result would have more than `MAX_ELEMENTS` elements (a graph should not carry a large
array that one cheap kernel can produce at run time) or its inputs are too large to
compute on at every compile. `shape(x)` of a statically known shape folds too. Errors
(an integer division by zero, say) are left to happen at run time, where they belong.
"""

from __future__ import annotations

import math

import numpy as np

from symgraph.errors import SymgraphError
from symgraph.graph import Constant, Node
from symgraph.ops.base import Op, TupleGet
from symgraph.ops.shape import Shape
from symgraph.rewrite.engine import RuleSet
from symgraph.types import TensorType

MAX_ELEMENTS = 4096
MAX_INPUT_ELEMENTS = 1 << 16

fold_rules = RuleSet("fold")
rule = fold_rules.rule


def _foldable(node) -> bool:
    op = node.op
    if not node.inputs or not isinstance(node.type, TensorType) or isinstance(op, TupleGet):
        return False
    if op.kind == "random" or getattr(op, "random", False):  # draws belong to run time
        return False
    shape = node.type.shape
    if None in shape or math.prod(shape) > MAX_ELEMENTS:
        return False
    inputs = node.inputs
    return (all(isinstance(i, Constant) for i in inputs)
            and sum(i.value.size for i in inputs) <= MAX_INPUT_ELEMENTS)


@rule(Op)
def fold_constants(node: Node) -> Node | None:  # op(constants) -> constant
    if not _foldable(node):
        return None
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(node.op.reference(*(i.value for i in node.inputs)))
    except (SymgraphError, ArithmeticError, ValueError, IndexError):
        return None
    if value.dtype.name != node.dtype or not node.type.accepts_shape(value.shape):
        return None
    return Constant(value, origin=node.origin)


@rule(Shape)
def fold_static_shape(node: Node) -> Node | None:  # shape(x) with x's shape known -> constant
    shape = node.inputs[0].type.shape
    if None not in shape:
        return Constant(np.array(shape, dtype="int64"), origin=node.origin)


fold = fold_rules.as_pass("fold", "Compute constant subgraphs now (up to MAX_ELEMENTS each).")
