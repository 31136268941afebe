"""Define-by-run mode: eager tensors that compute at once and record a tape for backward().

`sg.eager.tensor(data, requires_grad=True)` makes a tensor; every `sg.*` function and
operator accepts it and computes immediately through the same op objects as the symbolic
path: `apply()` sends eager arguments to `apply_eager`, which asks `op.infer` for the result
type (so errors and dtypes are those of a symbolic graph; the answer is cached per op and
input types) and then runs `op.reference`. When grad mode is on and an input requires a
gradient, the result remembers a tape entry (`_Record`: the op, its input tensors, its
output value). `backward()` walks those entries in reverse, asks each op for `vjp` — the
rules `sg.grad` uses — and undoes broadcasting with `symgraph.grad.sum_like`, so the two
modes cannot drift apart. Gradients accumulate into the leaves' `.grad`.

Tensors are immutable values: an optimizer step makes new leaves (`(w - lr * w.grad)
.detach().requires_grad_()`), it does not write into the old ones.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
from typing import TYPE_CHECKING

import numpy as np

# Modules, not names: `sg.eager` is this module, and its public names are what it defines.
from symgraph import dtypes, errors, graph, methods
from symgraph.config import config
from symgraph.ops import base as ops
from symgraph.types import TensorType as _TensorType, TupleType as _TupleType

if TYPE_CHECKING:
    from typing import Any, Iterator, Sequence

    from symgraph.ops.base import Op
    from symgraph.types import TensorType

__all__ = ["Tensor", "tensor", "as_tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "grad_of"]


# -- grad mode -------------------------------------------------------------------------------

class _GradMode(threading.local):
    enabled = True  # per thread, like PyTorch: a no_grad block in one thread is not global


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether eager operations record a tape in this thread."""
    return _mode.enabled


class _SetGradMode:
    """A context manager (and decorator) that sets grad mode and restores it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.saved: list[bool] = []

    def __enter__(self) -> None:
        self.saved.append(_mode.enabled)
        _mode.enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.saved.pop()

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _SetGradMode(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def no_grad() -> _SetGradMode:
    """`with sg.eager.no_grad():` (or `@sg.eager.no_grad()`): compute without recording."""
    return _SetGradMode(False)


def enable_grad() -> _SetGradMode:
    """Turn recording back on inside a `no_grad` block."""
    return _SetGradMode(True)


# -- the tensor ----------------------------------------------------------------------------

class _Record:
    """One tape entry: `op` applied to `inputs` gave `out` (an array, or a tuple of arrays
    for a multi-output op) of dtype `dtype`. `seq` orders entries by creation: an entry's
    users all come later, so backward() can take entries latest first. `grad` collects the
    output's gradient during backward(). backward() sets `inputs` to None when it frees
    the tape."""

    __slots__ = ("op", "inputs", "out", "dtype", "seq", "grad")

    def __init__(self, op: Op, inputs: tuple[Tensor, ...], out: Any, dtype: str | None) -> None:
        self.op = op
        self.inputs: tuple[Tensor, ...] | None = inputs
        self.out = out
        self.dtype = dtype
        self.seq = next(_SEQ)
        self.grad: Any = None


_SEQ = itertools.count()


class Tensor(methods.TensorMethods):
    """An eager tensor: a NumPy value, and for values that need gradients, a tape entry.

    Operators and methods come from the shared mixin (`x * y`, `x.sum()`, …) and use the
    same ops as symbolic variables (arithmetic operators take a shortcut to `apply_eager`,
    see below). `==` is identity, as for variables; elementwise equality is `sg.eq`.
    """

    __slots__ = ("_value", "_dtype", "requires_grad", "grad", "_record", "_index")

    def __init__(self, value: np.ndarray, dtype: str, requires_grad: bool = False,
                 record: _Record | None = None, index: int = -1) -> None:
        self._value = value
        self._dtype = dtype
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self._record = record
        self._index = index  # which output of a multi-output record; -1 for a single one

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
        return self._record is None

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
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires a gradient.

        `grad` is the gradient of some final scalar with respect to this tensor; it may be
        left out only for a one-element tensor. The tape is freed afterwards unless
        `retain_graph=True`.
        """
        seed = _seed(self, grad)
        for leaf, g in _backprop(self, seed, retain_graph).values():
            leaf.grad = g if leaf.grad is None else Tensor(leaf.grad._value + g._value, g._dtype)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (`.grad = None` does the same)."""
        self.grad = None

    def detach(self) -> Tensor:
        """The same value as a new leaf without history (shares the data)."""
        return Tensor(self._value, self._dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark this leaf as needing a gradient (in place); returns self."""
        if self._record is not None:
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

@functools.lru_cache(maxsize=8192)
def _infer(op: Op, signature: tuple) -> tuple:
    """op.infer on concrete types, cached (a model repeats a few signatures), with what
    apply_eager needs about the result at hand: (type, dtype name, NumPy dtype when the op
    is a plain ufunc, whether the result can carry a gradient)."""
    out_type = op.infer(*(_TensorType(dtype, shape) for dtype, shape in signature))
    if type(out_type) is _TupleType:
        return out_type, None, None, True
    plain = type(op).reference is ops.Elemwise.reference
    dtype = out_type.dtype
    return out_type, dtype, np.dtype(dtype) if plain else None, dtype in dtypes.FLOATS


def apply_eager(op: Op, args: Sequence[Any]) -> Any:
    """Run `op` on eager tensors now (infer, then reference), recording a tape entry when
    grad mode is on and an input requires a gradient. Every eager operation runs through
    here, so it is written for speed: one loop over the arguments, a cached infer."""
    if type(op) is ops.TupleGet:
        return args[0].tensors[op.index]
    if len(args) == 2 and type(args[0]) is Tensor and type(args[1]) is Tensor:
        a, b = args  # the most common case, spelled out
        values: Any = (a._value, b._value)
        signature: Any = ((a._dtype, a._value.shape), (b._dtype, b._value.shape))
        needs_grad = a.requires_grad or b.requires_grad
    else:
        values, signature, needs_grad = [], [], False
        for a in args:
            if type(a) is not Tensor:
                return apply_eager(op, [as_tensor(a) for a in args])
            values.append(a._value)
            signature.append((a._dtype, a._value.shape))
            needs_grad = needs_grad or a.requires_grad
        signature = tuple(signature)
    try:
        out_type, dtype, ufunc_dtype, floating = _infer(op, signature)
        if ufunc_dtype is not None:
            out = _ufunc(op, values, ufunc_dtype)
        else:
            out = _checked(op, op.reference(*values), out_type)
    except errors.SymgraphError as error:
        raise errors.with_origin(error, graph.user_origin()) from None
    except (ValueError, IndexError) as error:
        shapes = ", ".join(f"{v.dtype}{list(v.shape)}" for v in values)
        raise errors.with_origin(errors.ShapeError(f"{op.name}: {error} (inputs: {shapes})"),
                                 graph.user_origin()) from None
    record = None
    if needs_grad and floating and _mode.enabled and op.differentiable:
        record = _Record(op, tuple(args), out, dtype)
    if dtype is None:  # a multi-output op
        return _TupleValue(tuple(_output(o, t.dtype, record, i)
                                 for i, (o, t) in enumerate(zip(out, out_type.types))))
    if record is None:
        return Tensor(out, dtype)
    return Tensor(out, dtype, True, record, -1)


try:  # NumPy 2 keeps errstate in a context variable: setting it directly takes 0.1 µs where
    # `with np.errstate(...)` takes 1.5 µs, a third of an eager op's overhead
    from numpy._core._multiarray_umath import _make_extobj
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE

    _QUIET = _make_extobj(all="ignore")
except ImportError:  # another NumPy: the public context manager
    _ERRSTATE = None


def _ufunc(op: ops.Elemwise, values: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Elemwise.reference for a plain ufunc op, shortened: when the ufunc's own result has
    the inferred dtype, that result is what the reference returns; otherwise (NumPy went to
    float16, say) the reference itself decides. tests/test_eager.py checks the two agree."""
    if _ERRSTATE is None:
        with np.errstate(all="ignore"):
            out = op.ufunc(*values)
    else:
        token = _ERRSTATE.set(_QUIET)
        try:
            out = op.ufunc(*values)
        finally:
            _ERRSTATE.reset(token)
    if out.dtype is not dtype and out.dtype != dtype:
        return op.reference(*values)
    return out if type(out) is np.ndarray else np.asarray(out)


def _checked(op: Op, out: Any, out_type: Any) -> Any:
    """The reference's result, checked against the inferred type (as the interpreter does)."""
    if type(out_type) is _TupleType:
        return tuple(_checked(op, o, t) for o, t in zip(out, out_type.types))
    out = np.asarray(out)
    if dtypes.name_of(out.dtype) != out_type.dtype or not out_type.accepts_shape(out.shape):
        raise errors.SymgraphError(f"{op.name}: internal error: produced {out.dtype}"
                                   f"{list(out.shape)}, its type says {out_type}")
    return out


def _output(out: np.ndarray, dtype: str, record: _Record | None, index: int) -> Tensor:
    if record is None or dtype not in dtypes.FLOATS:
        return Tensor(out, dtype)
    return Tensor(out, dtype, True, record, index)


# Operators with an eager right operand (or a Python number) go straight to apply_eager:
# apply() would send them there anyway, and skipping the argument conversion of the public
# functions halves the cost of `x * y` — the bulk of eager work, backward rules included.
# The ops are the very objects the public functions use; tests compare both routes.

_SCALARS: dict[tuple, Tensor] = {}


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
        return apply_eager(op, (right, self) if reflected else (self, right))

    operator.__name__ = name
    return operator


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
    negative = unary.Negative()
    Tensor.__neg__ = lambda self: apply_eager(negative, (self,))  # type: ignore[method-assign]


_install_operators()


# -- backward --------------------------------------------------------------------------------

def _seed(root: Tensor, grad: Any) -> Tensor:
    if not root.requires_grad:
        raise errors.GradientError(
            f"backward: this {root._dtype}{list(root.shape)} tensor does not require a gradient"
            "; create the inputs with requires_grad=True (and not under no_grad)")
    if grad is None:
        if root.size != 1:
            raise errors.GradientError(
                f"backward: the tensor has shape {root.shape}; backward() without an argument "
                "needs a one-element tensor (a loss): reduce it with .sum() or .mean(), or "
                "pass the gradient, backward(grad)")
        return Tensor(np.ones(root.shape, root._dtype), root._dtype)
    seed = as_tensor(grad)
    if seed.shape != root.shape:
        raise errors.ShapeError(f"backward: grad has shape {seed.shape}, the tensor {root.shape}")
    if seed._dtype != root._dtype:
        seed = Tensor(seed._value.astype(root._dtype), root._dtype)
    return seed


def _backprop(root: Tensor, seed: Tensor, retain_graph: bool) -> dict[int, tuple]:
    """Gradients of the leaves `root` depends on: `{id(leaf): (leaf, gradient)}`.

    Tape entries are taken latest first (a heap on their creation order), so an entry's
    gradient is complete when its turn comes. Each entry's op gives its inputs' gradients
    with `vjp`, the rule `sg.grad` uses; `sum_like` undoes broadcasting and dtype promotion
    as in `sg.grad`. Nothing computed here is recorded."""
    from symgraph.grad import sum_like

    if root._record is None:
        return {id(root): (root, seed)}
    leaves: dict[int, tuple] = {}
    heap: list[tuple[int, _Record]] = []
    _receive(root, seed, heap)
    done = []
    try:
        with no_grad():
            while heap:
                record = heapq.heappop(heap)[1]
                done.append(record)
                grad, record.grad = record.grad, None
                op = record.op
                inputs = record.inputs
                if inputs is None:
                    raise errors.GradientError(
                        f"backward: the tape through {op.name} was already freed by an "
                        "earlier backward(); pass retain_graph=True to the first backward() "
                        "to go through it twice, or recompute the forward pass")
                out = record.out
                if record.dtype is None:  # a multi-output op: a gradient per output
                    output: Any = _TupleValue(tuple(Tensor(o, dtypes.name_of(o.dtype))
                                                    for o in out))
                    grad = tuple(grad.get(i) for i in range(len(out)))
                else:
                    output = Tensor(out, record.dtype)
                for x, gx in zip(inputs, op.vjp(inputs, output, grad)):
                    if gx is None or not x.requires_grad:
                        continue
                    if type(gx) is not Tensor:
                        gx = as_tensor(gx)
                    if gx._dtype != x._dtype or gx._value.shape != x._value.shape:
                        gx = _fit(sum_like(gx, x, ()), x, op)
                    if x._record is None:
                        held = leaves.get(id(x))
                        leaves[id(x)] = (x, gx if held is None else _add(held[1], gx))
                    else:
                        _receive(x, gx, heap)
    except BaseException:
        for record in done + [entry[1] for entry in heap]:
            record.grad = None
        raise
    if not retain_graph:
        for record in done:
            record.inputs = None
            record.out = None
    return leaves


def _receive(x: Tensor, g: Tensor, heap: list) -> None:
    """Add g to the gradient x's tape entry has received (per output for multi-output ops),
    queueing the entry the first time."""
    record = x._record
    held = record.grad
    if held is None:
        heapq.heappush(heap, (-record.seq, record))
    if x._index < 0:
        record.grad = g if held is None else _add(held, g)
        return
    parts = held if held is not None else {}  # output index -> gradient
    part = parts.get(x._index)
    parts[x._index] = g if part is None else _add(part, g)
    record.grad = parts


def _fit(g: Tensor, x: Tensor, op: Op) -> Tensor:
    if g._value.shape != x._value.shape:
        raise errors.GradientError(f"{op.name}: internal error: its gradient rule gave shape "
                                   f"{g.shape} for an input of shape {x.shape}")
    return g


def _add(a: Tensor, b: Tensor) -> Tensor:
    return Tensor(a._value + b._value, a._dtype)


def grad_of(output: Tensor, inputs: Sequence[Tensor], retain_graph: bool = False
            ) -> list[Tensor]:
    """d(output)/d(input) for each input (zeros where unconnected), without touching `.grad`."""
    seed = _seed(output, None)
    found = _backprop(output, seed, retain_graph)
    results = []
    for x in inputs:
        held = found.get(id(x))
        results.append(held[1] if held is not None else
                       Tensor(np.zeros(x.shape, x._dtype), x._dtype))
    return results
