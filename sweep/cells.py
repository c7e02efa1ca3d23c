"""The one path from cells of a sweep to ``kernels.train``.

Sweep blocks, ``xorsweep train`` (a one-cell spec built from the command line) and the
analysis's re-training of a stored start all go through ``train_region``: the starts
come from ``Grid.starts`` and the settings from the block, so a re-trained network is
the stored one, bit for bit, by construction.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from xorsweep import kernels
from xorsweep.kernels import outcomes
from xorsweep.kernels.vocab import GROUPS, split_groups
from xorsweep.sweep.grid import Block, Grid
from xorsweep.sweep.spec import Spec


def cell_block(grid: Grid, cell: dict | None = None) -> Block:
    """The one-cell block at ``cell`` (dim -> integer index; missing dims: index 0)."""
    cell = dict(cell or {})
    unknown = set(cell) - set(grid.dims)
    if unknown:
        raise KeyError(f"the sweep has no dim {sorted(unknown)[0]!r} (its dims: {', '.join(grid.dims) or 'none'})")
    idx = tuple(int(cell.get(d, 0)) for d in grid.dims)
    for d, i, n in zip(grid.dims, idx, grid.shape):
        if not 0 <= i < n:
            raise IndexError(f"{d} index {i} is out of range (0 … {n - 1})")
    k = int(np.ravel_multi_index(tuple(i // c for i, c in zip(idx, grid.chunks)), grid.block_grid)) if idx else 0
    return dataclasses.replace(grid.block(k), region=tuple(slice(i, i + 1) for i in idx))


def train_region(grid: Grid, block: Block, *, threads=None, record_every=None, part: slice | None = None):
    """Train every cell of ``block`` (``part``: only those of that slice of its cells in C
    order): (starts (n, P) float64, TrainResult of n networks). A network's bits do not
    depend on the others trained with it, so parts of a block give the block's bits."""
    x = grid.starts(block).reshape(-1, grid.P)
    if part is not None:
        x = x[part]
    s, t = block.settings, grid.spec.training
    every = record_every if record_every is not None else (t.record_every or None)
    r = kernels.train(*(split_groups(x, grid.H)[g] for g in GROUPS), gradient=s["gradient"], update=s["update"],
                      lr=s["lr"], steps=s["steps"], dtype=s["dtype"], arith=s["arith"], record_every=every, h=s["h"],
                      threads=threads, lyapunov=t.lyapunov)
    return x, r


def block_values(grid: Grid, block: Block, threads=None, part: slice | None = None) -> dict:
    """Train every cell of the block; stored name -> array shaped block.shape + its dims.
    ``part``: only the cells of that slice of the block's cells in C order, each array
    shaped (cells,) + its dims (``join_parts`` puts the parts of a block together)."""
    x, r = train_region(grid, block, threads=threads, part=part)
    shape = block.shape if part is None else (x.shape[0],)
    n = x.shape[0]
    out = {}
    for g, a in split_groups(x, grid.H).items():
        out[f"{g}_start"] = a.reshape(shape + a.shape[1:])
        f = getattr(r, g)
        out[g] = f.astype(np.float64, copy=False).reshape(shape + f.shape[1:])
    out["loss"] = r.loss.astype(np.float64, copy=False).reshape(shape)
    out["accuracy"] = r.accuracy.astype(np.float64, copy=False).reshape(shape)
    out["predicted"] = r.predicted.reshape(shape + (4,))
    out["z1"] = r.z1.astype(np.float64, copy=False).reshape(shape + (4, grid.H))
    out["diverged"] = r.diverged.reshape(shape)
    o = grid.spec.outcomes
    out.update(outcomes.block_values(r, block.settings["steps"], shape, fold_swap=o.fold_swap, window=o.window))
    if r.trajectory is not None:
        T = len(grid.record_steps)
        for g in GROUPS + ("loss", "accuracy"):
            a = getattr(r.trajectory, g).astype(np.float64)
            full = np.full((n, T) + a.shape[2:], np.nan)
            full[:, :a.shape[1]] = a  # shorter runs (a steps axis) leave NaN after their end
            out[f"{g}_traj"] = full.reshape(shape + full.shape[1:])
    if r.lyapunov is not None:
        out["lyapunov"] = r.lyapunov.reshape(shape)
        if r.lyapunov_traj is not None:
            full = np.full((n, len(grid.record_steps)), np.nan)
            full[:, :r.lyapunov_traj.shape[1]] = r.lyapunov_traj
            out["lyapunov_traj"] = full.reshape(shape + (full.shape[1],))
    return out


def join_parts(block: Block, parts: list[dict]) -> dict:
    """The block's values (as ``block_values`` gives them) from ``block_values`` of its
    consecutive parts, in order."""
    out = {}
    for name, first in parts[0].items():
        joined = np.concatenate([p[name] for p in parts]) if len(parts) > 1 else first
        if joined.shape[0] != block.size:
            raise ValueError(f"block {block.index}: the parts hold {joined.shape[0]} cells of {block.size}")
        out[name] = joined.reshape(block.shape + first.shape[1:])
    return out


def train_cell(spec: Spec, cell: dict | None = None, *, record_every=None):
    """Train one cell of ``spec`` (dim -> index): (its start (P,), TrainResult of one network)."""
    grid = Grid(spec)
    x, r = train_region(grid, cell_block(grid, cell), threads=1, record_every=record_every)
    return x[0], r
