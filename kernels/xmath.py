"""Deterministic exp and log for Numba kernels.

``exp_f64``, ``log_f64`` (float64) and ``exp_f32``, ``log_f32`` (float32, computed in
float32) are faithfully rounded: |result - exact| < 1 ulp over the whole domain,
including overflow, underflow, subnormals, +-0, +-inf and NaN. They use only IEEE-754
basic operations (+ - * /, rint, comparisons and integer operations on the bit pattern)
in a fixed order, with no FMA contraction (never compile them with fastmath), so they
return the same bits on every IEEE-754 machine, whatever its libm or SIMD width.
Loops over them vectorise. Each has one explicit signature, so a float32 kernel can never
be compiled for float64 arguments. ``xexp``/``xlog`` dispatch on the argument's float
type; their ``arith`` code selects the variant (``EXACT``, ``LIBM``, ``EXACT_FMA``,
``EXACT_FMA2``; a bool still means libm or not).

``exp_fma_f64``/``log_fma_f64`` and ``exp_fma_f32``/``log_fma_f32`` (the ``exact-fma``
variant) also use the explicit fused multiply-add ``fma(a, b, c)`` (``llvm.fma``): IEEE 754
specifies its one rounding of a*b + c exactly, so hardware FMA and a correct software fma
give the same bits. It is only ever written out, never contracted by the compiler.

Algorithms: exp reduces x = k*ln2 + r (ln2 in two parts, k = rint(x/ln2)), evaluates a
Taylor polynomial, adds 1 carrying the rounding error of 1 + hi, and scales by 2**k; log is
fdlibm's e_log.c / e_logf.c (s = f/(2+f) and a minimax polynomial in s*s). The ``_fma``
functions are the same algorithms with every polynomial step ``a + r*c`` and the reduction
``x - k*ln2hi`` (exact either way) written as one fma: fewer roundings and instructions.

``exp_fma2_f64``/``exp_fma2_f32`` (the ``exact-fma2`` variant; its log is exact-fma's) are a
shorter exp, also faithfully rounded over the whole domain: k from one fma with a shifter
constant (no rint, no float-to-int conversion), a minimax polynomial of lower degree
(9 against 13 by Estrin's scheme; float32: 4 against 8, by even and odd parts), the same
exact carry of 1 + hi, and one multiply for the scaling by 2**k (subnormal results too:
the exponent moves into p first, exactly, and one multiply by the normal 2**-1022 rounds
once, so a CPU that treats subnormal operands as zero (DAZ) gets the same results): 42
instructions per 8 lanes against exp_fma_f64's 48. A NaN argument gives a NaN, not the
argument itself: its payload is the machine's (x86 keeps it and quiets a signalling NaN).

``xexp_plus1(x, arith)`` is 1 + xexp(x, arith) with the same bits for every x, a sigmoid's
denominator; exact-fma2's (``exp_fma2_plus1_f64``/``_f32``) skips the subnormal results'
path, which the sum with 1 cannot see.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))


def _make_f2bits(widths):
    @intrinsic
    def f2bits(typingctx, x):
        if not isinstance(x, types.Float):
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.IntType(x.bitwidth))

        return widths[x.bitwidth](x), codegen

    return f2bits


#: the bit pattern of a float32/float64 as int32/int64
_f2i = _make_f2bits({32: types.int32, 64: types.int64})
#: ... as uint32/uint64: unsigned, so that numba's integer arithmetic on it wraps (its
#: signed adds carry LLVM's no-signed-wrap flag, which makes an overflow undefined)
_f2u = _make_f2bits({32: types.uint32, 64: types.uint64})


def _make_i2f(fty, ity):
    @intrinsic
    def i2f(typingctx, i):
        if not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, sig, args):
            bits = context.cast(builder, args[0], i, ity)  # truncates wider integers
            return builder.bitcast(bits, context.get_value_type(fty))

        return fty(i), codegen

    return i2f


_i2f64 = _make_i2f(types.float64, types.int64)
_i2f32 = _make_i2f(types.float32, types.int32)


@intrinsic
def fma(typingctx, a, b, c):
    """a*b + c rounded once (IEEE 754 fusedMultiplyAdd): ``llvm.fma``, hardware FMA where the
    CPU has it. All three arguments must have the same float type."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return a(a, b, c), codegen


#: arithmetic codes of the compiled variants (vocab.ARITHS names them)
EXACT, LIBM, EXACT_FMA, EXACT_FMA2 = 0, 1, 2, 3
ARITH_CODES = {"exact": EXACT, "libm": LIBM, "exact-fma": EXACT_FMA, "exact-fma2": EXACT_FMA2}

# ---- float64 ---------------------------------------------------------------------
_INVLN2 = float.fromhex("0x1.71547652b82fep+0")
_LN2HI = float.fromhex("0x1.62e42fee00000p-1")  # 32 bits: k*_LN2HI exact for |k| < 2**21
_LN2LO = float.fromhex("0x1.a39ef35793c76p-33")
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (
    1.0 / math.factorial(n) for n in range(2, 14))  # Taylor: r**14/14! < 2**-57 on |r| <= ln2/2
_LG1 = float.fromhex("0x1.5555555555593p-1")  # fdlibm e_log.c
_LG2 = float.fromhex("0x1.999999997fa04p-2")
_LG3 = float.fromhex("0x1.2492494229359p-2")
_LG4 = float.fromhex("0x1.c71c51d8e78afp-3")
_LG5 = float.fromhex("0x1.7466496cb03dep-3")
_LG6 = float.fromhex("0x1.39a09d078c69fp-3")
_LG7 = float.fromhex("0x1.2f112df3e5244p-3")
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_TINY64 = float.fromhex("0x1p-1022")
_TWO54 = float.fromhex("0x1p54")


@njit("float64(float64)", error_model="numpy", cache=True)
def exp_f64(x):
    # NaN and out-of-range inputs are clamped so that k stays a small integer (fptosi
    # of NaN/huge values is undefined); exp at the clamp bounds already over/underflows.
    xc = x if x > -746.0 else -746.0
    xc = xc if xc < 710.0 else 710.0
    kf = np.rint(xc * _INVLN2)
    hi = xc - kf * _LN2HI  # exact (Sterbenz / trailing zeros of _LN2HI)
    lo = kf * _LN2LO
    r = hi - lo
    # Estrin's scheme: a shorter dependency chain than Horner, ~10 % faster in lane loops
    r2 = r * r
    r4 = r2 * r2
    q = (((_E2 + r * _E3) + r2 * (_E4 + r * _E5))
         + r4 * ((_E6 + r * _E7) + r2 * (_E8 + r * _E9))) \
        + (r4 * r4) * ((_E10 + r * _E11) + r2 * (_E12 + r * _E13))
    t = r2 * q - lo
    u = 1.0 + hi
    e = (1.0 - u) + hi  # Fast2Sum: exact rounding error of 1 + hi
    p = u + (e + t)
    # 2**k as two factors: p*s1 is exact, so a subnormal result is rounded only once.
    k = np.int32(kf)
    k1 = k >> 1
    s1 = _i2f64((k1 + 1023) << 52)
    s2 = _i2f64((k - k1 + 1023) << 52)
    y = (p * s1) * s2
    return x if x != x else y


@njit("float64(float64)", error_model="numpy", cache=True)
def log_f64(x):
    sub = x < _TINY64
    xs = x * _TWO54 if sub else x
    ix = _f2i(xs) + (0x3FF0000000000000 - _SQRT_HALF_BITS)
    k = (ix >> 52) - (1023 + 54 if sub else 1023)
    m = _i2f64((ix & 0x000FFFFFFFFFFFFF) + _SQRT_HALF_BITS)  # m in [sqrt(2)/2, sqrt(2))
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    dk = np.float64(k)
    # fdlibm's order: small terms first, then f; dk*_LN2HI is exact and comes last
    y = (((s * (hfsq + (t2 + t1)) + dk * _LN2LO) - hfsq) + f) + dk * _LN2HI
    if x > 0.0 and x < np.inf:
        return y
    if x == 0.0:
        return -np.inf
    return x if x == np.inf else np.nan


# ---- float32 (constants are float32 so that no operation widens to float64) -----
_f = np.float32
_F0, _F1, _FHALF, _F2 = _f(0.0), _f(1.0), _f(0.5), _f(2.0)
_FINVLN2 = _f(float.fromhex("0x1.715476p+0"))
_FLN2HI = _f(float.fromhex("0x1.62e400p-1"))  # 15 bits: k*_FLN2HI exact for |k| < 512
_FLN2LO = _f(float.fromhex("0x1.7f7d1cp-20"))
_FE2, _FE3, _FE4, _FE5, _FE6, _FE7, _FE8 = (_f(1.0 / math.factorial(n)) for n in range(2, 9))
_FLG1 = _f(float.fromhex("0xaaaaaa.0p-24"))  # fdlibm e_logf.c / k_logf.h
_FLG2 = _f(float.fromhex("0xccce13.0p-25"))
_FLG3 = _f(float.fromhex("0x91e9ee.0p-25"))
_FLG4 = _f(float.fromhex("0xf89e26.0p-26"))
_FLOG_LN2HI = _f(float.fromhex("0x1.62e300p-1"))  # 17 bits, multiple of 2**-17
_FLOG_LN2LO = _f(float.fromhex("0x1.2fefa2p-17"))
_FLO, _FHI = _f(-104.0), _f(89.0)
_FTINY, _FTWO25 = _f(float.fromhex("0x1p-126")), _f(float.fromhex("0x1p25"))
_FINF, _FNAN = _f(np.inf), _f(np.nan)
_FSQRT_HALF_BITS = 0x3F3504F3


@njit("float32(float32)", error_model="numpy", cache=True)
def exp_f32(x):
    xc = x if x > _FLO else _FLO
    xc = xc if xc < _FHI else _FHI
    kf = np.rint(xc * _FINVLN2)
    hi = xc - kf * _FLN2HI
    lo = kf * _FLN2LO
    r = hi - lo
    r2 = r * r
    q = ((_FE2 + r * _FE3) + r2 * (_FE4 + r * _FE5)) + (r2 * r2) * ((_FE6 + r * _FE7) + r2 * _FE8)
    t = r2 * q - lo
    u = _F1 + hi
    e = (_F1 - u) + hi
    p = u + (e + t)
    k = np.int32(kf)
    k1 = np.int32(k >> 1)
    s1 = _i2f32(np.int32(k1 + 127) << 23)
    s2 = _i2f32(np.int32(k - k1 + 127) << 23)
    y = (p * s1) * s2
    return x if x != x else y


@njit("float32(float32)", error_model="numpy", cache=True)
def log_f32(x):
    sub = x < _FTINY
    xs = x * _FTWO25 if sub else x
    ix = np.int32(_f2i(xs) + (0x3F800000 - _FSQRT_HALF_BITS))
    k = np.int32((ix >> 23) - (127 + 25 if sub else 127))
    m = _i2f32((ix & 0x007FFFFF) + _FSQRT_HALF_BITS)
    f = m - _F1
    s = f / (_F2 + f)
    z = s * s
    w = z * z
    t1 = w * (_FLG2 + w * _FLG4)
    t2 = z * (_FLG1 + w * _FLG3)
    hfsq = _FHALF * f * f
    dk = np.float32(k)
    y = (((s * (hfsq + (t2 + t1)) + dk * _FLOG_LN2LO) - hfsq) + f) + dk * _FLOG_LN2HI
    if x > _F0 and x < _FINF:
        return y
    if x == _F0:
        return -_FINF
    return x if x == _FINF else _FNAN


# ---- exact-fma: the same algorithms, polynomials and reductions by explicit fma --------
# (A 128-entry table exp with a degree-5 polynomial was tried: 0.52 ulp in the normal range
# but 0.93x the speed of exp_f64 on AMD Zen 4, whose vector gathers are slow.)
_NLN2HI = -_LN2HI


@njit("float64(float64)", error_model="numpy", cache=True)
def exp_fma_f64(x):
    xc = x if x > -746.0 else -746.0
    xc = xc if xc < 710.0 else 710.0
    kf = np.rint(xc * _INVLN2)
    hi = fma(kf, _NLN2HI, xc)  # exact, as in exp_f64
    lo = kf * _LN2LO
    r = hi - lo
    r2 = r * r
    r4 = r2 * r2
    q = fma(r4 * r4, fma(r2, fma(r, _E13, _E12), fma(r, _E11, _E10)),
            fma(r4, fma(r2, fma(r, _E9, _E8), fma(r, _E7, _E6)), fma(r2, fma(r, _E5, _E4), fma(r, _E3, _E2))))
    t = fma(r2, q, -lo)
    u = 1.0 + hi
    e = (1.0 - u) + hi
    p = u + (e + t)
    k = np.int32(kf)
    k1 = k >> 1
    s1 = _i2f64((k1 + 1023) << 52)
    s2 = _i2f64((k - k1 + 1023) << 52)
    y = (p * s1) * s2
    return x if x != x else y


@njit("float64(float64)", error_model="numpy", cache=True)
def log_fma_f64(x):
    sub = x < _TINY64
    xs = x * _TWO54 if sub else x
    ix = _f2i(xs) + (0x3FF0000000000000 - _SQRT_HALF_BITS)
    k = (ix >> 52) - (1023 + 54 if sub else 1023)
    m = _i2f64((ix & 0x000FFFFFFFFFFFFF) + _SQRT_HALF_BITS)
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * fma(w, fma(w, _LG6, _LG4), _LG2)
    t2 = z * fma(w, fma(w, fma(w, _LG7, _LG5), _LG3), _LG1)
    dk = np.float64(k)
    y = fma(dk, _LN2HI, ((fma(s, hfsq + (t2 + t1), dk * _LN2LO) - hfsq) + f))
    if x > 0.0 and x < np.inf:
        return y
    if x == 0.0:
        return -np.inf
    return x if x == np.inf else np.nan


_FNLN2HI = _f(-_FLN2HI)


@njit("float32(float32)", error_model="numpy", cache=True)
def exp_fma_f32(x):
    xc = x if x > _FLO else _FLO
    xc = xc if xc < _FHI else _FHI
    kf = np.rint(xc * _FINVLN2)
    hi = fma(kf, _FNLN2HI, xc)  # exact
    lo = kf * _FLN2LO
    r = hi - lo
    r2 = r * r
    q = fma(r2 * r2, fma(r2, _FE8, fma(r, _FE7, _FE6)), fma(r2, fma(r, _FE5, _FE4), fma(r, _FE3, _FE2)))
    t = fma(r2, q, -lo)
    u = _F1 + hi
    e = (_F1 - u) + hi
    p = u + (e + t)
    k = np.int32(kf)
    k1 = np.int32(k >> 1)
    s1 = _i2f32(np.int32(k1 + 127) << 23)
    s2 = _i2f32(np.int32(k - k1 + 127) << 23)
    y = (p * s1) * s2
    return x if x != x else y


@njit("float32(float32)", error_model="numpy", cache=True)
def log_fma_f32(x):
    sub = x < _FTINY
    xs = x * _FTWO25 if sub else x
    ix = np.int32(_f2i(xs) + (0x3F800000 - _FSQRT_HALF_BITS))
    k = np.int32((ix >> 23) - (127 + 25 if sub else 127))
    m = _i2f32((ix & 0x007FFFFF) + _FSQRT_HALF_BITS)
    f = m - _F1
    s = f / (_F2 + f)
    z = s * s
    w = z * z
    t1 = w * fma(w, _FLG4, _FLG2)
    t2 = z * fma(w, _FLG3, _FLG1)
    hfsq = _FHALF * f * f
    dk = np.float32(k)
    y = fma(dk, _FLOG_LN2HI, ((fma(s, hfsq + (t2 + t1), dk * _FLOG_LN2LO) - hfsq) + f))
    if x > _F0 and x < _FINF:
        return y
    if x == _F0:
        return -_FINF
    return x if x == _FINF else _FNAN


# ---- exact-fma2: a shorter exp (minimax polynomial, one scaling multiply) --------------
# exp(r) = 1 + r + r**2 * Q(r) on |r| <= ln2/2 (+ a little: k comes from one fma), Q of
# degree 9 (float32: 4) fitted for the least maximum relative error of exp by
# tools/fit_exp_poly.py: 1.1e-17 = 0.1 * 2**-53 (float32: 0.06 * 2**-24) with the
# coefficients rounded. (exact-fma's Taylor polynomial has degree 13, float32: 8.)
_C64 = tuple(float.fromhex(h) for h in (
    "0x1.000000000000ap-1", "0x1.55555555554fap-3", "0x1.555555555088bp-5", "0x1.1111111127b9dp-7",
    "0x1.6c16c184269bfp-10", "0x1.a01a012a69c91p-13", "0x1.a0199a166ff3cp-16", "0x1.71df25393e9dfp-19",
    "0x1.28ad69022d0ccp-22", "0x1.ad7f7d40de98cp-26"))
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5, _Q6, _Q7, _Q8, _Q9 = _C64
_SHIFT = float.fromhex("0x1.8p52")  # x/ln2 + _SHIFT rounds x/ln2 to an integer in the low bits
_TINY_SCALE = float.fromhex("0x1p-1022")  # normal: a CPU that reads subnormals as 0 (DAZ) keeps it
_U52 = np.uint64(52)
_SUB_BIAS64 = np.uint64(1021 << 52)  # p2 * 2**(k+1021), then * 2**-1022
_NORM_BIAS64 = np.uint64(1022 << 52)  # 2**(k-1)


@njit(inline="always", error_model="numpy", cache=True)
def _fma2_core_f64(xc):
    """exp_fma2_f64's reduction and polynomial on the clamped xc: (kb, kf, p2) with
    exp(xc) ~ p2 * 2**(k-1), k = kf in kb's low bits."""
    kb = fma(xc, _INVLN2, _SHIFT)  # k = rint(x/ln2) from one rounding, in kb's low bits
    kf = kb - _SHIFT
    hi = fma(kf, _NLN2HI, xc)  # exact, as in exp_f64
    lo = kf * _LN2LO
    r = hi - lo
    r2 = r * r
    # Q by Estrin's scheme: nine fma and two squarings, a chain of five
    r4 = r2 * r2
    q = fma(r4 * r4, fma(r, _Q9, _Q8), fma(r4, fma(r2, fma(r, _Q7, _Q6), fma(r, _Q5, _Q4)),
                                            fma(r2, fma(r, _Q3, _Q2), fma(r, _Q1, _Q0))))
    t = fma(r2, q, -lo)
    u = 1.0 + hi
    e = (1.0 - u) + hi  # Fast2Sum: exact rounding error of 1 + hi
    p = u + (e + t)
    return kb, kf, p + p  # p + p exact; the scale 2**(k-1) then stays finite up to k = 1024


@njit("float64(float64)", error_model="numpy", cache=True)
def exp_fma2_f64(x):
    # clamps that let a NaN pass through: numba's max and min keep Python's rule (max(x, c)
    # is c only if c > x, so x when x is NaN) and compile to one max/min instruction each
    # (x86: vmaxps(c, x) returns x when either is NaN); the same rule written as conditional
    # expressions compiled to a compare and a blend per bound (gd float32: 26 of the
    # sigmoid pass's 406 AVX-512 instructions per 16 lanes, 2026-12-04, Zen 4)
    xc = min(max(x, -746.0), 710.0)
    kb, kf, p2 = _fma2_core_f64(xc)
    # one multiply rounds p*2**k once: p2 by the normal 2**(k-1), or (results below 2**-1022)
    # p2*2**(k+1021) (exact: it stays normal down to k = -1076) by 2**-1022
    sh = _f2u(kb) << _U52  # (k mod 2**12) << 52, unsigned: wraps
    sub = kf < -1021.0
    a = _i2f64(_f2u(p2) + sh + _SUB_BIAS64) if sub else p2
    s = _TINY_SCALE if sub else _i2f64(sh + _NORM_BIAS64)
    # A NaN passes through the clamps and the arithmetic (quieted, its payload as the
    # machine's NaN rules carry it: no select to return x itself, which costs 6 % of gd's step)
    return a * s


@njit("float64(float64)", error_model="numpy", cache=True)
def exp_fma2_plus1_f64(x):
    """1 + exp_fma2_f64(x), the same bits for every x, without the subnormal results' path:
    x below -708 (k >= -1021 keeps 2**(k-1) normal) is raised to -708, where exp is below
    2**-1020, so 1 + exp rounds to 1 either way: 5 instructions fewer than the full exp
    and the sum (gd's step +5-7 %)."""
    xc = min(max(x, -708.0), 710.0)
    kb, kf, p2 = _fma2_core_f64(xc)
    return 1.0 + p2 * _i2f64((_f2u(kb) << _U52) + _NORM_BIAS64)


_FQ0, _FQ1, _FQ2, _FQ3, _FQ4 = (_f(float.fromhex(h)) for h in (
    "0x1.fffffcp-2", "0x1.555492p-3", "0x1.5558f2p-5", "0x1.1239f0p-7", "0x1.6a2418p-10"))
_FSHIFT = _f(float.fromhex("0x1.8p23"))
_FTINY_SCALE = _f(float.fromhex("0x1p-126"))  # normal, as _TINY_SCALE
_U23 = np.uint32(23)
_FSUB_BIAS = np.uint32(125 << 23)
_FNORM_BIAS = np.uint32(126 << 23)


@njit(inline="always", error_model="numpy", cache=True)
def _fma2_core_f32(xc):
    """exp_fma2_f32's reduction and polynomial, as _fma2_core_f64."""
    kb = fma(xc, _FINVLN2, _FSHIFT)
    kf = kb - _FSHIFT
    hi = fma(kf, _FNLN2HI, xc)  # exact
    lo = kf * _FLN2LO
    r = hi - lo
    r2 = r * r
    q = fma(r, fma(r2, _FQ3, _FQ1), fma(r2, fma(r2, _FQ4, _FQ2), _FQ0))  # even and odd parts
    t = fma(r2, q, -lo)
    u = _F1 + hi
    e = (_F1 - u) + hi
    p = u + (e + t)
    return kb, kf, p + p


@njit("float32(float32)", error_model="numpy", cache=True)
def exp_fma2_f32(x):
    xc = min(max(x, _FLO), _FHI)
    kb, kf, p2 = _fma2_core_f32(xc)
    sh = _f2u(kb) << _U23  # the low 32 bits are (k mod 2**9) << 23 (_i2f32 keeps those)
    sub = kf < _f(-125.0)
    a = _i2f32(_f2u(p2) + sh + _FSUB_BIAS) if sub else p2
    s = _FTINY_SCALE if sub else _i2f32(sh + _FNORM_BIAS)
    return a * s


_FPLUS1_LO = _f(-86.0)  # k >= -124: 2**(k-1) normal; exp(-86) < 2**-124


@njit("float32(float32)", error_model="numpy", cache=True)
def exp_fma2_plus1_f32(x):
    """1 + exp_fma2_f32(x), the same bits for every x (as exp_fma2_plus1_f64)."""
    xc = min(max(x, _FPLUS1_LO), _FHI)
    kb, kf, p2 = _fma2_core_f32(xc)
    return _F1 + p2 * _i2f32((_f2u(kb) << _U23) + _FNORM_BIAS)


# ---- generic dispatch ---------------------------------------------------------------
def xexp(x, arith):
    """exp(x) in x's float type by arithmetic ``arith``: EXACT (or False), LIBM (or True:
    the platform's libm), EXACT_FMA or EXACT_FMA2."""
    return _xexp_jit(x, arith)


def xlog(x, arith):
    """log(x) in x's float type by arithmetic ``arith`` (as for xexp)."""
    return _xlog_jit(x, arith)


def xexp_plus1(x, arith):
    """1 + xexp(x, arith) in x's float type, the same bits for every x (a sigmoid's
    denominator); exact-fma2's skips the path of subnormal results."""
    return _xexp_plus1_jit(x, arith)


def _dispatch(variants, platform):
    """variants: {arith code: (float64 function, float32 function)} of xorsweep's own."""
    def typer(x, arith):
        if x not in (types.float64, types.float32):
            return None
        own = {code: fns[0 if x == types.float64 else 1] for code, fns in variants.items()}
        # A literal code selects the implementation at typing time: no branch at all.
        if isinstance(arith, (types.BooleanLiteral, types.IntegerLiteral)):
            code = int(arith.literal_value)
            if code == LIBM:
                return lambda x, arith: platform(x)
            if code in own:
                fn = own[code]
                return lambda x, arith: fn(x)
            return None
        exact, fused, fused2 = own[EXACT], own[EXACT_FMA], own[EXACT_FMA2]
        if isinstance(arith, types.Boolean):
            def impl_flag(x, arith):  # if/return: a conditional expression here trips numba's SSA check
                if arith:
                    return platform(x)
                return exact(x)
            return impl_flag
        if isinstance(arith, types.Integer):
            def impl(x, arith):
                if arith == LIBM:
                    return platform(x)
                if arith == EXACT_FMA:
                    return fused(x)
                if arith == EXACT_FMA2:
                    return fused2(x)
                return exact(x)
            return impl
        return None

    return typer


overload(xexp, inline="always", prefer_literal=True)(_dispatch(
    {EXACT: (exp_f64, exp_f32), EXACT_FMA: (exp_fma_f64, exp_fma_f32), EXACT_FMA2: (exp_fma2_f64, exp_fma2_f32)},
    math.exp))
# exact-fma2 differs from exact-fma in exp only
overload(xlog, inline="always", prefer_literal=True)(_dispatch(
    {EXACT: (log_f64, log_f32), EXACT_FMA: (log_fma_f64, log_fma_f32), EXACT_FMA2: (log_fma_f64, log_fma_f32)},
    math.log))


_ONE = {types.float64: 1.0, types.float32: _F1}


@overload(xexp_plus1, inline="always", prefer_literal=True)
def _xexp_plus1_typer(x, arith):
    if x not in _ONE:
        return None
    one = _ONE[x]
    fused2 = exp_fma2_plus1_f64 if x == types.float64 else exp_fma2_plus1_f32
    if isinstance(arith, types.IntegerLiteral) and arith.literal_value == EXACT_FMA2:
        return lambda x, arith: fused2(x)
    if isinstance(arith, (types.BooleanLiteral, types.IntegerLiteral, types.Boolean)):
        return lambda x, arith: one + xexp(x, arith)
    if isinstance(arith, types.Integer):
        def impl(x, arith):
            if arith == EXACT_FMA2:
                return fused2(x)
            return one + xexp(x, arith)
        return impl
    return None


@njit(error_model="numpy", cache=True)
def _xexp_plus1_jit(x, arith):
    return xexp_plus1(x, arith)


@njit(error_model="numpy", cache=True)
def _xexp_jit(x, arith):
    return xexp(x, arith)


@njit(error_model="numpy", cache=True)
def _xlog_jit(x, arith):
    return xlog(x, arith)
