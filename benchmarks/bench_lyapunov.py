"""Cost of the finite-time Lyapunov exponent: training with the twin against training alone.

Run: python benchmarks/bench_lyapunov.py [--quick] [--repeats N]

For each rule, the best of ``--repeats`` timings of ``kernels.train`` with and without
``lyapunov=True`` on the same starts (after a warm-up call), and their ratio; one thread
as a sweep's workers run, and two.
The twin doubles the network-steps; the pauses every k steps (renormalisation in numpy,
one kernel call per pause) add the rest. The issue's bound: ratio <= 2.5.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_kernels import best_time, starts  # noqa: E402
from xorsweep import kernels  # noqa: E402

LIMIT = 2.5


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    n = 1 if a.quick else 4
    cases = [("seed", 2048 * n, 100, None, 1), ("seed", 2048 * n, 100, 10, 1), ("gd", 8192 * n, 1000, None, 1),
             ("seed", 4096 * n, 100, None, 2), ("gd", 16384 * n, 1000, None, 2)]
    worst = 0.0
    print(f"{'rule':6}{'B':>8}{'steps':>7}{'record':>8}{'threads':>8}{'alone s':>10}{'with λ s':>10}{'ratio':>8}")
    for rule, B, steps, every, threads in cases:
        s = starts(B, std=0.1)
        kw = dict(rule=rule, steps=steps, threads=threads, record_every=every)
        kernels.train(*(x[:64] for x in s), **{**kw, "steps": 10, "record_every": None}, lyapunov=True)
        alone = best_time(lambda: kernels.train(*s, **kw), a.repeats)
        twin = best_time(lambda: kernels.train(*s, **kw, lyapunov=True), a.repeats)
        worst = max(worst, twin / alone)
        print(f"{rule:6}{B:>8}{steps:>7}{every or '-':>8}{threads:>8}{alone:>10.3f}{twin:>10.3f}{twin / alone:>8.2f}")
    print(f"worst ratio {worst:.2f} (limit {LIMIT})")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
