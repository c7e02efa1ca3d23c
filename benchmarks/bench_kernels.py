"""Speed of the training kernels against plain numpy, in network-steps per second.

Run: python benchmarks/bench_kernels.py [--quick] [--repeats N] [--only rules]

Each kernel is called once to warm up (compile or load from the on-disk cache), then
timed; the best of ``--repeats`` runs is reported, since this machine is shared and
noisy. The numpy baselines are single-threaded: a vectorised batch of the gd step
(one array per parameter, shaped (B,)) and the book-style one-network-at-a-time loop of
the seed rule (tests/reference.py), which is what the blog author ran. The ``rules``
section gives one speed line per training rule, each gradient with each update order
(float64, exact; the numerical gradient on fewer networks and steps: it is ~20x slower).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from xorsweep import kernels  # noqa: E402
from xorsweep.kernels.vocab import GRADIENTS, UPDATES, rule_name  # noqa: E402
import reference  # noqa: E402

TARGETS = {"tracking keeps": 0.9, "gd float64": 40e6, "gd float32": 100e6, "seed vs numpy loop": 1000.0}


def starts(B, H=3, std=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return (std * rng.standard_normal((B, 2, H)), std * rng.standard_normal((B, H)),
            std * rng.standard_normal((B, H, 2)), std * rng.standard_normal((B, 2)))


def best_time(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def kernel_rate(s, repeats, steps, **kw):
    """Network-steps/s of kernels.train, after one warm-up call on the same shapes."""
    B = s[0].shape[0]
    kernels.train(*(a[:128] for a in s), steps=1, threads=2, **kw)  # two chunks: the parallel entry
    return B * steps / best_time(lambda: kernels.train(*s, steps=steps, threads=2, **kw), repeats)


def numpy_gd(W1, b1, W2, b2, lr, steps):
    """The gd step batched over B networks with numpy, one flat (B,) array per parameter:
    the fastest plain-numpy form we know (no BLAS, no 3-D temporaries). Two-class softmax
    with one exp, as the kernels do."""
    H = W1.shape[2]
    w0 = [W1[:, 0, j].copy() for j in range(H)]
    w1 = [W1[:, 1, j].copy() for j in range(H)]
    b = [b1[:, j].copy() for j in range(H)]
    v = [[W2[:, j, k].copy() for k in range(2)] for j in range(H)]
    c = [b2[:, k].copy() for k in range(2)]
    t = ((1, 0), (0, 1), (0, 1), (1, 0))
    for _ in range(steps):
        z = [[1 / (1 + np.exp(-a)) for a in (b[j], w0[j] + b[j], w1[j] + b[j], (w0[j] + w1[j]) + b[j])]
             for j in range(H)]
        dy = []
        for r in range(4):
            a = [sum(z[j][r] * v[j][k] for j in range(H)) + c[k] for k in range(2)]
            e = np.exp(-np.abs(a[1] - a[0]))
            big, small = 1 / (1 + e), e / (1 + e)
            first = a[1] <= a[0]
            y = (np.where(first, big, small), np.where(first, small, big))
            dy.append([(y[k] - t[r][k]) * 0.25 for k in range(2)])
        for j in range(H):
            zj, vj = z[j], v[j]
            d = [(1 - zj[r]) * zj[r] * (dy[r][0] * vj[0] + dy[r][1] * vj[1]) for r in range(4)]
            w0[j] -= lr * (d[1] + d[3])
            w1[j] -= lr * (d[2] + d[3])
            b[j] -= lr * (((d[0] + d[1]) + d[2]) + d[3])
            for k in range(2):
                vj[k] -= lr * sum(zj[r] * dy[r][k] for r in range(4))
        for k in range(2):
            c[k] -= lr * sum(dy[r][k] for r in range(4))
    return w0, w1, b, v, c


def numpy_seed_per_network(s, n, steps):
    def run():
        for i in range(n):
            p = reference.start(s[0][i], s[2][i], s[1][i], s[3][i])
            reference.train_seed(p, 5.0, steps)
    return best_time(run, 1) / n


def row(name, value, unit, target=None):
    goal = "" if target is None else f"   target >= {target:.3g}  {'OK' if value >= target else 'BELOW'}"
    print(f"{name:<34} {value:12.4g} {unit}{goal}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["gd", "seed", "numpy", "tracking", "rules"], help="run one section only")
    args = ap.parse_args()
    q = args.quick
    B_gd, gd_steps = (4096, 50) if q else (65_536, 1000)
    B_np, np_steps = (4096, 5) if q else (65_536, 20)
    B_seed, seed_steps, n_ref = (512, 10, 1) if q else (8192, 100, 5)
    reps = 1 if q else args.repeats
    print(f"H=3, threads=2, best of {reps}; gd: B={B_gd}, {gd_steps} steps; seed: B={B_seed}, {seed_steps} steps")

    if args.only == "tracking":
        s = starts(B_gd)
        for _ in range(2):  # interleaved: the machine is shared, the load drifts
            on = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0)
            off = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0, track=False)
            row("gd float64 exact, tracking", on, "net-steps/s")
            row("gd float64 exact, no tracking", off, "net-steps/s")
            row("  tracking keeps", on / off, "of the speed", TARGETS["tracking keeps"])
    if args.only in (None, "gd"):
        s = starts(B_gd)
        f64 = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0)
        row("gd float64 exact", f64, "net-steps/s", TARGETS["gd float64"])
        bare = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0, track=False)
        row("gd float64 exact, no tracking", bare, "net-steps/s")
        row("  tracking keeps", f64 / bare, "of the speed", TARGETS["tracking keeps"])
        f32 = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0, dtype="float32")
        row("gd float32 exact", f32, "net-steps/s", TARGETS["gd float32"])
        lm = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0, arith="libm")
        row("gd float64 libm", lm, "net-steps/s")
        row("  exact / libm", f64 / lm, "x")
        fm = kernel_rate(s, reps, gd_steps, rule="gd", lr=5.0, arith="exact-fma")
        row("gd float64 exact-fma", fm, "net-steps/s")
        row("  exact-fma / exact", fm / f64, "x")
    if args.only in (None, "gd", "numpy"):
        s = starts(B_np)
        nrate = B_np * np_steps / best_time(lambda: numpy_gd(*s, 5.0, np_steps), reps)
        row(f"gd numpy batch (B={B_np}, 1 thread)", nrate, "net-steps/s")
        if args.only is None or args.only == "gd":
            row("  kernel f64 / numpy batch", f64 / nrate, "x")
    if args.only in (None, "rules"):
        for gradient in GRADIENTS:
            B, n = (B_gd, gd_steps) if gradient == "analytic" else (B_seed, seed_steps)
            s = starts(B, std=0.1, seed=1)
            for update in UPDATES:
                rate = kernel_rate(s, reps, n, gradient=gradient, update=update, lr=5.0)
                name = rule_name(gradient, update)
                row(f"{gradient} + {update}" + (f" ({name})" if name else ""), rate, "net-steps/s")
    if args.only in (None, "seed"):
        s = starts(B_seed, std=0.1, seed=1)
        kernels.train(*(a[:128] for a in s), rule="seed", steps=1, threads=2)
        t_k = best_time(lambda: kernels.train(*s, rule="seed", steps=seed_steps, threads=2), reps) / B_seed
        row(f"seed kernel, {seed_steps} steps", t_k * 1e6, "us/network")
        t_ref = numpy_seed_per_network(s, n_ref, seed_steps)
        row(f"seed numpy loop ({n_ref} networks)", t_ref * 1e3, "ms/network")
        row("  seed kernel speed-up", t_ref / t_k, "x", TARGETS["seed vs numpy loop"])


if __name__ == "__main__":
    main()
