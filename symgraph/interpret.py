"""The reference evaluator: each node's NumPy reference, in topological order.

This is the `python` backend and the ground truth of the tests. It checks every result
against the node's static type, so an op whose reference disagrees with its `infer`
fails loudly instead of corrupting later results.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from symgraph.errors import ShapeError, SymgraphError, with_origin
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
    if isinstance(node.type, TensorType):
        out = np.asarray(out)
        if out.dtype.name != node.type.dtype or not node.type.accepts_shape(out.shape):
            raise with_origin(SymgraphError(
                f"{node.op.name}: internal error: produced {out.dtype}{list(out.shape)}, "
                f"its type says {node.type}"), node.origin)
    return out


def evaluate(graph: Graph, inputs: Sequence[np.ndarray]) -> list[Any]:
    """The outputs of `graph` for these input values (shared variables read as they are)."""
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
            env[node] = run_node(node, [env[i] for i in node.inputs])
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
