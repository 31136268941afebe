"""symgraph: a symbolic graph compiler for Python (static graphs, compiled with numba),
with a define-by-run eager mode that runs the same functions immediately.

Everything public is re-exported here, explicitly; the modules behind it are private.
"""

from symgraph.config import config
from symgraph.errors import (DTypeError, GradientError, LoweringError, NonFiniteError, ShapeError,
                             SymgraphError)
from symgraph.graph import Constant, Graph, Input, Node, SharedVariable

# -- constructors ------------------------------------------------------------------------
from symgraph.api.base import constant, matrix, scalar, shared, tensor, vector

# -- elementwise math, comparisons, logic --------------------------------------------------
from symgraph.api.math import (
    abs, absolute, add, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh,
    bitwise_and, bitwise_or, bitwise_xor, cast, ceil, clip, cos, cosh, divide, eq, equal,
    erf, erfc, exp, expm1, floor, floor_divide, greater, greater_equal, invert, isfinite,
    isinf, isnan, less, less_equal, log, log1p, logical_and, logical_not, logical_or, maximum,
    minimum, mod, multiply, negative, neq, not_equal, pow, power, reciprocal, remainder, round,
    sigmoid, sign, sin, sinh, softplus, sqrt, square, subtract, tan, tanh, true_divide, trunc,
    where,
)

# -- creation --------------------------------------------------------------------------------
from symgraph.api.creation import full_like, ones_like, zeros_like
from symgraph.api.creation import arange, eye, full, ones, zeros

# -- reductions ------------------------------------------------------------------------------
from symgraph.api.reduce import sum
from symgraph.api.reduce import (all, any, argmax, argmin, cumsum, logsumexp, max, mean, min,
                                 prod, std, var)

# -- linear algebra --------------------------------------------------------------------------
from symgraph.api.linalg import dot, einsum, matmul, outer, tensordot

# -- namespaces: sg.nn, sg.random ------------------------------------------------------------
from symgraph import nn, random

# -- shape -----------------------------------------------------------------------------------
from symgraph.api.shape import expand_dims, shape, squeeze
from symgraph.api.shape import broadcast_to, concatenate, flatten, reshape, stack, transpose

# -- indexing and functional updates ------------------------------------------------------
from symgraph.api.index import getitem, inc_subtensor, set_subtensor
from symgraph.ops.index import IndexOutOfBoundsError

# -- control flow ------------------------------------------------------------------------------
from symgraph.api.control import foldl, ifelse, map, reduce, scan

# -- gradients ---------------------------------------------------------------------------------
from symgraph.grad import grad, hessian, jacobian, jvp, vjp
from symgraph import testing

# -- compilation and printing ------------------------------------------------------------------
from symgraph.compile import Function, function
from symgraph.printing import debugprint, pprint, to_dot, to_networkx

# -- eager mode and jit ------------------------------------------------------------------------
from symgraph import eager
from symgraph.jit import jit, value_and_grad

__version__ = "0.1.0"
