"""Linear algebra with NumPy names: `matmul` is the one op; `dot`, `outer`, `tensordot`
and `einsum` are compositions of it with transposes, reshapes, products and sums.

Transposes and reshapes are only emitted when they change something, so the common
cases (`ij,jk->ik`, batched `bij,bjk->bik`, 2-d `tensordot`) are a single matmul.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from symgraph.api.base import operands
from symgraph.api.math import cast, multiply
from symgraph.api.reduce import count, static_shape, sum
from symgraph.api.shape import broadcast_to, expand_dims, squeeze
from symgraph.apply import apply
from symgraph.errors import ShapeError
from symgraph.ops.linalg import MatMul
from symgraph.types import normalize_axis


def _api() -> Any:
    # reshape/transpose live in api/shape.py (another family); looked up when called.
    from symgraph import api

    return api


def matmul(a: Any, b: Any) -> Any:
    """`a @ b`: matrix product with NumPy's rules (batch dimensions broadcast; a 1-d
    operand is promoted to a row / column and that axis dropped; 0-d refused)."""
    a, b = operands(a, b)
    return apply(MatMul(), a, b)


def dot(a: Any, b: Any) -> Any:
    """NumPy's `dot`: a product for 0-d operands, the inner product of vectors, the matrix
    product for 2-d. For N-d operands it is NumPy's too — a sum over the last axis of a
    and the second-to-last of b: `matmul` when b is at most 2-d, else
    `tensordot(a, b, ([-1], [-2]))`, whose free axes are a's then b's."""
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([-1], [-2]))


def _flatten(x: Any) -> Any:
    if x.ndim == 0:
        return expand_dims(x, 0)
    return x if x.ndim == 1 else _api().reshape(x, (-1,))


def outer(a: Any, b: Any) -> Any:
    """The outer product of a and b, both flattened: result[i, j] = a[i] * b[j]."""
    a, b = operands(a, b)
    return multiply(expand_dims(_flatten(a), 1), expand_dims(_flatten(b), 0))


def _transpose(x: Any, perm: Sequence[int]) -> Any:
    perm = tuple(perm)
    return x if perm == tuple(range(x.ndim)) else _api().transpose(x, perm)


def _size(x: Any, axes: Sequence[int]) -> Any:
    """The number of elements over `axes` (an int, or an int64 node when unknown)."""
    return count(x, tuple(axes)) if axes else 1


def _reshape(x: Any, dims: list) -> Any:
    """x reshaped to `dims` (ints or int64 scalar nodes)."""
    unknown = [i for i, d in enumerate(dims) if not isinstance(d, int)]
    if len(unknown) == 1:  # one unknown size is better left to reshape's -1
        dims = list(dims)
        dims[unknown[0]] = -1
    return _api().reshape(x, tuple(dims))


def _tensordot_axes(a: Any, b: Any, axes: Any) -> tuple[list[int], list[int]]:
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: axes={n} is out of range for {a.ndim}-d and "
                             f"{b.ndim}-d operands")
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        axes_a, axes_b = axes
    except (TypeError, ValueError):
        raise ShapeError(f"tensordot: axes must be an int or a pair of axis lists, "
                         f"got {axes!r}") from None
    axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
    axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    if len(axes_a) != len(axes_b):
        raise ShapeError(f"tensordot: {len(axes_a)} axes of a against {len(axes_b)} of b; "
                         "give as many axes for each")
    axes_a = [normalize_axis(int(i), a.ndim, "tensordot") for i in axes_a]
    axes_b = [normalize_axis(int(i), b.ndim, "tensordot") for i in axes_b]
    return axes_a, axes_b


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum of products over `axes`: an int n pairs a's last n axes with b's first n; a
    pair `(axes_a, axes_b)` names them. The result has a's free axes, then b's. Built as
    transpose + reshape + matmul (a single matmul when nothing needs moving)."""
    a, b = operands(a, b)
    axes_a, axes_b = _tensordot_axes(a, b, axes)
    shape_a, shape_b = static_shape(a), static_shape(b)
    for i, j in zip(axes_a, axes_b):
        if shape_a[i] is not None and shape_b[j] is not None and shape_a[i] != shape_b[j]:
            raise ShapeError(f"tensordot: axis {i} of a ({shape_a[i]}) and axis {j} of b "
                             f"({shape_b[j]}) are summed together but differ in length; "
                             f"shapes {shape_a} and {shape_b}")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    if not axes_a:  # no summed axis: the outer product of the two
        return multiply(expand_dims(a, tuple(range(a.ndim, a.ndim + b.ndim))), b)
    a_t = _transpose(a, free_a + axes_a)
    b_t = _transpose(b, axes_b + free_b)
    if len(axes_a) > 1 and any(shape_a[i] is None or shape_b[j] is None
                               for i, j in zip(axes_a, axes_b)):
        # The reshapes and the product below check only that the summed lengths have the
        # same product; b's summed axes broadcast to a's (a view where they agree, else
        # an error at run time) so that (3, 4) against (4, 3) is not summed as 12 pairs.
        b_t = broadcast_to(b_t, [_size(a, [i]) for i in axes_a]
                           + [_size(b, [j]) for j in free_b])
    k = _size(a, axes_a)
    if len(axes_a) > 1 or len(free_a) > 1:
        a_t = _reshape(a_t, ([_size(a, free_a)] if free_a else []) + [k])
    if len(axes_b) > 1 or len(free_b) > 1:
        b_t = _reshape(b_t, [k] + ([_size(b, free_b)] if free_b else []))
    out = matmul(a_t, b_t)
    if len(free_a) > 1 or len(free_b) > 1:
        out = _reshape(out, [_size(a, [i]) for i in free_a] + [_size(b, [j]) for j in free_b])
    return out


def _parse(subscripts: str, n: int) -> tuple[list[str], str]:
    text = subscripts.replace(" ", "")
    if "." in text:
        raise ShapeError(f"einsum: ellipses ('...') are not supported in {subscripts!r}; "
                         "write every index out")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != n:
        raise ShapeError(f"einsum: {subscripts!r} names {len(terms)} operand(s), "
                         f"{n} given")
    letters = "".join(terms)
    if not arrow:  # implicit output: the indices seen exactly once, sorted
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for term in terms + [output]:
        if not all(c.isalpha() for c in term):
            raise ShapeError(f"einsum: bad subscripts {subscripts!r}; use letters only")
        if len(set(term)) != len(term):
            raise ShapeError(f"einsum: repeated index in {term!r} of {subscripts!r}; "
                             "diagonals and traces are not supported")
    missing = set(output) - set(letters)
    if missing:
        raise ShapeError(f"einsum: output index {''.join(sorted(missing))} of "
                         f"{subscripts!r} appears in no operand")
    return terms, output


def _sum_out(x: Any, term: str, keep: set[str]) -> tuple[Any, str]:
    """x with the indices not in `keep` summed away."""
    drop = tuple(i for i, c in enumerate(term) if c not in keep)
    if not drop:
        return x, term
    return _sum_keeping_dtype(x, drop), "".join(c for c in term if c in keep)


def _sum_keeping_dtype(x: Any, axes: tuple[int, ...]) -> Any:
    """sum over `axes` in x's own dtype, as `np.einsum` does (no widening of small ints)."""
    return cast(sum(x, axes), x.dtype)


def _arrange(x: Any, term: str, order: str) -> Any:
    """x transposed to `order`'s indices (those it has), with length-1 axes for the rest."""
    present = [c for c in order if c in term]
    x = _transpose(x, [term.index(c) for c in present])
    new = tuple(i for i, c in enumerate(order) if c not in term)
    return expand_dims(x, new) if new else x


def _contract(x: Any, xs: str, y: Any, ys: str, keep: set[str],
              output: str) -> tuple[Any, str]:
    """The einsum of two operands, keeping the indices in `keep`."""
    x, xs = _sum_out(x, xs, keep | set(ys))
    y, ys = _sum_out(y, ys, keep | set(xs))
    batch = "".join(c for c in xs if c in ys and c in keep)
    summed = "".join(c for c in xs if c in ys and c not in keep)
    free_x = "".join(c for c in xs if c not in ys)
    free_y = "".join(c for c in ys if c not in xs)
    if len(summed) == 1 and len(free_x) <= 1 and len(free_y) <= 1:
        # a batched matmul: x as (batch, free_x, summed), y as (batch, summed, free_y)
        x = _arrange(x, xs, batch + (free_x or "#") + summed)
        y = _arrange(y, ys, batch + summed + (free_y or "$"))
        out = matmul(x, y)
        if not free_y:
            out = squeeze(out, -1)
        if not free_x:
            out = squeeze(out, -1 if not free_y else -2)
        return out, batch + free_x + free_y
    # a broadcast product, its axes in the output's order where possible (fewer transposes)
    kept = [c for c in dict.fromkeys(xs + ys) if c not in summed]
    kept.sort(key=lambda c: output.index(c) if c in output else len(output))
    order = "".join(kept) + summed
    product = multiply(_arrange(x, xs, order), _arrange(y, ys, order))
    if summed:
        product = _sum_keeping_dtype(product, tuple(range(len(kept), len(order))))
    return product, "".join(kept)


def einsum(subscripts: str, *operands_: Any) -> Any:
    """Einstein summation over one or more operands (`"ij,jk->ik"`, `"bij,bjk->bik"`,
    `"i,i->"`, `"ij->ji"`; without `->` the output is the indices seen once, sorted).

    Operands are contracted left to right; a pair becomes a batched matmul when each side
    has at most one free and exactly one summed index, else a broadcast product and a sum
    (correct, but it holds the whole product in memory). Ellipses and an index repeated
    within one operand (diagonals, traces) are refused with a ShapeError.
    """
    values = operands(*operands_)
    terms, output = _parse(subscripts, len(values))
    for x, term in zip(values, terms):
        if x.ndim != len(term):
            raise ShapeError(f"einsum: operand {term!r} of {subscripts!r} has "
                             f"{len(term)} indices but the value is {x.ndim}-d")
    sizes: dict[str, int] = {}
    for x, term in zip(values, terms):
        for c, d in zip(term, static_shape(x)):
            if d is not None and d != 1 and sizes.setdefault(c, d) != d:
                raise ShapeError(f"einsum: index {c!r} of {subscripts!r} has lengths "
                                 f"{sizes[c]} and {d}")
    x, xs = values[0], terms[0]
    for k in range(1, len(values)):
        keep = set(output).union(*terms[k + 1:])
        x, xs = _contract(x, xs, values[k], terms[k], keep, output)
    x, xs = _sum_out(x, xs, set(output))
    return _transpose(x, [xs.index(c) for c in output])
