"""Compile the kernels the tests need into numba's cache, on the machine's other core.

Started by ``conftest.pytest_sessionstart`` at the lowest priority (nice 19) while the
tests run: pytest is one process, and compiling every arithmetic x dtype x rule x entry
takes about 20 minutes of one core on a slow machine (AMD EPYC Zen 3 at 2.45 GHz,
2026-12-02), most of a test run's time. A kernel this process has cached, a test loads;
one it has not, the test compiles itself, as without it: this process changes what is
compiled where, never which code runs (numba writes a cache entry whole, data before
index), so it cannot make a test pass or fail.

Left to the test process itself: the default arithmetic in float64, the first thing the
tests train with, and what ``test_a_process_loading_the_cache_gets_the_bits_of_this_one``
needs this test process to have compiled (it compares that code with a process loading
it from the cache). The rest goes from the last-needed end: float32 first. The test files
that train with every arithmetic x dtype x rule x entry run last (``conftest.LAST``), by when
this process has compiled them; so does the machine-code check of ``tests/test_kernels.py``,
which decodes the cached object code rather than compiling uncached copies.
"""
import os

import numpy as np


def main():
    os.nice(19)
    from xorsweep import kernels
    from xorsweep.kernels.vocab import ARITHS, DEFAULT_ARITH

    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for arith in sorted(ARITHS, key=lambda a: a == DEFAULT_ARITH, reverse=True):
            if dtype == "float64" and arith == DEFAULT_ARITH:
                continue
            for rule in ("gd", "seed"):
                for H in (3, 2):  # the fused step (H = 3) and the staged one
                    for threads in (1, 2):  # the serial entries and the parallel ones (2 chunks)
                        s = (0.5 * rng.standard_normal((128, 2, H)), 0.5 * rng.standard_normal((128, H)),
                             0.5 * rng.standard_normal((128, H, 2)), 0.5 * rng.standard_normal((128, 2)))
                        kernels.train(*s, rule=rule, steps=2, dtype=dtype, arith=arith, threads=threads)


if __name__ == "__main__":
    main()
