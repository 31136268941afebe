"""Reverse-mode differentiation, graph to graph: grad, jacobian, hessian, vjp, jvp.

`grad(cost, wrt)` walks the graph from the cost back to `wrt`, asking each op for its
`vjp` (written with the public functions, so the same rules serve eager mode). Gradients
are summed back to each input's shape, undoing broadcasting (at run time where a `None`
dimension may have broadcast), and cast to the input's dtype. Only float values carry
gradients: integer and boolean paths (comparisons, argmax, casts to int) stop them.

The result is an ordinary graph, so it can be differentiated again (`hessian`), and
forward mode (`jvp`) is two reverse passes: the gradient of `<J^T u, t>` with respect to
the cotangent `u` is `J t`. `jacobian` seeds one reverse pass with the whole basis of the
output's space at once (a *batched* seed: every gradient carries the output's axes in
front), so it needs no loop even when sizes are only known at run time.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from symgraph import api as sg
from symgraph.apply import apply
from symgraph.dtypes import is_float
from symgraph.errors import GradientError, SymgraphError, with_origin
from symgraph.graph import Input, Node, substitute, toposort
from symgraph.ops.base import Elemwise, Op, TupleGet
from symgraph.ops.reduce import Sum, SumTo
from symgraph.ops.shape import ExpandDims, Squeeze
from symgraph.types import TensorType, TupleType

MODES = ("raise", "zero", "ignore")
MAX_CONSTANT_BASIS = 256  # jacobian: outputs up to this size get a constant identity seed


# -- the engine ---------------------------------------------------------------------------

def _shape(value: Any) -> tuple:
    return value.type.shape if isinstance(value, Node) else tuple(value.shape)


def _runtime_broadcast(x_shape: tuple, others: Sequence[tuple]) -> bool:
    """Whether an unknown dimension of x may have been broadcast at run time: only when
    some other operand has a dimension there that is not statically 1."""
    for axis in range(-len(x_shape), 0):
        if x_shape[axis] is None and any(len(o) >= -axis and o[axis] != 1 for o in others):
            return True
    return False


def _target_shape(g: Any, x: Any, batch: int) -> Any:
    """The run-time shape (batch axes of g, then x's shape) as an int64 vector."""
    if not batch:
        return sg.shape(x)
    in_batch = sg.constant(np.arange(batch + x.ndim) < batch)
    return sg.where(in_batch, sg.shape(g), sg.shape(sg.expand_dims(x, tuple(range(batch)))))


def sum_like(g: Any, x: Any, others: Sequence[tuple] = ((None,) * 64,), batch: int = 0) -> Any:
    """The gradient `g` of a broadcast use of `x`, summed back to x's shape and dtype.

    `others` are the static shapes of the other operands of the same op (by default
    assume anything), used to prove that an unknown dimension of x was not broadcast.
    `batch` leading axes of g (a batched seed's) are kept.
    """
    g_shape, x_shape = _shape(g), _shape(x)
    lead = len(g_shape) - batch - len(x_shape)
    if lead < 0:
        raise GradientError(f"internal error: a gradient of shape {g_shape} (batch {batch}) "
                            f"for a value of shape {x_shape}")
    if lead:
        g = sg.sum(g, tuple(range(batch, batch + lead)))
        g_shape = _shape(g)
    if _runtime_broadcast(x_shape, others):
        like = TensorType(g.dtype, g_shape[:batch] + tuple(x_shape))
        g = apply(SumTo(like), g, _target_shape(g, x, batch))
    else:
        kept = tuple(batch + i for i, d in enumerate(x_shape)
                     if d == 1 and g_shape[batch + i] != 1)
        if kept:
            g = sg.sum(g, kept, keepdims=True)
    return g if g.dtype == x.dtype else sg.cast(g, x.dtype)


def _depends_on(order: Sequence[Node], wrt: Sequence[Node]) -> set[Node]:
    """The nodes a gradient can travel through on its way to `wrt`: wrt, and every float
    value a differentiable op computes from one of them (shapes and masks are not)."""
    reached = set(wrt)
    for node in order:
        if node.is_leaf or not node.op.differentiable or not _carries_gradient(node):
            continue
        if any(i in reached for i in node.inputs):
            reached.add(node)
    return reached


def batch_safe(op: Op) -> bool:
    """Whether op's vjp rule is right for a gradient with extra leading (batch) axes,
    `g.ndim - output.ndim` of them.

    Elementwise rules broadcast, so they are; an op with axes declares it with a class
    attribute `vjp_batches = True` once its rule counts axes from the end or shifts them
    by that many (see docs/gradients.md).
    """
    return isinstance(op, (Elemwise, SumTo)) or bool(getattr(op, "vjp_batches", False))


def _batchable(op: Op) -> bool:
    return batch_safe(op) or isinstance(op, (Sum, ExpandDims, Squeeze))


def _batched_vjp(node: Node, g: Any, batch: int) -> tuple:
    """The rules of the core ops with axes, shifted past `batch` leading axes."""
    op, x = node.op, node.inputs[0]
    shifted = tuple(a + batch for a in getattr(op, "axis", ()))
    if isinstance(op, Sum):
        expanded = g if op.keepdims or not shifted else sg.expand_dims(g, shifted)
        return (sg.broadcast_like(expanded, x),)
    if isinstance(op, ExpandDims):
        return (sg.squeeze(g, shifted),)
    if isinstance(op, Squeeze):
        return (sg.expand_dims(g, shifted),)
    raise GradientError(f"{op.name}: no batched gradient rule (internal error: jacobian "
                        "should have unrolled)")


def _rule(node: Node, g: Any, batch: int) -> Sequence[Any]:
    """node's input gradients from its rule, with errors that name the user's line."""
    try:
        if batch and not batch_safe(node.op):
            grads = _batched_vjp(node, g, batch)
        else:
            grads = node.op.vjp(node.inputs, node, g)
    except SymgraphError as error:
        raise with_origin(error, node.origin) from None
    if grads is None or len(grads) != len(node.inputs):
        count = "None" if grads is None else len(grads)
        raise with_origin(GradientError(
            f"{node.op.name}: its vjp rule returned {count} gradients for "
            f"{len(node.inputs)} inputs; a rule returns one gradient (or None) per input"),
            node.origin)
    return grads


def backprop(seeds: dict[Node, Any], wrt: Sequence[Node], batch: int = 0) -> dict[Node, Any]:
    """Gradients of every node between `wrt` and the seeded nodes (`{node: its gradient}`).

    batch: how many leading axes every seed (so every gradient) has in front of its
    value's shape; `jacobian` seeds a whole basis at once this way.
    """
    order = toposort(seeds)
    relevant = _depends_on(order, wrt)
    pending: dict[Node, list[Any]] = {node: [g] for node, g in seeds.items()}
    parts: dict[Node, dict[int, Any]] = {}  # multi-output nodes: gradient per output
    grads: dict[Node, Any] = {}
    for node in reversed(order):
        if node not in relevant:
            continue
        if isinstance(node.type, TupleType):
            if node not in parts:
                continue
            grad = tuple(parts[node].get(i) for i in range(len(node.type.types)))
        elif node in pending:
            grad = _add_all(pending.pop(node))
            grads[node] = grad
        else:
            continue
        if node.is_leaf or not node.op.differentiable:
            continue
        if isinstance(node.op, TupleGet):
            parts.setdefault(node.inputs[0], {})[node.op.index] = grad
            continue
        input_grads = _rule(node, grad, batch)
        # Only elementwise ops broadcast; other rules return gradients of the right shape.
        broadcasts = isinstance(node.op, Elemwise)
        shapes = [getattr(i.type, "shape", ()) for i in node.inputs] if broadcasts else []
        for k, (x, gx) in enumerate(zip(node.inputs, input_grads)):
            if gx is None or x not in relevant or not _carries_gradient(x):
                continue
            if not isinstance(x.type, TupleType):
                gx = sum_like(gx, x, shapes[:k] + shapes[k + 1:], batch)
            pending.setdefault(x, []).append(gx)
    return grads


def _carries_gradient(x: Node) -> bool:
    return isinstance(x.type, TupleType) or is_float(x.dtype)


def _add_all(terms: list[Any]) -> Any:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


# -- checking what users pass ---------------------------------------------------------------

def _label(node: Node) -> str:
    return node.name or repr(node)


def _targets(wrt: Any, fn: str) -> tuple[bool, list[Node]]:
    single = not isinstance(wrt, (list, tuple))
    targets = [wrt] if single else list(wrt)
    for target in targets:
        if not isinstance(target, Node):
            raise GradientError(f"{fn}: wrt must be symbolic variables, got {target!r} (for "
                                "eager tensors call .backward() and read .grad)")
    return single, targets


def _check_mode(disconnected: str, fn: str) -> None:
    if disconnected not in MODES:
        raise ValueError(f"{fn}: disconnected must be 'raise', 'zero' or 'ignore', "
                         f"not {disconnected!r}")


def _check_float(y: Any, fn: str, role: str) -> Node:
    if not isinstance(y, Node):
        raise GradientError(f"{fn}: {role} must be a symbolic variable, got {y!r}")
    if not is_float(y.dtype):
        raise GradientError(f"{fn}: {role} {_label(y)} is {y.type}; only float values have "
                            "gradients (integer and boolean paths carry none); cast it with "
                            ".astype('float64') if its values are meant to be continuous")
    return y


def _check_cotangent(node: Any, g: Any, fn: str) -> Any:
    """A cotangent (known gradient, tangent) for `node`: node's dtype, broadcast to it."""
    node = _check_float(node, fn, "a differentiated value")
    g = sg.as_variable(g)
    if g.ndim > node.ndim:
        raise GradientError(f"{fn}: the gradient given for {_label(node)} is {g.type}, "
                            f"the value is {node.type}; give it the value's shape")
    if g.type.shape != node.type.shape:
        g = sg.broadcast_like(g, node)
    return sg.cast(g, node.dtype)


def _result(g: Any, target: Node, disconnected: str, fn: str, why: str,
            zeros: Callable[[], Any]) -> Any:
    """g, or what `disconnected` asks for where the target got no gradient (`why` says
    what does not depend on what)."""
    if g is not None:
        return g
    if disconnected == "raise":
        if not is_float(target.dtype):
            why = (f"{_label(target)} is {target.dtype}: integer and boolean values carry "
                   "no gradient")
        raise GradientError(f"{fn}: {why}; pass disconnected='zero' for zeros or "
                            "disconnected='ignore' for None")
    return zeros() if disconnected == "zero" else None


def _unused(of: str, target: Node) -> str:
    return f"{of} does not depend on {_label(target)} through a float path (disconnected input)"


# -- the public functions -------------------------------------------------------------------

def grad(cost: Node | None, wrt: Node | Sequence[Node], known_grads: dict | None = None,
         disconnected: str = "raise") -> Any:
    """The gradient of scalar `cost` with respect to `wrt` (a variable, or a list of them).

    Returns a variable shaped like `wrt` with its dtype (a list for a list). known_grads:
    `{variable: gradient}` to inject gradients of intermediate values (added to the cost's;
    cost may then be None). disconnected: what to return for a `wrt` the cost does not
    depend on through a float path — "raise" (GradientError, the default), "zero" (zeros
    like wrt), or "ignore" (None). Integer and boolean variables never get a gradient.
    """
    single, targets = _targets(wrt, "grad")
    _check_mode(disconnected, "grad")
    seeds: dict[Node, Any] = {}
    if cost is not None:
        cost = _check_float(cost, "grad", "cost")
        if cost.ndim != 0:
            raise GradientError(
                f"grad: cost must be a scalar (0-d), got {cost.type}; reduce it with "
                "sg.sum or sg.mean first, or use sg.jacobian / sg.vjp for a non-scalar")
        seeds[cost] = sg.ones_like(cost)
    for node, g in (known_grads or {}).items():
        g = _check_cotangent(node, g, "grad")
        seeds[node] = seeds[node] + g if node in seeds else g
    if not seeds:
        raise GradientError("grad: give a cost or known_grads")
    grads = backprop(seeds, targets)
    results = [_result(grads.get(t), t, disconnected, "grad", _unused("the cost", t),
                       lambda t=t: sg.zeros_like(t)) for t in targets]
    return results[0] if single else results


def jacobian(y: Node, wrt: Node | Sequence[Node], disconnected: str = "raise") -> Any:
    """The Jacobian of `y` (any shape) with respect to `wrt`: shape `y.shape + x.shape`.

    `J[i…, j…] = d y[i…] / d x[j…]`, a list for a list of `wrt`. One reverse pass seeded
    with the basis of y's space when every op between x and y takes a batched gradient
    (elementwise ops, sum, expand_dims, squeeze, ops declaring `vjp_batches`): any sizes,
    known only at run time too. Otherwise one pass per element of y, which needs y's
    shape to be known statically.
    """
    single, targets = _targets(wrt, "jacobian")
    _check_mode(disconnected, "jacobian")
    y = _check_float(y, "jacobian", "y")
    order = toposort([y])
    relevant = _depends_on(order, targets)
    blockers = sorted({n.op.name for n in order if n in relevant and not n.is_leaf
                       and n.op.differentiable and not _batchable(n.op)})
    static = all(d is not None for d in y.type.shape)
    if not blockers:
        grads = backprop({y: _basis(y)}, targets, batch=y.ndim)
        rows = [grads.get(t) for t in targets]
    elif static:
        rows = _unrolled_jacobian(y, targets)
    else:
        raise GradientError(
            f"jacobian: {', '.join(blockers)} between wrt and y cannot take a batched "
            f"gradient, and y ({y.type}) has no static shape to unroll over; declare "
            "the inputs with static shapes (sg.tensor(..., shape=(3,))) so y has one")
    if static and 0 in y.type.shape:
        disconnected = "zero"  # an empty Jacobian is all zeros whatever y depends on
    results = [_result(row, t, disconnected, "jacobian", _unused("y", t),
                       lambda t=t: _jacobian_zeros(y, t)) for row, t in zip(rows, targets)]
    return results[0] if single else results


def _basis(y: Node) -> Node:
    """The batched seed: a constant for small static sizes, else computed at run time (so
    a large one does not live in the graph)."""
    if all(d is not None for d in y.type.shape) and np.prod(y.type.shape) <= MAX_CONSTANT_BASIS:
        size = int(np.prod(y.type.shape))
        return sg.constant(np.eye(size, dtype=y.dtype).reshape(y.type.shape * 2))
    shape = sg.shape(y)
    identity = sg.eye(sg.prod(shape), dtype=y.dtype)
    return sg.reshape(identity, sg.concatenate([shape, shape]))


def _jacobian_zeros(y: Node, x: Node) -> Any:
    expanded = sg.expand_dims(y, tuple(range(y.ndim, y.ndim + x.ndim))) if x.ndim else y
    return sg.broadcast_like(sg.zeros_like(expanded, x.dtype), x)


def _unrolled_jacobian(y: Node, targets: list[Node]) -> list[Any]:
    """One reverse pass per element of y (static shape), rows placed with one-hot masks."""
    shape = y.type.shape
    totals: list[Any] = [None] * len(targets)
    for index in np.ndindex(*shape):
        seed = np.zeros(shape, y.dtype)
        seed[index] = 1
        grads = backprop({y: sg.constant(seed)}, targets)
        for k, target in enumerate(targets):
            row = grads.get(target)
            if row is None:
                continue
            mask = np.zeros(shape + (1,) * target.ndim, target.dtype)
            mask[index] = 1
            lifted = sg.expand_dims(row, tuple(range(y.ndim))) if y.ndim else row
            term = lifted * mask
            totals[k] = term if totals[k] is None else totals[k] + term
    return totals


def hessian(cost: Node, wrt: Node | Sequence[Node], disconnected: str = "raise") -> Any:
    """Second derivatives of scalar `cost`: shape `x.shape + x.shape` for one variable.

    For a list `[x1, x2, …]` the result is the list of lists of blocks
    `H[i][j] = d²cost / dxi dxj` of shape `xi.shape + xj.shape` (JAX's layout).
    `disconnected` applies to the first derivative; a gradient that does not depend on
    some xj (a cost linear in it) has a zero block.
    """
    single, targets = _targets(wrt, "hessian")
    firsts = grad(cost, targets, disconnected=disconnected)
    rows = []
    for g in firsts:
        if g is None:
            rows.append([None] * len(targets))
        else:
            rows.append(jacobian(g, targets, disconnected="zero"))
    return rows[0][0] if single else rows


def _as_outputs(outputs: Any) -> tuple[bool, list[Any]]:
    single = not isinstance(outputs, (list, tuple))
    return single, [outputs] if single else list(outputs)


def _vjp(outputs: list[Node], targets: list[Node], cotangents: list[Any],
         disconnected: str) -> list[Any]:
    if len(cotangents) != len(outputs):
        raise GradientError(f"vjp: {len(outputs)} outputs but {len(cotangents)} cotangents")
    known: dict[Node, Any] = {}
    for out, ct in zip(outputs, cotangents):  # an output listed twice: its cotangents add
        known[out] = known[out] + ct if out in known else sg.as_variable(ct)
    return grad(None, targets, known_grads=known, disconnected=disconnected)


def vjp(fn_or_outputs: Any, *args: Any, disconnected: str = "raise") -> Any:
    """Reverse mode with explicit cotangents (`J^T u`), in two forms:

    - `vjp(outputs, wrt, cotangents)`: the gradients of `sum(u_i * output_i)` with
      respect to `wrt` (a list for a list); outputs/cotangents a value or matching lists.
    - `vjp(fn, *primals)` (JAX style): returns `(outputs, pullback)` where
      `pullback(*cotangents)` (one per output of fn) returns a tuple, one gradient per
      primal.
    """
    _check_mode(disconnected, "vjp")
    if callable(fn_or_outputs):
        primals = _targets(list(args), "vjp")[1]
        outputs = fn_or_outputs(*primals)
        outs = _as_outputs(outputs)[1]

        def pullback(*cotangents: Any) -> tuple:
            return tuple(_vjp(outs, primals, list(cotangents), disconnected))

        return outputs, pullback
    if len(args) != 2:
        raise TypeError("vjp(outputs, wrt, cotangents) or vjp(fn, *primals)")
    wrt, cotangents = args
    single, outs = _as_outputs(fn_or_outputs)
    wrt_single, targets = _targets(wrt, "vjp")
    grads = _vjp(outs, targets, [cotangents] if single else list(cotangents), disconnected)
    return grads[0] if wrt_single else grads


def _jvp(outputs: list[Node], targets: list[Node], tangents: list[Any],
         disconnected: str) -> list[Any]:
    """J t by the double-vjp trick: the gradient of <J^T u, t> with respect to u."""
    if len(tangents) != len(targets):
        raise GradientError(f"jvp: {len(targets)} inputs but {len(tangents)} tangents")
    unique = list(dict.fromkeys(_check_float(o, "jvp", "output") for o in outputs))
    # u: its values never matter (J^T u is linear in u, so J t does not depend on it). Leaves
    # while differentiating, as an ifelse reads only leaves from outside its branches (a
    # computed u would be recomputed inside them, out of reach); zeros in the result.
    dummies = [Input(o.type, f"u{k}") for k, o in enumerate(unique)]
    pulled = grad(None, targets, known_grads=dict(zip(unique, dummies)), disconnected="ignore")
    terms = [sg.sum(g * _check_cotangent(x, t, "jvp"))
             for g, x, t in zip(pulled, targets, tangents) if g is not None]
    found = [None] * len(unique)
    if terms:
        found = grad(_add_all(terms), dummies, disconnected="ignore")
        zeros = {u: sg.zeros_like(o) for u, o in zip(dummies, unique)}
        found = [None if f is None else substitute([f], zeros)[0] for f in found]
    by_output = dict(zip(unique, found))
    return [_result(by_output[o], o, disconnected, "jvp",
                    f"output {_label(o)} does not depend on wrt through a float path",
                    lambda o=o: sg.zeros_like(o)) for o in outputs]


def jvp(fn_or_outputs: Any, *args: Any, disconnected: str = "raise") -> Any:
    """Forward mode (`J t`, the directional derivative), built from two reverse passes.

    - `jvp(outputs, wrt, tangents)`: the tangents of `outputs` when `wrt` moves along
      `tangents` (values or matching lists; a list of outputs gives a list).
    - `jvp(fn, primals, tangents)` (JAX style): returns `(outputs, output_tangents)`.
    """
    _check_mode(disconnected, "jvp")
    if callable(fn_or_outputs):
        primals, tangents = args
        primals, tangents = _targets(list(primals), "jvp")[1], list(tangents)
        outputs = fn_or_outputs(*primals)
        single, outs = _as_outputs(outputs)
        found = _jvp(outs, primals, tangents, disconnected)
        return outputs, found[0] if single else found
    if len(args) != 2:
        raise TypeError("jvp(outputs, wrt, tangents) or jvp(fn, primals, tangents)")
    wrt, tangents = args
    single, outs = _as_outputs(fn_or_outputs)
    wrt_single, targets = _targets(wrt, "jvp")
    tans = [tangents] if wrt_single else list(tangents)
    found = _jvp(outs, targets, tans, disconnected)
    return found[0] if single else found
