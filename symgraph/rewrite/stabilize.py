"""stabilize: rewrite formulas that overflow, underflow or cancel into their stable ops.

Each rewrite computes the same function in exact arithmetic; it only ever turns an
inf/NaN (or a result that lost its digits) into the correct finite value:

- `log(1 + x) -> log1p(x)`, `exp(x) - 1 -> expm1(x)`, `log(1 + exp(x)) -> softplus(x)`;
- `log(sigmoid(x)) -> -softplus(-x)`, `log(1 - sigmoid(x)) -> -softplus(x)`,
  `1 / (1 + exp(-x)) -> sigmoid(x)`;
- in gradients of `log(y)` for y mathematically > 0 (exp, sigmoid, softmax, 1 - sigmoid,
  exp + 1): `(a / y) * b * y -> a * b` (y anywhere in the product) and
  `y * (a / y - s) -> a - y * s`, so an underflowed y = 0 gives the right finite gradient
  instead of 0 * inf = NaN;
- the ratios that gradients of `log(1 + exp(x))` and `log(sum(exp(x)))` build, in a
  product or a division: `exp(x) * (a / (exp(x) + 1)) -> a * sigmoid(x)` and
  `exp(x) * (a / sum(exp(x), axes)) -> a * softmax(x)` (the sum broadcast back along its
  axes before the division, or the quotient after it, as the sum's gradient does),
  `exp(x) / (exp(x) + 1) -> sigmoid(x)`, `exp(x) / sum(exp(x), axes, keepdims=True) ->
  softmax(x)`: inf / inf and inf * 0 become the right values (over several axes,
  `exp(x - logsumexp(x, axes, keepdims=True))`);
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
from symgraph.rewrite.facts import at_least_as_known, constant_scalar, fits, keeps_shape
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
    """Mathematically > 0 and finite for finite inputs (a 0 or inf can only come from
    rounding): exp, sigmoid, softmax, 1 - sigmoid(x), and such a value plus a constant >= 0."""
    if isinstance(node.op, (unary.Exp, unary.Sigmoid)) or (
            Softmax is not None and type(node.op) is Softmax):
        return True
    match node:
        case Node(op=binary.Subtract(), inputs=(one, Node(op=unary.Sigmoid()))):
            return constant_scalar(one) == 1
        case Node(op=binary.Add(), inputs=(y, Constant() as c)):
            value = constant_scalar(c)
            return value is not None and 0 <= value < np.inf and _positive(y)
    return False


MAX_FACTORS = 8  # how far down a product chain the ratio rules look


def _factors(node: Node) -> list[Node] | None:
    """The factors of a left-deep product `(f0 * f1) * f2` -> [f0, f1, f2] (just [node]
    when it is no product), or None when one has another dtype (promotion would move)."""
    factors = []
    while isinstance(node.op, binary.Multiply) and len(factors) < MAX_FACTORS:
        node, right = node.inputs
        factors.append(right)
    factors.append(node)
    factors.reverse()
    return factors if len({f.dtype for f in factors}) == 1 else None


def _product(factors: list[Node], like: Node) -> Node | None:
    """The left-deep product of `factors` when it has like's dtype and static shape."""
    result = factors[0]
    for factor in factors[1:]:
        result = make(binary.Multiply(), result, factor)
    if result.dtype == like.dtype and at_least_as_known(result, like):
        return result
    return None


@rule(binary.Multiply)
def divide_then_multiply(node: Node) -> Node | None:
    # (a / y) * b * y -> a * b for y > 0 (see _positive), the two anywhere in the product
    factors = _factors(node)
    for i, quotient in enumerate(factors or ()):
        match quotient:
            case Node(op=binary.TrueDivide(), inputs=(a, y)) if (
                    _positive(y) and fits(y, a) and a.dtype == node.dtype):
                # y fits into a, so dropping both y's leaves the product's shape alone.
                j = next((j for j, f in enumerate(factors) if f is y), None)
                if j is not None:
                    kept = [a if k == i else f for k, f in enumerate(factors) if k != j]
                    return _product(kept, node)


def _unbroadcast(node: Node, like: Node) -> Node:
    """node without the `+ zeros_like(z)` that broadcast it (`broadcast_like`, the gradient
    of a sum) where z fits into `like`: next to like in a product they change nothing."""
    while isinstance(node.op, binary.Add):
        a, b = node.inputs
        inner = next((v for v, zero in ((a, b), (b, a))
                      if isinstance(zero.op, logic.FullLike) and zero.op.value == 0
                      and v.dtype == node.dtype and fits(zero, like)), None)
        if inner is None:
            break
        node = inner
    return node


def _probabilities(e: Node, axes: tuple[int, ...]) -> Node | None:
    """exp(x) / sum(exp(x), axes, keepdims=True) computed stably, for e = exp(x)."""
    x = e.inputs[0]
    if len(axes) == 1 and Softmax is not None:
        return make(Softmax(axes[0]), x)
    if LogSumExp is not None:
        return make(unary.Exp(), make(binary.Subtract(), x, make(LogSumExp(axes, True), x)))
    return None


def _exp_over(e: Node, divisor: Node) -> Node | None:
    """e / divisor as a stable op, for e = exp(x): sigmoid(x) for e + 1, the softmax for
    sum(e) over some axes broadcast back along them (kept, expanded, or leading axes that
    NumPy's broadcasting puts back); else None. Either has e's shape."""
    if _plus_constant(divisor, 1) is e:
        ratio = make(unary.Sigmoid(), e.inputs[0])
        return ratio if ratio.dtype == e.dtype else None
    match _unbroadcast(divisor, e):
        case Node(op=Sum(axis=axes, keepdims=True), inputs=(total,)) if total is e and axes:
            return _probabilities(e, axes)
        case Node(op=Sum(axis=axes, keepdims=False), inputs=(total,)) if (
                total is e and axes and axes == tuple(range(len(axes)))):
            return _probabilities(e, axes)
        case Node(op=ExpandDims(axis=axes), inputs=(
                Node(op=Sum(axis=summed, keepdims=False), inputs=(total,)),)) if (
                total is e and axes and axes == summed):
            return _probabilities(e, axes)
    return None


def _times_exp(quotient: Node, e: Node) -> tuple[Node, Node] | None:
    """(a, r) with a * r = quotient * e (same broadcast shape), r a stable op, when the
    quotient divides by what `_exp_over` knows, or is `expand_dims(a / sum(e, axes), axes)`."""
    quotient = _unbroadcast(quotient, e)
    match quotient:
        case Node(op=binary.TrueDivide(), inputs=(a, divisor)):
            ratio = _exp_over(e, divisor)
            return None if ratio is None else (_unbroadcast(a, e), ratio)
        case Node(op=ExpandDims(axis=axes), inputs=(
                Node(op=binary.TrueDivide(), inputs=(a, Node(op=Sum(
                    axis=summed, keepdims=False), inputs=(total,)) as divisor)),)) if (
                total is e and axes and axes == summed):
            # a / sum(e) has the sum's shape (a fits into it); expanded, it fits into e.
            for numerator in dict.fromkeys((_unbroadcast(a, divisor), a)):
                if fits(numerator, divisor) and numerator.ndim in (0, divisor.ndim):
                    ratio = _probabilities(e, axes)
                    if numerator.ndim:
                        numerator = make(ExpandDims(axes), numerator)
                    return None if ratio is None else (numerator, ratio)
    return None


@rule(binary.Multiply)
def exp_ratio_in_product(node: Node) -> Node | None:
    # exp(x) * (a / (exp(x) + 1)) -> a * sigmoid(x); exp(x) * (a / sum(exp(x))) -> a * softmax
    factors = _factors(node)
    for j, e in enumerate(factors or ()):
        if not isinstance(e.op, unary.Exp):
            continue
        for i, quotient in enumerate(factors):
            found = None if i == j else _times_exp(quotient, e)
            if found is not None:
                changed = list(factors)
                changed[i], changed[j] = found
                return _product(changed, node)


@rule(binary.TrueDivide)
def exp_ratio(node: Node) -> Node | None:
    # b * exp(x) / (exp(x) + 1) -> b * sigmoid(x); exp(x) / sum(exp(x), keepdims) -> softmax
    numerator, divisor = node.inputs
    factors = _factors(numerator)
    if factors is None or factors[0].dtype != node.dtype:
        return None
    for j, e in enumerate(factors):
        ratio = _exp_over(e, divisor) if isinstance(e.op, unary.Exp) else None
        if ratio is not None:
            # The divisor fits into e, so the quotient has the numerator's shape.
            return _product(factors[:j] + [ratio] + factors[j + 1:], node)


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
