"""Basins on 2-D slices: the boundary, its box-counting dimension, basin entropy.

All functions take an attractor map: an integer DataArray over the slice dims (a, b)
with the flag attributes of ``analysis.labels``; ``pending`` cells are left out.

- Box counting: the map samples the plane at its cells; a box of side s spans s + 1
  cells along each dim, sharing its edge cells with its neighbours, so the boxes tile
  the sampled plane without gaps (s = 1, 2, 4, …; boxes at the far edge may be cut
  short). N(s) counts the boxes holding more than one attractor.
  N(s) ∝ s^−d; d is fitted in log-log over a range of s (default: 1 up to an eighth of
  the shorter side, so at least 8 × 8 boxes) and reported with that range. A smooth
  boundary gives d = 1, a space-filling one d → 2 (cf. Sohl-Dickstein 2024).
- Basin entropy (Daza, Wagemakers, Georgeot, Guéry-Odelin, Sanjuán 2016): boxes of
  ``box`` × ``box`` cells (the paper: 5 × 5), S_i = −Σ_j p_ij ln p_ij over the shares
  of the attractors in box i; S_b is the mean of S_i over all boxes, S_bb the mean
  over the boxes on a boundary (holding more than one attractor). S_bb > ln 2 is
  sufficient for a fractal boundary (the "ln 2 criterion").
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from xorsweep.analysis.labels import display_names
from xorsweep.analysis.stats import loglog_fit


def _grid(att: xr.DataArray, dims):
    """(values, valid) numpy arrays of the map, dims in order."""
    dims = tuple(dims) if dims is not None else tuple(att.dims)
    if len(dims) != 2 or set(att.dims) != set(dims):
        raise ValueError(f"an attractor map has exactly two dims, got {att.dims}")
    a = att.transpose(*dims).values.astype(np.int64)
    pending = []
    if "flag_values" in att.attrs:
        pending = [v for v, nm in zip(att.attrs["flag_values"], display_names(att)) if nm == "pending"]
    return a, ~np.isin(a, pending), dims


def attractor_map(att: xr.DataArray, cell=None, dims=("a", "b")) -> xr.DataArray:
    """The 2-D map of a slice sweep, oriented (b, a) for drawing: other dims are taken
    at ``cell[dim]`` (nearest for float coordinates) or at their first value."""
    cell = dict(cell or {})
    for d in att.dims:
        if d in dims:
            continue
        if d in cell:
            att = att.sel({d: cell[d]}, method="nearest" if att[d].dtype.kind == "f" else None)
        else:
            att = att.isel({d: 0})
    return att.transpose(*reversed(dims))


def boundary(att: xr.DataArray, dims=None) -> xr.DataArray:
    """Cells with a (valid) 4-neighbour in another attractor."""
    a, valid, dims = _grid(att, dims)
    out = np.zeros(a.shape, dtype=bool)
    for axis in (0, 1):
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        diff = (a[tuple(lo)] != a[tuple(hi)]) & valid[tuple(lo)] & valid[tuple(hi)]
        out[tuple(lo)] |= diff
        out[tuple(hi)] |= diff
    return xr.DataArray(out, coords={d: att[d] for d in dims if d in att.coords}, dims=dims,
                        attrs={"long_name": "cell next to another attractor"})


def _boxes(a, valid, s):
    """(n_boxes_a, n_boxes_b, s*s) views of the map cut into s x s boxes."""
    na, nb = a.shape[0] // s, a.shape[1] // s
    cut = (slice(0, na * s), slice(0, nb * s))

    def blocks(x):
        return x[cut].reshape(na, s, nb, s).transpose(0, 2, 1, 3).reshape(na, nb, s * s)

    return blocks(a), blocks(valid)


def _edge_boxes(a, valid, s):
    """(n_boxes_a, n_boxes_b, (s+1)**2) boxes of side s sharing their edge cells; boxes
    reaching past the far edge hold copies of the edge cells (no new mixing)."""
    from numpy.lib.stride_tricks import sliding_window_view

    pad = [(0, (-(n - 1)) % s) for n in a.shape]

    def view(x):
        w = sliding_window_view(np.pad(x, pad, mode="edge"), (s + 1, s + 1))[::s, ::s]
        return w.reshape(w.shape[0], w.shape[1], -1)

    return view(a), view(valid)


def _mixed(a, valid):
    """Per box: whether its valid cells hold more than one attractor."""
    big = np.iinfo(np.int64).max
    lo = np.where(valid, a, big).min(axis=-1)
    hi = np.where(valid, a, -big).max(axis=-1)
    return valid.any(axis=-1) & (lo != hi)


def box_counts(att: xr.DataArray, sizes=None, dims=None) -> xr.Dataset:
    """Number of s x s boxes on the boundary for each box size s (in cells)."""
    a, valid, dims = _grid(att, dims)
    if sizes is None:
        sizes = [2**k for k in range(0, 31) if 2**k <= (min(a.shape) - 1) // 2]
    counts, totals = [], []
    for s in sizes:
        ba, bv = _edge_boxes(a, valid, s)
        counts.append(int(_mixed(ba, bv).sum()))
        totals.append(int(bv.any(axis=-1).sum()))
    ds = xr.Dataset({"count": ("box", counts, {"long_name": "boxes holding more than one attractor"}),
                     "boxes": ("box", totals, {"long_name": "boxes with trained cells"})},
                    coords={"box": ("box", list(sizes), {"long_name": "box side", "units": "cells"})})
    for d, axis in zip(dims, (0, 1)):
        if d in att.coords and att.sizes[d] > 1:
            step = float(abs(att[d].values[1] - att[d].values[0]))
            ds.coords[f"box_{d}"] = ("box", np.array(sizes) * step,
                                     {"long_name": f"box side along {d}", "units": att[d].attrs.get("units", "1")})
    ds.attrs["shape"] = list(a.shape)
    return ds


def box_dimension(counts: xr.Dataset, fit_range=None) -> xr.Dataset:
    """Box-counting dimension d from N(s) ∝ s^-d over box sides ``fit_range`` = (low,
    high) in cells (default: 1 to an eighth of the shorter side)."""
    s = counts["box"].values
    if fit_range is None:
        fit_range = (1, max(2, min(counts.attrs.get("shape", [s.max() * 8])) // 8))
    use = (s >= fit_range[0]) & (s <= fit_range[1]) & (counts["count"].values > 0)
    slope, se, intercept, lo, hi, m = loglog_fit(s, counts["count"].values, use)
    return xr.Dataset({
        "dimension": ((), -slope, {"long_name": "box-counting dimension of the boundary"}),
        "dimension_se": ((), se, {"long_name": "standard error of the dimension"}),
        "log10_prefactor": ((), intercept),
        "fit_min": ((), lo, {"long_name": "smallest box side in the fit", "units": "cells"}),
        "fit_max": ((), hi, {"long_name": "largest box side in the fit", "units": "cells"}),
        "fit_points": ((), m)})


def basin_entropy(att: xr.DataArray, box=5, dims=None) -> xr.Dataset:
    """Basin entropy S_b and boundary basin entropy S_bb (natural log) over box x box cells."""
    a, valid, dims = _grid(att, dims)
    ba, bv = _boxes(a, valid, box)
    ba, bv = ba.reshape(-1, box * box), bv.reshape(-1, box * box)
    keep = bv.any(axis=1)
    ba, bv = ba[keep], bv[keep]
    entropy = np.zeros(len(ba))
    for v in np.unique(ba[bv]):
        p = ((ba == v) & bv).sum(axis=1) / bv.sum(axis=1)
        nz = p > 0
        entropy[nz] -= p[nz] * np.log(p[nz])
    on_boundary = _mixed(ba, bv)
    n, nb = len(entropy), int(on_boundary.sum())
    sb = float(entropy.mean()) if n else np.nan
    sbb = float(entropy[on_boundary].mean()) if nb else np.nan
    return xr.Dataset({
        "Sb": ((), sb, {"long_name": "basin entropy", "units": "nat"}),
        "Sbb": ((), sbb, {"long_name": "boundary basin entropy", "units": "nat"}),
        "boxes": ((), n, {"long_name": "boxes"}),
        "boundary_boxes": ((), nb, {"long_name": "boxes holding more than one attractor"}),
        "log2_criterion": ((), bool(sbb > np.log(2)) if nb else False,
                           {"long_name": "Sbb > ln 2: sufficient for a fractal boundary"})},
        attrs={"box": box})
