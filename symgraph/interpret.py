"""The reference evaluator: each node's NumPy reference, in topological order.

This is the `python` backend and the ground truth of the tests. It checks every result
against the node's static type, so an op whose reference disagrees with its `infer`
fails loudly instead of corrupting later results.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from symgraph.errors import NonFiniteError, ShapeError, SymgraphError, with_origin
from symgraph.graph import Constant, Graph, Node, SharedVariable
from symgraph.types import TensorType


def _shapes(values: Sequence[Any]) -> str:
    return ", ".join(f"{v.dtype}{list(v.shape)}" if isinstance(v, np.ndarray) else
                     type(v).__name__ for v in values)


def run_node(node: Node, values: list[Any]) -> Any:
    """Evaluate one node, turning NumPy failures into errors that name the node."""
    try:
        out = node.op.reference(*values)
    except SymgraphError as error:
        raise with_origin(error, node.origin) from None
    except (ValueError, IndexError) as error:
        raise with_origin(ShapeError(f"{node.op.name}: {error} (inputs: {_shapes(values)})"),
                          node.origin) from None
    except MemoryError:
        raise MemoryError(f"{node.op.name}: out of memory computing a {node.type} result from "
                          f"inputs {_shapes(values)} (created at {node.origin})") from None
    if isinstance(node.type, TensorType):
        out = np.asarray(out)
        if out.dtype.name != node.type.dtype or not node.type.accepts_shape(out.shape):
            raise with_origin(SymgraphError(
                f"{node.op.name}: internal error: produced {out.dtype}{list(out.shape)}, "
                f"its type says {node.type}"), node.origin)
    return out


def _summary(value: Any) -> str:
    array = np.asarray(value)
    if array.dtype.kind not in "fc" or array.size == 0:
        return f"{array.dtype}{list(array.shape)}"
    finite = array[np.isfinite(array)]
    span = f"finite in [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite"
    return (f"{array.dtype}{list(array.shape)} ({span}, {int(np.isnan(array).sum())} NaN, "
            f"{int(np.isinf(array).sum())} inf)")


def check_finite(node: Node, out: Any, values: list[Any]) -> None:
    """Raise NonFiniteError if a float result holds NaN or inf (the NaN guard)."""
    if isinstance(out, np.ndarray) and out.dtype.kind == "f" and not np.isfinite(out).all():
        inputs = "; ".join(_summary(v) for v in values)
        raise NonFiniteError(
            f"{node.op.name}: produced NaN or inf ({_summary(out)}) from inputs: {inputs} "
            f"(created at {node.origin}); look at the inputs' ranges, or use a stable form "
            "(log1p, logsumexp, softplus, where-guarded division)")


def evaluate(graph: Graph, inputs: Sequence[np.ndarray], check_nan: bool = False) -> list[Any]:
    """The outputs of `graph` for these input values (shared variables read as they are).

    check_nan: raise at the first node whose float result holds NaN or inf, naming it."""
    env: dict[Node, Any] = dict(zip(graph.inputs, inputs))
    remaining = _use_counts(graph)
    for node in graph.nodes:
        if node in env:
            continue
        if isinstance(node, Constant):
            env[node] = node.value
        elif isinstance(node, SharedVariable):
            env[node] = node.container[0]
        elif node.is_leaf:
            raise SymgraphError(f"input {node.name or node!r} is needed but was not given; "
                                "add it to the function's inputs or to givens")
        else:
            values = [env[i] for i in node.inputs]
            env[node] = run_node(node, values)
            if check_nan:
                check_finite(node, env[node], values)
            for i in node.inputs:  # free intermediates after their last use
                remaining[i] -= 1
                if remaining[i] == 0 and not i.is_leaf:
                    del env[i]
    return [env[o] for o in graph.outputs]


def _use_counts(graph: Graph) -> dict[Node, int]:
    counts = {node: 0 for node in graph.nodes}
    for node in graph.nodes:
        for i in node.inputs:
            counts[i] += 1
    for o in graph.outputs:
        counts[o] += 1_000_000  # outputs are never freed
    return counts
