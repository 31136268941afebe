"""The rewrite engine: rules registered per op class, applied bottom-up to a fixpoint.

A rule is a plain function `rule(node) -> Node | None` that states its pattern with
`match` and returns a replacement (built from new nodes, never by mutating) or None:

    rules = RuleSet("simplify")

    @rules.rule(Multiply)
    def mul_by_one(node):            # x * 1 -> x
        match node.inputs:
            case (x, Constant(scalar=1)) if keeps_shape(node, x):
                return x

`RuleSet.run(graph)` walks the graph once in topological order. Each node is rebuilt on
its already-rewritten inputs, merged with any structurally equal node (common
subexpressions), and offered to the rules for its op class until none fires; the nodes
a replacement brings are settled the same way first, so the result is a fixpoint of the
rules without rescanning the graph. Nodes the outputs no longer reach are dropped.

Every replacement is checked to keep the dtype and the static shape (it may only make
unknown dimensions known). Which rules fired is counted in the Counter opened by
`collect_stats()` (compile() attaches it to the Function as `f.rewrites`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import Counter
from typing import Callable, Iterator

from symgraph.graph import Constant, Graph, Node, newest_serial, rebuild
from symgraph.types import TensorType

Rule = Callable[[Node], "Node | None"]

# Nested rewrites (a replacement rewritten again, …) before the engine calls it a loop.
MAX_CHAIN = 64

_stats: contextvars.ContextVar[Counter | None] = contextvars.ContextVar("stats", default=None)
_rank: contextvars.ContextVar[dict[Node, int] | None] = contextvars.ContextVar(
    "rank", default=None)


@contextlib.contextmanager
def collect_stats() -> Iterator[Counter]:
    """Count the rules that fire inside this block: `{"simplify.mul_by_one": 2, …}`."""
    counter: Counter = Counter()
    token = _stats.set(counter)
    try:
        yield counter
    finally:
        _stats.reset(token)


def record(name: str, count: int = 1) -> None:
    """Add `count` to the statistic `name` when stats are being collected."""
    counter = _stats.get()
    if counter is not None:
        counter[name] += count


def rank(node: Node) -> int:
    """A deterministic order of the nodes settled so far (leaves and older nodes first);
    rules use it to put commutative inputs in a fixed order."""
    ranks = _rank.get()
    assert ranks is not None, "rank() is only meaningful inside RuleSet.run"
    return ranks.get(node, len(ranks))


class RuleSet:
    """Rules grouped by the op class they apply to (subclasses inherit their base's rules)."""

    def __init__(self, name: str, *includes: RuleSet) -> None:
        self.name = name
        self.by_class: dict[type, list[tuple[str, Rule]]] = {}
        for other in includes:
            for op_class, rules in other.by_class.items():
                self.by_class.setdefault(op_class, []).extend(rules)
        self._cache: dict[type, list[tuple[str, Rule]]] = {}

    def rule(self, *op_classes: type | None) -> Callable[[Rule], Rule]:
        """Register the decorated function for each op class (None entries are skipped, so
        rules can name op classes that may not be importable yet)."""
        def register(fn: Rule) -> Rule:
            for op_class in op_classes:
                if op_class is not None:
                    label = f"{self.name}.{fn.__name__}"
                    self.by_class.setdefault(op_class, []).append((label, fn))
            self._cache.clear()
            return fn

        return register

    def rules_for(self, op_class: type) -> list[tuple[str, Rule]]:
        rules = self._cache.get(op_class)
        if rules is None:
            rules = [r for klass in op_class.__mro__ for r in self.by_class.get(klass, ())]
            self._cache[op_class] = rules
        return rules

    def run(self, graph: Graph) -> Graph:
        """The graph rewritten by these rules to a fixpoint, duplicates merged, dead dropped."""
        rewriter = _Rewriter(self)
        token = _rank.set(rewriter.rank)
        try:
            outputs = [rewriter.visit(o) for o in graph.outputs]
        finally:
            _rank.reset(token)
        return Graph(graph.inputs, outputs)

    def as_pass(self, name: str, doc: str) -> Callable[[Graph], Graph]:
        """A pass function (Graph -> Graph) named `name` that runs these rules."""
        def rewrite_pass(graph: Graph) -> Graph:
            return self.run(graph)

        rewrite_pass.__name__ = rewrite_pass.__qualname__ = name
        rewrite_pass.__doc__ = doc
        return rewrite_pass


def _merge_key(node: Node) -> object:
    if node.is_leaf:
        return node.key if isinstance(node, Constant) else ("leaf", id(node))
    if getattr(node.op, "random", False):  # each draw stays its own, as random ops ask
        return ("random", id(node))
    # Inputs are already merged, so their identity stands for their structure.
    return (node.op, node.type, tuple(id(i) for i in node.inputs))


class _Rewriter:
    """The state of one run: settled nodes, the merge table and the node order."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.settled: dict[Node, Node] = {}  # any node seen -> its settled replacement
        self.by_key: dict[object, Node] = {}
        self.rank: dict[Node, int] = {}
        self.depth = 0

    def visit(self, root: Node) -> Node:
        """Settle every node `root` depends on that is not settled yet (iteratively)."""
        settled = self.settled
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if node in settled:
                continue
            if index < len(node.inputs):
                stack.append((node, index + 1))
                child = node.inputs[index]
                if child not in settled:
                    stack.append((child, 0))
                continue
            if node.is_leaf:
                settled[node] = self.merge(node)
            else:
                settled[node] = self.merge(rebuild(node, tuple(settled[i] for i in node.inputs)))
        return settled[root]

    def merge(self, node: Node) -> Node:
        """Settle a node whose inputs are settled: merge it with an equal one, or rewrite it
        until no rule fires (the replacement's new nodes are settled first)."""
        key = _merge_key(node)
        found = self.by_key.get(key)
        if found is not None:
            if found is not node:
                record("merge")
            return found
        replacement = self.apply_rules(node)
        if replacement is None:
            result = node
            self.rank[node] = len(self.rank)
        else:
            self.depth += 1
            if self.depth > MAX_CHAIN:
                raise AssertionError(f"rewrite rules keep rewriting {node.op}: a loop?")
            result = self.visit(replacement)
            self.depth -= 1
        self.by_key[key] = result
        self.settled[node] = result
        return result

    def apply_rules(self, node: Node) -> Node | None:
        if node.is_leaf:
            return None
        since = newest_serial()
        for label, fn in self.rules.rules_for(type(node.op)):
            replacement = fn(node)
            if replacement is not None and replacement is not node:
                check_replacement(label, node, replacement)
                record(label)
                _inherit_origin(replacement, node.origin, since)
                return replacement
        return None


def _inherit_origin(replacement: Node, origin: str | None, since: int) -> None:
    """Give the nodes a rule made (after serial `since`) the source line of the node they
    replace, so that a run-time error in them still names the user's line."""
    stack = [replacement]
    while stack:
        node = stack.pop()
        if node.is_leaf or node.serial < since or node.origin is not None:
            continue
        object.__setattr__(node, "origin", origin)
        stack.extend(node.inputs)


def check_replacement(label: str, node: Node, new: Node) -> None:
    """A replacement keeps the dtype and static shape (unknown dims may become known)."""
    old_type, new_type = node.type, new.type
    if isinstance(old_type, TensorType) and isinstance(new_type, TensorType):
        same = old_type.dtype == new_type.dtype and old_type.ndim == new_type.ndim and all(
            a is None or a == b for a, b in zip(old_type.shape, new_type.shape))
    else:
        same = old_type == new_type
    assert same, f"rule {label} changed {node.op} : {old_type} into {new_type}"
