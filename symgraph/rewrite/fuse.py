"""fuse: connected elementwise ops become one `Fused` node (one loop), and elementwise
producers fuse into the reduction that consumes them (`FusedReduce`).

Groups grow from consumers to producers (reverse topological order). A producer joins the
group of one of its users when

- it is elementwise with a scalar template (`Elemwise.scalar`);
- if it is also needed outside the group (or is a graph output), its run-time shape
  provably equals the group's loop shape: every output of a fused loop is written over
  the whole loop (values used only inside may broadcast, they are recomputed per element);
- a `FusedReduce` has one output, so its producers must not be needed elsewhere;
- joining cannot create a cycle: every user outside the group comes after the group's
  last node in topological order (a sufficient condition; the quotient graph is checked
  for cycles afterwards).

Every refusal is logged with its reason on the "symgraph.fuse" logger (visible with
SYMGRAPH_DEBUG=1 or any logging configuration that enables DEBUG for it).
"""

from __future__ import annotations

import logging

from symgraph.config import config
from symgraph.graph import Graph, Node
from symgraph.ops.base import Elemwise, TupleGet
from symgraph.ops.fused import Fused, FusedReduce
from symgraph.rewrite.engine import record
from symgraph.rewrite.facts import same_shape
from symgraph.types import TensorType

log = logging.getLogger("symgraph.fuse")


class _Group:
    """Nodes that will run as one loop, built where its last node (`root`) was."""

    def __init__(self, root: Node, reduce: Node | None = None) -> None:
        self.root = root  # the member last in topological order; gives the loop shape
        self.reduce = reduce  # the Reduce node consuming root, for a FusedReduce
        self.members: list[Node] = [root]
        self.first_outside_user = _NEVER  # earliest position of a user outside the group


_NEVER = 1 << 62


def fusible(node: Node) -> bool:
    """Elementwise nodes with a scalar template that the backends can put in a loop."""
    op = node.op
    return (isinstance(op, Elemwise) and not isinstance(op, Fused)
            and isinstance(getattr(op, "scalar", None), str)
            and isinstance(node.type, TensorType))


def _reducible(node: Node) -> bool:
    return node.op is not None and node.op.kind == "reduce" and len(node.inputs) == 1


def _refuse(node: Node, group: _Group | None, reason: str) -> None:
    if log.isEnabledFor(logging.DEBUG):
        target = "" if group is None else f" into the loop of {group.root.op} : {group.root.type}"
        log.debug("fuse: %s : %s not fused%s: %s", node.op, node.type, target, reason)


class _Planner:
    """Assigns elementwise nodes to groups in one reverse walk (consumers first)."""

    def __init__(self, graph: Graph) -> None:
        self.nodes = graph.nodes
        self.pos = {node: i for i, node in enumerate(self.nodes)}
        self.users: dict[Node, list[Node]] = {node: [] for node in self.nodes}
        for node in self.nodes:
            for i in dict.fromkeys(node.inputs):
                self.users[i].append(node)
        self.outputs = set(graph.outputs)
        self.group_of: dict[Node, _Group] = {}
        self.groups: list[_Group] = []

    def plan(self) -> list[_Group]:
        for node in reversed(self.nodes):
            if _reducible(node):
                self.start_reduce(node)
            elif fusible(node) and node not in self.group_of:
                self.place(node)
        return [g for g in self.groups if g.members]

    def start_reduce(self, node: Node) -> None:
        producer = node.inputs[0]
        if not fusible(producer):
            return
        if self.users[producer] != [node] or producer in self.outputs:
            _refuse(producer, None, f"its value is needed besides by {node.op}")
            return
        self.add(_Group(producer, reduce=node))

    def add(self, group: _Group) -> None:
        self.groups.append(group)
        for member in group.members:
            self.group_of[member] = group

    def place(self, node: Node) -> None:
        """Put node in the group of one of its users, taking the groups of its other users
        along when they can join (siblings), or start a group of its own."""
        counts: dict[_Group, int] = {}
        for user in self.users[node]:
            group = self.group_of.get(user)
            if group is not None:
                counts[group] = counts.get(group, 0) + 1
        order = sorted(counts, key=lambda g: (-counts[g], -self.pos[g.root]))
        for group in order:
            siblings = [g for g in order if g is not group and self.mergeable(group, g)]
            for others in (siblings, []) if siblings else ([],):
                reason = self.refusal(node, group, others)
                if reason is None:
                    self.join(node, group, others)
                    return
            _refuse(node, group, reason)
        group = _Group(node)
        group.first_outside_user = min((self.pos[u] for u in self.users[node]), default=_NEVER)
        self.add(group)

    def mergeable(self, group: _Group, other: _Group) -> bool:
        return (group.reduce is None and other.reduce is None
                and same_shape(group.root, other.root))

    def refusal(self, node: Node, group: _Group, others: list[_Group]) -> str | None:
        """Why `node` cannot join `group` (with `others` merged in), or None when it can."""
        merged = [group] + others
        inside = {id(g) for g in merged}
        outside = [u for u in self.users[node] if id(self.group_of.get(u)) not in inside]
        root = max((g.root for g in merged), key=self.pos.__getitem__)
        first_outside = min([g.first_outside_user for g in merged]
                            + [self.pos[u] for u in outside])
        if not outside and node not in self.outputs and first_outside > self.pos[root]:
            return None
        if group.reduce is not None:
            return "a fused reduction has one output, and this value is also needed outside"
        if (outside or node in self.outputs) and not same_shape(node, root):
            return (f"its shape {node.type} is not provably the loop's {root.type}, and "
                    "it is also needed outside the loop")
        if first_outside <= self.pos[root]:
            return "a user outside the loop runs before the loop ends (fusing could make a cycle)"
        return None

    def join(self, node: Node, group: _Group, others: list[_Group]) -> None:
        for other in others:
            if self.pos[other.root] > self.pos[group.root]:
                group.root = other.root
            group.first_outside_user = min(group.first_outside_user, other.first_outside_user)
            group.members += other.members
            for member in other.members:
                self.group_of[member] = group
            other.members = []
        outside = [self.pos[u] for u in self.users[node] if self.group_of.get(u) is not group]
        group.first_outside_user = min([group.first_outside_user] + outside)
        group.members.append(node)
        self.group_of[node] = group


def _acyclic(graph: Graph, group_of: dict[Node, _Group]) -> list[_Group]:
    """Groups on a cycle of the quotient graph (none, when the planner is right)."""
    label = {node: id(group_of[node]) if node in group_of else id(node) for node in graph.nodes}
    users: dict[int, set[int]] = {label[node]: set() for node in graph.nodes}
    for node in graph.nodes:
        users[label[node]].update(label[i] for i in node.inputs if label[i] != label[node])
    on_cycle = _on_cycles(users)
    return [g for g in set(group_of.values()) if id(g) in on_cycle]


def _on_cycles(predecessors: dict[int, set[int]]) -> set[int]:
    """The vertices on a cycle or on a path between cycles: what is left after peeling off,
    again and again, the vertices without predecessors, then those without successors.
    Empty exactly when the graph is acyclic."""
    successors: dict[int, set[int]] = {v: set() for v in predecessors}
    for vertex, sources in predecessors.items():
        for source in sources:
            successors[source].add(vertex)
    left = set(predecessors)
    for inward, outward in ((predecessors, successors), (successors, predecessors)):
        count = {v: len(inward[v] & left) for v in left}
        ready = [v for v, c in count.items() if c == 0]
        while ready:
            vertex = ready.pop()
            left.discard(vertex)
            for other in outward[vertex]:
                if other in left:
                    count[other] -= 1
                    if count[other] == 0:
                        ready.append(other)
    return left


def _program(group: _Group, pos: dict[Node, int], users: dict[Node, list[Node]],
             outputs: set[Node]) -> tuple[Fused, list[Node], list[Node]]:
    """The Fused op of a group, its external inputs and the members it returns."""
    members = sorted(group.members, key=pos.__getitem__)
    inside = set(members)
    inputs: list[Node] = []
    index: dict[Node, int] = {}
    for member in members:
        for i in member.inputs:
            if i not in inside and i not in index:
                index[i] = len(inputs)
                inputs.append(i)
    program = []
    for member in members:
        index[member] = len(inputs) + len(program)
        program.append((member.op, tuple(index[i] for i in member.inputs)))
    if group.reduce is not None:
        returned = [group.root]
        op: Fused = FusedReduce(tuple(program), (index[group.root],), reduce=group.reduce.op)
    else:
        returned = [m for m in members if m in outputs or any(u not in inside for u in users[m])]
        op = Fused(tuple(program), tuple(index[m] for m in returned))
    return op, inputs, returned


def fuse(graph: Graph) -> Graph:
    """Elementwise chains and DAGs -> Fused nodes; their reductions -> FusedReduce."""
    if config.debug and not log.handlers:
        log.addHandler(logging.StreamHandler())
        log.setLevel(logging.DEBUG)
    planner = _Planner(graph)
    groups = [g for g in planner.plan() if len(g.members) > 1 or g.reduce is not None]
    group_of = {m: g for g in groups for m in g.members}
    for group in _acyclic(graph, group_of):
        _refuse(group.root, group, "the fused loops would form a cycle; left unfused")
        groups.remove(group)
        for member in group.members:
            del group_of[member]
    new: dict[Node, Node] = {}
    outputs = set(graph.outputs)
    for node in graph.nodes:
        group = group_of.get(node)
        if node in new:
            continue  # a reduction already replaced by its FusedReduce
        if group is None:
            if node.is_leaf:
                new[node] = node
            else:
                inputs = tuple(new[i] for i in node.inputs)
                new[node] = Node(node.op, inputs, node.type, node.name, node.origin) if any(
                    a is not b for a, b in zip(inputs, node.inputs)) else node
            continue
        if node is not group.root:
            continue  # built with its root, which comes after every member
        op, inputs, returned = _program(group, planner.pos, planner.users, outputs)
        fused = Node(op, tuple(new[i] for i in inputs), op.infer(*(new[i].type for i in inputs)),
                     origin=node.origin)
        record("fuse.fused_reduce" if group.reduce is not None else "fuse.fused")
        if group.reduce is not None:
            new[group.reduce] = fused
        elif len(returned) == 1:
            new[returned[0]] = fused
        else:
            for k, member in enumerate(returned):
                new[member] = Node(TupleGet(k), (fused,), fused.type.types[k])
    return Graph(graph.inputs, [new[o] for o in graph.outputs])
