"""Kind "random": draws computed in compiled code, equal to the reference's numbers.

A draw is a pure function of (seed, index, call counter, size) — see
`symgraph/ops/random.py` — and `kernels/philox.py` computes NumPy's Philox stream and
distributions from those integers inside numba code. So a draw is one call in the
generated source wherever it sits: in `entry`, in a scan step (the counter is then the
step's carried counter, so each step draws fresh numbers) or in an ifelse branch. normal,
uniform and integers (every integer dtype) are bit-identical to the reference.
"""

from __future__ import annotations

import numpy as np

from backends.numba_cpu.kernels.loops import error_message, shape_tuple
from symgraph.errors import LoweringError
from symgraph.graph import Node

DRAWS = {"StandardNormal": "draw_normal", "StandardUniform": "draw_uniform",
         "Integers": "draw_integers"}  # + "_float32" / "_float64" for the float draws


def check_random(node: Node) -> None:
    """What the kernel needs: a known distribution, and 0-d bounds for integers."""
    if type(node.op).__name__ not in DRAWS:
        raise LoweringError(f"{node.op.name}: the numba backend has no rule for this draw")
    if any(p.ndim != 0 for p in node.inputs[2:]):
        raise LoweringError(f"{node.op.name}: the numba backend draws integers with scalar "
                            "bounds only; broadcast the draw instead")


def _integer_checks(node: Node, low: str, high: str) -> list[str]:
    """low < high, both within the dtype (NumPy's integers raises otherwise)."""
    info = np.iinfo(node.type.dtype)
    tests = [f"not {low} < {high}"]
    if info.min > np.iinfo("int64").min:
        tests.append(f"{low} < {info.min}")
    if info.max < np.iinfo("int64").max:
        tests.append(f"{high} > {info.max + 1}")
    message = error_message(node, f"need low < high within the range of {node.type.dtype}")
    return [f"if {' or '.join(tests)}:", f"    raise SymgraphError({message})"]


def lower_random(node: Node, names) -> list[str]:
    """One draw of the run-time size, keyed by the op's seed and index and the counter's
    current value."""
    check_random(node)
    v = names[node]
    size = names[node.inputs[1]]
    rank = len(node.op.shape)
    dims = [f"{size}[{j}]" for j in range(rank)]
    message = error_message(node, f"size is negative or does not fit the static shape "
                                  f"{node.op.shape}")
    tests = [f"{d} < 0" for d in dims] + [f"{d} != {s}" for d, s in zip(dims, node.op.shape)
                                          if s is not None]
    lines = [f"{v}_shape = {shape_tuple(dims)}"]
    if tests:
        lines += [f"if {' or '.join(tests)}:", f"    raise ShapeError({message})"]
    function = DRAWS[type(node.op).__name__]
    if function != "draw_integers":
        function += f"_{node.type.dtype}"
    names.functions.used.add(function)
    count = " * ".join(dims) or "1"
    args = [f"np.uint64({node.op.seed})", f"np.uint64({node.op.index})",
            f"np.int64({names[node.inputs[0]]}[()])", f"np.int64({count})"]
    if function == "draw_integers":
        low, high = (f"np.int64({names[p]}[()])" for p in node.inputs[2:4])
        lines += [f"{v}_low = {low}", f"{v}_high = {high}"]
        lines += _integer_checks(node, f"{v}_low", f"{v}_high")
        args += [f"{v}_low", f"{v}_high", f"np.{node.type.dtype}"]
    # The draw is flat (one compiled version per dtype, whatever the rank): a view reshapes.
    return lines + [f"{v} = shaped({function}({', '.join(args)}), {v}_shape)"]
