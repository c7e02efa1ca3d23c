"""Accuracy (exact ulp errors against mpmath), special values, determinism and
vectorisation of kernels.xmath."""
import math
import os
import platform
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath.libmp import fzero, from_float, mpf_abs, mpf_exp, mpf_log, mpf_shift, mpf_sub, to_float
from numba import njit

from xorsweep.kernels import xmath as X
from xorsweep.kernels.xmath import exp_f32, exp_f64, log_f32, log_f64, xexp, xlog
from xorsweep.kernels.xmath import EXACT_FMA2, xexp_plus1  # by name, as the kernels: a literal code

PREC = 200
F64 = dict(p=53, emin=-1022, emax=1024)
F32 = dict(p=24, emin=-126, emax=128)


def ulp_error(y, exact, p, emin, emax):
    """|y - exact| in units of the spacing of the binade holding |exact| (the subnormal
    spacing below 2**emin). An infinite y stands for 2**emax, the next float after the
    largest, and is exact when |exact| >= 2**emax."""
    if exact == fzero:
        return 0.0 if y == 0.0 else math.inf
    sign, man, exp, bc = exact
    e2 = exp + bc - 1  # 2**e2 <= |exact| < 2**(e2 + 1)
    if math.isinf(y):
        if (y > 0) == (sign == 0) and e2 >= emax:
            return 0.0
        yv = mpf_shift(from_float(math.copysign(1.0, y)), emax)
    else:
        yv = from_float(y)
    ue = min(max(e2, emin), emax - 1) - (p - 1)
    return to_float(mpf_shift(mpf_abs(mpf_sub(yv, exact, PREC)), -ue))


def errors(fn_exact, xs, ys, fmt):
    return np.array([ulp_error(y, fn_exact(from_float(x), PREC), **fmt)
                     for x, y in zip(xs.tolist(), ys.tolist())])


@njit(error_model="numpy", cache=True)
def apply_exp(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = xexp(a[i], False)
    return out


@njit(error_model="numpy", cache=True)
def apply_log(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = xlog(a[i], False)
    return out


def random_bits(rng, n, dtype, positive=False):
    """Floats uniform in their bit patterns (all binades, subnormals), finite only."""
    ity = np.uint64 if dtype == np.float64 else np.uint32
    a = rng.integers(0, np.iinfo(ity).max, n, dtype=ity, endpoint=True).view(dtype)
    a = a[np.isfinite(a)]
    return np.abs(a) if positive else a


def log_uniform(rng, n, lo, hi, dtype):
    return np.exp2(rng.uniform(lo, hi, n)).astype(dtype)


def exp_sample(rng, dtype, n):
    f64 = dtype == np.float64
    lo, hi = (-750.0, 710.0) if f64 else (-110.0, 90.0)
    sub = (-745.2, -708.3) if f64 else (-104.0, -87.3)  # subnormal results
    top = 709.8 if f64 else 88.73  # overflow threshold
    sign = rng.choice([-1.0, 1.0], n // 10)
    parts = [random_bits(rng, n // 5, dtype), rng.uniform(-1, 1, n // 5),
             rng.uniform(lo, hi, n // 4), rng.uniform(*sub, n // 10),
             rng.uniform(top - 1.0, top + 0.01, n // 20),
             log_uniform(rng, n // 10, -1074 if f64 else -149, 0, dtype) * sign]
    return np.concatenate([np.asarray(p, dtype) for p in parts])


def log_sample(rng, dtype, n):
    ity = np.uint64 if dtype == np.float64 else np.uint32
    mant = np.iinfo(ity).max >> (12 if dtype == np.float64 else 9)
    parts = [random_bits(rng, n // 4, dtype, positive=True),
             rng.integers(1, mant, n // 8, dtype=ity, endpoint=True).view(dtype),  # subnormals
             1.0 + rng.uniform(-0.3, 0.42, n // 8),
             1.0 + log_uniform(rng, n // 8, -60, -1, dtype) * rng.choice([-1, 1], n // 8),
             log_uniform(rng, n // 4, -1074 if dtype == np.float64 else -149,
                         1024 if dtype == np.float64 else 128, dtype),
             rng.uniform(0, 10, n // 8)]
    x = np.concatenate([np.asarray(p, dtype) for p in parts])
    return x[(x > 0) & np.isfinite(x)]


def check(name, fn_exact, xs, ys, fmt):
    err = errors(fn_exact, xs, ys, fmt)
    i = int(np.argmax(err))
    print(f"\n{name}: n={xs.size} max error {err[i]:.4f} ulp at x={xs[i]!r}, "
          f"correctly rounded {np.mean(err <= 0.5):.4%}")
    assert err[i] < 1.0


def test_exp_f64_accuracy():
    x = exp_sample(np.random.default_rng(1), np.float64, 220_000)
    check("exp_f64", mpf_exp, x, apply_exp(x), F64)


def test_log_f64_accuracy():
    x = log_sample(np.random.default_rng(2), np.float64, 200_000)
    check("log_f64", mpf_log, x, apply_log(x), F64)


def test_exp_f32_accuracy():
    x = exp_sample(np.random.default_rng(3), np.float32, 110_000)
    y = apply_exp(x)
    assert y.dtype == np.float32
    check("exp_f32", mpf_exp, x, y, F32)


def test_log_f32_accuracy():
    x = log_sample(np.random.default_rng(4), np.float32, 100_000)
    y = apply_log(x)
    assert y.dtype == np.float32
    check("log_f32", mpf_log, x, y, F32)


EXP_F64_EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.0**-54, -(2.0**-54), 1.0, -1.0,
                 709.782712893384, 709.7827128933841, -708.3964185322641,
                 -708.3964185322642, -745.1332191019411, -745.1332191019412,
                 -744.44007192138, -740.0, 1e-300, 0.34657359027997264, -0.34657359027997264]
LOG_F64_EDGES = [5e-324, 1e-310, 2.2250738585072014e-308, 2.225073858507201e-308,
                 1.7976931348623157e308, 1.0 - 2.0**-53, 1.0 + 2.0**-52, 0.7071067811865476,
                 1.4142135623730951, 2.0, 0.5, math.e, 10.0]


def test_exp_special():
    for f, big, top in ((exp_f64, 746.0, 710.0), (exp_f32, 104.0, 89.0)):
        t = np.float64 if f is exp_f64 else np.float32
        assert f(t(0.0)) == 1.0 and f(t(-0.0)) == 1.0
        assert f(t(np.inf)) == np.inf and f(t(-np.inf)) == 0.0 and math.isnan(f(t(np.nan)))
        for x in (top, top + 1e3, np.finfo(t).max):
            assert f(t(x)) == np.inf
        for x in (-big, -big - 1e3, -np.finfo(t).max):
            assert f(t(x)) == 0.0
    x = np.array(EXP_F64_EDGES)
    check("exp_f64 edges", mpf_exp, x, apply_exp(x), F64)
    assert exp_f64(709.782712893384) < np.inf and exp_f64(709.7827128933841) == np.inf
    assert exp_f64(-745.1332191019411) == 5e-324 and exp_f64(-745.1332191019412) == 0.0
    x32 = np.array([88.72283, 88.72284, -87.33654, -87.33655, -103.27893, -103.97208,
                    -103.97209, 1e-45, -1e-45, 1.0, -1.0], np.float32)
    check("exp_f32 edges", mpf_exp, x32, apply_exp(x32), F32)


def test_log_special():
    for f, t in ((log_f64, np.float64), (log_f32, np.float32)):
        y = f(t(1.0))
        assert y == 0.0 and math.copysign(1.0, y) == 1.0
        assert f(t(0.0)) == -np.inf and f(t(-0.0)) == -np.inf and f(t(np.inf)) == np.inf
        for x in (-1.0, -np.inf, np.nan, -np.finfo(t).tiny, -np.finfo(t).smallest_subnormal):
            assert math.isnan(f(t(x)))
    x = np.array(LOG_F64_EDGES)
    check("log_f64 edges", mpf_log, x, apply_log(x), F64)
    x32 = np.array([1e-45, 1.1754942e-38, 1.1754944e-38, 3.4028235e38, 1 - 2**-24, 1 + 2**-23,
                    0.70710677, 1.4142135, 2.0, 0.5], np.float32)
    check("log_f32 edges", mpf_log, x32, apply_log(x32), F32)
    for t, fmt, k in ((np.float64, F64, np.arange(-1074, 1024)),
                      (np.float32, F32, np.arange(-149, 128))):
        x = np.exp2(k).astype(t)
        check(f"log {t.__name__} powers of 2", mpf_log, x, apply_log(x), fmt)


@settings(max_examples=2000, deadline=None)
@given(st.floats())
def test_exp_f64_property(x):
    y = exp_f64(x)
    if math.isnan(x):
        assert math.isnan(y)
    elif x >= 710.0 or x <= -746.0 or math.isinf(x):
        assert y == (np.inf if x > 0 else 0.0)
    else:
        assert ulp_error(y, mpf_exp(from_float(x), PREC), **F64) < 1.0


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0.0, exclude_min=True, allow_infinity=False))
def test_log_f64_property(x):
    assert ulp_error(log_f64(x), mpf_log(from_float(x), PREC), **F64) < 1.0


# ---- determinism oracle: the same algorithms in plain Python/numpy-scalar arithmetic ----
def _bits_to_float(bits, f32):
    if f32:
        return np.float32(struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0])
    return struct.unpack("<d", struct.pack("<Q", bits & 0xFFFFFFFFFFFFFFFF))[0]


def exp_oracle(x, f32=False):
    if f32:
        t, lo_, hi_, inv, l2h, l2l = (np.float32, X._FLO, X._FHI, X._FINVLN2,
                                      X._FLN2HI, X._FLN2LO)
        coef, bias, shift = (X._FE2, X._FE3, X._FE4, X._FE5, X._FE6, X._FE7, X._FE8), 127, 23
    else:
        t, lo_, hi_, inv, l2h, l2l = float, -746.0, 710.0, X._INVLN2, X._LN2HI, X._LN2LO
        coef = (X._E2, X._E3, X._E4, X._E5, X._E6, X._E7, X._E8, X._E9, X._E10, X._E11,
                X._E12, X._E13)
        bias, shift = 1023, 52
    one = t(1.0)
    xc = x if x > lo_ else lo_
    xc = xc if xc < hi_ else hi_
    kf = t(np.rint(xc * inv))
    hi = xc - kf * l2h
    lo = kf * l2l
    r = hi - lo
    c = coef
    r2 = r * r
    if f32:
        q = ((c[0] + r * c[1]) + r2 * (c[2] + r * c[3])) \
            + (r2 * r2) * ((c[4] + r * c[5]) + r2 * c[6])
    else:
        r4 = r2 * r2
        q = (((c[0] + r * c[1]) + r2 * (c[2] + r * c[3]))
             + r4 * ((c[4] + r * c[5]) + r2 * (c[6] + r * c[7]))) \
            + (r4 * r4) * ((c[8] + r * c[9]) + r2 * (c[10] + r * c[11]))
    tt = r2 * q - lo
    u = one + hi
    p = u + (((one - u) + hi) + tt)
    k = int(kf)
    k1 = k >> 1
    s1 = _bits_to_float((k1 + bias) << shift, f32)
    s2 = _bits_to_float((k - k1 + bias) << shift, f32)
    y = (p * s1) * s2
    return x if x != x else y


def log_oracle(x, f32=False):  # positive finite x only
    if f32:
        t, lg = np.float32, (X._FLG1, X._FLG2, X._FLG3, X._FLG4)
        l2h, l2l, tiny, scale, ns, bias, sh, c = (X._FLOG_LN2HI, X._FLOG_LN2LO, X._FTINY,
                                                   X._FTWO25, 25, 127, 23, X._FSQRT_HALF_BITS)
    else:
        t, lg = float, (X._LG1, X._LG2, X._LG3, X._LG4, X._LG5, X._LG6, X._LG7)
        l2h, l2l, tiny, scale, ns, bias, sh, c = (X._LN2HI, X._LN2LO, X._TINY64, X._TWO54,
                                                   54, 1023, 52, X._SQRT_HALF_BITS)
    sub = x < tiny
    xs = x * scale if sub else x
    fmt = ("<f", "<I") if f32 else ("<d", "<Q")
    ix = struct.unpack(fmt[1], struct.pack(fmt[0], xs))[0] + ((bias << sh) - c)
    k = (ix >> sh) - bias - (ns if sub else 0)
    f = _bits_to_float((ix & ((1 << sh) - 1)) + c, f32) - t(1.0)
    s = f / (t(2.0) + f)
    z = s * s
    w = z * z
    if f32:
        t1, t2 = w * (lg[1] + w * lg[3]), z * (lg[0] + w * lg[2])
    else:
        t1 = w * (lg[1] + w * (lg[3] + w * lg[5]))
        t2 = z * (lg[0] + w * (lg[2] + w * (lg[4] + w * lg[6])))
    hfsq = t(0.5) * f * f
    dk = t(k)
    return (((s * (hfsq + (t2 + t1)) + dk * l2l) - hfsq) + f) + dk * l2h


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # exp -> inf
def test_same_bits_as_python_oracle():
    """No contraction or reordering: the njit results equal the scalar oracles bit for bit."""
    rng = np.random.default_rng(5)
    for t, f32 in ((np.float64, False), (np.float32, True)):
        xe = exp_sample(rng, t, 8000)
        xl = log_sample(rng, t, 8000)
        ye, yl = apply_exp(xe), apply_log(xl)
        oe = np.array([exp_oracle(t(v), f32) for v in xe.tolist()], t)
        ol = np.array([log_oracle(t(v), f32) for v in xl.tolist()], t)
        assert np.array_equal(ye.view(np.uint8), oe.view(np.uint8))
        assert np.array_equal(yl.view(np.uint8), ol.view(np.uint8))


@njit(error_model="numpy", cache=True)
def apply_flag(a, libm):
    e, g = np.empty_like(a), np.empty_like(a)
    for i in range(a.size):
        e[i] = xexp(a[i], libm)
        g[i] = xlog(a[i], libm)
    return e, g


@njit(error_model="numpy", cache=True)
def apply_libm_literal(a):
    e, g = np.empty_like(a), np.empty_like(a)
    for i in range(a.size):
        e[i] = xexp(a[i], True)
        g[i] = xlog(a[i], True)
    return e, g


def test_libm_dispatch():
    x = np.random.default_rng(6).uniform(1e-3, 700.0, 5000)
    ref_e = np.array([math.exp(v) for v in x.tolist()])
    ref_l = np.array([math.log(v) for v in x.tolist()])
    for e, g in (apply_flag(x, True), apply_libm_literal(x)):
        assert np.array_equal(e.view(np.int64), ref_e.view(np.int64))
        assert np.array_equal(g.view(np.int64), ref_l.view(np.int64))
    e, g = apply_flag(x, False)
    assert np.array_equal(e, apply_exp(x)) and np.array_equal(g, apply_log(x))
    x32 = x.astype(np.float32)
    e, g = apply_flag(x32, True)
    assert e.dtype == g.dtype == np.float32
    assert np.array_equal(apply_flag(x32, False)[0], apply_exp(x32))
    assert xexp(1.0, True) == math.exp(1.0) and xlog(3.0, False) == log_f64(3.0)
    assert isinstance(xexp(np.float32(1.0), False), float)  # numba boxes float32 as float
    assert np.float32(xexp(np.float32(1.0), False)) == exp_f32(np.float32(1.0))


@njit(error_model="numpy", cache=True)
def lanes_f64(a, out):
    for l in range(64):
        out[l] = 1.0 / (1.0 + xexp(-a[l], False))


@njit(error_model="numpy", cache=True)
def lanes_f32(a, out):
    one = np.float32(1.0)
    for l in range(64):
        out[l] = one / (one + xexp(-a[l], False)) + xlog(a[l], False)


PACKED = r"\b(v?(?:add|sub|mul|div)p{})\s[^\n]*%[xyz]mm"


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="x86 mnemonics")
def test_lane_loops_vectorise():
    for fn, t, kind in ((lanes_f64, np.float64, "d"), (lanes_f32, np.float32, "s")):
        a = np.linspace(0.5, 3.0, 64).astype(t)
        out = np.empty(64, t)
        fn(a, out)
        f32, one = t is np.float32, t(1.0)
        ref = [one / (one + exp_oracle(t(-v), f32)) + (log_oracle(t(v), f32) if f32 else 0.0)
               for v in a.tolist()]
        assert np.array_equal(out, np.array(ref, t))
        # numba cannot show the assembly of cache-loaded code: compile an uncached twin
        twin = njit(error_model="numpy")(fn.py_func)
        twin(a, out)
        asm = twin.inspect_asm(twin.signatures[0])
        packed = re.findall(PACKED.format(kind), asm)
        print(f"\n{fn.__name__}: {len(packed)} packed ops, e.g. {sorted(set(packed))}")
        assert len(packed) >= 10
        assert not re.search(r"\bv?f(n)?m(add|sub)", asm)  # no FMA contraction
        if kind == "s":
            assert not re.search(r"cvtps2pd|pd\s[^\n]*%[yz]mm", asm)  # stays float32


def test_cacheable(tmp_path):
    """What one process compiles, a fresh process loads from numba's cache. Both are fresh
    processes on a cache folder of their own, so nothing this test process (or an earlier
    test) compiled or cached can make it pass or fail."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np\nfrom xorsweep.kernels import xmath as X\n"
            "for v in (1.0, np.float32(1.0)):\n"
            "    for libm in (False, True):\n"
            "        X.xexp(v, libm), X.xlog(v, libm)\n"
            "fs = (X._xexp_jit, X._xlog_jit)\n"
            "print(sum(sum(f.stats.cache_misses.values()) for f in fs),"
            " sum(len(f.signatures) for f in fs))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first, out = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env=env).stdout.split() for _ in range(2))
    assert int(first[0]) >= 2  # the control: an empty cache compiles
    assert out[0] == "0" and int(out[1]) >= 2  # loaded from the cache: nothing compiled


@pytest.mark.parametrize("module", ["xmath", "lanes", "gd", "seed", "evaluate", "lyapunov", "batch"])
def test_every_cached_kernel_uses_the_keyed_cache_folder_whichever_module_comes_first(module, tmp_path):
    """numba chooses a function's cache folder when it is decorated: a kernel module imported
    on its own (a benchmark importing ``kernels.gd``) used to cache next to its source, in a
    folder numba keys only by that one file's timestamp, so an edited helper module left
    stale code there. Every cached function of every kernel module must use the folder keyed
    by all the kernels' sources (``kernels._cache``), in a fresh process importing ``module``
    first."""
    import subprocess
    import sys
    code = (f"import importlib, numba\nimportlib.import_module('xorsweep.kernels.{module}')\n"
            "import sys\nfrom numba.core.registry import CPUDispatcher\n"
            "mods = [m for n, m in sys.modules.items() if n.startswith('xorsweep.kernels.')]\n"
            "ds = {f'{m.__name__}.{k}': v for m in mods for k, v in vars(m).items()\n"
            "      if isinstance(v, CPUDispatcher) and v._cache is not None and type(v._cache).__name__ != 'NullCache'}\n"
            "print(numba.config.CACHE_DIR)\n"
            "for n, d in sorted(ds.items()):\n    print(n, d._cache._cache_path)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}).stdout.splitlines()
    folder, paths = out[0], dict(line.split(" ", 1) for line in out[1:])
    assert folder.startswith(str(tmp_path)) and len(paths) >= 3
    assert {n: p for n, p in paths.items() if not p.startswith(folder)} == {}


# ---- the exact-fma variant ------------------------------------------------------------
@njit(error_model="numpy", cache=True)
def apply_exp_fma(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = xexp(a[i], X.EXACT_FMA)
    return out


@njit(error_model="numpy", cache=True)
def apply_log_fma(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = xlog(a[i], X.EXACT_FMA)
    return out


@njit(error_model="numpy", cache=True)
def apply_exp_fma2(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = xexp(a[i], X.EXACT_FMA2)
    return out


@pytest.mark.parametrize("name, sample, apply, exact, dtype, fmt, seed, n", [
    ("exp_fma2_f64", exp_sample, apply_exp_fma2, mpf_exp, np.float64, F64, 15, 120_000),
    ("exp_fma2_f32", exp_sample, apply_exp_fma2, mpf_exp, np.float32, F32, 16, 60_000),
    ("exp_fma_f64", exp_sample, apply_exp_fma, mpf_exp, np.float64, F64, 11, 120_000),
    ("log_fma_f64", log_sample, apply_log_fma, mpf_log, np.float64, F64, 12, 120_000),
    ("exp_fma_f32", exp_sample, apply_exp_fma, mpf_exp, np.float32, F32, 13, 60_000),
    ("log_fma_f32", log_sample, apply_log_fma, mpf_log, np.float32, F32, 14, 60_000),
])
def test_fma_accuracy(name, sample, apply, exact, dtype, fmt, seed, n):
    x = sample(np.random.default_rng(seed), dtype, n)
    y = apply(x)
    assert y.dtype == dtype
    check(name, exact, x, y, fmt)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_fma_special_values_and_edges():
    for f, t in ((X.exp_fma_f64, np.float64), (X.exp_fma_f32, np.float32)):
        assert f(t(0.0)) == 1.0 and f(t(-0.0)) == 1.0
        assert f(t(np.inf)) == np.inf and f(t(-np.inf)) == 0.0 and math.isnan(f(t(np.nan)))
        assert f(np.finfo(t).max) == np.inf and f(-np.finfo(t).max) == 0.0
    for f, t in ((X.log_fma_f64, np.float64), (X.log_fma_f32, np.float32)):
        y = f(t(1.0))
        assert y == 0.0 and math.copysign(1.0, y) == 1.0
        assert f(t(0.0)) == -np.inf and f(t(-0.0)) == -np.inf and f(t(np.inf)) == np.inf
        for v in (-1.0, -np.inf, np.nan, -np.finfo(t).tiny, -np.finfo(t).smallest_subnormal):
            assert math.isnan(f(t(v)))
    x = np.array(EXP_F64_EDGES)
    check("exp_fma_f64 edges", mpf_exp, x, apply_exp_fma(x), F64)
    assert X.exp_fma_f64(709.782712893384) < np.inf and X.exp_fma_f64(709.7827128933841) == np.inf
    assert X.exp_fma_f64(-745.1332191019411) == 5e-324 and X.exp_fma_f64(-745.1332191019412) == 0.0
    # around the reduction's breakpoints (k + 1/2) ln2, where |r| is largest
    k = np.arange(-1075, 1025)
    xt = np.concatenate([(k + 0.5) * math.log(2) + d for d in (0.0, 1e-12, -1e-12)])
    check("exp_fma_f64 breakpoints", mpf_exp, xt, apply_exp_fma(xt), F64)
    x = np.array(LOG_F64_EDGES)
    check("log_fma_f64 edges", mpf_log, x, apply_log_fma(x), F64)
    x32 = np.array([88.72283, 88.72284, -87.33654, -87.33655, -103.27893, -103.97208,
                    -103.97209, 1e-45, -1e-45, 1.0, -1.0], np.float32)
    check("exp_fma_f32 edges", mpf_exp, x32, apply_exp_fma(x32), F32)
    for t, fmt, k in ((np.float64, F64, np.arange(-1074, 1024)), (np.float32, F32, np.arange(-149, 128))):
        x = np.exp2(k).astype(t)
        check(f"log_fma {t.__name__} powers of 2", mpf_log, x, apply_log_fma(x), fmt)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_fma2_special_values_and_edges():
    for f, t in ((X.exp_fma2_f64, np.float64), (X.exp_fma2_f32, np.float32)):
        assert f(t(0.0)) == 1.0 and f(t(-0.0)) == 1.0
        assert f(t(np.inf)) == np.inf and f(t(-np.inf)) == 0.0 and math.isnan(f(t(np.nan)))
        assert f(np.finfo(t).max) == np.inf and f(-np.finfo(t).max) == 0.0
        assert math.isnan(f(t(-np.nan))) and f(np.finfo(t).smallest_subnormal) == 1.0
    x = np.array(EXP_F64_EDGES)
    check("exp_fma2_f64 edges", mpf_exp, x, apply_exp_fma2(x), F64)
    assert X.exp_fma2_f64(709.782712893384) < np.inf and X.exp_fma2_f64(709.7827128933841) == np.inf
    assert X.exp_fma2_f64(-745.1332191019411) == 5e-324 and X.exp_fma2_f64(-745.1332191019412) == 0.0
    # the reduction's breakpoints (k + 1/2) ln2 over every k, so every scaling path: k = 1024
    # (2**(k-1) = 2**1023), the normal range, the subnormal results and below them
    k = np.arange(-1078, 1026)
    xt = np.concatenate([(k + 0.5) * math.log(2) + d for d in (0.0, 1e-12, -1e-12)] + [k * math.log(2)])
    check("exp_fma2_f64 breakpoints", mpf_exp, xt, apply_exp_fma2(xt), F64)
    k32 = np.arange(-152, 130)
    x32 = np.concatenate([((k32 + 0.5) * math.log(2)).astype(np.float32), (k32 * math.log(2)).astype(np.float32),
                          np.array([88.72283, 88.72284, -87.33654, -87.33655, -103.27893, -103.97208,
                                    -103.97209, 1e-45, -1e-45, 1.0, -1.0], np.float32)])
    check("exp_fma2_f32 edges and breakpoints", mpf_exp, x32, apply_exp_fma2(x32), F32)
    # every subnormal result binade, both float types, against the exact value
    for t, fmt, lo, hi in ((np.float64, F64, -745.2, -708.3), (np.float32, F32, -104.0, -87.3)):
        x = np.linspace(lo, hi, 20_001).astype(t)
        check(f"exp_fma2 {t.__name__} subnormal results", mpf_exp, x, apply_exp_fma2(x), fmt)


@njit(error_model="numpy", cache=True)
def apply_every_exp(a, out):
    """Each own exp variant over a, in lane loops (vectorised, as in the kernels)."""
    for i in range(a.size):
        out[0, i] = xexp(a[i], X.EXACT)
    for i in range(a.size):
        out[1, i] = xexp(a[i], X.EXACT_FMA)
    for i in range(a.size):
        out[2, i] = xexp(a[i], X.EXACT_FMA2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_own_exps_return_a_nan_with_its_own_bits(dtype):
    """NaN in, the same NaN out (sign, quiet or signalling, payload) from exact and
    exact-fma, in vectorised loops; exact-fma2 returns a NaN (its payload is the machine's
    NaN propagation: on x86 the argument's, quieted)."""
    ity, top = (np.uint64, 0x7FF0000000000000) if dtype == np.float64 else (np.uint32, 0x7F800000)
    payload = np.array([1, 2, 0x402, 0x7FF, 0x800, 12345, top >> 1], ity) % ity(top >> 1) + ity(1)
    quiet = ity(top | (top >> 11 if dtype == np.float64 else top >> 8))
    pats = np.concatenate([ity(top) | payload, quiet | payload, (ity(top) | payload) | ity(1 << (63 if dtype == np.float64 else 31))])
    x = np.concatenate([pats, pats[:5]]).view(dtype)  # 26 lanes: a vector body and a tail
    assert np.isnan(x).all()
    out = np.empty((3, x.size), dtype)
    apply_every_exp(x, out)
    for row in out[:2]:
        np.testing.assert_array_equal(row.view(ity), x.view(ity))
    assert np.isnan(out[2]).all()
    if platform.machine().lower() in ("x86_64", "amd64"):
        quieted = x.view(ity) | ity(1 << (51 if dtype == np.float64 else 22))
        np.testing.assert_array_equal(out[2].view(ity), quieted)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 MXCSR")
def test_own_exps_do_not_depend_on_denormals_are_zero():
    """With the CPU's DAZ and FTZ flags set (some libraries built with fast-math set them),
    every normal result of the own exps is unchanged: no subnormal constant or operand on
    the way to a normal result (exact-fma2 scales its small results by the normal 2**-1022)."""
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    def mxcsr_call(builder, name, ptr):
        fn = builder.module.declare_intrinsic(name, fnty=ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))]))
        builder.call(fn, [builder.bitcast(ptr, ir.PointerType(ir.IntType(8)))])

    @intrinsic
    def swap_mxcsr(typingctx, v):
        def codegen(context, builder, sig, args):
            old, new = builder.alloca(ir.IntType(32)), builder.alloca(ir.IntType(32))
            mxcsr_call(builder, "llvm.x86.sse.stmxcsr", old)
            builder.store(builder.trunc(args[0], ir.IntType(32)), new)
            mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", new)
            return builder.zext(builder.load(old), ir.IntType(64))
        return types.int64(types.int64), codegen

    @njit(error_model="numpy")
    def under(flags, a, out):
        old = swap_mxcsr(flags)
        swap_mxcsr(old | flags)
        apply_every_exp(a, out)
        swap_mxcsr(old)

    for t, lo, hi, tiny in ((np.float64, -708.39, -600.0, np.finfo(np.float64).tiny),
                            (np.float32, -87.33, -60.0, np.finfo(np.float32).tiny)):
        x = np.concatenate([np.linspace(lo, hi, 5000), [lo, -700.0 if t == np.float64 else -87.0]]).astype(t)
        plain, daz = np.empty((3, x.size), t), np.empty((3, x.size), t)
        apply_every_exp(x, plain)
        assert (plain >= tiny).all()  # every result is normal
        under(0x8040, x, daz)  # FTZ | DAZ
        np.testing.assert_array_equal(daz, plain)


@pytest.mark.parametrize("fn", [X.exp_fma_f64, X.exp_fma2_f64], ids=lambda f: f.__name__)
@settings(max_examples=1500, deadline=None)
@given(st.floats())
def test_exp_fma_f64_property(fn, x):
    y = fn(x)
    if math.isnan(x):
        assert math.isnan(y)
    elif x >= 710.0 or x <= -746.0 or math.isinf(x):
        assert y == (np.inf if x > 0 else 0.0)
    else:
        assert ulp_error(y, mpf_exp(from_float(x), PREC), **F64) < 1.0


@settings(max_examples=1500, deadline=None)
@given(st.floats(min_value=0.0, exclude_min=True, allow_infinity=False))
def test_log_fma_f64_property(x):
    assert ulp_error(X.log_fma_f64(x), mpf_log(from_float(x), PREC), **F64) < 1.0


def test_fma_dispatch():
    x = np.random.default_rng(7).uniform(1e-3, 700.0, 3000)
    e, g = apply_flag(x, X.EXACT_FMA)
    assert np.array_equal(e, apply_exp_fma(x)) and np.array_equal(g, apply_log_fma(x))
    assert np.array_equal(apply_flag(x, X.EXACT)[0], apply_exp(x))
    assert np.array_equal(apply_flag(x, X.LIBM)[1], np.array([math.log(v) for v in x.tolist()]))
    assert xexp(1.0, X.EXACT_FMA) == X.exp_fma_f64(1.0) and xlog(3.0, X.EXACT_FMA) == X.log_fma_f64(3.0)
    e2, g2 = apply_flag(x, X.EXACT_FMA2)  # a run-time code; exact-fma2's log is exact-fma's
    assert np.array_equal(e2, apply_exp_fma2(x)) and np.array_equal(g2, g) and not np.array_equal(e2, e)
    assert xexp(1.0, X.EXACT_FMA2) == X.exp_fma2_f64(1.0) and xexp(np.float32(1.0), X.EXACT_FMA2) == X.exp_fma2_f32(
        np.float32(1.0))


def _lanes_arith(code, f32):
    """An uncached lane loop with arith ``code`` a compile-time constant (numba cannot show
    the assembly of cache-loaded code)."""
    if f32:
        def fn(a, out):
            one = np.float32(1.0)
            for l in range(64):
                out[l] = one / (one + xexp(-a[l], code)) + xlog(a[l], code)
    else:
        def fn(a, out):
            for l in range(64):
                out[l] = 1.0 / (1.0 + xexp(-a[l], code)) + xlog(a[l], code)

    return njit(error_model="numpy")(fn)


FMA_OPS = r"\bv?f(n)?m(add|sub)"


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 mnemonics")
@pytest.mark.parametrize("t, kind", [(np.float64, "d"), (np.float32, "s")])
def test_exp_fma2_alone_uses_packed_hardware_fma(t, kind):
    """exact-fma2's exp by itself (its log is exact-fma's, checked below): packed FMA."""
    @njit(error_model="numpy")
    def lanes(a, out):
        for l in range(64):
            out[l] = xexp(a[l], X.EXACT_FMA2)

    a = np.linspace(-5.0, 5.0, 64).astype(t)
    out = np.empty(64, t)
    lanes(a, out)
    fn = X.exp_fma2_f64 if t == np.float64 else X.exp_fma2_f32
    assert np.array_equal(out, np.array([fn(v) for v in a.tolist()], t))
    asm = lanes.inspect_asm(lanes.signatures[0])
    # 12 fma written in float64 (k, the reduction, 9 in the polynomial, t), 7 in float32
    assert len(re.findall(r"vfn?m(add|sub)\d+p" + kind + r"\s[^\n]*%[yz]mm", asm)) >= 7


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 mnemonics")
@pytest.mark.parametrize("f32", [False, True])
def test_fma_lane_loop_uses_hardware_fma_and_vectorises(f32):
    """exact-fma and exact-fma2 compile to packed hardware FMA; exact has no FMA at all (no
    contraction)."""
    t, kind = (np.float32, "s") if f32 else (np.float64, "d")
    a = np.linspace(0.5, 3.0, 64).astype(t)
    fns = {X.EXACT_FMA: (X.exp_fma_f32, X.log_fma_f32) if f32 else (X.exp_fma_f64, X.log_fma_f64),
           X.EXACT_FMA2: (X.exp_fma2_f32, X.log_fma_f32) if f32 else (X.exp_fma2_f64, X.log_fma_f64),
           X.EXACT: (exp_f32, log_f32) if f32 else (exp_f64, log_f64)}
    for code, want_fma in ((X.EXACT_FMA, True), (X.EXACT_FMA2, True), (X.EXACT, False)):
        fn = _lanes_arith(code, f32)
        out = np.empty(64, t)
        fn(a, out)
        e, g = fns[code]
        one = t(1.0)
        assert np.array_equal(out, np.array([one / (one + e(t(-v))) + g(t(v)) for v in a.tolist()], t))
        asm = fn.inspect_asm(fn.signatures[0])
        n_fma = len(re.findall(FMA_OPS, asm))
        packed = re.findall(PACKED.format(kind), asm)
        print(f"\narith {code} {t.__name__}: {n_fma} fma instructions, {len(packed)} packed ops")
        assert len(packed) >= 10
        assert (n_fma > 0) == want_fma
        if want_fma:
            assert re.search(r"vfn?m(add|sub)\d+p" + kind + r"\s[^\n]*%[yz]mm", asm)  # packed FMA
        if f32:
            assert not re.search(r"cvtps2pd|pd\s[^\n]*%[yz]mm", asm)  # stays float32


@njit(error_model="numpy", cache=True)
def _plus1_mismatches_f32(start, stop):
    """Over the float32 bit patterns [start, stop): how many x give xexp_plus1(x) and
    1 + xexp(x) different bits, exact-fma2 as in the kernels (the code imported by name: a
    literal, typed as such, selecting the function at compile time) and every variant
    through a run-time code (``X.CODE`` is typed int64), including exact-fma2's."""
    bad = 0
    one = np.float32(1.0)
    for i in range(start, stop):
        x = X._i2f32(np.int32(i - 2**31))
        bad += X._f2u(xexp_plus1(x, EXACT_FMA2)) != X._f2u(one + xexp(x, EXACT_FMA2))
    for code in (X.EXACT, X.EXACT_FMA, X.EXACT_FMA2, X.LIBM):
        for i in range(start, stop, 4099):
            x = X._i2f32(np.int32(i - 2**31))
            bad += X._f2u(xexp_plus1(x, code)) != X._f2u(one + xexp(x, code))
    for flag in (False, True):  # a bool: libm or exact
        for i in range(start, stop, 65537):
            x = X._i2f32(np.int32(i - 2**31))
            bad += X._f2u(xexp_plus1(x, flag)) != X._f2u(one + xexp(x, flag))
    return bad


@njit(error_model="numpy", cache=True)
def _plus1_lanes(a, out):
    """Lane loops (vectorised, as in the kernels), in a's float type: rows xexp_plus1 and
    1 + xexp for exact-fma2 as a literal code, then both through the run-time code of every
    variant."""
    one = a.dtype.type(1.0)
    for i in range(a.size):
        out[0, i] = xexp_plus1(a[i], EXACT_FMA2)
    for i in range(a.size):
        out[1, i] = one + xexp(a[i], EXACT_FMA2)
    for k, code in enumerate((X.EXACT, X.EXACT_FMA, X.EXACT_FMA2, X.LIBM)):
        for i in range(a.size):
            out[2 + 2 * k, i] = xexp_plus1(a[i], code)
            out[3 + 2 * k, i] = one + xexp(a[i], code)


def test_exp_plus1_is_one_plus_exp_bit_for_bit():
    """A sigmoid's denominator 1 + exp(x): exact-fma2's xexp_plus1 skips the path of
    subnormal results (below -708, float32 -86, it raises x: 1 + exp rounds to 1 either way)
    and gives the bits of 1 + xexp for every float32 (all 2**32 of them) and for float64
    bit patterns, the ranges around its clamp and the subnormal results', and special values,
    as the kernels call it (a literal code) and through a run-time code; the other variants
    compute 1 + xexp."""
    assert _plus1_mismatches_f32(0, 2**32) == 0
    rng = np.random.default_rng(11)
    tiny = np.finfo(np.float64).tiny
    x = np.concatenate([
        random_bits(rng, 1 << 20, np.float64),
        rng.uniform(-800.0, 800.0, 1 << 18), np.linspace(-760.0, -690.0, 1 << 18),
        np.nextafter(-708.0, [-np.inf, np.inf]), [-708.0, -708.3964185322641, -745.1332191019411, -709.78, 709.78,
                                                  709.79, 710.0, 0.0, -0.0, tiny, -tiny, 5e-324, -5e-324,
                                                  np.inf, -np.inf, np.nan, -np.nan],
        np.array([0x7FF0000000000001, 0x7FF8000000012345, 0xFFF0000000000042], np.uint64).view(np.float64)])
    x32 = np.concatenate([np.linspace(-110.0, -80.0, 1 << 16), rng.uniform(-100.0, 100.0, 1 << 16)]).astype(np.float32)
    for a in (x, x32):
        out = np.empty((10, a.size), a.dtype)
        with np.errstate(over="ignore"):
            _plus1_lanes(a, out)
        bits = out.view(np.uint64 if a.dtype == np.float64 else np.uint32)
        for k in range(0, 10, 2):
            np.testing.assert_array_equal(bits[k], bits[k + 1])
        np.testing.assert_array_equal(bits[0], bits[6])  # the literal and the run-time code agree
