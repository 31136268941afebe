"""Optimized graphs on disk: a warm compile skips the rewrite passes.

`optimized(graph, run)` returns `run(graph)`, the graph after every pass, from
`{cache_dir}/graphs/{key}.graph` when a process compiled the same graph before. The key
hashes the graph's structure (`graph_hash`: ops, types, static shapes, constant bytes,
topology), every node's name and origin (error messages name where a node was created, so
a graph built on other lines is another entry), and the text of symgraph's own sources
with the NumPy, Python and symgraph versions (an edited rule never loads a stale result).

The file holds the optimized graph flat, a record per node in topological order that
names its inputs by position. The leaves of the graph as written (inputs, shared
variables, constants) are stored as their position in it, and become the caller's own
nodes again on load: updates reach the caller's shared variables, and constants are not
written twice. Files are sealed (`symgraph/diskcache.py`); one that is missing, corrupt,
forged or unreadable is a miss, and the passes run. A graph that cannot be stored (an op
holding something pickle cannot write) is simply not stored.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import io
import logging
import os
import pickle
import sys
from collections import Counter
from typing import Callable, Iterator

import numpy as np

import symgraph
from symgraph.config import config
from symgraph.diskcache import read_sealed, secret, source_salt, write_sealed
from symgraph.graph import Constant, Graph, Input, Node, SharedVariable, graph_hash

log = logging.getLogger("symgraph.store")

# Graph attributes the passes set, and how each is stored; any other makes a graph uncacheable.
_NODE_MAPS = ("reuse",)  # {node: int}
_PLAIN = ("rewrites",)   # picklable values


class Uncacheable(Exception):
    """This graph holds something the store cannot write faithfully."""


def optimized(graph: Graph, run: Callable[[Graph], Graph]) -> Graph:
    """`run(graph)`, loaded from the disk cache when it is there (then `.from_cache` is
    True on the result), computed and stored otherwise."""
    external = list(_leaves(graph))
    try:
        key = _key(graph, external)
        root = config.cache_dir
        path = os.path.join(root, "graphs", f"{key}.graph")
        secret_key = secret(root)
        data = read_sealed(secret_key, path)
    except OSError as error:  # no usable cache directory: the numba backend warns once
        log.debug("graph store unavailable: %s", error)
        result = run(graph)
        result.from_cache = False
        return result
    if data is not None:
        try:
            result = _Unpickler(io.BytesIO(data), external).load()
            result.from_cache = True
            return result
        except Exception as error:  # noqa: BLE001 - a stale or foreign entry is a miss
            log.debug("graph store: %s unreadable (%s); optimizing again", path, error)
    result = run(graph)
    try:
        buffer = io.BytesIO()
        _Pickler(buffer, external).dump(result)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_sealed(secret_key, path, buffer.getvalue())  # replaces a damaged entry
    except (Uncacheable, pickle.PicklingError, TypeError, AttributeError, OSError) as error:
        log.debug("graph store: not stored (%s)", error)
    result.from_cache = False
    return result


def _inner_graphs(node: Node) -> list[Graph]:
    if node.is_leaf or not dataclasses.is_dataclass(node.op):
        return []
    values = (getattr(node.op, f.name) for f in dataclasses.fields(node.op))
    return [value for value in values if isinstance(value, Graph)]


def _walk(graph: Graph) -> Iterator[Node]:
    """Every node of the graph and of its inner graphs (ifelse branches, scan steps)."""
    for node in graph.nodes:
        yield node
        for inner in _inner_graphs(node):
            yield from _walk(inner)


def _leaves(graph: Graph) -> Iterator[Node]:
    seen: set[int] = set()
    for node in _walk(graph):
        if node.is_leaf and id(node) not in seen:
            seen.add(id(node))
            yield node


@functools.lru_cache(maxsize=1)
def _salt() -> str:
    """Versions, and the text of every symgraph source file (ops, rules, passes)."""
    here = os.path.dirname(os.path.abspath(symgraph.__file__))
    files = sorted(glob.glob(os.path.join(here, "**", "*.py"), recursive=True))
    return source_salt(f"{symgraph.__version__} {np.__version__} {sys.version}", files)


def _key(graph: Graph, external: list[Node]) -> str:
    digest = hashlib.sha256(f"{_salt()} {graph_hash(graph)}".encode())
    for node in _walk(graph):
        digest.update(f"{node.name!r}@{node.origin!r};".encode())
    digest.update(f"leaves:{len(external)}".encode())
    return digest.hexdigest()[:40]


# -- the flat encoding --------------------------------------------------------------------------

def _encode(graph: Graph, external: dict[int, int]) -> tuple:
    """(records, inputs, outputs, attributes): a node refers to earlier ones by position."""
    position: dict[Node, int] = {}
    records: list[tuple] = []
    for node in graph.nodes:
        position[node] = len(records)
        if id(node) in external:
            records.append(("leaf", external[id(node)]))
        elif isinstance(node, SharedVariable):  # a copy would not see updates: never store
            raise Uncacheable(f"shared variable {node.name!r} is not a leaf of the graph")
        elif isinstance(node, Constant):
            records.append(("constant", node.value, node.name, node.origin))
        elif isinstance(node, Input):
            records.append(("input", node.type, node.name, node.origin))
        elif node.is_leaf:
            raise Uncacheable(f"unknown leaf {node!r}")
        else:
            inputs = tuple(position[i] for i in node.inputs)
            records.append(("node", node.op, inputs, node.type, node.name, node.origin))
    attributes = {}
    for name, value in vars(graph).items():
        if name in ("inputs", "outputs", "_nodes", "from_cache"):
            continue
        if name in _NODE_MAPS:
            attributes[name] = {position[n]: v for n, v in value.items()}
        elif name in _PLAIN:
            attributes[name] = value
        else:
            raise Uncacheable(f"graph attribute {name!r}")
    return (records, tuple(position[n] for n in graph.inputs),
            tuple(position[n] for n in graph.outputs), attributes)


def _decode(encoded: tuple, external: list[Node]) -> Graph:
    records, inputs, outputs, attributes = encoded
    nodes: list[Node] = []
    for record in records:
        kind = record[0]
        if kind == "leaf":
            nodes.append(external[record[1]])
        elif kind == "constant":
            nodes.append(Constant(record[1], record[2], record[3]))
        elif kind == "input":
            nodes.append(Input(record[1], record[2], record[3]))
        else:
            _, op, args, node_type, name, origin = record
            nodes.append(Node(op, tuple(nodes[i] for i in args), node_type, name, origin))
    graph = Graph([nodes[i] for i in inputs], [nodes[i] for i in outputs])
    for name, value in attributes.items():
        if name in _NODE_MAPS:
            value = {nodes[i]: v for i, v in value.items()}
        elif name == "rewrites":
            value = Counter(value)
        setattr(graph, name, value)
    return graph


class _Pickler(pickle.Pickler):
    """Graphs (the top one, and those inside ops) go through the flat encoding."""

    def __init__(self, file: io.BytesIO, external: list[Node]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.external = {id(node): k for k, node in enumerate(external)}

    def persistent_id(self, obj: object) -> tuple | None:
        if isinstance(obj, Graph):
            return ("graph", _encode(obj, self.external))
        if isinstance(obj, Node):  # a node held by an op, outside any graph
            if id(obj) in self.external:
                return ("leaf", self.external[id(obj)])
            raise Uncacheable(f"an op holds the node {obj!r}")
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, external: list[Node]) -> None:
        super().__init__(file)
        self.external = external

    def persistent_load(self, pid: tuple) -> object:
        kind, value = pid
        if kind == "graph":
            return _decode(value, self.external)
        if kind == "leaf":
            return self.external[value]
        raise pickle.UnpicklingError(f"unknown reference {kind!r}")
