"""Kinds "shape", "view" and "tuple_get": no arithmetic, only shapes and views.

Views are basic indexing in the generated code (`x[:, None]`, `x[:, 0]`), which numba
compiles to views of any layout, as NumPy's would be. Each view op has one small function
in `VIEWS`, keyed by the op's class name.
"""

from __future__ import annotations

from backends.numba_cpu.kernels.arrays import VIEW_RULES
from backends.numba_cpu.kernels.loops import error_message, filled_array, new_array
from symgraph.errors import LoweringError
from symgraph.graph import Node


def lower_shape(node: Node, names) -> list[str]:
    """x.shape as an int64 vector."""
    x = names[node.inputs[0]]
    v = names[node]
    ndim = node.inputs[0].ndim
    return [f"{v} = {new_array([str(ndim)], 'int64')}"] + [
        f"{v}[{j}] = {x}.shape[{j}]" for j in range(ndim)]


def _expand_dims(node: Node, x: str, v: str) -> list[str]:
    if node.inputs[0].ndim == 0:  # a 0-d array has no axes to slice around
        return filled_array(v, ["1"] * node.ndim, f"{x}[()]", node.type.dtype)
    index = ", ".join("None" if j in node.op.axis else ":" for j in range(node.ndim))
    return [f"{v} = {x}[{index}]"]


def _squeeze(node: Node, x: str, v: str) -> list[str]:
    axes = node.op.axis
    lines = []
    if axes:
        message = error_message(node, f"axes {axes} do not all have length 1")
        test = " or ".join(f"{x}.shape[{a}] != 1" for a in axes)
        lines += [f"if {test}:", f"    raise ShapeError({message})"]
    if node.ndim == 0:
        return lines + [f"{v} = {new_array([], node.type.dtype)}", f"{v}[()] = {x}.ravel()[0]"]
    index = ", ".join("0" if j in axes else ":" for j in range(node.inputs[0].ndim))
    return lines + [f"{v} = {x}[{index}]"]


VIEWS = {"ExpandDims": _expand_dims, "Squeeze": _squeeze}
VIEWS.update({name: rule for name, rule in VIEW_RULES.items()})


def lower_view(node: Node, names) -> list[str]:
    """A view op, looked up by class name in VIEWS."""
    view = VIEWS.get(type(node.op).__name__)
    if view is None:
        raise LoweringError(f"{node.op.name}: the numba backend has no view rule for it")
    if view in VIEW_RULES.values():
        return view(node, names[node.inputs[0]], names[node], names)
    return view(node, names[node.inputs[0]], names[node])


def lower_tuple_get(node: Node, names) -> list[str]:
    """Output `index` of a multi-output node (which named its outputs `{name}_{index}`)."""
    return [f"{names[node]} = {names[node.inputs[0]]}_{node.op.index}"]
