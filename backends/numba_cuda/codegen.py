"""Kernel source generation for each kernel kind, and the compile cache.

Each generator returns `(source, signature)`: the Python source of one `cuda.jit` kernel
named `kernel`, and its argument types as `("array", dtype)` (a flat C-contiguous device
buffer) or `("scalar", dtype)`, so the same kernel can be compiled to PTX without a GPU
(`tests/test_cuda_ptx.py`). Every kernel uses grid-stride loops, so a launch of a few
blocks covers any size (the simulator runs one Python thread per CUDA thread).

Strided operands are passed as (buffer, offset, stride per axis); an operand whose layout
is the loop's own (contiguous, same shape) is read at the flat index, and one of a single
element at its offset, which saves the index arithmetic on the common paths.

Shared memory is always the dynamic kind (`cuda.shared.array(0, dtype)`, its size in bytes
given at launch), one array per kernel. The simulator allocates a static shared array the
first time a thread reaches its line, with an unlocked check-then-store: two simulated
threads can each get a private array, and results go wrong now and then (issue #6's RNN
gradient and matmul flakes). Its dynamic shared memory exists before any thread starts.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Sequence

import numpy as np

from backends.numba_cuda import scalars
from backends.numba_cuda.device import SIMULATOR
from backends.scalar_code import literal, render

Signature = list[tuple[str, str]]
FLAT, SCALAR, STRIDED = "flat", "scalar", "strided"


def _unravel(index: str, dims: Sequence[str], names: Sequence[str], pad: str) -> list[str]:
    """Lines splitting the flat `index` into per-axis indices `names` over `dims`."""
    if not dims:
        return []
    lines = [f"{pad}r_ = {index}"]
    for k in range(len(dims) - 1, 0, -1):
        lines.append(f"{pad}{names[k]} = r_ % {dims[k]}")
        lines.append(f"{pad}r_ = r_ // {dims[k]}")
    lines.append(f"{pad}{names[0]} = r_")
    return lines


def _address(base: str, index: Sequence[str], strides: Sequence[str]) -> str:
    return " + ".join([base] + [f"{i} * {s}" for i, s in zip(index, strides)])


def _operand_args(k: int, dtype: str, mode: str, ndim: int) -> tuple[list[str], Signature]:
    names = [f"a{k}", f"a{k}_o"] + ([f"a{k}_s{d}" for d in range(ndim)] if mode == STRIDED
                                    else [])
    sig = [("array", dtype)] + [("scalar", "int64")] * (len(names) - 1)
    return names, sig


def _read(k: int, mode: str, flat: str, index: Sequence[str]) -> str:
    if mode == FLAT:
        return f"a{k}[a{k}_o + {flat}]"
    if mode == SCALAR:
        return f"a{k}[a{k}_o]"
    return f"a{k}[{_address(f'a{k}_o', index, [f'a{k}_s{d}' for d in range(len(index))])}]"


def elemwise(program: tuple, outputs: tuple, in_dtypes: tuple, modes: tuple,
             ndim: int) -> tuple[str, Signature]:
    """A fused elementwise program over `ndim`-d broadcast operands; contiguous outputs."""
    lines_, exprs, out_dtypes = render(program, outputs, [f"x{k}" for k in range(len(modes))],
                                       in_dtypes, "t", scalars.resolve)
    dims = [f"d{d}" for d in range(ndim)]
    index = [f"j{d}" for d in range(ndim)]
    args = ["n"] + dims + [f"o{k}" for k in range(len(outputs))]
    sig: Signature = [("scalar", "int64")] * (1 + ndim) + [("array", d) for d in out_dtypes]
    for k, (dtype, mode) in enumerate(zip(in_dtypes, modes)):
        names, more = _operand_args(k, dtype, mode, ndim)
        args += names
        sig += more
    pad = " " * 8
    body = [f"def kernel({', '.join(args)}):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):"]
    if STRIDED in modes:
        body += _unravel("i", dims, index, pad)
    body += [f"{pad}x{k} = {_read(k, m, 'i', index)}" for k, m in enumerate(modes)]
    body += [pad + line for line in lines_]
    body += [f"{pad}o{k}[i] = {e}" for k, e in enumerate(exprs)]
    return "\n".join(body) + "\n", sig


# -- reductions --------------------------------------------------------------------------

REDUCERS = {  # reduce op class name -> combine expression of a_ and b_
    "Sum": "a_ + b_",
    "Prod": "a_ * b_",
    "Max": "maximum(a_, b_)",
    "Min": "minimum(a_, b_)",
    "All": "a_ and b_",
    "Any": "a_ or b_",
}
_WARP_DTYPES = ("float32", "float64", "int32", "int64", "uint32", "uint64")


def _identity(reducer: str, dtype: str) -> str:
    """The fold's start value (max/min of an empty axis is refused before launching)."""
    if reducer in ("Max", "Min"):
        high = reducer == "Min"
        if dtype == "bool":
            return repr(high)
        if dtype[0] in "iu":
            info = np.iinfo(dtype)
            return literal(info.max if high else info.min, dtype)
        return f"np.{dtype}({'' if high else '-'}np.inf)"
    return literal({"Sum": 0, "Prod": 1, "All": True, "Any": False}[reducer], dtype)


def reduce(program: tuple, outputs: tuple, in_dtypes: tuple, n_kept: int, n_red: int,
           reducer: str, acc: str, block: int, warp: bool) -> tuple[str, Signature]:
    """Reduce a fused program's single output over `n_red` axes, keeping `n_kept` axes.

    One block per output element (grid-stride over outputs); its threads stride over the
    reduced elements, then fold their partial results through shared memory, and with
    `warp` the last 32 through warp shuffles (real hardware only: the simulator has none).
    """
    n_in = len(in_dtypes)
    lines_, exprs, _ = render(program, outputs, [f"x{k}" for k in range(n_in)], in_dtypes,
                              "t", scalars.resolve)
    kept = [f"k{d}" for d in range(n_kept)]
    red = [f"r{d}" for d in range(n_red)]
    args = ["n_out", "n_red"] + kept + red + ["out"]
    sig: Signature = [("scalar", "int64")] * (2 + n_kept + n_red) + [("array", acc)]
    for k, dtype in enumerate(in_dtypes):
        names = [f"a{k}", f"a{k}_o"] + [f"a{k}_k{d}" for d in range(n_kept)] + [
            f"a{k}_r{d}" for d in range(n_red)]
        args += names
        sig += [("array", dtype)] + [("scalar", "int64")] * (len(names) - 1)
    combine = REDUCERS[reducer]
    ident = _identity(reducer, acc)
    value = exprs[0] if acc == "bool" else f"np.{acc}({exprs[0]})"
    if acc == "bool":
        value = f"({exprs[0]} != 0)"
    warp = warp and acc in _WARP_DTYPES and block >= 64
    shared_dtype = _element_type(acc)
    p2, p3 = " " * 8, " " * 12
    body = [f"def kernel({', '.join(args)}):",
            f"    part = cuda.shared.array(0, {shared_dtype})  # {block} elements, sized at launch",
            "    tid = cuda.threadIdx.x",
            "    for o in range(cuda.blockIdx.x, n_out, cuda.gridDim.x):"]
    body += _unravel("o", kept, [f"jk{d}" for d in range(n_kept)], p2)
    for k in range(n_in):
        body.append(f"{p2}b{k} = " + _address(f"a{k}_o", [f"jk{d}" for d in range(n_kept)],
                                              [f"a{k}_k{d}" for d in range(n_kept)]))
    body += [f"{p2}acc = {ident}", f"{p2}for e in range(tid, n_red, cuda.blockDim.x):"]
    body += _unravel("e", red, [f"jr{d}" for d in range(n_red)], p3)
    for k in range(n_in):
        address = _address(f"b{k}", [f"jr{d}" for d in range(n_red)],
                           [f"a{k}_r{d}" for d in range(n_red)])
        body.append(f"{p3}x{k} = a{k}[{address}]")
    body += [p3 + line for line in lines_]
    body += [f"{p3}a_ = acc", f"{p3}b_ = {value}", f"{p3}acc = {combine}",
             f"{p2}part[tid] = acc", f"{p2}cuda.syncthreads()"]
    stop = 32 if warp else 0
    body += [f"{p2}width = {block // 2}", f"{p2}while width > {stop}:",
             f"{p3}if tid < width:", f"{p3}    a_ = part[tid]", f"{p3}    b_ = part[tid + width]",
             f"{p3}    part[tid] = {combine}", f"{p3}cuda.syncthreads()", f"{p3}width //= 2"]
    if warp:
        body += [f"{p2}if tid < 32:", f"{p3}a_ = part[tid]", f"{p3}b_ = part[tid + 32]",
                 f"{p3}a_ = {combine}", f"{p3}width = 16",
                 f"{p3}while width > 0:",
                 f"{p3}    b_ = cuda.shfl_down_sync(0xffffffff, a_, width)",
                 f"{p3}    a_ = {combine}", f"{p3}    width //= 2",
                 f"{p3}if tid == 0:", f"{p3}    out[o] = a_"]
    else:
        body += [f"{p2}if tid == 0:", f"{p3}out[o] = part[0]"]
    body += [f"{p2}cuda.syncthreads()"]
    return "\n".join(body) + "\n", sig


# -- gather and scatter ------------------------------------------------------------------

def index(ndim: int, mode: str, dtype: str) -> tuple[str, Signature]:
    """Move elements between a strided tensor and positions given by a table.

    The loop runs over the indexed shape (`ndim` axes); position j of it is element
    `base + sum(j_d * s_d) + table[sum(j_d * t_d)]` of the indexed buffer `x`, where the
    table holds the offsets advanced indices select (a single 0 for basic indexing).
    mode "gather": out[i] = x[position]; "set" / "add" / "atomic": x[position] = / += v,
    with v a strided operand (broadcast by zero strides); "atomic" uses atomic adds, so
    duplicate advanced indices accumulate.
    """
    dims = [f"d{d}" for d in range(ndim)]
    jj = [f"j{d}" for d in range(ndim)]
    args = ["n"] + dims + ["x", "base"] + [f"s{d}" for d in range(ndim)] + ["table"] + [
        f"t{d}" for d in range(ndim)]
    sig: Signature = [("scalar", "int64")] * (1 + ndim) + [("array", dtype)] + [
        ("scalar", "int64")] * (1 + ndim) + [("array", "int64")] + [("scalar", "int64")] * ndim
    if mode == "gather":
        args.append("out")
        sig.append(("array", dtype))
    else:
        names, more = _operand_args(0, dtype, STRIDED, ndim)
        args += names
        sig += more
    pad = " " * 8
    body = [f"def kernel({', '.join(args)}):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):"]
    body += _unravel("i", dims, jj, pad)
    position = _address("base", jj, [f"s{d}" for d in range(ndim)])
    row = _address("0", jj, [f"t{d}" for d in range(ndim)])
    body.append(f"{pad}p = {position} + table[{row}]")
    if mode == "gather":
        body.append(f"{pad}out[i] = x[p]")
    else:
        body.append(f"{pad}v = {_read(0, STRIDED, 'i', jj)}")
        body.append({"set": f"{pad}x[p] = v", "add": f"{pad}x[p] += v",
                     "atomic": f"{pad}cuda.atomic.add(x, p, v)"}[mode])
    return "\n".join(body) + "\n", sig


def offsets(n_arrays: int, ndim: int, index_dtypes: tuple) -> tuple[str, Signature]:
    """The table of an advanced index: sum over arrays of wrap(array) * stride, the arrays
    broadcast over `ndim` axes; an index outside its axis sets flag[0] = 1."""
    dims = [f"d{d}" for d in range(ndim)]
    jj = [f"j{d}" for d in range(ndim)]
    args = ["n"] + dims + ["out", "flag"]
    sig: Signature = [("scalar", "int64")] * (1 + ndim) + [("array", "int64"),
                                                            ("array", "int32")]
    for k, dtype in enumerate(index_dtypes):
        names, more = _operand_args(k, dtype, STRIDED, ndim)
        args += names + [f"size{k}", f"step{k}"]
        sig += more + [("scalar", "int64")] * 2
    pad = " " * 8
    body = [f"def kernel({', '.join(args)}):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):"]
    body += _unravel("i", dims, jj, pad)
    body.append(f"{pad}total = 0")
    for k in range(n_arrays):
        body += [f"{pad}q = np.int64({_read(k, STRIDED, 'i', jj)})",
                 f"{pad}if q < 0:", f"{pad}    q += size{k}",
                 f"{pad}if q < 0 or q >= size{k}:", f"{pad}    flag[0] = 1",
                 f"{pad}    q = 0", f"{pad}total += q * step{k}"]
    body.append(f"{pad}out[i] = total")
    return "\n".join(body) + "\n", sig


# -- creation ----------------------------------------------------------------------------

def fill(dtype: str, value: Any) -> tuple[str, Signature]:
    """out[:] = value (typed)."""
    body = ["def kernel(n, out):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):",
            f"        out[i] = {literal(value, dtype)}"]
    return "\n".join(body) + "\n", [("scalar", "int64"), ("array", dtype)]


def arange(dtype: str, compute: str) -> tuple[str, Signature]:
    """out[i] = start + i * step, computed in `compute` then cast."""
    body = ["def kernel(n, out, start, step):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):",
            f"        out[i] = np.{dtype}(start + np.{compute}(i) * step)"]
    return "\n".join(body) + "\n", [("scalar", "int64"), ("array", dtype),
                                    ("scalar", compute), ("scalar", compute)]


def eye(dtype: str) -> tuple[str, Signature]:
    """out[r, c] = 1 where c - r == k, else 0 (out is rows x cols, flat)."""
    body = ["def kernel(n, cols, k, out):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):",
            f"        out[i] = {literal(1, dtype)} if i % cols - i // cols == k else "
            f"{literal(0, dtype)}"]
    return "\n".join(body) + "\n", [("scalar", "int64")] * 3 + [("array", dtype)]


# -- matmul ------------------------------------------------------------------------------

def matmul(a_dtype: str, b_dtype: str, out: str, tile: int) -> tuple[str, Signature]:
    """Batched C = A @ B with `tile` x `tile` shared-memory tiles, one output tile per block
    (grid-stride over batch x tiles). A and B are strided: (offset, batch, row, col)."""
    args = ["n_batch", "n", "m", "kk", "tiles_n", "tiles_m", "c",
            "a", "a_o", "a_b", "a_r", "a_c", "b", "b_o", "b_b", "b_r", "b_c"]
    sig: Signature = [("scalar", "int64")] * 6 + [("array", out), ("array", a_dtype)] + [
        ("scalar", "int64")] * 4 + [("array", b_dtype)] + [("scalar", "int64")] * 4
    zero = literal(0, out)
    body = f"""def kernel({', '.join(args)}):
    tiles = cuda.shared.array(0, {_element_type(out)})  # A then B: 2 x {tile}**2
    ty = cuda.threadIdx.y
    tx = cuda.threadIdx.x
    mine = ty * {tile} + tx
    theirs = {tile * tile} + mine
    for blk in range(cuda.blockIdx.x, n_batch * tiles_n * tiles_m, cuda.gridDim.x):
        bi = blk // (tiles_n * tiles_m)
        row = (blk // tiles_m) % tiles_n * {tile} + ty
        col = blk % tiles_m * {tile} + tx
        acc = {zero}
        for k0 in range(0, kk, {tile}):
            if row < n and k0 + tx < kk:
                tiles[mine] = np.{out}(a[a_o + bi * a_b + row * a_r + (k0 + tx) * a_c])
            else:
                tiles[mine] = {zero}
            if col < m and k0 + ty < kk:
                tiles[theirs] = np.{out}(b[b_o + bi * b_b + (k0 + ty) * b_r + col * b_c])
            else:
                tiles[theirs] = {zero}
            cuda.syncthreads()
            for q in range({tile}):
                acc += tiles[ty * {tile} + q] * tiles[{tile * tile} + q * {tile} + tx]
            cuda.syncthreads()
        if row < n and col < m:
            c[(bi * n + row) * m + col] = acc
"""
    return body, sig


# -- compile cache -----------------------------------------------------------------------

GENERATORS = {f.__name__: f for f in (elemwise, reduce, index, offsets, fill, arange, eye,
                                      matmul)}
_COMPILED: dict[tuple, Any] = {}


def _record(key: tuple) -> None:
    """Append a generated kernel's parameters to $SYMGRAPH_CUDA_RECORD (for PTX tests)."""
    path = os.environ.get("SYMGRAPH_CUDA_RECORD")
    if path:
        with open(path, "ab") as f:
            pickle.dump(key, f)


def source(name: str, **params: Any) -> tuple[str, Signature]:
    return GENERATORS[name](**params)


def kernel(name: str, **params: Any) -> Any:
    """The compiled kernel `name` for these parameters (generated and jitted once)."""
    key = (name, tuple(sorted(params.items())))
    found = _COMPILED.get(key)
    if found is None:
        text, _ = source(name, **params)
        space = namespace()
        exec(compile(text, f"<symgraph-cuda {name}>", "exec"), space)
        from numba import cuda

        found = cuda.jit(space["kernel"])
        _COMPILED[key] = found
        _record(key)
    return found


def _element_type(dtype: str) -> str:
    """A shared array's element type as a numba type: the simulator sizes dynamic shared
    arrays by `dtype.itemsize`, which NumPy's scalar classes lack."""
    return "types.bool_" if dtype == "bool" else f"types.{dtype}"


def namespace() -> dict:
    """The globals generated kernels run with: the scalar functions, and numba's types."""
    from numba import types

    return dict(scalars.namespace(), types=types)


def default_warp() -> bool:
    return not SIMULATOR


def cumulative(ndim: int, in_dtype: str, acc: str, reverse: bool) -> tuple[str, Signature]:
    """Running sums along one axis: one thread per line (the other `ndim` axes)."""
    dims = [f"d{d}" for d in range(ndim)]
    jj = [f"j{d}" for d in range(ndim)]
    args = ["n", "length"] + dims + ["x", "x_o"] + [f"x_s{d}" for d in range(ndim)] + [
        "x_a", "out"] + [f"o_s{d}" for d in range(ndim)] + ["o_a"]
    sig: Signature = [("scalar", "int64")] * (2 + ndim) + [("array", in_dtype)] + [
        ("scalar", "int64")] * (2 + ndim) + [("array", acc)] + [("scalar", "int64")] * (
        1 + ndim)
    pad = " " * 8
    body = [f"def kernel({', '.join(args)}):",
            "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):"]
    body += _unravel("i", dims, jj, pad)
    body += [f"{pad}p = {_address('x_o', jj, [f'x_s{d}' for d in range(ndim)])}",
             f"{pad}q = {_address('0', jj, [f'o_s{d}' for d in range(ndim)])}",
             f"{pad}total = {literal(0, acc)}",
             f"{pad}for k in range(length):",
             f"{pad}    kk = length - 1 - k" if reverse else f"{pad}    kk = k",
             f"{pad}    total += np.{acc}(x[p + kk * x_a])",
             f"{pad}    out[q + kk * o_a] = total"]
    return "\n".join(body) + "\n", sig


GENERATORS["cumulative"] = cumulative
