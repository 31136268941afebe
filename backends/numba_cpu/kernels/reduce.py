"""Kinds "reduce", "fused_reduce" and "sum_to".

A reduction is an elementwise body (empty for a plain Reduce) whose value is combined into
an accumulator instead of stored, so `sum(exp(x - m), axis=1)` reads x once and writes only
the sums. Reduced trailing axes accumulate in a local variable; other reduced axes
accumulate into the output array, whose rows the outermost kept axis owns (that loop is
the parallel one). float32 sums and products accumulate in float64.
"""

from __future__ import annotations

import numpy as np

from backends.numba_cpu.kernels.elemwise import dependencies, scalar_inputs
from backends.numba_cpu.kernels.loops import (Nest, Operand, error_message, filled_array, indent,
                                              operand, shape_tuple)
from backends.scalar_code import cast, literal, render
from symgraph.dtypes import is_float
from symgraph.errors import LoweringError
from symgraph.graph import Node


def _lowest(dtype: str) -> bool | int | float:
    if dtype == "bool":
        return False
    return -np.inf if is_float(dtype) else int(np.iinfo(dtype).min)


def _highest(dtype: str) -> bool | int | float:
    if dtype == "bool":
        return True
    return np.inf if is_float(dtype) else int(np.iinfo(dtype).max)


# Reduce op class name -> (identity for a dtype, combine template, needs a non-empty input)
REDUCERS = {
    "Sum": (lambda d: 0, "{r} + {x}", False),
    "Prod": (lambda d: 1, "{r} * {x}", False),
    "Max": (_lowest, "maximum({r}, {x})", True),
    "Min": (_highest, "minimum({r}, {x})", True),
    "All": (lambda d: True, "({r} and {x})", False),
    "Any": (lambda d: False, "({r} or {x})", False),
}


def supports(op) -> bool:
    return type(op).__name__ in REDUCERS


def _accumulator_dtype(op, dtype: str) -> str:
    if type(op).__name__ in ("Sum", "Prod") and dtype == "float32":
        return "float64"  # a float32 running sum loses digits; NumPy sums pairwise instead
    return dtype


def lower_reduce(node: Node, names) -> list[str]:
    """A reduction of one input, or of a fused elementwise program (FusedReduce)."""
    if node.op.kind == "fused_reduce":
        reduce_op, program, outputs = node.op.reduce, node.op.program, node.op.outputs
    else:
        reduce_op, program, outputs = node.op, (), (0,)
    if not supports(reduce_op):
        raise LoweringError(f"{reduce_op.name}: the numba backend has no reduction kernel for "
                            f"it (kind {node.op.kind!r})")
    v = names[node]
    deps = dependencies(program, len(node.inputs))[outputs[0]]
    operands = [operand(i, names[i]) if k in deps else
                Operand(literal(0, i.dtype), i.dtype, (), "literal")
                for k, i in enumerate(node.inputs)]
    nest = Nest(v, node, operands)
    before, exprs = scalar_inputs(v, operands)
    loads = [f"{v}_x{k} = {o.name}[{nest.index(k, o)}]"
             for k, o in enumerate(operands) if o.kind == "array"]
    body, (value,), (value_dtype,) = render(program, outputs, exprs,
                                            [o.dtype for o in operands], f"{v}_t",
                                            names.functions)
    out_dtype = node.type.dtype
    acc_dtype = _accumulator_dtype(reduce_op, out_dtype)
    identity, combine, nonempty = REDUCERS[type(reduce_op).__name__]
    if combine.startswith(("maximum", "minimum")):
        names.functions(combine[:7], acc_dtype)
    x = cast(value, value_dtype, acc_dtype)
    axes = set(reduce_op.axis)
    ndim = nest.ndim
    kept = [j for j in range(ndim) if j not in axes]
    start = ndim  # the trailing block of reduced axes begins here
    while start > 0 and start - 1 in axes:
        start -= 1
    lines = before + nest.lines + nest.multiplier_lines()
    acc = f"{v}_acc"
    lines += filled_array(acc, [nest.dims[j] for j in kept],
                          literal(identity(acc_dtype), acc_dtype), acc_dtype)
    if nonempty and axes:
        empty = " or ".join(f"{nest.dims[j]} == 0" for j in sorted(axes))
        message = error_message(node, f"cannot reduce the empty axis {reduce_op.axis} (there "
                                      "is no identity); check the input's shape, or use a "
                                      "reduction with an identity such as sum")
        lines += [f"if {empty}:", f"    raise ShapeError({message})"]
    where = ", ".join(f"{v}_i{j}" for j in kept) or "()"
    step = loads + body
    parallel = 0 if kept and kept[0] == 0 else None
    if start < ndim:
        inner = step + [f"{v}_r = " + combine.format(r=f"{v}_r", x=x)]
        for j in reversed(range(start, ndim)):
            inner = [f"for {v}_i{j} in range({nest.dims[j]}):"] + indent(inner, 1)
        block = [f"{v}_r = {acc}[{where}]"] + inner + [f"{acc}[{where}] = {v}_r"]
        lines += nest.loops(block, parallel, depth=start)
    else:
        update = f"{acc}[{where}] = " + combine.format(r=f"{acc}[{where}]", x=x)
        lines += nest.loops(step + [update], parallel)
    result = acc if acc_dtype == out_dtype else f"converted({acc}, np.{out_dtype})"
    if reduce_op.keepdims:
        dims = [("1" if j in axes else nest.dims[j]) for j in range(ndim)]
        result = f"shaped({result}, {shape_tuple(dims)})"
    return lines + [f"{v} = {result}"]


def lower_sum_to(node: Node, names) -> list[str]:
    """Sum a gradient down to a run-time shape (undoing broadcasting)."""
    g_node, shape_node = node.inputs
    g, shape = names[g_node], names[shape_node]
    v = names[node]
    rank = len(node.type.shape)
    lead = g_node.ndim - rank
    if lead < 0:
        raise LoweringError(f"sum_to: cannot sum a {g_node.ndim}-d gradient to {rank} dims")
    dtype = node.type.dtype
    acc_dtype = "float64" if dtype == "float32" else dtype
    message = error_message(node, "cannot sum a gradient to a shape it does not broadcast to")
    checks = []
    for p in range(rank):
        d = f"{v}_d{p}"
        checks += [f"{d} = {shape}[{p}]",
                   f"if {d} != {g}.shape[{lead + p}] and {d} != 1:",
                   f"    raise ShapeError({message})"]
    dims = ", ".join(f"{v}_d{p}" for p in range(rank))
    summed = f"summed_to({g}, ({dims}{',' if rank == 1 else ''}), np.{acc_dtype})"
    result = summed if acc_dtype == dtype else f"converted({summed}, np.{dtype})"
    summed = [f"{v} = {result}"]
    if lead or not rank or g_node.dtype != dtype:
        return checks + summed
    # The usual case in a gradient: the shape is the gradient's own (a batch dimension
    # the optimizer could not prove equal), so there is nothing to sum: copy it.
    same = " and ".join(f"{v}_d{p} == {g}.shape[{p}]" for p in range(rank))
    return checks + [f"if {same}:", f"    {v} = converted({g}, np.{dtype})", "else:"] + \
        indent(summed, 1)
