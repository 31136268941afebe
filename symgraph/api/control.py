"""Symbolic control flow: `ifelse` (lazy) and `scan` (loops), with map/foldl helpers.

Both capture the user's expressions as inner graphs (`symgraph.ops.control`), so the op
is a pure function of its inputs and can be differentiated and compiled like any other
node. A scan's inputs are what its step function read from outside: every node made
before the step ran (an input, a shared variable, or a value computed outside, which is
computed once). An ifelse's inputs are the leaves its branches read (inputs, shared
variables): the branches' own computations move inside it, so only the chosen one runs.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from symgraph.api.base import as_variable, operands
from symgraph.apply import apply
from symgraph.errors import SymgraphError
from symgraph.graph import (Constant, Graph, Node, SharedVariable, leaves, newest_serial,
                             substitute)
from symgraph.ops.base import TupleGet
from symgraph.ops.control import IfElse, Scan, placeholder_like


def _as_list(value: Any) -> tuple[list, bool]:
    if value is None:
        return [], False
    if isinstance(value, (list, tuple)):
        return list(value), False
    return [value], True


def _free_leaves(outputs: Sequence[Node], bound: Sequence[Node]) -> list[Node]:
    bound_ids = {id(b) for b in bound}
    return [n for n in leaves(outputs) if not isinstance(n, Constant) and id(n) not in bound_ids]


def _read_from_outside(outputs: Sequence[Node], bound: Sequence[Node],
                       since: int) -> list[Node]:
    """What a step function's results read from outside it: the nodes made before it ran
    (`serial` below `since`), reached without passing through `bound` (the step's own
    inputs). Leaves, and values computed outside, which the loop then takes as inputs,
    computed once before it, as the rest of the graph sees them (the gradient with respect
    to such a value flows through the loop to it)."""
    bound_ids = {id(b) for b in bound}
    found: list[Node] = []
    seen: set[int] = set()
    stack = list(reversed(outputs))
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in bound_ids or isinstance(node, Constant):
            continue
        seen.add(id(node))
        if node.is_leaf or node.serial < since:
            found.append(node)
        else:
            stack.extend(reversed(node.inputs))
    return found


def _split(node: Node, count: int) -> list[Node]:
    return [apply(TupleGet(i), node) for i in range(count)]


def ifelse(cond: Any, then: Any, otherwise: Any) -> Any:
    """`then` if the scalar `cond` is true, else `otherwise`, evaluated lazily: only the
    chosen branch runs. Branches may be lists of values (a list is returned)."""
    then_list, single = _as_list(then)
    else_list, _ = _as_list(otherwise)
    if len(then_list) != len(else_list):
        raise SymgraphError(f"ifelse: the branches give {len(then_list)} and "
                            f"{len(else_list)} values; they must give the same number")
    pairs = [operands(a, b) for a, b in zip(then_list, else_list)]
    (cond,) = operands(cond)
    if not isinstance(cond, Node):  # eager: both branches have run already
        chosen = [a if bool(cond) else b for a, b in pairs]
        return chosen[0] if single else chosen
    then_list = [a for a, _ in pairs]
    else_list = [b for _, b in pairs]
    free = _free_leaves(then_list + else_list, [])
    holders = [placeholder_like(n, n.name) for n in free]
    mapping = dict(zip(free, holders))
    then_graph = Graph(holders, substitute(then_list, mapping))
    else_graph = Graph(holders, substitute(else_list, mapping))
    node = apply(IfElse(then_graph, else_graph), cond, *free)
    return node if single else _split(node, len(then_list))


def _parse_state(entry: Any) -> tuple[Node | None, tuple[int, ...]]:
    if entry is None:
        return None, ()
    if isinstance(entry, dict):
        taps = tuple(sorted(entry.get("taps", [-1])))
        if not taps or any(t >= 0 for t in taps):
            raise SymgraphError(f"scan: taps must be negative (previous steps), got {taps}")
        return as_variable(entry["initial"]), taps
    return as_variable(entry), (-1,)


def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None,
         non_sequences: Any = None, n_steps: Any = None, go_backwards: bool = False):
    """Loop `fn` over the leading axis of `sequences`, Theano style.

    fn is called as fn(*sequence_slices, *previous_states, *non_sequences) where each
    recurrent state contributes one argument per tap (oldest first). `outputs_info` has
    one entry per output of fn: None (collected only), an initial value (the state at
    t=-1), or {"initial": v, "taps": [-2, -1]} (v's leading axis holds t=-2 and t=-1).
    fn returns its outputs (one value or a list), optionally followed by a dict of
    shared-variable updates. Returns (outputs stacked over the steps, updates) where
    updates maps each updated shared variable to its final value; pass it to sg.function.
    """
    seqs = [operands(s)[0] for s in _as_list(sequences)[0]]
    infos, _ = _as_list(outputs_info)
    non_seqs = [as_variable(v) for v in _as_list(non_sequences)[0]]
    if any(not isinstance(v, Node) for v in seqs + non_seqs):
        raise SymgraphError("scan builds a symbolic loop; in eager mode write a Python loop")
    since = newest_serial()  # every node made from here on is the step's own
    seq_holders = [placeholder_like(s, f"{s.name or 'seq'}[t]", drop_leading=True)
                   for s in seqs]
    states = [_parse_state(e) for e in infos]
    tap_holders: list[Node] = []
    for init, taps in states:
        if init is not None:
            tap_holders += [placeholder_like(init, f"state[t{t}]", drop_leading=taps != (-1,))
                            for t in taps]
    non_holders = [placeholder_like(v, v.name) for v in non_seqs]
    result = fn(*seq_holders, *tap_holders, *non_holders)
    updates: dict = {}
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        result, updates = result
    outs, single = _as_list(result)
    if not infos:
        states = [(None, ())] * len(outs)
    if len(outs) != len(states):
        raise SymgraphError(f"scan: the step function returns {len(outs)} value(s) but "
                            f"outputs_info has {len(states)} entries; give one per output")
    outs = [operands(o)[0] for o in outs]
    order = [k for k, (init, _) in enumerate(states) if init is not None]
    order += [k for k, (init, _) in enumerate(states) if init is None]
    inits = [states[k][0] for k in order if states[k][0] is not None]
    taps = [states[k][1] for k in order if states[k][0] is not None]
    step_outs = [outs[k] for k in order]
    update_values = [as_variable(v) for v in updates.values()]
    outside = _read_from_outside(step_outs + update_values,
                                 seq_holders + tap_holders + non_holders, since)
    # Shared variables updated inside the step (explicitly, or by default as the random
    # streams it draws from do) are carried as extra states, so each step sees the previous
    # step's value. A draw made outside is a value read from outside: drawn once.
    carried = dict(zip(updates, update_values))
    for node in outside:
        if isinstance(node, SharedVariable) and node.default_update is not None:
            carried.setdefault(node, as_variable(node.default_update))
    shared_holders = [placeholder_like(s, s.name) for s in carried]
    free = [n for n in outside if n not in carried]
    free_holders = [placeholder_like(n, n.name) for n in free]
    n_user_states = len(inits)
    body = substitute(step_outs[:n_user_states] + list(carried.values())
                      + step_outs[n_user_states:],
                      {**dict(zip(carried, shared_holders)), **dict(zip(free, free_holders))})
    bound = seq_holders + tap_holders + shared_holders + non_holders + free_holders
    late = _free_leaves(body, bound)  # leaves read only by a stream's default update
    late_holders = [placeholder_like(n, n.name) for n in late]
    body = substitute(body, dict(zip(late, late_holders)))
    free += late
    free_holders += late_holders
    step = Graph(seq_holders + tap_holders + shared_holders + non_holders + free_holders, body)
    if n_steps is None:
        if not seqs:
            raise SymgraphError("scan: give n_steps when there are no sequences")
        from symgraph import api

        n_steps = api.shape(seqs[0])[0]
    (n_steps,) = operands(n_steps)
    op = Scan(step, len(seqs), tuple(taps) + ((-1,),) * len(carried),
              len(step_outs) - n_user_states, go_backwards)
    node = apply(op, n_steps, *seqs, *inits, *carried, *non_seqs, *free)
    stacked = _split(node, len(body))
    results: list = [None] * len(outs)
    for position, k in enumerate(order):
        index = position if position < n_user_states else position + len(carried)
        results[k] = stacked[index]
    final = {s: stacked[n_user_states + i][-1] for i, s in enumerate(carried)}
    return (results[0] if single else results), final


def map(fn: Callable, sequences: Any, non_sequences: Any = None):
    """fn applied to each leading-axis slice of the sequences; returns the stacked results."""
    outputs, _ = scan(fn, sequences=sequences, non_sequences=non_sequences)
    return outputs


def foldl(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None):
    """Fold fn(*slices, accumulator, *non_sequences) from the left; returns the final value."""
    outputs, _ = scan(fn, sequences=sequences, outputs_info=outputs_info,
                      non_sequences=non_sequences)
    return [o[-1] for o in outputs] if isinstance(outputs, list) else outputs[-1]


reduce = foldl


def _is_float(x: Node) -> bool:
    return x.dtype in ("float32", "float64")


def _final(states: Node) -> Node:
    """The last of a backward loop's states, or zeros (its initial value) after zero steps:
    the sum of its last row, of which there is one or none. The optimizer keeps just that row
    of the loop's history (`rewrite/loops.py`), as it does for states[-1]."""
    from symgraph import api as sg

    return sg.sum(states[-1:], axis=0)


def scan_grad(op: Scan, inputs: Sequence[Node], output: Node, g: Sequence[Any]) -> tuple:
    """Backpropagation through time: the gradient of a Scan is another Scan, run backwards,
    whose step is the gradient of the forward step (so it compiles like any loop)."""
    from symgraph import api as sg
    from symgraph.grad import grad
    from symgraph.ops.control import inline

    n_seqs, n_states = op.n_seqs, op.n_states
    n_steps = inputs[0]
    seqs = list(inputs[1:1 + n_seqs])
    inits = list(inputs[1 + n_seqs:1 + n_seqs + n_states])
    rest = list(inputs[1 + n_seqs + n_states:])
    outs = _split(output, len(op.step.outputs))
    consumed = [(s[::-1] if op.go_backwards else s)[:n_steps] for s in seqs]
    previous = [sg.concatenate([sg.expand_dims(init, 0), outs[k][:-1]], axis=0)
                for k, init in enumerate(inits)]
    g_outs = [gk if gk is not None else sg.zeros_like(outs[k]) for k, gk in enumerate(g)]
    float_seqs = [k for k, s in enumerate(seqs) if _is_float(s)]
    float_rest = [k for k, r in enumerate(rest) if _is_float(r)]
    # Integer states (a random stream's counter) and outputs carry no gradient; their
    # backward states stay zero so the loop keeps one state per forward state.
    float_states = [k for k, i in enumerate(inits) if _is_float(i)]
    n_out = len(outs)

    def back_step(*args):
        xs = list(args[:n_seqs])
        hp = list(args[n_seqs:n_seqs + n_states])
        go = list(args[n_seqs + n_states:n_seqs + n_states + n_out])
        at = n_seqs + n_states + n_out
        carry = list(args[at:at + n_states])
        acc = list(args[at + n_states:at + n_states + len(float_rest)])
        rs = list(args[at + n_states + len(float_rest):])
        fwd = inline(op.step, xs + hp + rs)
        known: dict = {}
        for k in range(n_out):
            if not _is_float(fwd[k]):
                continue
            cot = go[k] + carry[k] if k < n_states else go[k]
            known[fwd[k]] = known[fwd[k]] + cot if fwd[k] in known else cot
        wrt = ([xs[k] for k in float_seqs] + [hp[k] for k in float_states]
               + [rs[k] for k in float_rest])
        grads = grad(None, wrt, known_grads=known, disconnected="zero")
        g_xs = grads[:len(float_seqs)]
        g_hp = [sg.zeros_like(h) for h in hp]
        for k, g_k in zip(float_states, grads[len(float_seqs):]):
            g_hp[k] = g_k
        g_rs = grads[len(float_seqs) + len(float_states):]
        return [*g_hp, *(a + b for a, b in zip(acc, g_rs)), *g_xs]

    infos = [sg.zeros_like(i) for i in inits] + [sg.zeros_like(rest[k]) for k in float_rest]
    infos += [None] * len(float_seqs)
    backward, _ = scan(back_step, sequences=consumed + previous + g_outs,
                       outputs_info=infos, non_sequences=rest, n_steps=n_steps,
                       go_backwards=True)
    backward = backward if isinstance(backward, list) else [backward]
    g_inits = [_final(b) if k in float_states else None
               for k, b in enumerate(backward[:n_states])]
    g_rest_final = [_final(b) for b in backward[n_states:n_states + len(float_rest)]]
    g_seq_steps = backward[n_states + len(float_rest):]
    g_seqs: list = [None] * n_seqs
    for k, steps in zip(float_seqs, g_seq_steps):
        s = seqs[k]
        forward_order = steps[::-1]
        padded = sg.concatenate([forward_order, sg.zeros_like(s[n_steps:])], axis=0)
        g_seqs[k] = padded[::-1] if op.go_backwards else padded
    g_rest: list = [None] * len(rest)
    for k, value in zip(float_rest, g_rest_final):
        g_rest[k] = value
    return (None, *g_seqs, *g_inits, *g_rest)
