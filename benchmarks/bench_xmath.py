"""Speed of kernels.xmath against the platform libm and numpy, in ns per element.

Run: python benchmarks/bench_xmath.py   (single thread; the first run compiles)

Each Numba loop walks a 1e7-element array in chunks of 64 lanes, the layout the
training kernels use. "stream" reads and writes the whole array (memory traffic
included); "in cache" repeats the same work on a 4096-element block that stays in L1/L2.
"""
import time

import numpy as np
from numba import njit

from xorsweep.kernels.xmath import xexp, xlog

N = 10_000_000
BLOCK = 4096
REPEATS = 5


@njit(error_model="numpy", cache=True)
def exp_own(a, out):
    for c in range(a.size // 64):
        for l in range(64):
            out[c * 64 + l] = xexp(a[c * 64 + l], False)


@njit(error_model="numpy", cache=True)
def exp_libm(a, out):
    for c in range(a.size // 64):
        for l in range(64):
            out[c * 64 + l] = xexp(a[c * 64 + l], True)


@njit(error_model="numpy", cache=True)
def log_own(a, out):
    for c in range(a.size // 64):
        for l in range(64):
            out[c * 64 + l] = xlog(a[c * 64 + l], False)


@njit(error_model="numpy", cache=True)
def log_libm(a, out):
    for c in range(a.size // 64):
        for l in range(64):
            out[c * 64 + l] = xlog(a[c * 64 + l], True)


def np_exp(a, out):
    np.exp(a, out=out)


def np_log(a, out):
    np.log(a, out=out)


def ns_per_element(fn, a):
    """Best of REPEATS: the whole array once, and a cache-resident block N/BLOCK times."""
    out = np.empty_like(a)
    fn(a[:BLOCK], out[:BLOCK])  # compile / warm up
    best_stream = best_cache = np.inf
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn(a, out)
        best_stream = min(best_stream, time.perf_counter() - t)
        blk, oblk = a[:BLOCK].copy(), out[:BLOCK].copy()
        t = time.perf_counter()
        for _ in range(N // BLOCK):
            fn(blk, oblk)
        best_cache = min(best_cache, time.perf_counter() - t)
    return best_stream / N * 1e9, best_cache / (N // BLOCK * BLOCK) * 1e9


def main():
    rng = np.random.default_rng(0)
    x_exp = rng.uniform(-30.0, 30.0, N)
    x_log = np.exp(rng.uniform(-10.0, 10.0, N))
    rows = [
        ("exp_f64 (xexp, libm=False)", exp_own, x_exp),
        ("math.exp f64 (xexp, libm=True)", exp_libm, x_exp),
        ("np.exp f64", np_exp, x_exp),
        ("log_f64 (xlog, libm=False)", log_own, x_log),
        ("math.log f64 (xlog, libm=True)", log_libm, x_log),
        ("np.log f64", np_log, x_log),
        ("exp_f32 (xexp, libm=False)", exp_own, x_exp.astype(np.float32)),
        ("expf f32 (xexp, libm=True)", exp_libm, x_exp.astype(np.float32)),
        ("np.exp f32", np_exp, x_exp.astype(np.float32)),
        ("log_f32 (xlog, libm=False)", log_own, x_log.astype(np.float32)),
    ]
    print(f"{'ns/element, 1 thread':34s} {'stream 1e7':>11s} {'in cache':>9s}")
    for name, fn, a in rows:
        stream, cache = ns_per_element(fn, a)
        print(f"{name:34s} {stream:11.3f} {cache:9.3f}", flush=True)


if __name__ == "__main__":
    main()
