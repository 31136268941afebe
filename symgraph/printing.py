"""Making graphs visible: the flat listing, infix text, networkx and Graphviz DOT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from symgraph.graph import Constant, Graph, Input, Node, SharedVariable

if TYPE_CHECKING:
    import networkx as nx


def _graph_of(obj: Any) -> Graph:
    if isinstance(obj, Graph):
        return obj
    if isinstance(obj, Node):
        return Graph([], [obj])
    if isinstance(obj, (list, tuple)):
        return Graph([], list(obj))
    if hasattr(obj, "graph"):
        return obj.graph
    raise TypeError(f"cannot print {type(obj).__name__}; give a variable, graph or function")


def _leaf_text(node: Node) -> str:
    if isinstance(node, Constant):
        text = np.array2string(node.value, threshold=6, precision=6, separator=", ")
        return f"constant {' '.join(text.split())}"
    if isinstance(node, SharedVariable):
        return f"shared {node.name or '?'}"
    return f"input {node.name or '?'}"


def listing(obj: Any) -> str:
    """One line per node: `%3 = mul %1 %2 : float32[?,4]`; outputs marked at the end."""
    graph = _graph_of(obj)
    number: dict[Node, int] = {}
    lines = []
    for node in graph.nodes:
        number[node] = len(number)
        if node.is_leaf:
            rhs = _leaf_text(node)
        else:
            rhs = " ".join([str(node.op)] + [f"%{number[i]}" for i in node.inputs])
        lines.append(f"%{number[node]} = {rhs} : {node.type}")
    lines.append("return " + ", ".join(f"%{number[o]}" for o in graph.outputs))
    return "\n".join(lines)


def debugprint(obj: Any, file: Any = None) -> None:
    """Print the flat listing of a variable, a list of them, a graph or a compiled function."""
    print(listing(obj), file=file)


def _infix(node: Node, names: dict[Node, str]) -> str:
    if node.is_leaf:
        return names.get(node) or node.name or _leaf_text(node).split(" ", 1)[1]
    args = [_infix(i, names) for i in node.inputs]
    template = getattr(node.op, "scalar", None)
    if isinstance(template, str) and "{0}" in template and not type(node.op).__name__ == "Cast":
        text = template.format(*args).replace("math.", "").replace("np.", "")
        return f"({text})" if " " in text and not text.endswith(")") else text
    return f"{node.op}({', '.join(args)})"


def pprint(obj: Any) -> str:
    """Infix text of an expression: `exp((x * 2.0))`."""
    graph = _graph_of(obj)
    return ", ".join(_infix(o, {}) for o in graph.outputs)


def to_networkx(obj: Any) -> nx.DiGraph:
    """A DiGraph with an edge from each input to its user; nodes carry `label` and `type`."""
    import networkx as nx  # imported when used: it takes ~0.1 s, a tenth of a warm start

    graph = _graph_of(obj)
    dag = nx.DiGraph()
    index = {node: i for i, node in enumerate(graph.nodes)}
    for node, i in index.items():
        label = _leaf_text(node) if node.is_leaf else str(node.op)
        dag.add_node(i, label=label, type=str(node.type), leaf=node.is_leaf,
                     output=node in graph.outputs)
        for position, parent in enumerate(node.inputs):
            dag.add_edge(index[parent], i, position=position)
    return dag


def to_dot(obj: Any) -> str:
    """Graphviz source of the graph (render with `dot -Tsvg`)."""
    dag = to_networkx(obj)
    lines = ["digraph symgraph {", "  rankdir=TB; node [fontname=Helvetica, fontsize=10];"]
    for i, data in dag.nodes(data=True):
        label = f"{data['label']}\\n{data['type']}".replace('"', "'")
        shape = "ellipse" if data["leaf"] else "box"
        style = ', style=filled, fillcolor="#cde8ff"' if data["output"] else ""
        lines.append(f'  n{i} [label="{label}", shape={shape}{style}];')
    for a, b in dag.edges():
        lines.append(f"  n{a} -> n{b};")
    lines.append("}")
    return "\n".join(lines)
