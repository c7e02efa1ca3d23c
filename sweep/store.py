"""The Zarr v3 store of a sweep, read through xarray.

Layout: the full template (coords, attrs, empty chunked variables) is written first;
each block then writes its chunk-aligned region of every variable and, last, its chunk
of ``done``. A block counts as done only when its ``done`` chunk is all true, so a block
killed half-way is simply recomputed (with the same bits) on resume.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from xorsweep.sweep.errors import UserError
from xorsweep.sweep.grid import Block, Grid
from xorsweep.sweep.provenance import provenance
from xorsweep.sweep.spec import Spec, spec_differences

PARAMS = {"W1": ("input", "hidden"), "b1": ("hidden",), "W2": ("hidden", "output"), "b2": ("output",)}
LONG_NAMES = {"W1": "input-to-hidden weights", "b1": "hidden biases", "W2": "hidden-to-output weights",
              "b2": "output biases"}
COORD_ATTRS = {
    "rule": {"long_name": "training rule"},
    "dtype": {"long_name": "floating-point type of training"},
    "arith": {"long_name": "exp/log implementation"},
    "lr": {"long_name": "learning rate"},
    "steps": {"long_name": "training iterations"},
    "start": {"long_name": "random start index"},
    "decimals": {"long_name": "decimals the start was rounded to (-1: unrounded)", "unrounded": -1},
    "eps": {"long_name": "perturbation size (euclidean norm)"},
    "direction": {"long_name": "perturbation direction index"},
    "a": {"long_name": "slice coordinate along u"},
    "b": {"long_name": "slice coordinate along v"},
    "row": {"long_name": "input row: x = [[0,0],[1,0],[0,1],[1,1]], labels [0,1,1,0]"},
    "input": {"long_name": "input unit (x1, x2)"},
    "hidden": {"long_name": "hidden unit"},
    "output": {"long_name": "output unit (class 0, class 1)"},
    "direction_name": {"long_name": "perturbed parameter"},
    "record": {"long_name": "recorded training step"},
}


def _variables(grid: Grid):
    """name -> (extra dims, dtype, attrs) of every stored variable."""
    v = {}
    for g, dims in PARAMS.items():
        v[f"{g}_start"] = (dims, np.float64, {"long_name": f"{LONG_NAMES[g]} at the start"})
        v[g] = (dims, np.float64, {"long_name": f"{LONG_NAMES[g]} after training"})
    v["loss"] = ((), np.float64, {"long_name": "cross-entropy loss after training"})
    v["accuracy"] = ((), np.float64, {"long_name": "share of the 4 inputs classified right", "units": "1"})
    v["predicted"] = (("row",), np.int8, {"long_name": "argmax output per input row",
                                           "flag_values": [0, 1], "flag_meanings": "class_0 class_1"})
    v["z1"] = (("row", "hidden"), np.float64, {"long_name": "hidden activations after training"})
    v["diverged"] = ((), np.bool_, {"long_name": "parameters or loss became non-finite",
                                    "flag_values": [0, 1], "flag_meanings": "finite diverged"})
    if grid.record_steps is not None:
        for g, dims in PARAMS.items():
            v[f"{g}_traj"] = (("record",) + dims, np.float64, {"long_name": f"{LONG_NAMES[g]} during training"})
        v["loss_traj"] = (("record",), np.float64, {"long_name": "loss during training"})
        v["accuracy_traj"] = (("record",), np.float64, {"long_name": "accuracy during training", "units": "1"})
    v["done"] = ((), np.bool_, {"long_name": "cell trained and written", "flag_values": [0, 1],
                                "flag_meanings": "pending done"})
    return v


def _sizes(grid: Grid):
    s = {"input": 2, "hidden": grid.H, "output": 2, "row": 4}
    if grid.record_steps is not None:
        s["record"] = len(grid.record_steps)
    return s


def estimated_bytes(grid: Grid) -> int:
    """Uncompressed size of every variable of the store (random floats barely compress)."""
    sizes = _sizes(grid)
    per_cell = sum(np.dtype(dt).itemsize * int(np.prod([sizes[d] for d in extra], dtype=np.int64))
                   for extra, dt, _ in _variables(grid).values())
    return grid.cells * per_cell


def template(grid: Grid, attrs: dict) -> tuple[xr.Dataset, dict]:
    """The empty dataset and its encoding (Zarr chunks = blocks). The lazy arrays are one
    dask chunk each, so the template costs the same whatever the number of blocks."""
    sizes = _sizes(grid)
    data_vars, encoding = {}, {}
    for name, (extra, dtype, vattrs) in _variables(grid).items():
        shape = grid.shape + tuple(sizes[d] for d in extra)
        encoding[name] = {"chunks": grid.chunks + tuple(sizes[d] for d in extra)}
        data_vars[name] = (grid.dims + extra, da.zeros(shape, dtype=dtype, chunks=-1), vattrs)
    coords = {d: (d, v, COORD_ATTRS.get(d, {})) for d, v in grid.coords().items()}
    coords.update(input=("input", [0, 1], COORD_ATTRS["input"]),
                  hidden=("hidden", np.arange(grid.H), COORD_ATTRS["hidden"]),
                  output=("output", [0, 1], COORD_ATTRS["output"]),
                  row=("row", np.arange(4), COORD_ATTRS["row"]))
    if grid.record_steps is not None:
        coords["record"] = ("record", grid.record_steps, COORD_ATTRS["record"])
    if grid.spec.axes.eps is not None and isinstance(grid.spec.axes.direction, tuple):
        coords["direction_name"] = ("direction", np.array(grid.spec.axes.direction, dtype=object),
                                    COORD_ATTRS["direction_name"])
    return xr.Dataset(data_vars, coords, attrs), encoding


def _quiet():
    """Consolidated metadata is not in the Zarr v3 spec yet; xarray relies on it to open fast."""
    w = warnings.catch_warnings()
    w.__enter__()
    warnings.simplefilter("ignore", zarr.errors.ZarrUserWarning)
    return w


def create(path, spec: Spec, command: str) -> Grid:
    grid = Grid(spec)
    need, free = estimated_bytes(grid), shutil.disk_usage(Path(path).parent).free
    if need > free:
        raise UserError(f"store {path} would need about {need / 1e9:,.1f} GB ({grid.cells:,} networks) "
                        f"but only {free / 1e9:,.1f} GB are free there: shrink the grid or use another disk")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    attrs = {
        "title": f"xorsweep {spec.name or 'sweep'}",
        "Conventions": "CF-1.10",
        "spec": json.dumps(spec.to_dict(), sort_keys=True),
        "spec_hash": spec.hash(),
        "created": now,
        "history": f"{now} created by: {command}",
        **provenance(spec.training.arith),
    }
    # written beside the store, then renamed onto the empty folder: a reader never sees
    # a half-made template, and a failure leaves no half-made store behind
    path = Path(path)
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    w = _quiet()
    try:
        ds, encoding = template(grid, attrs)
        ds.to_zarr(str(tmp), mode="w-", compute=False, zarr_format=3, consolidated=True, encoding=encoding)
        os.replace(tmp, path)
    finally:
        w.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
    return grid


def stored_spec(path) -> Spec:
    """The spec a store was made with; a clear error for anything that is not such a store."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"store {path} does not exist")
    if not p.is_dir():
        raise UserError(f"store {path} is not a directory (not a Zarr store)")
    try:
        g = zarr.open_group(str(p), mode="r", use_consolidated=False)
        text = g.attrs["spec"]
    except Exception as e:  # noqa: BLE001 - any failure here means: not a readable sweep store
        raise UserError(f"store {path} is not a readable xorsweep store ({type(e).__name__}: {e})") from None
    try:
        return Spec.from_dict(json.loads(text))
    except (json.JSONDecodeError, UserError) as e:
        raise UserError(f"store {path} holds a damaged spec ({e})") from None


def check_same_spec(path, spec: Spec) -> Spec:
    old = stored_spec(path)
    diff = spec_differences(old.identity(), spec.identity())
    if diff:
        raise UserError(f"store {path} was made by another spec ({'; '.join(diff[:3])}"
                        f"{'; …' if len(diff) > 3 else ''}): use a new --store")
    return old


def append_history(path, line: str, **attrs):
    """Add a history line (and attrs) to the group metadata in one atomic file replace, so
    that a concurrent reader always finds complete consolidated metadata."""
    meta_path = Path(path) / "zarr.json"
    meta = json.loads(meta_path.read_text())
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    a = meta.setdefault("attributes", {})
    a.update(attrs, history=a.get("history", "") + f"\n{now} {line}")
    tmp = meta_path.with_name(f".zarr.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, meta_path)


def done_blocks(path, grid: Grid) -> np.ndarray:
    """Flat bool array over blocks: True where the block's ``done`` chunk is all true."""
    arr = zarr.open_array(str(path), path="done", mode="r")
    out = np.zeros(grid.n_blocks, dtype=bool)
    if not grid.dims:
        out[0] = bool(arr[()])
        return out
    whole = None
    if grid.cells <= 2**25:  # small enough to read in one go (32 MB at most)
        try:
            whole = arr[...]
        except Exception:  # noqa: BLE001 - a damaged chunk: fall back to block by block
            whole = None
    for k in range(grid.n_blocks):
        region = grid.block(k).region
        try:
            out[k] = bool(np.all(whole[region] if whole is not None else arr[region]))
        except Exception:  # noqa: BLE001 - an unreadable marker chunk means: not done
            out[k] = False
    return out


def write_block(path, grid: Grid, block: Block, values: dict):
    """Write one block's variables into their regions, then mark it done."""
    g = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    for name, arr in values.items():
        g[name][block.region] = arr
    g["done"][block.region] = np.ones(block.shape, dtype=bool)
