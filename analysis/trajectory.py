"""One network of a store: pick its cell, and get its training trajectory.

The trajectory comes from the store (``*_traj`` variables, when the spec had
``record_every``) or, when the store holds none, from re-training that one stored start
with ``kernels.train(record_every=1)`` and the cell's settings: the only training the
analysis ever does. The kernels are deterministic, so the re-trained finals equal the
stored ones bit for bit (``attrs["matches_store"]`` says whether they do).
"""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

from xorsweep.analysis.labels import sweep_dims

SETTINGS = ("rule", "dtype", "arith", "lr", "steps")
GROUPS = ("W1", "b1", "W2", "b2")


def _typed(ds, dim, text):
    coord = ds[dim].values
    if coord.dtype.kind in "OUS":
        return text
    if dim == "decimals" and text in ("none", "unrounded"):
        return -1
    try:
        return int(text) if coord.dtype.kind in "iu" else float(text)
    except ValueError:
        raise ValueError(f"--cell {dim}={text}: not a number (the {dim} values are {coord[:6].tolist()}…)") from None


def parse_cell(ds, items) -> dict:
    """['decimals=7', 'start=3'] -> {'decimals': 7, 'start': 3}, typed like the coords."""
    out = {}
    dims = sweep_dims(ds)
    for item in items or ():
        dim, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--cell {item!r}: expected dim=value")
        if dim not in dims:
            raise ValueError(f"--cell {item!r}: the store has no sweep dim {dim!r} "
                             f"(its dims: {', '.join(dims) or 'none'})")
        out[dim] = _typed(ds, dim, text)
    return out


def select(ds, cell=None, keep=()) -> xr.Dataset:
    """The cells at ``cell`` (dim -> value; the nearest value for float dims); sweep dims
    neither in ``cell`` nor in ``keep`` are taken at their first value."""
    cell = dict(cell or {})
    for dim in sweep_dims(ds):
        if dim in keep:
            continue
        if dim not in cell:
            ds = ds.isel({dim: 0})
            continue
        v = cell[dim]
        if ds[dim].dtype.kind == "f":
            ds = ds.sel({dim: v}, method="nearest")
        elif v not in ds[dim].values:
            raise ValueError(f"--cell {dim}={v}: not among the store's {dim} values "
                             f"{ds[dim].values[:8].tolist()}")
        else:
            ds = ds.sel({dim: v})
    return ds


DIM_ORDER = SETTINGS + ("start", "decimals", "eps", "direction", "a", "b")


def cell_coords(cell_ds) -> list:
    """The sweep coordinates fixed in a selected cell, in the grid's dim order."""
    return [d for d in DIM_ORDER if d in cell_ds.coords and cell_ds[d].ndim == 0]


def describe(cell_ds) -> str:
    """'start 3, unrounded' or 'decimals 7' for a selected cell."""
    parts = []
    for name in cell_coords(cell_ds):
        v = cell_ds[name].item()
        if name == "decimals" and v == -1:
            parts.append("unrounded")
        else:
            parts.append(f"{name} {v:g}" if isinstance(v, float) else f"{name} {v}")
    return ", ".join(parts)


def _settings(cell_ds) -> dict:
    spec = json.loads(cell_ds.attrs["spec"]) if "spec" in cell_ds.attrs else {}
    t = spec.get("training", {})
    s = {k: t[k] for k in SETTINGS + ("h",) if k in t}
    for k in SETTINGS:
        if k in cell_ds.coords:
            v = cell_ds[k].item()
            s[k] = v.decode() if isinstance(v, bytes) else v
    return s


def trajectory(cell_ds: xr.Dataset) -> xr.Dataset:
    """Parameters, loss and accuracy per training step of one selected cell: variables
    W1 (step, input, hidden), b1, W2, b2, loss, accuracy over dim ``step``."""
    if "W1_traj" in cell_ds:
        out = xr.Dataset({g: cell_ds[f"{g}_traj"] for g in GROUPS + ("loss", "accuracy")})
        out = out.rename({"record": "step"}).reset_coords(drop=True)
        out = out.isel(step=np.flatnonzero(np.isfinite(out["loss"].values)))
        out.attrs["source"] = "stored trajectory"
        return out
    from xorsweep import kernels

    s = _settings(cell_ds)
    starts = [cell_ds[f"{g}_start"].values[None] for g in GROUPS]
    r = kernels.train(*starts, rule=s.get("rule", "seed"), lr=s.get("lr"), steps=s.get("steps"),
                      dtype=s.get("dtype", "float64"), arith=s.get("arith", "exact"), record_every=1,
                      h=s.get("h", 1e-4))
    t = r.trajectory
    dims = {"W1": ("input", "hidden"), "b1": ("hidden",), "W2": ("hidden", "output"), "b2": ("output",)}
    out = xr.Dataset({g: (("step",) + dims[g], getattr(t, g)[0].astype(np.float64)) for g in GROUPS},
                     coords={"step": t.steps})
    out["loss"] = ("step", t.loss[0].astype(np.float64))
    out["accuracy"] = ("step", t.accuracy[0].astype(np.float64))
    same = all(np.array_equal(getattr(r, g)[0].astype(np.float64), cell_ds[g].values) for g in GROUPS)
    out.attrs.update(source="re-trained from the stored start", matches_store=int(same))
    return out
