"""``Sweep``: one object that owns check → lock → cluster → template → blocks → history.

    sw = Sweep("examples/slice.toml", "slice.zarr")   # a path, a dict or a Spec
    sw.plan()                                          # cells, blocks, bytes, time estimate
    ds = sw.run(client=None, progress=True)            # resumable; returns the dataset

The CLI and a notebook use it the same way. The store is checked before any cluster
starts; a cluster is made (an embedded ``LocalCluster``) only when no client is given.
One Dask task trains one block: it receives the store's absolute path and identity, the
spec (a small dict) and a block index, recomputes its starts, trains, and writes its own
region, so nothing large crosses the network and no task can write into another store.
The last blocks of a run on several threads are the exception: each is trained in parts
(``train_part``, each drawing only its own starts) whose values one task joins and
writes (``write_parts``), so that the workers finish together; a block's values (tens of
MB for 65,536 networks, more with trajectories) then cross once.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xorsweep.errors import UserError
from xorsweep.sweep import cells, store
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.location import Remote, as_location
from xorsweep.sweep.lock import clear_stale, store_lock
from xorsweep.sweep.spec import Spec

#: a cluster with no worker for this long stops the run (the store stays resumable)
NO_WORKER_TIMEOUT = 120.0
#: a scheduler unreachable for this long stops the run (the store stays resumable)
SCHEDULER_TIMEOUT = 30.0
#: a sweep on a local store left with at most this much training (``training_work``: seed-rule
#: network-steps, counting the padding of each block to whole 64-lane chunks; about 1.5 s of
#: one core) and at most SMALL_BLOCKS blocks trains in the calling process when no cluster
#: was asked for: starting one costs more
SMALL_WORK = 2_000_000
SMALL_BLOCKS = 64


def train_block(path: str, store_id: str, spec_dict: dict, index: int) -> dict:
    """The Dask task: train block ``index`` and write it into the store ``store_id`` at ``path``."""
    t0 = time.perf_counter()
    grid = Grid(Spec.from_dict(spec_dict))
    block = grid.block(index)
    values = cells.block_values(grid, block, threads=1)
    t1 = time.perf_counter()
    store.write_block(path, store_id, grid, block, values)
    return {"index": index, "cells": block.size, "seconds": time.perf_counter() - t0, "train_seconds": t1 - t0}


def train_part(spec_dict: dict, index: int, axis: int, start: int, stop: int) -> dict:
    """The Dask task that trains cells ``start:stop`` along dim ``axis`` of block ``index``
    (``cells.part``: only their starts are drawn) and keeps their values; ``write_parts``
    writes the block once every part is trained."""
    grid = Grid(Spec.from_dict(spec_dict))
    return cells.block_values(grid, cells.part(grid.block(index), axis, start, stop), threads=1)


def write_parts(path: str, store_id: str, spec_dict: dict, index: int, axis: int, *parts: dict) -> dict:
    """The Dask task that writes block ``index`` from its trained parts (``train_part``),
    as ``train_block`` writes a whole block: the same values, bit for bit."""
    t0 = time.perf_counter()
    grid = Grid(Spec.from_dict(spec_dict))
    block = grid.block(index)
    store.write_block(path, store_id, grid, block, cells.join_parts(block, axis, list(parts)))
    return {"index": index, "cells": block.size, "seconds": time.perf_counter() - t0, "train_seconds": 0.0}


def part_bounds(block, n: int) -> tuple[int, list[tuple[int, int]]]:
    """(axis, [(start, stop), ...]): ``block`` cut along its longest dim into at most ``n``
    consecutive parts of nearly equal size, each of at least 64 cells (the kernels' lanes:
    a smaller part would pad most of its lanes)."""
    from xorsweep.kernels.layout import LANES

    if not block.shape:
        return 0, [(0, 1)]
    axis = int(np.argmax(block.shape))
    extent = block.shape[axis]
    n = max(1, min(n, extent, block.size // LANES))
    cuts = sorted({round(extent * j / n) for j in range(n + 1)})
    return axis, list(zip(cuts, cuts[1:]))


#: the last blocks of a run on a cluster of T threads are trained in min(T, TAIL_PARTS) parts
#: each, so that the workers finish together (16 blocks on 2 workers: 15.26 blocks' work,
#: 8 on one and 7.26 on the other when whole)
TAIL_PARTS = 16


def compile_block(spec_dict: dict, index: int) -> dict:
    """The Dask task that compiles (or loads from numba's cache) block ``index``'s kernels:
    one network of it, trained through the same path, nothing written."""
    grid = Grid(Spec.from_dict(spec_dict))
    b = grid.block(index)
    cells.train_region(grid, cells.cell_block(grid, {d: sl.start for d, sl in zip(grid.dims, b.region)}), threads=1)
    return {"compiled": index}


def step_cost(gradient: str, H: int) -> float:
    """The cost of one network-step relative to the seed rule's at H = 3: an analytic step
    grows with H, a numerical one with H times its 5H + 2 parameters (each is perturbed
    and the loss evaluated twice). Analytic steps are in fact several times cheaper; they
    are counted as numerical ones at H = 3 would be, erring towards a cluster."""
    from xorsweep.kernels.vocab import n_params

    return H / 3 * (n_params(H) / n_params(3) if gradient == "numerical" else 1.0)


def training_work(grid: Grid, todo, limit: float = float("inf")) -> float:
    """The training of the blocks ``todo`` in seed-rule network-steps at H = 3 (``step_cost``),
    each block padded to whole 64-lane chunks (the kernels' unit of work) and tripled with
    a Lyapunov twin; stops counting above ``limit``."""
    from xorsweep.kernels.layout import LANES

    twin = 3 if grid.spec.training.lyapunov else 1
    work = 0.0
    for k in todo:
        b = grid.block(int(k))
        work += -(-b.size // LANES) * LANES * b.settings["steps"] * twin * step_cost(b.settings["gradient"], grid.H)
        if work > limit:
            break
    return work


@dataclass
class Progress:
    """A run's progress. ``rate`` (networks/s) and ``eta`` (s) come from blocks finished
    after the first one of the run (whose time includes compiling the kernels), so
    compilation never shows as throughput; both are None until two blocks finished."""

    blocks_done: int
    blocks_total: int
    cells_done: int
    cells_total: int
    elapsed: float
    cells_this_run: int
    first_done_at: float | None = None  # elapsed time when the run's first block finished
    cells_after_first: int = 0

    @property
    def rate(self):
        span = self.elapsed - (self.first_done_at or 0.0)
        if self.first_done_at is None or self.cells_after_first == 0 or span <= 0:
            return None
        return self.cells_after_first / span

    @property
    def eta(self):
        r = self.rate
        return None if r is None else (self.cells_total - self.cells_done) / r


@dataclass(frozen=True)
class Plan:
    """What a run would do: ``seconds`` is None until a run of this store measured a rate."""

    cells: int
    blocks: int
    blocks_done: int
    cells_done: int
    bytes: int
    steps_per_network: int
    rate: float | None  # networks/s measured by the last run on this store
    seconds: float | None

    def __str__(self):
        eta = "unknown until the first blocks are timed" if self.seconds is None else fmt_duration(self.seconds)
        return (f"{self.cells:,} networks in {self.blocks:,} blocks ({self.blocks_done:,} done), "
                f"about {fmt_bytes(self.bytes)}, {self.steps_per_network:,} steps each; time left: {eta}")


def fmt_duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000


def as_spec(spec) -> Spec:
    """A Spec from a Spec, a dict, or a path to a TOML file."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return Spec.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return Spec.from_toml(spec)
    raise UserError(f"a spec must be a Spec, a dict or a path to a TOML file, not {type(spec).__name__}")


def _store_path(path) -> Path | Remote:
    """An absolute local path, or a Remote for a URL (``file://`` is a local path)."""
    path = as_location(path)
    if isinstance(path, Remote):
        return path
    if not isinstance(path, (str, os.PathLike)) or str(path).strip() in ("", ".", "..", "/") or Path(
            os.path.abspath(path)).name in ("", ".", ".."):
        raise UserError(f"store path {str(path)!r} has no name: give a folder name such as out.zarr")
    return Path(os.path.abspath(path))


def _writable_dir(p: Path, what: str):
    if not os.access(p, os.W_OK | os.X_OK) or not (p.stat().st_mode & 0o222):
        raise UserError(f"{what} {p} is read-only")


class Sweep:
    """A sweep spec bound to a store. ``spec``: a Spec, a dict or a TOML path; ``store``: a
    folder path (made absolute here, so workers anywhere write into the same store), or a
    URL such as ``s3://bucket/x.zarr`` (workers need the backend, e.g. s3fs, and its
    credentials). ``unsafe_no_lock``: write a URL store whose backend cannot guarantee a
    single writer (no atomic create) anyway."""

    def __init__(self, spec, store_path, *, block: int | None = None, command: str = "xorsweep (library call)",
                 unsafe_no_lock: bool = False):
        self.spec = as_spec(spec)
        if block is not None:
            d = self.spec.to_dict()
            if not self.spec.arith_named:  # still the default's to decide (``Spec.with_arith_of``)
                d["training"].pop("arith")
            self.spec = Spec.from_dict({**d, "execution": {"block": block}})
        self.path = _store_path(store_path)
        self.command = command
        self.futures = []
        self.unsafe_no_lock = unsafe_no_lock

    def __repr__(self):
        return f"Sweep({self.spec.name or self.spec.hash()!r}, {str(self.path)!r})"

    # ---- checks (nothing written) ------------------------------------------------------
    @property
    def remote(self) -> bool:
        return isinstance(self.path, Remote)

    def _lock(self):
        return store_lock(self.path, self.command, unsafe_no_lock=self.unsafe_no_lock)

    def exists(self) -> bool:
        """A store (or something else) is there; a half-written template at a URL is not
        (``run`` writes it again)."""
        if self.remote:
            return store.remote_state(self.path) in ("complete", "foreign")
        return self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir()))

    def check(self, write=True) -> tuple[Grid, np.ndarray]:
        """Check the store against the spec and the filesystem (and, with ``write``, that a
        run could write it); write nothing. Returns the grid (with the store's own
        chunking when it exists) and each block's done flag."""
        p = self.path
        if self.remote:
            if self.exists():
                old = store.check_same_spec(p, self.spec)
                store.refuse_interrupted_add(p)  # before any training, not when the run returns its Dataset
                return Grid(old), store.done_blocks(p, Grid(old))
            return Grid(self.spec), np.zeros(Grid(self.spec).n_blocks, dtype=bool)
        if p.exists() and not p.is_dir():
            raise UserError(f"store {p} exists and is not a directory")
        if self.exists():
            old = store.check_same_spec(p, self.spec)
            store.refuse_interrupted_add(p)  # before any training, not when the run returns its Dataset
            grid = Grid(old)  # the store's own block size decides the chunks
            done = store.done_blocks(p, grid)
            if write:
                _writable_dir(p, "store")
            return grid, done
        if not p.parent.is_dir():
            raise UserError(f"store {p}: folder {p.parent} does not exist")
        outer = store.enclosing_store(p.parent)
        if outer is not None:
            raise UserError(f"store {p}: its folder is inside the store {outer}; a new store there would change "
                            "that store's folder (choose a folder outside it)")
        grid = Grid(self.spec)
        if write:
            _writable_dir(p.parent, "folder")
            store.check_room(p, grid)
        return grid, np.zeros(grid.n_blocks, dtype=bool)

    def plan(self) -> Plan:
        grid, done = self.check(write=False)
        rate = None
        if self.exists():
            rate = store.stored_attrs(self.path).get("last_rate_networks_per_s") or None
        cells_done = int(sum(grid.block(int(k)).size for k in np.flatnonzero(done))) if done.any() else 0
        steps = max(grid.spec.axes.settings.get("steps", (grid.spec.training.steps,)))
        left = grid.cells - cells_done
        return Plan(grid.cells, grid.n_blocks, int(done.sum()), cells_done, store.estimated_bytes(grid), steps,
                    rate, left / rate if rate else None)

    def create(self) -> Grid:
        """Make the store's template now (if new); its grid."""
        grid, done = self.check()
        with self._lock():
            return self._prepare(*self.check())[0]

    def train_here(self, blocks=None, progress=False) -> int:
        """Train ``blocks`` (default: every block not done) in this process, without Dask,
        one after another; the number trained. ``run`` does this by itself for a small
        sweep (see its ``here``) and is the way to scale."""
        grid, done = self.check()
        with self._lock():
            grid, done = self._prepare(*self.check())
            skip = done.copy()
            if blocks is not None:
                skip[np.setdiff1d(np.arange(grid.n_blocks), np.asarray(blocks, dtype=np.int64))] = True
            self._run_here(grid, skip, progress)
            return int((~skip).sum())

    # ---- running -------------------------------------------------------------------------
    def run(self, client=None, *, progress=False, address=None, workers=None, on_start=None,
            dashboard="127.0.0.1:8787", here=None, dataset=True):
        """Train every block not yet done and return the store as an xarray Dataset
        (``dataset=False``: return None, and import neither xarray nor, when the blocks
        train here, Dask: what the CLI does).

        ``client``: a ``distributed.Client`` (else one is made on ``address`` or an
        embedded LocalCluster of ``workers`` processes). ``here``: train in this process,
        one block after another, without Dask (True); on a cluster (False); by default
        (None) in this process only when no client, address or workers were given and
        little is left to train (``SMALL_WORK``), since starting a cluster would cost
        more. The bits are the same either way. ``progress``: True for a progress bar
        (terminal or Jupyter), or a callable taking ``Progress``. ``on_start(client,
        grid, done)`` is called once the cluster is up, with ``client=None`` when the
        blocks train here (the CLI prints the dashboard link there); ``self.futures``
        holds the blocks in flight (for ``distributed.progress`` and other Dask
        diagnostics). The workers are asked whether their compile caches are warm as the
        cluster is up, before ``on_start`` (``WarmCheck``). Finished blocks are never
        rewritten; a second writer on the same store is refused.
        """
        grid, done = self.check()  # before any cluster starts
        if done.all() and self.exists():
            clear_stale(self.path)
            return store.open_dataset(self.path) if dataset else None
        with self._lock():
            grid, done = self.check()  # again, now that no one else writes
            if self.would_train_here(grid, done, client=client, address=address, workers=workers, here=here):
                grid, done = self._prepare(grid, done)
                if on_start is not None:
                    on_start(None, grid, done)
                self._run_here(grid, done, progress)
            else:
                from xorsweep.sweep.cluster import client_for

                ctx = contextlib.nullcontext(client) if client is not None else client_for(address, workers,
                                                                                             dashboard)
                with ctx as c:
                    warm = WarmCheck(c, grid)  # the workers load their kernels meanwhile
                    grid, done = self._prepare(grid, done)
                    if on_start is not None:
                        on_start(c, grid, done)
                    self._run_blocks(c, grid, done, progress, warm)
        return store.open_dataset(self.path) if dataset else None

    def _prepare(self, grid, done):
        """Make the template of a new store (only once a cluster is up: a failed cluster
        leaves no store behind), or check an existing one is writable."""
        p = self.path
        if self.remote:
            return (grid, done) if self.exists() else (store.create(p, self.spec, self.command), done)
        if self.exists():
            _writable_dir(p, "store")
            return grid, done
        made = not p.exists()
        if made:
            p.mkdir()
        try:
            grid = store.create(p, self.spec, self.command)
        except BaseException:
            if made and p.is_dir() and not any(p.iterdir()):
                p.rmdir()  # leave no empty folder where there was none
            raise
        return grid, np.zeros(grid.n_blocks, dtype=bool)

    def would_train_here(self, grid, done, *, client=None, address=None, workers=None, here=None) -> bool:
        """Whether ``run`` trains in this process (see ``run``'s ``here``). Never by itself for a
        URL store: a write there costs a round trip per object, a cluster's workers overlap them."""
        asked = client is not None or bool(address) or workers is not None
        if here is not None:
            if here and asked:
                raise UserError("here=True trains in this process: give no client, address or workers with it")
            return bool(here)
        if asked or os.environ.get("DASK_SCHEDULER_ADDRESS") or self.remote:
            return False
        todo = np.flatnonzero(~done)
        return len(todo) <= SMALL_BLOCKS and training_work(grid, todo, SMALL_WORK) <= SMALL_WORK

    def _begin(self, grid, done, progress, where):
        """The blocks to train, the progress state and reporter, and the history line."""
        todo = [int(k) for k in np.flatnonzero(~done)]
        cells_done = int(sum(grid.block(int(k)).size for k in np.flatnonzero(done))) if done.any() else 0
        state = Progress(int(done.sum()), grid.n_blocks, cells_done, grid.cells, 0.0, 0)
        report = _reporter(progress, state, grid)
        if todo:
            store.update_attrs(self._where(), f"run started: {self.command} ({len(todo)} of {grid.n_blocks} blocks "
                                              f"to train{where})")
        else:
            report(state, final=True)
        return todo, state, report

    def _where(self):
        """The store as a task receives it: a URL store travels as its Remote (with its
        storage options), a local one as its absolute path."""
        return self.path if self.remote else str(self.path)

    @staticmethod
    def _count(state, res, t0):
        state.blocks_done += 1
        state.cells_done += res["cells"]
        state.cells_this_run += res["cells"]
        state.elapsed = time.perf_counter() - t0
        if state.first_done_at is None:
            state.first_done_at = state.elapsed
        else:
            state.cells_after_first += res["cells"]

    def _end(self, state, report, t0, running=0):
        """The history line and the measured rate (for ``plan``), then the final report.
        ``running``: blocks on workers when the run stopped (cancelled, but a task already
        running finishes and marks its block done), so the count is a lower bound."""
        state.elapsed = time.perf_counter() - t0
        finished = state.blocks_done == state.blocks_total
        more = (f" ({running} more {'was' if running == 1 else 'were'} running on workers and may have finished: "
                "`xorsweep status` counts the store)") if running and not finished else ""
        with contextlib.suppress(Exception):  # never mask the error that stopped the run
            store.update_attrs(self._where(), f"run {'finished' if finished else 'stopped'}: {state.blocks_done}/"
                                              f"{state.blocks_total} blocks done{more}, {state.cells_this_run:,} "
                                              f"networks in {state.elapsed:.1f} s", live=None,
                               last_rate_networks_per_s=round(state.rate, 1) if state.rate else None)
        report(state, final=True)

    def _run_here(self, grid, done, progress):
        """Every block not done, in this process, one after another: the Dask task itself
        (``train_block``), called directly. Each kernel variant is first compiled (or
        loaded from the cache) on one network (``compile_block``) outside the blocks, so
        that Ctrl-C during a compile stops at once."""
        path, sid, spec_dict = self._where(), store.store_id(self.path), grid.spec.to_dict()
        todo, state, report = self._begin(grid, done, progress, ", in this process")
        if not todo:
            return state
        t0, compiled, last_live = time.perf_counter(), set(), time.monotonic()
        try:
            for k in todo:
                variant = tuple(grid.block(k).settings.get(s) for s in COMPILED_SETTINGS)
                if variant not in compiled:
                    compile_block(spec_dict, k)
                    compiled.add(variant)
                with _signals_deferred():  # a block is written and counted whole; Ctrl-C stops between blocks
                    self._count(state, train_block(path, sid, spec_dict, k), t0)
                    last_live = self._live(path, state, None, last_live)  # for status in another terminal
                report(state)
        finally:
            self._end(state, report, t0)
        return state

    def _run_blocks(self, client, grid, done, progress, warm=None):
        """The blocks not done, on the cluster; ``warm``: a ``WarmCheck`` started before."""
        from distributed import wait

        # the workers' answer first: a Ctrl-C while waiting for it leaves no "run started"
        # in the history without its end
        probe = not (warm or WarmCheck(client, grid)).result()
        todo, state, report = self._begin(grid, done, progress, "")
        if not todo:
            return state
        path, sid, spec_dict = self._where(), store.store_id(self.path), grid.spec.to_dict()
        t0 = time.perf_counter()
        threads = max(1, sum(client.nthreads().values()))
        width = max(2, 2 * threads)  # blocks in flight: flat client memory
        queue, in_flight = CompileOnce(grid, todo, probe=probe), set()
        self.futures = []

        def fill():
            while len(in_flight) < width:
                left = queue.left()
                k, probe = queue.take()
                if k is None:
                    return
                key = f"xorsweep-{sid}-{k}"
                if probe:  # one network of the block, so that one worker compiles its kernels
                    f = client.submit(compile_block, spec_dict, k, key=f"xorsweep-{sid}-compile-{k}", pure=False)
                elif threads > 1 and left <= threads and len((cut := part_bounds(grid.block(k),
                                                                             min(threads, TAIL_PARTS)))[1]) > 1:
                    # one of the last blocks: in parts, so that no worker waits for the others at the end
                    axis, bounds = cut
                    parts = [client.submit(train_part, spec_dict, k, axis, a, b, key=f"{key}-part-{a}", pure=False)
                             for a, b in bounds]
                    f = client.submit(write_parts, path, sid, spec_dict, k, axis, *parts, key=key, pure=False)
                    self.futures.append(f)
                else:
                    f = client.submit(train_block, path, sid, spec_dict, k, key=key, pure=False)
                    self.futures.append(f)
                in_flight.add(f)

        fill()
        no_worker_since, last_live = None, time.monotonic()
        try:
            while in_flight:
                finished, _ = _wait(wait, in_flight)
                if not finished:
                    no_worker_since = _check_workers(client, no_worker_since)
                    continue
                no_worker_since = None
                for fut in finished:
                    in_flight.discard(fut)
                    res = _result(fut)
                    fut.release()
                    if "compiled" in res:
                        queue.compiled(res["compiled"])
                        continue
                    self._count(state, res, t0)
                    report(state)
                    last_live = self._live(path, state, client, last_live)
                fill()
        finally:
            running = sum(1 for f in in_flight if "compile" not in str(f.key))
            for f in in_flight:
                f.cancel()
            self.futures = []
            self._end(state, report, t0, running)
        return state


    @staticmethod
    def _live(path, state, client, last, every=10.0):
        """Every ``every`` seconds, the run's rate and ETA into the store's attributes, for
        ``xorsweep status`` in another terminal."""
        now = time.monotonic()
        if now - last < every or state.rate is None:
            return last
        with contextlib.suppress(Exception):
            store.update_attrs(path, live={"rate": round(state.rate, 1), "eta": fmt_duration(state.eta),
                                           "blocks_done": state.blocks_done,
                                           "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                           "dashboard": getattr(client, "dashboard_link", None)})
        return now


#: block settings that select a different compiled kernel (names a spec does not use are ignored)
COMPILED_SETTINGS = ("rule", "gradient", "update", "dtype", "arith")


class CompileOnce:
    """The order of the tasks handed to workers, so that each compiled kernel variant (rule,
    dtype, arithmetic: ``COMPILED_SETTINGS``) is compiled by one worker, not by every
    worker at once: a variant starts with a probe (``compile_block``: one network of its
    first block, through the same path), and its blocks wait until the probe finished
    (numba's on-disk cache then serves the other workers of the machine). Probes of
    different variants run side by side, so a sweep over two rules compiles both at once
    on two workers. ``probe=False`` (every worker's cache is warm: ``workers_warm``) sends the blocks
    straight away.
    """

    def __init__(self, grid: Grid, todo, probe: bool = True):
        todo = np.asarray(todo, dtype=np.int64)
        dims = [i for i, d in enumerate(grid.dims) if d in COMPILED_SETTINGS]
        if dims and len(todo):
            pos = np.unravel_index(todo, grid.block_grid)
            variant = np.ravel_multi_index(tuple(pos[i] for i in dims), tuple(grid.block_grid[i] for i in dims))
        else:
            variant = np.zeros(len(todo), dtype=np.int64)
        order = np.argsort(variant, kind="stable")
        keys, starts = np.unique(variant[order], return_index=True)
        bounds = list(starts[1:]) + [len(todo)]
        #: variant -> [its blocks in order, next position]
        self._queues = {int(v): [todo[order[a:b]], 0] for v, a, b in zip(keys, starts, bounds)}
        self._probe_of = {}  # block index of a probe in flight -> its variant
        self._compiled, self._probing = (set(self._queues) if not probe else set()), set()

    def take(self):
        """(block index, True) for a probe, (block index, False) for a block to train, or
        (None, False) when nothing can go now."""
        ready = None
        for v, (blocks, i) in self._queues.items():
            if i >= len(blocks) or v in self._probing:
                continue
            if v not in self._compiled:  # start compiling a variant as soon as possible
                k = int(blocks[i])
                self._probing.add(v)
                self._probe_of[k] = v
                return k, True
            if ready is None:
                ready = v
        if ready is None:
            return None, False
        q = self._queues[ready]
        q[1] += 1
        return int(q[0][q[1] - 1]), False

    def left(self) -> int:
        """Blocks not yet handed out (probes included)."""
        return sum(len(blocks) - i for blocks, i in self._queues.values())

    def compiled(self, k):
        """The probe of block ``k`` finished: its variant's blocks may go."""
        v = self._probe_of.pop(k)
        self._probing.discard(v)
        self._compiled.add(v)


def _warm_here(gradients, load=False) -> bool:
    """Whether this process's compile cache holds the ``gradients``' kernels; with ``load``,
    when it does, the kernels imported too: numba's start and the shared exp/log loaded
    from the cache, about 0.5 s that a worker's first block would spend otherwise. A cold
    cache loads nothing (its kernels are compiled by one worker: ``CompileOnce``)."""
    from xorsweep.kernels import _cache

    warm = all(_cache.is_warm(g) for g in gradients)
    if warm and load:
        from xorsweep.kernels import batch  # noqa: F401
    return warm


async def _warm_worker(gradients, load=False) -> bool:
    """``_warm_here`` on a worker, in a thread of its own: the worker's event loop (its
    heartbeats, its tasks) stays free while the kernels load (or compile, if numba finds the
    cache stale)."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, _warm_here, gradients, load)


def workers_warm(client, grid: Grid, load: bool = False) -> bool:
    """Whether every worker's compile cache already holds the kernels the grid trains with,
    asked of the workers themselves (the machines of a cluster have caches of their own):
    then no block waits for a compile probe. False when any worker cannot tell (workers of
    a cluster running an older xorsweep included: they are probed). ``load``: warm workers
    also import their kernels (``_warm_here``)."""
    gradients = sorted({g for g, _ in grid.rule_parts()})
    try:
        answers = client.run(_warm_worker, gradients, load, on_error="return")
    except Exception:  # noqa: BLE001 - no answer: probe as if cold
        return False
    return bool(answers) and all(a is True for a in answers.values())


class WarmCheck:
    """``workers_warm(client, grid, load=True)`` in a thread of its own, started as a run
    begins, so that the workers import their kernels while this process makes the store's
    template (on 2 cores a run's start cost on new workers went from 1.16 to 0.70 s, medians
    of five runs of 4 blocks of 16,384 networks; README, "On a Zen 4"). ``result()`` waits
    for the answer; a check that failed answers False (probe as if cold), as
    ``workers_warm`` does. Workers that join after the check (while the template is made,
    or in ``on_start``) are not asked."""

    def __init__(self, client, grid: Grid):
        import threading

        self._answer = []

        def check():
            try:
                self._answer.append(workers_warm(client, grid, load=True))
            except BaseException:  # noqa: BLE001 - the client closed under it (the run stopped): no answer
                pass

        self._thread = threading.Thread(target=check, name="xorsweep-warm-check", daemon=True)
        self._thread.start()

    def result(self) -> bool:
        self._thread.join()
        return bool(self._answer and self._answer[0])


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM that arrive inside the block are delivered to their own handlers
    when it ends (an in-process block is short: ``SMALL_WORK``), so that an interrupt never
    lands inside a write and leaves the store's writes running on in a background thread
    after the lock is released. Outside the main thread (where Python delivers signals)
    there is nothing to defer."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    old = {s: h for s, h in old.items() if h is not None}  # None: a handler not set from Python

    def restore():
        for s, h in old.items():
            signal.signal(s, h)

    def later(signum, frame):
        got.append(signum)
        if len(got) == 1:
            print("\nstopping after the block in hand (again to stop at once)", file=sys.stderr, flush=True)
        else:  # a second one: at once (the block is not marked done, and is trained again on resume)
            restore()
            signal.raise_signal(signum)

    for s in old:
        signal.signal(s, later)
    try:
        yield
    finally:
        restore()
        for s in got[:1]:
            signal.raise_signal(s)


def _wait(wait, futures):
    import asyncio
    import concurrent.futures

    from distributed.comm.core import CommClosedError

    try:
        done, not_done = wait(list(futures), timeout=5, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), set(futures)
    except (concurrent.futures.CancelledError, asyncio.CancelledError, CommClosedError, OSError) as e:
        raise UserError(f"lost the Dask scheduler ({type(e).__name__}); the store is consistent: run again to "
                        "resume") from None
    return done, not_done


def _result(fut):
    import asyncio
    import concurrent.futures

    from distributed.comm.core import CommClosedError

    try:
        return fut.result()
    except (concurrent.futures.CancelledError, asyncio.CancelledError) as e:
        raise UserError(f"lost the Dask scheduler (the task of block was cancelled: {type(e).__name__}); the store "
                        "is consistent: run again to resume") from None
    except (CommClosedError, OSError) as e:
        if isinstance(e, UserError):
            raise
        raise UserError(f"lost the Dask scheduler or a worker's store access ({type(e).__name__}: {e}); the "
                        "store is consistent: run again to resume") from None


def _check_workers(client, since):
    """Called when no block finished for a while: stop (resumable) when the scheduler is
    gone or unreachable for ``SCHEDULER_TIMEOUT`` s, or has had no worker for
    ``NO_WORKER_TIMEOUT`` s. Returns when the current stall began."""
    lost = ("lost the Dask scheduler ({}); the store is consistent: run again to resume (with --address "
            "for an existing cluster)")
    now = time.monotonic()
    if client.status in ("closed", "closing"):
        raise UserError(lost.format("the client was closed"))
    if client.status != "running":
        if since is not None and now - since > SCHEDULER_TIMEOUT:
            raise UserError(lost.format(f"unreachable for {SCHEDULER_TIMEOUT:.0f} s"))
        return since if since is not None else now
    try:
        n = len(client.scheduler_info().get("workers", {}))
    except Exception as e:  # noqa: BLE001 - the scheduler is gone
        raise UserError(lost.format(type(e).__name__)) from None
    if n:
        return None
    if since is None:
        return now
    if now - since > NO_WORKER_TIMEOUT:
        raise UserError(f"the Dask cluster has had no workers for {NO_WORKER_TIMEOUT:.0f} s; stopped. The store "
                        "is consistent: start workers and run again to resume")
    return since


def _reporter(progress, state, grid):
    """progress: False/None (silent), True (a tqdm bar, terminal or Jupyter), or a callable."""
    if callable(progress):
        def call(p, final=False):
            progress(p)
        return call
    if not progress:
        return lambda p, final=False: None
    from tqdm.auto import tqdm

    steps = max(grid.spec.axes.settings.get("steps", (grid.spec.training.steps,)))
    bar = tqdm(total=state.cells_total, initial=state.cells_done, unit=" networks", unit_scale=True,
               smoothing=0.3, file=sys.stderr, dynamic_ncols=True, desc=f"training ({steps} steps each)")
    last = [state.cells_done]

    def update(p, final=False):
        bar.update(p.cells_done - last[0])
        last[0] = p.cells_done
        if final:
            bar.close()
    return update


def run(spec, path, client, *, progress=None, command="xorsweep (library call)"):
    """``Sweep(spec, path).run(client)``: train every block not yet done; the dataset."""
    return Sweep(spec, path, command=command).run(client, progress=progress)
