"""xorsweep: map where XOR-network training lands from each start.

Subpackages: ``xorsweep.kernels`` (Numba training, the shared vocabulary),
``xorsweep.sweep`` (specs, grids, Dask runs into Zarr stores, the CLI) and
``xorsweep.analysis`` (outcomes, statistics and figures from stored datasets).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xorsweep")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"


def _numpy_with_sigint_blocked():
    """Import numpy with SIGINT blocked in this thread: its BLAS starts threads as it is
    imported, and threads keep the signal mask they were started with, so no Ctrl-C ever
    goes to them. ``sweep.cluster`` counts on that: while the embedded cluster starts, SIGINT
    is ignored (the workers inherit that) and blocked in the main thread, so that a Ctrl-C
    stays pending there; a thread that does not block it would take it and drop it. A
    Ctrl-C during the import itself is delivered when it ends, as before."""
    import signal
    import sys
    import threading

    if ("numpy" in sys.modules or not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()):
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        import numpy  # noqa: F401
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_numpy_with_sigint_blocked()
