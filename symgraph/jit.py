"""sg.jit: trace define-by-run code into a graph, compile it once per input signature.

`sg.jit(fn)` returns a callable. On a call it flattens the arguments (arrays, eager tensors,
and tuples/lists/dicts of them; Python numbers and None are static), looks up the signature
— the structure, each array's dtype and shape, the static values — and on a miss traces
`fn` on symbolic inputs of exactly those dtypes and shapes, compiles the result with
`sg.function` on the chosen backend, and caches it. The outputs come back as NumPy arrays
in the structure `fn` returned.

Tracing runs the Python code once: Python `if`/`while` on a traced value cannot work (its
value is unknown while tracing), and the error says so and where. Parameters are plain
arguments: a training step takes the parameters and returns the new ones (functional
updates), see docs/eager.md.

`sg.value_and_grad(fn)` gives `fn`'s value and its gradient with respect to an argument: on
eager tensors and arrays by the tape, on symbolic values (inside sg.jit) by `sg.grad`.
"""

from __future__ import annotations

import functools
import linecache
import os
import threading
from typing import Any, Callable, Sequence

import numpy as np

from symgraph.dtypes import as_dtype, is_python_scalar, name_of
from symgraph.errors import SymgraphError
from symgraph.graph import Node

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


# -- argument trees ----------------------------------------------------------------------

def _flatten(tree: Any, leaves: list[Any]) -> tuple:
    """Append the array-like leaves of `tree` to `leaves`; return its (hashable) structure."""
    if isinstance(tree, (tuple, list)):
        return (type(tree), tuple(_flatten(t, leaves) for t in tree))
    if isinstance(tree, dict):
        return (dict, tuple(tree), tuple(_flatten(t, leaves) for t in tree.values()))
    if is_python_scalar(tree) and isinstance(tree, float):
        # by its bits: -0.0 is not 0.0, and a NaN finds the trace of NaN again
        return ("static", float, tree.hex())
    if tree is None or is_python_scalar(tree) or isinstance(tree, str):
        return ("static", type(tree), tree)
    leaves.append(tree)
    return ("leaf",)


def _unflatten(structure: tuple, leaves: Any, statics: bool = True) -> Any:
    """Rebuild a tree of `structure` from an iterator of leaves (static entries as they
    were, or None when `statics` is False: a gradient tree has none for them)."""
    kind = structure[0]
    if kind == "leaf":
        return next(leaves)
    if kind == "static":
        if not statics:
            return None
        return float.fromhex(structure[2]) if structure[1] is float else structure[2]
    if kind is dict:
        return {k: _unflatten(s, leaves, statics) for k, s in zip(structure[1], structure[2])}
    items = [_unflatten(s, leaves, statics) for s in structure[1]]
    return kind(*items) if hasattr(kind, "_fields") else kind(items)  # namedtuples too


def _names(structure: tuple, prefix: str) -> list[str]:
    """A readable name per leaf of `structure` (`params['w']`, `arg1[0]`), in order."""
    kind = structure[0]
    if kind == "leaf":
        return [prefix]
    if kind == "static":
        return []
    if kind is dict:
        labels = [f"{prefix}[{key!r}]" for key in structure[1]]
        children = structure[2]
    else:
        children = structure[1]
        labels = [f"{prefix}[{i}]" for i in range(len(children))]
    return [name for label, child in zip(labels, children) for name in _names(child, label)]


def _array(leaf: Any) -> np.ndarray:
    """A leaf's value: eager tensors give theirs, anything else goes through NumPy."""
    if _is_eager(leaf):
        return leaf._value
    array = np.asarray(leaf)
    if array.dtype == object:
        raise SymgraphError(f"cannot use {type(leaf).__name__} {leaf!r} as an array argument")
    dtype = as_dtype(name_of(array.dtype))
    return array if name_of(array.dtype) == dtype else array.astype(dtype)


# -- jit -------------------------------------------------------------------------------------

def jit(fn: Callable | None = None, *, backend: str | None = None) -> Any:
    """Compile define-by-run `fn` into a graph function, once per input signature.

    Use as `sg.jit(fn)`, `@sg.jit` or `@sg.jit(backend="numba")`. Arguments may be NumPy
    arrays, eager tensors, or tuples/lists/dicts of them; Python numbers are static (a new
    value traces again). Returns NumPy arrays in the structure `fn` returns. The result has
    `trace_count` and `hit_count`, and `function_for(*args)` gives the compiled Function.
    """
    if fn is None:
        return functools.partial(jit, backend=backend)
    return Jitted(fn, backend)


class Jitted:
    """A jitted function: a cache from input signature to compiled Function."""

    def __init__(self, fn: Callable, backend: str | None) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.backend = backend
        self.cache: dict[tuple, tuple[Any, tuple]] = {}
        self.trace_count = 0
        self.hit_count = 0
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"jit({getattr(self.fn, '__qualname__', repr(self.fn))})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves: list[Any] = []
        structure = _flatten((args, kwargs), leaves)
        if any(isinstance(leaf, Node) for leaf in leaves):
            return self.fn(*args, **kwargs)  # called while tracing something bigger: inline
        arrays = [_array(leaf) for leaf in leaves]
        function, out_structure = self._compiled(structure, arrays)
        outputs = function(*arrays)
        return _unflatten(out_structure, iter(outputs))

    def function_for(self, *args: Any, **kwargs: Any) -> Any:
        """The compiled Function for these arguments' signature (traced if needed)."""
        leaves: list[Any] = []
        structure = _flatten((args, kwargs), leaves)
        return self._compiled(structure, [_array(leaf) for leaf in leaves])[0]

    def _compiled(self, structure: tuple, arrays: Sequence[np.ndarray]) -> tuple[Any, tuple]:
        key = (structure, tuple((name_of(a.dtype), a.shape) for a in arrays))
        with self._lock:
            entry = self.cache.get(key)
            if entry is None:
                entry = self.cache[key] = self._trace(structure, arrays)
                self.trace_count += 1
            else:
                self.hit_count += 1
        return entry

    def _trace(self, structure: tuple, arrays: Sequence[np.ndarray]) -> tuple[Any, tuple]:
        from symgraph.api.base import as_variable, tensor
        from symgraph.compile import function

        (_, (positional, keywords)) = structure
        names = [name for i, child in enumerate(positional[1]) for name in _names(child, f"arg{i}")]
        names += [name for key, child in zip(keywords[1], keywords[2])
                  for name in _names(child, key)]
        inputs = [tensor(name, name_of(a.dtype), a.shape) for name, a in zip(names, arrays)]
        args, kwargs = _unflatten(structure, iter(inputs))
        try:
            result = self.fn(*args, **kwargs)
        except (SymgraphError, TypeError) as error:
            better = self._explain(error)
            if better is None:
                raise
            raise better from None
        out_leaves: list[Any] = []
        out_structure = _flatten(result, out_leaves)
        outputs = [as_variable(np.asarray(o) if _is_eager(o) else o) for o in out_leaves]
        return function(inputs, outputs, backend=self.backend, name=self.label), out_structure

    def _explain(self, error: Exception) -> SymgraphError | None:
        """A tracing error that says what went wrong in the user's code, or None to keep
        the original error."""
        where, line = _user_line(error)
        message = str(error)
        if isinstance(error, SymgraphError) and "truth value of symbolic" in message:
            what = "Python control flow (if/while/and/or/bool) depends on a traced value"
        elif isinstance(error, TypeError) and ("'Node'" in message or "'Input'" in message):
            what = "a traced value is converted to a Python number (float/int/len/range)"
        elif isinstance(error, SymgraphError) and "cannot mix" in message:
            return SymgraphError(
                f"{self.label}: an eager tensor from outside the function (a global or a "
                f"closure variable) meets a traced value at {where}{line}\n{message}\nPass "
                "every tensor the function needs as an argument: sg.jit traces only its "
                "arguments; parameters are arguments, and a training step returns the new "
                "ones.")
        else:
            return None
        return SymgraphError(
            f"{self.label}: {what} at {where}{line}\nWhile sg.jit traces the function its "
            "arguments are symbolic: their values are unknown until the compiled function "
            "runs, so Python cannot choose a branch or count a loop with them. Put the "
            "choice into the graph instead: sg.where(cond, a, b) for an elementwise choice, "
            "sg.ifelse(cond, a, b) for a lazy branch, sg.scan(fn, ...) for a loop; or pass "
            "the condition as a Python number (static: traced again for each value); or "
            "run the function eagerly, without sg.jit.")


def _is_eager(value: Any) -> bool:
    return type(value).__name__ == "Tensor" and type(value).__module__ == "symgraph.eager"


def _user_line(error: Exception) -> tuple[str, str]:
    """`file.py:LINE` of the innermost frame outside symgraph in the error's traceback, and
    that line's source."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return "an unknown line", ""
    filename, lineno = found
    source = linecache.getline(filename, lineno).strip()
    return f"{os.path.basename(filename)}:{lineno}", f": `{source}`" if source else ""


# -- value_and_grad ----------------------------------------------------------------------

def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable:
    """`fn` returning (value, gradient of value with respect to argument `argnums`).

    The gradient has the structure of that argument (an array, or a tuple/list/dict of
    them); with a tuple of argnums, a tuple of such gradients. `fn` must return a scalar
    (or `(scalar, aux)` with has_aux=True, giving `((value, aux), grads)`). Works eagerly
    — arrays and tensors in, eager tensors out, by the tape — and on symbolic values
    (inside sg.jit) by `sg.grad`; unconnected arguments get zero gradients.
    """
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        for i in nums:
            if not -len(args) <= i < len(args):
                raise SymgraphError(f"value_and_grad: argnums {argnums} is out of range for "
                                    f"{len(args)} argument(s)")
        leaves: list[Any] = []
        _flatten(args, leaves)
        if any(isinstance(leaf, Node) for leaf in leaves):
            return _symbolic(fn, args, nums, argnums, has_aux)
        return _eager(fn, args, nums, argnums, has_aux)

    return wrapped


def _split(out: Any, has_aux: bool) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise SymgraphError("value_and_grad(has_aux=True): the function must return a pair "
                            "(scalar value, auxiliary data)")
    return out[0], out[1]


def _pack(value: Any, aux: Any, has_aux: bool) -> Any:
    return (value, aux) if has_aux else value


def _symbolic(fn: Callable, args: tuple, nums: tuple, argnums: Any, has_aux: bool) -> Any:
    from symgraph.grad import grad

    value, aux = _split(fn(*args), has_aux)
    structures, wrt = [], []
    for i in nums:
        leaves: list[Any] = []
        structures.append(_flatten(args[i], leaves))
        for leaf in leaves:
            if not isinstance(leaf, Node):
                raise SymgraphError(f"value_and_grad: argument {i} mixes traced and untraced "
                                    f"values ({type(leaf).__name__}); pass arrays for all")
        wrt += leaves
    grads = iter(grad(value, wrt, disconnected="zero") if wrt else [])
    trees = tuple(_unflatten(s, grads, statics=False) for s in structures)
    return _pack(value, aux, has_aux), trees[0] if isinstance(argnums, int) else trees


def _eager(fn: Callable, args: tuple, nums: tuple, argnums: Any, has_aux: bool) -> Any:
    from symgraph import eager

    new_args = list(args)
    structures, wrt = [], []
    for i, arg in enumerate(args):
        leaves: list[Any] = []
        structure = _flatten(arg, leaves)
        if i in nums or i - len(args) in nums:
            # fresh leaves: the caller's tensors keep their own .grad and tape untouched
            values = [_array(leaf) for leaf in leaves]
            fresh = [eager.Tensor(v, name_of(v.dtype)).requires_grad_() for v in values]
            structures.append(structure)
            wrt += fresh
        else:
            fresh = [eager.as_tensor(_array(leaf)) if not _is_eager(leaf) else leaf
                     for leaf in leaves]
        new_args[i] = _unflatten(structure, iter(fresh))
    with eager.enable_grad():
        value, aux = _split(fn(*new_args), has_aux)
    value = eager.as_tensor(value)
    if value.size != 1:
        raise SymgraphError(f"value_and_grad: the function must return a scalar, it returned "
                            f"shape {value.shape}; reduce it with sg.sum or .mean()")
    if value.requires_grad:
        grads = iter(eager.grad_of(value, wrt))
    else:
        grads = iter(eager.as_tensor(np.zeros(x.shape, x.dtype)) for x in wrt)
    trees = tuple(_unflatten(s, grads, statics=False) for s in structures)
    return _pack(value.detach(), aux, has_aux), trees[0] if isinstance(argnums, int) else trees
