"""optimize_loops: rewrites of scan loops.

- The step graph is optimized like any graph (the passes before this one).
- Loop invariants move out: a step computation that reads only non-sequences (not the
  sequence slices, not the states, no random draw) is computed once, before the loop,
  and enters the step as a new non-sequence.
- Unused history is dropped: an output read only as `out[-1]` or `out[-1:]` (a fold's
  result, a final state) keeps just its last value instead of one value per step
  (`Scan.keep_last`).
"""

from __future__ import annotations

from collections import defaultdict

from symgraph.graph import Constant, Graph, Node, substitute, toposort
from symgraph.ops.base import TupleGet
from symgraph.ops.control import Scan, placeholder_like
from symgraph.rewrite.engine import record


def _variant(step: Graph, n_variant: int) -> set[Node]:
    """Step nodes that depend on a sequence slice or a state (or draw random numbers)."""
    variant = set(step.inputs[:n_variant])
    for node in step.nodes:
        if any(i in variant for i in node.inputs) or getattr(node.op, "random", False):
            variant.add(node)
    return variant


def hoist_invariants(node: Node) -> Node:
    """The scan with its loop-invariant step computations computed before the loop."""
    op: Scan = node.op
    step = op.step
    n_variant = op.n_seqs + sum(len(t) for t in op.taps)
    variant = _variant(step, n_variant)
    candidates = []
    for inner in step.nodes:
        if inner.is_leaf or inner in variant:
            continue
        users_vary = any(inner in user.inputs for user in step.nodes if user in variant)
        reads_input = any(leaf.is_leaf and not isinstance(leaf, Constant)
                          for leaf in toposort([inner]))
        if (users_vary or inner in step.outputs) and reads_input:
            candidates.append(inner)
    if not candidates:
        return node
    outer_rest = node.inputs[1 + op.n_seqs + op.n_states:]
    inner_rest = step.inputs[n_variant:]
    outer_values = substitute(candidates, dict(zip(inner_rest, outer_rest)))
    holders = [placeholder_like(c, f"invariant{k}") for k, c in enumerate(candidates)]
    new_step = Graph(step.inputs + tuple(holders),
                     substitute(step.outputs, dict(zip(candidates, holders))))
    record("loops.hoist_invariants", len(candidates))
    new_op = Scan(new_step, op.n_seqs, op.taps, op.n_collect, op.go_backwards, op.keep_last)
    return Node(new_op, node.inputs + tuple(outer_values), node.type, node.name, node.origin)


def _reads_last(items: tuple) -> bool:
    """Whether a Subtensor's items read out[-1] or out[-1:] (the last row or, after zero
    steps, none: the same with or without the rest of the history), then whole axes."""
    head, *rest = items
    return (head in (("index", -1), ("slice", -1, None, None))
            and all(item == ("slice", None, None, None) for item in rest))


def _only_last_read(getters: list[Node], users: dict[Node, list[Node]],
                    outputs: set[Node]) -> bool:
    for getter in getters:
        if getter in outputs:
            return False
        for user in users[getter]:
            if type(user.op).__name__ != "Subtensor" or not _reads_last(user.op.items):
                return False
    return bool(getters)


def keep_last_only(node: Node, consumers: list[Node], users: dict[Node, list[Node]],
                   outputs: set[Node]) -> Node:
    """The scan keeping only the last value of outputs that are read only as out[-1]
    (`consumers` are the users of the scan node this one replaces)."""
    op: Scan = node.op
    getters: dict[int, list[Node]] = defaultdict(list)
    for user in consumers:
        if isinstance(user.op, TupleGet):
            getters[user.op.index].append(user)
        else:
            return node
    keep = tuple(k for k in range(len(op.step.outputs))
                 if k not in op.keep_last and _only_last_read(getters[k], users, outputs))
    if not keep:
        return node
    record("loops.keep_last", len(keep))
    new_op = Scan(op.step, op.n_seqs, op.taps, op.n_collect, op.go_backwards,
                  tuple(sorted(op.keep_last + keep)))
    return Node(new_op, node.inputs, new_op.infer(*(i.type for i in node.inputs)),
                node.name, node.origin)


def optimize_loops(graph: Graph) -> Graph:
    """Optimize every scan's step graph, hoist its invariants, drop unused history."""
    from symgraph.compile import PASSES, optimize

    before = [p for p in PASSES[:PASSES.index(optimize_loops)]]
    users: dict[Node, list[Node]] = defaultdict(list)
    for node in graph.nodes:
        for i in node.inputs:
            users[i].append(node)
    outputs = set(graph.outputs)
    mapping: dict[Node, Node] = {}
    for node in graph.nodes:
        if node.is_leaf or not isinstance(node.op, Scan):
            continue
        op = node.op
        step = optimize(op.step, before)
        new = Node(Scan(step, op.n_seqs, op.taps, op.n_collect, op.go_backwards, op.keep_last),
                   node.inputs, node.type, node.name, node.origin)
        new = keep_last_only(hoist_invariants(new), users[node], users, outputs)
        mapping[node] = new
    if not mapping:
        return graph
    return Graph(graph.inputs, substitute(graph.outputs, mapping))
