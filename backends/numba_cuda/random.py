"""Kind "random": NumPy's Philox stream, computed on the device, one element per thread.

The reference (symgraph/ops/random.py) draws from `np.random.Philox(key=(seed, index),
counter=(0, call, 0, 0))`. That generator is counter-based: its j-th 64-bit word is lane
j % 4 of Philox4x64-10 applied to the counter (j // 4 + 1, call, 0, 0) (NumPy increments
before it generates), and its 32-bit draws are the low then the high half of each word. So
every thread computes its own element's words, and:

- uniform (float64: word >> 11 times 2**-53; float32: 32-bit draw >> 8 times 2**-24) and
  therefore bernoulli are bit for bit NumPy's;
- integers use NumPy's Lemire method on the same draws (32-bit draws for ranges below
  2**32, 8/16-bit pieces of them for 8/16-bit dtypes, 64-bit words above), so they equal
  NumPy's until the first rejection (probability about range / 2**bits per draw): NumPy
  then shifts the rest of its stream by one draw, while here the rejected element redraws
  from an independent counter (third counter word = attempt) and the others keep theirs;
- normal uses Box-Muller on pairs of uniforms, not NumPy's ziggurat: the values differ
  from the python backend's but have the same distribution (same seed, same numbers).

Philox's round keys are computed on the host (no wrapping adds on the device), and 64 x 64
-> 128-bit products are built from 32-bit halves, so the simulator's NumPy scalars never
overflow.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from backends.numba_cuda import codegen, launch, scalars
from backends.numba_cuda.codegen import FLAT, SCALAR, Signature
from backends.numba_cuda.device import (POOL, Tensor, empty, ensure_device, hold, release,
                                        to_host, upload)
from symgraph.errors import ShapeError, SymgraphError
from symgraph.graph import Node

_M = (0xD2E7470EE14C6C93, 0xCA5A826395121157)  # Philox4x64 multipliers
_W = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)  # and key increments (Weyl)
_KEYS: dict[tuple[int, int], Any] = {}  # (seed, index) -> the 20 round keys on the device

_PHILOX = f"""
LOW = np.uint64(0xFFFFFFFF)
S32 = np.uint64(32)
ZERO = np.uint64(0)
ONE = np.uint64(1)
M0 = np.uint64({_M[0]:#x})
M1 = np.uint64({_M[1]:#x})


@cuda.jit(device=True, inline=True)
def mulhilo(a, b):
    a0 = a & LOW
    a1 = a >> S32
    b0 = b & LOW
    b1 = b >> S32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    mid = (p00 >> S32) + (p01 & LOW) + (p10 & LOW)
    high = a1 * b1 + (p01 >> S32) + (p10 >> S32) + (mid >> S32)
    return ((mid & LOW) << S32) | (p00 & LOW), high


@cuda.jit(device=True, inline=True)
def word(j, call, attempt, keys):
    c0 = np.uint64(j // 4 + 1)
    c1 = call
    c2 = attempt
    c3 = ZERO
    for r in range(10):
        lo0, hi0 = mulhilo(M0, c0)
        lo1, hi1 = mulhilo(M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ keys[2 * r], lo1, hi0 ^ c3 ^ keys[2 * r + 1], lo0
    lane = j % 4
    return c0 if lane == 0 else c1 if lane == 1 else c2 if lane == 2 else c3


@cuda.jit(device=True, inline=True)
def half(u, call, attempt, keys):
    w = word(u // 2, call, attempt, keys)
    return (w >> S32) if u % 2 == 1 else (w & LOW)

"""


def _float_body(dist: str, dtype: str) -> list[str]:
    ftype = f"np.{dtype}"
    log, sqrt, cos, sin = (scalars.resolve(f, dtype) or f"math.{f}"
                           for f in ("log", "sqrt", "cos", "sin"))
    if dtype == "float64":
        unit = "np.float64(word({j}, call, ZERO, keys) >> np.uint64(11)) * np.float64(2.0 ** -53)"
        first, second = unit.format(j="a"), unit.format(j="a + 1")
    else:
        unit = "np.float32({h} >> np.uint64(8)) * np.float32(2.0 ** -24)"
        first, second = unit.format(h="(w & LOW)"), unit.format(h="(w >> S32)")
    if dist == "uniform":
        if dtype == "float64":
            return [f"out[i] = {unit.format(j='i')}"]
        return [f"out[i] = {unit.format(h='half(i, call, ZERO, keys)')}"]
    pair = ["a = i - i % 2"] if dtype == "float64" else ["w = word(i // 2, call, ZERO, keys)"]
    return pair + [
        f"u1 = {first}",
        f"u2 = {second}",
        f"r = {sqrt}({ftype}(-2.0) * {log}({ftype}(1.0) - u1))",
        f"t = {ftype}({2 * np.pi!r}) * u2",
        f"out[i] = {ftype}(r * ({cos}(t) if i % 2 == 0 else {sin}(t)))",
    ]


def _integer_body(dtype: str, bits: int, lo_mode: str, hi_mode: str) -> list[str]:
    info = np.iinfo(dtype)
    lo = "lo[lo_o + i]" if lo_mode == FLAT else "lo[lo_o]"
    hi = "hi[hi_o + i]" if hi_mode == FLAT else "hi[hi_o]"
    per = 32 // bits
    small = [f"v = (half(i // {per}, call, attempt, keys) >> np.uint64(i % {per} * {bits})) "
             f"& mask", "m = v * excl", "left = m & mask"]
    invalid = ["span <= 0"]
    if info.min > np.iinfo("int64").min:  # (comparing int64 with uint64 goes through float)
        invalid.append(f"low < {int(info.min)}")
    if info.max < np.iinfo("int64").max:
        invalid.append(f"low + (span - 1) > {int(info.max)}")
    body = [f"low = {lo}", f"span = {hi} - low", f"if {' or '.join(invalid)}:",
            "    flag[0] = 1", "    continue",
            "rng = np.uint64(span - 1)", "excl = rng + ONE", "attempt = ZERO"]
    if bits == 32 and info.bits == 64:  # NumPy draws 64-bit words for ranges of 2**32 and up
        body += ["if rng > LOW:", "    left, m = mulhilo(word(i, call, attempt, keys), excl)",
                 "    if left < excl:",
                 "        threshold = (np.uint64(0xFFFFFFFFFFFFFFFF) - rng) % excl",
                 "        while left < threshold:", "            attempt += ONE",
                 "            left, m = mulhilo(word(i, call, attempt, keys), excl)",
                 f"    out[i] = np.{dtype}(low + np.int64(m))", "    continue"]
    body += [f"mask = np.uint64({(1 << bits) - 1})"] + small + [
        "if left < excl:", "    threshold = (mask - rng) % excl",
        "    while left < threshold:", "        attempt += ONE"]
    body += ["        " + line for line in small]
    body += [f"out[i] = np.{dtype}(low + np.int64(m >> np.uint64({bits})))"]
    return body


def draw(dist: str, dtype: str, bits: int, lo_mode: str, hi_mode: str) -> tuple[str, Signature]:
    """One kernel per distribution and dtype: element i of `out` from the stream of
    (keys, call = counter[c_o]); integers also read low/high (flat or one value) and set
    flag[0] when a range is empty or outside the dtype."""
    args = ["n", "out", "counter", "c_o", "keys"]
    sig: Signature = [("scalar", "int64"), ("array", dtype), ("array", "int64"),
                      ("scalar", "int64"), ("array", "uint64")]
    if dist == "integers":
        body = _integer_body(dtype, bits, lo_mode, hi_mode)
        args += ["lo", "lo_o", "hi", "hi_o", "flag"]
        sig += [("array", "int64"), ("scalar", "int64")] * 2 + [("array", "int32")]
    else:
        body = _float_body(dist, dtype)
    lines = [f"def kernel({', '.join(args)}):", "    call = np.uint64(counter[c_o])",
             "    for i in range(cuda.grid(1), n, cuda.gridsize(1)):"]
    lines += ["        " + line for line in body]
    return _PHILOX + "\n".join(lines) + "\n", sig


codegen.GENERATORS["draw"] = draw


def _round_keys(seed: int, index: int) -> Any:
    """Philox's ten round keys, (seed, index) + r * W mod 2**64, uploaded once."""
    found = _KEYS.get((seed, index))
    if found is None:
        keys = [(k + r * w) % (1 << 64) for r in range(10) for k, w in zip((seed, index), _W)]
        found = upload(np.array(keys, dtype="uint64")).buffer.array
        _KEYS[(seed, index)] = found
    return found


def _bound(t: Tensor, shape: tuple) -> tuple[str, Tensor]:
    """A bound of `integers` read as one value or as a contiguous array over `shape`."""
    ensure_device(t)
    if t.size == 1:
        return SCALAR, t
    try:
        if np.broadcast_shapes(t.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ShapeError(f"integers: bounds of shape {t.shape} do not broadcast to the size "
                         f"{shape}") from None
    wide = t.view(shape, launch.broadcast_strides(t, shape), t.offset)
    return FLAT, launch.contiguous(POOL, wide)


def random(node: Node, inputs: list[Tensor]) -> Tensor:
    """Kind "random": StandardUniform, StandardNormal, Integers (see the module docstring)."""
    op = node.op
    counter, size, *bounds = inputs
    shape = op.size(to_host(size))
    out = empty(POOL, op.dtype, shape)
    if out.size == 0:
        return out
    ensure_device(counter)
    head = [out.size, out.buffer.array, counter.buffer.array, counter.offset,
            _round_keys(op.seed, op.index)]
    grid = (launch.blocks(out.size), launch.THREADS)
    kind = type(op).__name__
    if kind != "Integers":
        dist = "normal" if kind == "StandardNormal" else "uniform"
        codegen.kernel("draw", dist=dist, dtype=op.dtype, bits=0, lo_mode="", hi_mode="")[
            grid](*head)
        return out
    (lo_mode, lo), (hi_mode, hi) = (_bound(b, shape) for b in bounds)
    flag = upload(np.zeros(1, "int32"))
    bits = min(np.dtype(op.dtype).itemsize * 8, 32)
    kernel = codegen.kernel("draw", dist="integers", dtype=op.dtype, bits=bits,
                            lo_mode=lo_mode, hi_mode=hi_mode)
    kernel[grid](*head, lo.buffer.array, lo.offset, hi.buffer.array, hi.offset,
                 flag.buffer.array)
    for t in (lo, hi):  # contiguous copies go back to the pool (a no-op for the inputs)
        release(hold(t))
    flag.host_value = None  # written by the kernel: read it back
    if to_host(flag)[0]:
        raise SymgraphError(f"integers: need low < high within the range of {op.dtype}, "
                            f"got low={to_host(bounds[0])}, high={to_host(bounds[1])}")
    return out


RANDOM: dict[str, Callable] = {"random": random}
