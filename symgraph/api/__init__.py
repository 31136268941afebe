"""The user functions, grouped by family; `symgraph/__init__.py` re-exports them."""

from symgraph.api.base import (as_variable, constant, matrix, operands, scalar, shared,
                               tensor, vector)
from symgraph.api.creation import broadcast_like, full_like, ones_like, zeros_like
from symgraph.api.math import *  # noqa: F401,F403 (the elementwise functions)
from symgraph.api.math import abs, round  # noqa: F401 (shadowing builtins on purpose)
from symgraph.api.reduce import sum  # noqa: F401
from symgraph.api.reduce import (all, any, argmax, argmin, cumsum, logsumexp,  # noqa: F401
                                 max, mean, min, prod, std, var)
from symgraph.api.linalg import dot, einsum, matmul, outer, tensordot
from symgraph.api.shape import expand_dims, shape, squeeze
from symgraph.api.shape import (broadcast_to, concatenate, flatten, reshape, stack,  # noqa: F401
                                transpose)
from symgraph.api.creation import arange, eye, full, ones, zeros  # noqa: F401
from symgraph.api.index import getitem, inc_subtensor, set_subtensor  # noqa: F401
