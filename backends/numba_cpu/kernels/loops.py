"""Loop nests over broadcast shapes, shared by the elementwise and reduction kernels.

A `Nest` takes the array operands of a kernel (their names and static shapes, right-
aligned to the loop) and emits the lines that compute the loop's run-time dimensions with
NumPy's broadcasting rules — including a `None` dimension that turns out to be 1 at run
time — and raise a ShapeError naming the op when sizes clash. Each operand is then read
at `nest.index(k)`: a broadcast dimension is indexed through a 0/1 multiplier instead of
a temporary, so strided, broadcast and negative-stride inputs are read in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.scalar_code import literal
from symgraph.graph import Constant, Node
from symgraph.types import broadcast_shapes


def indent(lines: list[str], depth: int) -> list[str]:
    return ["    " * depth + line for line in lines]


def shape_tuple(dims: list[str]) -> str:
    """Source of a shape tuple: `()`, `(n0,)`, `(n0, n1)`."""
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(dims) + ")"


def typed_int(source: str) -> str:
    """`source`, wrapped in np.int64 when it is a bare number: numba types a constant
    argument as a literal, a signature of its own per distinct value (a compile per value
    for a function), where np.int64(784) is a plain int64 like any run-time size."""
    return f"np.int64({source})" if source.isdigit() else source


def _size(dims: list[str]) -> str:
    return typed_int(" * ".join(d if d.replace("_", "").replace(".", "").isalnum()
                                else f"({d})" for d in dims) or "1")


def new_array(dims: list[str], dtype: str) -> str:
    """Source of a new C-contiguous array of these dims and dtype (a NumPy name).

    Always one `new_empty(size, np.<dtype>)` (memory.py: lowered in place), `shaped` to
    its rank: typing np.empty itself costs a compile (~0.06 s) per rank and dtype in every
    process."""
    if len(dims) == 1:
        return f"new_empty({typed_int(dims[0])}, np.{dtype})"
    return f"shaped(new_empty({_size(dims)}, np.{dtype}), {shape_tuple(dims)})"


def filled_array(v: str, dims: list[str], value: str, dtype: str) -> list[str]:
    """Lines binding `v` to a new array (as `new_array`) with every element `value`."""
    lines = [f"{v}_flat = new_empty({_size(dims)}, np.{dtype})", f"{v}_flat[:] = {value}"]
    if len(dims) == 1:
        return lines + [f"{v} = {v}_flat"]
    return lines + [f"{v} = shaped({v}_flat, {shape_tuple(dims)})"]


def error_message(node: Node, text: str) -> str:
    """A constant message for `raise ShapeError(...)` in generated code."""
    origin = f" (created at {node.origin})" if node.origin else ""
    return repr(f"{node.op.name}: {text}{origin}")


@dataclass
class Operand:
    """One input of an elementwise body: an array, a 0-d array read once, or a literal."""

    name: str            # the array's variable, or the literal's source
    dtype: str
    shape: tuple         # static shape
    kind: str            # "array" | "scalar" | "literal"


def operand(node: Node, name: str) -> Operand:
    """How a kernel reads input `node`: constants of size 1 become typed literals."""
    shape = node.type.shape
    if isinstance(node, Constant) and all(d == 1 for d in shape) and node.scalar is not None:
        return Operand(literal(node.scalar, node.dtype), node.dtype, shape, "literal")
    return Operand(name, node.dtype, shape, "scalar" if not shape else "array")


class Nest:
    """The run-time dims of a loop over the broadcast of `operands` (array ones only)."""

    def __init__(self, prefix: str, node: Node, operands: list[Operand]) -> None:
        self.prefix = prefix
        self.arrays = [(k, o) for k, o in enumerate(operands) if o.kind == "array"]
        # Literals (size-1 constants) still shape the loop: a (1,) constant makes it 1-d.
        self.static = broadcast_shapes(*(o.shape for o in operands))
        self.ndim = len(self.static)
        self.dims = [f"{prefix}_n{j}" for j in range(self.ndim)]
        self.lines: list[str] = []
        self.sole: set[tuple[int, int]] = set()  # (operand, loop dim) read without multiplier
        self._multipliers: dict[str, str] = {}
        for j in range(self.ndim):
            self._dim(j, node)

    def _axis(self, operand: Operand, j: int) -> int | None:
        """The operand's axis at loop dim j (None where it has no such axis)."""
        p = j - (self.ndim - len(operand.shape))
        return p if p >= 0 else None

    def _dim(self, j: int, node: Node) -> None:
        unknown = [(k, o, self._axis(o, j)) for k, o in self.arrays
                   if self._axis(o, j) is not None and o.shape[self._axis(o, j)] is None]
        name = self.dims[j]
        known = self.static[j]
        if not unknown:
            self.lines.append(f"{name} = {typed_int(str(known))}")
            return
        if known is None and len(unknown) == 1:
            k, o, p = unknown[0]
            self.sole.add((k, j))
            self.lines.append(f"{name} = {o.name}.shape[{p}]")
            return
        expr = typed_int("1" if known is None else str(known))
        for _, o, p in unknown:
            expr = f"bdim({expr}, {o.name}.shape[{p}])"
        message = error_message(node, f"cannot broadcast the inputs' shapes at run time: "
                                      f"dimension {j - self.ndim} differs")
        self.lines += [f"{name} = {expr}", f"if {name} < 0:", f"    raise ShapeError({message})"]

    def index(self, k: int, operand: Operand) -> str:
        """Source of operand k's element at the loop variables `{prefix}_i{j}`."""
        if not operand.shape:
            return "()"
        parts = []
        for p, size in enumerate(operand.shape):
            j = p + self.ndim - len(operand.shape)
            var = f"{self.prefix}_i{j}"
            if size == 1:
                parts.append("0")
            elif size is not None or (k, j) in self.sole:
                parts.append(var)
            else:
                mult = f"{self.prefix}_m{k}_{p}"
                if mult not in self._multipliers:
                    self._multipliers[mult] = f"{mult} = min({operand.name}.shape[{p}] - 1, 1)"
                parts.append(f"{var} * {mult}")
        return ", ".join(parts)

    def setup(self) -> list[str]:
        """Dims, checks and the multipliers that `index` asked for (call after index)."""
        return self.lines + self.multiplier_lines()

    def multiplier_lines(self) -> list[str]:
        return list(self._multipliers.values())

    def loops(self, body: list[str], parallel_dim: int | None = 0,
              depth: int | None = None) -> list[str]:
        """`body` inside loops over the first `depth` dims (all by default)."""
        depth = self.ndim if depth is None else depth
        lines = []
        for j in range(depth):
            kind = "prange" if j == parallel_dim else "range"
            lines.append("    " * j + f"for {self.prefix}_i{j} in {kind}({self.dims[j]}):")
        return lines + indent(body, depth)

