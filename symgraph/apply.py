"""apply(op, *args): the one dispatch point between ops and values.

Symbolic arguments build a Node whose type the op infers now, so shape and dtype errors
surface where the user wrote the expression; eager tensors compute at once and are recorded
on the tape (see `symgraph.eager`). Mixing the two is refused.
"""

from __future__ import annotations

from typing import Any

from symgraph.errors import SymgraphError, with_origin
from symgraph.graph import Node, user_origin
from symgraph.ops.base import Op
from symgraph.eager import Tensor, apply_eager


def apply(op: Op, *args: Any) -> Any:
    """Apply `op` to symbolic nodes (build a node) or eager tensors (compute now)."""
    for a in args:  # all eager tensors, the eager hot path: one type test per argument
        if type(a) is not Tensor:
            break
    else:
        if args:
            return apply_eager(op, args)
    symbolic = 0
    for a in args:
        symbolic += isinstance(a, Node)
    if symbolic == len(args):
        try:
            node_type = op.infer(*(a.type for a in args))
        except SymgraphError as error:
            raise with_origin(error, user_origin()) from None
        return Node(op, args, node_type, origin=user_origin())
    if symbolic:
        kinds = ", ".join(type(a).__name__ for a in args)
        raise SymgraphError(
            f"{op.name}: cannot mix symbolic variables and eager tensors ({kinds}); "
            "use sg.jit to compile eager code, or .numpy() to pass an eager value as data"
        )
    return apply_eager(op, args)
