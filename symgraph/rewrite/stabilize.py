"""stabilize: rewrite formulas that overflow, underflow or cancel into their stable ops.

Each rewrite computes the same function in exact arithmetic; it only ever turns an
inf/NaN (or a result that lost its digits) into the correct finite value:

- `log(1 + x) -> log1p(x)`, `exp(x) - 1 -> expm1(x)`, `log(1 + exp(x)) -> softplus(x)`;
- `log(sigmoid(x)) -> -softplus(-x)`, `log(1 - sigmoid(x)) -> -softplus(x)`,
  `1 / (1 + exp(-x)) -> sigmoid(x)`;
- in gradients of `log(y)` for y = softmax, exp or sigmoid (mathematically > 0):
  `(a / y) * y -> a` and `y * (a / y - s) -> a - y * s`, so an underflowed y = 0 gives
  the right finite gradient instead of 0 * inf = NaN;
- `log(softmax(x)) -> log_softmax(x)`, `log(sum(exp(x))) -> logsumexp(x)`;
- `-sum(one_hot(labels) * log_softmax(x), last axis)` -> the softmax cross-entropy op,
  whose gradient is softmax - one_hot (masked to 0 for labels outside [0, classes),
  which one_hot maps to a row of zeros).

The patterns are the canonical forms (`x - 1` is `x + -1` by now, constants last).
"""

from __future__ import annotations

import numpy as np

from symgraph.dtypes import is_float, is_integer
from symgraph.graph import Constant, Node
from symgraph.ops import binary, logic, unary
from symgraph.ops.reduce import Sum
from symgraph.ops.shape import ExpandDims
from symgraph.rewrite.engine import RuleSet
from symgraph.rewrite.facts import constant_scalar, keeps_shape
from symgraph.rewrite.nodes import constant_like, make
from symgraph.rewrite.optional import op_class, when
from symgraph.rewrite.simplify import rules as simplify_rules

rules = RuleSet("stabilize", simplify_rules)
rule = rules.rule

Softmax = op_class("symgraph.ops.nn", "Softmax")
LogSoftmax = op_class("symgraph.ops.nn", "LogSoftmax")
SoftmaxCrossEntropy = op_class("symgraph.ops.nn", "SoftmaxCrossEntropy")
LogSumExp = op_class("symgraph.ops.reduce", "LogSumExp")


def _plus_constant(node: Node, value: float) -> Node | None:
    """x when node is `x + value` with x keeping the node's shape and dtype, else None."""
    match node:
        case Node(op=binary.Add(), inputs=(x, c)) if (
                constant_scalar(c) == value and keeps_shape(node, x)):
            return x
    return None


@rule(unary.Log)
def log1p_from_log(node: Node) -> Node | None:  # log(1 + x) -> log1p(x)
    x = _plus_constant(node.inputs[0], 1)
    if x is not None and is_float(x.dtype):
        return make(unary.Log1p(), x)


@rule(binary.Add)
def expm1_from_exp(node: Node) -> Node | None:  # exp(x) - 1 -> expm1(x)
    match node.inputs:
        case (Node(op=unary.Exp(), inputs=(x,)) as e, c) if (
                constant_scalar(c) == -1 and keeps_shape(node, e)):
            return make(unary.Expm1(), x)


@rule(unary.Log1p)
def softplus_from_log1p_exp(node: Node) -> Node | None:  # log1p(exp(x)) -> softplus(x)
    match node.inputs:
        case (Node(op=unary.Exp(), inputs=(x,)),):
            return make(unary.Softplus(), x)


@rule(unary.Log)
def log_sigmoid(node: Node) -> Node | None:  # log(sigmoid(x)) -> -softplus(-x)
    match node.inputs:
        case (Node(op=unary.Sigmoid(), inputs=(x,)),):
            return make(unary.Negative(), make(unary.Softplus(), make(unary.Negative(), x)))


@rule(unary.Log)
def log_one_minus_sigmoid(node: Node) -> Node | None:  # log(1 - sigmoid(x)) -> -softplus(x)
    match node.inputs:
        case (Node(op=binary.Subtract(), inputs=(one, Node(op=unary.Sigmoid(), inputs=(x,)))
                   ) as diff,) if constant_scalar(one) == 1 and keeps_shape(diff, diff.inputs[1]):
            return make(unary.Negative(), make(unary.Softplus(), x))


@rule(unary.Log1p)
def log1p_minus_sigmoid(node: Node) -> Node | None:  # log1p(-sigmoid(x)) -> -softplus(x)
    match node.inputs:
        case (Node(op=unary.Negative(), inputs=(Node(op=unary.Sigmoid(), inputs=(x,)),)),):
            return make(unary.Negative(), make(unary.Softplus(), x))


@rule(binary.TrueDivide)
def sigmoid_from_exp(node: Node) -> Node | None:  # 1 / (1 + exp(-x)) -> sigmoid(x)
    match node.inputs:
        case (one, denominator) if constant_scalar(one) == 1 and one.ndim == 0:
            e = _plus_constant(denominator, 1)
            match e:
                case Node(op=unary.Exp(), inputs=(Node(op=unary.Negative(), inputs=(x,)),)) if (
                        x.dtype == node.dtype):
                    return make(unary.Sigmoid(), x)


@rule(*when(Softmax, LogSoftmax)(unary.Log))
def log_softmax_from_log(node: Node) -> Node | None:  # log(softmax(x)) -> log_softmax(x)
    match node.inputs:
        case (Node(op=op, inputs=(x,)),) if type(op) is Softmax:
            return make(LogSoftmax(op.axis), x)


@rule(*when(LogSumExp)(unary.Log))
def logsumexp_from_log(node: Node) -> Node | None:  # log(sum(exp(x))) -> logsumexp(x)
    match node.inputs:
        case (Node(op=Sum(axis=axis, keepdims=keepdims),
                   inputs=(Node(op=unary.Exp(), inputs=(x,)),)),) if (
                x.dtype == node.dtype):
            return make(LogSumExp(axis, keepdims), x)


def _positive(node: Node) -> bool:
    """Mathematically > 0 everywhere (a 0 can only come from underflow)."""
    return isinstance(node.op, (unary.Exp, unary.Sigmoid)) or (
        Softmax is not None and type(node.op) is Softmax)


@rule(binary.Multiply)
def divide_then_multiply(node: Node) -> Node | None:
    # (a / y) * y -> a for y = softmax, exp, sigmoid
    for quotient, y in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        match quotient:
            case Node(op=binary.TrueDivide(), inputs=(a, divisor)) if (
                    divisor is y and _positive(y) and keeps_shape(node, a)):
                return a


@rule(binary.Multiply)
def softmax_gradient(node: Node) -> Node | None:
    # y * (a / y - s) -> a - y * s for y = softmax, exp, sigmoid
    for y, difference in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        match difference:
            case Node(op=binary.Subtract(), inputs=(
                    Node(op=binary.TrueDivide(), inputs=(a, divisor)), s)) if (
                    divisor is y and _positive(y) and a.dtype == node.dtype
                    and s.dtype == node.dtype):
                result = make(binary.Subtract(), a, make(binary.Multiply(), y, s))
                if result.type == node.type:
                    return result


def _one_hot_labels(node: Node, classes: int | None) -> Node | None:
    """labels when node is `cast(expand_dims(labels, -1) == arange(classes))`, else None."""
    match node:
        case Node(op=logic.Cast(), inputs=(Node(op=logic.Equal(), inputs=(a, b)),)):
            for expanded, arange in ((a, b), (b, a)):
                if (isinstance(expanded.op, ExpandDims) and isinstance(arange, Constant)
                        and expanded.op.axis == (expanded.ndim - 1,)
                        and arange.value.shape == (classes,)
                        and np.array_equal(arange.value, np.arange(classes))):
                    labels = expanded.inputs[0]
                    return labels if is_integer(labels.dtype) else None
    return None


@rule(*when(LogSoftmax, SoftmaxCrossEntropy)(Sum))
def softmax_cross_entropy(node: Node) -> Node | None:
    # sum(one_hot(l) * log_softmax(x), -1) -> -sce(x, l)
    if node.op.keepdims:
        return None
    match node.inputs:
        case (Node(op=binary.Multiply(), inputs=(a, b)) as product,):
            for hot, logp in ((a, b), (b, a)):
                if type(logp.op) is not LogSoftmax or logp.op.axis != logp.ndim - 1:
                    continue
                labels = _one_hot_labels(hot, logp.type.shape[-1])
                if (labels is not None and node.op.axis == (logp.ndim - 1,)
                        and hot.dtype == logp.dtype and product.type == logp.type
                        and labels.type.shape == logp.type.shape[:-1]):
                    return make(unary.Negative(), _cross_entropy(logp.inputs[0], labels))


def _cross_entropy(logits: Node, labels: Node) -> Node:
    """The softmax cross-entropy op, 0 where a label is outside [0, classes) like the one_hot
    formula it replaces (the op itself refuses such labels)."""
    classes = logits.type.shape[-1]
    low, high = constant_like(0, labels), constant_like(classes - 1, labels)
    valid = make(logic.LogicalAnd(), make(logic.GreaterEqual(), labels, low),
                 make(logic.LessEqual(), labels, high))
    safe = make(binary.Minimum(), make(binary.Maximum(), labels, low), high)
    loss = make(SoftmaxCrossEntropy(), logits, safe)
    return make(logic.Where(), valid, loss, constant_like(0, logits))


stabilize = rules.as_pass("stabilize", "log(1+x) -> log1p, log(softmax) -> log_softmax, ...")
