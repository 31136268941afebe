"""The graph IR: one immutable node type, three kinds of leaves, toposort, substitute.

A `Node` is the result of applying an `Op` to input nodes; it has one output whose static
type is inferred when it is built. Leaves are `Input` (a function argument), `Constant`
(a read-only array) and `SharedVariable` (state that persists across calls). Nodes compare
by identity (`==` is identity, as in Theano), so they can be dict keys; structural equality
for merging common subexpressions is `node.key`.
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import TYPE_CHECKING, Iterable

import numpy as np

from symgraph.methods import TensorMethods
from symgraph.types import TensorType

if TYPE_CHECKING:
    from symgraph.ops.base import Op

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, os.path.join(os.path.dirname(__file__), "..", "backends", "x"))
)


def user_origin() -> str | None:
    """`file.py:LINE` of the innermost caller outside symgraph, for error messages."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRS) and "importlib" not in filename:
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


_SERIALS = itertools.count()


def newest_serial() -> int:
    """A serial above every node's made so far (`Node.serial`)."""
    return next(_SERIALS)


class Node(TensorMethods):
    """An op applied to inputs; immutable. Leaves subclass it with `op = None`. `serial`
    counts nodes in the order they were made: what a scan's step function read from
    outside is what existed before it ran (symgraph/api/control.py)."""

    __slots__ = ("op", "inputs", "type", "name", "origin", "serial", "_key", "__weakref__")
    op: Op | None
    inputs: tuple[Node, ...]
    type: TensorType
    name: str | None
    origin: str | None
    serial: int

    def __init__(self, op: Op | None, inputs: Iterable[Node], type: TensorType,
                 name: str | None = None, origin: str | None = None) -> None:
        for slot, value in (("op", op), ("inputs", tuple(inputs)), ("type", type),
                            ("name", name), ("origin", origin), ("serial", next(_SERIALS)),
                            ("_key", None)):
            object.__setattr__(self, slot, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new node instead")

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def key(self) -> tuple:
        """Structural identity: equal keys compute equal values (used to merge duplicates)."""
        if self._key is None:
            key = (self.op, self.type, tuple(id(i) if i.is_leaf else i.key for i in self.inputs))
            object.__setattr__(self, "_key", key)
        return self._key

    def __repr__(self) -> str:
        label = self.name or (self.op.name if self.op is not None else type(self).__name__)
        return f"<{type(self).__name__} {label}: {self.type}>"

    def numpy(self, *args: object, **kwargs: object) -> None:
        """Symbolic values have no data (an eager tensor's method, by the same name)."""
        from symgraph.errors import SymgraphError

        raise SymgraphError(
            f"{self!r} is symbolic: its value exists only when a compiled function runs "
            "(sg.function(inputs, outputs)(...), or eval({x: value})); inside sg.jit, "
            "return it from the function and read the result")

    item = tolist = numpy

    def backward(self, *args: object, **kwargs: object) -> None:
        """Symbolic values are differentiated with sg.grad (an eager tensor's method)."""
        from symgraph.errors import SymgraphError

        raise SymgraphError(
            f"{self!r} is symbolic: take gradients with sg.grad(cost, wrt) and compile them; "
            "inside sg.jit, return sg.grad(...) from the function, or use "
            "sg.value_and_grad(fn)")

    def __iter__(self):
        """The first axis element by element, where its length is known before the graph
        runs (`a, b = sg.vector(shape=(2,))`); otherwise a TypeError: indexing alone would
        never stop (`list(x)`, `sum(x)`, or `sg.function(x, ...)` where `[x]` was meant)."""
        length = self.type.shape[0] if self.type.ndim else None
        if length is None:
            what = "a 0-d value" if self.type.ndim == 0 else "its length is unknown until it runs"
            raise TypeError(f"cannot iterate over symbolic {self!r}: {what}; index it "
                            "(x[0]), reduce it (sg.sum), or pass a list where one is expected")
        return (self[i] for i in range(length))

    def __bool__(self) -> bool:
        from symgraph.errors import SymgraphError

        raise SymgraphError(
            f"the truth value of symbolic {self!r} is unknown until the graph runs; "
            "use sg.where or sg.ifelse for a choice that depends on data"
        )


class Input(Node):
    """A symbolic argument of a compiled function (`sg.matrix("x")`)."""

    __slots__ = ()

    def __init__(self, type: TensorType, name: str | None = None,
                 origin: str | None = None) -> None:
        super().__init__(None, (), type, name, origin)


class Constant(Node):
    """A read-only array baked into the graph."""

    __slots__ = ("value",)
    value: np.ndarray

    def __init__(self, value: np.ndarray, name: str | None = None,
                 origin: str | None = None) -> None:
        array = np.array(value)  # a private copy, so later edits by the caller cannot leak in
        array.flags.writeable = False
        super().__init__(None, (), TensorType(array.dtype.name, array.shape), name, origin)
        object.__setattr__(self, "value", array)

    @property
    def scalar(self) -> bool | int | float | None:
        """The single value when every element is equal (and the array is not empty)."""
        flat = self.value.reshape(-1)
        if flat.size == 0 or flat.size > 1 and not (flat == flat[0]).all():
            return None
        return flat[0].item()

    @property
    def key(self) -> tuple:
        if self.value.size <= 16:
            return ("constant", self.type, self.value.tobytes())
        return ("constant", id(self))

    def __repr__(self) -> str:
        return f"<Constant {np.array2string(self.value, threshold=6)}: {self.type}>"


class DeviceValue:
    """A shared variable's value kept where a backend computed it (a GPU buffer).

    A backend may store one in a `Container` (an update's result); reading the container
    fetches it to the host, so device-resident state is downloaded only when the host looks.
    """

    def fetch(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        """The value's shape, known without fetching it (updates check fixed shapes)."""
        raise NotImplementedError


class Container(list):
    """A shared variable's one-slot value holder: `container[0]` is always a host array
    (a `DeviceValue` stored there is fetched on the first read and replaced by the array);
    `peek()` returns the slot as stored, for the backend that owns the device value."""

    def __getitem__(self, index: int) -> object:  # type: ignore[override]
        value = super().__getitem__(index)
        if isinstance(value, DeviceValue):
            value = value.fetch()
            super().__setitem__(index, value)
        return value

    def peek(self) -> object:
        return super().__getitem__(0)


class SharedVariable(Node):
    """State that persists across calls of compiled functions: `sg.shared(value)`.

    The value lives in a container; compiled functions read it at each call and replace
    it through their `updates`. Dimensions are unknown, so `set_value` may resize, unless
    `shape` fixes some of them (None leaves one free): the optimizer then knows them, and
    `set_value` and updates must keep them.
    """

    __slots__ = ("container", "default_update")

    def __init__(self, value: np.ndarray, name: str | None = None,
                 origin: str | None = None, shape: tuple | None = None) -> None:
        array = np.array(value)
        dtype = array.dtype.name
        static = (None,) * array.ndim if shape is None else _static_shape(array, shape, name)
        super().__init__(None, (), TensorType(dtype, static), name, origin)
        object.__setattr__(self, "container", Container([array]))
        object.__setattr__(self, "default_update", None)

    def set_default_update(self, update: Node | None) -> None:
        """An update every compiled function that reads this variable applies, unless its
        `updates` say otherwise (random streams advance their counter this way)."""
        object.__setattr__(self, "default_update", update)

    def check_shape(self, shape: tuple, where: str) -> None:
        """Raise ShapeError if `shape` breaks a dimension fixed at construction."""
        from symgraph.errors import ShapeError

        if any(d is not None and d != n for d, n in zip(self.type.shape, shape)):
            raise ShapeError(f"{where} of shared {self.name or '<unnamed>'}: got shape "
                             f"{tuple(shape)}, the variable's shape is fixed as "
                             f"{self.type.shape} (None: free)")

    def get_value(self, borrow: bool = False) -> np.ndarray:
        """The current value (a copy unless `borrow=True`)."""
        value = self.container[0]
        return value if borrow else np.array(value)

    def set_value(self, value: object, borrow: bool = False) -> None:
        """Replace the value; its dtype must cast safely and its ndim must match."""
        from symgraph.dtypes import can_cast, is_python_scalar
        from symgraph.errors import DTypeError, ShapeError

        array = np.asarray(value)
        if not is_python_scalar(value) and not can_cast(array.dtype.name, self.dtype):
            raise DTypeError(
                f"set_value of shared {self.name or '<unnamed>'}: {array.dtype.name} data "
                f"cannot be stored safely as {self.dtype}; cast it with .astype first"
            )
        if array.ndim != self.ndim:
            raise ShapeError(
                f"set_value of shared {self.name or '<unnamed>'}: got a {array.ndim}-d "
                f"value, the variable is {self.ndim}-d"
            )
        self.check_shape(array.shape, "set_value")
        array = array.astype(self.dtype, copy=not borrow)
        self.container[0] = array


def _static_shape(array: np.ndarray, shape: tuple, name: str | None) -> tuple:
    """`shape` (ints and None) checked against the initial value of a shared variable."""
    from symgraph.errors import ShapeError

    dims = tuple(None if d is None else int(d) for d in shape)
    if len(dims) != array.ndim or any(d is not None and d != n
                                      for d, n in zip(dims, array.shape)):
        raise ShapeError(f"shared {name or '<unnamed>'}: shape={shape} does not fit the "
                         f"value's shape {array.shape}; use None for a free dimension")
    return dims


def toposort(outputs: Iterable[Node]) -> list[Node]:
    """Every node the outputs depend on, inputs before users (iterative: no recursion limit)."""
    order: list[Node] = []
    done: set[int] = set()
    for root in outputs:
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if id(node) in done:
                continue
            if index < len(node.inputs):
                stack.append((node, index + 1))
                child = node.inputs[index]
                if id(child) not in done:
                    stack.append((child, 0))
            else:
                done.add(id(node))
                order.append(node)
    return order


def leaves(outputs: Iterable[Node]) -> list[Node]:
    """The leaves (inputs, constants, shared variables) the outputs depend on."""
    return [node for node in toposort(outputs) if node.is_leaf]


def rebuild(node: Node, inputs: tuple[Node, ...]) -> Node:
    """`node` with new inputs; its type is inferred again (givens may change shapes)."""
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node
    assert node.op is not None
    from symgraph.errors import SymgraphError, with_origin

    try:
        node_type = node.op.infer(*(i.type for i in inputs))
    except SymgraphError as error:
        raise with_origin(error, node.origin)
    return Node(node.op, inputs, node_type, node.name, node.origin)


def substitute(outputs: Iterable[Node], mapping: dict[Node, Node]) -> list[Node]:
    """The outputs with each key of `mapping` replaced by its value, sharing what is unchanged."""
    outputs = list(outputs)
    new: dict[Node, Node] = dict(mapping)
    for node in toposort(outputs):
        if node in new or node.is_leaf:
            continue
        new[node] = rebuild(node, tuple(new.get(i, i) for i in node.inputs))
    return [new.get(o, o) for o in outputs]


class Graph:
    """A function's graph: explicit inputs and the outputs computed from them.

    Shared variables and constants are leaves found by walking from the outputs.
    `print(graph)` gives the flat listing (`%3 = mul %1 %2 : float32[?,4]`).
    """

    def __init__(self, inputs: Iterable[Node], outputs: Iterable[Node]) -> None:
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self._nodes: list[Node] | None = None

    @property
    def nodes(self) -> list[Node]:
        """Every node, in topological order (explicit inputs first)."""
        if self._nodes is None:
            self._nodes = toposort(self.inputs + self.outputs)
        return self._nodes

    @property
    def shared(self) -> list[SharedVariable]:
        return [n for n in self.nodes if isinstance(n, SharedVariable)]

    def replace_outputs(self, outputs: Iterable[Node]) -> Graph:
        return Graph(self.inputs, outputs)

    def __str__(self) -> str:
        from symgraph.printing import listing

        return listing(self)

    def __len__(self) -> int:
        return sum(1 for node in self.nodes if not node.is_leaf)


def _op_text(op: Op) -> str:
    """The op's repr, with each inner graph (ifelse, scan) as its own hash: a Graph's repr
    holds its address, which would change the hash in every process."""
    import dataclasses

    fields = [(f.name, getattr(op, f.name)) for f in dataclasses.fields(op)]
    if not any(isinstance(value, Graph) for _, value in fields):
        return repr(op)
    parts = [f"{name}={graph_hash(v) if isinstance(v, Graph) else repr(v)}" for name, v in fields]
    return f"{type(op).__name__}({', '.join(parts)})"


def graph_hash(graph: Graph) -> str:
    """A structural hash of a graph, stable across processes (for on-disk caches): ops and
    their parameters, types, constant bytes, topology and input order. Shared variables are
    identified by position and type, not by value."""
    import hashlib

    digest = hashlib.sha256()
    number: dict[Node, int] = {}
    for node in graph.nodes:
        number[node] = len(number)
        if isinstance(node, Constant):
            digest.update(b"c" + str(node.type).encode() + node.value.tobytes())
        elif node.is_leaf:
            role = graph.inputs.index(node) if node in graph.inputs else "shared"
            digest.update(f"l{role}:{node.type}".encode())
        else:
            args = ",".join(str(number[i]) for i in node.inputs)
            digest.update(f"n{_op_text(node.op)}({args}):{node.type}".encode())
        digest.update(b";")
    digest.update(("out:" + ",".join(str(number[o]) for o in graph.outputs)).encode())
    return digest.hexdigest()
