"""The eager tape, walked backward: `Tensor.backward()` and `sg.eager.grad`.

A recorded eager tensor is a tape entry (see `symgraph.eager`): it remembers its op and
input tensors. A backward pass takes the entries a root depends on latest first (a heap on
their creation order), asks each entry's op for `vjp` — the rules `sg.grad` uses — and
undoes broadcasting with `symgraph.grad.sum_like`, so eager and symbolic gradients cannot
drift apart. With `create_graph=True` the pass itself runs in grad mode, so the gradients
are tape entries too and can be differentiated again.
"""

from __future__ import annotations

import heapq
from typing import Any, Sequence

import numpy as np

from symgraph import dtypes, errors
from symgraph.eager import (_ERRSTATE, _PART, _QUIET, Tensor, _output, _TupleValue,
                            apply_eager, as_tensor)
from symgraph.gradmode import _SetGradMode
from symgraph.grad import MODES, sum_like
from symgraph.ops.base import Op


def backward(root: Tensor, grad: Any, retain_graph: bool | None, create_graph: bool) -> None:
    """Tensor.backward (documented there): the leaves' gradients, added into their `.grad`."""
    seed = _seed(root, grad)
    keep = create_graph if retain_graph is None else retain_graph
    leaves, _ = _backprop([(root, seed)], keep, create_graph)
    add = _add_recorded if create_graph else _add
    for leaf, g in leaves.values():
        leaf.grad = g if leaf.grad is None else add(leaf.grad, g)


def grad(outputs: Any, inputs: Any, grad_outputs: Any, retain_graph: bool | None,
         create_graph: bool, disconnected: str) -> Any:
    """sg.eager.grad (documented there)."""
    if disconnected not in MODES:
        raise ValueError(f"grad: disconnected must be 'raise', 'zero' or 'ignore', "
                         f"not {disconnected!r}")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    targets = [inputs] if single else list(inputs)
    for t in outputs + targets:
        if type(t) is not Tensor:
            raise errors.GradientError(f"grad: outputs and inputs must be eager tensors, got "
                                       f"{t!r} (for symbolic variables use sg.grad)")
    if grad_outputs is None or isinstance(grad_outputs, Tensor) and len(outputs) == 1:
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    seeds = [(y, _seed(y, g, "grad")) for y, g in zip(outputs, grad_outputs)]
    wanted = {id(_entry(t)) for t in targets if t._op is not None}
    keep = create_graph if retain_graph is None else retain_graph
    leaves, captured = _backprop(seeds, keep, create_graph, wanted)
    return _results(targets, leaves, captured, disconnected, single)


def _seed(root: Tensor, grad: Any, fn: str = "backward") -> Tensor:
    """The gradient that starts a backward pass at `root`: ones for a one-element tensor, or
    `grad` checked against root's shape and cast to its dtype (keeping its history)."""
    if not root.requires_grad:
        raise errors.GradientError(
            f"{fn}: this {root._dtype}{list(root.shape)} tensor does not require a gradient; "
            "create the inputs with requires_grad=True (and not under no_grad)")
    if grad is None:
        if root.size != 1:
            how = ("backward() without an argument" if fn == "backward"
                   else "grad() without grad_outputs")
            raise errors.GradientError(
                f"{fn}: the tensor has shape {root.shape}; {how} needs a one-element tensor "
                "(a loss): reduce it with .sum() or .mean(), or pass its gradient")
        return Tensor(np.ones(root.shape, root._dtype), root._dtype)
    seed = as_tensor(grad)
    if seed.shape != root.shape:
        raise errors.ShapeError(f"{fn}: grad has shape {seed.shape}, the tensor {root.shape}")
    if seed._dtype != root._dtype:
        from symgraph import api as sg

        seed = sg.cast(seed, root._dtype)
    return seed


def _backprop(seeds: Sequence[tuple[Tensor, Tensor]], retain_graph: bool,
              create_graph: bool = False, wanted: Any = ()) -> tuple[dict, dict]:
    """Gradients of the leaves the roots depend on: `{id(leaf): (leaf, gradient)}`, and the
    gradients that reached the tape entries whose ids are in `wanted` (the entries of
    non-leaf tensors asked for): `{id(entry): gradient}` (per output index for a
    multi-output op).

    Tape entries are taken latest first (a heap on their creation order), so an entry's
    gradient is complete when its turn comes. Each entry's op gives its inputs' gradients
    with `vjp`, the rule `sg.grad` uses; `sum_like` undoes broadcasting and dtype promotion
    as in `sg.grad`. Nothing computed here is recorded, unless `create_graph`: then the
    pass runs in grad mode, on the outputs as they are on the tape, so the gradients have
    a history of their own and can be differentiated again."""
    add = _add_recorded if create_graph else _add
    leaves: dict[int, list] = {}  # id(leaf) -> [leaf, gradient, whether we own its array]
    captured: dict[int, Any] = {}
    heap: list[tuple[int, Any]] = []  # (-seq, entry): a Tensor, or a _Record
    for root, seed in seeds:
        if root._op is not None:
            _receive(root, seed, heap, add)
        elif id(root) in leaves:
            _accumulate(leaves[id(root)], seed, create_graph)
        else:
            leaves[id(root)] = [root, seed, False]
    done = []
    heappop = heapq.heappop
    heappush = heapq.heappush
    token = _ERRSTATE.set(_QUIET) if _ERRSTATE is not None else None  # one for all vjps
    try:
        with _SetGradMode(create_graph):
            while heap:
                entry = heappop(heap)[1]
                done.append(entry)
                grad = entry._pending
                entry._pending = None
                if wanted and id(entry) in wanted:
                    captured[id(entry)] = grad
                op = entry._op
                inputs = entry._inputs
                if inputs is None:
                    raise errors.GradientError(
                        f"backward: the tape through {op.name} was already freed by an "
                        "earlier backward(); pass retain_graph=True to the first backward() "
                        "to go through it twice, or recompute the forward pass")
                # The output as it is on the tape: without create_graph nothing records, and
                # with it the rules that use the output are differentiated through it too.
                output: Any = entry
                if entry._dtype is None:  # a multi-output op: a gradient per output
                    outs = entry._value
                    output = _TupleValue(tuple(
                        _output(o, dtypes.name_of(o.dtype), entry if create_graph else None, i)
                        for i, o in enumerate(outs)))
                    grad = tuple(grad.get(i) for i in range(len(outs)))
                for x, gx in zip(inputs, op.vjp(inputs, output, grad)):
                    if gx is None or not x.requires_grad:
                        continue
                    if type(gx) is not Tensor:
                        gx = as_tensor(gx)
                    if gx._dtype != x._dtype or gx._value.shape != x._value.shape:
                        gx = _fit(sum_like(gx, x, ()), x, op)
                    if x._op is None:
                        held = leaves.get(id(x))
                        if held is None:
                            leaves[id(x)] = [x, gx, False]
                        else:
                            _accumulate(held, gx, create_graph)
                    elif x._op is not _PART:  # _receive, inlined for the common case
                        held = x._pending
                        if held is None:
                            heappush(heap, (-x._seq, x))
                            x._pending = gx
                        else:
                            x._pending = add(held, gx)
                    else:
                        _receive(x, gx, heap, add)
    except BaseException:
        for entry in done + [item[1] for item in heap]:
            entry._pending = None
        raise
    finally:
        if token is not None:
            _ERRSTATE.reset(token)
    if not retain_graph:
        for entry in done:
            entry._inputs = None
            if entry._dtype is None:
                entry._value = None
    return {key: (x, g) for key, (x, g, _) in leaves.items()}, captured


def _accumulate(held: list, g: Tensor, create_graph: bool) -> None:
    """Add g to the gradient a leaf has received, `held` = [leaf, gradient, whether we own
    its array]. Without create_graph the second contribution makes a sum array of our own
    and later ones are added into it in place: a leaf used at every step of a long chain
    takes no new array per use."""
    if create_graph:
        held[1] = _add_recorded(held[1], g)
    elif held[2]:
        np.add(held[1]._value, g._value, out=held[1]._value)
    else:
        held[1] = _add(held[1], g)
        held[2] = True


def _receive(x: Tensor, g: Tensor, heap: list, add: Any) -> None:
    """Add g to the gradient x's tape entry has received (per output for multi-output ops),
    queueing the entry the first time."""
    if x._op is not _PART:
        held = x._pending
        if held is None:
            heapq.heappush(heap, (-x._seq, x))
            x._pending = g
        else:
            x._pending = add(held, g)
        return
    record = x._inputs
    parts = record._pending
    if parts is None:
        heapq.heappush(heap, (-record._seq, record))
        parts = record._pending = {}  # output index -> gradient
    part = parts.get(x._index)
    parts[x._index] = g if part is None else add(part, g)


def _fit(g: Tensor, x: Tensor, op: Op) -> Tensor:
    if g._value.shape != x._value.shape:
        raise errors.GradientError(f"{op.name}: internal error: its gradient rule gave shape "
                                   f"{g.shape} for an input of shape {x.shape}")
    return g


def _add(a: Tensor, b: Tensor) -> Tensor:
    total = a._value + b._value
    return Tensor(total if type(total) is np.ndarray else np.asarray(total), a._dtype)


def _add_recorded(a: Tensor, b: Tensor) -> Tensor:
    from symgraph import eager

    return apply_eager(eager._ADD, (a, b))  # on the tape, for create_graph


def _entry(x: Tensor) -> Any:
    """The tape entry that holds x's gradient: x itself, or its multi-output op's record."""
    return x._inputs if x._op is _PART else x


def _results(targets: list[Tensor], leaves: dict, captured: dict, disconnected: str,
             single: bool) -> Any:
    results = []
    for x in targets:
        if x._op is None:
            held = leaves.get(id(x))
            g = None if held is None else held[1]
        else:
            g = captured.get(id(_entry(x)))
            if x._op is _PART and g is not None:
                g = g.get(x._index)
        if g is None and disconnected == "raise":
            raise errors.GradientError(
                f"grad: the outputs do not depend on input {x._dtype}{list(x.shape)} through "
                "a float path (or it does not require a gradient); pass disconnected='zero' "
                "or 'ignore' to accept that")
        if g is None and disconnected == "zero":
            g = Tensor(np.zeros(x.shape, x._dtype), x._dtype)
        results.append(g)
    return results[0] if single else results
