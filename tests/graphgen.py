"""Random well-typed programs over the op table, for differential fuzzing (issue #10).

A `Program` is a recipe, not a graph: leaves (dtype, exact shape, declared shape with some
dims unknown) and steps `v[k] = FN(v[i], v[j], **params)`. The same recipe is replayed on
symbolic inputs (to compile on each backend) and on eager tensors, so every evaluator sees
the same program. `str(program)` is a runnable reproducer.

`programs(draw, families)` is a hypothesis strategy. Steps are drawn from op *families*
(elementwise, reductions, shape, indexing, linear algebra, nn); each family picks operands
whose static types fit, and a step whose static type inference still refuses it is dropped,
so every program is well-typed by construction or by rejection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import symgraph as sg

DTYPES = ("float32", "float64", "int64", "int32", "bool")
FLOATS = ("float32", "float64")

UNARY_FLOAT = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan",
               "arcsin", "arcsinh", "sinh", "cosh", "erf", "erfc", "sigmoid", "softplus",
               "floor", "ceil", "round", "trunc", "reciprocal")
UNARY_ANY = ("negative", "abs", "sign", "square")
BINARY_NUM = ("add", "subtract", "multiply", "maximum", "minimum", "floor_divide", "mod")
BINARY_FLOAT = ("true_divide", "arctan2")
COMPARE = ("less", "less_equal", "greater", "greater_equal", "eq", "neq")
LOGIC = ("logical_and", "logical_or")
BITWISE = ("bitwise_and", "bitwise_or", "bitwise_xor")
REDUCE_ANY = ("sum", "max", "min", "argmax", "argmin", "all", "any", "prod")
REDUCE_FLOAT = ("mean", "var", "std", "logsumexp")
SMOOTH_UNARY = ("sin", "cos", "tanh", "arctan", "sigmoid", "softplus", "square", "erf",
                "arcsinh")
SMOOTH_BINARY = ("add", "subtract", "multiply")


def _fn(name: str) -> Callable:
    return getattr(sg, name)


def _smooth_divide(a: Any, b: Any) -> Any:  # a / (2 + sin b): smooth, never divides by 0
    return a / (2.0 + sg.sin(b))


def _with_constant(x: Any, fn: str, value: list, dtype: str, left: bool) -> Any:
    c = sg.constant(np.asarray(value, dtype=dtype))
    return _fn(fn)(c, x) if left else _fn(fn)(x, c)


SPECIAL: dict[str, Callable] = {
    "relu": lambda x: sg.nn.relu(x),
    "softmax": lambda x, axis: sg.nn.softmax(x, axis=axis),
    "log_softmax": lambda x, axis: sg.nn.log_softmax(x, axis=axis),
    "getitem": lambda x, index: sg.getitem(x, index),
    "scalar_left": lambda x, fn, c: _fn(fn)(c, x),
    "scalar_right": lambda x, fn, c: _fn(fn)(x, c),
    "smooth_divide": _smooth_divide,
    "with_constant": lambda x, fn, value, dtype, left: _with_constant(x, fn, value, dtype, left),
    "concatenate": lambda *xs, axis: sg.concatenate(list(xs), axis=axis),
    "stack": lambda *xs, axis: sg.stack(list(xs), axis=axis),
    "ifelse": lambda c, a, b, fn: sg.ifelse(_fn(fn)(c), a, b),
    "set_subtensor": lambda x, v, index: sg.set_subtensor(sg.getitem(x, index), v),
    "inc_subtensor": lambda x, v, index: sg.inc_subtensor(sg.getitem(x, index), v),
}


@dataclass(frozen=True)
class Leaf:
    dtype: str
    shape: tuple[int, ...]
    declared: tuple[int | None, ...]


@dataclass(frozen=True)
class Step:
    fn: str
    args: tuple[int, ...]
    params: tuple[tuple[str, Any], ...] = ()

    def call(self, values: list) -> Any:
        fn = SPECIAL.get(self.fn) or _fn(self.fn)
        return fn(*(values[i] for i in self.args), **dict(self.params))


@dataclass
class Program:
    leaves: list[Leaf]
    steps: list[Step] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    seed: int = 0
    specials: bool = False

    def build(self, leaves: list) -> list:
        """Replay the steps on `leaves` (symbolic inputs or eager tensors): the outputs."""
        values = list(leaves)
        for step in self.steps:
            values.append(step.call(values))
        return [values[i] for i in self.outputs]

    def symbolic_inputs(self, exact: bool = False) -> list:
        return [sg.tensor(f"x{i}", dtype=leaf.dtype, shape=leaf.shape if exact else leaf.declared)
                for i, leaf in enumerate(self.leaves)]

    def data(self) -> list[np.ndarray]:
        """The input values: random, with NaN/inf/0 sprinkled in when `specials`; some are
        non-contiguous views (negative strides) of a larger buffer."""
        rng = np.random.default_rng(self.seed)
        return [_array(rng, leaf, self.specials) for leaf in self.leaves]

    def __str__(self) -> str:
        lines = ["import numpy as np, symgraph as sg"]
        for i, leaf in enumerate(self.leaves):
            lines.append(f"x{i} = sg.tensor('x{i}', dtype='{leaf.dtype}', shape={leaf.declared})"
                         f"  # value shape {leaf.shape}")
        n = len(self.leaves)
        for k, step in enumerate(self.steps):
            args = [f"{'x' if i < n else 'v'}{i if i < n else i - n}" for i in step.args]
            params = "".join(f", {key}={value!r}" for key, value in step.params)
            lines.append(f"v{k} = {step.fn}({', '.join(args)}{params})")
        outs = ", ".join(f"{'x' if i < n else 'v'}{i if i < n else i - n}" for i in self.outputs)
        lines.append(f"outputs = [{outs}]  # data: Program.data() with seed={self.seed}, "
                     f"specials={self.specials}")
        return "\n".join(lines)


def _array(rng: np.random.Generator, leaf: Leaf, specials: bool) -> np.ndarray:
    shape = leaf.shape
    if leaf.dtype == "bool":
        value = rng.random(shape) < 0.5
    elif leaf.dtype.startswith("int"):
        value = rng.integers(-4, 5, size=shape).astype(leaf.dtype)
    else:
        value = (rng.standard_normal(shape) * 1.5).astype(leaf.dtype)
        if specials and value.size:
            mask = rng.random(shape) < 0.15
            picks = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0]), size=shape)
            value = np.where(mask, picks, value).astype(leaf.dtype)
    value = np.asarray(value)
    if value.ndim and rng.random() < 0.3:  # same values, reversed layout: a negative stride
        axis = int(rng.integers(value.ndim))
        flipped = np.ascontiguousarray(np.flip(value, axis))
        value = np.flip(flipped, axis)
    return value


# -- drawing -----------------------------------------------------------------------------------

def _shape(draw: Any, max_ndim: int = 3) -> tuple[int, ...]:
    ndim = draw(st.integers(0, max_ndim))
    return tuple(draw(st.sampled_from((1, 2, 3, 2, 3, 0, 4))) for _ in range(ndim))


def _broadcastable(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with `shape`: a suffix of it with some dims set to 1."""
    keep = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - keep:]
    return tuple(1 if draw(st.booleans()) and draw(st.booleans()) else d for d in tail)


def _pick(draw: Any, types: list, ok: Callable[[Any], bool]) -> int | None:
    candidates = [i for i, t in enumerate(types) if ok(t)]
    return draw(st.sampled_from(candidates)) if candidates else None


def _known(t: Any) -> bool:
    return all(d is not None for d in t.shape)


def _axis(draw: Any, ndim: int) -> Any:
    if ndim == 0:
        return None
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return None
    if choice == 3 and ndim > 1:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        return tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    axis = draw(st.integers(-ndim, ndim - 1))
    return axis


def _elemwise(draw: Any, types: list) -> Step | None:
    i = _pick(draw, types, lambda t: True)
    t = types[i]
    kind = draw(st.integers(0, 10))
    if kind <= 2 and t.dtype in FLOATS:
        return Step(draw(st.sampled_from(UNARY_FLOAT)), (i,))
    if kind == 3 and t.dtype != "bool":
        return Step(draw(st.sampled_from(UNARY_ANY)), (i,))
    j = i if draw(st.integers(0, 4)) == 0 else _pick(draw, types, lambda u: _broadcasts(t, u))
    if j is None:
        return None
    u = types[j]
    floats = t.dtype in FLOATS or u.dtype in FLOATS
    if kind <= 5 and "bool" not in (t.dtype, u.dtype):
        return Step(draw(st.sampled_from(BINARY_NUM + ("power",) + (BINARY_FLOAT if floats
                                                                    else ()))), (i, j))
    if kind == 6:
        return Step(draw(st.sampled_from(COMPARE)), (i, j))
    if kind == 7 and t.dtype == u.dtype == "bool":
        return Step(draw(st.sampled_from(LOGIC + BITWISE)), (i, j))
    if kind == 7 and t.dtype in ("int32", "int64", "bool") and u.dtype in ("int32", "int64"):
        return Step(draw(st.sampled_from(BITWISE)), (i, j))
    if kind == 8:
        c = _pick(draw, types, lambda w: w.dtype == "bool" and _broadcasts(t, w))
        if c is not None:
            return Step("where", (c, i, j))
    if kind == 9 and t.dtype != "bool" and _known(t):
        shape = _broadcastable(draw, t.shape)
        fn = draw(st.sampled_from(BINARY_NUM + ("true_divide", "power")))
        value = np.random.default_rng(draw(st.integers(0, 99))).integers(-2, 3, shape)
        dtype = draw(st.sampled_from(("float32", "float64", "int64")))
        return Step("with_constant", (i,), (("fn", fn), ("value", value.tolist()),
                                            ("dtype", dtype), ("left", draw(st.booleans()))))
    if kind != 10 and t.dtype != "bool":
        fn = draw(st.sampled_from(("add", "multiply", "subtract", "maximum", "minimum",
                                   "true_divide", "power")))
        c = draw(st.sampled_from((2, -1, 0.5, 3.0, 0, 1, 1.0, 0.0, -0.0, 2.0)))
        side = draw(st.sampled_from(("scalar_left", "scalar_right")))
        return Step(side, (i,), (("fn", fn), ("c", c)))
    return Step("cast", (i,), (("dtype", draw(st.sampled_from(DTYPES))),))


def _broadcasts(t: Any, u: Any) -> bool:
    for a, b in zip(reversed(t.shape), reversed(u.shape)):
        if a is None or b is None or not (a == b or a == 1 or b == 1):
            return False
    return True


def _reduce(draw: Any, types: list) -> Step | None:
    i = _pick(draw, types, _known)
    t = types[i]
    names = REDUCE_ANY + (REDUCE_FLOAT if t.dtype in FLOATS else ())
    name = draw(st.sampled_from(names + ("cumsum",)))
    if name == "cumsum":
        axis = draw(st.sampled_from((None,) + tuple(range(-t.ndim, t.ndim))))
        return Step(name, (i,), (("axis", axis),))
    axis = _axis(draw, t.ndim)
    if name in ("argmax", "argmin") and isinstance(axis, tuple):
        axis = axis[0]
    return Step(name, (i,), (("axis", axis), ("keepdims", draw(st.booleans()))))


def _shape_step(draw: Any, types: list) -> Step | None:
    i = _pick(draw, types, _known)
    t = types[i]
    shape = t.shape
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return Step("reshape", (i,), (("shape", _reshape_target(draw, shape)),))
    if kind == 1:
        perm = tuple(draw(st.permutations(range(t.ndim))))
        return Step("transpose", (i,), (("axes", perm if draw(st.booleans()) else None),))
    if kind == 2:
        return Step("expand_dims", (i,), (("axis", draw(st.integers(-t.ndim - 1, t.ndim))),))
    if kind == 3:
        ones = [a for a, d in enumerate(shape) if d == 1]
        return Step("squeeze", (i,), (("axis", draw(st.sampled_from(ones)) if ones else None),))
    if kind == 4:
        lead = _shape(draw, 1)
        target = lead + tuple(draw(st.sampled_from((d, 2))) if d == 1 else d for d in shape)
        return Step("broadcast_to", (i,), (("shape", target),))
    same = [j for j, u in enumerate(types) if u.dtype == t.dtype and u.shape == shape]
    parts = tuple(draw(st.lists(st.sampled_from(same), min_size=1, max_size=3)))
    if kind == 5 and t.ndim:
        return Step("concatenate", parts, (("axis", draw(st.integers(-t.ndim, t.ndim - 1))),))
    return Step("stack", parts, (("axis", draw(st.integers(-t.ndim - 1, t.ndim))),))


def _reshape_target(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    size = int(np.prod(shape))
    if size == 0:
        return draw(st.sampled_from(((0,), (0, 3), (2, 0), (0, 1))))
    factors = [d for d in range(1, size + 1) if size % d == 0]
    first = draw(st.sampled_from(factors))
    target = (first, size // first)
    if draw(st.booleans()):
        target = (-1, target[1]) if draw(st.booleans()) else (size,)
    return target


def _index(draw: Any, types: list) -> Step | None:
    i = _pick(draw, types, lambda t: _known(t) and t.ndim > 0)
    if i is None:
        return None
    shape = types[i].shape
    index: list[Any] = []
    for d in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.integers(0, 4))
        if kind == 0 and d > 0:
            index.append(draw(st.integers(-d, d - 1)))
        elif kind == 1:
            index.append(None)
        else:
            start = draw(st.sampled_from((None, 0, 1, -1, -2)))
            stop = draw(st.sampled_from((None, 1, -1, 3, 0)))
            step = draw(st.sampled_from((None, 1, 2, -1, -2)))
            index.append(slice(start, stop, step))
    if draw(st.integers(0, 3)) == 0:
        index.insert(0, Ellipsis)
    mode = draw(st.integers(0, 3))
    if mode == 0:  # a functional update of the same region
        try:
            region = sg.getitem(sg.tensor(shape=shape, dtype=types[i].dtype), tuple(index))
        except (sg.SymgraphError, IndexError):
            return None
        j = _pick(draw, types, lambda u: u.dtype == types[i].dtype and _known(u)
                  and _broadcasts(region.type, u) and u.ndim <= region.ndim)
        if j is not None:
            name = draw(st.sampled_from(("set_subtensor", "inc_subtensor")))
            return Step(name, (i, j), (("index", tuple(index)),))
    return Step("getitem", (i,), (("index", tuple(index)),))


def _linalg(draw: Any, types: list) -> Step | None:
    i = _pick(draw, types, lambda t: _known(t) and t.ndim in (1, 2) and t.dtype != "bool")
    if i is None:
        return None
    t = types[i]
    j = _pick(draw, types, lambda u: _known(u) and 1 <= u.ndim <= 2 and u.dtype != "bool"
              and u.shape[0] == t.shape[-1])
    if j is None:
        return Step("outer", (i, i))
    return Step(draw(st.sampled_from(("matmul", "dot"))), (i, j))


def _nn(draw: Any, types: list) -> Step | None:
    i = _pick(draw, types, lambda t: _known(t) and t.dtype in FLOATS)
    if i is None:
        return None
    t = types[i]
    name = draw(st.sampled_from(("relu", "softmax", "log_softmax")))
    if name == "relu" or t.ndim == 0:
        return Step("relu", (i,))
    return Step(name, (i,), (("axis", draw(st.integers(-t.ndim, t.ndim - 1))),))


def _control(draw: Any, types: list) -> Step | None:
    """ifelse on a data-dependent scalar condition, both branches of the same type."""
    c = _pick(draw, types, lambda t: t.dtype == "bool")
    i = _pick(draw, types, _known)
    j = _pick(draw, types, lambda u: u.dtype == types[i].dtype and u.shape == types[i].shape)
    if c is None:
        return None
    return Step("ifelse", (c, i, j), (("fn", draw(st.sampled_from(("any", "all")))),))


FAMILIES: dict[str, Callable] = {"elemwise": _elemwise, "control": _control, "reduce": _reduce,
                                 "shape": _shape_step, "index": _index, "linalg": _linalg,
                                 "nn": _nn}
# The families the numba backend lowers (all of them since its view/index/matmul kinds).
NUMBA_FAMILIES = ("elemwise", "reduce", "shape", "index", "linalg", "nn", "control")


def _smooth(draw: Any, types: list) -> Step | None:
    """Differentiable steps whose gradient exists everywhere on the data (for grad checks)."""
    i = _pick(draw, types, _known)
    t = types[i]
    kind = draw(st.integers(0, 9))
    j = _pick(draw, types, lambda u: _broadcasts(t, u))
    if kind <= 2:
        return Step(draw(st.sampled_from(SMOOTH_UNARY)), (i,))
    if kind <= 4:
        return Step(draw(st.sampled_from(SMOOTH_BINARY + ("smooth_divide",))), (i, j))
    if kind == 5:
        name = draw(st.sampled_from(("sum", "mean", "logsumexp", "prod", "cumsum", "var")))
        if name == "cumsum":
            return Step(name, (i,), (("axis", draw(st.sampled_from((None, -1, 0)))
                                      if t.ndim else None),))
        return Step(name, (i,), (("axis", _axis(draw, t.ndim)), ("keepdims", draw(st.booleans()))))
    if kind == 6:
        return _shape_step(draw, types)
    if kind == 7:
        return _index(draw, types)
    if kind == 8:
        return _linalg(draw, types)
    return _nn(draw, types) if draw(st.booleans()) else Step("tanh", (i,))


FAMILIES["smooth"] = _smooth
SMOOTH = ("smooth",)


@st.composite
def programs(draw: Any, families: tuple[str, ...] = tuple(FAMILIES)[:7],
             dtypes: tuple[str, ...] = DTYPES, max_leaves: int = 3, max_steps: int = 10,
             specials: bool = True, min_steps: int = 2) -> Program:
    """A random well-typed Program over `families`, leaves of `dtypes`."""
    leaves = []
    for _ in range(draw(st.integers(1, max_leaves))):
        shape = _shape(draw)
        declared = tuple(None if draw(st.booleans()) else d for d in shape)
        leaves.append(Leaf(draw(st.sampled_from(dtypes)), shape, declared))
    program = Program(leaves, seed=draw(st.integers(0, 2**31)),
                      specials=specials and draw(st.booleans()))
    nodes = program.symbolic_inputs(exact=True)
    weighted = [f for f in families for _ in range(3 if f == "elemwise" else 1)]
    for _ in range(draw(st.integers(min(min_steps, max_steps), max_steps))):
        step = FAMILIES[draw(st.sampled_from(weighted))](draw, [n.type for n in nodes])
        if step is None:
            continue
        try:
            node = step.call(nodes)
        except (sg.SymgraphError, ValueError, TypeError, IndexError):
            continue  # static inference refused it: not a well-typed step
        program.steps.append(step)
        nodes.append(node)
    last = len(nodes) - 1
    extra = draw(st.integers(len(leaves), last)) if last >= len(leaves) else last
    program.outputs = sorted({last, extra})
    return program
