import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

# the tests' own cache=True functions call into the kernels: numba checks only their file's
# timestamp, so keep them in the folder keyed by the kernels' source (kernels._cache), where
# an edited kernel can never leave a test running stale code
from xorsweep.kernels import _cache  # noqa: F401

DATA = Path(__file__).parent / "data"


def pytest_sessionstart(session):
    """Compile the kernels into numba's cache on the other core while the tests run
    (``warm_cache``, its output in warm_cache.log in the cache folder; XORSWEEP_WARM_CACHE=0
    turns it off)."""
    if os.environ.get("XORSWEEP_WARM_CACHE", "1") == "0":
        return
    import numba

    folder = Path(numba.config.CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "warm_cache.log", "w") as log:
        warmer = subprocess.Popen([sys.executable, str(Path(__file__).parent / "warm_cache.py")], stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    session.config.stash[_WARMER] = [time.monotonic(), warmer, None]


#: the files whose tests train with every arithmetic x dtype x rule x entry: they run last, so
#: that they load what the cache warmer compiled meanwhile instead of compiling it a second
#: time on this core (on a fresh clone about 10 minutes of the run, 2026-12-03)
LAST = ("test_kernels.py", "test_determinism.py")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: LAST.index(item.path.name) + 1 if item.path.name in LAST else 0)  # stable


def pytest_sessionfinish(session):
    w = session.config.stash.get(_WARMER, None)
    if w is not None:
        started, warmer, _ = w
        if warmer.poll() is None:
            warmer.terminate()
        code = warmer.wait()
        w[2] = (f"cache warmer (tests/warm_cache.py): exit {code} after {time.monotonic() - started:.0f} s"
                + (", stopped: the tests ended first" if code < 0 else ""))


def pytest_terminal_summary(terminalreporter, config):
    w = config.stash.get(_WARMER, None)
    if w is not None and w[2]:
        terminalreporter.write_line(w[2])


_WARMER = pytest.StashKey()

#: every training rule as a (gradient, update) pair
COMBOS = [("numerical", "sequential"), ("numerical", "simultaneous"), ("analytic", "sequential"),
          ("analytic", "simultaneous")]


@pytest.fixture(scope="session")
def exact_ops():
    """The project's exp/log as numpy ufuncs, and a dot that sums in order: (exp, log, dot)."""
    import numba

    import reference
    from xorsweep.kernels.xmath import exp_f64, log_f64

    vexp = numba.vectorize(["float64(float64)"])(lambda x: exp_f64(x))
    vlog = numba.vectorize(["float64(float64)"])(lambda x: log_f64(x))
    return vexp, vlog, reference.ordered_dot


@pytest.fixture(scope="session")
def fma_ops():
    """The exact-fma variant's exp/log as numpy ufuncs, and the in-order dot: (exp, log, dot)."""
    import numba

    import reference
    from xorsweep.kernels.xmath import exp_fma_f64, log_fma_f64

    vexp = numba.vectorize(["float64(float64)"])(lambda x: exp_fma_f64(x))
    vlog = numba.vectorize(["float64(float64)"])(lambda x: log_fma_f64(x))
    return vexp, vlog, reference.ordered_dot


@pytest.fixture(scope="session")
def fma2_ops():
    """The exact-fma2 variant's exp/log (its log is exact-fma's) as numpy ufuncs, and the
    in-order dot: (exp, log, dot)."""
    import numba

    import reference
    from xorsweep.kernels.xmath import exp_fma2_f64, log_fma_f64

    vexp = numba.vectorize(["float64(float64)"])(lambda x: exp_fma2_f64(x))
    vlog = numba.vectorize(["float64(float64)"])(lambda x: log_fma_f64(x))
    return vexp, vlog, reference.ordered_dot


@pytest.fixture(scope="session")
def cases():
    from xorsweep.kernels.vocab import published_cases

    return published_cases()


def random_starts(B, H=3, std=0.5, seed=0, biases=True):
    """B random starts as batched arrays (W1, b1, W2, b2)."""
    rng = np.random.default_rng(seed)
    W1 = std * rng.standard_normal((B, 2, H))
    W2 = std * rng.standard_normal((B, H, 2))
    b1 = std * rng.standard_normal((B, H)) if biases else np.zeros((B, H))
    b2 = std * rng.standard_normal((B, 2)) if biases else np.zeros((B, 2))
    return W1, b1, W2, b2


def bits(a):
    """Array reinterpreted as integers, so that equality means the same bits (NaN included)."""
    a = np.ascontiguousarray(a)
    return a.view({8: np.int64, 4: np.int32, 2: np.int16, 1: np.int8}[a.dtype.itemsize])


def load_store(path):
    import xarray as xr

    return xr.open_zarr(path).load()


def assert_same_store(a, b):
    """Two stores (paths or loaded datasets) hold the same variables with the same bits."""
    a = load_store(a) if not hasattr(a, "variables") else a
    b = load_store(b) if not hasattr(b, "variables") else b
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        if x.dtype.kind in "fiub":
            np.testing.assert_array_equal(bits(x), bits(y), err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


@contextlib.contextmanager
def dask_cluster(tmp_path, env, n_workers=2):
    """A real ``dask scheduler`` and ``n_workers`` ``dask worker`` processes on 127.0.0.1
    (environment ``env``); yields the scheduler's address, stops them all at the end."""
    import subprocess
    import sys
    import time

    bin_ = Path(sys.executable).parent
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([str(bin_ / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        t = time.monotonic()
        while not (sched_file.exists() and sched_file.stat().st_size > 0):
            assert time.monotonic() - t < 60, "the scheduler did not start"
            time.sleep(0.05)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(n_workers):
            procs.append(subprocess.Popen([str(bin_ / "dask"), "worker", address, "--nthreads", "1",
                                           "--no-dashboard", "--host", "127.0.0.1"],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(n_workers, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
