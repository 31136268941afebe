"""plan_reuse: where an output may overwrite a dead input, for the backends.

`reuse(graph)` returns `{node: input_index}`: the node's output may be written into the
buffer of that input, because the node is the input's only user, the input is not a
graph output, and both have the same dtype and provably the same run-time shape.
Only inputs that own a fresh buffer qualify (results of elementwise, fused, reduction and
matmul kernels): never leaves (the caller's arrays, constants, shared state) and never
views, whose memory belongs to another array. Only single-output elementwise and fused
nodes are planned: they read element i before writing element i, so in-place is safe.

The `plan_reuse` pass attaches the plan to the graph it returns as `graph.reuse`.
"""

from __future__ import annotations

from symgraph.graph import Graph, Node
from symgraph.rewrite.facts import same_shape
from symgraph.types import TensorType

# Kernel kinds whose result is a fresh array (never a view of an input).
OWNING_KINDS = frozenset({"elemwise", "fused", "fused_reduce", "reduce", "matmul"})
# Kernel kinds that compute element i from element i of their inputs only.
IN_PLACE_KINDS = frozenset({"elemwise", "fused"})


def reuse(graph: Graph) -> dict[Node, int]:
    """`{node: input_index}` where node's output may overwrite that input's buffer."""
    users: dict[Node, int] = {}
    for node in graph.nodes:
        for i in set(node.inputs):
            users[i] = users.get(i, 0) + 1
    outputs = set(graph.outputs)
    plan: dict[Node, int] = {}
    for node in graph.nodes:
        if node.is_leaf or node.op.kind not in IN_PLACE_KINDS:
            continue
        if not isinstance(node.type, TensorType):
            continue
        for k, i in enumerate(node.inputs):
            if (not i.is_leaf and i.op.kind in OWNING_KINDS and users[i] == 1
                    and i not in outputs and isinstance(i.type, TensorType)
                    and i.dtype == node.dtype and same_shape(i, node)):
                plan[node] = k
                break
    return plan


def plan_reuse(graph: Graph) -> Graph:
    """The graph, with `graph.reuse` = reuse(graph) for the backends."""
    planned = Graph(graph.inputs, graph.outputs)
    planned.reuse = reuse(graph)
    return planned
