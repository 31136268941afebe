"""Vectorizable elementwise math for numba kernels (exp, log, sin, cos, tanh, sigmoid, erf, ...).

Why: numba's ``math.exp`` & co. are scalar libm calls, and llvmlite has no SVML, so a fused
``prange`` loop that calls them never vectorizes. These functions are range reduction plus a
polynomial, written only with operations LLVM's loop vectorizer understands (fma, rint, floor,
fdiv, bitcasts, integer shifts, selects). Special values (±inf, NaN, ±0, denormals, overflow,
underflow) are handled by selects, never by branches, so a loop calling them stays SIMD.

Use: call ``exp_f32(x)`` etc. from any ``@njit`` code; they are ``inline="always"`` so numba
pastes them into the caller, where LLVM vectorizes the loop. ``FUNCTIONS[("exp", "float32")]``
is the lookup table for the code generator. Every function has a float32 and a float64
version; float32 versions compute in float32 (every constant is typed) except the argument
reduction of ``sin``/``cos``, which runs in float64 on purpose: it is exact for all the
float32 range below. Their polynomials then run in float32 on the reduced argument split in
two float32 parts (twice the SIMD width of float64: W1's float32 sin went from 12.7 to 9.7 ms).

Accuracy: max error in ulp of the correctly rounded result, as measured by
tests/test_vecmath.py-style sweeps (~1.5M points per entry incl. denormals, both overflow
thresholds and special values; float64 against 80-bit long double, erf against mpmath).
The tests assert <= 2 ulp everywhere.

    function    float32  float64      function    float32  float64
    exp         0.78     0.76         sigmoid     0.81     0.78
    expm1       1.29     1.23         softplus    1.52     1.44
    log         0.81     0.81         erf         1.22     1.41
    log1p       0.81     0.81         sin         0.77     0.73
    tanh        1.32     1.34         cos         0.78     0.74

Range of sin/cos (both dtypes): accurate for |x| < 2**46 (~7.0e13), NaN beyond. The reduction
x = k*pi/2 + r is Cody-Waite with a three-part pi/2 and fma; its first step is exact while
|k| < ~3e15, and below 2**46 the rounding of k = rint(x * 2/pi) moves r at most 0.01 past
pi/4, which the polynomials are fitted to cover. There is no Payne-Hanek reduction for larger
arguments: they return NaN rather than a silently wrong number.

Why fastmath=False (the numba default, kept): ``nnan``/``ninf`` would let LLVM delete the
NaN/inf selects, and ``reassoc``/``contract`` would undo the error-free transformations
(two-sum, Cody-Waite). Elementwise loops vectorize without any fastmath flag. Because numba
inlines these bodies into the caller, the CALLER's fastmath applies to them: compile kernels
that call them without fastmath.

Hardware note: ``_fma`` is ``llvm.fma`` (one rounding, needed for exact reductions). On a CPU
without FMA, LLVM turns it into a libm call: still correct, but the loop no longer vectorizes.
Polynomials use ``llvm.fmuladd``, which LLVM may fuse or not; both are accurate enough.
Coefficients are near-minimax fits (mpmath.chebyfit) to the functions named beside them.
Methods follow the classic literature (Cody-Waite, Tang, fdlibm-style log and
expm1 identities); the code is our own.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["FUNCTIONS"]  # the per-function names are added at the bottom

# ---------------------------------------------------------------------------------------------
# LLVM intrinsics: one instruction each, so LLVM sees exactly what we mean
# ---------------------------------------------------------------------------------------------
_FLOATS = (types.float32, types.float64)


def _call_llvm(builder, name: str, args: list):
    ty = args[0].type
    fnty = ir.FunctionType(ty, [ty] * len(args))
    return builder.call(builder.module.declare_intrinsic(name, [ty], fnty), args)


def _unary_llvm(name: str):
    @intrinsic
    def _op(typingctx, x):
        if x not in _FLOATS:
            return None
        return x(x), lambda context, builder, sig, args: _call_llvm(builder, name, list(args))
    return _op


_rint = _unary_llvm("llvm.rint")     # round half to even (default rounding mode)
_floor = _unary_llvm("llvm.floor")
_fabs = _unary_llvm("llvm.fabs")


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (exactness of the reductions depends on it)."""
    if a not in _FLOATS or not a == b == c:
        return None
    return a(a, a, a), lambda context, builder, sig, args: builder.fma(*args)


@intrinsic
def _copysign(typingctx, mag, sign):
    if mag not in _FLOATS or mag != sign:
        return None
    return mag(mag, mag), lambda ctx, builder, sig, args: _call_llvm(builder, "llvm.copysign",
                                                                      list(args))


@intrinsic
def _div(typingctx, a, b):
    """Plain IEEE division: no ZeroDivisionError check whatever the caller's error_model."""
    if a not in _FLOATS or a != b:
        return None
    return a(a, a), lambda context, builder, sig, args: builder.fdiv(*args)


@intrinsic
def _select(typingctx, cond, a, b):
    """``a if cond else b`` as an LLVM select: both sides are already computed, no branch."""
    if cond != types.boolean or a != b:
        return None
    return a(cond, a, b), lambda context, builder, sig, args: builder.select(*args)


@intrinsic
def _horner(typingctx, x, coeffs):
    """c0 + x*(c1 + x*(c2 + ...)) for a constant tuple, lowest degree first."""
    if x not in _FLOATS or not isinstance(coeffs, types.UniTuple) or coeffs.dtype != x:
        return None

    def codegen(context, builder, sig, args):
        xv, cv = args
        n = sig.args[1].count
        acc = builder.extract_value(cv, n - 1)
        for i in range(n - 2, -1, -1):
            acc = _call_llvm(builder, "llvm.fmuladd", [acc, xv, builder.extract_value(cv, i)])
        return acc
    return x(x, coeffs), codegen


def _layout(ty):
    """(int type, mantissa bits, exponent bias) of an LLVM float type."""
    if isinstance(ty, ir.FloatType):
        return ir.IntType(32), 23, 127
    return ir.IntType(64), 52, 1023


@intrinsic
def _pow2(typingctx, k):
    """2**k for an integral float k with 2**k normal. Defined (garbage, not UB) for NaN k:
    k + 1.5*2**mant + bias puts k + bias in the low mantissa bits, a shift moves them into
    the exponent field, so no fptosi (whose NaN result would be poison)."""
    if k not in _FLOATS:
        return None

    def codegen(context, builder, sig, args):
        ty = args[0].type
        ity, mant, bias = _layout(ty)
        t = builder.fadd(args[0], ty(1.5 * 2.0 ** mant + bias))
        return builder.bitcast(builder.shl(builder.bitcast(t, ity), ity(mant)), ty)
    return k(k), codegen


def _bits_of(value: float, mant: int) -> int:
    """The IEEE bit pattern of value as float32 (mant == 23) or float64."""
    f, i = ("f4", "i4") if mant == 23 else ("f8", "i8")
    return int(np.array(value, f).view(i))


@intrinsic
def _split_sqrt2(typingctx, x):
    """For positive normal x: (m, e) with x = m * 2**e, m in [sqrt(1/2), sqrt(2)), e a float."""
    if x not in _FLOATS:
        return None

    def codegen(context, builder, sig, args):
        ty = args[0].type
        ity, mant, _ = _layout(ty)
        base = _bits_of(np.sqrt(0.5), mant)
        ix = builder.sub(builder.bitcast(args[0], ity), ity(base))
        m = builder.bitcast(builder.add(builder.and_(ix, ity((1 << mant) - 1)), ity(base)), ty)
        # e as a float without sitofp (AVX2 has no packed int64 -> double): add the integer
        # to the bits of 1.5 * 2**mant, a float whose ulp is 1, then subtract that float
        magic = 1.5 * 2.0 ** mant
        ebits = builder.add(builder.ashr(ix, ity(mant)), ity(_bits_of(magic, mant)))
        e = builder.fsub(builder.bitcast(ebits, ty), ty(magic))
        return context.make_tuple(builder, sig.return_type, [m, e])
    return types.UniTuple(x, 2)(x), codegen


@intrinsic
def _to_f64(typingctx, x):
    if x != types.float32:
        return None
    return types.float64(x), lambda ctx, builder, sig, args: builder.fpext(args[0],
                                                                         ir.DoubleType())


@intrinsic
def _to_f32(typingctx, x):
    if x != types.float64:
        return None
    return types.float32(x), lambda ctx, builder, sig, args: builder.fptrunc(args[0],
                                                                           ir.FloatType())


# ---------------------------------------------------------------------------------------------
# Coefficients (lowest degree first)
# ---------------------------------------------------------------------------------------------
# (exp(r) - 1 - r) / r**2 on |r| <= ln2/2
_EXPM1 = {
    np.float32: (0.5, 0.16666577756404877, 0.041666556149721146, 0.008363173343241215,
                 0.0013926175888627768),
    np.float64: (0.5, 0.1666666666666667, 0.04166666666666667, 0.008333333333326141,
                 0.0013888888888883752, 0.00019841269874800493, 2.4801587325533363e-05,
                 2.7557255425746435e-06, 2.7557273661348637e-07, 2.510520637395701e-08,
                 2.0914679376583935e-09),
}
# (log((1+s)/(1-s)) - 2s) / s**3 as a polynomial in z = s*s, s <= (sqrt2-1)/(sqrt2+1)
_LOG = {
    np.float32: (0.6666666865348816, 0.4000012278556824, 0.2855082154273987,
                 0.2333046793937683),
    np.float64: (0.6666666666666666, 0.4000000000000088, 0.28571428570803614,
                 0.22222222391713917, 0.18181795640132906, 0.15386239702814658,
                 0.13268773138656886, 0.13086626147840102),
}
# (tanh(x) - x) / x**3 as a polynomial in z = x*x, |x| <= 0.625
_TANH = {
    np.float32: (-0.333333283662796, 0.1333276927471161, -0.05385090783238411, 0.020997179672122,
                 -0.006096714176237583),
    np.float64: (-0.3333333333333333, 0.13333333333333042, -0.05396825396789699,
                 0.021869488519008305, -0.008863235103240878, 0.0035921217511549622,
                 -0.0014557754120478055, 0.0005896606577757043, -0.0002375906496055562,
                 9.257116129556769e-05, -3.12011014257974e-05, 6.485163482793113e-06),
}
# erf(x)/x - 1 as a polynomial in z = x*x, |x| <= 1
_ERF = {
    np.float32: (0.12837916612625122, -0.3761262595653534, 0.11283594369888306,
                 -0.02685421146452427, 0.005189087241888046, -0.000801686430349946,
                 7.875874871388078e-05),
    np.float64: (0.1283791670955126, -0.3761263890318375, 0.11283791670954879,
                 -0.026866170645076792, 0.0052239776248180145, -0.000854832698083379,
                 0.0001205533111164271, -1.4925595266831182e-05, 1.6461000484121368e-06,
                 -1.6350312701054695e-07, 1.4659775274047436e-08, -1.1372848856791674e-09,
                 5.957176147748911e-11),
}
# log(erfc(x) / t) + x*x as a polynomial in t = 1/(1 + c*x), x in [1, 4] (f32) / [1, 6] (f64)
_ERFC_C = {np.float32: 1.0, np.float64: 0.5}
_ERFC = {
    np.float32: (-0.5723874568939209, 1.0014644861221313, -0.028587358072400093,
                 -0.3920193612575531, -2.1223161220550537, 5.40767240524292,
                 -5.0641093254089355, 1.8083628416061401),
    np.float64: (-1.265512649954472, 1.0000195174712871, 0.3746679608317724,
                 0.08675848003549348, -0.10974800826646662, -0.026820532360460527,
                 -0.5028884165287777, 1.041281130451966, -1.438521467984253, 0.9277029045545424,
                 2.696696205945424, -8.163308863183769, 10.160149195900907, -6.955739646049414,
                 2.589510179633918, -0.4142604476067671),
}
# (sin(r) - r) / r**3 and (cos(r) - 1 + r*r/2) / r**4 in z = r*r, |r| <= pi/4 + 0.01
# (slack for the rounding of k = rint(x * 2/pi)); all float64
# (the short ones serve float32 results)
_SIN = {np.float32: (-0.16666666663556465, 0.00833333175998571, -0.00019840025546557762,
                     2.724209211867588e-06),
        np.float64: (-0.16666666666666666, 0.008333333333333331, -0.00019841269841264423,
                     2.755731921884501e-06, -2.505210606298387e-08, 1.6058505099628788e-10,
                     -7.585153629861176e-13)}
_COS = {np.float32: (0.04166666666407182, -0.0013888887576269213, 2.4800549307560707e-05,
                     -2.729442084443918e-07),
        np.float64: (0.041666666666666664, -0.0013888888888888887, 2.480158730158429e-05,
                     -2.7557319221128084e-07, 2.087675569686161e-09, -1.1470446143245026e-11,
                     4.7450137424173926e-14)}
_PIO2 = (1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33)  # sums to pi/2


def _typed(ft, values) -> tuple:
    return tuple(ft(v) for v in values)


# ---------------------------------------------------------------------------------------------
# exp, expm1, log, log1p and what is built from them, once per float type
# ---------------------------------------------------------------------------------------------
def _build(ft) -> dict:
    """The njit functions for float type ``ft``; every constant is an ``ft`` so float32 code
    never widens to float64."""
    f32 = ft is np.float32
    zero, half, one, two = ft(0.0), ft(0.5), ft(1.0), ft(2.0)
    inf, nan = ft(np.inf), ft(np.nan)
    log2e = ft(1.4426950408889634)
    # ln2 = ln2_hi + ln2_lo, ln2_hi with trailing zeros so that e * ln2_hi is exact in log
    ln2_hi = ft(0.693145751953125) if f32 else ft(6.93147180369123816490e-01)
    ln2_lo = ft(1.428606765330187e-06) if f32 else ft(1.90821492927058770002e-10)
    # clamps: beyond them exp is already 0 / inf and expm1 is -1 / inf; they keep 2**k normal
    exp_lo, exp_hi = (ft(-104.0), ft(89.0)) if f32 else (ft(-746.0), ft(710.0))
    expm1_lo = ft(-80.0) if f32 else ft(-50.0)
    tiny = ft(np.finfo(ft).tiny)                      # smallest normal
    sub_scale = ft(2.0 ** 25) if f32 else ft(2.0 ** 54)   # lifts denormals to normals
    sub_e = ft(25.0) if f32 else ft(54.0)
    erfc_c = ft(_ERFC_C[ft])
    c_expm1, c_log = _typed(ft, _EXPM1[ft]), _typed(ft, _LOG[ft])
    c_erf, c_erfc = _typed(ft, _ERF[ft]), _typed(ft, _ERFC[ft])
    c_tanh, tanh_split = _typed(ft, _TANH[ft]), ft(0.625)

    @njit(inline="always")
    def reduce_ln2(x):
        """(k, r, q): x = k*ln2 + r + rl, |r| <= ln2/2, and q = expm1(r + rl) - r. The first
        fma is exact (Cody-Waite); rl, the rounding error of r, matters for expm1 near 0.4."""
        k = _rint(x * log2e)
        r1 = _fma(-k, ln2_hi, x)
        r = _fma(-k, ln2_lo, r1)
        rl = _fma(-k, ln2_lo, r1 - r)
        return k, r, _fma(r * r, _horner(r, c_expm1), rl)

    @njit(inline="always")
    def exp_parts(x):
        """(h, l, k) with exp(x) ~ (h + l) * 2**k, h = fl(1 + r) and l its error plus q."""
        xc = _select(x > exp_hi, exp_hi, _select(x < exp_lo, exp_lo, x))   # NaN passes
        k, r, q = reduce_ln2(xc)
        h = one + r
        return h, ((one - h) + r) + q, k

    @njit(inline="always")
    def exp(x):
        h, l, k = exp_parts(x)
        k1 = _rint(k * half)       # 2**k in two normal factors: reaches denormals and inf
        return (h + l) * _pow2(k1) * _pow2(k - k1)

    @njit(inline="always")
    def expm1(x):
        xc = _select(x > exp_hi, exp_hi, _select(x < expm1_lo, expm1_lo, x))
        k, r, q = reduce_ln2(xc)
        s = _pow2(k - one)         # 2**k*(1 + r + q) - 1 = 2*(s*r + (s - 1/2) + s*q)
        y = _select(k == zero, r + q, _fma(s, q, _fma(s, r, s - half)) * two)
        return _select(x == zero, x, y)                      # keeps -0

    @njit(inline="always")
    def log_parts(f, e, corr):
        """log(2**e * (1+f)) + corr for f in [sqrt(1/2)-1, sqrt(2)-1): log(1+f) = 2s + s*R,
        s = f/(2+f), arranged so the big terms f and e*ln2_hi are added last."""
        s = _div(f, two + f)
        z = s * s
        hfsq = half * f * f
        rr = z * _horner(z, c_log)
        return e * ln2_hi - ((hfsq - _fma(s, hfsq + rr, e * ln2_lo + corr)) - f)

    @njit(inline="always")
    def log(x):
        sub = x < tiny
        m, e = _split_sqrt2(_select(sub, x * sub_scale, x))
        y = log_parts(m - one, e - _select(sub, sub_e, zero), zero)
        y = _select(x == inf, x, y)
        return _select(x > zero, y, _select(x == zero, -inf, nan))

    @njit(inline="always")
    def log1p(x):
        u = one + x
        bv = u - one
        c = (one - (u - bv)) + (x - bv)     # u + c == 1 + x exactly (two-sum)
        m, e = _split_sqrt2(u)              # u >= ulp(1)/2 is normal whenever x > -1
        y = log_parts(m - one, e, _div(c, u))
        y = _select(x == inf, x, _select(x == zero, x, y))
        return _select(x > -one, y, _select(x == -one, -inf, nan))

    @njit(inline="always")
    def sigmoid(x):
        """1/(1+e) or e/(1+e) with e = exp(-|x|) as eh + el: a plain e/(1+e) loses an ulp
        where the quotient sits just below a power of two and e just above."""
        h, l, k = exp_parts(-_fabs(x))
        k1 = _rint(k * half)
        scale = _pow2(k1) * _pow2(k - k1)     # exact: -|x| <= 0 keeps it in (0, 1]
        eh = (h + l) * scale
        el = ((h - (h + l)) + l) * scale      # renormalized: |el| <= ulp(eh)/2
        pos = x >= zero
        nh = _select(pos, one, eh)
        dh = one + eh
        dl = ((one - dh) + eh) + el
        q = _div(nh, dh)
        rem = _fma(-q, dh, nh)                # nh - q*dh exactly
        return q + _div(rem + _select(pos, zero, el) - q * dl, dh)

    @njit(inline="always")
    def softplus(x):
        return _select(x > zero, x, zero) + log1p(exp(-_fabs(x)))

    @njit(inline="always")
    def tanh(x):
        a = _fabs(x)
        near = _fma(x * x * x, _horner(x * x, c_tanh), x)   # |x| < 0.625: x + x**3 * T(x*x)
        far = one - _div(two, exp(a + a) + one)             # 2/(e+1) < 0.45: no cancellation
        return _copysign(_select(a < tanh_split, near, far), x)    # also tanh(-0) = -0

    @njit(inline="always")
    def erf(x):
        z = x * x
        near = _fma(x, _horner(z, c_erf), x)                 # |x| < 1: x + x*P(x*x)
        a = _fabs(x)
        t = _div(one, _fma(erfc_c, a, one))                 # |x| >= 1: erfc = t*exp(H(t)-x*x)
        far = _copysign(one - t * exp(_horner(t, c_erfc) - z), x)
        return _select(a < one, near, far)

    return {"exp": exp, "expm1": expm1, "log": log, "log1p": log1p, "sigmoid": sigmoid,
            "softplus": softplus, "tanh": tanh, "erf": erf}


# ---------------------------------------------------------------------------------------------
# sin and cos: x = k*pi/2 + r, reduced in float64 for both float types
# ---------------------------------------------------------------------------------------------
_TWO_OVER_PI = 0.6366197723675814
_TRIG_LIMIT = 2.0 ** 46     # beyond, rint(x * 2/pi) is off by too much (see module doc)


@njit(inline="always")
def _quadrant(k, s, c):
    """sin(k*pi/2 + r) from s = sin(r), c = cos(r), k integral float64."""
    k2 = _floor(k * 0.5)
    v = _select(k2 + k2 != k, c, s)                 # odd k: the cosine
    return _select(_floor(k2 * 0.5) * 2.0 != k2, -v, v)   # k mod 4 in {2, 3}: negate


_S32, _C32 = _SIN[np.float32], _COS[np.float32]
_S64, _C64 = _SIN[np.float64], _COS[np.float64]
_P1, _P2, _P3 = _PIO2


_S32F = tuple(np.float32(c) for c in _S32)
_C32F = tuple(np.float32(c) for c in _C32)
_HALF32, _ONE32, _NAN32 = np.float32(0.5), np.float32(1.0), np.float32(np.nan)
_LIMIT32 = np.float32(_TRIG_LIMIT)
_ROUNDER = 1.5 * 2.0 ** 52  # x + this rounds x (|x| < 2**51) to an integer in the low bits


@intrinsic
def _bits64(typingctx, x):
    """A float64's bits as an int64."""
    if x != types.float64:
        return None
    return types.int64(x), lambda ctx, builder, sig, args: builder.bitcast(args[0],
                                                                           ir.IntType(64))


@njit(inline="always")
def _sincos32(x, shift):
    """sin(x + shift*pi/2) for float32 x, integer shift. The reduction runs in float64:
    y = x - k*pi/2 is exact enough (|y1| < 1 with a grain of at least 2**-52, see
    _sincos64), then split into float32 rh + rl (rl the rounding error of rh), and the
    polynomials run in float32, on eight lanes instead of four: sin(rh + rl) = sin(rh) +
    rl*cos(rh) and cos(rh + rl) = cos(rh) - rl*sin(rh), to far below a float32 ulp. The
    quadrant is read from the low bits of the rounded k (no float64 mod 4)."""
    xd = _to_f64(x)
    rounded = _fma(xd, _TWO_OVER_PI, _ROUNDER)
    k = rounded - _ROUNDER                          # rint(x * 2/pi)
    y = _fma(-k, _P3, _fma(-k, _P2, _fma(-k, _P1, xd)))
    rh = _to_f32(y)
    rl = _to_f32(y - _to_f64(rh))
    z = rh * rh
    s = rh + _fma(rh * z, _horner(z, _S32F), rl * (_ONE32 - _HALF32 * z))
    hz = _HALF32 * z                                # 1 - hz compensated, as in _sincos64
    w = _ONE32 - hz
    c = w + (((_ONE32 - w) - hz) + _fma(z * z, _horner(z, _C32F), -rh * rl))
    q = _bits64(rounded) + shift                    # k + shift, mod 4 in the low bits
    v = _select((q & 1) != 0, c, s)                 # odd: the cosine
    v = _select((q & 2) != 0, -v, v)                # 2 or 3: negated
    return _select(_fabs(x) < _LIMIT32, v, _NAN32)


@njit(inline="always")
def _sincos64(x, shift):
    """sin(x + shift*pi/2) for float64 x: r + rl = x - k*pi/2 as a double-double."""
    k = _rint(x * _TWO_OVER_PI)
    y1 = _fma(-k, _P1, x)                      # exact, as in _sincos32
    p = k * _P2
    pe = _fma(k, _P2, -p)                      # k*_P2 = p + pe exactly
    yh = y1 - p
    bb = yh - y1
    yl = ((y1 - (yh - bb)) + (-p - bb)) - pe - k * _P3   # two-sum error + the small parts
    r = yh + yl
    rl = yl - (r - yh)
    z = r * r
    zl = _fma(r, r, -z)
    s = r + _fma(r * z, _horner(z, _S64), rl * (1.0 - 0.5 * z))
    hz = 0.5 * z
    w = 1.0 - hz
    c = w + (((1.0 - w) - hz) + (z * z * _horner(z, _C64) - (_fma(r, rl, 0.5 * zl))))
    return _select(_fabs(x) < _TRIG_LIMIT, _quadrant(k + shift, s, c), np.nan)


@njit(inline="always")
def sin_f32(x):
    return _select(x == np.float32(0.0), x, _sincos32(x, 0))


@njit(inline="always")
def cos_f32(x):
    return _sincos32(x, 1)


@njit(inline="always")
def sin_f64(x):
    return _select(x == 0.0, x, _sincos64(x, 0.0))


@njit(inline="always")
def cos_f64(x):
    return _sincos64(x, 1.0)


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------
_F32, _F64 = _build(np.float32), _build(np.float64)
exp_f32, exp_f64 = _F32["exp"], _F64["exp"]
expm1_f32, expm1_f64 = _F32["expm1"], _F64["expm1"]
log_f32, log_f64 = _F32["log"], _F64["log"]
log1p_f32, log1p_f64 = _F32["log1p"], _F64["log1p"]
tanh_f32, tanh_f64 = _F32["tanh"], _F64["tanh"]
sigmoid_f32, sigmoid_f64 = _F32["sigmoid"], _F64["sigmoid"]
softplus_f32, softplus_f64 = _F32["softplus"], _F64["softplus"]
erf_f32, erf_f64 = _F32["erf"], _F64["erf"]

FUNCTIONS = {(name, dtype): fn
             for dtype, table in (("float32", _F32), ("float64", _F64))
             for name, fn in table.items()}
FUNCTIONS.update({("sin", "float32"): sin_f32, ("cos", "float32"): cos_f32,
                  ("sin", "float64"): sin_f64, ("cos", "float64"): cos_f64})
__all__ += sorted(f"{name}_{dtype[0]}{dtype[-2:]}" for name, dtype in FUNCTIONS)
