"""Kind "matmul": BLAS (`np.dot` in numba) for float32/float64, a loop kernel for integers
and booleans; batch dimensions broadcast through a loop nest over matrix products."""

from __future__ import annotations

from backends.numba_cpu.kernels.loops import Nest, Operand, error_message, new_array, shape_tuple
from symgraph.dtypes import is_float
from symgraph.graph import Node


def _operand(name: str, node: Node, dtype: str, transpose: bool, column: bool) -> str:
    """Source of the operand as a ≥2-d matrix (stack) of `dtype`, transposed if asked."""
    expr = name if node.dtype == dtype else f"converted({name}, np.{dtype})"
    ndim = node.ndim
    if transpose and ndim == 2:
        expr = f"{expr}.T"  # typed F-contiguous for a C input: BLAS reads it in place
    elif transpose:
        perm = list(range(ndim - 2)) + [ndim - 1, ndim - 2]
        expr = f"transposed({expr}, {shape_tuple([str(p) for p in perm])})"
    if ndim == 1:
        expr = f"{expr}[:, None]" if column else f"{expr}[None, :]"
    return expr


def lower_matmul(node: Node, names) -> list[str]:
    """a @ b with NumPy's rules (see symgraph/ops/linalg.py: MatMul)."""
    a_node, b_node = node.inputs
    v = names[node]
    dtype = node.type.dtype
    floats = is_float(dtype)
    acc = dtype if floats else ("uint64" if dtype[0] == "u" else "int64")
    work = dtype if floats else acc
    lines = [f"{v}_a = {_operand(names[a_node], a_node, work, node.op.transpose_a, False)}",
             f"{v}_b = {_operand(names[b_node], b_node, work, node.op.transpose_b, True)}"]
    message = error_message(node, "contracted dimensions differ (a's last dimension must "
                                  "equal b's second-to-last)")
    lines += [f"if {v}_a.shape[-1] != {v}_b.shape[-2]:", f"    raise ShapeError({message})",
              f"{v}_n = {v}_a.shape[-2]", f"{v}_m = {v}_b.shape[-1]"]
    if floats:
        names.functions.used.update(("blas_dot", "as_any"))  # one compile per dtype
        product = "blas_dot(as_any({0}), as_any({1}))"
    else:
        names.functions.used.add("matmul_loop")
        product = f"matmul_loop({{0}}, {{1}}, {new_array([f'{v}_n', f'{v}_m'], acc)})"
    a_batch = max(a_node.ndim, 2) - 2
    b_batch = max(b_node.ndim, 2) - 2
    if not a_batch and not b_batch:
        lines.append(f"{v}_r = {product.format(f'{v}_a', f'{v}_b')}")
    else:
        operands = [Operand(f"{v}_a", dtype, a_node.type.shape[:a_batch], "array"),
                    Operand(f"{v}_b", dtype, b_node.type.shape[:b_batch], "array")]
        operands = [o if o.shape else Operand(o.name, o.dtype, (), "literal") for o in operands]
        nest = Nest(v, node, operands)
        a_index = nest.index(0, operands[0]) if a_batch else ""
        b_index = nest.index(1, operands[1]) if b_batch else ""
        a_part = f"{v}_a[{a_index}]" if a_batch else f"{v}_a"
        b_part = f"{v}_b[{b_index}]" if b_batch else f"{v}_b"
        out_index = ", ".join(f"{v}_i{j}" for j in range(nest.ndim))
        # (an array assigned into a slice: copy_into, as numba's setitem costs a compile)
        body = [f"copy_into({v}_r[{out_index}], {product.format(a_part, b_part)})"]
        lines += nest.setup()
        lines.append(f"{v}_r = {new_array(nest.dims + [f'{v}_n', f'{v}_m'], acc)}")
        lines += nest.loops(body, parallel_dim=None)
    batch = ":, " * (node.ndim - (a_node.ndim > 1) - (b_node.ndim > 1))
    result = f"{v}_r"
    if a_node.ndim == 1 and b_node.ndim == 1:
        result = f"{result}[{batch}0, 0]"
    elif a_node.ndim == 1:
        result = f"{result}[{batch}0, :]"
    elif b_node.ndim == 1:
        result = f"{result}[{batch}:, 0]"
    if node.ndim == 0:  # a scalar from two vectors: back to a 0-d array
        value = f"{result} != 0" if dtype == "bool" else result
        return lines + [f"{v} = {new_array([], dtype)}", f"{v}[()] = {value}"]
    if not floats and dtype != acc:
        result = f"({result} != 0)" if dtype == "bool" else f"converted({result}, np.{dtype})"
    return lines + [f"{v} = {result}"]
