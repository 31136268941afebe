"""Eager mode: values against NumPy and the symbolic path, gradients against finite
differences and sg.grad, tape semantics, Python control flow, mixing errors."""

import threading
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import symgraph as sg
from helpers import numeric_grad
from symgraph import eager
from symgraph.eager import Tensor, apply_eager, no_grad, tensor
from symgraph.apply import apply
from symgraph.ops import binary, logic, unary
from symgraph.ops.base import Elemwise, Op, TupleGet
from symgraph.types import TupleType


def symbolic_value(fn, values):
    inputs = [sg.tensor(f"x{i}", dtype=v.dtype, shape=v.shape) for i, v in enumerate(values)]
    return sg.function(inputs, fn(*inputs), backend="python")(*values)


def assert_same(got, want):
    assert isinstance(got, Tensor)
    want = np.asarray(want)
    assert got.dtype == want.dtype.name and got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want)


# -- values: the same ops as the symbolic path -------------------------------------------

EXPRESSIONS = [  # (name, function of the inputs, input dtypes and shapes)
    ("exp", lambda x: sg.exp(x), [("float32", (3, 4))]),
    ("log_0d", lambda x: sg.log(sg.abs(x)), [("float64", ())]),
    ("add_broadcast", lambda x, y: x + y, [("float32", (3, 1)), ("float32", (4,))]),
    ("mixed_dtypes", lambda x, y: x * y, [("int32", (5,)), ("float32", (5,))]),
    ("int_division", lambda x, y: x / y, [("int32", (4,)), ("int32", (4,))]),
    ("weak_scalar", lambda x: x * 2.5 + 1, [("float32", (2, 3))]),
    ("int_weak", lambda x: x + 1, [("int8", (3,))]),
    ("compare", lambda x, y: (x < y) | (x >= 2 * y), [("float64", (6,)), ("float64", (6,))]),
    ("where", lambda c, x: sg.where(c > 0, x, -x), [("float64", (2, 3)), ("float32", (3,))]),
    ("sum_axis", lambda x: sg.sum(x * x, axis=-1, keepdims=True), [("float32", (2, 3, 4))]),
    ("sum_empty", lambda x: sg.sum(sg.exp(x), 0), [("float64", (0, 3))]),
    ("cast", lambda x: sg.cast(x * 3.7, "int16"), [("float64", (4,))]),
    ("expand_squeeze", lambda x: sg.squeeze(sg.expand_dims(x, 0) + 1.0, 0),
     [("float64", (2, 3))]),
    ("power", lambda x, y: sg.abs(x) ** y, [("float64", (3,)), ("float64", (3,))]),
    ("neg_sub_rsub", lambda x: 1 - (-x) - x / 2, [("float32", (4,))]),
]


@pytest.mark.parametrize("fn,specs", [e[1:] for e in EXPRESSIONS], ids=[e[0] for e in EXPRESSIONS])
def test_eager_equals_symbolic(fn, specs, rng):
    values = [(rng.standard_normal(shape) * 3).astype(dtype) for dtype, shape in specs]
    assert_same(fn(*[tensor(v) for v in values]), symbolic_value(fn, values))


def test_nan_inf_and_negative_strides():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 2.0])[::-1]
    assert_same(sg.exp(tensor(x)) * 2.0, np.exp(x) * 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # like the symbolic path: no NumPy FP warnings
        assert_same(sg.log(tensor(x)), symbolic_value(sg.log, [x]))
        assert_same(tensor(x) / 0.0, symbolic_value(lambda v: v / 0.0, [x]))
    assert np.geterr()["divide"] == "warn"  # the user's error state is left alone


PLAIN = [cls() for module in (unary, binary, logic) for cls in vars(module).values()
         if isinstance(cls, type) and issubclass(cls, Elemwise)
         and cls.__module__ == module.__name__ and cls.reference is Elemwise.reference
         and getattr(cls, "ufunc", None) is not None]


@pytest.mark.parametrize("op", PLAIN, ids=[op.name for op in PLAIN])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "bool"])
@pytest.mark.parametrize("zero_d", [False, True], ids=["1d", "0d"])
def test_plain_ufunc_shortcut_matches_reference(op, dtype, zero_d):
    """apply_eager calls a plain ufunc op's ufunc directly; the result must be the op's
    reference result exactly (value, dtype, an array also for 0-d inputs), including the
    float16 -> float32 case."""
    base = np.array([-2.0, -0.5, 0.0, 0.5, 3.0, np.nan, np.inf])
    data = base.astype(dtype) if dtype[0] == "f" else (base[:5] * 2).astype(dtype)
    nin = getattr(op.ufunc, "nin", 1)  # softplus is a plain function
    args = [data] + [data[::-1].copy() for _ in range(nin - 1)]
    if zero_d:  # one element of each: 0-d arrays (a ufunc gives a NumPy scalar for those)
        args = [np.asarray(a[1]) for a in args]
    try:
        want = op.reference(*args)
    except (TypeError, ValueError):
        with pytest.raises(sg.SymgraphError):
            apply_eager(op, [as_t(a) for a in args])
        return
    assert_same(apply_eager(op, [as_t(a) for a in args]), want)


def as_t(a):
    return eager.as_tensor(a)


OPERATORS = [("add", sg.add), ("sub", sg.subtract), ("mul", sg.multiply),
             ("truediv", sg.true_divide), ("pow", sg.power)]
COMPARISONS = [("__lt__", sg.less), ("__le__", sg.less_equal), ("__gt__", sg.greater),
               ("__ge__", sg.greater_equal)]


def outcome(make):
    try:
        return make().numpy()
    except sg.SymgraphError as error:
        return type(error)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "bool"])
def test_operators_equal_public_functions(dtype):
    """Tensor operators take a shortcut to apply_eager; results and dtypes must be the
    public functions' (weak Python scalars, NumPy 2 promotion), errors too."""
    x = tensor(np.array([1, 2, 3]).astype(dtype))
    for other in [2, 2.5, -1, tensor(np.array([1.0, 2.0, 4.0], "float32"))]:
        pairs = [(lambda n=n: getattr(x, f"__{n}__")(other), lambda f=f: f(x, other))
                 for n, f in OPERATORS]
        pairs += [(lambda n=n: getattr(x, f"__r{n}__")(other), lambda f=f: f(other, x))
                  for n, f in OPERATORS]
        pairs += [(lambda n=n: getattr(x, n)(other), lambda f=f: f(x, other))
                  for n, f in COMPARISONS]
        pairs += [(lambda: -x, lambda: sg.negative(x))]
        for got, want in pairs:
            got, want = outcome(got), outcome(want)
            if isinstance(want, type):
                assert got is want
            else:
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)


def test_errors_are_the_symbolic_ones_with_the_user_line():
    with pytest.raises(sg.ShapeError, match=r"add: cannot broadcast .*\(created at test_eager"):
        tensor(np.ones(3)) + tensor(np.ones(4))
    with pytest.raises(sg.DTypeError, match="bitwise_and"):
        tensor(np.ones(3)) & tensor(np.ones(3))
    # an error at the first call of a signature is raised again at the next (not cached away)
    for _ in range(2):
        with pytest.raises(sg.ShapeError, match=r"\(created at test_eager"):
            tensor(np.ones(2)) * tensor(np.ones(5))


def test_plans_are_per_op_parameters_and_shared_by_equal_ops():
    """apply_eager caches op.infer per op and input signature: ops with parameters must not
    share a plan across different parameters; parameterless ops (a new instance per call)
    share one."""
    t = tensor(np.array([[1.5, -2.5], [3.0, 4.0]]))
    assert_same(sg.cast(t, "float32"), np.array([[1.5, -2.5], [3.0, 4.0]], "float32"))
    assert_same(sg.cast(t, "int64"), np.array([[1, -2], [3, 4]]))
    assert_same(sg.sum(t, axis=0), np.array([4.5, 1.5]))
    assert_same(sg.sum(t, axis=1), np.array([-1.0, 7.0]))
    assert_same(sg.sum(t, axis=1, keepdims=True), np.array([[-1.0], [7.0]]))
    sg.cos(t)
    size = len(eager._PLANS)
    for _ in range(3):
        assert_same(sg.cos(t), np.cos(t.numpy()))  # a new Cos() each time, the same plan
    assert len(eager._PLANS) == size


# -- construction, conversion, printing -----------------------------------------------------

def test_tensor_construction_and_properties():
    t = tensor([1.0, 2.0])
    assert t.dtype == sg.config.floatX and t.shape == (2,) and t.ndim == 1 and len(t) == 2
    assert tensor([1, 2]).dtype == "int64" and tensor(True).dtype == "bool"
    assert tensor(np.ones(2, "float64")).dtype == "float64"
    assert tensor(np.ones(2, "float16")).dtype == "float32"
    assert tensor([1, 2], dtype="float64").dtype == "float64"
    data = np.arange(3.0)
    t = tensor(data)
    data[0] = 100.0  # tensor() copies
    assert t.numpy()[0] == 0.0
    out = t.numpy()
    out[1] = 50.0  # numpy() copies
    assert t.numpy()[1] == 1.0
    assert isinstance(t.type, sg.types.TensorType) and t.type.shape == (3,)
    np.testing.assert_array_equal(np.asarray(t), [0.0, 1.0, 2.0])


def test_repr_shows_values():
    assert repr(tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(tensor([1, 2])) == "tensor([1, 2])"
    assert repr(tensor(np.array([0.5]))) == "tensor([0.5], dtype=float64)"
    assert repr(tensor(3.0)) == "tensor(3.)"


def test_python_scalars_and_truth():
    t = tensor(np.array([2.5]))
    assert float(t) == 2.5 and int(t) == 2 and t.item() == 2.5 and bool(t)
    assert not tensor(0.0)
    assert [10, 20, 30][tensor(np.int64(1))] == 20
    with pytest.raises(TypeError, match="integer"):
        [1, 2][tensor(1.0)]
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="item"):
        tensor([1.0, 2.0]).item()


def test_numpy_interop_defers_to_tensors():
    t = tensor(np.ones(3), requires_grad=True)
    out = np.arange(3.0) + t  # ndarray.__add__ defers: the result stays on the tape
    assert isinstance(out, Tensor) and out.requires_grad
    with pytest.raises(TypeError):
        np.exp(t)  # a NumPy ufunc would drop the tape


def test_mixing_modes_is_refused():
    x = sg.vector("x", dtype="float64")
    t = tensor(np.ones(3))
    for make in (lambda: x + t, lambda: t + x, lambda: sg.multiply(t, x),
                 lambda: sg.where(t > 0, x, t)):
        with pytest.raises(sg.SymgraphError, match="cannot mix"):
            make()
    with pytest.raises(sg.SymgraphError, match="symbolic"):
        tensor(x)
    # a symbolic value made of constants only is a value: it joins eager expressions
    assert_same(t + sg.constant(np.float64(2.0)), np.full(3, 3.0))
    known = sg.exp(sg.constant(np.zeros(3))) * 2.0
    assert_same(known + t, np.full(3, 3.0))
    assert_same(sg.maximum(t, known), np.full(3, 2.0))
    with pytest.raises(sg.SymgraphError, match="cannot mix"):
        t + sg.shared(np.ones(3)) * 1.0  # state: a compiled function's business


def test_requires_grad_only_for_floats():
    with pytest.raises(sg.GradientError, match="float"):
        tensor([1, 2], requires_grad=True)
    y = tensor([1.0], requires_grad=True) * 2
    with pytest.raises(sg.GradientError, match="leaf"):
        y.requires_grad_(False)


# -- gradients ---------------------------------------------------------------------------------

GRADS = [  # (name, scalar function of float64 tensors, input shapes)
    ("mul_broadcast", lambda x, y: sg.sum(x * y * x), [(3, 1), (4,)]),
    ("tanh_sin_exp", lambda x: sg.sum(sg.tanh(sg.sin(x) * sg.exp(-x * x))), [(5,)]),
    ("divide_power", lambda x, y: sg.sum((x * x + 1) ** y / (y * y + 1)), [(2, 3), (3,)]),
    ("sum_axis", lambda x: sg.sum(sg.sum(x * x, axis=1) * sg.sum(x, axis=0, keepdims=True)
                                  .sum()), [(3, 4)]),
    ("where_max", lambda x, y: sg.sum(sg.where(x > 0, x * y, sg.maximum(x, y))), [(6,), (6,)]),
    ("scalar_0d", lambda x, y: sg.log(x * x + 1) * y + 2.0, [(), ()]),
    ("expand_squeeze", lambda x: sg.sum(sg.squeeze(sg.expand_dims(x, 1), 1) * x), [(4,)]),
    ("reused", lambda x: sg.sum(x * x + x * 3.0 - sg.sigmoid(x) * x), [(4,)]),
    ("reflected", lambda x: sg.sum(1.0 / (2.0 - x * 0.3) + 2.0 ** x), [(3,)]),
]


@pytest.mark.parametrize("fn,shapes", [g[1:] for g in GRADS], ids=[g[0] for g in GRADS])
def test_eager_grad_finite_differences_and_sg_grad(fn, shapes, rng):
    values = [rng.uniform(-1.5, 1.5, s) + 0.1 for s in shapes]
    ts = [tensor(v, requires_grad=True) for v in values]
    loss = fn(*ts)
    loss.backward()
    expected = numeric_grad(lambda *a: fn(*[tensor(v) for v in a]).item(), values)
    inputs = [sg.tensor(f"x{i}", "float64", v.shape) for i, v in enumerate(values)]
    cost = fn(*inputs)
    symbolic = sg.function(inputs, sg.grad(cost, inputs), backend="python")(*values)
    for t, want, sym in zip(ts, expected, symbolic):
        assert t.grad.dtype == "float64" and t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(t.grad.numpy(), sym, rtol=1e-13, atol=1e-14)


def test_gradient_dtype_follows_the_leaf():
    x = tensor(np.ones(3, "float32"), requires_grad=True)
    (x * np.float64(2.0) * tensor(np.ones(3))).sum().backward()  # promoted to float64
    assert x.grad.dtype == "float32"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_integer_paths_carry_no_gradient():
    x = tensor([1.5, 2.5], requires_grad=True)
    k = sg.cast(x * 2, "int64")
    assert not k.requires_grad and k.is_leaf
    (sg.sum(x * 1.0) + sg.sum(sg.cast(k, "float32"))).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


# -- tape semantics --------------------------------------------------------------------------

def test_gradients_accumulate_until_zeroed():
    x = tensor([1.0, 2.0], requires_grad=True)
    for _ in range(2):
        sg.sum(x * x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    x.zero_grad()
    assert x.grad is None
    sg.sum(x * 3.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    x.grad = None
    sg.sum(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    assert isinstance(x.grad, Tensor) and not x.grad.requires_grad


def test_backward_records_nothing():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = sg.sum(sg.exp(x) * x)
    y.backward()
    assert x.grad.is_leaf and not x.grad.requires_grad
    assert eager.is_grad_enabled()


def test_freed_tape_and_retain_graph():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = sg.sum(x * x)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(sg.GradientError, match="freed.*retain_graph=True"):
        y.backward()
    z = x * 2.0
    sg.sum(z * z).backward()
    with pytest.raises(sg.GradientError, match="freed"):
        sg.sum(z).backward()  # a new entry on top of a freed part of the tape


def test_non_scalar_backward():
    x = tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(sg.GradientError, match=r"shape \(3,\).*sum\(\)"):
        y.backward()
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 12.0])
    with pytest.raises(sg.ShapeError, match="grad has shape"):
        (x * x).backward(np.ones(2))
    with pytest.raises(sg.GradientError, match="does not require"):
        tensor([1.0]).backward()


def test_no_grad_and_enable_grad():
    x = tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = x * 2
        with eager.enable_grad():
            z = x * 3
        assert not eager.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and z.requires_grad
    with pytest.raises(sg.GradientError, match="does not require"):
        sg.sum(y).backward()

    @no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad and eager.is_grad_enabled()


def test_grad_mode_is_per_thread():
    x = tensor([1.0], requires_grad=True)
    seen = []
    with no_grad():
        worker = threading.Thread(target=lambda: seen.append((x * 2).requires_grad))
        worker.start()
        worker.join()
    assert seen == [True]


def test_detach_stops_gradients():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    sg.sum(y.detach() * x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 4.0])
    assert y.detach().is_leaf and not y.detach().requires_grad


def test_optimizer_step_makes_new_leaves():
    w = tensor([1.0, -1.0], requires_grad=True)
    for _ in range(3):
        loss = sg.sum(w * w)
        loss.backward()
        with no_grad():
            w = (w - 0.25 * w.grad).requires_grad_()
    np.testing.assert_allclose(w.numpy(), [0.125, -0.125])
    assert w.grad is None and w.is_leaf


# -- Python control flow --------------------------------------------------------------------

def test_data_dependent_while_and_if():
    """Newton's method for sqrt(a) with a data-dependent stop, then the gradient of the
    converged value (through every step taken) matches d sqrt(a)/da."""
    a = tensor(np.array(2.0), requires_grad=True)
    x = a * 1.0
    steps = 0
    while sg.abs(x * x - a) > 1e-12:
        x = (x + a / x) * 0.5
        steps += 1
    assert 3 <= steps < 10
    if x > 1:
        x.backward()
    np.testing.assert_allclose(x.item(), np.sqrt(2.0))
    np.testing.assert_allclose(a.grad.item(), 0.5 / np.sqrt(2.0), rtol=1e-9)


def test_shapes_change_per_step():
    x = tensor(np.arange(1.0, 25.0).reshape(2, 3, 4), requires_grad=True)
    y, shapes = x, []
    while y.ndim > 0:
        y = sg.sum(y * 0.5, axis=0)
        shapes.append(y.shape)
    assert shapes == [(3, 4), (4,), ()]
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3, 4), 0.125))


# -- multi-output ops ----------------------------------------------------------------------

@dataclass(frozen=True)
class SinCos(Op):
    """A two-output op, to check the tape's handling of TupleType results."""

    def infer(self, x):
        return TupleType((x, x))

    def reference(self, x):
        return np.sin(x), np.cos(x)

    def vjp(self, inputs, output, g):
        x = inputs[0]
        total = 0.0
        if g[0] is not None:
            total = total + g[0] * sg.cos(x)
        if g[1] is not None:
            total = total - g[1] * sg.sin(x)
        return (total,)


def sincos(x):
    pair = apply(SinCos(), x)
    return apply(TupleGet(0), pair), apply(TupleGet(1), pair)


@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_multi_output_op_eager_matches_sg_grad(use):
    def fn(x):
        s, c = sincos(x)
        return sg.sum({"both": s * c + s, "first": s * 3.0, "second": c * c}[use])

    value = np.array([0.3, -1.2, 2.0])
    t = tensor(value, requires_grad=True)
    s, c = sincos(t)
    assert_same(s, np.sin(value))
    assert_same(c, np.cos(value))
    fn(t).backward()
    x = sg.vector("x", dtype="float64")
    want = sg.function([x], sg.grad(fn(x), x), backend="python")(value)
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-14)
    expected = numeric_grad(lambda v: fn(tensor(v)).item(), [value])[0]
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.filterwarnings("ignore:overflow")  # NumPy warns casting 1e300 to float32, as here
def test_weak_scalars_keep_signed_zeros_and_nan():
    x = tensor([1.0, 2.0])
    assert not np.signbit((x * 0.0).numpy()).any()
    assert np.signbit((x * -0.0).numpy()).all()
    assert np.isnan((x + float("nan")).numpy()).all()
    assert (x + 1e300).dtype == sg.config.floatX  # weak: stays float32, overflows to inf
    np.testing.assert_array_equal((x + 1e300).numpy(), [np.inf, np.inf])


def test_deep_tapes_need_no_recursion():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    sg.sum(y).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 5000] * 2, rtol=1e-12)


def test_compiled_functions_refuse_eager_tensors():
    x = sg.vector("x", dtype="float64")
    t = tensor(np.ones(3))
    for make in (lambda: sg.function([x], t), lambda: sg.function([x], [x * 2, t]),
                 lambda: sg.function([x], x, updates=[(sg.shared(np.ones(3)), t)])):
        with pytest.raises(sg.SymgraphError, match="eager tensor"):
            make()
    with pytest.raises(sg.SymgraphError, match="inputs must be symbolic"):
        sg.function([t], x)
    with pytest.raises(sg.GradientError, match="symbolic"):
        sg.grad(sg.sum(t), x)
