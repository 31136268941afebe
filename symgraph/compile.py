"""function(): from symbolic outputs to one fast callable.

The pipeline, in order:

    graph   = Graph(inputs, outputs + update values), givens substituted
    graph   = optimize(graph)            # the passes in PASSES, one per line, in order
    runner  = backend.lower(graph)       # generated code (numba), kernels (cuda), or the
                                         # reference interpreter (python)
    Function(graph, runner)              # input checks, shared variables, atomic updates
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable, Sequence

import numpy as np

from symgraph import printing, rewrite
from symgraph.api.base import as_variable, operands
from symgraph.config import config
from symgraph.dtypes import can_cast, is_python_scalar
from symgraph.errors import DTypeError, ShapeError, SymgraphError
from symgraph.graph import DeviceValue, Graph, Input, Node, SharedVariable, leaves, substitute
from symgraph.rewrite import store
from symgraph.verify import verify

Pass = Callable[[Graph], Graph]

# The optimizer's passes, in the order they run (see symgraph/rewrite/ and docs/optimizer.md).
PASSES: list[Pass] = [
    rewrite.canonicalize,  # x - c -> x + -c, constants last, left-deep sums
    rewrite.fold,          # constant subgraphs -> constants (size-capped)
    rewrite.simplify,      # x*1, --x, log(exp(x)), sum_to(g, shape(x)) with g shaped like x
    rewrite.stabilize,     # log(1+x) -> log1p, log(softmax) -> log_softmax, ...
    rewrite.specialize,    # x**2 -> x*x, x**0.5 -> sqrt
    rewrite.share_log_softmax,  # softmax(z) and cross_entropy(z, l): one log_softmax(z)
    rewrite.optimize_loops,  # scan steps optimized, invariants hoisted, unused history dropped
    rewrite.fuse,          # elementwise chains -> Fused, their reductions -> FusedReduce
    rewrite.plan_reuse,    # graph.reuse: outputs that may overwrite a dead input
]


def optimize(graph: Graph, passes: Sequence[Pass] | None = None) -> Graph:
    """Run each pass in order; SYMGRAPH_DEBUG>=2 prints the graph after each, and
    SYMGRAPH_DEBUG>=3 verifies it (see symgraph/verify.py)."""
    for rewrite_pass in PASSES if passes is None else passes:
        before, graph = graph, rewrite_pass(graph)
        if config.debug >= 2:
            print(f"== after {rewrite_pass.__name__} ({len(graph)} nodes)\n{graph}\n")
        if config.debug >= 3:
            verify(graph, before)
    return graph


def _as_list(value: Any) -> tuple[list[Any], bool]:
    if isinstance(value, (list, tuple)):
        return list(value), False
    return [value], True


def _check_updates(updates: Any) -> list[tuple[SharedVariable, Node]]:
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates or [])
    checked = []
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise SymgraphError(f"updates: each update is a pair (shared, new value), got "
                                f"{pair!r}; write updates=[(w, w - 0.1 * g), ...]")
        target, value = pair
        if not isinstance(target, SharedVariable):
            raise SymgraphError(f"updates: {target!r} is not a shared variable; only "
                                "sg.shared variables can be updated")
        (value,) = operands(value) if is_python_scalar(value) else (as_variable(value),)
        if value.dtype != target.dtype:
            if not can_cast(value.dtype, target.dtype):
                raise DTypeError(
                    f"updates: shared {target.name or '<unnamed>'} is {target.dtype} but its "
                    f"update is {value.type}; cast the update with .astype('{target.dtype}')")
            value = value.astype(target.dtype)
        if value.ndim != target.ndim:
            raise ShapeError(f"updates: shared {target.name or '<unnamed>'} is {target.ndim}-d "
                             f"but its update is {value.type}")
        if any(d is not None and u is not None and d != u
               for d, u in zip(target.type.shape, value.type.shape)):
            raise ShapeError(f"updates: shared {target.name or '<unnamed>'} has the fixed "
                             f"shape {target.type.shape} but its update is {value.type}")
        checked.append((target, value))
    if len({id(t) for t, _ in checked}) != len(checked):
        raise SymgraphError("updates: a shared variable is updated twice")
    return checked


def _default_updates(roots: list[Node], pairs: list) -> list:
    """The default updates of shared variables the graph reads and `updates` leave alone."""
    explicit = {id(target) for target, _ in pairs}
    extra: list = []
    frontier = roots
    while frontier:
        found = [n for n in leaves(frontier) if isinstance(n, SharedVariable)
                 and n.default_update is not None and id(n) not in explicit]
        for target in found:
            explicit.add(id(target))
            extra += _check_updates([(target, target.default_update)])
        frontier = [target.default_update for target in found]
    return extra


def _check_given(target: Any, value: Any) -> None:
    """A replacement in `givens` has the type of what it replaces (the graph was built, and
    its types inferred, for that one)."""
    if not isinstance(target, Node) or not isinstance(value, Node):
        raise SymgraphError(f"function: givens map symbolic variables to replacements, got "
                            f"{target!r}: {value!r}")
    label = target.name or repr(target)
    if value.dtype != target.dtype:
        raise DTypeError(f"function: givens replace {label} ({target.type}) with a "
                         f"{value.type} value; the dtypes must be the same (sg.cast it)")
    known = zip(target.type.shape, value.type.shape)
    if value.ndim != target.ndim or any(a is not None and b is not None and a != b
                                        for a, b in known):
        raise ShapeError(f"function: givens replace {label} ({target.type}) with a "
                         f"{value.type} value; the shapes must agree")


def function(inputs: Sequence[Input], outputs: Any, updates: Any = None,
             givens: Any = None, backend: str | None = None, optimize: bool = True,
             name: str | None = None, check_nan: bool = False) -> Function:
    """Compile `outputs` as a function of `inputs`.

    updates: pairs `(shared, new_value)` applied together after each successful call (every
    right side reads the values from before the call). givens: `{variable: replacement}`
    substituted before compiling. backend: "numba" | "cuda" | "python" (default
    `sg.config.backend`). optimize=False compiles the graph as written.
    """
    from backends import get as get_backend

    if not isinstance(inputs, (list, tuple)):
        raise SymgraphError(f"function: inputs must be a list of symbolic variables, got "
                            f"{inputs!r}; write sg.function([x], ...)")
    inputs = list(inputs)
    for i, node in enumerate(inputs):
        if not isinstance(node, Input):
            raise SymgraphError(f"function: input {i} is {node!r}; inputs must be symbolic "
                                "variables made with sg.tensor, sg.matrix, …")
    if len({id(n) for n in inputs}) != len(inputs):
        raise SymgraphError("function: an input is listed twice")
    output_list, single = _as_list(outputs)
    output_list = [as_variable(o) for o in output_list]
    pairs = _check_updates(updates)
    roots = output_list + [value for _, value in pairs]
    if not all(isinstance(root, Node) for root in roots):  # eager tensors slip through as_variable
        raise SymgraphError("function: an output or update is an eager tensor; a compiled "
                            "function computes symbolic variables: use sg.constant(t.numpy()) "
                            "for a fixed value, or sg.jit to compile eager code")
    pairs += _default_updates(roots, pairs)
    roots = output_list + [value for _, value in pairs]
    if givens:
        mapping = dict(givens.items() if isinstance(givens, dict) else givens)
        mapping = {k: as_variable(v) for k, v in mapping.items()}
        for target, value in mapping.items():
            _check_given(target, value)
        roots = substitute(roots, mapping)
    missing = [n for n in leaves(roots) if isinstance(n, Input) and n not in inputs]
    if missing:
        names = ", ".join(n.name or repr(n) for n in missing)
        raise SymgraphError(f"function: the outputs need input(s) {names} that are not in "
                            "the inputs list; add them, or replace them with givens")
    graph = Graph(inputs, roots)
    backend_name = backend or config.backend
    chosen = get_backend(backend_name)
    # The NaN guard checks node by node, so it keeps ops unfused to name the culprit.
    passes = [p for p in PASSES if p is not rewrite.fuse] if check_nan else None
    if not optimize:
        optimized = graph
    elif passes is None and config.debug < 2:
        # The standard passes: a graph compiled before is read back (SYMGRAPH_DEBUG>=2
        # skips the store, to print and verify every pass as it runs).
        optimized = store.optimized(graph, _optimize)
    else:
        optimized = _optimize(graph, passes)
    optimized.n_outputs = len(output_list)  # the rest are update values
    runner = _nan_guard(optimized) if check_nan else chosen.lower(optimized)
    return Function(inputs, len(output_list), single, [t for t, _ in pairs], graph,
                    optimized, runner, backend_name, name)


def _nan_guard(graph: Graph) -> Callable:
    from symgraph.interpret import evaluate

    def run(inputs: list) -> list:
        return evaluate(graph, inputs, check_nan=True)

    return run


def _optimize(graph: Graph, passes: Sequence[Pass] | None = None) -> Graph:
    """The optimized graph, with `.rewrites` counting the rules that fired."""
    with rewrite.collect_stats() as stats:
        optimized = optimize(graph, passes)
    optimized.rewrites = stats
    return optimized


class Function:
    """A compiled function: `f(*values)` returns an ndarray, or a list for several outputs.

    `.graph` is the optimized graph, `.unoptimized` the graph as written, `.source` the
    generated code where the backend has some. `.cache_hit` is True when the backend's
    machine code came from its cache, `.rewrite_cache_hit` when the optimized graph did
    (docs/optimizer.md, Caching). Calls are thread-safe; calls of a function with updates
    are serialized so each sees the state the previous one left.
    """

    def __init__(self, inputs: list[Input], n_outputs: int, single: bool,
                 update_targets: list[SharedVariable], unoptimized: Graph, graph: Graph,
                 runner: Any, backend: str, name: str | None) -> None:
        self.inputs = inputs
        self.n_outputs = n_outputs
        self.single = single
        self.update_targets = update_targets
        self.unoptimized = unoptimized
        self.graph = graph
        self.runner = runner
        self.backend = backend
        self.name = name
        self.source = getattr(runner, "source", None)
        # The optimizer's rules that fired: {"simplify.mul_by_one": 2, "fuse.fused": 1, ...}
        self.rewrites: Counter = getattr(graph, "rewrites", Counter())
        self.cache_hit = getattr(runner, "cache_hit", None)
        # Whether the optimized graph was read from the disk cache (None: not optimized).
        self.rewrite_cache_hit: bool | None = getattr(graph, "from_cache", None)
        self._lock = threading.Lock() if update_targets else None
        self._fixed_targets = [(k, t) for k, t in enumerate(update_targets)
                               if any(d is not None for d in t.type.shape)]
        self._shared = graph.shared
        # Outputs the backend promises are new arrays aliasing nothing skip the alias checks.
        fresh = getattr(runner, "fresh", None) or (False,) * len(graph.outputs)
        self._fresh_outputs = all(fresh[:n_outputs])
        self._fresh = fresh
        # Per input: (node, dtype, ndim, known dims) for the fast path of check_input.
        self._checks = [(node, np.dtype(node.dtype), node.ndim,
                         tuple((axis, size) for axis, size in enumerate(node.type.shape)
                               if size is not None)) for node in inputs]

    def __call__(self, *args: Any) -> Any:
        # The input checks, in one place: arrays that already fit pass straight through,
        # anything else goes to check_input (conversion, or an error naming the input).
        if len(args) != len(self._checks):
            names = ", ".join(i.name or "?" for i in self.inputs)
            raise TypeError(f"{self.name or 'function'} takes {len(self.inputs)} input(s) "
                            f"({names}), got {len(args)}")
        values = list(args)
        for i, (node, dtype, ndim, known) in enumerate(self._checks):
            value = values[i]
            if (type(value) is not np.ndarray or value.dtype is not dtype or value.ndim != ndim
                    or known and any(value.shape[a] != d for a, d in known)):
                values[i] = check_input(node, value)
        if self._lock is None:
            return self._finish(self.runner(values), values)
        with self._lock:
            results = self.runner(values)
            outputs = self._finish(results, values)
            new_values = results[self.n_outputs:]
            fresh = self._fresh[self.n_outputs:]
            for k, target in self._fixed_targets:   # all checked before any is replaced
                value = new_values[k]
                shape = value.shape if isinstance(value, DeviceValue) else np.shape(value)
                target.check_shape(shape, "update")
            for target, value, new in zip(self.update_targets, new_values, fresh):
                if not isinstance(value, DeviceValue):  # a device value stays where it is
                    value = np.asarray(value)
                    if not new and (any(value is o for o in results[:self.n_outputs])
                                    or not value.flags.owndata
                                    or any(np.may_share_memory(value, v) for v in values)
                                    or any(value is s.container[0] for s in self._shared)):
                        value = value.copy()  # the caller's array, or another's state
                target.container[0] = value
            return outputs

    def _finish(self, results: list[Any], values: list[np.ndarray]) -> Any:
        if self._fresh_outputs:
            return results[0] if self.single else list(results[:self.n_outputs])
        outputs = []
        for out, new in zip(results[:self.n_outputs], self._fresh):
            out = np.asarray(out)
            if not new and (
                    not out.flags.writeable or any(np.may_share_memory(out, v) for v in values)
                    or any(np.may_share_memory(out, o) for o in outputs)
                    or any(np.may_share_memory(out, s.container[0]) for s in self._shared)):
                out = out.copy()
            outputs.append(out)
        return outputs[0] if self.single else outputs

    def __repr__(self) -> str:
        return f"<Function {self.name or ''} backend={self.backend}: {len(self.graph)} nodes>"

    def __str__(self) -> str:
        return printing.listing(self.graph)


def check_input(node: Input, value: Any) -> np.ndarray:
    """`value` as an array fit for input `node`, or a clear error naming the input."""
    label = node.name or "<unnamed>"
    if hasattr(value, "__cuda_array_interface__"):  # a GPU array: checked, never copied here
        return _check_device_input(node, label, value)
    weak = is_python_scalar(value) or isinstance(value, (list, tuple))
    try:
        array = np.asarray(value)
    except ValueError as error:  # a ragged list
        raise ShapeError(f"input {label}: {value!r} is not an array ({error})") from None
    if weak and array.dtype.kind in "biuf":
        kinds = "b" if node.dtype == "bool" else "biu" if node.dtype[0] in "iu" else "biuf"
        if array.dtype.kind not in kinds:
            raise DTypeError(f"input {label}: got {value!r}, declared {node.type}")
        with np.errstate(all="ignore"):
            cast = array.astype(node.dtype)
        if array.dtype.kind in "iu" and not np.array_equal(cast, array):
            raise DTypeError(f"input {label}: {value!r} does not fit in {node.dtype}")
        array = cast
    elif array.dtype.name != node.dtype:
        if not can_cast(array.dtype.name, node.dtype):
            raise DTypeError(
                f"input {label}: got {array.dtype.name} data, declared {node.type}; only safe "
                f"casts are automatic: convert with .astype('{node.dtype}') or declare the "
                f"input as {array.dtype.name}")
        array = array.astype(node.dtype)
    elif not array.dtype.isnative:  # '>f4' on a little-endian machine: the same values
        array = array.astype(array.dtype.newbyteorder("="))
    if array.ndim != node.ndim:
        raise ShapeError(f"input {label}: got a {array.ndim}-d array of shape {array.shape}, "
                         f"declared {node.type} ({node.ndim}-d)")
    if not node.type.accepts_shape(array.shape):
        raise ShapeError(f"input {label}: got shape {array.shape}, declared {node.type}")
    return array


def _check_device_input(node: Input, label: str, value: Any) -> Any:
    """A device array (CuPy, PyTorch, numba) for the cuda backend, checked from its
    `__cuda_array_interface__`: same dtype (no casts on the device) and a fitting shape."""
    interface = value.__cuda_array_interface__
    dtype = np.dtype(interface["typestr"]).name
    shape = tuple(interface["shape"])
    if dtype != node.dtype:
        raise DTypeError(f"input {label}: got {dtype} device data, declared {node.type}; "
                         f"convert it on the device first (.astype('{node.dtype}'))")
    if len(shape) != node.ndim or not node.type.accepts_shape(shape):
        raise ShapeError(f"input {label}: got a device array of shape {shape}, declared "
                         f"{node.type}")
    return value
