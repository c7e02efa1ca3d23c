"""One network of a store: pick its cell, and get its training trajectory.

The trajectory comes from the store (``*_traj`` variables, when the spec had
``record_every``) or, when the store holds none, from re-training that one cell through
``xorsweep.sweep.cells.train_cell`` (the same path a sweep's blocks take, with
``record_every=1``): the only training the analysis ever does. The start and settings
come from the stored spec and the cell's index, so the re-trained network is the stored
one by construction (``attrs["matches_store"]`` records the check of the finals).
"""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

from xorsweep.analysis.labels import sweep_dims
from xorsweep.errors import UserError
from xorsweep.kernels.vocab import GROUP_DIMS, GROUPS
from xorsweep.sweep.grid import decimals_label, decimals_position, unrounded
from xorsweep.sweep.spec import SETTING_AXES


def _typed(ds, dim, text):
    coord = ds[dim].values
    if coord.dtype.kind in "OUST":  # T: numpy's StringDType, as zarr reads text
        return text
    if dim == "decimals" and text in ("none", "unrounded"):
        return np.nan if coord.dtype.kind == "f" else -1
    try:
        return int(text) if coord.dtype.kind in "iu" else float(text)
    except ValueError:
        raise UserError(f"--cell {dim}={text}: not a number (the {dim} values are {coord[:6].tolist()}…)") from None


def parse_cell(ds, items) -> dict:
    """['decimals=7', 'start=3'] -> {'decimals': 7, 'start': 3}, typed like the coords."""
    out = {}
    dims = sweep_dims(ds)
    for item in items or ():
        dim, sep, text = item.partition("=")
        if not sep:
            raise UserError(f"--cell {item!r}: expected dim=value")
        if dim not in dims:
            raise UserError(f"--cell {item!r}: the store has no sweep dim {dim!r} "
                             f"(its dims: {', '.join(dims) or 'none'})")
        out[dim] = _typed(ds, dim, text)
        _check_value(ds, dim, out[dim])
    return out


def _check_value(ds, dim, v):
    """UserError unless ``v`` names a cell of ``dim``: one of its values (decimals: by
    position, ``none`` the unrounded start; other float axes such as eps or lr to a relative
    1e-9), or on the evenly spaced slice axes ``a`` and ``b`` a value within half a step of
    the grid (``select`` takes the nearest); a statistic would otherwise quietly use another
    cell (``stats --cell decimals=99`` reported the first; on eps = [0, 1e-8, 1e-3],
    ``eps=1e-9`` would take the reference cell eps = 0)."""
    coord = ds[dim].values
    if coord.ndim != 1 or coord.size == 0:  # a zoomed slice's a and b: per level
        return
    shown = [decimals_label(x) for x in coord[:8]] if dim == "decimals" else coord[:8].tolist()
    if dim == "decimals":
        ok = decimals_position(coord, v) is not None
    elif coord.dtype.kind == "f":
        c = np.sort(coord[np.isfinite(coord)])
        if dim in ("a", "b"):
            half = (np.diff(c).max() / 2 if c.size > 1 else 0.0) + 1e-9 * max(1.0, float(np.abs(c).max(initial=0)))
            ok = bool(c.size) and np.isfinite(v) and c[0] - half <= v <= c[-1] + half
        else:
            ok = bool(np.isfinite(v) and np.isclose(c, v, rtol=1e-9, atol=0).any())
    else:
        ok = v in coord
    if not ok and dim in ("a", "b") and coord.dtype.kind == "f":
        raise UserError(f"--cell {dim}={v:g}: outside the store's {dim} range [{c[0]:g}, {c[-1]:g}]"
                        if c.size else f"--cell {dim}={v:g}: the store's {dim} has no finite value")
    if not ok:
        raise UserError(f"--cell {dim}={v if dim != 'decimals' else decimals_label(v)}: not among the store's "
                        f"{dim} values {shown}" + ("…" if coord.size > 8 else ""))


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
        if dim == "decimals":
            k = decimals_position(ds[dim].values, v)
            if k is None:
                raise UserError(f"--cell decimals={v}: not among the store's decimals values "
                                f"{[decimals_label(x) for x in ds[dim].values[:8]]}")
            ds = ds.isel({dim: k})
        elif ds[dim].dtype.kind == "f":
            ds = ds.sel({dim: v}, method="nearest")
        elif v not in ds[dim].values:
            raise UserError(f"--cell {dim}={v}: not among the store's {dim} values "
                             f"{ds[dim].values[:8].tolist()}")
        else:
            ds = ds.sel({dim: v})
    return ds


DIM_ORDER = SETTING_AXES + ("start", "decimals", "eps", "direction", "zoom", "a", "b")


def cell_coords(cell_ds) -> list:
    """The sweep coordinates fixed in a selected cell, in the grid's dim order."""
    return [d for d in DIM_ORDER if d in cell_ds.coords and cell_ds[d].ndim == 0]


def describe(cell_ds) -> str:
    """'start 3, unrounded' or 'decimals 7' for a selected cell."""
    parts = []
    for name in cell_coords(cell_ds):
        v = cell_ds[name].values.item()  # a zoomed slice's a and b are lazy 2-D coords
        if name == "decimals" and unrounded([v])[0]:
            parts.append("unrounded")
        else:
            parts.append(f"{name} {v:g}" if isinstance(v, float) else f"{name} {v}")
    return ", ".join(parts)


def trajectory(cell_ds: xr.Dataset) -> xr.Dataset:
    """Parameters, loss and accuracy per training step of one selected cell: variables
    W1 (step, input, hidden), b1, W2, b2, loss, accuracy over dim ``step``."""
    if "W1_traj" in cell_ds:
        out = xr.Dataset({g: cell_ds[f"{g}_traj"] for g in GROUPS + ("loss", "accuracy")})
        out = out.rename({"record": "step"}).reset_coords(drop=True)
        out = out.isel(step=np.flatnonzero(np.isfinite(out["loss"].values)))
        out.attrs["source"] = "stored trajectory"
        return out
    from xorsweep.sweep import cells
    from xorsweep.sweep.grid import Grid
    from xorsweep.sweep.spec import Spec

    if "spec" not in cell_ds.attrs:
        raise UserError("the dataset has no stored spec: cannot re-train its start")
    spec = Spec.from_dict(json.loads(cell_ds.attrs["spec"]))
    coords = Grid(spec).coords()
    index = {}
    for d, values in coords.items():
        v = cell_ds[d].values
        hits = np.flatnonzero(values == v) if d != "decimals" or v.ndim else \
            [k for k in [decimals_position(values, float(v))] if k is not None]
        if v.ndim or not len(hits):
            raise UserError(f"select one cell first: {d} is not fixed to one stored value")
        index[d] = int(hits[0])
    _, r = cells.train_cell(spec, index, record_every=1)
    t = r.trajectory
    out = xr.Dataset({g: (("step",) + GROUP_DIMS[g], getattr(t, g)[0].astype(np.float64)) for g in GROUPS},
                     coords={"step": t.steps})
    out["loss"] = ("step", t.loss[0].astype(np.float64))
    out["accuracy"] = ("step", t.accuracy[0].astype(np.float64))
    same = all(np.array_equal(getattr(r, g)[0].astype(np.float64), cell_ds[g].values) for g in GROUPS)
    out.attrs.update(source="re-trained from the stored spec and cell", matches_store=int(same))
    return out
