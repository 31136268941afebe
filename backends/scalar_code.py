"""Render elementwise programs to Python source, for both numba targets (CPU and CUDA).

A fused program (`symgraph.ops.fused.Fused.program`) or a single Elemwise op becomes a few
assignment lines over scalar variables, one per instruction:

    t0 = np.float32(math.exp(np.float32(-x0)))

Every value is cast explicitly to the dtype its node's type says, and every numeric
literal is typed, because numba's own promotion differs from NumPy's (a bare `0.5` makes a
float32 loop float64; `int8 + int8` is int64 in numba). Inputs of an instruction are cast
to the dtype NumPy's ufunc loop computes in: the output dtype for arithmetic, the common
input dtype for comparisons. Function names in the ops' `scalar` templates (`math.exp`,
`sigmoid`, `maximum`) are offered to the target's `functions(name, dtype)` resolver, which
returns the name of a faster or more exact replacement, or None to keep the template's.
A resolver's `typed` names (optional) return their argument's dtype, so a call to one is
not cast again.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Sequence

from symgraph.dtypes import is_float, result_type
from symgraph.ops.base import Elemwise
from symgraph.types import TensorType

Resolver = Callable[[str, str], "str | None"]

# A call in a template: `math.exp(`, `np.sign(`, `sigmoid(`.
_CALL = re.compile(r"(?<![\w.])((?:math|np)\.)?([A-Za-z_]\w*)\(")
# Numeric literals that are not `{0}`-style placeholders.
_NUMBER = re.compile(r"(?<![\w.{])(\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)(?![\w.}])")
_KEYWORDS = {"if", "else", "and", "or", "not", "abs"}
# Templates of plain float arithmetic, which numba already types in the operands' dtype.
_ARITHMETIC = re.compile(r"^(?:\{\d\}|[\s+\-*/()])*$")


def literal(value: bool | int | float, dtype: str) -> str:
    """`value` as a typed constant of `dtype` (never a bare float literal)."""
    if dtype == "bool":
        return repr(bool(value))
    if is_float(dtype):
        value = float(value)
        if math.isnan(value):
            return f"np.{dtype}(np.nan)"
        if math.isinf(value):
            return f"np.{dtype}({'-' if value < 0 else ''}np.inf)"
        return f"np.{dtype}({value!r})"
    return f"np.{dtype}({int(value)})"


def cast(expr: str, source: str, target: str) -> str:
    """`expr` (of dtype `source`) converted to `target` like NumPy's astype."""
    if source == target:
        return expr
    if target == "bool":
        return f"({expr} != 0)"
    return f"np.{target}({expr})"


def _typed_template(template: str, dtype: str, functions: Resolver) -> str:
    """The template with its calls resolved for `dtype` and its literals typed."""
    def call(match: re.Match) -> str:
        prefix, name = match.group(1) or "", match.group(2)
        if name in _KEYWORDS and not prefix:
            return match.group(0)
        replacement = functions(name, dtype)
        return f"{replacement}(" if replacement else match.group(0)

    template = _CALL.sub(call, template)
    if dtype == "bool":
        return template
    return _NUMBER.sub(lambda m: f"np.{dtype}({m.group(1)})", template)


def out_dtype(op: Elemwise, dtypes: Sequence[str]) -> str:
    """The dtype `op` produces for inputs of these dtypes (its own type inference)."""
    return op.infer(*(TensorType(d, ()) for d in dtypes)).dtype


def render_op(op: Elemwise, args: Sequence[str], dtypes: Sequence[str], out: str,
              functions: Resolver) -> str:
    """One instruction as an expression of dtype `out`."""
    name = type(op).__name__
    if name == "Cast":
        return cast(args[0], dtypes[0], out)
    if name == "FullLike":
        return literal(op.value, out)
    if name == "Where":
        cond = args[0] if dtypes[0] == "bool" else f"({args[0]} != 0)"
        return f"({cast(args[1], dtypes[1], out)} if {cond} else {cast(args[2], dtypes[2], out)})"
    compute = out
    if out == "bool":
        compute = result_type(*dtypes) if dtypes else "bool"
    if compute == "bool" and name in ("Invert", "Negative"):
        return f"(not {args[0]})"
    if name == "Abs" and compute[0] == "u":
        return args[0]  # numba's abs of an unsigned int goes through a signed type
    template = _typed_template(op.scalar, compute, functions)
    operands = [f"({cast(a, d, compute)})" if d != compute else a for a, d in zip(args, dtypes)]
    expr = template.format(*operands, out=out)
    if out == "bool":
        return f"({expr})"
    if is_float(out) and compute == out and _ARITHMETIC.match(op.scalar) and not any(
            s in op.scalar for s in ("//", "**")):
        return f"({expr})"
    if compute == out and _called(expr) in getattr(functions, "typed", ()):
        return expr  # the resolver's function returns its argument's dtype: no cast
    return f"np.{out}({expr})"


def _called(expr: str) -> str | None:
    """The function's name when `expr` is one call, `name(...)`, and nothing else."""
    name, paren, _ = expr.partition("(")
    if not paren or not name.isidentifier() or not expr.endswith(")"):
        return None
    depth = 0
    for k, char in enumerate(expr):
        depth += (char == "(") - (char == ")")
        if depth == 0 and char == ")" and k < len(expr) - 1:
            return None  # `f(a) + g(b)`: the first call closes before the end
    return name


def render(program: Sequence, outputs: Sequence[int], inputs: Sequence[str],
           dtypes: Sequence[str], prefix: str,
           functions: Resolver) -> tuple[list[str], list[str], list[str]]:
    """Lines computing a fused program over scalar inputs.

    inputs: expressions of the input scalars; dtypes: their dtypes; prefix: the name prefix
    for the temporaries. Returns (lines, output expressions, output dtypes).
    """
    values = list(inputs)
    types = list(dtypes)
    lines = []
    for k, (op, args) in enumerate(program):
        arg_dtypes = [types[a] for a in args]
        dtype = out_dtype(op, arg_dtypes)
        name = f"{prefix}{k}"
        expr = render_op(op, [values[a] for a in args], arg_dtypes, dtype, functions)
        lines.append(f"{name} = {expr}")
        values.append(name)
        types.append(dtype)
    return lines, [values[o] for o in outputs], [types[o] for o in outputs]


def single_op_program(op: Elemwise, n_inputs: int) -> tuple[tuple, tuple[int, ...]]:
    """A single Elemwise op as a one-instruction program: (program, outputs)."""
    return ((op, tuple(range(n_inputs))),), (n_inputs,)
