"""Control flow inside a static graph: `IfElse` (lazy branches) and `Scan` (loops).

Both hold inner graphs. An inner graph's inputs are placeholders standing for the op's
own inputs (the free variables captured from the user's expressions), so evaluating it is
evaluating a function: the reference backend runs it with `interpret.evaluate`, and a
compiling backend compiles it like any other graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph.errors import GradientError, ShapeError, SymgraphError
from symgraph.graph import Graph, Input, substitute
from symgraph.ops.base import Op
from symgraph.types import TensorType, TupleType


def merge_types(a: TensorType, b: TensorType, op: str) -> TensorType:
    """The type covering both branches: same dtype and ndim; dims known where they agree."""
    if a.dtype != b.dtype or a.ndim != b.ndim:
        raise SymgraphError(f"{op}: the branches have types {a} and {b}; they need the same "
                            "dtype and number of dimensions (cast or reshape one of them)")
    return TensorType(a.dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))


def inline(graph: Graph, values: list) -> list:
    """The inner graph's outputs rebuilt on `values` in place of its placeholders."""
    return substitute(graph.outputs, dict(zip(graph.inputs, values)))


@dataclass(frozen=True)
class IfElse(Op):
    """`then` if cond else `else`; only the chosen branch runs. Inputs: cond, free vars."""

    then_graph: Graph
    else_graph: Graph
    kind: ClassVar[str] = "ifelse"

    def infer(self, cond: TensorType, *free: TensorType) -> TensorType | TupleType:
        if cond.ndim != 0:
            raise ShapeError(f"ifelse: the condition must be a scalar (0-d), got {cond}; "
                             "use sg.where for an elementwise choice")
        types = [merge_types(a.type, b.type, "ifelse")
                 for a, b in zip(self.then_graph.outputs, self.else_graph.outputs)]
        return types[0] if len(types) == 1 else TupleType(tuple(types))

    def reference(self, cond, *free):
        from symgraph.interpret import evaluate


        outs = evaluate(self.then_graph if bool(cond) else self.else_graph, list(free))
        return outs[0] if len(outs) == 1 else tuple(outs)

    def vjp(self, inputs, output, g):
        from symgraph.grad import grad

        cond, free = inputs[0], list(inputs[1:])
        grads = g if isinstance(g, tuple) else (g,)
        wrt = [x for x in free if x.dtype in ("float32", "float64")]
        per_branch = []
        for graph in (self.then_graph, self.else_graph):
            outs = inline(graph, free)
            known = {o: gi for o, gi in zip(outs, grads) if gi is not None}
            per_branch.append(grad(None, wrt, known_grads=known, disconnected="zero")
                              if wrt else [])
        result = [None]
        for x in free:
            if x in wrt:
                k = wrt.index(x)
                result.append(ifelse(cond, per_branch[0][k], per_branch[1][k]))
            else:
                result.append(None)
        return tuple(result)


@dataclass(frozen=True)
class Scan(Op):
    """A loop: `step` maps (sequence slices, state taps, non-sequences) to (new states,
    collected outputs) for n_steps steps. Inputs: n_steps, sequences, initial states,
    non-sequences. Outputs (a tuple): each state's values stacked over the steps, then each
    collected output stacked. An initial state with taps (-2, -1) has a leading axis of 2
    holding the values at t=-2 and t=-1."""

    step: Graph
    n_seqs: int
    taps: tuple[tuple[int, ...], ...]
    n_collect: int
    go_backwards: bool = False
    keep_last: tuple[int, ...] = ()  # outputs whose history is not needed: the last row
    kind: ClassVar[str] = "scan"

    @property
    def n_states(self) -> int:
        return len(self.taps)

    def infer(self, n_steps: TensorType, *types: TensorType) -> TupleType:
        if n_steps.ndim != 0 or n_steps.dtype[0] not in "iu":
            raise ShapeError(f"scan: n_steps must be an integer scalar, got {n_steps}")
        outs = self.step.outputs
        initial = types[self.n_seqs:self.n_seqs + self.n_states]
        for k, (init, taps, out) in enumerate(zip(initial, self.taps, outs)):
            state = init if taps == (-1,) else TensorType(init.dtype, init.shape[1:])
            if state.dtype != out.dtype or state.ndim != out.ndim:
                raise SymgraphError(
                    f"scan: the step function returns {out.type} for state {k}, whose "
                    f"initial value is {state}; they must have the same dtype and ndim "
                    "(cast the initial value or the step's result)")
        # a kept-last output has one row, or none after zero steps: its length is not static
        return TupleType(tuple(TensorType(o.dtype, (None,) + o.type.shape) for o in outs))

    def reference(self, n_steps, *args):
        from symgraph.interpret import evaluate

        n = int(n_steps)
        seqs = list(args[:self.n_seqs])
        inits = args[self.n_seqs:self.n_seqs + self.n_states]
        rest = list(args[self.n_seqs + self.n_states:])
        for s in seqs:
            if s.shape[0] < n:
                raise ShapeError(f"scan: a sequence of length {s.shape[0]} is shorter than "
                                 f"n_steps={n}")
        if self.go_backwards:
            seqs = [s[::-1] for s in seqs]
        history = [list(init) if taps != (-1,) else [init]
                   for init, taps in zip(inits, self.taps)]
        collected: list[list] = [[] for _ in self.step.outputs]
        for t in range(n):
            values = [s[t] for s in seqs]
            for hist, taps in zip(history, self.taps):
                values += [hist[len(hist) + tap] for tap in taps]
            outs = evaluate(self.step, values + rest)
            for k, out in enumerate(outs):
                first = collected[k][0] if collected[k] else (
                    history[k][-1] if k < self.n_states else None)
                if first is not None and np.shape(out) != np.shape(first):
                    raise self.shape_changed(t, k, np.shape(out), np.shape(first))
                if k < self.n_states:
                    history[k].append(out)
                    del history[k][:-max(-t for t in self.taps[k])]  # only what taps read
                if k in self.keep_last:
                    collected[k][:] = [out]
                else:
                    collected[k].append(out)
        stacked = []
        for k, (values, out) in enumerate(zip(collected, self.step.outputs)):
            if values:
                stacked.append(np.stack(values).astype(out.dtype, copy=False))
            else:
                shape = (np.shape(inits[k]) if k < self.n_states and self.taps[k] == (-1,)
                         else np.shape(inits[k])[1:] if k < self.n_states else
                         tuple(d or 0 for d in out.type.shape))
                stacked.append(np.zeros((0,) + tuple(shape), out.dtype))
        return tuple(stacked)

    @staticmethod
    def shape_changed(t: int, k: int, got: tuple, had: tuple) -> ShapeError:
        """The error for step t returning output k in another shape than it had (at t = 0:
        a state's initial value), for every backend."""
        return ShapeError(f"scan: step {t} returned shape {tuple(got)} for output {k}, which "
                          f"had shape {tuple(had)}" + (" (its initial value)" if t == 0 else "")
                          + "; a step must return the same shapes every time")

    def vjp(self, inputs, output, g):
        from symgraph.api.control import scan_grad

        if any(taps != (-1,) for taps in self.taps):
            raise GradientError("scan: gradients through states with taps other than [-1] "
                                "are not supported; rewrite the recurrence with one tap")
        return scan_grad(self, inputs, output, g)


def placeholder_like(value, name: str, drop_leading: bool = False) -> Input:
    """An inner-graph input with the type of `value` (one slice of it if drop_leading)."""
    shape = value.type.shape[1:] if drop_leading else value.type.shape
    return Input(TensorType(value.dtype, shape), name)


def ifelse(cond, then, otherwise):
    from symgraph.api.control import ifelse as api_ifelse

    return api_ifelse(cond, then, otherwise)
