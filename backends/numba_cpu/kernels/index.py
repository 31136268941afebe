"""Kinds "index" (advanced indexing, a gather) and "scatter" (set_subtensor/inc_subtensor).

Both walk the same loop nest, with NumPy's rules: slices are applied first as a view;
integer arrays (masks become arrays through np.nonzero, integers count as 0-d arrays once
an array is present) broadcast together, and their dimensions replace the indexed axes
where those are adjacent, or come first otherwise. The gather copies x[index] into a new
array; the scatter writes v (broadcast) into a copy of x, in C order, so a repeated index
keeps the last value ("set") or accumulates every value ("inc", like np.add.at).
"""

from __future__ import annotations

from backends.numba_cpu.kernels.loops import Nest, Operand, error_message, indent, new_array
from symgraph.graph import Node

ADVANCED = ("array", "mask")


def _entries(node: Node, names, x: str, ndim: int, dynamic: list[Node], v: str):
    """(lines, entries): one entry per output-shaping item, x axes made explicit."""
    supply = iter(dynamic)
    has_array = any(item[0] in ADVANCED for item in node.op.items)
    lines, entries, axis = [], [], 0
    bounds = error_message(node, "index out of bounds")
    for item in node.op.items:
        kind = item[0]
        if kind == "newaxis":
            entries.append(("newaxis",))
            continue
        if kind in ("slice", "index"):
            parts = ["" if p is None else f"{names[next(supply)]}[()]" if p == "?" else str(p)
                     for p in item[1:]]
        if kind == "slice":
            entries.append(("slice", axis, ":".join(parts)))
            axis += 1
        elif kind == "index":
            k = f"{v}_k{axis}"
            lines += [f"{k} = np.int64({parts[0]})", f"if {k} < 0:",
                      f"    {k} += {x}.shape[{axis}]",
                      f"if {k} < 0 or {k} >= {x}.shape[{axis}]:",
                      f"    raise IndexOutOfBoundsError({bounds})"]
            entries.append(("adv", axis, k, ()) if has_array else ("int", axis, k))
            axis += 1
        elif kind == "array":
            array = next(supply)
            entries.append(("adv", axis, names[array], array.type.shape))
            axis += 1
        else:  # a mask: one index array per axis it covers
            mask = next(supply)
            count = mask.ndim
            test = " or ".join(f"{names[mask]}.shape[{t}] != {x}.shape[{axis + t}]"
                               for t in range(count)) or "False"
            lines += [f"if {test}:", f"    raise IndexOutOfBoundsError({bounds})",
                      f"{v}_nz{axis} = np.nonzero({names[mask]})"]
            entries += [("adv", axis + t, f"{v}_nz{axis}[{t}]", (None,)) for t in range(count)]
            axis += count
    entries += [("slice", a, ":") for a in range(axis, ndim)]
    return lines, entries


def _lower(node: Node, names, x_node: Node, value: Node | None, dynamic: list[Node],
           mode: str | None) -> list[str]:
    v = names[node]
    x = names[x_node]
    lines, entries = _entries(node, names, x, x_node.ndim, dynamic, v)
    bounds = error_message(node, "index out of bounds")
    slices = [e[2] for e in entries if e[0] == "slice"]
    view = ", ".join(e[2] if e[0] == "slice" else ":" for e in sorted(
        (e for e in entries if e[0] != "newaxis"), key=lambda e: e[1]))
    target = f"{v}_xv"
    if mode is None:
        lines.append(f"{target} = {x}[{view}]" if any(s != ":" for s in slices) else
                     f"{target} = {x}")
    else:
        lines += [f"{v} = {x}.copy()", f"{target} = {v}[{view}]"]
    adv = [k for k, e in enumerate(entries) if e[0] == "adv"]
    operands = [Operand(e[2], "int64", e[3], "array" if e[3] else "literal")
                for e in (entries[k] for k in adv)]
    nest = Nest(f"{v}_b", node, operands)
    # Output dims in order: (loop variable, size expression) per dim.
    basic = []
    for k, e in enumerate(entries):
        if e[0] == "slice":
            basic.append((k, f"{v}_j{e[1]}", f"{target}.shape[{e[1]}]"))
        elif e[0] == "newaxis":
            basic.append((k, "0", "1"))
    block = [(f"{v}_b_i{j}", nest.dims[j]) for j in range(nest.ndim)]
    adjacent = adv and adv == list(range(adv[0], adv[-1] + 1))
    where = sum(1 for k, *_ in basic if k < adv[0]) if adjacent else 0
    dims = [(var, size) for _, var, size in basic]
    dims = dims[:where] + block + dims[where:]
    body = []
    picks = {}
    for t, k in enumerate(adv):
        axis = entries[k][1]
        pick = f"{v}_a{t}"
        source = entries[k][2]
        read = f"{source}[{nest.index(t, operands[t])}]" if operands[t].kind == "array" \
            else source
        body += [f"{pick} = np.int64({read})", f"if {pick} < 0:",
                 f"    {pick} += {target}.shape[{axis}]",
                 f"if {pick} < 0 or {pick} >= {target}.shape[{axis}]:",
                 f"    raise IndexOutOfBoundsError({bounds})"]
        picks[axis] = pick
    x_index = []
    for e in sorted((e for e in entries if e[0] != "newaxis"), key=lambda e: e[1]):
        if e[0] == "slice":
            x_index.append(f"{v}_j{e[1]}")
        elif e[0] == "int":
            x_index.append(e[2])
        else:
            x_index.append(picks[e[1]])
    element = f"{target}[{', '.join(x_index) or '()'}]"
    out_index = ", ".join(var for var, _ in dims) or "()"
    if mode is None:
        lines += nest.setup()
        lines.append(f"{v} = {new_array([s for _, s in dims], node.type.dtype)}")
        body.append(f"{v}[{out_index}] = {element}")
    else:
        lines += nest.setup()
        val = names[value]
        lead = len(dims) - value.ndim
        fits = error_message(node, "cannot broadcast the value to the indexed shape")
        parts = []
        for p in range(value.ndim):
            var, size = dims[lead + p]
            lines += [f"if {val}.shape[{p}] != 1 and {val}.shape[{p}] != {size}:",
                      f"    raise ShapeError({fits})",
                      f"{v}_w{p} = min({val}.shape[{p}] - 1, 1)"]
            parts.append(f"{var} * {v}_w{p}")
        if lead < 0:
            lines.append(f"raise ShapeError({fits})")
        read = f"{val}[{', '.join(parts) or '()'}]"
        body.append(f"{element} {'+=' if mode == 'inc' else '='} {read}")
    for var, size in reversed(dims):
        if var == "0":
            continue
        body = [f"for {var} in range({size}):"] + indent(body, 1)
    return lines + body


def lower_index(node: Node, names) -> list[str]:
    """x[index] with integer arrays or masks: a gather into a new array."""
    return _lower(node, names, node.inputs[0], None, list(node.inputs[1:]), None)


def lower_scatter(node: Node, names) -> list[str]:
    """set_subtensor / inc_subtensor: a copy of x with x[index] replaced or increased."""
    x, value, *dynamic = node.inputs
    return _lower(node, names, x, value, dynamic, node.op.mode)
