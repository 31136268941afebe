"""Kinds "softmax", "argreduce" and "cumulative": ops that work along whole axes.

Each moves its axes to the end, views the input as a C-contiguous (rows, cols) matrix
(a copy only when the axes were not already last and contiguous), calls a generic row
kernel of `rowops.py`, and puts the result back in shape.
"""

from __future__ import annotations

from backends.numba_cpu.kernels.loops import (Nest, Operand, error_message, filled_array,
                                              new_array, shape_tuple)
from symgraph.errors import LoweringError
from symgraph.graph import Node


def as_rows(v: str, x: str, ndim: int, moved: tuple[int, ...],
            dtype: str | None = None) -> tuple[list[str], list[str], list[str], list[int]]:
    """Lines viewing x as `{v}_2d` (rows, cols) with `moved` axes last; returns (lines,
    kept dims, moved dims, the permutation)."""
    kept = [j for j in range(ndim) if j not in moved]
    perm = kept + list(moved)
    source = x if dtype is None else f"converted({x}, np.{dtype})"
    if perm != list(range(ndim)):
        source = f"transposed({source}, {shape_tuple([str(p) for p in perm])})"
    kept_dims = [f"{x}.shape[{j}]" for j in kept]
    moved_dims = [f"{x}.shape[{j}]" for j in moved]
    rows = " * ".join(["1"] + kept_dims)
    cols = " * ".join(["1"] + moved_dims)
    lines = [f"{v}_rows = {rows}", f"{v}_cols = {cols}",
             f"{v}_2d = shaped(contiguous({source}), ({v}_rows, {v}_cols))"]
    return lines, kept_dims, moved_dims, perm


def _restore(result: str, kept: list[str], moved: list[str], perm: list[int]) -> str:
    """(rows, cols) back to the input's shape and axis order."""
    out = f"shaped({result}, {shape_tuple(kept + moved)})"
    if perm != sorted(perm):
        inverse = [perm.index(j) for j in range(len(perm))]
        out = f"transposed({out}, {shape_tuple([str(i) for i in inverse])})"
    return out


def _reduced(result: str, node: Node, kept: list[str]) -> str:
    """A per-row result as the op's output shape (keepdims puts 1s back)."""
    axes = node.op.axis
    if node.op.keepdims:
        ndim = node.inputs[0].ndim
        dims, it = [], iter(kept)
        for j in range(ndim):
            dims.append("1" if j in axes else next(it))
        return f"shaped({result}, {shape_tuple(dims)})"
    return f"shaped({result}, {shape_tuple(kept)})"


def _cross_entropy(node: Node, names) -> list[str]:
    """SoftmaxCrossEntropy through the `cross_entropy_rows` kernel; NegLogLikelihood
    (whose input is log_softmax already) as a loop here that picks -x[label]."""
    logits_node, labels_node = node.inputs
    logits, labels = names[logits_node], names[labels_node]
    v = names[node]
    operands = [Operand(logits, logits_node.dtype, logits_node.type.shape[:-1], "array"),
                Operand(labels, labels_node.dtype, labels_node.type.shape, "array")]
    operands = [o if o.shape else Operand(o.name, o.dtype, (), "scalar") for o in operands]
    nest = Nest(v, node, operands)
    dims = nest.dims
    classes = f"{logits}.shape[{logits_node.ndim - 1}]"
    rows = " * ".join(["1"] + dims)
    # NegLogLikelihood stands in for softmax_cross_entropy: both raise the latter's error
    origin = f" (created at {node.origin})" if node.origin else ""
    message = repr(f"softmax_cross_entropy: labels must be in [0, classes){origin}")
    if logits_node.ndim == 2 and labels_node.ndim == 1:  # the usual case: no copies
        x, label, rows = logits, labels, dims[0]
    else:
        x, label = f"{v}_x", f"{v}_l"
        nest.lines += [
            f"{v}_x = shaped(expanded({logits}, {shape_tuple(dims + [classes])}), "
            f"({rows}, {classes}))",
            f"{v}_l = shaped(expanded({labels}, {shape_tuple(dims)}), ({rows},))"]
    if type(node.op).__name__ == "SoftmaxCrossEntropy":
        return nest.lines + [
            f"{v}_r, {v}_bad = cross_entropy_rows({x}, {label}, {rows})",
            f"if {v}_bad:", f"    raise ShapeError({message})",
            f"{v} = shaped({v}_r, {shape_tuple(dims)})"]
    return nest.lines + [  # rows of x and labels broadcast: each has 1 or `rows`
        f"{v}_r = {new_array([rows], node.type.dtype)}",
        f"{v}_xs = min({x}.shape[0] - 1, 1)",
        f"{v}_ls = min({label}.shape[0] - 1, 1)",
        f"for {v}_i in range({rows}):",
        f"    {v}_k = {label}[{v}_i * {v}_ls]",
        f"    if {v}_k < 0 or {v}_k >= {x}.shape[1]:",
        f"        raise ShapeError({message})",
        f"    {v}_r[{v}_i] = -{x}[{v}_i * {v}_xs, {v}_k]",
        f"{v} = shaped({v}_r, {shape_tuple(dims)})"]


def lower_softmax(node: Node, names) -> list[str]:
    """Softmax, LogSoftmax, LogSumExp, SoftmaxCrossEntropy (shifted by the row max) and
    NegLogLikelihood."""
    op_name = type(node.op).__name__
    if op_name in ("SoftmaxCrossEntropy", "NegLogLikelihood"):
        if op_name == "SoftmaxCrossEntropy":
            names.functions.used.add("cross_entropy_rows")
        return _cross_entropy(node, names)
    names.functions.used.add("logsumexp_rows" if op_name == "LogSumExp" else "softmax_rows")
    x_node = node.inputs[0]
    x, v = names[x_node], names[node]
    dtype = node.type.dtype if node.type.dtype != x_node.dtype else None
    if op_name == "LogSumExp":
        lines, kept, _, _ = as_rows(v, x, x_node.ndim, node.op.axis, dtype)
        return lines + [f"{v} = {_reduced(f'logsumexp_rows({v}_2d)', node, kept)}"]
    if op_name not in ("Softmax", "LogSoftmax"):
        raise LoweringError(f"{node.op.name}: the numba backend has no softmax rule for it")
    lines, kept, moved, perm = as_rows(v, x, x_node.ndim, (node.op.axis,), dtype)
    log = op_name == "LogSoftmax"
    return lines + [f"{v} = {_restore(f'softmax_rows({v}_2d, {log})', kept, moved, perm)}"]


def lower_argreduce(node: Node, names) -> list[str]:
    """Argmax / Argmin along one axis, or over the flattened input."""
    x_node = node.inputs[0]
    x, v = names[x_node], names[node]
    names.functions.used.add("arg_rows")
    if x_node.ndim == 0:
        return filled_array(v, [], "0", "int64")
    lines, kept, _, _ = as_rows(v, x, x_node.ndim, node.op.axis)
    largest = type(node.op).__name__ == "Argmax"
    message = error_message(node, f"cannot reduce the empty axis {node.op.axis} (there is "
                                  "no identity); check the input's shape")
    return lines + [f"if {v}_cols == 0:", f"    raise ShapeError({message})",
                    f"{v} = {_reduced(f'arg_rows({v}_2d, {largest})', node, kept)}"]


def lower_cumulative(node: Node, names) -> list[str]:
    """Cumsum along one axis (forwards or reversed), in the accumulator dtype."""
    x_node = node.inputs[0]
    x, v = names[x_node], names[node]
    names.functions.used.add("cumsum_rows")
    lines, kept, moved, perm = as_rows(v, x, x_node.ndim, (node.op.axis,))
    out = f"cumsum_rows({v}_2d, {new_array([f'{v}_rows', f'{v}_cols'], node.type.dtype)}, " \
          f"{node.op.reverse})"
    return lines + [f"{v} = {_restore(out, kept, moved, perm)}"]
