"""The one place that makes a Dask client: an existing cluster, or an embedded one."""
from __future__ import annotations

import contextlib
import os

from distributed.diagnostics.plugin import WorkerPlugin

# numba's own thread pool stays at one thread in each single-threaded Dask worker
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


class ExitWithParent(WorkerPlugin):
    """Worker plugin of the embedded cluster: a worker whose parent (the ``xorsweep run``
    process) died, e.g. by SIGKILL, exits instead of training on as an orphan."""

    name = "xorsweep-exit-with-parent"

    def setup(self, worker):
        import threading
        import time

        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="xorsweep-parent-watch", daemon=True).start()


@contextlib.contextmanager
def client_for(address: str | None = None, workers: int | None = None):
    """A client on ``address`` (or $DASK_SCHEDULER_ADDRESS), else on a LocalCluster of
    ``workers`` single-threaded processes (default: one per core)."""
    import dask
    from distributed import Client, LocalCluster

    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        with Client(address, timeout="20s") as client:
            yield client
        return
    n = workers or len(os.sched_getaffinity(0))
    with dask.config.set({"distributed.worker.daemon": True, "logging.distributed": "error"}):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                          env=WORKER_ENV, silence_logs=40) as cluster, Client(cluster) as client:
            client.register_plugin(ExitWithParent())
            yield client
