"""The one place that makes a Dask client: an existing cluster, or an embedded one."""
from __future__ import annotations

import contextlib
import os
import signal

from distributed.diagnostics.plugin import WorkerPlugin

# numba's own thread pool stays at one thread in each single-threaded Dask worker
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


class EmbeddedWorker(WorkerPlugin):
    """Worker plugin of the embedded cluster, whose scheduler lives in the ``xorsweep run``
    process itself:

    - a worker whose parent (that process) died, e.g. by SIGKILL, exits instead of
      training on as an orphan;
    - a connection that fails under a worker is not logged (a heartbeat that finds the
      scheduler gone, a part of a block sent to a worker that is closing): on this private
      cluster it can only mean the run is stopping (Ctrl-C while a block trains: the
      worker's thread holds the GIL until the block ends, its heartbeat then races the
      closing scheduler, and distributed logs that race as an error with a traceback) or a
      worker died, which the run reports itself, in one line. Other errors are kept.
    """

    name = "xorsweep-embedded-worker"

    def setup(self, worker):
        import logging
        import threading
        import time

        for name in ("distributed.worker", "distributed.core", "distributed.comm", "distributed.utils_comm"):
            logging.getLogger(name).addFilter(_no_connection_failure)
        for handler in logging.getLogger("distributed").handlers + logging.getLogger().handlers:
            handler.addFilter(_no_connection_failure)
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="xorsweep-parent-watch", daemon=True).start()


def _no_connection_failure(record) -> bool:
    """False (drop) for a record of a failed connection: an OSError (distributed's
    CommClosedError is one) in its traceback, or the heartbeat's own message."""
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, OSError)
                or str(record.msg).startswith("Failed to communicate with scheduler during heartbeat"))


@contextlib.contextmanager
def client_for(address: str | None = None, workers: int | None = None, dashboard: str = "127.0.0.1:8787"):
    """A client on ``address`` (or $DASK_SCHEDULER_ADDRESS), else on a LocalCluster of
    ``workers`` single-threaded processes (default: one per core) listening on 127.0.0.1
    only, its dashboard at ``dashboard`` (another free port when that one is taken)."""
    import dask
    from distributed import Client, LocalCluster

    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as e:
            from xorsweep.errors import UserError

            raise UserError(f"cannot reach the Dask scheduler at {address} ({type(e).__name__}: {e})") from None
        with client:
            yield client
        return
    n = workers or len(os.sched_getaffinity(0))
    with dask.config.set({"distributed.worker.daemon": True, "logging.distributed": "error"}):
        with _sigint_ignored_in_children() as start:
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=_free(dashboard), env=WORKER_ENV, silence_logs=40)
        with cluster, Client(cluster) as client:
            if start.interrupted:  # Ctrl-C while the cluster started: to the handler that was there
                signal.raise_signal(signal.SIGINT)  # (KeyboardInterrupt, by default), where the cluster closes
            client.register_plugin(EmbeddedWorker())
            yield client


@contextlib.contextmanager
def _sigint_ignored_in_children():
    """Processes started while SIGINT is ignored inherit that: Ctrl-C in a terminal, sent
    to the whole process group, then stops only the ``xorsweep`` process (which stops its
    cluster cleanly) instead of printing a traceback from every worker.

    This process must not lose a Ctrl-C that comes while its cluster starts (a second or
    two): SIGINT is also blocked in this thread for that time, and Linux keeps a blocked
    signal pending even when it is ignored. Yields an object whose ``interrupted`` says,
    after the block, whether one came (taken off the pending set: the caller raises it
    again, to SIGINT's own handler, where it can close the cluster). Where signals cannot
    be blocked, or another thread of this process that does not block SIGINT takes it, it
    is lost, as it was before."""
    import threading
    from types import SimpleNamespace

    start = SimpleNamespace(interrupted=False)
    if threading.current_thread() is not threading.main_thread():
        yield start
        return
    can_block = hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigtimedwait")  # not macOS, Windows
    if can_block:
        # multiprocessing starts its resource tracker with the first process it spawns, and
        # unblocks SIGINT in the spawning thread after: a thread of the cluster that then
        # starts more threads, none of which would block it. Started here, before the block.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        ours = signal.SIGINT not in old_mask  # else the caller blocks it: its own (SIG_IGN drops what it holds)
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield start
    finally:
        try:
            if can_block and ours:  # taken off the pending set if there, never waiting
                start.interrupted = signal.sigtimedwait({signal.SIGINT}, 0) is not None
        finally:
            try:
                if old is not None:  # None: a handler not set from Python, which cannot be put back
                    signal.signal(signal.SIGINT, old)
            finally:
                if can_block:
                    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _free(address: str) -> str:
    """``host:port`` if that port is free, else ``host:0`` (any free port)."""
    import socket

    host, _, port = address.rpartition(":")
    with socket.socket() as s:
        try:
            s.bind((host or "127.0.0.1", int(port)))
        except OSError:
            return f"{host}:0"
    return address
