"""The op contract.

An op is a small frozen dataclass: its fields are its static parameters (`axis`,
`keepdims`), and it carries everything that does not depend on a backend:

- `infer(*types)`: the output TensorType, or a ShapeError/DTypeError naming the op;
- `reference(*arrays)`: the NumPy implementation, the ground truth of every test;
- `vjp(inputs, output, grad)`: one gradient per input (or None), written with the public
  functions so the same rule serves symbolic graphs and eager tensors;
- `kind`: the kernel kind a backend implements it with ("elemwise", "reduce", …).

Elementwise ops also give `scalar`, a Python expression template over `{0}`, `{1}`, …
that both numba targets compile into fused loops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, ClassVar, Sequence

import numpy as np

from symgraph.dtypes import as_dtype, name_of
from symgraph.types import TensorType, broadcast_shapes


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Op:
    """Base class of every op; see the module docstring for the contract."""

    kind: ClassVar[str] = "custom"
    differentiable: ClassVar[bool] = True
    nin: ClassVar[int | None] = None  # number of inputs, when fixed

    @property
    def name(self) -> str:
        return _snake(type(self).__name__)

    def infer(self, *types: TensorType) -> TensorType:
        raise NotImplementedError(f"{self.name} does not infer its type")

    def reference(self, *values: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no reference implementation")

    def vjp(self, inputs: Sequence[Any], output: Any, grad: Any) -> tuple[Any, ...]:
        """Gradients of the inputs given the output's gradient (None: no gradient)."""
        from symgraph.errors import GradientError

        raise GradientError(f"{self.name} has no gradient rule")

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        params = self.params()
        if not params:
            return self.name
        inner = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"{self.name}{{{inner}}}"


@lru_cache(maxsize=None)
def ufunc_dtype(ufunc: np.ufunc, dtypes: tuple[str, ...]) -> str:
    """The dtype NumPy's `ufunc` gives for these input dtypes (float16 becomes float32)."""
    with np.errstate(all="ignore"):
        return as_dtype(ufunc(*(np.ones((), d) for d in dtypes)).dtype)


@dataclass(frozen=True)
class Elemwise(Op):
    """An elementwise op over broadcast inputs, described by a NumPy ufunc.

    `scalar` is the Python expression of one element (`"math.exp({0})"`), compiled by the
    backends; `{out}` in it stands for the output dtype's name (for typed constants).
    """

    kind: ClassVar[str] = "elemwise"
    ufunc: ClassVar[np.ufunc]
    scalar: ClassVar[str]

    def infer(self, *types: TensorType) -> TensorType:
        self.check_dtypes(*(t.dtype for t in types))
        shape = broadcast_shapes(*(t.shape for t in types), op=self.name)
        return TensorType(self.out_dtype(*(t.dtype for t in types)), shape)

    def check_dtypes(self, *dtypes: str) -> None:
        """Refuse dtypes the ufunc has no loop for, with a DTypeError naming the op."""
        from symgraph.errors import DTypeError

        try:
            ufunc_dtype(self.ufunc, dtypes)
        except TypeError as exc:
            raise DTypeError(
                f"{self.name}: not defined for {', '.join(dtypes)} inputs; "
                "cast with .astype to a supported dtype"
            ) from exc

    def out_dtype(self, *dtypes: str) -> str:
        return ufunc_dtype(self.ufunc, dtypes)

    def reference(self, *values: np.ndarray) -> np.ndarray:
        out_dtype = self.out_dtype(*(name_of(v.dtype) for v in values))
        with np.errstate(all="ignore"):
            out = np.asarray(self.ufunc(*values))
            if name_of(out.dtype) != out_dtype:  # NumPy went to float16: compute in float32
                out = np.asarray(self.ufunc(*(v.astype(out_dtype) for v in values)))
        return out.astype(out_dtype, copy=False)


@dataclass(frozen=True)
class TupleGet(Op):
    """Output `index` of a multi-output node."""

    index: int
    kind: ClassVar[str] = "tuple_get"

    def infer(self, tuple_type) -> TensorType:
        return tuple_type.types[self.index]

    def reference(self, values: tuple) -> np.ndarray:
        return values[self.index]

    def vjp(self, inputs, output, grad):
        # The multi-output op's own rule takes all its outputs' gradients (see grad.py).
        raise NotImplementedError("tuple_get gradients are collected by sg.grad")
