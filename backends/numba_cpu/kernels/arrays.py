"""View rules (reshape, transpose, broadcast_to, basic indexing), kind "join"
(concatenate) and kind "alloc" (full, arange, eye).

Views are numba views wherever NumPy's are (a reshape of a non-contiguous array copies,
as in NumPy). Every run-time condition NumPy would refuse is checked first and raised as
the ShapeError (or IndexOutOfBoundsError) the reference raises, naming the op.
"""

from __future__ import annotations

from backends.numba_cpu.kernels.loops import (error_message, filled_array, new_array,
                                              shape_tuple)
from symgraph.errors import LoweringError
from symgraph.graph import Node


def _dims(vector: str, count: int) -> list[str]:
    return [f"{vector}[{j}]" for j in range(count)]


def reshape(node: Node, x: str, v: str, names) -> list[str]:
    vector = names[node.inputs[1]]
    rank = len(node.op.shape)
    names.functions.used.update(("resolve_shape", "reshape_any"))
    message = error_message(node, "cannot reshape into the target shape; the sizes must "
                                  "match (at most one -1)")
    return [f"{v}_ok, {v}_d = resolve_shape({x}.size, {vector})",
            f"if not {v}_ok:", f"    raise ShapeError({message})",
            f"{v} = reshape_any({x}, {shape_tuple(_dims(f'{v}_d', rank))})"]


def transpose(node: Node, x: str, v: str, names) -> list[str]:
    axes = node.op.axes
    if list(axes) == sorted(axes):
        return [f"{v} = {x}[...]"]
    return [f"{v} = transposed({x}, {shape_tuple([str(a) for a in axes])})"]


def broadcast_to(node: Node, x: str, v: str, names) -> list[str]:
    vector = names[node.inputs[1]]
    rank = len(node.op.shape)
    lead = rank - node.inputs[0].ndim
    message = error_message(node, "cannot broadcast the array to the target shape")
    tests = [f"{vector}[{j}] < 0" for j in range(rank)] + [
        f"({x}.shape[{p}] != 1 and {x}.shape[{p}] != {vector}[{lead + p}])"
        for p in range(node.inputs[0].ndim)]
    lines = [f"if {' or '.join(tests)}:", f"    raise ShapeError({message})"] if tests else []
    return lines + [f"{v} = broadcast_view({x}, {shape_tuple(_dims(vector, rank))})"]


def subtensor(node: Node, x: str, v: str, names) -> list[str]:
    """Basic indexing (ints, slices, None), run-time parts read from the extra inputs."""
    dynamic = iter(names[i] for i in node.inputs[1:])
    parts, lines, axis = [], [], 0
    message = error_message(node, "index out of bounds")
    for item in node.op.items:
        if item[0] == "newaxis":
            parts.append("None")
            continue
        values = ["None" if p is None else f"{next(dynamic)}[()]" if p == "?" else str(p)
                  for p in item[1:]]
        if item[0] == "index":
            k = f"{v}_k{axis}"
            lines += [f"{k} = {values[0]}",
                      f"if {k} < -{x}.shape[{axis}] or {k} >= {x}.shape[{axis}]:",
                      f"    raise IndexOutOfBoundsError({message})"]
            parts.append(k)
        elif item[0] == "slice":
            if values[2] not in ("None",) and not values[2].lstrip("-").isdigit():
                lines += [f"if {values[2]} == 0:",
                          f"    raise ShapeError({error_message(node, 'slice step is zero')})"]
            parts.append(":".join(values))
        else:
            raise LoweringError(f"{node.op.name}: unexpected index item {item}")
        axis += 1
    index = ", ".join(parts) or ("()" if node.inputs[0].ndim == 0 else "...")
    if node.ndim == 0:
        return lines + [f"{v} = {new_array([], node.type.dtype)}", f"{v}[()] = {x}[{index}]"]
    return lines + [f"{v} = {x}[{index}]"]


VIEW_RULES = {"Reshape": reshape, "Transpose": transpose, "BroadcastTo": broadcast_to,
              "Subtensor": subtensor}


def lower_join(node: Node, names) -> list[str]:
    """Concatenate along `axis`, after checking the other dimensions agree."""
    v = names[node]
    xs = [names[i] for i in node.inputs]
    axis = node.op.axis
    message = error_message(node, f"shapes do not match except on axis {axis}")
    tests = [f"{x}.shape[{j}] != {xs[0]}.shape[{j}]" for x in xs[1:]
             for j in range(node.ndim) if j != axis]
    lines = [f"if {' or '.join(tests)}:", f"    raise ShapeError({message})"] if tests else []
    # A new array, each input copied into its part (memory.copy_at): numba's
    # np.concatenate is a compile per signature.
    dims = [f"{xs[0]}.shape[{j}]" if j != axis else
            "(" + " + ".join(f"{x}.shape[{axis}]" for x in xs) + ")" for j in range(node.ndim)]
    lines += [f"{v} = {new_array(dims, node.type.dtype)}", f"{v}_at = 0"]
    for x in xs:   # (one dtype: Concatenate.infer)
        lines += [f"copy_at({v}, {x}, {v}_at, {axis})", f"{v}_at += {x}.shape[{axis}]"]
    return lines


def lower_alloc(node: Node, names) -> list[str]:
    """Full, Arange and Eye."""
    from backends.scalar_code import literal

    v = names[node]
    op = node.op
    kind = type(op).__name__
    negative = error_message(node, "negative dimensions are not allowed")
    if kind == "Full":
        vector = names[node.inputs[0]]
        dims = _dims(vector, len(op.shape))
        tests = " or ".join(f"{d} < 0" for d in dims) or "False"
        return [f"if {tests}:", f"    raise ShapeError({negative})",
                *filled_array(v, dims, literal(op.value, op.dtype), op.dtype)]
    if kind == "Arange":
        start, stop, step = (f"{names[i]}[()]" for i in node.inputs)
        zero = error_message(node, "step must not be zero")
        lines = [f"if {step} == 0:", f"    raise ShapeError({zero})"]
        if not all(i.dtype.startswith(("int", "uint")) for i in node.inputs) or \
                not op.dtype.startswith(("int", "uint")):
            return lines + [f"{v} = np.arange({start}, {stop}, {step}).astype(np.{op.dtype})"]
        # Integers: NumPy's length, ceil((stop - start) / step), in exact integer arithmetic
        # and a loop (numba's np.arange is a compile per signature, ~0.5 s cold).
        return lines + [
            f"{v}_a, {v}_b, {v}_s = np.int64({start}), np.int64({stop}), np.int64({step})",
            f"if {v}_s > 0:", f"    {v}_n = ({v}_b - {v}_a + {v}_s - 1) // {v}_s",
            "else:", f"    {v}_n = ({v}_a - {v}_b - {v}_s - 1) // -{v}_s",
            f"if {v}_n < 0:", f"    {v}_n = 0",
            f"{v} = {new_array([f'{v}_n'], op.dtype)}",
            f"for {v}_i in range({v}_n):", f"    {v}[{v}_i] = {v}_a + {v}_i * {v}_s"]
    if kind == "Eye":
        n, m = (f"{names[i]}[()]" for i in node.inputs)
        return [f"if {n} < 0 or {m} < 0:", f"    raise ShapeError({negative})",
                f"{v} = np.eye({n}, {m}, {op.k}, np.{op.dtype})"]
    raise LoweringError(f"{op.name}: the numba backend has no allocation rule for it")
