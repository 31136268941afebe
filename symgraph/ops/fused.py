"""Fused elementwise programs: many elementwise ops computed in one loop.

The optimizer's fusion pass builds these; the backends compile `program` into one loop
body (see `backends/scalar_code.py`). A program is a tuple of instructions
`(op, args)`, where `op` is an Elemwise op and `args` index into the value list
`inputs + results so far`; `outputs` names the values the node returns (one output gives
a TensorType, several a TupleType split by TupleGet nodes). `FusedReduce` additionally
reduces its single output with `reduce` (a Reduce op), so `sum(exp(x - m))` is one loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symgraph.ops.base import Elemwise, Op
from symgraph.types import TensorType, TupleType

Program = tuple[tuple[Elemwise, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Fused(Op):
    """A fused elementwise program with one or more outputs."""

    program: Program
    outputs: tuple[int, ...]
    kind: ClassVar[str] = "fused"

    def value_types(self, *types: TensorType) -> list[TensorType]:
        values = list(types)
        for op, args in self.program:
            values.append(op.infer(*(values[a] for a in args)))
        return values

    def infer(self, *types: TensorType) -> TensorType | TupleType:
        values = self.value_types(*types)
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return TupleType(tuple(values[o] for o in self.outputs))

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        values = list(arrays)
        for op, args in self.program:
            values.append(op.reference(*(values[a] for a in args)))
        return values

    def reference(self, *arrays: np.ndarray):
        values = self.run(*arrays)
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return tuple(values[o] for o in self.outputs)

    def __str__(self) -> str:
        names = "+".join(op.name for op, _ in self.program)
        return f"fused{{{names}}}"


@dataclass(frozen=True)
class FusedReduce(Fused):
    """A fused elementwise program whose single output is reduced by `reduce`."""

    reduce: Op | None = None
    kind: ClassVar[str] = "fused_reduce"

    def infer(self, *types: TensorType) -> TensorType:
        assert self.reduce is not None and len(self.outputs) == 1
        return self.reduce.infer(self.value_types(*types)[self.outputs[0]])

    def reference(self, *arrays: np.ndarray):
        return self.reduce.reference(self.run(*arrays)[self.outputs[0]])

    def __str__(self) -> str:
        return f"{self.reduce}({super().__str__()})"
