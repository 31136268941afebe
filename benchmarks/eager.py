"""E1: eager (define-by-run) per-op overhead: a 100-op elementwise chain and its backward.

The NumPy row is the minimal tape below: the floor for "Python object per op + NumPy call".
"""

import numpy as np

from benchmarks import peers
from benchmarks.common import CHAIN_LENGTH, chain_expr, chain_inputs, chain_reference
from benchmarks.harness import Case


class Var:
    """A value on the tape: `parents` pairs each input Var with its vector-Jacobian product."""

    def __init__(self, value, parents=()):
        self.value = value
        self.parents = parents
        self.grad = None

    def __add__(self, other):
        if isinstance(other, Var):
            return Var(self.value + other.value, ((self, _identity), (other, _identity)))
        return Var(self.value + other, ((self, _identity),))

    def __mul__(self, other):
        if isinstance(other, Var):
            return Var(self.value * other.value,
                       ((self, lambda g: g * other.value), (other, lambda g: g * self.value)))
        return Var(self.value * other, ((self, lambda g: g * other),))

    __radd__ = __add__
    __rmul__ = __mul__

    def backward(self):
        order = []
        seen = set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for p, _ in v.parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = np.ones_like(self.value)
        for v in reversed(order):
            for p, vjp in v.parents:
                g = vjp(v.grad)
                p.grad = g if p.grad is None else p.grad + g


def _identity(g):
    return g


class tape:
    """The namespace that chain_expr calls: sin, tanh, sum on Vars."""

    @staticmethod
    def sin(x):
        return Var(np.sin(x.value), ((x, lambda g: g * np.cos(x.value)),))

    @staticmethod
    def tanh(x):
        out = np.tanh(x.value)
        return Var(out, ((x, lambda g: g * (1 - out * out)),))

    @staticmethod
    def sum(x):
        return Var(x.value.sum(), ((x, lambda g: np.full_like(x.value, g)),))


def numpy_tape(x, y):
    def call():
        xv = Var(x)
        yv = Var(y)
        loss = tape.sum(chain_expr(tape, xv, yv))
        loss.backward()
        return [loss.value, xv.grad, yv.grad]

    return call


def torch_(x, y):
    torch = peers.torch_module()
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.from_numpy(y).requires_grad_()

    def call():
        xt.grad = None
        yt.grad = None
        loss = torch.sum(chain_expr(torch, xt, yt))
        loss.backward()
        return [loss, xt.grad, yt.grad]

    return call


def symgraph_(x, y):
    sg = peers.symgraph()

    def call():
        xt = sg.eager.tensor(x, requires_grad=True)
        yt = sg.eager.tensor(y, requires_grad=True)
        loss = sg.sum(chain_expr(sg, xt, yt))
        loss.backward()
        return [loss.numpy(), xt.grad.numpy(), yt.grad.numpy()]

    return call


IMPLS = {"numpy": numpy_tape, "torch": torch_, "symgraph": symgraph_}


def cases(size):
    n = size["e1_n"]
    return [Case(name="E1 eager chain+bwd", dtype="float64",
                 inputs=lambda: chain_inputs(n, "float64"), reference=chain_reference,
                 impls=IMPLS, ops_per_call=CHAIN_LENGTH,
                 labels={"numpy": "numpy tape", "torch": "torch eager",
                         "symgraph": "symgraph eager"})]
