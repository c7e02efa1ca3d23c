"""Speed of kernels.xmath against the platform libm and numpy, in ns per element; with
``--accuracy N``, the ulp errors of every variant on N samples each against mpmath.

Run: python benchmarks/bench_xmath.py [--accuracy 1000000]  (single thread; the first run
compiles)

Each Numba loop walks a 1e7-element array in chunks of 64 lanes, the layout the
training kernels use. "stream" reads and writes the whole array (memory traffic
included); "in cache" repeats the same work on a 4096-element block that stays in L1/L2.
The rows take turns REPEATS times and each reports its best, so that the load of a shared
machine hits them alike. The accuracy samples are those of tests/test_xmath.py (all
binades, subnormals, the overflow and underflow edges, near 1 for log), only larger.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

from xorsweep.kernels.xmath import EXACT_FMA, xexp, xlog

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


@njit(error_model="numpy", cache=True)
def exp_fma(a, out):
    for c in range(a.size // 64):
        for l in range(64):
            out[c * 64 + l] = xexp(a[c * 64 + l], EXACT_FMA)


@njit(error_model="numpy", cache=True)
def log_fma(a, out):
    for c in range(a.size // 64):
        for l in range(64):
            out[c * 64 + l] = xlog(a[c * 64 + l], EXACT_FMA)


def np_exp(a, out):
    np.exp(a, out=out)


def np_log(a, out):
    np.log(a, out=out)


def ns_per_element(rows):
    """Best of REPEATS, the rows taking turns: the whole array once, and a cache-resident
    block N/BLOCK times."""
    best = {name: [np.inf, np.inf] for name, _, _ in rows}
    for name, fn, a in rows:
        fn(a[:BLOCK], np.empty_like(a[:BLOCK]))  # compile / warm up
    for _ in range(REPEATS):
        for name, fn, a in rows:
            out = np.empty_like(a)
            t = time.perf_counter()
            fn(a, out)
            best[name][0] = min(best[name][0], time.perf_counter() - t)
            blk, oblk = a[:BLOCK].copy(), out[:BLOCK].copy()
            t = time.perf_counter()
            for _ in range(N // BLOCK):
                fn(blk, oblk)
            best[name][1] = min(best[name][1], time.perf_counter() - t)
    return {k: (v[0] / N * 1e9, v[1] / (N // BLOCK * BLOCK) * 1e9) for k, v in best.items()}


def accuracy(n):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import test_xmath as T

    rng = np.random.default_rng(2024)
    print(f"{'ulp error vs mpmath':24s} {'n':>9s} {'max ulp':>8s} {'correctly rounded':>18s}")
    for dt, fmt in ((np.float64, T.F64), (np.float32, T.F32)):
        xe = T.exp_sample(rng, dt, n)
        xl = T.log_sample(rng, dt, n)
        for name, apply, exact, x in (("exp exact", T.apply_exp, T.mpf_exp, xe),
                                      ("exp exact-fma", T.apply_exp_fma, T.mpf_exp, xe),
                                      ("log exact", T.apply_log, T.mpf_log, xl),
                                      ("log exact-fma", T.apply_log_fma, T.mpf_log, xl)):
            err = T.errors(exact, x, apply(x), fmt)
            print(f"{name + ' ' + dt.__name__:24s} {x.size:9d} {err.max():8.4f} {np.mean(err <= 0.5):18.4%}",
                  flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", type=int, metavar="N", help="ulp errors on N samples per function instead")
    args = ap.parse_args()
    if args.accuracy:
        accuracy(args.accuracy)
        return
    rng = np.random.default_rng(0)
    x_exp = rng.uniform(-30.0, 30.0, N)
    x_log = np.exp(rng.uniform(-10.0, 10.0, N))
    rows = [
        ("exp_f64 (xexp, exact)", exp_own, x_exp),
        ("exp_fma_f64 (xexp, exact-fma)", exp_fma, x_exp),
        ("math.exp f64 (xexp, libm)", exp_libm, x_exp),
        ("np.exp f64", np_exp, x_exp),
        ("log_f64 (xlog, exact)", log_own, x_log),
        ("log_fma_f64 (xlog, exact-fma)", log_fma, x_log),
        ("math.log f64 (xlog, libm)", log_libm, x_log),
        ("np.log f64", np_log, x_log),
        ("exp_f32 (xexp, exact)", exp_own, x_exp.astype(np.float32)),
        ("exp_fma_f32 (xexp, exact-fma)", exp_fma, x_exp.astype(np.float32)),
        ("expf f32 (xexp, libm)", exp_libm, x_exp.astype(np.float32)),
        ("np.exp f32", np_exp, x_exp.astype(np.float32)),
        ("log_f32 (xlog, exact)", log_own, x_log.astype(np.float32)),
        ("log_fma_f32 (xlog, exact-fma)", log_fma, x_log.astype(np.float32)),
    ]
    res = ns_per_element(rows)
    print(f"{'ns/element, 1 thread':34s} {'stream 1e7':>11s} {'in cache':>9s}   load {os.getloadavg()[0]:.2f}")
    for name, _, _ in rows:
        stream, cache = res[name]
        print(f"{name:34s} {stream:11.3f} {cache:9.3f}", flush=True)


if __name__ == "__main__":
    main()
