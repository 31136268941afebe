"""The host-side runner: walks the optimized graph and launches one kernel (or none, for a
view) per node, looking each node's kernel kind up in `KINDS`.

Control flow stays on the host: `ifelse` reads its condition and runs one branch's
program; `scan` runs its step program once per step, writing each step's results into the
stacked outputs. Buffers of intermediates go back to the pool after their last reader.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from backends.numba_cuda import launch
from backends.numba_cuda.device import (POOL, SHARED, Tensor, empty, ensure_device, hold,
                                        host_only, release, to_host, upload)
from backends.numba_cuda.views import index_plan, view
from backends.scalar_code import out_dtype
from symgraph.errors import LoweringError, ShapeError, SymgraphError, with_origin
from symgraph.graph import Constant, Graph, Node, SharedVariable
from symgraph.ops.binary import Power, negative_power_error
from symgraph.types import TupleType


def _types(node: Node) -> tuple:
    return node.type.types if isinstance(node.type, TupleType) else (node.type,)


def _prune(program: tuple, output: int, n_inputs: int) -> tuple[tuple, tuple, list[int]]:
    """The instructions `output` needs, renumbered over the inputs it reads."""
    needed = {output}
    for k in range(len(program) - 1, -1, -1):
        if n_inputs + k in needed:
            needed.update(program[k][1])
    used = [i for i in range(n_inputs) if i in needed]
    number = {old: new for new, old in enumerate(used)}
    kept = []
    for k, (op, args) in enumerate(program):
        if n_inputs + k in needed:
            number[n_inputs + k] = len(used) + len(kept)
            kept.append((op, tuple(number[a] for a in args)))
    return tuple(kept), (number[output],), used


def check_exponents(name: str, program: tuple, inputs: Sequence[Tensor], shape: tuple) -> None:
    """Raise NumPy's error, as the other backends do, if an integer power in the program
    has a negative exponent: a kernel cannot raise, so each such exponent is reduced to its
    minimum on the device first (only programs with an integer power pay for this)."""
    dtypes = [t.dtype for t in inputs]
    for op, args in program:
        dtypes.append(out_dtype(op, [dtypes[a] for a in args]))
        exponent = args[1] if isinstance(op, Power) else None
        if exponent is None or dtypes[-1][0] not in "iu" or dtypes[exponent][0] != "i":
            continue
        sub, out, used = _prune(program, exponent, len(inputs))
        operands = [inputs[i] for i in used]
        loop = launch.loop_shape(name, operands) if operands else shape
        if not int(np.prod(loop, dtype="int64")):
            continue
        smallest = launch.reduce(POOL, name, "Min", sub, out, operands, loop,
                                 tuple(range(len(loop))), dtypes[exponent])
        value = int(to_host(smallest))
        if value < 0:
            raise negative_power_error(dtypes[args[0]], dtypes[exponent], value)


def elemwise(node: Node, inputs: list[Tensor]) -> Any:
    """Kinds "elemwise" and "fused": one kernel, or one per output of a smaller shape."""
    if node.op.kind == "elemwise":
        program, outputs = ((node.op, tuple(range(len(inputs)))),), (len(inputs),)
    else:
        program, outputs = node.op.program, node.op.outputs
    dtypes = [t.dtype for t in _types(node)]
    shape = launch.loop_shape(node.op.name, inputs)
    check_exponents(node.op.name, program, inputs, shape)
    pruned = [_prune(program, o, len(inputs)) for o in outputs]
    if all(len(used) == len(inputs) for _, _, used in pruned) or len(outputs) == 1:
        outs = launch.run_program(POOL, program, outputs, dtypes, inputs, shape)
    else:
        outs = []
        for (sub, out, used), dtype in zip(pruned, dtypes):
            args = [inputs[i] for i in used]
            sub_shape = launch.loop_shape(node.op.name, args) if args else shape
            outs += launch.run_program(POOL, sub, out, [dtype], args, sub_shape)
    return outs[0] if not isinstance(node.type, TupleType) else tuple(outs)


def _finish_reduce(out: Tensor, op: Any, shape: tuple) -> Tensor:
    if op.keepdims:
        return launch.reshaped(out, op.out_shape(shape))
    return out


def reduce(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "reduce": one reduction op over any axes."""
    (x,) = inputs
    op = node.op
    out = launch.reduce(POOL, op.name, type(op).__name__, (), (0,), [x], x.shape, op.axis,
                        node.type.dtype)
    return _finish_reduce(out, op, x.shape)


def fused_reduce(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "fused_reduce": a fused elementwise program reduced in the same kernel."""
    op = node.op
    shape = launch.loop_shape(op.name, inputs)
    check_exponents(op.name, op.program, inputs, shape)
    out = launch.reduce(POOL, str(op), type(op.reduce).__name__, op.program, op.outputs,
                        inputs, shape, op.reduce.axis, node.type.dtype)
    return _finish_reduce(out, op.reduce, shape)


def sum_to(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "sum_to": sum a gradient down to a run-time shape."""
    g, shape_t = inputs
    shape = tuple(int(s) for s in to_host(shape_t))
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ShapeError(f"sum_to: cannot sum a {g.ndim}-d gradient to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    if not axes:
        return g
    out = launch.reduce(POOL, "sum_to", "Sum", (), (0,), [g], g.shape, axes, g.dtype)
    return launch.reshaped(out, shape)


def join(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "join": concatenate by copying each input into its slice of the output."""
    axis = node.op.axis
    first = inputs[0]
    for t in inputs:
        if t.ndim != first.ndim or any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if d != axis):
            shapes = ", ".join(str(x.shape) for x in inputs)
            raise ShapeError(f"concatenate: shapes {shapes} do not match except on axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in inputs)
    out = empty(POOL, node.type.dtype, tuple(shape))
    start = 0
    for t in inputs:
        part = list(out.shape)
        part[axis] = t.shape[axis]
        launch.copy_into(out.view(part, out.strides, start * out.strides[axis]), t)
        start += t.shape[axis]
    return out


def alloc(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "alloc": full, arange, eye (sizes read on the host)."""
    op = node.op
    kind = type(op).__name__
    values = [to_host(t) for t in inputs]
    if kind == "Full":
        shape = tuple(int(s) for s in values[0])
        if any(s < 0 for s in shape):
            raise ShapeError(f"full: negative dimensions are not allowed, got shape {shape}")
        out = empty(POOL, op.dtype, shape)
        args = dict(dtype=op.dtype, value=op.value)
        _fill(out, "fill", args, [])
    elif kind == "Arange":
        start, stop, step = (v.item() for v in values)
        if step == 0:
            raise ShapeError("arange: step must not be zero")
        compute = "float64" if any(isinstance(v, float) for v in (start, stop, step)) or \
            op.dtype[0] == "f" else "int64"
        length = max(0, int(np.ceil((stop - start) / step)))
        out = empty(POOL, op.dtype, (length,))
        _fill(out, "arange", dict(dtype=op.dtype, compute=compute),
              [getattr(np, compute)(start), getattr(np, compute)(step)])
    elif kind == "Eye":
        rows, cols = (int(v) for v in values)
        if rows < 0 or cols < 0:
            raise ShapeError(f"eye: negative dimensions are not allowed, got ({rows}, {cols})")
        out = empty(POOL, op.dtype, (rows, cols))
        _fill(out, "eye", dict(dtype=op.dtype), [cols, op.k], before=True)
    else:
        raise LoweringError(f"{op.name}: the cuda backend has no kernel for this alloc op")
    return out


def _fill(out: Tensor, name: str, params: dict, extra: list, before: bool = False) -> None:
    from backends.numba_cuda import codegen

    n = out.size
    if n == 0:
        return
    kernel = codegen.kernel(name, **params)
    args = [n, *extra, out.buffer.array] if before else [n, out.buffer.array, *extra]
    kernel[launch.blocks(n), launch.THREADS](*args)


def gather(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "index": advanced indexing, a gather through a table of offsets."""
    x, *dynamic = inputs
    plan = index_plan(node.op.name, node.op.items, x, dynamic)
    out = empty(POOL, x.dtype, plan.shape)
    launch.move("gather", ensure_device(x), plan.shape, plan.base, plan.strides, plan.table,
                plan.table_strides, out)
    return out


def scatter(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "scatter": set/inc_subtensor on a copy of x (atomic adds for advanced inc)."""
    x, v, *dynamic = inputs
    op = node.op
    name = f"{op.mode}_subtensor"
    out = empty(POOL, x.dtype, x.shape)
    launch.copy_into(out, ensure_device(x))
    plan = index_plan(name, op.items, out, dynamic)
    try:
        np.broadcast_shapes(v.shape, plan.shape)
        if len(v.shape) > len(plan.shape) or np.broadcast_shapes(v.shape, plan.shape) != \
                tuple(plan.shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"{name}: cannot broadcast the value of shape {v.shape} to the "
                         f"indexed shape {plan.shape}") from None
    mode = "set" if op.mode == "set" else "atomic" if plan.advanced else "add"
    if mode == "atomic" and x.dtype not in ("float32", "float64", "int32", "int64",
                                            "uint32", "uint64"):
        raise LoweringError(f"{name}: the cuda backend has no atomic add for {x.dtype}; "
                            "cast to a 32- or 64-bit type first")
    launch.move(mode, out, plan.shape, plan.base, plan.strides, plan.table,
                plan.table_strides, v)
    return out


def shape(node: Node, inputs: list[Tensor]) -> Tensor:
    return host_only(np.array(inputs[0].shape, dtype="int64"))


def tuple_get(node: Node, inputs: list) -> Tensor:
    return inputs[0][node.op.index]


KINDS: dict[str, Callable] = {
    "elemwise": elemwise, "fused": elemwise, "reduce": reduce, "fused_reduce": fused_reduce,
    "sum_to": sum_to, "shape": shape, "view": view, "tuple_get": tuple_get, "join": join,
    "alloc": alloc, "index": gather, "scatter": scatter,
}


class Program:
    """A lowered graph: `run(tensors) -> tensors`, intermediates recycled through the pool."""

    def __init__(self, graph: Graph) -> None:
        from backends.numba_cuda.control import CONTROL
        from backends.numba_cuda.nn import NN
        from backends.numba_cuda.random import RANDOM

        self.graph = graph
        self.handlers: dict[Node, Callable] = {}
        for node in graph.nodes:
            if node.is_leaf:
                continue
            kind = node.op.kind
            handler = KINDS.get(kind) or CONTROL.get(kind) or NN.get(kind) or RANDOM.get(kind)
            if handler is None:
                raise with_origin(LoweringError(
                    f"{node.op.name}: the cuda backend has no kernel for kind "
                    f"{node.op.kind!r}; compile it with backend='numba' or 'python'"),
                    node.origin)
            self.handlers[node] = handler
        self.constants = {n: upload(n.value) for n in graph.nodes if isinstance(n, Constant)}
        self.uses = {n: 0 for n in graph.nodes}
        for n in graph.nodes:
            for i in n.inputs:
                self.uses[i] += 1

    def run(self, inputs: Sequence[Tensor]) -> list:
        env: dict[Node, Any] = {}
        remaining = dict(self.uses)
        for node, value in zip(self.graph.inputs, inputs):
            env[node] = hold(value)
        for node in self.graph.nodes:
            if node in env:
                continue
            if isinstance(node, Constant):
                env[node] = hold(self.constants[node])
            elif isinstance(node, SharedVariable):
                env[node] = hold(SHARED.read(node))
            elif node.is_leaf:
                raise SymgraphError(f"input {node.name or node!r} is needed but was not given")
            else:
                env[node] = hold(self._run_node(node, [env[i] for i in node.inputs]))
            for i in node.inputs:
                remaining[i] -= 1
                if remaining[i] == 0 and i not in self.graph.outputs:
                    release(env.pop(i))
        outs = [hold(env[o]) for o in self.graph.outputs]
        for node, value in env.items():
            release(value)
        return outs

    def _run_node(self, node: Node, values: list) -> Any:
        try:
            return self.handlers[node](node, values)
        except SymgraphError as error:
            raise with_origin(error, node.origin) from None
