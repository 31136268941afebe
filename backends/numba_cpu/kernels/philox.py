"""NumPy's Philox stream inside compiled code: draws that equal the reference bit for bit.

A draw of the reference (`symgraph/ops/random.py`) is `Generator(Philox(key=(seed, index),
counter=(0, call, 0, 0)))` followed by one `standard_normal`, `random` or `integers` call.
Here the same stream is a pure function of (seed, index, call) computed by numba code, so
a draw needs no Python object: it runs anywhere compiled code runs, inside a scan step or
an ifelse branch as well as in `entry`, with the call counter read from an array at run
time. The parts, each following NumPy's C source (numpy/random/src):

- Philox4x64-10 (Random123), its 64 x 64 -> 128-bit products as LLVM i128 multiplies;
- the bit generator's buffering: four words per block, `next_uint32` halves a word and
  keeps the high half for the next call, as NumPy's `philox_next32`;
- the distributions: 53-bit doubles, 24-bit floats, the 256-layer ziggurat for normals
  (NumPy's tables, which numba ships for its own Generator support), Lemire's bounded
  integers with NumPy's per-width buffering.

State: one uint64 array per draw, laid out as the `_CTR`, `_KEY`, ... slots below.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.np.random import _constants as tables

from backends.numba_cpu.memory import new_empty

_HELPER = dict(cache=True, error_model="numpy", no_cfunc_wrapper=True)
# The bit generator and the normal algorithms are inlined into each draw loop: as separate
# functions, 1M float64 draws took 10 ms (uniform) and 19 ms (normal); inlined, 3.9 and
# 12 ms, against 6.3 and 12 ms through numba's own Generator (process time, this machine).
# The price is a one-off compile of ~1-2.5 s per draw function, cached on disk.
_INLINE = dict(_HELPER, inline="always")

U = np.uint64
_M32 = U(0xFFFFFFFF)
_S8 = U(8)
_S11 = U(11)
_S32 = U(32)
_ONE = U(1)
_ZERO = U(0)
_MUL0 = U(0xD2E7470EE14C6C93)  # Philox4x64 multipliers and Weyl key increments
_MUL1 = U(0xCA5A826395121157)
_WEYL0 = U(0x9E3779B97F4A7C15)
_WEYL1 = U(0xBB67AE8584CAA73B)
# Slots of the state array: counter (4), key (2), output block (4), position in the block,
# has a spare 32-bit half, the spare half, and the 8/16-bit integer buffer (count, bits).
_CTR, _KEY, _BLOCK, _POS, _HAS32, _HALF, _BCNT, _BBUF, _SLOTS = 0, 4, 6, 10, 11, 12, 13, 14, 15

KI_DOUBLE = np.asarray(tables.ki_double, dtype=np.uint64)
WI_DOUBLE = np.asarray(tables.wi_double, dtype=np.float64)
FI_DOUBLE = np.asarray(tables.fi_double, dtype=np.float64)
KI_FLOAT = np.asarray(tables.ki_float, dtype=np.uint32)
WI_FLOAT = np.asarray(tables.wi_float, dtype=np.float32)
FI_FLOAT = np.asarray(tables.fi_float, dtype=np.float32)
NOR_R = np.float64(tables.ziggurat_nor_r)
NOR_INV_R = np.float64(tables.ziggurat_nor_inv_r)
NOR_R_F = np.float32(tables.ziggurat_nor_r_f)
NOR_INV_R_F = np.float32(tables.ziggurat_nor_inv_r_f)
_DOUBLE_UNIT = np.float64(1.0 / 9007199254740992.0)  # 2**-53
_FLOAT_UNIT = np.float32(1.0 / 16777216.0)  # 2**-24


@intrinsic
def mulhilo(typingctx, a, b):
    """The high and low words of the 128-bit product of two uint64 (LLVM's i128 multiply:
    a single widening multiply on x86-64)."""
    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        word = ir.IntType(64)
        high = builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), word)
        low = builder.trunc(product, word)
        return context.make_tuple(builder, signature.return_type, (high, low))

    if a != types.uint64 or b != types.uint64:
        return None
    return types.UniTuple(types.uint64, 2)(a, b), codegen


@njit(**_HELPER)
def start(seed, index, call):
    """The state of `Philox(key=(seed, index), counter=(0, call, 0, 0))` before any draw."""
    state = new_empty(_SLOTS, np.uint64)  # (memory.py: no np.zeros to compile)
    for j in range(_SLOTS):
        state[j] = _ZERO
    state[_CTR + 1] = U(call)
    state[_KEY] = U(seed)
    state[_KEY + 1] = U(index)
    state[_POS] = U(4)  # the block is empty: the first draw computes one
    return state


@njit(**_INLINE)
def _refill(state):
    """Advance the counter (with carry) and encrypt it: ten Philox rounds."""
    for j in range(4):
        state[_CTR + j] += _ONE
        if state[_CTR + j] != _ZERO:
            break
    c0, c1, c2, c3 = state[_CTR], state[_CTR + 1], state[_CTR + 2], state[_CTR + 3]
    k0, k1 = state[_KEY], state[_KEY + 1]
    for r in range(10):
        if r > 0:
            k0 += _WEYL0
            k1 += _WEYL1
        hi0, lo0 = mulhilo(_MUL0, c0)
        hi1, lo1 = mulhilo(_MUL1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    state[_BLOCK] = c0
    state[_BLOCK + 1] = c1
    state[_BLOCK + 2] = c2
    state[_BLOCK + 3] = c3
    state[_POS] = _ZERO


@njit(**_INLINE)
def next_uint64(state):
    """The next word of the block, computing a new block when it is used up."""
    if state[_POS] >= U(4):
        _refill(state)
    word = state[_BLOCK + np.int64(state[_POS])]
    state[_POS] += _ONE
    return word


@njit(**_INLINE)
def next_uint32(state):
    """Half a word: the low half now, the high half on the next call (philox_next32)."""
    if state[_HAS32] != _ZERO:
        state[_HAS32] = _ZERO
        return state[_HALF]
    word = next_uint64(state)
    state[_HAS32] = _ONE
    state[_HALF] = word >> _S32
    return word & _M32


@njit(**_INLINE)
def next_double(state):
    """A double in [0, 1) from the top 53 bits of a word (the shifted word fits in int64,
    whose conversion to float is one instruction)."""
    return np.float64(np.int64(next_uint64(state) >> _S11)) * _DOUBLE_UNIT


@njit(**_INLINE)
def next_float(state):
    """A float in [0, 1) from the top 24 bits of a 32-bit half."""
    return np.float32(np.int64(next_uint32(state) >> _S8)) * _FLOAT_UNIT


@njit(**_INLINE)
def normal_double(state):
    """NumPy's random_standard_normal: the ziggurat on 64-bit words."""
    while True:
        r = next_uint64(state)
        idx = np.int64(r & U(0xFF))
        r = r >> _S8
        rabs = (r >> _ONE) & U(0x000FFFFFFFFFFFFF)
        x = np.float64(np.int64(rabs)) * WI_DOUBLE[idx]  # signed: one instruction, exact
        if r & _ONE:
            x = -x
        if rabs < KI_DOUBLE[idx]:
            return x
        if idx == 0:  # the tail beyond the last layer
            while True:
                xx = -NOR_INV_R * np.log1p(-next_double(state))
                yy = -np.log1p(-next_double(state))
                if yy + yy > xx * xx:
                    return -(NOR_R + xx) if (rabs >> _S8) & _ONE else NOR_R + xx
        elif ((FI_DOUBLE[idx - 1] - FI_DOUBLE[idx]) * next_double(state)
              + FI_DOUBLE[idx]) < np.exp(-0.5 * x * x):
            return x


@njit(**_INLINE)
def normal_float(state):
    """NumPy's random_standard_normal_f: the ziggurat on 32-bit halves, float arithmetic
    except the density test, which C evaluates in double."""
    while True:
        r = next_uint32(state)
        idx = np.int64(r & U(0xFF))
        rabs = (r >> U(9)) & U(0x007FFFFF)
        x = np.float32(np.float32(np.int64(rabs)) * WI_FLOAT[idx])
        if (r >> _S8) & _ONE:
            x = -x
        if rabs < U(KI_FLOAT[idx]):
            return x
        if idx == 0:
            while True:
                xx = np.float32(-NOR_INV_R_F * np.log1p(-next_float(state)))
                yy = np.float32(-np.log1p(-next_float(state)))
                if np.float32(yy + yy) > np.float32(xx * xx):
                    tail = np.float32(NOR_R_F + xx)
                    return -tail if (rabs >> _S8) & _ONE else tail
        else:
            u = np.float32(np.float32(FI_FLOAT[idx - 1] - FI_FLOAT[idx]) * next_float(state))
            if np.float64(np.float32(u + FI_FLOAT[idx])) < np.exp(-0.5 * np.float64(x) * x):
                return x


@njit(**_HELPER)
def _small(state, bits):
    """buffered_uint8 / buffered_uint16: one 32-bit half serves 4 bytes or 2 shorts."""
    if state[_BCNT] == _ZERO:
        state[_BBUF] = next_uint32(state)
        state[_BCNT] = U(32 // bits - 1)
    else:
        state[_BBUF] = state[_BBUF] >> U(bits)
        state[_BCNT] -= _ONE
    return state[_BBUF] & ((_ONE << U(bits)) - _ONE)


@njit(**_HELPER)
def bounded(state, rng, bits):
    """A uniform integer in [0, rng] as NumPy's random_bounded_uint{bits}_fill draws one
    (Lemire's method; a full-width range takes the raw word)."""
    if rng == _ZERO:
        return _ZERO
    if bits <= 16:
        full = (_ONE << U(bits)) - _ONE
        if rng == full:
            return _small(state, bits)
        excl = rng + _ONE
        m = _small(state, bits) * excl
        if (m & full) < excl:
            threshold = (full - rng) % excl
            while (m & full) < threshold:
                m = _small(state, bits) * excl
        return m >> U(bits)
    if rng <= _M32:
        if rng == _M32:
            return next_uint32(state)
        excl = rng + _ONE
        m = next_uint32(state) * excl
        if (m & _M32) < excl:
            threshold = (_M32 - rng) % excl
            while (m & _M32) < threshold:
                m = next_uint32(state) * excl
        return m >> _S32
    excl = rng + _ONE  # rng < 2**64 - 1 here: the bounds are int64
    high, low = mulhilo(next_uint64(state), excl)
    if low < excl:
        threshold = (U(0xFFFFFFFFFFFFFFFF) - rng) % excl
        while low < threshold:
            high, low = mulhilo(next_uint64(state), excl)
    return high


# The draws, flat (the caller reshapes): one function per dtype, so a compile types only the
# algorithm it uses; each is Generator.standard_normal or .random of the reference.
@njit(**_HELPER)
def draw_normal_float64(seed, index, call, size):
    out = new_empty(size, np.float64)
    state = start(seed, index, call)
    for i in range(size):
        out[i] = normal_double(state)
    return out


@njit(**_HELPER)
def draw_normal_float32(seed, index, call, size):
    out = new_empty(size, np.float32)
    state = start(seed, index, call)
    for i in range(size):
        out[i] = normal_float(state)
    return out


@njit(**_HELPER)
def draw_uniform_float64(seed, index, call, size):
    out = new_empty(size, np.float64)
    state = start(seed, index, call)
    for i in range(size):
        out[i] = next_double(state)
    return out


@njit(**_HELPER)
def draw_uniform_float32(seed, index, call, size):
    out = new_empty(size, np.float32)
    state = start(seed, index, call)
    for i in range(size):
        out[i] = next_float(state)
    return out


@njit(**_HELPER)
def draw_integers(seed, index, call, size, low, high, dtype):
    """Generator.integers(low, high, size, dtype) of the reference's generator, flat, for
    int64 bounds with low < high that fit the dtype."""
    out = new_empty(size, dtype)
    state = start(seed, index, call)
    bits = out.itemsize * 8
    rng = U(high - 1 - low)  # wraps like NumPy's unsigned difference
    for i in range(size):
        out[i] = low + np.int64(bounded(state, rng, bits))
    return out
