"""Basins on 2-D slices: the boundary, its box-counting dimension, basin entropy.

All functions take an attractor map: an integer DataArray over the slice dims (a, b)
with the flag attributes of ``analysis.labels``; ``pending`` cells are left out.

- Box counting: the map samples the plane at its cells; a box of side s spans s + 1
  cells along each dim, sharing its edge cells with its neighbours, so the boxes tile
  the sampled plane without gaps (s = 1, 2, 4, …; boxes at the far edge may be cut
  short). N(s) counts the boxes holding more than one attractor.
  N(s) ∝ s^−d; d is fitted in log-log over s >= 2 up to an eighth of the shorter side,
  and only where fewer than half of the boxes are mixed: a map mixed nearly everywhere
  gives N ∝ s^−2 whatever its geometry, so it is flagged ``saturated`` and gets no d.
  Counts are the smallest over shifted box grids, at sizes growing by √2. A smooth
  boundary gives d = 1, a space-filling one d → 2 (cf. Sohl-Dickstein 2024). The same
  statistics on the shuffled map (same class shares, no geometry) are the control.
- Basin entropy (Daza, Wagemakers, Georgeot, Guéry-Odelin, Sanjuán 2016): boxes of
  ``box`` × ``box`` cells (the paper: 5 × 5), S_i = −Σ_j p_ij ln p_ij over the shares
  of the attractors in box i; S_b is the mean of S_i over all boxes, S_bb the mean
  over the boxes on a boundary (holding more than one attractor). S_bb > ln 2 is
  sufficient for a fractal boundary (the "ln 2 criterion") only where the boxes are small
  beside the basins' structure: a box across three smooth stripes also exceeds it (4-class
  stripes 2.7 cells wide: 0.88), so it is always shown beside the shuffled map's S_bb.
- Islands: a region of one class of at most ``ISLAND_CELLS`` cells adds a mixed box at
  every small side whatever the boundary's shape, so scattered cells flatten N(s) (a
  straight line with 0.1 % of its cells flipped: d = 0.54). Where the map has a box
  dimension it is also computed with the islands filled in (each set to the class with
  the most contacts around it: the line again 0.99), and a note says when they move d;
  they may be noise or structure finer than the grid. Islands at the map's edge count
  (else the edge keeps the noise), islands next to an untrained cell do not (they may be
  larger than they look).
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


def _edge_boxes(a, valid, s, offset=(0, 0)):
    """(n_boxes_a, n_boxes_b, (s+1)**2) boxes of side s sharing their edge cells, the box
    grid shifted back by ``offset`` cells; boxes reaching past an edge hold copies of the
    edge cells (no new mixing)."""
    from numpy.lib.stride_tricks import sliding_window_view

    pad = [(o, (-(n + o - 1)) % s) for n, o in zip(a.shape, offset)]

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


def box_counts(att: xr.DataArray, sizes=None, dims=None, offsets=2) -> xr.Dataset:
    """Number of boxes of side s (in cells) on the boundary, for each s: by default
    s = 1 and sides growing by √2 (dense sizes damp the log-periodic wobble of self-similar
    boundaries) up to half the shorter side. Each count is the smallest over ``offsets`` ×
    ``offsets`` shifts of the box grid (a box cover is the smallest one), and
    ``mixed_share`` is the share of mixed boxes among the boxes of that cover."""
    a, valid, dims = _grid(att, dims)
    if sizes is None:
        top = (min(a.shape) - 1) // 2
        sizes = sorted({int(round(2 ** (k / 2))) for k in range(0, 64) if round(2 ** (k / 2)) <= top})
    counts, totals = [], []
    for s in sizes:
        shifts = sorted({(s * i) // offsets for i in range(offsets)})
        best = None
        for oa in shifts:
            for ob in shifts:
                ba, bv = _edge_boxes(a, valid, s, (oa, ob))
                c = (int(_mixed(ba, bv).sum()), int(bv.any(axis=-1).sum()))
                best = c if best is None or c[0] < best[0] else best
        counts.append(best[0])
        totals.append(best[1])
    share = np.divide(counts, totals, out=np.full(len(counts), np.nan), where=np.array(totals) > 0)
    ds = xr.Dataset({"count": ("box", counts, {"long_name": "boxes holding more than one attractor"}),
                     "boxes": ("box", totals, {"long_name": "boxes with trained cells"}),
                     "mixed_share": ("box", share, {"long_name": "share of boxes holding more than one class",
                                                    "units": "1"})},
                    coords={"box": ("box", list(sizes), {"long_name": "box side", "units": "cells"})})
    for d, axis in zip(dims, (0, 1)):
        if d in att.coords and att.sizes[d] > 1:
            step = float(abs(att[d].values[1] - att[d].values[0]))
            ds.coords[f"box_{d}"] = ("box", np.array(sizes) * step,
                                     {"long_name": f"box side along {d}", "units": att[d].attrs.get("units", "1")})
    ds.attrs["shape"] = list(a.shape)
    return ds


def box_dimension(counts: xr.Dataset, fit_range=None, min_side=2, max_mixed=0.5) -> xr.Dataset:
    """Box-counting dimension d from N(s) ∝ s^-d, fitted only over box sides s >= ``min_side``
    (s = 1 is the grid itself) whose mixed share is below ``max_mixed``: where most boxes
    are mixed, N(s) ∝ s^-2 whatever the geometry. Default upper end: an eighth of the
    shorter side (at least 8 × 8 boxes); ``fit_range`` = (low, high) in cells narrows it.
    A map mixed in at least half of its smallest boxes is flagged ``saturated`` and gets
    no dimension (NaN), nor does a fit with fewer than 3 box sides; ``reason`` says why."""
    s = counts["box"].values
    share = counts["mixed_share"].values if "mixed_share" in counts else counts["count"].values / counts["boxes"].values
    high = max(min_side, min(counts.attrs.get("shape", [s.max() * 8])) // 8)
    lo_s, hi_s = (min_side, high) if fit_range is None else (max(min_side, fit_range[0]), fit_range[1])
    window = (s >= lo_s) & (s <= hi_s)
    first = np.flatnonzero(s >= min_side)
    saturated = bool(len(first) and share[first[0]] >= max_mixed)
    use = window & (share < max_mixed) & (counts["count"].values > 0)
    slope, se, intercept, lo, hi, m = loglog_fit(s, counts["count"].values, use)
    raw = loglog_fit(s, counts["count"].values, window & (counts["count"].values > 0))[0]
    reason = ""
    if saturated:
        reason = (f"saturated: {100 * share[first[0]]:.1f}% of the boxes of side {int(s[first[0]])} already hold "
                  f"two or more classes, so N(s) follows s^-2 whatever the boundary")
    elif not (counts["count"].values > 0).any():
        reason = "no boundary: no box holds two classes"
    elif m < 3:
        reason = f"only {m} box sides with a mixed share below {max_mixed:g} in {lo_s:g} to {hi_s:g} cells"
    # the fit's lower and upper halves (sharing the middle side): isolated regions of one
    # class (clusters, blobs of noise larger than the islands filled in) add boxes that do
    # not shrink with s, so N(s) flattens at the larger sides; a rasterised fractal bends
    # the other way (steeper at the larger sides: the Koch snowflake +0.19, Newton's basins
    # +0.09 at 512²), a smooth curve not at all (a line +0.004). A straight boundary across
    # the map's shorter side n has N(s) = ceil(n / s), which flattens where s is a sizeable
    # fraction of n (a line on a 56² map: -0.16 over sides 2-6): that bend is taken off
    # first (review, 2026-12-04), and the fit needs 7 sides (maps of 128² and more).
    idx = np.flatnonzero(use)
    low = high = np.nan
    if len(idx) >= 7:  # halves of 4 sides: with fewer, a small map's discreteness alone bends N(s)
        half = len(idx) // 2
        lower, upper = np.zeros_like(use), np.zeros_like(use)
        lower[idx[:half + 1]], upper[idx[half:]] = True, True
        n_side = min(counts.attrs.get("shape", [np.inf]))
        straight = np.ceil(n_side / s) if np.isfinite(n_side) else s ** -1.0
        sl, low_se = loglog_fit(s, counts["count"].values, lower)[:2]
        su, high_se = loglog_fit(s, counts["count"].values, upper)[:2]
        low, high = -sl, -su
        bend = (high - low) - (loglog_fit(s, straight, lower)[0] - loglog_fit(s, straight, upper)[0])
        allowed = max(BEND, 3 * float(np.hypot(low_se, high_se)))
        if not reason and np.isfinite(allowed) and bend < -allowed:
            reason = (f"N(s) flattens: local dimension {low:.2f} over box sides {int(s[idx[0]])}-{int(s[idx[half]])}, "
                      f"{high:.2f} over {int(s[idx[half]])}-{int(s[idx[-1]])} ({bend:+.2f} beside a straight "
                      "boundary's): something adds boxes that do not shrink with s, such as regions of one class "
                      "larger than the islands filled in, so no single d describes the boundary")
    d = -slope if not reason else np.nan
    return xr.Dataset({
        "dimension": ((), d, {"long_name": "box-counting dimension of the boundary"}),
        "dimension_se": ((), se if not reason else np.nan, {"long_name": "standard error of the dimension (residuals)"}),
        "raw_slope": ((), -raw, {"long_name": "-slope of log N over the box-side window, mixed shares ignored"}),
        "log10_prefactor": ((), intercept),
        "fit_min": ((), lo, {"long_name": "smallest box side in the fit", "units": "cells"}),
        "fit_max": ((), hi, {"long_name": "largest box side in the fit", "units": "cells"}),
        "fit_points": ((), m),
        "dimension_low": ((), low, {"long_name": "-slope of log N over the lower half of the fit's box sides"}),
        "dimension_high": ((), high, {"long_name": "-slope of log N over the upper half of the fit's box sides"})},
        attrs={"saturated": int(saturated), "reason": reason, "max_mixed": max_mixed,
                                       "min_side": min_side})


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
                           {"long_name": "Sbb > ln 2: sufficient for a fractal boundary only with boxes small "
                                          "beside the basins' structure (show it beside a shuffled map's)"})},
        attrs={"box": box})


# ---- controls, the fractality test, partial maps, zoom sequences ----------------------

#: boundary basin entropy of a smooth boundary seen through a ball, by dimension (Puy et al. 2021)
SMOOTH_SBB = (0.499999, 0.4395093, 0.39609176, 0.36319428, 0.33722572)


#: a 'fractal' verdict whose Ŝbb has at least this share of the shuffled map's excess over
#: a smooth boundary's value gets a note: mixing, which noise has too, may have made it (a
#: straight line with half its cells set at random: 0.66, 18 σ from its shuffled map)
NOISE_LIKE_EXCESS = 0.5


def mark_pending(att: xr.DataArray, done=None) -> xr.DataArray:
    """The map with cells not ``done`` set to the ``pending`` class (added to the flags
    when the partition has none), so that every measure leaves them out."""
    if done is None:
        return att
    names = display_names(att)
    values = list(att.attrs["flag_values"])
    attrs = dict(att.attrs)
    if "pending" in names:
        code = values[names.index("pending")]
    else:
        code = min(values) - 1
        attrs["flag_values"] = [code] + values
        attrs["flag_meanings"] = "pending " + attrs["flag_meanings"]
        if "flag_display_names" in attrs:
            attrs["flag_display_names"] = ["pending"] + list(attrs["flag_display_names"])
        if "flag_families" in attrs:
            attrs["flag_families"] = ["pending"] + list(attrs["flag_families"])
    out = att.where(done.astype(bool), code).astype(att.dtype)
    out.attrs = attrs
    return out


def shuffled(att: xr.DataArray, seed=0, dims=None) -> xr.DataArray:
    """The map with its trained cells permuted (seeded): the same class shares, no geometry."""
    a, valid, dims = _grid(att, dims)
    out = a.copy()
    rng = np.random.default_rng(seed)
    out[valid] = rng.permutation(a[valid])
    return att.transpose(*dims).copy(data=out.astype(att.dtype))


#: the largest island ``islands`` removes by default: 2 x 2 cells
ISLAND_CELLS = 4
#: how far the upper half of a box-count fit may flatten below its lower half (in d) before
#: ``box_dimension`` refuses (blobs of 3x3 and 5x5 cells on a line: -0.27 to -0.35; a line
#: with 0.1 % of its cells flipped: -0.10, which the islands control covers)
BEND = 0.15


def _islands(a, valid, max_cells):
    """(labels, n): the 8-connected regions of one class with at most ``max_cells`` trained
    cells that touch no untrained cell (which could hide more of the region), numbered
    1..n (0 elsewhere)."""
    from scipy import ndimage

    out, n = np.zeros(a.shape, np.int64), 0
    edge = ndimage.binary_dilation(~valid, np.ones((3, 3), bool))  # next to an untrained cell
    for k in np.unique(a[valid]):
        lab, m = ndimage.label((a == k) & valid, np.ones((3, 3), int))
        if not m:
            continue
        size = np.bincount(lab.ravel(), minlength=m + 1)
        touches = np.zeros(m + 1, bool)
        touches[np.unique(lab[edge & (lab > 0)])] = True
        keep = (size <= max_cells) & ~touches
        keep[0] = False
        ids = np.cumsum(keep) * keep  # the kept regions renumbered 1..
        sel = keep[lab]
        out[sel] = ids[lab[sel]] + n
        n += int(keep.sum())
    return out, n


def islands(att: xr.DataArray, max_cells=ISLAND_CELLS, dims=None) -> xr.DataArray:
    """Cells of islands: regions of one class (8-connected) with at most ``max_cells``
    cells touching no untrained cell (the map's edge may cut them). Each island adds a
    mixed box at every small box side whatever the boundary's shape: a few of them flatten
    N(s) (a straight line with 0.1 % of its cells flipped gives d ≈ 0.5)."""
    a, valid, dims = _grid(att, dims)
    lab, _ = _islands(a, valid, max_cells)
    return xr.DataArray(lab > 0, coords={d: att[d] for d in dims if d in att.coords}, dims=dims,
                        attrs={"long_name": f"cell of an island of at most {max_cells} cells"})


def without_islands(att: xr.DataArray, max_cells=ISLAND_CELLS, dims=None) -> tuple[xr.DataArray, int]:
    """(map, n): the map with n of its ``islands`` filled in: each takes the class with the
    most contacts around it, a contact being a trained cell outside the island next to
    one of its cells (8-neighbours; a cell next to two of them counts twice; ties: the
    smallest code). An island with nothing around it but other islands keeps its class.
    The control that shows how much of a box count the islands make."""
    from scipy import ndimage

    a, valid, dims = _grid(att, dims)
    lab, n = _islands(a, valid, max_cells)
    out = a.copy()
    filled = 0
    ring = ndimage.binary_dilation(lab > 0, np.ones((3, 3), bool)) & (lab == 0) & valid
    if n and ring.any():
        pl = np.pad(lab, 1)
        ri, rj = np.nonzero(ring)
        classes, cls = np.unique(a[ring], return_inverse=True)
        votes = np.zeros((n + 1, len(classes)), np.int64)
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                np.add.at(votes, (pl[ri + 1 + da, rj + 1 + db], cls), 1)  # label 0: no island there
        votes[0] = 0
        has = votes.sum(axis=1) > 0
        fill = classes[np.argmax(votes, axis=1)]  # argmax: ties take the smaller code
        cells = (lab > 0) & has[lab]
        out[cells] = fill[lab[cells]]
        filled = int(has.sum())
    return att.transpose(*dims).copy(data=out.astype(att.dtype)), filled


def _ball_entropy(a, valid, p, radius):
    """Entropy of the classes of the valid cells within ``radius`` of the point ``p``."""
    lo = np.maximum(np.floor(p - radius).astype(int), 0)
    hi = np.minimum(np.ceil(p + radius).astype(int) + 1, a.shape)
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    inside = ((ii - p[0]) ** 2 + (jj - p[1]) ** 2 <= radius**2) & valid[ii, jj]
    vals = a[ii, jj][inside]
    if vals.size == 0:
        return 0.0
    _, c = np.unique(vals, return_counts=True)
    q = c / vals.size
    return float(-(q * np.log(q)).sum())


def fractal_test(att: xr.DataArray, radius=20, n_balls=1000, seed=0, dims=None, max_draws=None) -> dict:
    """The fractality test of Puy, Daza, Wagemakers, Sanjuán (2021), as in Attractors.jl's
    ``basins_fractal_test``: draw ball centres uniformly (seeded) until ``n_balls`` balls of
    ``radius`` cells hold more than one class; their mean entropy Ŝbb, with σ = std/√n, is
    compared with the value of a smooth boundary (0.4395 in 2-D): 'smooth' when
    S_smooth − σ ≤ Ŝbb ≤ S_smooth + σ + 0.224·radius^−1.006 (the ball's systematic
    bias), 'fractal' above, 'not smooth, below' under it (a fractal boundary such as the Koch
    snowflake, or isolated cells, or an unresolved boundary: the Julia code calls it all
    'fractal'). Unlike the Julia code, no zero entry is averaged in."""
    a, valid, dims = _grid(att, dims)
    rng = np.random.default_rng(seed)
    shape = np.array(a.shape, float)
    ent, draws = [], 0
    max_draws = 50 * n_balls if max_draws is None else max_draws
    if len(np.unique(a[valid])) < 2:
        max_draws = 0  # one class: no ball can hold two
    while len(ent) < n_balls and draws < max_draws:
        draws += 1
        # Julia draws rand()*(sz-ε)+ε on 1-based indices: [ε-1, sz-1] here
        p = rng.random(2) * (shape - radius) + radius - 1
        e = _ball_entropy(a, valid, p, radius)
        if e > 0:
            ent.append(e)
    n = len(ent)
    smooth = SMOOTH_SBB[1]
    bias = 0.224 * radius**-1.006
    out = {"radius": radius, "balls": n, "draws": draws, "seed": seed, "smooth_Sbb": smooth,
           "upper": None, "Sbb": None, "sigma": None, "verdict": None, "warning": None}
    if min(a.shape) / radius < 50:
        out["warning"] = f"the grid is coarse for this radius ({min(a.shape)} / {radius} < 50 balls across)"
    if n < 2:
        out["verdict"] = "no boundary" if n == 0 else "too few boundary balls"
        return out
    mean, sigma = float(np.mean(ent)), float(np.std(ent, ddof=1) / np.sqrt(n))
    smooth_ok = smooth - sigma <= mean <= smooth + sigma + bias
    # below the band the test rejects a smooth boundary but says no more (the Julia code says
    # 'fractal'): the Koch snowflake lands there (Ŝbb 0.40 at radius 8), and so do isolated
    # cells or a boundary the ball does not resolve (a line with 0.1 % of its cells flipped: 0.10)
    verdict = "smooth" if smooth_ok else ("fractal" if mean > smooth else "not smooth, below")
    out.update(Sbb=mean, sigma=sigma, lower=smooth - sigma, upper=smooth + sigma + bias, verdict=verdict)
    if verdict == "not smooth, below":
        out["reading"] = ("Ŝbb below a smooth boundary's: a fractal boundary can do this (the Koch snowflake), and "
                          "so can isolated cells of another class or a boundary the ball does not resolve")
    if n < n_balls:
        out["warning"] = (out["warning"] + "; " if out["warning"] else "") + f"only {n} boundary balls in {draws} draws"
    return out


def _f(x):
    x = float(x)
    return x if np.isfinite(x) else None


#: the islands' control flags a dimension they move by more than this, or by 3 standard errors
ISLAND_SHIFT = 0.05


def _islands_control(att, counts, dim, fit_range) -> dict:
    """The box dimension again with the map's ``islands`` filled in (``without_islands``),
    where the map has a dimension, and a note where the islands move it by more than
    ``ISLAND_SHIFT`` or three standard errors of the filled map's fit: then d measures
    scattered cells (noise, or structure finer than the grid) as much as the boundary's
    shape. A map with no dimension gets none filled either: noise filled in still leaves
    clusters, and their count is no boundary's."""
    clean, n = without_islands(att)
    out = {"islands": n, "island_cells": int((clean.values != att.transpose(*clean.dims).values).sum()),
           "island_max_cells": ISLAND_CELLS, "dimension_without_islands": None,
           "dimension_without_islands_se": None, "without_islands_count": None, "islands_note": None}
    d = float(dim["dimension"])
    if not np.isfinite(d):
        out["without_islands_reason"] = "not computed: the map itself has no dimension"
        return out
    c2, d2 = counts, dim
    if n:
        c2 = box_counts(clean)
        d2 = box_dimension(c2, fit_range)
    dw = float(d2["dimension"])
    out.update(dimension_without_islands=_f(dw), dimension_without_islands_se=_f(d2["dimension_se"]),
               without_islands_count=[int(c) for c in c2["count"].values],
               without_islands_reason=d2.attrs["reason"] or None)
    if n and np.isfinite(dw):
        # the filled map's standard error: the islands bend the map's own fit and widen its residuals
        if abs(d - dw) > max(ISLAND_SHIFT, 3 * float(d2["dimension_se"])):
            out["islands_note"] = (
                f"{n} islands (regions of at most {ISLAND_CELLS} cells, {out['island_cells']} cells in all) move d "
                f"from {dw:.3f} without them to {d:.3f}: d measures scattered cells (noise, or structure finer "
                "than the grid) as much as the boundary's shape")
    elif n:
        out["islands_note"] = (f"{n} islands (regions of at most {ISLAND_CELLS} cells) decide whether there is a "
                               f"dimension: without them none ({d2.attrs['reason']})")
    return out


def box_count_report(att: xr.DataArray, done=None, fit_range=None, seed=0, entropy_box=5, radius=20,
                     n_balls=1000) -> dict:
    """Box counts with mixed shares, the dimension or the reason there is none, basin
    entropies and the fractality test, each beside the same statistic of the shuffled map
    (same class shares, seeded), as a JSON-safe dict."""
    from xorsweep.analysis.stats import partition_info

    att = mark_pending(att, done)
    a, valid, dims = _grid(att, None)
    ctrl = shuffled(att, seed)
    out = {"partition": partition_info(att, valid),
           "shape": list(a.shape), "used": float(valid.mean()) if valid.size else 0.0}

    def boxes(m):
        counts = box_counts(m)
        dim = box_dimension(counts, fit_range)
        return counts, dim

    counts, dim = boxes(att)
    c_counts, c_dim = boxes(ctrl)
    same = box_dimension(c_counts, (float(dim["fit_min"]), float(dim["fit_max"]))) \
        if np.isfinite(float(dim["fit_min"])) else c_dim
    out["box_count"] = {
        "dimension": _f(dim["dimension"]), "dimension_se": _f(dim["dimension_se"]),
        "fit_range": [_f(dim["fit_min"]), _f(dim["fit_max"])] if np.isfinite(float(dim["dimension"])) else None,
        "saturated": bool(dim.attrs["saturated"]), "reason": dim.attrs["reason"] or None,
        "dimension_low": _f(dim["dimension_low"]), "dimension_high": _f(dim["dimension_high"]),
        "box": [int(s) for s in counts["box"].values],
        "count": [int(c) for c in counts["count"].values],
        "mixed_share": [_f(x) for x in counts["mixed_share"].values],
        "shuffled_dimension": _f(c_dim["dimension"]), "shuffled_saturated": bool(c_dim.attrs["saturated"]),
        "shuffled_mixed_share": [_f(x) for x in c_counts["mixed_share"].values],
        "shuffled_count": [int(c) for c in c_counts["count"].values],
        "shuffled_slope_same_window": _f(same["raw_slope"]),
        "rule": f"fit over box sides >= {dim.attrs['min_side']} with mixed share < {dim.attrs['max_mixed']:g}",
    }
    out["box_count"].update(_islands_control(att, counts, dim, fit_range))
    ent, c_ent = basin_entropy(att, entropy_box), basin_entropy(ctrl, entropy_box)
    sizes = [s for s in (3, 5, 9, 17, 33) if s <= min(a.shape) // 4]
    out["basin_entropy"] = {
        "S_b": _f(ent["Sb"]), "S_bb": _f(ent["Sbb"]), "box": entropy_box, "classes": out["partition"]["classes"],
        "ln_classes": float(np.log(out["partition"]["classes"])) if out["partition"]["classes"] else None,
        "shuffled_S_b": _f(c_ent["Sb"]), "shuffled_S_bb": _f(c_ent["Sbb"]),
        "S_bb_by_box": {str(s): _f(basin_entropy(att, s)["Sbb"]) for s in sizes},
        "shuffled_S_bb_by_box": {str(s): _f(basin_entropy(ctrl, s)["Sbb"]) for s in sizes},
    }
    e = out["basin_entropy"]
    e["ln2_criterion"] = e["S_bb"] is not None and e["S_bb"] > np.log(2)
    e["shuffled_ln2_criterion"] = e["shuffled_S_bb"] is not None and e["shuffled_S_bb"] > np.log(2)
    # the trend alone is no diagnosis: smooth stripes of 4 classes narrower than the boxes rise
    # with box size as noise does, a line with a few flipped cells falls (review, 2026-12-03)
    trend = [v for v in e["S_bb_by_box"].values() if v is not None]
    e["S_bb_trend"] = None if len(trend) < 2 else ("rises with box size" if trend[-1] > trend[0]
                                                   else "falls with box size")
    r = min(radius, max(2, min(a.shape) // 8))
    f = out["fractality"] = fractal_test(att, r, n_balls, seed)
    c = fractal_test(ctrl, r, min(n_balls, 200), seed)
    f.update(shuffled_verdict=c["verdict"], shuffled_Sbb=c["Sbb"], shuffled_sigma=c["sigma"])
    # the control: every map of noise is 'fractal' to the test, so only an Ŝbb set apart from
    # the shuffled map's says the geometry, not the mixing, made the verdict
    if f["Sbb"] is not None and c["Sbb"] is not None:
        gap = f["Sbb"] - c["Sbb"]
        f["vs_shuffled_sigmas"] = gap / float(np.hypot(f["sigma"], c["sigma"]))
        # how much of the shuffled map's excess over a smooth boundary this map has: near 1, the
        # verdict rests on the mixing noise has too, however many σ the two are apart
        excess = c["Sbb"] - f["smooth_Sbb"]
        f["share_of_shuffled_excess"] = (f["Sbb"] - f["smooth_Sbb"]) / excess if excess > 0 else None
        if f["verdict"] == "fractal" and f["vs_shuffled_sigmas"] > -3:
            f["note"] = (f"Ŝbb is not set apart from the shuffled map's ({c['Sbb']:.3f}, {gap:+.3f}, "
                         f"{f['vs_shuffled_sigmas']:+.1f} σ): the test cannot tell this boundary from noise")
        elif f["verdict"] == "fractal" and (f["share_of_shuffled_excess"] or 0) >= NOISE_LIKE_EXCESS:
            f["note"] = (f"Ŝbb has {100 * f['share_of_shuffled_excess']:.0f} % of the shuffled map's excess over a "
                         f"smooth boundary ({c['Sbb']:.3f} against {f['smooth_Sbb']:.3f}): the verdict rests on mixing "
                         "that noise has too (a straight line with half its cells random: 66 %)")
    return out


def zoom_level(ds, level: int):
    """Zoom level ``level`` of a zoomed slice (dims ``zoom``, ``a_index``, ``b_index``, 2-D
    coords a(zoom, a_index), b(zoom, b_index)) as a plain slice: dims a, b with their
    coordinates, so that every slice statistic and figure applies to it."""
    return ds.isel(zoom=level).swap_dims({"a_index": "a", "b_index": "b"})


#: a level whose cells hold fewer distinct starts than this share repeats starts: no dimension
MIN_DISTINCT = 0.99


def zoom_sequence(maps, done=None, fit_range=None, dims=("a", "b"), distinct=None, seed=0,
                  n_balls=200) -> xr.Dataset:
    """Local box dimension, mixed shares and their shuffled controls for nested slices
    (outermost first), one entry per zoom level: the way to check a claim of a fractal
    boundary over many decades. ``distinct`` (per level: (distinct starts, cells), or
    None) refuses the dimension of a level finer than the float spacing, whose map repeats
    the same starts. Each level goes through ``box_count_report`` (its saturation rule and
    shuffled control)."""
    rows = []
    for k, m in enumerate(maps):
        d = done[k] if done is not None else None
        if isinstance(m, xr.Dataset):
            from xorsweep.analysis.stats import partition

            d = m["done"] if "done" in m else None
            m = partition(m)
        m = attractor_map(m, dims=dims).transpose(*dims)
        rep = box_count_report(m, None if d is None else d.transpose(*dims), fit_range, seed, n_balls=n_balls)
        bc, ent = rep["box_count"], rep["basin_entropy"]
        share = dict(zip(bc["box"], bc["mixed_share"]))
        c_share = dict(zip(bc["box"], bc["shuffled_mixed_share"]))
        width = float(abs(m[dims[0]].values[-1] - m[dims[0]].values[0])) if dims[0] in m.coords else np.nan
        n_distinct, cells = distinct[k] if distinct is not None and distinct[k] else (np.nan, np.nan)
        dim, reason = bc["dimension"], bc["reason"] or ""
        filled = bc["dimension_without_islands"]
        if n_distinct < MIN_DISTINCT * cells:
            dim, filled, reason = None, None, (f"only {n_distinct} distinct starts in {cells} cells: the level is "
                                               "finer than the float spacing and its map repeats the same starts")
        fit = bc["fit_range"] or (None, None)
        rows.append((width, dim, bc["saturated"], fit[0], fit[1], share.get(1), share.get(2),
                     bc["mixed_share"][-1] if bc["mixed_share"] else None, bc["shuffled_dimension"],
                     c_share.get(1), ent["S_bb"], ent["shuffled_S_bb"], rep["partition"]["classes"], rep["used"],
                     n_distinct, cells, reason, bc["islands"], filled))
    names = ("width", "dimension", "saturated", "fit_min", "fit_max", "mixed_share_1", "mixed_share_2",
             "mixed_share_largest", "shuffled_dimension", "shuffled_mixed_share_1", "S_bb", "shuffled_S_bb",
             "classes", "used", "distinct", "cells", "reason", "islands", "dimension_without_islands")
    cols = dict(zip(names, zip(*rows))) if rows else {n: () for n in names}

    def col(name, dtype=float, **attrs):
        vals = [np.nan if v is None and dtype is float else v for v in cols[name]]
        return ("level", np.array(vals, dtype=dtype), attrs)

    return xr.Dataset({
        "width": col("width", long_name=f"slice width along {dims[0]}"),
        "dimension": col("dimension", long_name="local box-counting dimension (NaN: refused, see reason)"),
        "saturated": col("saturated", bool), "fit_min": col("fit_min"), "fit_max": col("fit_max"),
        "mixed_share_1": col("mixed_share_1", long_name="mixed share of the smallest boxes (side 1)"),
        "mixed_share_2": col("mixed_share_2", long_name="mixed share of boxes of side 2"),
        "mixed_share_largest": col("mixed_share_largest", long_name="mixed share of the largest boxes"),
        "shuffled_dimension": col("shuffled_dimension", long_name="dimension of the shuffled map"),
        "shuffled_mixed_share_1": col("shuffled_mixed_share_1", long_name="mixed share of the smallest boxes, "
                                                                          "shuffled map"),
        "S_bb": col("S_bb"), "shuffled_S_bb": col("shuffled_S_bb"), "classes": col("classes", int),
        "used": col("used", long_name="share of the level's cells used"),
        "distinct": col("distinct", long_name="distinct starts"), "cells": col("cells"),
        "reason": col("reason", object),
        "islands": col("islands", int, long_name=f"islands of at most {ISLAND_CELLS} cells"),
        "dimension_without_islands": col("dimension_without_islands", long_name="local box-counting dimension "
                                                                                  "with the islands filled in")},
        coords={"level": np.arange(len(rows))}, attrs={"seed": seed, "min_distinct": MIN_DISTINCT})
