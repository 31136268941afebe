"""Kinds "ifelse" and "scan": control flow as compiled code in the graph's own module.

Each inner graph (an ifelse branch, a scan step) becomes its own `@njit` function in the
same generated module (`codegen.generate_function`), fused and lowered like any other
graph. An ifelse is a plain `if` in `entry` calling one of its two branch functions; a
scan is a `scan{j}` function holding the `for t in range(n)` loop, which calls the step
function, keeps only the history its taps read, and writes each step's outputs into
arrays preallocated from the first step's results. Nothing runs in Python per step.

Semantics follow `Scan.reference` and `IfElse.reference` exactly: negative or zero steps
give zero-length outputs (shaped like the initial state, or the static shape with unknown
dims as 0), `go_backwards` reads the sequences from their last row, a sequence longer than
n_steps is read from its start, a shorter one is a ShapeError.

The runtime helpers below are imported by the generated modules.
"""

from __future__ import annotations

from numba import njit
from numba.extending import overload

from backends.numba_cpu.kernels.loops import error_message
from backends.numba_cpu.memory import converted, new_empty, shaped
from symgraph.graph import Graph, Node

_HELPER = dict(cache=True, error_model="numpy", no_cfunc_wrapper=True)


def contiguous(a):
    """`a` as a C-contiguous writable array: itself when it is one, else a copy, so every
    value an inner function returns has one numba type whatever produced it."""


@overload(contiguous)
def _contiguous(a):
    if a.layout == "C" and a.mutable:
        return lambda a: a
    return lambda a: converted(a, a.dtype)  # a new C-contiguous array (memory.py)


@njit(**_HELPER)
def row0d(s, i):
    """Row `i` of a 1-d sequence as the 0-d array a step takes."""
    out = shaped(new_empty(1, s.dtype), ())
    out[()] = s[i]
    return out


def _optimized(graph: Graph, loops: bool) -> Graph:
    """The inner graph through the optimizer passes still useful here: a scan step has been
    simplified by optimize_loops but not fused; a branch has not been optimized at all."""
    from symgraph import rewrite
    from symgraph.compile import PASSES, optimize

    if loops:
        return optimize(graph, [rewrite.optimize_loops, rewrite.fuse])
    # No buffer-reuse plan: a branch's inputs are the caller's arrays, never dead.
    return optimize(graph, [p for p in PASSES if p is not rewrite.plan_reuse])


def lower_ifelse(node: Node, names) -> list[str]:
    """`if cond:` call the then-function, else the else-function; both return tuples of
    C-contiguous arrays of the same dtypes and ranks (IfElse.infer checked them)."""
    from backends.numba_cpu.codegen import generate_function

    op = node.op
    v = names[node]
    free = [names[i] for i in node.inputs[1:]]
    calls = []
    for prefix, graph in (("then", op.then_graph), ("otherwise", op.else_graph)):
        name = names.function_name(prefix)
        extra = generate_function(_optimized(graph, loops=False), name, names)
        calls.append(f"{v}_r = {name}({', '.join(free + extra)})")
    lines = [f"if {names[node.inputs[0]]}[()]:", "    " + calls[0], "else:", "    " + calls[1]]
    if len(op.then_graph.outputs) == 1:
        return lines + [f"{v} = {v}_r[0]"]
    return lines + [f"{v}_{k} = {v}_r[{k}]" for k in range(len(op.then_graph.outputs))]


def _zero_shape(op, k: int, init: str | None) -> str:
    """The reference's shape of output k after zero steps (leading 0 included)."""
    if init is not None and op.taps[k] == (-1,):
        return f"(0,) + {init}.shape"
    if init is not None:
        return f"(0,) + {init}.shape[1:]"
    dims = [str(d or 0) for d in op.step.outputs[k].type.shape]
    return "(" + "".join(d + ", " for d in ["0"] + dims) + ")"


def _scan_function(node: Node, name: str, step: str, extra: list[str]) -> list[str]:
    """Source of `name(n, sequences..., initial states..., rest..., constants...)`."""
    op = node.op
    outs = op.step.outputs
    n_rest = len(node.inputs) - 1 - op.n_seqs - op.n_states
    seqs = [f"s{j}" for j in range(op.n_seqs)]
    inits = [f"i{j}" for j in range(op.n_states)]
    rest = [f"r{j}" for j in range(n_rest)]
    short = error_message(node, "a sequence is shorter than n_steps")
    lines = [f"def {name}({', '.join(['n'] + seqs + inits + rest + extra)}):",
             "    n = max(np.int64(n), 0)  # a negative count runs no step, as range(n)"]
    for s in seqs:
        lines += [f"    if {s}.shape[0] < n:", f"        raise ShapeError({short})"]
    # History: state j keeps h{j}_{lag} for lag 1..L (L = its oldest tap), newest at lag 1.
    lags = [max(-t for t in taps) for taps in op.taps]
    for j, (taps, lag) in enumerate(zip(op.taps, lags)):
        if taps == (-1,):
            lines.append(f"    h{j}_1 = contiguous(i{j})")
            continue
        rank = node.inputs[1 + op.n_seqs + j].ndim
        lines += [f"    h{j}_{d} = row0d(i{j}, i{j}.shape[0] - {d})" if rank == 1 else
                  f"    h{j}_{d} = contiguous(i{j}[i{j}.shape[0] - {d}])"
                  for d in range(lag, 0, -1)]
    zeros = [f"empty_of({_zero_shape(op, k, inits[k] if k < op.n_states else None)}, "
             f"np.{o.dtype})" for k, o in enumerate(outs)]
    lines += ["    if n == 0:", f"        return ({''.join(z + ', ' for z in zeros)})"]

    def call(t: str) -> str:
        args = []
        for j, seq in enumerate(seqs):
            row = f"{seq}.shape[0] - 1 - {t}" if op.go_backwards else t
            item = "row0d" if node.inputs[1 + j].ndim == 1 else "contiguous"
            args.append(f"{item}({seq}, {row})" if item == "row0d" else f"{item}({seq}[{row}])")
        for j, taps in enumerate(op.taps):
            args += [f"h{j}_{-tap}" for tap in taps]
        return f"x = {step}({', '.join(args + rest + extra)})"

    lines.append("    " + call("0"))
    for k, o in enumerate(outs):
        rows = "1" if k in op.keep_last else "n"
        lines.append(f"    o{k} = empty_of(({rows},) + x[{k}].shape, np.{o.dtype})")
    mismatch = error_message(node, "the step returned values of different shapes at "
                                   "different steps; they are stacked, so they must agree")
    lines += ["    for t in range(n):", "        if t > 0:", "            " + call("t")]
    for k, o in enumerate(outs):
        row = "0" if k in op.keep_last else "t"
        if o.ndim == 0:
            lines.append(f"        o{k}[{row}] = x[{k}][()]")
            continue
        lines += [f"        if x[{k}].shape != o{k}.shape[1:]:",
                  f"            raise ShapeError({mismatch})",
                  f"        copy_into(o{k}[{row}], x[{k}])"]  # (see memory.copy_into)
    for j, lag in enumerate(lags):
        lines += [f"        h{j}_{d} = h{j}_{d - 1}" for d in range(lag, 1, -1)]
        lines.append(f"        h{j}_1 = x[{j}]")
    lines.append(f"    return ({''.join(f'o{k}, ' for k in range(len(outs)))})")
    return lines


def lower_scan(node: Node, names) -> list[str]:
    """Call the module's compiled loop for this scan; split its tuple of stacked outputs."""
    from backends.numba_cpu.codegen import FUNCTION_DECORATOR, generate_function

    step = names.function_name("step")
    extra = generate_function(_optimized(node.op.step, loops=True), step, names)
    name = names.function_name("scan")
    names.imports.add("row0d")
    names.module += [FUNCTION_DECORATOR] + _scan_function(node, name, step, extra) + ["", ""]
    v = names[node]
    args = [f"{names[node.inputs[0]]}[()]"] + [names[i] for i in node.inputs[1:]] + extra
    lines = [f"{v}_r = {name}({', '.join(args)})"]
    return lines + [f"{v}_{k} = {v}_r[{k}]" for k in range(len(node.op.step.outputs))]
