"""verify: the IR's invariants, checked after every pass in tests and with SYMGRAPH_DEBUG=3.

`verify(graph)` checks that every node's inputs are nodes that come before it (no cycles),
that re-inferring each node's type from its inputs gives the type it carries, that
constants match their values, that multi-output values are only read through TupleGet,
and that every free input is one of the graph's inputs. `verify(graph, before)` also
checks that a pass kept the outputs' number, dtypes and static shapes (a pass may only
make unknown dimensions known).
"""

from __future__ import annotations

from symgraph.errors import SymgraphError
from symgraph.graph import Constant, Graph, Input, Node
from symgraph.ops.base import TupleGet
from symgraph.types import TensorType, TupleType


class VerifyError(SymgraphError):
    """An IR invariant is broken: a bug in a pass or an op, not in the user's program."""


def _fail(node: Node | None, message: str) -> None:
    where = "" if node is None else f" at {node.op if node.op else node!r}"
    origin = f" (created at {node.origin})" if node is not None and node.origin else ""
    raise VerifyError(f"verify{where}: {message}{origin}")


def verify(graph: Graph, before: Graph | None = None) -> None:
    """Raise VerifyError when `graph` breaks an IR invariant (or changed `before`'s outputs)."""
    position: dict[Node, int] = {}
    inputs = set(graph.inputs)
    for node in graph.nodes:
        if not isinstance(node, Node):
            _fail(None, f"{node!r} in the graph is not a Node")
        for i in node.inputs:
            if not isinstance(i, Node):
                _fail(node, f"input {i!r} is not a Node")
            if i not in position:
                _fail(node, f"input {i!r} does not come before its user (a cycle?)")
        position[node] = len(position)
        _check_node(node, inputs)
    for node in graph.inputs:
        if not isinstance(node, Input):
            _fail(node, "a graph input must be an Input")
    if before is not None:
        _check_outputs(before, graph)


def _check_node(node: Node, inputs: set[Node]) -> None:
    if isinstance(node, Constant):
        value = node.value
        if node.type != TensorType(value.dtype.name, value.shape):
            _fail(node, f"constant of type {node.type} holds {value.dtype}{list(value.shape)}")
        return
    if isinstance(node, Input) and node not in inputs:
        _fail(node, f"free input {node.name or node!r} is not among the graph's inputs")
    if node.is_leaf:
        return
    for i in node.inputs:
        if isinstance(i.type, TupleType) and not isinstance(node.op, TupleGet):
            _fail(node, f"reads the multi-output value {i.op} directly, not through tuple_get")
    try:
        inferred = node.op.infer(*(i.type for i in node.inputs))
    except Exception as error:  # any failure here is an IR bug worth reporting as such
        _fail(node, f"type inference fails on its inputs: {error}")
    if inferred != node.type:
        _fail(node, f"carries type {node.type} but its inputs give {inferred}")


def _check_outputs(before: Graph, after: Graph) -> None:
    if len(before.outputs) != len(after.outputs):
        _fail(None, f"{len(before.outputs)} outputs became {len(after.outputs)}")
    for k, (old, new) in enumerate(zip(before.outputs, after.outputs)):
        a, b = old.type, new.type
        same = (a.dtype == b.dtype and a.ndim == b.ndim
                and all(x is None or x == y for x, y in zip(a.shape, b.shape)))
        if not same:
            _fail(new, f"output {k} was {a} and is now {b}")
