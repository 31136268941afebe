"""The optimizer's rules, one before/after listing each; every registered rule is covered.

Each case builds a small graph where the rule fires, checks the listing before and after
the rule passes (canonicalize … specialize), that the rule is counted in the stats, that
the IR verifies after every pass, and that the optimized graph computes the same values.
"""

import numpy as np
import pytest

import symgraph as sg
from symgraph.api.creation import broadcast_like
from symgraph.apply import apply
from symgraph.compile import PASSES
from symgraph.graph import Graph
from symgraph.interpret import evaluate
from symgraph.ops import logic
from symgraph.ops.reduce import SumTo
from symgraph.ops.shape import Reshape
from symgraph.rewrite import collect_stats
from symgraph.rewrite.specialize import rules as all_rules
from symgraph.verify import verify

RULE_PASSES = PASSES[:5]  # canonicalize, fold, simplify, stabilize, specialize


def optimize_checked(graph, passes=RULE_PASSES):
    """Run the passes, verifying the IR (and the outputs' types) after each."""
    for rewrite_pass in passes:
        before, graph = graph, rewrite_pass(graph)
        verify(graph, before)
    return graph


def sample(node, rng):
    shape = tuple(3 if d is None else d for d in node.type.shape)
    if node.dtype == "bool":
        return rng.random(shape) < 0.5
    if node.dtype.startswith("int"):
        return rng.integers(-5, 5, shape).astype(node.dtype)
    return rng.uniform(-2, 2, shape).astype(node.dtype)


def assert_same_values(before, after, rng):
    values = [sample(i, rng) for i in before.inputs]
    for want, got in zip(evaluate(before, values), evaluate(after, values)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


def t(name="x", shape=(None,), dtype="float64"):
    return sg.tensor(name, dtype=dtype, shape=shape)


# rule label -> a builder returning (inputs, outputs) where the rule fires
BUILDERS = {
    "canonicalize.sub_constant_to_add": lambda x=t(): ([x], [x - 2.0]),
    "canonicalize.div_constant_to_mul": lambda x=t(): ([x], [x / 4.0]),
    "canonicalize.commute": lambda x=t(): ([x], [3.0 + x]),
    "canonicalize.left_deep": lambda a=t("a"), b=t("b"), c=t("c"), d=t("d"): (
        [a, b, c, d], [(a * b) * (c * d)]),
    "canonicalize.constants_outwards": lambda x=t("x"), y=t("y"): ([x, y], [((x + 1.0) + y) + 2.0]),
    "canonicalize.add_negation": lambda x=t("x"), y=t("y"): ([x, y], [x + (-y)]),
    "canonicalize.mul_by_minus_one": lambda x=t(): ([x], [x * -1.0]),
    "fold.fold_constants": lambda x=t(): ([x], [x * (sg.constant(2.0) + sg.constant(3.0))]),
    "fold.fold_static_shape": lambda x=t(shape=(2, 3)): ([x], [sg.shape(x)]),
    "simplify.mul_by_one": lambda x=t(): ([x], [x * 1.0]),
    "simplify.add_zero": lambda x=t(): ([x], [x + 0.0]),
    "simplify.mul_by_zero": lambda x=t(dtype="int32"): ([x], [x * 0]),
    "simplify.sub_self": lambda x=t(dtype="int32"): ([x], [x - x]),
    "simplify.double_negation": lambda x=t(): ([x], [-(-x)]),
    "simplify.log_exp": lambda x=t(): ([x], [sg.log(sg.exp(x))]),
    "simplify.exp_log": lambda x=t(): ([x], [sg.exp(sg.log(sg.abs(x))), sg.exp(sg.log(x))]),
    "simplify.where_same_branches": lambda x=t(), c=t("c", (), "bool"): (
        [x, c], [sg.where(c, sg.exp(x), sg.exp(x))]),
    "simplify.where_constant_condition": lambda x=t(shape=(3,)), y=t("y", ()): (
        [x, y], [sg.where(True, x, y)]),
    "simplify.full_like_shape_source": lambda x=t(): ([x], [sg.zeros_like(sg.exp(x))]),
    "simplify.cast_to_same_dtype": lambda x=t(): ([x], [apply(logic.Cast("float64"), x)]),
    "simplify.sum_no_axes": lambda x=t(): ([x], [sg.sum(x, axis=())]),
    "simplify.squeeze_expand_dims": lambda x=t(): ([x], [sg.squeeze(sg.expand_dims(x, 0), 0)]),
    "simplify.expand_dims_squeeze": lambda x=t(shape=(None, 1)): (
        [x], [sg.expand_dims(sg.squeeze(x, 1), 1)]),
    "simplify.sum_to_same_shape": lambda x=t(): (
        [x], [apply(SumTo(x.type), sg.exp(x) * x, sg.shape(x))]),
    "simplify.sum_to_static": lambda x=t(shape=(1, 3)), g=t("g", (2, 4, 3)): (
        [x, g], [apply(SumTo(x.type), g, sg.shape(x))]),
    "simplify.sum_of_broadcast": lambda a=t("a", (2, 1)), x=t("x", (2, 5)): (
        [a, x], [sg.sum(broadcast_like(a, x), axis=1)]),
    "stabilize.log1p_from_log": lambda x=t(): ([x], [sg.log(1 + x)]),
    "stabilize.expm1_from_exp": lambda x=t(): ([x], [sg.exp(x) - 1]),
    "stabilize.softplus_from_log1p_exp": lambda x=t(): ([x], [sg.log1p(sg.exp(x))]),
    "stabilize.log_sigmoid": lambda x=t(): ([x], [sg.log(sg.sigmoid(x))]),
    "stabilize.log_one_minus_sigmoid": lambda x=t(): ([x], [sg.log(1 - sg.sigmoid(x))]),
    "stabilize.log1p_minus_sigmoid": lambda x=t(): ([x], [sg.log1p(-sg.sigmoid(x))]),
    "stabilize.sigmoid_from_exp": lambda x=t(): ([x], [1 / (1 + sg.exp(-x))]),
    "specialize.small_power": lambda x=t(): (
        [x], [x ** 2, x ** 3, x ** 4, x ** 0.5, x ** -1, x ** 0, x ** 1]),
    "simplify.transpose_transpose": lambda x=t(shape=(None, None, 3)): (
        [x], [sg.transpose(sg.transpose(x, (1, 2, 0)), (2, 0, 1)),
              sg.transpose(sg.transpose(x), (1, 0, 2))]),
    "simplify.reshape_reshape": lambda x=t(shape=(None, 4)): (
        [x], [sg.reshape(sg.reshape(x, (-1,)), (2, -1))]),
    "simplify.reshape_to_same_shape": lambda x=t(shape=(2, 3)): (
        [x], [apply(Reshape((2, 3)), x, sg.constant(np.array([2, 3])))]),
    "simplify.negation_outwards": lambda x=t("x"), y=t("y"): ([x, y], [-((-x) / y)]),
    "stabilize.divide_then_multiply": lambda x=t("x"), b=t("b"): (
        [x, b], [(sg.sin(x) / sg.exp(x)) * sg.exp(x),
                 (b * (sg.sin(x) / (1 - sg.sigmoid(x)))) * (1 - sg.sigmoid(x))]),
    "stabilize.exp_ratio": lambda x=t(), m=t("m", (None, None)): (
        [x, m], [sg.exp(x) / (sg.exp(x) + 1), sg.exp(m) / sg.sum(sg.exp(m), 1, keepdims=True)]),
    "stabilize.exp_ratio_in_product": lambda x=t(), a=t("a"), m=t("m", (None, None)): (
        [x, a, m], [sg.exp(x) * (a / (sg.exp(x) + 1)),
                    sg.exp(m) * sg.expand_dims(1.0 / sg.sum(sg.exp(m), 1), 1)]),
    "stabilize.softmax_gradient": lambda x=t("x"), a=t("a"), s=t("s", ()): (
        [x, a, s], [sg.nn.softmax(x) * (a / sg.nn.softmax(x) - s)]),
    "simplify.shape_source": lambda x=t(): ([x], [sg.shape(sg.exp(x) * 2.0)]),
    "simplify.sum_of_negation": lambda x=t(): ([x], [-sg.sum(-x)]),
    "stabilize.log_softmax_from_log": lambda x=t(shape=(None, None)): (
        [x], [sg.log(sg.nn.softmax(x))]),
    "stabilize.logsumexp_from_log": lambda x=t(shape=(None, None)): (
        [x], [sg.log(sg.sum(sg.exp(x), 1))]),
    "stabilize.softmax_cross_entropy": lambda x=t(shape=(None, 5)), y=t("y", (None,), "int64"): (
        [x, y], [-sg.mean(sg.sum(sg.nn.one_hot(y, 5, "float64") * sg.log(sg.nn.softmax(x)), 1))]),
}


LISTINGS = {  # rule label: (listing before, listing after the rule passes)
    "canonicalize.sub_constant_to_add": (
        """\
%0 = input x : float64[?]
%1 = constant 2. : float64[]
%2 = subtract %0 %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = constant -2. : float64[]
%2 = add %0 %1 : float64[?]
return %2"""),
    "canonicalize.div_constant_to_mul": (
        """\
%0 = input x : float64[?]
%1 = constant 4. : float64[]
%2 = true_divide %0 %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = constant 0.25 : float64[]
%2 = multiply %0 %1 : float64[?]
return %2"""),
    "canonicalize.commute": (
        """\
%0 = input x : float64[?]
%1 = constant 3. : float64[]
%2 = add %1 %0 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = constant 3. : float64[]
%2 = add %0 %1 : float64[?]
return %2"""),
    "canonicalize.left_deep": (
        """\
%0 = input a : float64[?]
%1 = input b : float64[?]
%2 = input c : float64[?]
%3 = input d : float64[?]
%4 = multiply %0 %1 : float64[?]
%5 = multiply %2 %3 : float64[?]
%6 = multiply %4 %5 : float64[?]
return %6""",
        """\
%0 = input a : float64[?]
%1 = input b : float64[?]
%2 = input c : float64[?]
%3 = input d : float64[?]
%4 = multiply %0 %1 : float64[?]
%5 = multiply %4 %2 : float64[?]
%6 = multiply %5 %3 : float64[?]
return %6"""),
    "canonicalize.constants_outwards": (
        """\
%0 = input x : float64[?]
%1 = input y : float64[?]
%2 = constant 1. : float64[]
%3 = add %0 %2 : float64[?]
%4 = add %3 %1 : float64[?]
%5 = constant 2. : float64[]
%6 = add %4 %5 : float64[?]
return %6""",
        """\
%0 = input x : float64[?]
%1 = input y : float64[?]
%2 = add %0 %1 : float64[?]
%3 = constant 3. : float64[]
%4 = add %2 %3 : float64[?]
return %4"""),
    "canonicalize.add_negation": (
        """\
%0 = input x : float64[?]
%1 = input y : float64[?]
%2 = negative %1 : float64[?]
%3 = add %0 %2 : float64[?]
return %3""",
        """\
%0 = input x : float64[?]
%1 = input y : float64[?]
%2 = subtract %0 %1 : float64[?]
return %2"""),
    "canonicalize.mul_by_minus_one": (
        """\
%0 = input x : float64[?]
%1 = constant -1. : float64[]
%2 = multiply %0 %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = negative %0 : float64[?]
return %1"""),
    "fold.fold_constants": (
        """\
%0 = input x : float64[?]
%1 = constant 2. : float64[]
%2 = constant 3. : float64[]
%3 = add %1 %2 : float64[]
%4 = multiply %0 %3 : float64[?]
return %4""",
        """\
%0 = input x : float64[?]
%1 = constant 5. : float64[]
%2 = multiply %0 %1 : float64[?]
return %2"""),
    "fold.fold_static_shape": (
        """\
%0 = input x : float64[2,3]
%1 = shape %0 : int64[2]
return %1""",
        """\
%0 = input x : float64[2,3]
%1 = constant [2, 3] : int64[2]
return %1"""),
    "simplify.mul_by_one": (
        """\
%0 = input x : float64[?]
%1 = constant 1. : float64[]
%2 = multiply %0 %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.add_zero": (
        """\
%0 = input x : float64[?]
%1 = constant 0. : float64[]
%2 = add %0 %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.mul_by_zero": (
        """\
%0 = input x : int32[?]
%1 = constant 0 : int32[]
%2 = multiply %0 %1 : int32[?]
return %2""",
        """\
%0 = input x : int32[?]
%1 = full_like{value=0, dtype=int32} %0 : int32[?]
return %1"""),
    "simplify.sub_self": (
        """\
%0 = input x : int32[?]
%1 = subtract %0 %0 : int32[?]
return %1""",
        """\
%0 = input x : int32[?]
%1 = full_like{value=0, dtype=int32} %0 : int32[?]
return %1"""),
    "simplify.double_negation": (
        """\
%0 = input x : float64[?]
%1 = negative %0 : float64[?]
%2 = negative %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.log_exp": (
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = log %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.exp_log": (
        """\
%0 = input x : float64[?]
%1 = abs %0 : float64[?]
%2 = log %1 : float64[?]
%3 = exp %2 : float64[?]
%4 = log %0 : float64[?]
%5 = exp %4 : float64[?]
return %3, %5""",
        """\
%0 = input x : float64[?]
%1 = abs %0 : float64[?]
%2 = log %0 : float64[?]
%3 = exp %2 : float64[?]
return %1, %3"""),
    "simplify.where_same_branches": (
        """\
%0 = input x : float64[?]
%1 = input c : bool[]
%2 = exp %0 : float64[?]
%3 = exp %0 : float64[?]
%4 = where %1 %2 %3 : float64[?]
return %4""",
        """\
%0 = input x : float64[?]
%1 = input c : bool[]
%2 = exp %0 : float64[?]
return %2"""),
    "simplify.where_constant_condition": (
        """\
%0 = input x : float64[3]
%1 = input y : float64[]
%2 = constant 1. : float64[]
%3 = where %2 %0 %1 : float64[3]
return %3""",
        """\
%0 = input x : float64[3]
%1 = input y : float64[]
return %0"""),
    "simplify.full_like_shape_source": (
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = full_like{value=0.0, dtype=float64} %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = full_like{value=0.0, dtype=float64} %0 : float64[?]
return %1"""),
    "simplify.cast_to_same_dtype": (
        """\
%0 = input x : float64[?]
%1 = cast{dtype=float64} %0 : float64[?]
return %1""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.sum_no_axes": (
        """\
%0 = input x : float64[?]
%1 = sum{axis=(), keepdims=False} %0 : float64[?]
return %1""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.squeeze_expand_dims": (
        """\
%0 = input x : float64[?]
%1 = expand_dims{axis=(0,)} %0 : float64[1,?]
%2 = squeeze{axis=(0,)} %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
return %0"""),
    "simplify.expand_dims_squeeze": (
        """\
%0 = input x : float64[?,1]
%1 = squeeze{axis=(1,)} %0 : float64[?]
%2 = expand_dims{axis=(1,)} %1 : float64[?,1]
return %2""",
        """\
%0 = input x : float64[?,1]
return %0"""),
    "simplify.sum_to_same_shape": (
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = multiply %1 %0 : float64[?]
%3 = shape %0 : int64[1]
%4 = sum_to{like=float64[?]} %2 %3 : float64[?]
return %4""",
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = multiply %0 %1 : float64[?]
return %2"""),
    "simplify.sum_to_static": (
        """\
%0 = input x : float64[1,3]
%1 = input g : float64[2,4,3]
%2 = shape %0 : int64[2]
%3 = sum_to{like=float64[1,3]} %1 %2 : float64[1,3]
return %3""",
        """\
%0 = input x : float64[1,3]
%1 = input g : float64[2,4,3]
%2 = sum{axis=(1,), keepdims=True} %1 : float64[2,1,3]
%3 = sum{axis=(0,), keepdims=False} %2 : float64[1,3]
return %3"""),
    "simplify.sum_of_broadcast": (
        """\
%0 = input a : float64[2,1]
%1 = input x : float64[2,5]
%2 = full_like{value=0.0, dtype=float64} %1 : float64[2,5]
%3 = add %0 %2 : float64[2,5]
%4 = sum{axis=(1,), keepdims=False} %3 : float64[2]
return %4""",
        """\
%0 = input a : float64[2,1]
%1 = input x : float64[2,5]
%2 = sum{axis=(1,), keepdims=False} %0 : float64[2]
%3 = constant 5. : float64[]
%4 = multiply %2 %3 : float64[2]
return %4"""),
    "stabilize.log1p_from_log": (
        """\
%0 = input x : float64[?]
%1 = constant 1. : float64[]
%2 = add %1 %0 : float64[?]
%3 = log %2 : float64[?]
return %3""",
        """\
%0 = input x : float64[?]
%1 = log1p %0 : float64[?]
return %1"""),
    "stabilize.expm1_from_exp": (
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = constant 1. : float64[]
%3 = subtract %1 %2 : float64[?]
return %3""",
        """\
%0 = input x : float64[?]
%1 = expm1 %0 : float64[?]
return %1"""),
    "stabilize.softplus_from_log1p_exp": (
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = log1p %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = softplus %0 : float64[?]
return %1"""),
    "stabilize.log_sigmoid": (
        """\
%0 = input x : float64[?]
%1 = sigmoid %0 : float64[?]
%2 = log %1 : float64[?]
return %2""",
        """\
%0 = input x : float64[?]
%1 = negative %0 : float64[?]
%2 = softplus %1 : float64[?]
%3 = negative %2 : float64[?]
return %3"""),
    "stabilize.log_one_minus_sigmoid": (
        """\
%0 = input x : float64[?]
%1 = constant 1. : float64[]
%2 = sigmoid %0 : float64[?]
%3 = subtract %1 %2 : float64[?]
%4 = log %3 : float64[?]
return %4""",
        """\
%0 = input x : float64[?]
%1 = softplus %0 : float64[?]
%2 = negative %1 : float64[?]
return %2"""),
    "stabilize.log1p_minus_sigmoid": (
        """\
%0 = input x : float64[?]
%1 = sigmoid %0 : float64[?]
%2 = negative %1 : float64[?]
%3 = log1p %2 : float64[?]
return %3""",
        """\
%0 = input x : float64[?]
%1 = softplus %0 : float64[?]
%2 = negative %1 : float64[?]
return %2"""),
    "stabilize.sigmoid_from_exp": (
        """\
%0 = input x : float64[?]
%1 = constant 1. : float64[]
%2 = constant 1. : float64[]
%3 = negative %0 : float64[?]
%4 = exp %3 : float64[?]
%5 = add %2 %4 : float64[?]
%6 = true_divide %1 %5 : float64[?]
return %6""",
        """\
%0 = input x : float64[?]
%1 = sigmoid %0 : float64[?]
return %1"""),
    "specialize.small_power": (
        """\
%0 = input x : float64[?]
%1 = constant 2. : float64[]
%2 = power %0 %1 : float64[?]
%3 = constant 3. : float64[]
%4 = power %0 %3 : float64[?]
%5 = constant 4. : float64[]
%6 = power %0 %5 : float64[?]
%7 = constant 0.5 : float64[]
%8 = power %0 %7 : float64[?]
%9 = constant -1. : float64[]
%10 = power %0 %9 : float64[?]
%11 = constant 0. : float64[]
%12 = power %0 %11 : float64[?]
%13 = constant 1. : float64[]
%14 = power %0 %13 : float64[?]
return %2, %4, %6, %8, %10, %12, %14""",
        """\
%0 = input x : float64[?]
%1 = multiply %0 %0 : float64[?]
%2 = multiply %1 %0 : float64[?]
%3 = multiply %1 %1 : float64[?]
%4 = sqrt %0 : float64[?]
%5 = constant 1. : float64[]
%6 = true_divide %5 %0 : float64[?]
%7 = full_like{value=1, dtype=float64} %0 : float64[?]
return %1, %2, %3, %4, %6, %7, %0"""),

    "simplify.transpose_transpose": (
        """\
%0 = input x : float64[?,?,3]
%1 = transpose{axes=(1, 2, 0)} %0 : float64[?,3,?]
%2 = transpose{axes=(2, 0, 1)} %1 : float64[?,?,3]
%3 = transpose{axes=(2, 1, 0)} %0 : float64[3,?,?]
%4 = transpose{axes=(1, 0, 2)} %3 : float64[?,3,?]
return %2, %4""",
        """\
%0 = input x : float64[?,?,3]
%1 = transpose{axes=(1, 2, 0)} %0 : float64[?,3,?]
return %0, %1"""),
    "simplify.reshape_reshape": (
        """\
%0 = input x : float64[?,4]
%1 = constant [-1] : int64[1]
%2 = reshape{shape=(-1,)} %0 %1 : float64[?]
%3 = constant [ 2, -1] : int64[2]
%4 = reshape{shape=(2, -1)} %2 %3 : float64[2,?]
return %4""",
        """\
%0 = input x : float64[?,4]
%1 = constant [ 2, -1] : int64[2]
%2 = reshape{shape=(2, -1)} %0 %1 : float64[2,?]
return %2"""),
    "simplify.reshape_to_same_shape": (
        """\
%0 = input x : float64[2,3]
%1 = constant [2, 3] : int64[2]
%2 = reshape{shape=(2, 3)} %0 %1 : float64[2,3]
return %2""",
        """\
%0 = input x : float64[2,3]
return %0"""),
    "simplify.negation_outwards": (
        """\
%0 = input x : float64[?]
%1 = input y : float64[?]
%2 = negative %0 : float64[?]
%3 = true_divide %2 %1 : float64[?]
%4 = negative %3 : float64[?]
return %4""",
        """\
%0 = input x : float64[?]
%1 = input y : float64[?]
%2 = true_divide %0 %1 : float64[?]
return %2"""),
    "simplify.sum_of_negation": (
        """\
%0 = input x : float64[?]
%1 = negative %0 : float64[?]
%2 = sum{axis=(0,), keepdims=False} %1 : float64[]
%3 = negative %2 : float64[]
return %3""",
        """\
%0 = input x : float64[?]
%1 = sum{axis=(0,), keepdims=False} %0 : float64[]
return %1"""),
    "stabilize.log_softmax_from_log": (
        """\
%0 = input x : float64[?,?]
%1 = softmax{axis=1} %0 : float64[?,?]
%2 = log %1 : float64[?,?]
return %2""",
        """\
%0 = input x : float64[?,?]
%1 = log_softmax{axis=1} %0 : float64[?,?]
return %1"""),
    "stabilize.logsumexp_from_log": (
        """\
%0 = input x : float64[?,?]
%1 = exp %0 : float64[?,?]
%2 = sum{axis=(1,), keepdims=False} %1 : float64[?]
%3 = log %2 : float64[?]
return %3""",
        """\
%0 = input x : float64[?,?]
%1 = logsumexp{axis=(1,), keepdims=False} %0 : float64[?]
return %1"""),
    "stabilize.softmax_cross_entropy": (
        """\
%0 = input x : float64[?,5]
%1 = input y : int64[?]
%2 = expand_dims{axis=(1,)} %1 : int64[?,1]
%3 = constant [0, 1, 2, 3, 4] : int64[5]
%4 = equal %2 %3 : bool[?,5]
%5 = cast{dtype=float64} %4 : float64[?,5]
%6 = softmax{axis=1} %0 : float64[?,5]
%7 = log %6 : float64[?,5]
%8 = multiply %5 %7 : float64[?,5]
%9 = sum{axis=(1,), keepdims=False} %8 : float64[?]
%10 = sum{axis=(0,), keepdims=False} %9 : float64[]
%11 = constant [ True] : bool[1]
%12 = shape %9 : int64[1]
%13 = constant 1 : int64[]
%14 = where %11 %12 %13 : int64[1]
%15 = prod{axis=(0,), keepdims=False} %14 : int64[]
%16 = cast{dtype=float64} %15 : float64[]
%17 = true_divide %10 %16 : float64[]
%18 = negative %17 : float64[]
return %18""",
        """\
%0 = input x : float64[?,5]
%1 = input y : int64[?]
%2 = constant 0 : int64[]
%3 = greater_equal %1 %2 : bool[?]
%4 = constant 4 : int64[]
%5 = less_equal %1 %4 : bool[?]
%6 = logical_and %3 %5 : bool[?]
%7 = maximum %1 %2 : int64[?]
%8 = minimum %7 %4 : int64[?]
%9 = softmax_cross_entropy %0 %8 : float64[?]
%10 = constant 0. : float64[]
%11 = where %6 %9 %10 : float64[?]
%12 = sum{axis=(0,), keepdims=False} %11 : float64[]
%13 = shape %11 : int64[1]
%14 = prod{axis=(0,), keepdims=False} %13 : int64[]
%15 = cast{dtype=float64} %14 : float64[]
%16 = true_divide %12 %15 : float64[]
return %16"""),
    "simplify.shape_source": (
        """\
%0 = input x : float64[?]
%1 = exp %0 : float64[?]
%2 = constant 2. : float64[]
%3 = multiply %1 %2 : float64[?]
%4 = shape %3 : int64[1]
return %4""",
        """\
%0 = input x : float64[?]
%1 = shape %0 : int64[1]
return %1"""),
    "stabilize.divide_then_multiply": (
        """\
%0 = input x : float64[?]
%1 = input b : float64[?]
%2 = sin %0 : float64[?]
%3 = exp %0 : float64[?]
%4 = true_divide %2 %3 : float64[?]
%5 = exp %0 : float64[?]
%6 = multiply %4 %5 : float64[?]
%7 = sin %0 : float64[?]
%8 = constant 1. : float64[]
%9 = sigmoid %0 : float64[?]
%10 = subtract %8 %9 : float64[?]
%11 = true_divide %7 %10 : float64[?]
%12 = multiply %1 %11 : float64[?]
%13 = constant 1. : float64[]
%14 = sigmoid %0 : float64[?]
%15 = subtract %13 %14 : float64[?]
%16 = multiply %12 %15 : float64[?]
return %6, %16""",
        """\
%0 = input x : float64[?]
%1 = input b : float64[?]
%2 = sin %0 : float64[?]
%3 = multiply %2 %1 : float64[?]
return %2, %3"""),
    "stabilize.exp_ratio": (
        """\
%0 = input x : float64[?]
%1 = input m : float64[?,?]
%2 = exp %0 : float64[?]
%3 = exp %0 : float64[?]
%4 = constant 1. : float64[]
%5 = add %3 %4 : float64[?]
%6 = true_divide %2 %5 : float64[?]
%7 = exp %1 : float64[?,?]
%8 = exp %1 : float64[?,?]
%9 = sum{axis=(1,), keepdims=True} %8 : float64[?,1]
%10 = true_divide %7 %9 : float64[?,?]
return %6, %10""",
        """\
%0 = input x : float64[?]
%1 = input m : float64[?,?]
%2 = sigmoid %0 : float64[?]
%3 = softmax{axis=1} %1 : float64[?,?]
return %2, %3"""),
    "stabilize.exp_ratio_in_product": (
        """\
%0 = input x : float64[?]
%1 = input a : float64[?]
%2 = input m : float64[?,?]
%3 = exp %0 : float64[?]
%4 = exp %0 : float64[?]
%5 = constant 1. : float64[]
%6 = add %4 %5 : float64[?]
%7 = true_divide %1 %6 : float64[?]
%8 = multiply %3 %7 : float64[?]
%9 = exp %2 : float64[?,?]
%10 = constant 1. : float64[]
%11 = exp %2 : float64[?,?]
%12 = sum{axis=(1,), keepdims=False} %11 : float64[?]
%13 = true_divide %10 %12 : float64[?]
%14 = expand_dims{axis=(1,)} %13 : float64[?,1]
%15 = multiply %9 %14 : float64[?,?]
return %8, %15""",
        """\
%0 = input x : float64[?]
%1 = input a : float64[?]
%2 = input m : float64[?,?]
%3 = sigmoid %0 : float64[?]
%4 = multiply %1 %3 : float64[?]
%5 = softmax{axis=1} %2 : float64[?,?]
return %4, %5"""),
    "stabilize.softmax_gradient": (
        """\
%0 = input x : float64[?]
%1 = input a : float64[?]
%2 = input s : float64[]
%3 = softmax{axis=0} %0 : float64[?]
%4 = softmax{axis=0} %0 : float64[?]
%5 = true_divide %1 %4 : float64[?]
%6 = subtract %5 %2 : float64[?]
%7 = multiply %3 %6 : float64[?]
return %7""",
        """\
%0 = input x : float64[?]
%1 = input a : float64[?]
%2 = input s : float64[]
%3 = softmax{axis=0} %0 : float64[?]
%4 = multiply %3 %2 : float64[?]
%5 = subtract %1 %4 : float64[?]
return %5"""),
}


@pytest.mark.parametrize("label", list(BUILDERS))
def test_rule_before_after(label, rng):
    inputs, outputs = BUILDERS[label]()
    graph = Graph(inputs, outputs)
    before, after = LISTINGS[label]
    assert str(graph) == before
    with collect_stats() as stats:
        optimized = optimize_checked(graph)
    assert str(optimized) == after
    assert stats[label] >= 1
    assert_same_values(graph, optimized, rng)


def test_every_rule_has_a_before_after_case():
    registered = {label for rules in all_rules.by_class.values() for label, _ in rules}
    assert registered - set(BUILDERS) == set()
    assert set(BUILDERS) == set(LISTINGS)


# -- combining constants never overflows where the written order does not ---------------------

F32 = np.float32
CONSTANT_CHAINS = [  # (dtype, expression, inputs ordinary and extreme)
    ("float64", lambda x: (x * 1e200) * 1e200, [0.0, 1e-300, 1e-200, -2.5]),
    ("float64", lambda x: (x * 1e-200) * 1e-200, [1e300, -1e250, 0.0, 2.0]),
    ("float64", lambda x: (x / 1e-200) / 1e-200, [1e-300, 0.0, 3.0]),
    ("float64", lambda x: (x + 1e308) + 1e308, [-1e308, -1.5e308, 1.0]),
    ("float64", lambda x: (x - 1e308) - 1e308, [1e308, 1.5e308, 1.0]),
    ("float32", lambda x: (x * F32(1e20)) * F32(1e20), [0.0, 1e-30, -3.0]),
    ("float32", lambda x: (x * F32(1e-20)) * F32(1e-20), [1e30, 0.0, 3.0]),
    ("float32", lambda x: x / F32(3e38), [3e38, -1.5e38, 1.5]),  # 1/c would be subnormal
]


@pytest.mark.parametrize("dtype, build, values", CONSTANT_CHAINS)
def test_constants_combine_only_without_overflow(dtype, build, values):
    x = t("x", (None,), dtype)
    v = np.array(values, dtype)
    with np.errstate(all="ignore"):
        expected = build(v)
    for optimize in (True, False):
        got = sg.function([x], build(x), backend="python", optimize=optimize)(v)
        np.testing.assert_array_equal(got, expected, err_msg=f"optimize={optimize}")


def test_constants_combine_when_safe():
    x = t()
    for out, combined in [((x * 2.0) * 3.0, 6.0), ((x * 1e200) * 1e-100, 1e100),
                          ((x / 1e-200) * 1e-100, 1e100), ((x + 1e300) + 1e300, 2e300)]:
        (result,) = optimize_checked(Graph([x], [out])).outputs
        assert result.inputs[0] is x and result.inputs[1].value == combined, result


# -- gradients of the stabilized forms are stable too ------------------------------------------

def _softmax(v, axis=-1):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(v):
    return np.exp(-np.logaddexp(0, -v))


def _lse(v, axis=None):
    return np.logaddexp.reduce(v, axis=axis)


STABLE_GRADIENTS = {  # name: (expression, its value in NumPy, its gradient in NumPy)
    "log(sum(exp(x)))": (lambda x: sg.log(sg.sum(sg.exp(x))), _lse, _softmax),
    "sum(log(1 + exp(x)))": (lambda x: sg.sum(sg.log(1 + sg.exp(x))),
                             lambda v: np.logaddexp(0, v).sum(), _sigmoid),
    "sum(log1p(exp(-x)))": (lambda x: sg.sum(sg.log1p(sg.exp(-x))),
                            lambda v: np.logaddexp(0, -v).sum(), lambda v: -_sigmoid(-v)),
    "sum(log(1 - sigmoid(x)))": (lambda x: sg.sum(sg.log(1 - sg.sigmoid(x))),
                                 lambda v: -np.logaddexp(0, v).sum(), lambda v: -_sigmoid(v)),
    "sum(w * log(1 - sigmoid(x)))": (lambda x: sg.sum(sg.log(1 - sg.sigmoid(x)) * [2.0, 3.0, 4.0]),
                                     lambda v: -(np.logaddexp(0, v) * [2, 3, 4]).sum(),
                                     lambda v: -_sigmoid(v) * [2, 3, 4]),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(STABLE_GRADIENTS))
def test_gradient_of_stabilized_forms(name, dtype):
    build, value, gradient = STABLE_GRADIENTS[name]
    x = t("x", (None,), dtype)
    y = build(x)
    outputs = [y, sg.grad(y, x)]
    optimized = sg.function([x], outputs, backend="python")
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-6, atol=1e-7)
    ordinary = np.array([-1.5, 0.25, 2.0], dtype)
    as_written = sg.function([x], outputs, backend="python", optimize=False)(ordinary)
    for got in (optimized(ordinary), as_written):
        np.testing.assert_allclose(got[0], value(ordinary.astype("float64")), **tol)
        np.testing.assert_allclose(got[1], gradient(ordinary.astype("float64")), **tol)
    extreme = np.array([1000.0, 0.0, -1000.0], dtype)  # the naive forms give inf and NaN here
    got = optimized(extreme)
    assert np.all(np.isfinite(got[1])), got[1]
    np.testing.assert_allclose(got[0], value(extreme.astype("float64")), **tol)
    np.testing.assert_allclose(got[1], gradient(extreme.astype("float64")), **tol)


LOGSUMEXP_AXES = [  # (sg reduction axis, keepdims, the softmax axes in NumPy)
    (1, False, 1), (0, False, 0), (1, True, 1), (None, False, None), ((0, 1), True, None)]


@pytest.mark.parametrize("axis, keepdims, softmax_axis", LOGSUMEXP_AXES)
def test_gradient_of_log_sum_exp_over_axes(axis, keepdims, softmax_axis):
    m = t("m", (None, None))
    y = sg.sum(sg.log(sg.sum(sg.exp(m), axis, keepdims=keepdims)))
    f = sg.function([m], sg.grad(y, m), backend="python")
    for v in (np.array([[1000.0, 0.0, -3.0], [1.0, 2.0, -1000.0]]),
              np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]])):
        if softmax_axis is None:
            expected = _softmax(v.ravel()).reshape(v.shape)
        else:
            expected = _softmax(v, softmax_axis)
        np.testing.assert_allclose(f(v), expected, rtol=1e-12, atol=1e-14)


def test_naive_softmax_and_sigmoid_values_are_stable():
    x, m = t(), t("m", (None, None))
    outputs = [sg.exp(x) / (1 + sg.exp(x)), sg.exp(m) / sg.sum(sg.exp(m), 1, keepdims=True),
               sg.exp(x) / sg.sum(sg.exp(x))]
    v = np.array([1000.0, 0.0, -1000.0])
    mv = np.array([[1000.0, 0.0, -3.0], [1.0, 2.0, -1000.0]])
    got = sg.function([x, m], outputs, backend="python")(v, mv)
    np.testing.assert_allclose(got[0], _sigmoid(v), rtol=1e-15)
    np.testing.assert_allclose(got[1], _softmax(mv, 1), rtol=1e-15)
    np.testing.assert_allclose(got[2], _softmax(v), rtol=1e-15)


NOT_RATIOS = {  # look like exp(x) / ... but are not a sigmoid or softmax of x
    "sum over the broadcast axis": lambda x, y, m: sg.exp(m) / sg.sum(sg.exp(m), 1),
    "expand_dims at another axis": lambda x, y, m: (
        sg.exp(m) * sg.expand_dims(1.0 / sg.sum(sg.exp(m), 1), 0)),
    "sum of another exp": lambda x, y, m: sg.exp(x) / sg.sum(sg.exp(y)),
    "another exp plus one": lambda x, y, m: sg.exp(x) * (y / (sg.exp(y) + 1)),
    "exp plus two": lambda x, y, m: sg.exp(x) / (sg.exp(x) + 2),
    "a divisor that may be 0": lambda x, y, m: (y / sg.sin(x)) * sg.sin(x),
}


@pytest.mark.parametrize("name", list(NOT_RATIOS))
def test_ratio_rules_refuse_other_patterns(name, rng):
    x, y, m = t("x", (3,)), t("y", (3,)), t("m", (3, 3))
    out = NOT_RATIOS[name](x, y, m)
    with collect_stats() as stats:
        optimize_checked(Graph([x, y, m], [out]))
    assert not {k for k in stats if "ratio" in k or "divide_then" in k}, stats
    values = [rng.normal(size=i.type.shape) for i in (x, y, m)]
    want = sg.function([x, y, m], out, backend="python", optimize=False)(*values)
    np.testing.assert_allclose(sg.function([x, y, m], out, backend="python")(*values), want,
                               rtol=1e-13)


def test_constant_chains_and_stable_gradients_on_numba():
    x, z = t(), t("z")
    outputs = [(z * 1e200) * 1e200] + [
        sg.grad(build(x), x) for build, _, _ in STABLE_GRADIENTS.values()]
    v, zv = np.array([1000.0, 0.0, -1000.0]), np.array([0.0, 1e-300, -2.5])
    got = sg.function([x, z], outputs, backend="numba")(v, zv)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got[0], (zv * 1e200) * 1e200)
    for g, (_, _, gradient) in zip(got[1:], STABLE_GRADIENTS.values()):
        np.testing.assert_allclose(g, gradient(v), rtol=1e-12, atol=1e-14)
