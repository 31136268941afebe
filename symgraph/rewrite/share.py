"""share_log_softmax: one log_softmax where a graph needs both softmax(z) and the softmax
cross-entropy of z.

A training step does: its loss is softmax_cross_entropy(z, labels), and the loss's
gradient is softmax(z) - one_hot(labels). Computed apart, each shifts and exponentiates
every row of z. Here both come from one l = log_softmax(z):

    softmax(z)                        -> exp(l)   (fused into the gradient's loop)
    softmax_cross_entropy(z, labels)  -> neg_log_likelihood(l, labels) = -l[label]

exp(log_softmax(z)) is softmax(z) to within an ulp or two of rounding. On the numba
backend this is one row kernel to compile instead of two (`cross_entropy_rows` took
~1.2 s of a cold start) and one pass over the logits instead of two.
A loss with no softmax of the same logits beside it is left alone: it reads z without
writing a row of log-probabilities.
"""

from __future__ import annotations

from symgraph.graph import Graph, Node, substitute
from symgraph.ops import unary
from symgraph.rewrite.engine import record
from symgraph.rewrite.optional import op_class

Softmax = op_class("symgraph.ops.nn", "Softmax")
LogSoftmax = op_class("symgraph.ops.nn", "LogSoftmax")
SoftmaxCrossEntropy = op_class("symgraph.ops.nn", "SoftmaxCrossEntropy")
NegLogLikelihood = op_class("symgraph.ops.nn", "NegLogLikelihood")


def share_log_softmax(graph: Graph) -> Graph:
    """softmax(z) and softmax_cross_entropy(z, labels) of one z -> exp(l) and
    neg_log_likelihood(l, labels) of one l = log_softmax(z)."""
    if NegLogLikelihood is None:
        return graph
    softmax_of = {node.inputs[0]: node for node in graph.nodes
                  if not node.is_leaf and type(node.op) is Softmax
                  and node.op.axis == node.ndim - 1}
    mapping: dict[Node, Node] = {}
    for node in graph.nodes:
        if node.is_leaf or type(node.op) is not SoftmaxCrossEntropy:
            continue
        logits, labels = node.inputs
        softmax = softmax_of.get(logits)
        if softmax is None:
            continue
        if softmax not in mapping:
            log_probs = _like(softmax, LogSoftmax(softmax.op.axis), logits)
            mapping[softmax] = _like(softmax, unary.Exp(), log_probs)
        mapping[node] = _like(node, NegLogLikelihood(), mapping[softmax].inputs[0], labels)
        record("share_log_softmax.cross_entropy")
    if not mapping:
        return graph
    return Graph(graph.inputs, substitute(graph.outputs, mapping))


def _like(node: Node, op, *inputs: Node) -> Node:
    """A node applying `op` to `inputs`, named and placed (origin) like `node`, whose
    value it computes: errors still point at the user's line."""
    return Node(op, inputs, op.infer(*(i.type for i in inputs)), node.name, node.origin)
