"""Kinds "elemwise" and "fused": one loop nest per node, the scalar body from scalar_code.

A single Elemwise op is a one-instruction fused program, so both kinds share this code.
Where a dimension may broadcast at run time and every input turns out to have the output's
shape and be C-contiguous, the kernel runs one flat `prange` loop (which LLVM vectorizes);
otherwise a loop nest reads broadcast and strided inputs in place. A body of `LONG_BODY`
instructions or more is compiled once, not twice: the flat loop runs in every case, on
C-contiguous full-shape copies (`memory.expanded`) of the inputs that do not fit.
Constants of size 1 are typed literals in the body and 0-d inputs are read once before
the loop.
"""

from __future__ import annotations

from backends.numba_cpu.kernels.loops import Nest, Operand, indent, new_array, operand
from backends.scalar_code import render, single_op_program
from symgraph.graph import Node
from symgraph.types import TupleType

# A fused body this long (in instructions) is compiled once, with a flat loop over copies
# of the inputs that broadcast or are strided, where a shorter one gets the flat loop and
# a loop nest. Why: each copy of a body is numba and LLVM work; the 100-op chain of
# benchmarks/ compiled its two copies in ~1 s of its ~2 s cold start, where a copy of an
# input costs about one more instruction per element at run time.
LONG_BODY = 8


def program_of(node: Node) -> tuple[tuple, tuple[int, ...]]:
    """(program, outputs) of a fused node or of a single Elemwise op."""
    if node.op.kind == "elemwise":
        return single_op_program(node.op, len(node.inputs))
    return node.op.program, node.op.outputs


def dependencies(program: tuple, n_inputs: int) -> list[set[int]]:
    """For each value of the program, the inputs it depends on."""
    deps = [{k} for k in range(n_inputs)]
    for _, args in program:
        deps.append(set().union(*(deps[a] for a in args)) if args else set())
    return deps


def scalar_inputs(prefix: str, operands: list[Operand]) -> tuple[list[str], list[str]]:
    """(lines before the loop, expression of each input inside the loop)."""
    before, exprs = [], []
    for k, o in enumerate(operands):
        if o.kind == "literal":
            exprs.append(o.name)
        elif o.kind == "scalar":
            before.append(f"{prefix}_s{k} = {o.name}[()]")
            exprs.append(f"{prefix}_s{k}")
        else:
            exprs.append(f"{prefix}_x{k}")
    return before, exprs


def lower_fused(node: Node, names) -> list[str]:
    """A fused elementwise node (or a single Elemwise op): allocate outputs, loop, store."""
    v = names[node]
    operands = [operand(i, names[i]) for i in node.inputs]
    program, outputs = program_of(node)
    types = node.type.types if isinstance(node.type, TupleType) else (node.type,)
    out_names = [v] if not isinstance(node.type, TupleType) else [
        f"{v}_{o}" for o in range(len(types))]
    nest = Nest(v, node, operands)
    deps = dependencies(program, len(operands))
    arrays = {k for k, o in enumerate(operands) if o.kind == "array"}
    lines = []
    targets = []  # (name, Operand for indexing, is_full)
    for o, (name, t) in enumerate(zip(out_names, types)):
        full = t.shape == nest.static and arrays <= deps[outputs[o]]
        if full:
            dims = nest.dims
        else:  # depends on fewer inputs: its own, smaller broadcast shape
            sub = Nest(f"{v}_o{o}", node, [p if k in deps[outputs[o]] else
                                            Operand("", p.dtype, (), "literal")
                                            for k, p in enumerate(operands)])
            lines += sub.setup()
            dims = sub.dims
        lines.append(f"{name} = {new_array(dims, t.dtype)}")
        targets.append((name, Operand(name, t.dtype, t.shape, "array"), full))

    def full_index(o: int, target: Operand) -> str:
        if targets[o][2]:  # the output's shape is the loop's
            return ", ".join(f"{v}_i{j}" for j in range(nest.ndim)) or "()"
        return nest.index(1000 + o, target)

    def emit(read, write) -> tuple[list[str], list[str]]:
        before, exprs = scalar_inputs(v, operands)
        body = [f"{v}_x{k} = {read(k, o)}" for k, o in enumerate(operands) if o.kind == "array"]
        computed, out_exprs, _ = render(program, outputs, exprs, [o.dtype for o in operands],
                                        f"{v}_t", names.functions)
        body += computed
        body += [f"{write(o, t)} = {out_exprs[o]}" for o, (_, t, _) in enumerate(targets)]
        return before, body

    before, body = emit(lambda k, o: f"{o.name}[{nest.index(k, o)}]",
                        lambda o, t: f"{t.name}[{full_index(o, t)}]")
    general = nest.loops(body)
    head = before + nest.lines + lines
    lines = head + nest.multiplier_lines()
    # The nest's inner loop reads each array at its own strides, contiguously for C arrays,
    # so LLVM vectorizes it, unless an input's last axis might broadcast at run time: then
    # it reads through a multiplier, and only there does a second, flat loop pay off (it
    # costs a second copy of the body to compile: 0.25 s each for the MLP step's updates).
    inner = nest.ndim - 1
    flat_ok = nest.multiplier_lines() and all(full for *_, full in targets) and all(
        len(operands[k].shape) == nest.ndim for k in arrays) and any(
        operands[k].shape[inner] is None and (k, inner) not in nest.sole for k in arrays)
    if not flat_ok:
        return lines + general
    _, flat_body = emit(lambda k, o: f"{v}_f{k}[{v}_i]", lambda o, t: f"{v}_g{o}[{v}_i]")
    out = out_names[0]
    fits = {k: f"{operands[k].name}.flags.c_contiguous and "
               f"{operands[k].name}.shape == {out}.shape" for k in sorted(arrays)}
    loop = [f"for {v}_i in prange({out}.size):"] + indent(flat_body, 1)
    outs = [f"{v}_g{o} = shaped({name}, ({name}.size,))" for o, (name, *_) in
            enumerate(targets)]
    if len(program) >= LONG_BODY:  # one copy of the body: inputs that do not fit, copied
        copies = []
        for k, fit in fits.items():
            name = operands[k].name
            copies += [f"{v}_e{k} = {name}", f"if not ({fit}):",
                       f"    {v}_e{k} = expanded({name}, {out}.shape)",
                       f"{v}_f{k} = shaped({v}_e{k}, ({v}_e{k}.size,))"]
        return head + copies + outs + loop
    views = [f"{v}_f{k} = shaped({operands[k].name}, ({operands[k].name}.size,))"
             for k in sorted(arrays)]  # under the `if` below: C-contiguous
    return lines + [f"if {' and '.join(fits.values())}:"] + indent(views + outs + loop, 1) + [
        "else:"] + indent(general, 1)
