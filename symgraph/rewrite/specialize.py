"""specialize: general ops with special arguments become cheaper ops.

`x ** 2 -> x * x`, `x ** 3 -> x * x * x`, `x ** 4 -> (x * x) * (x * x)`, `x ** 1 -> x`,
`x ** 0 -> 1` (NumPy gives 1 even for NaN), `x ** -1 -> 1 / x`, `x ** 0.5 -> sqrt(x)`.
Multiplications round differently from `pow` in the last bit at most; `sqrt` differs from
`pow(x, 0.5)` only at -0.0 (sqrt keeps the sign) and -inf (sqrt gives NaN, pow +inf).
"""

from __future__ import annotations

from symgraph.dtypes import is_float
from symgraph.graph import Node
from symgraph.ops import binary, logic, unary
from symgraph.rewrite.engine import RuleSet
from symgraph.rewrite.facts import constant_scalar, keeps_shape
from symgraph.rewrite.nodes import constant_like, make
from symgraph.rewrite.stabilize import rules as stabilize_rules

rules = RuleSet("specialize", stabilize_rules)
rule = rules.rule


def _square(x):
    return make(binary.Multiply(), x, x)


POWERS = {
    1: lambda x: x,
    2: _square,
    3: lambda x: make(binary.Multiply(), _square(x), x),
    4: lambda x: _square(_square(x)),
}
FLOAT_POWERS = {
    -1: lambda x: make(binary.TrueDivide(), constant_like(1, x), x),
    0.5: lambda x: make(unary.Sqrt(), x),
}


@rule(binary.Power)
def small_power(node: Node) -> Node | None:  # x ** 2 -> x * x, x ** 0.5 -> sqrt(x), ...
    x, exponent = node.inputs
    k = constant_scalar(exponent)
    if k is None or isinstance(k, bool) or not keeps_shape(node, x):
        return None
    if k == 0:
        return make(logic.FullLike(1, node.dtype), x)
    build = POWERS.get(k) or (FLOAT_POWERS.get(k) if is_float(x.dtype) else None)
    return None if build is None else build(x)


specialize = rules.as_pass("specialize", "x**2 -> x*x, x**0.5 -> sqrt(x), small integer powers.")
