"""Building nodes inside rules: `make(op, *inputs)` infers the type like `apply` does."""

from __future__ import annotations

import numpy as np

from symgraph.graph import Constant, Node
from symgraph.ops.base import Op


def make(op: Op, *inputs: Node) -> Node:
    """A new node applying `op` to `inputs` (type inferred; no source line to record)."""
    return Node(op, inputs, op.infer(*(i.type for i in inputs)))


def constant_like(value: object, like: Node) -> Constant:
    """A 0-d constant of `like`'s dtype."""
    return Constant(np.asarray(value, dtype=like.dtype))
