"""The `python` backend: the reference interpreter, always available, the ground truth."""

from __future__ import annotations

from typing import Any

from symgraph.graph import Graph
from symgraph.interpret import evaluate


class PythonBackend:
    """Walks the graph calling each op's NumPy reference."""

    name = "python"
    kinds = None  # every kind: each op's reference is its implementation

    def lower(self, graph: Graph) -> Any:
        def run(inputs: list) -> list:
            return evaluate(graph, inputs)

        return run


BACKEND = PythonBackend()
