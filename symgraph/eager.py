"""Define-by-run mode: eager tensors that compute at once and record a tape for backward().

`sg.eager.tensor(data, requires_grad=True)` makes a tensor; every `sg.*` function and
operator accepts it and computes immediately through the same op objects as the symbolic
path: `apply()` sends eager arguments to `apply_eager`, which asks `op.infer` for the result
type (so errors and dtypes are those of a symbolic graph; the answer is cached per op and
input types) and then runs `op.reference`. When grad mode is on and an input requires a
gradient, the result is a tape entry itself: it remembers the op and its input tensors
(a multi-output op's results share one `_Record`). `backward()` (in `symgraph.tape`)
walks those entries in reverse, asks each op for `vjp` — the rules `sg.grad` uses — and
undoes broadcasting with `symgraph.grad.sum_like`, so the two modes cannot drift apart.
Gradients accumulate into the leaves' `.grad`.

Tensors are immutable values: an optimizer step makes new leaves (`(w - lr * w.grad)
.detach().requires_grad_()`), it does not write into the old ones.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

# Modules, not names: `sg.eager` is this module, and its public names are what it defines.
from symgraph import dtypes, errors, graph, methods
from symgraph.config import config
from symgraph.gradmode import _mode, enable_grad, is_grad_enabled, no_grad  # noqa: F401
from symgraph.ops import base as ops
from symgraph.types import TensorType as _TensorType, TupleType as _TupleType

if TYPE_CHECKING:
    from typing import Any, Iterator, Sequence

    from symgraph.ops.base import Op
    from symgraph.types import TensorType

__all__ = ["Tensor", "tensor", "as_tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "grad", "grad_of"]


# -- the tensor ----------------------------------------------------------------------------

# Tape entries. A tensor computed with a gradient in mind is its own entry (one object per
# eager op, not two): `_op` applied to `_inputs` gave its `_value`; `_seq` orders entries by
# creation (an entry's users all come later, so backward() takes entries latest first);
# `_pending` collects the entry's gradient during backward(), which sets `_inputs` to None
# when it frees the tape. A multi-output op's results share one `_Record` with the same
# fields (`_value` the tuple of outputs, `_dtype` None); each result's `_op` is `_PART`,
# its `_inputs` the record, `_index` its position.

class _Record:
    """The tape entry of a multi-output op (see above)."""

    __slots__ = ("_op", "_inputs", "_value", "_dtype", "_seq", "_pending")

    def __init__(self, op: Op, inputs: tuple[Tensor, ...], out: tuple) -> None:
        self._op = op
        self._inputs: tuple[Tensor, ...] | None = inputs
        self._value: tuple | None = out
        self._dtype = None
        self._seq = _next_seq()
        self._pending: Any = None


_next_seq = itertools.count().__next__
_PART = ops.TupleGet(-1)  # the `_op` of one result of a multi-output op


class Tensor(methods.TensorMethods):
    """An eager tensor: a NumPy value, and for values that need gradients, a tape entry.

    Operators and methods come from the shared mixin (`x * y`, `x.sum()`, …) and use the
    same ops as symbolic variables (arithmetic operators take a shortcut to `apply_eager`,
    see below). `==` is identity, as for variables; elementwise equality is `sg.eq`.
    """

    __slots__ = ("_value", "_dtype", "requires_grad", "grad", "_op", "_inputs", "_index",
                 "_seq", "_pending")

    def __init__(self, value: np.ndarray, dtype: str, requires_grad: bool = False,
                 op: Op | None = None, inputs: Any = None, index: int = -1) -> None:
        self._value = value
        self._dtype = dtype
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self._op = op  # None for a leaf; then the tape fields below are not read
        if op is not None:
            self._inputs = inputs
            self._index = index
            self._seq = _next_seq()
            self._pending: Any = None

    # -- what it is ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size

    @property
    def type(self) -> TensorType:
        """The static type this value would have in a graph (all dimensions known)."""
        return _TensorType(self._dtype, self._value.shape)

    @property
    def is_leaf(self) -> bool:
        """True unless the tensor was computed from tensors that require gradients."""
        return self._op is None

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):  # `self[i]` is sg.getitem: each part stays on the tape
            yield self[i]

    def eval(self, inputs: Any = None, backend: Any = None) -> np.ndarray:
        """The value (an eager tensor is already computed): the same as `.numpy()`."""
        return self.numpy()

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (a copy: editing it cannot change the tape)."""
        return self._value.copy()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        value = self._value if copy is False else self._value.copy()
        return value if dtype is None else value.astype(dtype, copy=False)

    # NumPy ufuncs on a tensor (`np.exp(t)`) would lose the tape; `ndarray + t` must come
    # back to our reflected operators instead.
    __array_ufunc__ = None

    # -- Python scalars and control flow ------------------------------------------------------
    def item(self) -> bool | int | float:
        """The single element as a Python number."""
        if self._value.size != 1:
            raise ValueError(f"item(): the tensor has {self._value.size} elements "
                             f"(shape {self.shape}); only a one-element tensor has one value")
        return self._value.item()

    def __bool__(self) -> bool:
        if self._value.size != 1:
            raise ValueError(f"the truth value of a tensor with {self._value.size} elements "
                             "is ambiguous; use .any() or .all()")
        return bool(self._value.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._dtype[0] not in "iu" or self._value.ndim != 0:
            raise TypeError(f"only 0-d integer tensors can be used as an index, not "
                            f"{self._dtype}{list(self.shape)}")
        return int(self._value)

    def __repr__(self) -> str:
        text = np.array2string(self._value, separator=", ", prefix="tensor(")
        extras = ""
        if self._dtype not in (config.floatX, "int64", "bool"):
            extras += f", dtype={self._dtype}"
        if self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({text}{extras})"

    # -- gradients --------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires a gradient.

        `grad` is the gradient of some final scalar with respect to this tensor; it may be
        left out only for a one-element tensor. The tape is freed afterwards unless
        `retain_graph=True`. `create_graph=True` records the backward pass too: the `.grad`
        tensors then have a history and can be differentiated again (the tape is kept,
        unless `retain_graph=False`); see also `sg.eager.grad`.
        """
        from symgraph import tape

        tape.backward(self, grad, retain_graph, create_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (`.grad = None` does the same)."""
        self.grad = None

    def detach(self) -> Tensor:
        """The same value as a new leaf without history (shares the data)."""
        return Tensor(self._value, self._dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark this leaf as needing a gradient (in place); returns self."""
        if self._op is not None:
            raise errors.GradientError(
                "requires_grad_: only leaf tensors can change requires_grad; this one was "
                "computed from others (use .detach() first)")
        if requires_grad and not dtypes.is_float(self._dtype):
            raise errors.GradientError(
                f"requires_grad_: only float tensors have gradients, this one is "
                f"{self._dtype}; cast with .astype('float32') first")
        self.requires_grad = requires_grad
        return self


class _TupleValue:
    """The value of a multi-output op in eager mode; `sg.*` wrappers index it (TupleGet)."""

    __slots__ = ("tensors",)

    def __init__(self, tensors: tuple[Tensor, ...]) -> None:
        self.tensors = tensors

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.tensors)


# -- making tensors ----------------------------------------------------------------------

def _array(data: Any, dtype: object = None) -> tuple[np.ndarray, str]:
    """A private copy of `data` as an array of a supported dtype, and that dtype's name."""
    array = np.array(data, dtype=None if dtype is None else dtypes.as_dtype(dtype))
    if array.dtype == object:
        raise errors.SymgraphError(
            f"cannot make an eager tensor of {type(data).__name__} {data!r}")
    name = dtypes.as_dtype(dtypes.name_of(array.dtype))  # float16 becomes float32
    return (array if dtypes.name_of(array.dtype) == name else array.astype(name)), name


def tensor(data: Any, requires_grad: bool = False, dtype: object = None) -> Tensor:
    """A new eager leaf tensor holding a copy of `data`.

    dtype: NumPy's dtype for arrays; Python floats (and lists of them) get `sg.config.floatX`
    like symbolic variables do; or give `dtype` explicitly. Only float tensors can require
    gradients.
    """
    if isinstance(data, graph.Node):
        raise errors.SymgraphError(
            f"sg.eager.tensor: {data!r} is a symbolic variable; eager tensors hold values "
            "(compile symbolic graphs with sg.function)")
    if isinstance(data, Tensor):
        data = data._value
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        kind = np.asarray(data).dtype.kind
        dtype = config.floatX if kind == "f" else None
    array, name = _array(data, dtype)
    return Tensor(array, name).requires_grad_(requires_grad)


def as_tensor(value: Any) -> Tensor:
    """An eager tensor of `value`: tensors pass through, arrays and numbers are wrapped.

    A symbolic variable is refused (eager and symbolic values cannot meet in one
    expression), unless it depends on constants only: then it is a value, computed now.
    """
    if type(value) is Tensor:
        return value
    if isinstance(value, graph.Node) and _is_known(value):
        from symgraph.interpret import evaluate

        (known,) = evaluate(graph.Graph([], [value]), [])
        return Tensor(known, value.dtype)
    if isinstance(value, graph.Node):
        raise errors.SymgraphError(
            f"cannot mix symbolic variable {value!r} with eager tensors in one expression; "
            "inside sg.jit pass every tensor the function needs as an argument, or use "
            ".numpy() to turn an eager value into data for a symbolic graph")
    array, name = _array(value)  # a copy: later edits by the caller cannot reach the tape
    return Tensor(array, name)


def _is_known(node: graph.Node) -> bool:
    """Whether a symbolic value depends on constants only (`sg.constant(...)`, `sg.zeros(3)`),
    so it is a value already and may join an eager expression. Inputs have none yet, and
    shared variables (random streams among them) are state a compiled function updates."""
    return all(type(leaf) is graph.Constant for leaf in graph.leaves([node]))


# -- eager execution -------------------------------------------------------------------------

try:  # NumPy 2 keeps errstate in a context variable: setting it directly takes 0.1 µs where
    # `with np.errstate(...)` takes 1.5 µs, a third of an eager op's overhead
    from numpy._core._multiarray_umath import _make_extobj
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE

    _QUIET = _make_extobj(all="ignore")
except ImportError:  # another NumPy: the public context manager (see _quiet_call)
    _ERRSTATE = None
    _QUIET = None

# What apply_eager needs to know about `op` on inputs of given dtypes and shapes, keyed by
# the flat tuple (_head(op), dtype0, shape0, dtype1, shape1, ...): (result type, result
# dtype name (None for a multi-output op), the ufunc to call when that gives the
# reference's result (see _plain_ufunc), whether the result is recorded when an input
# requires a gradient). A model repeats a few signatures, so op.infer and its checks run
# once per signature.
_PLANS: dict[tuple, tuple] = {}


def _head(op: Op) -> Any:
    """The first item of a plan's key: the op's class when the op has no parameters (any two
    such instances are equal, so they share plans; `sg.cos(x)` makes a new `Cos()` at every
    call, and hashing and comparing dataclass instances runs Python code), else the op."""
    try:
        return op if op.__dict__ else type(op)
    except AttributeError:  # a dataclass with slots
        return op


def _plan(op: Op, key: tuple) -> tuple:
    """op.infer on the concrete types of `key` (raising its errors with the user's line)."""
    try:
        out_type = op.infer(*(_TensorType(key[i], key[i + 1]) for i in range(1, len(key), 2)))
    except errors.SymgraphError as error:
        raise errors.with_origin(error, graph.user_origin()) from None
    if type(out_type) is _TupleType:
        plan: tuple = (out_type, None, None, op.differentiable)
    else:
        dtype = out_type.dtype
        ufunc = _plain_ufunc(op, key, out_type)
        plan = (out_type, dtype, _vector_math(op, key, out_type) or ufunc,
                op.differentiable and dtype in dtypes.FLOATS)
    if len(_PLANS) >= 8192:  # shapes that change at every step: start over, stay bounded
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _plain_ufunc(op: Op, key: tuple, out_type: _TensorType) -> np.ufunc | None:
    """The ufunc to call instead of Elemwise.reference, when its own result is what the
    reference returns: an array (not a 0-d NumPy scalar) of the inferred dtype (NumPy 2
    promotes by dtype alone, so a probe on 0-d inputs tells). Otherwise (an op with its own
    reference, a 0-d result, NumPy going to float16) None: the reference runs."""
    if (type(op).reference is not ops.Elemwise.reference or out_type.shape == ()
            or not isinstance(op.ufunc, np.ufunc)):
        return None
    try:
        with np.errstate(all="ignore"):
            probe = op.ufunc(*(np.ones((), key[i]) for i in range(1, len(key), 2)))
    except (TypeError, ValueError):
        return None
    return op.ufunc if probe.dtype == np.dtype(out_type.dtype) else None


# vecmath's functions (backends/numba_cpu/vecmath.py), by the name in the ops' scalar
# templates ("math.sin({0})"); a test checks the set against vecmath's
VECTOR_MATH = frozenset({"exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "erf",
                         "sin", "cos"})
# From this many elements on, a numba kernel (~0.7 µs to call) beats NumPy's functions
# (measured: float64 sin 1.27 µs against 1.69 at 128 elements, 3.9 against 10.2 at 1,000)
VECTOR_MATH_MIN_SIZE = 128


def _vector_math(op: Op, key: tuple, out_type: _TensorType) -> Any:
    """For a float32/float64 op that the compiled numba backend computes with its vectorized
    math (sin, tanh, exp, ...), the same kernel as a callable `run(x)` in place of the
    ufunc: bit-for-bit the compiled result, within 2 ulp of NumPy's, 2-4x faster on large
    arrays (see docs/eager.md). None for anything else, small arrays, or without numba."""
    template = getattr(op, "scalar", None)
    if (len(key) != 3 or key[1] != out_type.dtype or key[1] not in ("float32", "float64")
            or type(template) is not str or math.prod(key[2]) < VECTOR_MATH_MIN_SIZE
            or type(op).reference is not ops.Elemwise.reference):
        return None
    name = template.removeprefix("math.").removesuffix("({0})")
    if name not in VECTOR_MATH:
        return None
    try:
        from backends.numba_cpu import eager_kernels
    except ImportError:  # no numba: NumPy's functions
        return None
    return eager_kernels.mapper(name, key[1], len(key[2]))


def apply_eager(op: Op, args: Sequence[Any]) -> Any:
    """Run `op` on eager tensors now (infer, then reference), recording a tape entry when
    grad mode is on and an input requires a gradient. Every eager operation runs through
    here, so it is written for speed: a plain ufunc op on one or two tensors is spelled out
    (its plan, the inferred type and the ufunc to call, is one dict lookup on a flat key);
    everything else goes through `_apply_general`."""
    if len(args) == 2:
        a, b = args
        if type(a) is not Tensor or type(b) is not Tensor:
            return _apply_general(op, args)
        return _apply2(op, a, b)
    if len(args) != 1 or type(args[0]) is not Tensor:
        return _apply_general(op, args)
    a = args[0]
    x = a._value
    try:
        head = op if op.__dict__ else type(op)  # see _head
    except AttributeError:
        head = op
    plan = _PLANS.get((head, a._dtype, x.shape))
    if plan is None:
        plan = _plan(op, (head, a._dtype, x.shape))
    ufunc = plan[2]
    if ufunc is None or _QUIET is None:
        return _apply_general(op, args, plan)
    try:
        # a numba kernel (see _vector_math) raises no NumPy warnings: no errstate needed
        if _ERRSTATE.get() is _QUIET or type(ufunc) is not np.ufunc:
            out = ufunc(x)
        else:
            token = _ERRSTATE.set(_QUIET)
            try:
                out = ufunc(x)
            finally:
                _ERRSTATE.reset(token)
    except (ValueError, IndexError) as error:
        raise _runtime_error(op, (x,), error) from None
    if a.requires_grad and plan[3] and _mode.enabled:
        return Tensor(out, plan[1], True, op, (a,))
    return Tensor(out, plan[1])


def _apply2(op: Op, a: Tensor, b: Tensor) -> Tensor:
    """apply_eager for two tensors, the most common case (the operators call it directly)."""
    x = a._value
    y = b._value
    try:
        head = op if op.__dict__ else type(op)  # see _head
    except AttributeError:
        head = op
    plan = _PLANS.get((head, a._dtype, x.shape, b._dtype, y.shape))
    if plan is None:
        plan = _plan(op, (head, a._dtype, x.shape, b._dtype, y.shape))
    ufunc = plan[2]
    if ufunc is None or _QUIET is None:
        return _apply_general(op, (a, b), plan)
    try:
        if _ERRSTATE.get() is _QUIET:  # backward() sets it once for all its ops
            out = ufunc(x, y)
        else:
            token = _ERRSTATE.set(_QUIET)
            try:
                out = ufunc(x, y)
            finally:
                _ERRSTATE.reset(token)
    except (ValueError, IndexError) as error:  # int ** negative int, say
        raise _runtime_error(op, (x, y), error) from None
    if (a.requires_grad or b.requires_grad) and plan[3] and _mode.enabled:
        return Tensor(out, plan[1], True, op, (a, b))
    return Tensor(out, plan[1])


def _apply_general(op: Op, args: Sequence[Any], plan: tuple | None = None) -> Any:
    """apply_eager for every other case: a tuple part, non-tensor arguments, ops with their
    own reference, multi-output ops, 0 or 3+ arguments (`plan` when the caller has it)."""
    if type(op) is ops.TupleGet:
        return args[0].tensors[op.index]
    if plan is None:
        key: list = [_head(op)]
        for a in args:
            if type(a) is not Tensor:
                return apply_eager(op, [as_tensor(a) for a in args])
            key += (a._dtype, a._value.shape)
        key_tuple = tuple(key)
        plan = _PLANS.get(key_tuple) or _plan(op, key_tuple)
    out_type, dtype, ufunc, records = plan
    values = [a._value for a in args]
    try:
        if ufunc is None:
            out = _checked(op, op.reference(*values), out_type)
        else:
            out = _quiet_call(ufunc, values)
    except errors.SymgraphError as error:
        raise errors.with_origin(error, graph.user_origin()) from None
    except (ValueError, IndexError) as error:
        raise _runtime_error(op, values, error) from None
    recorded = records and _mode.enabled and True in [a.requires_grad for a in args]
    if dtype is None:
        return _tuple_value(out, out_type, _Record(op, tuple(args), out) if recorded else None)
    if recorded:
        return Tensor(out, dtype, True, op, tuple(args))
    return Tensor(out, dtype)


def _runtime_error(op: Op, values: Sequence[np.ndarray], error: Exception) -> Exception:
    shapes = ", ".join(f"{v.dtype}{list(v.shape)}" for v in values)
    return errors.with_origin(errors.ShapeError(f"{op.name}: {error} (inputs: {shapes})"),
                              graph.user_origin())


def _quiet_call(ufunc: np.ufunc, values: Sequence[np.ndarray]) -> Any:
    """ufunc(*values) without NumPy's floating point warnings, as Elemwise.reference."""
    if _ERRSTATE is None:
        with np.errstate(all="ignore"):
            return ufunc(*values)
    token = _ERRSTATE.set(_QUIET)
    try:
        return ufunc(*values)
    finally:
        _ERRSTATE.reset(token)


def _checked(op: Op, out: Any, out_type: Any) -> Any:
    """The reference's result, checked against the inferred type (as the interpreter does)."""
    if type(out_type) is _TupleType:
        return tuple(_checked(op, o, t) for o, t in zip(out, out_type.types))
    out = np.asarray(out)
    if dtypes.name_of(out.dtype) != out_type.dtype or not out_type.accepts_shape(out.shape):
        raise errors.SymgraphError(f"{op.name}: internal error: produced {out.dtype}"
                                   f"{list(out.shape)}, its type says {out_type}")
    return out


def _tuple_value(out: tuple, out_type: Any, record: _Record | None) -> _TupleValue:
    """The tensors of a multi-output op's results; float ones share the op's tape entry."""
    return _TupleValue(tuple(_output(o, t.dtype, record, i)
                             for i, (o, t) in enumerate(zip(out, out_type.types))))


def _output(out: np.ndarray, dtype: str, record: _Record | None, index: int) -> Tensor:
    if record is None or dtype not in dtypes.FLOATS:
        return Tensor(out, dtype)
    return Tensor(out, dtype, True, _PART, record, index)


# Operators with an eager right operand (or a Python number) go straight to apply_eager:
# apply() would send them there anyway, and skipping the argument conversion of the public
# functions halves the cost of `x * y` — the bulk of eager work, backward rules included.
# The ops are the very objects the public functions use; tests compare both routes.

_SCALARS: dict[tuple, Tensor] = {}
_ADD: Op  # binary.Add(), set by _install_operators


def _weak(value: Any, like: Tensor) -> Tensor | None:
    """A Python float/int as a tensor of float `like`'s dtype (NumPy 2 weak scalars), or
    None when the general conversion must decide (other kinds, non-float tensors)."""
    if type(value) is not float and type(value) is not int or like._dtype[0] != "f":
        return None
    key = (type(value), value, like._dtype)
    held = _SCALARS.get(key) if value else None  # 0.0 == -0.0: zeros are not cached
    if held is None:
        try:
            held = Tensor(np.asarray(value, like._dtype), like._dtype)
        except OverflowError:
            return None
        if len(_SCALARS) >= 1024:
            _SCALARS.clear()
        _SCALARS[key] = held
    return held


def _operator(op: Op, name: str) -> Any:
    generic = getattr(methods.TensorMethods, name)
    reflected = name.startswith("__r")

    def operator(self: Tensor, other: Any) -> Any:
        right = other if type(other) is Tensor else _weak(other, self)
        if right is None:
            return generic(self, other)
        return _apply2(op, self, right)

    def reflected_operator(self: Tensor, other: Any) -> Any:
        left = other if type(other) is Tensor else _weak(other, self)
        if left is None:
            return generic(self, other)
        return _apply2(op, left, self)

    chosen = reflected_operator if reflected else operator
    chosen.__name__ = name
    return chosen


def _install_operators() -> None:
    from symgraph.ops import binary, logic, unary

    table = {"add": binary.Add(), "sub": binary.Subtract(), "mul": binary.Multiply(),
             "truediv": binary.TrueDivide(), "pow": binary.Power()}
    for short, op in table.items():
        for name in (f"__{short}__", f"__r{short}__"):
            setattr(Tensor, name, _operator(op, name))
    for name, op in (("__lt__", logic.Less()), ("__le__", logic.LessEqual()),
                     ("__gt__", logic.Greater()), ("__ge__", logic.GreaterEqual())):
        setattr(Tensor, name, _operator(op, name))
    global _ADD
    _ADD = table["add"]
    negative = unary.Negative()
    Tensor.__neg__ = lambda self: apply_eager(negative, (self,))  # type: ignore[method-assign]


_install_operators()


# -- backward: the tape walk lives in symgraph/tape.py ---------------------------------------

def grad_of(output: Tensor, inputs: Sequence[Tensor], retain_graph: bool = False
            ) -> list[Tensor]:
    """d(output)/d(input) for each input (zeros where unconnected), without touching `.grad`."""
    return grad([output], list(inputs), retain_graph=retain_graph, disconnected="zero")


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, disconnected: str = "raise") -> Any:
    """The gradient of `outputs` with respect to `inputs`, returned (`.grad` is left alone).

    Like `torch.autograd.grad`, for eager tensors; `sg.grad` is its symbolic twin and the
    two share every gradient rule. `outputs` is a tensor or a list of them; without
    `grad_outputs` (a gradient per output) each must have one element (a loss); several
    outputs add up. `inputs` is a tensor (the result is one tensor) or a list (a list):
    leaves or intermediate results. `create_graph=True` records the backward pass itself,
    so the gradients can be differentiated again (second derivatives, Hessian-vector
    products); the tape is then kept unless `retain_graph=False`. `disconnected`: what an
    input the outputs do not depend on gets, as in `sg.grad`: "raise" (GradientError),
    "zero" (zeros like the input) or "ignore" (None).
    """
    from symgraph import tape

    return tape.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, disconnected)
