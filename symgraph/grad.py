"""Reverse-mode differentiation, graph to graph.

`grad(cost, wrt)` walks the graph from the cost back to `wrt`, asking each op for its
`vjp` (written with the public functions, so the same rules serve eager mode). Gradients
are summed back to each input's shape, undoing broadcasting (at run time where a `None`
dimension may have broadcast), and cast to the input's dtype. Only float values carry
gradients: integer and boolean paths (comparisons, argmax, casts to int) stop them.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from symgraph import api as sg
from symgraph.dtypes import is_float
from symgraph.errors import GradientError
from symgraph.graph import Node, toposort
from symgraph.ops.base import Elemwise, TupleGet
from symgraph.ops.reduce import SumTo
from symgraph.apply import apply
from symgraph.types import TupleType


def _shape(value: Any) -> tuple:
    return value.type.shape if isinstance(value, Node) else tuple(value.shape)


def _runtime_broadcast(x_shape: tuple, others: Sequence[tuple], out_ndim: int) -> bool:
    """Whether an unknown dimension of x may have been broadcast at run time: only when
    some other operand has a dimension there that is not statically 1."""
    for axis in range(-len(x_shape), 0):
        if x_shape[axis] is None and any(
                len(o) >= -axis and o[axis] != 1 for o in others):
            return True
    return False


def sum_like(g: Any, x: Any, others: Sequence[tuple] = ((None,) * 64,)) -> Any:
    """The gradient `g` of a broadcast use of `x`, summed back to x's shape and dtype.

    `others` are the static shapes of the other operands of the same op (by default
    assume anything), used to prove that an unknown dimension of x was not broadcast.
    """
    g_shape, x_shape = _shape(g), _shape(x)
    lead = len(g_shape) - len(x_shape)
    if lead < 0 or _runtime_broadcast(x_shape, others, len(g_shape)):
        g = apply(SumTo(x.type), g, sg.shape(x))
    elif g_shape != x_shape:
        kept = tuple(lead + i for i, d in enumerate(x_shape) if d == 1 and g_shape[lead + i] != 1)
        if kept:
            g = sg.sum(g, kept, keepdims=True)
        if lead:
            g = sg.sum(g, tuple(range(lead)))
    return g if g.dtype == x.dtype else sg.cast(g, x.dtype)


def _depends_on(order: Sequence[Node], wrt: Iterable[Node]) -> set[Node]:
    reached = set(wrt)
    for node in order:
        if any(i in reached for i in node.inputs):
            reached.add(node)
    return reached


def backprop(seeds: dict[Node, Any], wrt: Sequence[Node]) -> dict[Node, Any]:
    """Gradients of every node between `wrt` and the seeded nodes (`{node: its gradient}`)."""
    order = toposort(seeds)
    relevant = _depends_on(order, wrt)
    pending: dict[Node, list[Any]] = {node: [g] for node, g in seeds.items()}
    parts: dict[Node, dict[int, Any]] = {}  # multi-output nodes: gradient per output
    grads: dict[Node, Any] = {}
    for node in reversed(order):
        if isinstance(node.type, TupleType):
            if node not in parts:
                continue
            grad = tuple(parts[node].get(i) for i in range(len(node.type.types)))
        elif node in pending:
            grad = pending.pop(node)
            grad = grad[0] if len(grad) == 1 else _add_all(grad)
            grads[node] = grad
        else:
            continue
        if node.is_leaf or not node.op.differentiable:
            continue
        if isinstance(node.op, TupleGet):
            parts.setdefault(node.inputs[0], {})[node.op.index] = grad
            continue
        input_grads = node.op.vjp(node.inputs, node, grad)
        # Only elementwise ops broadcast; other rules return gradients of the right shape.
        broadcasts = isinstance(node.op, Elemwise)
        shapes = [getattr(i.type, "shape", ()) for i in node.inputs] if broadcasts else []
        for k, (x, gx) in enumerate(zip(node.inputs, input_grads)):
            if gx is None or x not in relevant or not _carries_gradient(x):
                continue
            if not isinstance(x.type, TupleType):
                gx = sum_like(gx, x, shapes[:k] + shapes[k + 1:])
            pending.setdefault(x, []).append(gx)
    return grads


def _carries_gradient(x: Node) -> bool:
    return isinstance(x.type, TupleType) or is_float(x.dtype)


def _add_all(terms: list[Any]) -> Any:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def grad(cost: Node, wrt: Node | Sequence[Node], known_grads: dict | None = None,
         disconnected: str = "raise") -> Any:
    """The gradient of scalar `cost` with respect to `wrt` (a variable, or a list of them).

    known_grads: `{variable: gradient}` to inject gradients of intermediate values (cost
    may then be None). disconnected: what to return for a `wrt` the cost does not depend
    on through a float path — "raise" (GradientError, the default), "zero" (zeros), or
    "ignore" (None).
    """
    single = isinstance(wrt, Node)
    targets = [wrt] if single else list(wrt)
    if disconnected not in ("raise", "zero", "ignore"):
        raise ValueError(f"grad: disconnected must be 'raise', 'zero' or 'ignore', "
                         f"not {disconnected!r}")
    seeds: dict[Node, Any] = {}
    if cost is not None:
        if not isinstance(cost, Node):
            raise GradientError(f"grad: cost must be a symbolic variable, got {cost!r}")
        if cost.ndim != 0:
            raise GradientError(
                f"grad: cost must be a scalar (0-d), got {cost.type}; reduce it with "
                "sg.sum or sg.mean first, or use sg.jacobian / sg.vjp for a non-scalar"
            )
        if not is_float(cost.dtype):
            raise GradientError(f"grad: cost has dtype {cost.dtype}; only float costs "
                                "have gradients (integer and boolean paths carry none)")
        seeds[cost] = sg.ones_like(cost)
    for node, g in (known_grads or {}).items():
        seeds[node] = sg.as_variable(g)
    if not seeds:
        raise GradientError("grad: give a cost or known_grads")
    for target in targets:
        if not isinstance(target, Node):
            raise GradientError(f"grad: wrt must be symbolic variables, got {target!r}")
    grads = backprop(seeds, targets)
    results = []
    for target in targets:
        g = grads.get(target)
        if g is None:
            if disconnected == "raise":
                label = target.name or repr(target)
                raise GradientError(
                    f"grad: the cost does not depend on {label} through a float path "
                    "(disconnected input); pass disconnected='zero' to get zeros")
            g = sg.zeros_like(target) if disconnected == "zero" else None
        results.append(g)
    return results[0] if single else results
