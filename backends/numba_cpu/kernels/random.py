"""Kind "random": draws from NumPy's Philox generator, keyed like the reference.

The runner builds one `np.random.Generator(Philox(key=(seed, index), counter=(0, call,
0, 0)))` per draw and call, from the stream's call counter (a shared variable), and
passes it to the compiled function, where numba's own Generator implementation draws.
normal and uniform draws (float32 and float64) are bit-identical to the reference;
`integers` follows numba's bounded-integer algorithm (same distribution, other numbers).
"""

from __future__ import annotations

from backends.numba_cpu.kernels.loops import error_message, shape_tuple
from symgraph.errors import LoweringError
from symgraph.graph import Node, SharedVariable


def check_random(node: Node) -> None:
    """What the kernel needs: the counter is the stream's shared variable, bounds are 0-d."""
    if not isinstance(node.inputs[0], SharedVariable):
        raise LoweringError(f"{node.op.name}: the numba backend needs the draw's counter to "
                            "be the stream's shared counter variable")
    if any(p.ndim != 0 for p in node.inputs[2:]):
        raise LoweringError(f"{node.op.name}: the numba backend draws integers with scalar "
                            "bounds only; broadcast the draw instead")


def lower_random(node: Node, names) -> list[str]:
    """One draw of the run-time size, from the generator the runner passed in."""
    check_random(node)
    v = names[node]
    generator = f"g{len(names.generators)}"
    names.generators.append(node)
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
    kind = type(node.op).__name__
    dtype = node.type.dtype
    if kind == "StandardNormal":
        return lines + [f"{v} = {generator}.standard_normal({v}_shape, dtype=np.{dtype})"]
    if kind == "StandardUniform":
        return lines + [f"{v} = {generator}.random({v}_shape, dtype=np.{dtype})"]
    if kind == "Integers":
        low, high = (names[p] for p in node.inputs[2:4])
        bounds = error_message(node, "need low < high")
        return lines + [
            f"if not {low}[()] < {high}[()]:", f"    raise ShapeError({bounds})",
            f"{v} = {generator}.integers(np.int64({low}[()]), np.int64({high}[()]), "
            f"{v}_shape).astype(np.{dtype})"]
    raise LoweringError(f"{node.op.name}: the numba backend has no rule for this draw")


def generator(seed: int, index: int, counter) -> object:
    """The reference's generator for one draw in one call (see symgraph/ops/random.py)."""
    import numpy as np

    key = np.array([seed, index], dtype="uint64")
    position = np.array([0, int(counter), 0, 0], dtype="uint64")
    return np.random.Generator(np.random.Philox(key=key, counter=position))
