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


def train_region(grid: Grid, block: Block, *, threads=None, record_every=None):
    """Train every cell of ``block``: (starts (n, P) float64, TrainResult of n networks)."""
    x = grid.starts(block).reshape(-1, grid.P)
    s, t = block.settings, grid.spec.training
    every = record_every if record_every is not None else (t.record_every or None)
    r = kernels.train(*(split_groups(x, grid.H)[g] for g in GROUPS), gradient=s["gradient"], update=s["update"],
                      lr=s["lr"], steps=s["steps"], dtype=s["dtype"], arith=s["arith"], record_every=every, h=s["h"],
                      threads=threads, lyapunov=t.lyapunov)
    return x, r


def block_values(grid: Grid, block: Block, threads=None) -> dict:
    """Train every cell of the block; stored name -> array shaped block.shape + its dims.
    ``block`` may be a part of a grid block (``part``): a cell's start and bits do not
    depend on the cells trained with it, so the parts joined (``join_parts``) give the
    block's values."""
    shape = block.shape
    x, r = train_region(grid, block, threads=threads)
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


def part(block: Block, axis: int, start: int, stop: int) -> Block:
    """Cells ``start:stop`` of ``block`` along its dim ``axis`` (a smaller block of the same
    index and settings)."""
    region = list(block.region)
    r = region[axis]
    region[axis] = slice(r.start + start, r.start + stop)
    return dataclasses.replace(block, region=tuple(region))


def join_parts(block: Block, axis: int, parts: list[dict]) -> dict:
    """The block's values (as ``block_values`` gives them) from ``block_values`` of its
    consecutive parts along ``axis`` (``part``), in order."""
    out = {}
    for name, first in parts[0].items():
        joined = np.concatenate([p[name] for p in parts], axis=axis) if len(parts) > 1 else first
        if joined.shape[:len(block.shape)] != block.shape:
            raise ValueError(f"block {block.index}: the parts of {name} make {joined.shape}, not {block.shape}")
        out[name] = joined
    return out


def train_cell(spec: Spec, cell: dict | None = None, *, record_every=None):
    """Train one cell of ``spec`` (dim -> index): (its start (P,), TrainResult of one network)."""
    grid = Grid(spec)
    x, r = train_region(grid, cell_block(grid, cell), threads=1, record_every=record_every)
    return x[0], r
