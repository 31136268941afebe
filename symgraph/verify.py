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
    where = "" if node is None else f" at {node.op or repr(node)}"
    origin = f" (created at {node.origin})" if node is not None and node.origin else ""
    raise VerifyError(f"verify{where}: {message}{origin}")


def verify(graph: Graph, before: Graph | None = None) -> None:
    """Raise VerifyError when `graph` breaks an IR invariant (or changed `before`'s outputs)."""
    inputs = set(graph.inputs)
    for node in _order(graph):
        _check_node(node, inputs)
    for node in graph.inputs:
        if not isinstance(node, Input):
            _fail(node, "a graph input must be an Input")
    if before is not None:
        _check_outputs(before, graph)


def _order(graph: Graph) -> list[Node]:
    """The nodes in topological order, failing on a cycle or an input that is not a Node
    (graph.nodes would loop forever on a cycle)."""
    order: list[Node] = []
    state: dict[int, bool] = {}  # id -> finished?
    for root in graph.inputs + graph.outputs:
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if not isinstance(node, Node):
                _fail(None, f"{node!r} in the graph is not a Node")
            if index == 0 and state.get(id(node)) is not None:
                if not state[id(node)]:
                    _fail(node, "the node depends on itself (a cycle)")
                continue
            state[id(node)] = False
            if index < len(node.inputs):
                child = node.inputs[index]
                if not isinstance(child, Node):
                    _fail(node, f"input {child!r} is not a Node")
                stack.append((node, index + 1))
                if state.get(id(child)) is not True:
                    stack.append((child, 0))
            else:
                state[id(node)] = True
                order.append(node)
    return order


def _check_node(node: Node, inputs: set[Node]) -> None:
    if isinstance(node, Constant):
        value = node.value
        if node.type != TensorType(value.dtype.name, value.shape):
            _fail(node, f"constant of type {node.type} holds {value.dtype}{list(value.shape)}")
        return
    if isinstance(node, Input) and node not in inputs:
        _fail(node, f"free input {node.name or repr(node)} is not among the graph's inputs")
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
