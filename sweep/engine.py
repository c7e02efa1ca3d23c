"""Run a sweep: one Dask task trains one block with one ``kernels.train`` call.

Library code takes a ``distributed.Client``; only the CLI makes one. Tasks receive the
spec (a small dict) and a block index, recompute their starts, train, and write their own
region of the store, so nothing large crosses the network.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xorsweep.sweep import store
from xorsweep.sweep.errors import UserError
from xorsweep.sweep.grid import Block, Grid
from xorsweep.sweep.lock import store_lock
from xorsweep.sweep.spec import Spec


def compute_block(grid: Grid, block: Block, threads=None) -> dict:
    """Train every cell of the block; name -> array shaped block.shape + variable dims."""
    from xorsweep import kernels

    H, shape = grid.H, block.shape
    x = grid.starts(block).reshape(-1, grid.P)
    n = x.shape[0]
    W1, b1 = x[:, :2 * H].reshape(n, 2, H), x[:, 2 * H:3 * H]
    W2, b2 = x[:, 3 * H:5 * H].reshape(n, H, 2), x[:, 5 * H:]
    s, t = block.settings, grid.spec.training
    r = kernels.train(W1, b1, W2, b2, rule=s["rule"], lr=s["lr"], steps=s["steps"], dtype=s["dtype"],
                      arith=s["arith"], record_every=t.record_every or None, h=t.h, threads=threads)
    out = {}
    for g, a in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        out[f"{g}_start"] = a.reshape(shape + a.shape[1:])
        f = getattr(r, g)
        out[g] = f.astype(np.float64).reshape(shape + f.shape[1:])
    out["loss"] = r.loss.astype(np.float64).reshape(shape)
    out["accuracy"] = r.accuracy.astype(np.float64).reshape(shape)
    out["predicted"] = r.predicted.reshape(shape + (4,))
    out["z1"] = r.z1.astype(np.float64).reshape(shape + (4, H))
    out["diverged"] = r.diverged.reshape(shape)
    if r.trajectory is not None:
        T = len(grid.record_steps)
        for g in ("W1", "b1", "W2", "b2", "loss", "accuracy"):
            a = getattr(r.trajectory, g).astype(np.float64)
            full = np.full((n, T) + a.shape[2:], np.nan)
            full[:, :a.shape[1]] = a  # shorter runs (a steps axis) leave NaN after their end
            out[f"{g}_traj"] = full.reshape(shape + full.shape[1:])
    return out


def train_block(path: str, spec_dict: dict, index: int) -> dict:
    """The Dask task: train block ``index`` and write it into the store at ``path``."""
    t0 = time.perf_counter()
    grid = Grid(Spec.from_dict(spec_dict))
    block = grid.block(index)
    store.write_block(path, grid, block, compute_block(grid, block, threads=1))
    return {"index": index, "cells": block.size, "seconds": time.perf_counter() - t0}


@dataclass
class Progress:
    blocks_done: int
    blocks_total: int
    cells_done: int
    cells_total: int
    elapsed: float
    cells_this_run: int

    @property
    def rate(self):
        return self.cells_this_run / self.elapsed if self.elapsed > 0 else 0.0


def _writable_dir(p: Path, what: str):
    if not os.access(p, os.W_OK | os.X_OK) or not (p.stat().st_mode & 0o222):
        raise UserError(f"{what} {p} is read-only")


def prepare(spec: Spec, path, command="") -> tuple[Grid, np.ndarray]:
    """Create the store from the spec, or check that it was made by the same spec.
    Returns the grid (with the store's chunking) and the done flag of every block.
    Call it holding the store's lock (``run`` does)."""
    p = Path(path)
    if p.exists() and any(p.iterdir()):
        old = store.check_same_spec(p, spec)
        _writable_dir(p, "store")
        grid = Grid(old)  # the store's own block size decides the chunks
        return grid, store.done_blocks(p, grid)
    try:
        grid = store.create(p, spec, command)
    except BaseException:
        if p.is_dir() and not any(p.iterdir()):
            p.rmdir()  # leave no empty folder where there was none
        raise
    return grid, np.zeros(grid.n_blocks, dtype=bool)


def open_for_writing(path) -> Path:
    """Check the store path before anything is written; make the folder of a new store."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"store {path} exists and is not a directory")
    if not p.exists():
        if not p.parent.is_dir():
            raise UserError(f"store {path}: folder {p.parent} does not exist")
        _writable_dir(p.parent, "folder")
        p.mkdir()
    _writable_dir(p, "store")
    return p


def run(spec: Spec, path, client, *, progress=None, command="xorsweep (library call)") -> Progress:
    """Train every block of the sweep not yet done in the store at ``path`` on ``client``.

    ``progress(Progress)`` is called once at the start and after each finished block.
    Finished blocks are never rewritten; running the same spec again completes a partial
    store. A second run on a store being written is refused (``sweep.lock``).
    """
    with store_lock(open_for_writing(path), command):
        return run_locked(spec, path, client, progress=progress, command=command)


def run_locked(spec: Spec, path, client, *, progress=None, command="xorsweep (library call)") -> Progress:
    """``run`` for a caller that already holds the store's lock (``sweep.lock.store_lock``)."""
    from distributed import as_completed

    path = str(path)
    grid, done = prepare(spec, path, command)
    todo = [int(k) for k in np.flatnonzero(~done)]
    spec_dict = grid.spec.to_dict()
    cells_done = sum(grid.block(k).size for k in np.flatnonzero(done))
    state = Progress(int(done.sum()), grid.n_blocks, cells_done, grid.cells, 0.0, 0)
    if progress is not None:
        progress(state)
    if not todo:
        return state
    store.append_history(path, f"run started: {command} ({len(todo)} of {grid.n_blocks} blocks to train)")
    t0 = time.perf_counter()
    futures = as_completed()

    def submit(k):
        futures.add(client.submit(train_block, path, spec_dict, k, key=f"xorsweep-{spec.hash()}-{k}", pure=False))

    # a bounded number of blocks in flight keeps the client's memory flat on any grid
    width = max(2, 2 * sum(client.nthreads().values()))
    pending = iter(todo)
    for k in pending:
        submit(k)
        if futures.count() >= width:
            break
    try:
        for fut in futures:
            res = fut.result()
            fut.release()
            state.blocks_done += 1
            state.cells_done += res["cells"]
            state.cells_this_run += res["cells"]
            state.elapsed = time.perf_counter() - t0
            if progress is not None:
                progress(state)
            nxt = next(pending, None)
            if nxt is not None:
                submit(nxt)
    finally:
        state.elapsed = time.perf_counter() - t0
        finished = state.blocks_done == state.blocks_total
        store.append_history(path, f"run {'finished' if finished else 'stopped'}: {state.blocks_done}/"
                                   f"{state.blocks_total} blocks done, {state.cells_this_run} networks in "
                                   f"{state.elapsed:.1f} s", last_rate_networks_per_s=round(state.rate, 1))
    return state
