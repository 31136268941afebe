"""Kinds run by host orchestration: `ifelse` and `scan` (inner programs launched per branch
or per step), and `matmul` (the tiled shared-memory kernel, batched)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from backends.numba_cuda import codegen, launch
from backends.numba_cuda.device import POOL, Tensor, empty, ensure_device, release, to_host
from symgraph.errors import ShapeError
from symgraph.graph import Node

_PROGRAMS: dict[int, Any] = {}


def _program(graph: Any) -> Any:
    """The lowered inner graph (lowered once per graph object)."""
    from backends.numba_cuda.runner import Program

    found = _PROGRAMS.get(id(graph))
    if found is None or found[0] is not graph:
        found = (graph, Program(graph))
        _PROGRAMS[id(graph)] = found
    return found[1]


def ifelse(node: Node, inputs: list[Tensor]) -> Any:
    """Read the condition on the host, run only the chosen branch."""
    cond, *free = inputs
    graph = node.op.then_graph if bool(to_host(cond)) else node.op.else_graph
    outs = _program(graph).run(free)
    for t in outs:  # the branch's hold passes to the caller's
        if t.buffer is not None:
            t.buffer.users -= 1
    return outs[0] if len(outs) == 1 else tuple(outs)


def scan(node: Node, inputs: list[Tensor]) -> tuple:
    """Run the step program n_steps times; each result is copied into its stacked output,
    and states are read back from there (so step results return to the pool at once)."""
    op = node.op
    n = int(to_host(inputs[0]))
    args = inputs[1:]
    seqs = list(args[:op.n_seqs])
    inits = args[op.n_seqs:op.n_seqs + op.n_states]
    rest = list(args[op.n_seqs + op.n_states:])
    for s in seqs:
        if s.shape[0] < n:
            raise ShapeError(f"scan: a sequence of length {s.shape[0]} is shorter than "
                             f"n_steps={n}")
    history = [[_row(init, k) for k in range(init.shape[0])] if taps != (-1,) else [init]
               for init, taps in zip(inits, op.taps)]
    stacked: list[Tensor | None] = [None] * len(op.step.outputs)
    program = _program(op.step)
    for t in range(n):
        values = [_row(s, s.shape[0] - 1 - t if op.go_backwards else t) for s in seqs]
        for hist, taps in zip(history, op.taps):
            values += [hist[len(hist) + tap] for tap in taps]
        outs = program.run(values + rest)
        for k, out in enumerate(outs):
            had = (stacked[k].shape[1:] if stacked[k] is not None
                   else history[k][-1].shape if k < op.n_states else None)
            if had is not None and tuple(out.shape) != tuple(had):
                raise op.shape_changed(t, k, out.shape, had)
            if stacked[k] is None:
                stacked[k] = empty(POOL, node.type.types[k].dtype, (n,) + out.shape)
                stacked[k].buffer.users += 1  # ours until returned: steps read its rows
            row = _row(stacked[k], t)
            launch.copy_into(row, out)
            release(out)
            if k < op.n_states:
                history[k].append(row)
    result = []
    for k, (out, ttype) in enumerate(zip(stacked, node.type.types)):
        if out is None:
            if k < op.n_states:
                init_shape = inits[k].shape if op.taps[k] == (-1,) else inits[k].shape[1:]
            else:
                init_shape = tuple(d or 0 for d in op.step.outputs[k].type.shape)
            out = empty(POOL, ttype.dtype, (0,) + tuple(init_shape))
        else:
            out.buffer.users -= 1  # the caller holds it from here on
        result.append(out)
    return tuple(result)


def _row(t: Tensor, k: int) -> Tensor:
    ensure_device(t)
    return t.view(t.shape[1:], t.strides[1:], t.offset + k * t.strides[0])


def matmul(node: Node, inputs: list[Tensor]) -> Tensor:
    """a @ b with NumPy's rules (1-d operands, broadcast batches, transpose flags)."""
    a, b = (ensure_device(t) for t in inputs)
    op = node.op
    if getattr(op, "transpose_a", False):
        a = _swap(a)
    if getattr(op, "transpose_b", False):
        b = _swap(b)
    a2 = a.view((1,) + a.shape, (0,) + a.strides, a.offset) if a.ndim == 1 else a
    b2 = b.view(b.shape + (1,), b.strides + (0,), b.offset) if b.ndim == 1 else b
    n, ka = a2.shape[-2:]
    kb, m = b2.shape[-2:]
    if ka != kb:
        raise ShapeError(f"matmul: contracted dimensions differ: {a.shape} @ {b.shape}")
    batch = launch.loop_shape("matmul", [_batch(a2), _batch(b2)])
    out_dtype = node.type.dtype
    out = empty(POOL, out_dtype, batch + (n, m))
    n_batch = int(np.prod(batch, dtype="int64"))
    if out.size:
        # Batch axes are flattened: each operand needs one stride over the flat batch index.
        a3 = _flat_batch(a2, batch)
        b3 = _flat_batch(b2, batch)
        tiles_n = -(-n // launch.TILE)
        tiles_m = -(-m // launch.TILE)
        kernel = codegen.kernel("matmul", a_dtype=a.dtype, b_dtype=b.dtype, out=out_dtype,
                                tile=launch.TILE)
        grid = max(1, min(launch.REDUCE_BLOCKS, n_batch * tiles_n * tiles_m))
        shared = 2 * launch.TILE * launch.TILE * np.dtype(out_dtype).itemsize
        kernel[grid, (launch.TILE, launch.TILE), 0, shared](
            n_batch, n, m, ka, tiles_n, tiles_m, out.buffer.array,
            a3.buffer.array, a3.offset, *a3.strides, b3.buffer.array, b3.offset, *b3.strides)
    shape = node.type.shape
    final = tuple(d for d in out.shape)
    if a.ndim == 1:
        final = final[:-2] + final[-1:]
    if b.ndim == 1:
        final = final[:-1]
    assert len(final) == len(shape)
    return launch.reshaped(out, final)


def _swap(t: Tensor) -> Tensor:
    order = list(range(t.ndim - 2)) + [t.ndim - 1, t.ndim - 2]
    return t.view([t.shape[d] for d in order], [t.strides[d] for d in order], t.offset)


def _batch(t: Tensor) -> Tensor:
    return t.view(t.shape[:-2], t.strides[:-2], t.offset)


def _flat_batch(t: Tensor, batch: tuple) -> Tensor:
    """t as (flat batch, rows, cols): broadcast batch axes; copied when they do not flatten
    to a single stride."""
    strides = launch.broadcast_strides(_batch(t), batch)
    full = t.view(batch + t.shape[-2:], strides + t.strides[-2:], t.offset)
    size = int(np.prod(batch, dtype="int64"))
    if not batch:
        return t.view((1,) + t.shape[-2:], (0,) + t.strides[-2:], t.offset)
    flat_stride = strides[-1]
    expected = [flat_stride * int(np.prod(batch[d + 1:], dtype="int64")) for d in
                range(len(batch))]
    if all(s == e or b == 1 for s, e, b in zip(strides, expected, batch)) and (
            flat_stride != 0 or all(s == 0 for s in strides)):
        return full.view((size,) + t.shape[-2:], (flat_stride,) + t.strides[-2:], t.offset)
    copy = launch.contiguous(POOL, full)
    return copy.view((size,) + t.shape[-2:], (int(np.prod(t.shape[-2:])),) + copy.strides[-2:],
                     copy.offset)


CONTROL: dict[str, Callable] = {"ifelse": ifelse, "scan": scan, "matmul": matmul}
