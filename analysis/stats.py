"""Statistics over class partitions: shares per rounding digit, flip rates, f(ε) and the
uncertainty exponent. Functions take and return xarray objects or JSON-safe dicts; none
trains.

The partition is an argument: an integer DataArray with CF ``flag_values`` /
``flag_meanings`` (default ``ds["solution"]``, else the attractor variable), and every
result names it with its number of classes.

Intervals: Wilson score intervals only where observations are independent (one cell per
start and group). Cells that share a start (ε × direction, decimals, settings) are
correlated, so their intervals and fit errors come from a seeded bootstrap over starts
(``clustered_share``), reported with the design effect var_boot / var_binomial.
A share of fewer than ``MIN_INTERVAL_N`` (2) observations gets no interval: one start
(the README's main job: the published start, rounded) is one deterministic run, 0 or 1,
not a sample of starts, and an interval would speak for starts that were never drawn.

``uncertainty`` is f(ε) as the issue asks for it: the reference is the ε = 0 cell of the
same start and direction, the abscissa the realised distance, inert cells (start
bit-identical to the reference) left out and counted; local slopes with bootstrap
intervals, a roundoff floor, α only where the slopes agree and the change of slope between
the halves of the fit range is held within ±0.5·α by its interval, D = 4H + 1.

``uncertainty_fraction`` / ``uncertainty_exponent`` are the earlier estimate (pair
(ε_min, ε), Wilson intervals, one straight line through every ε) kept for comparison.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import xarray as xr

from xorsweep.analysis.labels import display_names
from xorsweep.errors import UserError
from xorsweep.kernels.vocab import n_params as n_parameters
from xorsweep.sweep.grid import decimals_position


#: the fewest observations a share gets an interval from (see the module docstring)
MIN_INTERVAL_N = 2
NO_INTERVAL = "no interval where n = 1 (one start: a single deterministic run, not a sample)"


def wilson(k, n, confidence=0.95):
    """(low, high) Wilson score interval of the share k/n; NaN where n == 0."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = xr.where(n > 0, n, np.nan) if isinstance(n, xr.DataArray) else np.where(np.asarray(n) > 0, n, np.nan)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def _valid(att):
    """Cells that were trained (not ``pending``)."""
    names = display_names(att)
    pending = [v for v, nm in zip(att.attrs["flag_values"], names) if nm == "pending"]
    return ~att.isin(pending) if pending else xr.ones_like(att, dtype=bool)


def _over(att, keep, over):
    return [d for d in att.dims if d not in keep] if over is None else list(over)


def _with_interval(ds, k, n, name, confidence):
    lo, hi = wilson(ds[k], ds[n], confidence)
    few = ds[n] < MIN_INTERVAL_N
    lo, hi = lo.where(~few), hi.where(~few)
    if bool((few & (ds[n] > 0)).any()):
        ds.attrs["interval_note"] = NO_INTERVAL
    ds[name] = ds[k] / xr.where(ds[n] > 0, ds[n], np.nan)
    ds[f"{name}_lo"], ds[f"{name}_hi"] = lo, hi
    ds[name].attrs["units"] = "1"
    for s in ("lo", "hi"):
        ds[f"{name}_{s}"].attrs = {"long_name": f"{'lower' if s == 'lo' else 'upper'} end of the "
                                                f"{round(100 * confidence)}% Wilson interval", "units": "1"}
    ds.attrs["confidence"] = confidence
    return ds


def attractor_shares(att: xr.DataArray, dim="decimals", over=None, confidence=0.95) -> xr.Dataset:
    """Share of each attractor per value of ``dim``, counted over the dims ``over``
    (default: every other dim). Classes that never occur are left out."""
    over = _over(att, [dim], over)
    valid = _valid(att)
    names = display_names(att)
    values = xr.DataArray(att.attrs["flag_values"], dims="attractor")
    count = ((att == values) & valid).sum(over)
    present = count.sum([d for d in count.dims if d != "attractor"]) > 0
    present &= xr.DataArray([nm != "pending" for nm in names], dims="attractor")
    families = att.attrs.get("flag_families", names)
    count = count.assign_coords(attractor=names, family=("attractor", list(families)))
    count = count.isel(attractor=np.flatnonzero(present.values))
    ds = xr.Dataset({"count": count, "n": valid.sum(over)})
    # every class of the partition, in code order: figures colour a class by its place here
    ds.attrs["classes"], ds.attrs["families"] = list(names), list(families)
    ds["count"].attrs["long_name"] = "networks in the attractor"
    ds["n"].attrs["long_name"] = "trained networks"
    return _with_interval(ds, "count", "n", "share", confidence)


def flip_rate(att: xr.DataArray, dim="decimals", reference=None, over=None, confidence=0.95) -> xr.Dataset:
    """Rate at which each value of ``dim`` lands in another attractor than the same start
    at ``dim = reference`` (default, for ``decimals``: the unrounded start)."""
    over = _over(att, [dim], over)
    if dim == "decimals":
        k = decimals_position(att[dim].values, reference)
        if k is None:
            raise ValueError(f"no decimals = {'unrounded' if reference is None else reference} to compare with")
        what = "the unrounded start" if reference is None else f"{dim} = {reference}"
    else:
        k, what = int(np.flatnonzero(att[dim].values == reference)[0]), f"{dim} = {reference}"
    ref = att.isel({dim: k}, drop=True)
    both = _valid(att) & _valid(ref)
    flips = ((att != ref) & both).sum(over)
    ds = xr.Dataset({"flips": flips, "n": both.sum(over)}).drop_isel({dim: k})
    ds["flips"].attrs["long_name"] = f"networks whose attractor differs from {what}"
    ds["n"].attrs["long_name"] = "compared pairs"
    ds.attrs["reference"] = what
    return _with_interval(ds, "flips", "n", "rate", confidence)


def uncertainty_fraction(att: xr.DataArray, eps_dim="eps", over=None, confidence=0.95) -> xr.Dataset:
    """f(ε): share of (start, direction) pairs whose attractor at ε differs from the one at
    the smallest ε in the store, counted over ``over`` (default: every other dim)."""
    over = _over(att, [eps_dim], over)
    eps = att[eps_dim]
    e0 = float(eps.min())
    ref = att.sel({eps_dim: e0}, drop=True)
    both = _valid(att) & _valid(ref)
    changed = ((att != ref) & both).sum(over)
    ds = xr.Dataset({"changed": changed, "n": both.sum(over)}).drop_sel({eps_dim: e0})
    ds = ds.assign_coords(separation=(eps_dim, ds[eps_dim].values - e0,
                                      {"long_name": f"distance between the two starts ({eps_dim} - {e0:g})"}))
    ds["changed"].attrs["long_name"] = "pairs landing in different attractors"
    ds["n"].attrs["long_name"] = "compared pairs"
    ds.attrs["reference_eps"] = e0
    ds = _with_interval(ds, "changed", "n", "f", confidence)
    ds["f"].attrs["long_name"] = "f(eps): share of perturbations that change the attractor"
    return ds


def loglog_fit(x, y, use, weight=None):
    """(Weighted) least squares of log10 y on log10 x over ``use``: (slope, slope s.e.,
    intercept, x min, x max, points). The s.e. comes from the residuals (NaN with fewer
    than 3 points)."""
    x, y, use = np.asarray(x, float), np.asarray(y, float), np.asarray(use, bool)
    use = use & (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    m = int(use.sum())
    if m < 2:
        return np.nan, np.nan, np.nan, np.nan, np.nan, m
    lx, ly = np.log10(x[use]), np.log10(y[use])
    wt = np.ones(m) if weight is None else np.asarray(weight, float)[use]
    mx, my = (wt * lx).sum() / wt.sum(), (wt * ly).sum() / wt.sum()
    sxx = float((wt * (lx - mx) ** 2).sum())
    if sxx == 0:
        return np.nan, np.nan, np.nan, np.nan, np.nan, m
    slope = float((wt * (lx - mx) * (ly - my)).sum() / sxx)
    intercept = float(my - slope * mx)
    se = np.nan
    if m > 2:
        se = float(np.sqrt((wt * (ly - intercept - slope * lx) ** 2).sum() / (m - 2) / sxx))
    return slope, se, intercept, float(x[use].min()), float(x[use].max()), m


def uncertainty_exponent(frac: xr.Dataset, D=None, eps_range=None) -> xr.Dataset:
    """Fit f(ε) ∝ ε^α by least squares in log-log over the ε where 0 < f < 1 (and within
    ``eps_range`` = (low, high) when given), against the pair separation. Each point is
    weighted by the inverse binomial variance of log f, n·f/(1 − f), so that an ε
    with a handful of changes counts for little. Returns α, its standard error, the
    fit range and, given D, the boundary dimension D − α."""
    eps_dim = frac["f"].dims[0] if frac["f"].ndim == 1 else "eps"
    use = (frac["f"] > 0) & (frac["f"] < 1) & (frac["n"] > 0)
    if eps_range is not None:
        use &= (frac[eps_dim] >= eps_range[0]) & (frac[eps_dim] <= eps_range[1])
    sep = frac["separation"].broadcast_like(frac["f"])
    names = ("alpha", "alpha_se", "log10_prefactor", "fit_min", "fit_max", "fit_points")
    weight = (frac["n"] * frac["f"] / (1 - frac["f"]).where(use, 1.0)).where(use, 0.0)
    out = xr.apply_ufunc(loglog_fit, sep, frac["f"], use, weight, input_core_dims=[[eps_dim]] * 4,
                         output_core_dims=[[]] * 6, vectorize=True)
    ds = xr.Dataset(dict(zip(names, out)))
    ds["alpha"].attrs["long_name"] = "uncertainty exponent (f ~ eps^alpha)"
    ds["fit_min"].attrs["long_name"] = "smallest separation in the fit"
    ds["fit_max"].attrs["long_name"] = "largest separation in the fit"
    if D is not None:
        ds["D"] = D
        ds["boundary_dimension"] = D - ds["alpha"]
        ds["boundary_dimension"].attrs["long_name"] = "dimension of the basin boundary, D - alpha"
    return ds


# ---- honest statistics: partitions, completeness, bootstrap over starts ---------------
#
# Cells that share a start (ε × direction, decimals, settings) are not independent: the
# unit of resampling is the start ("cluster"). Every interval below comes from one seeded
# set of multinomial resampling weights over the clusters, so the intervals of f, of the
# local slopes and of α are computed from the same resamples and are reproducible.

PENDING_NAMES = ("pending",)


def moving_dimensions(H: int) -> int:
    """D = 4H + 1: the dims training moves in. The two row sums of W2 and the sum of b2
    shift both logits alike, so their gradient is zero and they never change."""
    return 4 * int(H) + 1


def partition(ds, name=None) -> xr.DataArray:
    """The class variable statistics are computed on: ``name`` itself when it is a
    DataArray, ``ds[name]``, else ``solution``, else ``attractor`` (computed by
    ``labels.with_attractors`` when not stored)."""
    if isinstance(name, xr.DataArray):
        return name
    if isinstance(ds, xr.DataArray):
        return ds
    for key in ([name] if name else ["solution", "attractor"]):
        if key in ds:
            _check_partition(ds, key)
            return ds[key]
    if name:
        raise UserError(f"the dataset has no partition variable {name!r}")
    from xorsweep.analysis.labels import with_attractors

    return with_attractors(ds)["attractor"]


def class_variables(ds: xr.Dataset) -> list[str]:
    """The variables of ``ds`` that partition its cells: one class per cell (the dims of
    ``done``) with CF flag attributes naming the classes (integer or boolean codes, or
    floats where ``ds.where(ds.done)`` made NaN of the cells not done)."""
    cells = set(ds["done"].dims) if "done" in ds else None
    return [k for k, v in ds.data_vars.items() if v.dtype.kind in "iubf" and "flag_values" in v.attrs
            and "flag_meanings" in v.attrs and (cells is None or set(v.dims) <= cells)]


def _check_partition(ds, key):
    """UserError unless ``ds[key]`` is a class variable (``class_variables``): statistics on
    ``loss`` or on ``hidden_code`` (one code per hidden unit) would count other things."""
    if key not in class_variables(ds):
        raise UserError(f"partition {key!r}: not a class variable (one class per cell, with flag attributes); "
                        f"this store's are {', '.join(class_variables(ds)) or 'none'}")


def pending_values(part: xr.DataArray) -> list:
    names = display_names(part) if "flag_values" in part.attrs else []
    return [v for v, nm in zip(part.attrs.get("flag_values", []), names) if nm in PENDING_NAMES]


def valid_cells(part: xr.DataArray, done=None) -> xr.DataArray:
    """Cells trained (``done``) whose class is not ``pending``."""
    pend = pending_values(part)
    ok = ~part.isin(pend) if pend else xr.ones_like(part, dtype=bool)
    if done is not None:
        ok = ok & done.astype(bool)
    return ok


def partition_info(part: xr.DataArray, valid=None) -> dict:
    """Name of the partition and the number of classes present among the valid cells."""
    values = part.values if valid is None else part.values[np.asarray(valid, bool)]
    present = np.unique(values[~np.isin(values, pending_values(part))])
    names = dict(zip(part.attrs.get("flag_values", []), display_names(part))) if "flag_values" in part.attrs else {}
    return {"name": str(part.name), "classes": int(len(present)),
            "class_names": [str(names.get(int(v), v)) for v in present]}


def completeness(ds) -> dict:
    """Share of cells done (1.0 for a store without ``done``)."""
    if "done" not in ds:
        return {"done": None, "cells": None, "share": 1.0, "complete": True}
    done = np.asarray(ds["done"].values, bool)
    return {"done": int(done.sum()), "cells": int(done.size), "share": float(done.mean()) if done.size else 0.0,
            "complete": bool(done.all())}


def resampling_weights(n_clusters: int, n_boot=1000, seed=0) -> np.ndarray:
    """(n_boot, n_clusters) counts: how often each cluster is drawn in each resample."""
    if n_clusters == 0:  # nothing trained yet (a store read in a run's first seconds)
        return np.zeros((n_boot, 0))
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot).astype(float)


def _percentile(samples, confidence, axis=0, max_undefined=0.1):
    """Percentile interval over the defined resamples; NaN where more than
    ``max_undefined`` of the resamples are undefined (e.g. log 0)."""
    samples = np.moveaxis(np.asarray(samples, float), axis, 0)
    q = [50 * (1 - confidence), 50 * (1 + confidence)]
    bad = np.isnan(samples).mean(axis=0) > max_undefined
    lo, hi = np.full(samples.shape[1:], np.nan), np.full(samples.shape[1:], np.nan)
    for idx in zip(*np.nonzero(~bad)) if samples.ndim > 1 else [()]:
        col = samples[(slice(None),) + idx]
        col = col[~np.isnan(col)]
        if col.size and not bad[idx]:
            lo[idx], hi[idx] = np.percentile(col, q)
    return lo, hi


def clustered_share(k, n, weights=None, confidence=0.95, n_boot=1000, seed=0) -> dict:
    """Share Σk/Σn per column of ``k``, ``n`` (clusters × groups) with its interval.

    With one observation per cluster and group the observations are independent: Wilson.
    Otherwise a bootstrap over clusters (percentile), and the design effect
    var_boot / var_binomial is reported."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    K, N = k.sum(0), n.sum(0)
    with np.errstate(all="ignore"):
        p = np.where(N > 0, K / N, np.nan)
    independent = bool(np.all(n <= 1))
    few = N < MIN_INTERVAL_N
    one = (N > 0) & few  # n = 0 (nothing trained yet) has no share, let alone an interval
    if few.all():
        nan = np.full_like(p, np.nan)
        return {"share": p, "lo": nan, "hi": nan.copy(), "n": N, "design_effect": nan.copy(),
                "method": NO_INTERVAL if one.any() else "no interval: no observation"}
    note = f"; {NO_INTERVAL}" if one.any() else ""
    if independent:
        lo, hi = wilson(K, N, confidence)
        return {"share": p, "lo": np.where(few, np.nan, lo), "hi": np.where(few, np.nan, hi), "n": N,
                "method": f"{round(100 * confidence)}% Wilson (independent observations){note}",
                "design_effect": np.ones_like(p)}
    W = resampling_weights(k.shape[0], n_boot, seed) if weights is None else weights
    with np.errstate(all="ignore"):
        pb = (W @ k) / (W @ n)
        naive = p * (1 - p) / N
        deff = np.where(naive > 0, np.nanvar(pb, axis=0) / naive, np.nan)
    lo, hi = _percentile(pb, confidence)
    # no event in any cluster: the percentile interval collapses to 0, Wilson does not
    wl, wh = wilson(K, N, confidence)
    lo, hi = np.where(K == 0, wl, lo), np.where(K == 0, wh, hi)
    return {"share": p, "lo": np.where(few, np.nan, lo), "hi": np.where(few, np.nan, hi), "n": N, "boot": pb,
            "design_effect": deff,
            "method": f"{round(100 * confidence)}% bootstrap over {k.shape[0]} clusters ({len(W)} resamples){note}"}


def _num(x, digits=None):
    """JSON-safe float: None for NaN/inf."""
    if x is None:
        return None
    x = float(x)
    if not np.isfinite(x):
        return None
    return round(x, digits) if digits else x


def _fixed_dims(part, keep, cell):
    """Select the dims not in ``keep`` at ``cell`` or their first value; returns the
    selection as a JSON-safe dict."""
    cell, fixed = dict(cell or {}), {}
    for d in list(part.dims):
        if d in keep:
            continue
        if d in cell:
            part = part.sel({d: cell[d]}, method="nearest" if part[d].dtype.kind == "f" else None)
        else:
            part = part.isel({d: 0})
        v = part[d].item() if d in part.coords else 0
        fixed[d] = v.item() if hasattr(v, "item") else v
    return part, fixed


# ---- f(ε) against the realised distance ----------------------------------------------

def realised_distance(ds, eps_dim="eps", reference=0.0) -> xr.DataArray:
    """Euclidean distance of every cell's stored start to the start at ``eps_dim =
    reference`` of the same start and direction. Elementwise differences of nearby
    floats are exact (Sterbenz); the sum is scaled so that 1e-17 does not underflow."""
    from xorsweep.kernels.vocab import GROUP_DIMS, GROUPS

    parts = []
    for g in GROUPS:
        x = ds[f"{g}_start"]
        d = (x - x.sel({eps_dim: reference})).astype(np.float64)
        parts.append(d.stack(_p=list(GROUP_DIMS[g])).drop_vars(["_p"] + list(GROUP_DIMS[g]), errors="ignore"))
    diff = xr.concat(parts, "_p")
    scale = abs(diff).max("_p")
    safe = xr.where(scale > 0, scale, 1.0)
    out = scale * np.sqrt(((diff / safe) ** 2).sum("_p"))
    out.attrs = {"long_name": f"realised distance of the start to the {eps_dim} = {reference:g} start",
                 "units": "1"}
    return out


def _cluster_arrays(da, cluster, eps_dim):
    """(clusters, eps, rest) numpy array of ``da``."""
    rest = [d for d in da.dims if d not in (cluster, eps_dim)]
    a = da.transpose(*([cluster] if cluster else []), eps_dim, *rest).values
    if cluster is None:
        a = a[None]
    return a.reshape(a.shape[0], a.shape[1], -1)


def local_slopes(x, f, fb=None, confidence=0.95) -> list:
    """Slopes of log f against log x between neighbouring points (both f > 0), with
    bootstrap intervals from the resampled ``fb`` (resamples × points) when given."""
    out = []
    x, f = np.asarray(x, float), np.asarray(f, float)
    for i in range(len(x) - 1):
        j = i + 1
        if not (x[i] > 0 and x[j] > x[i] and f[i] > 0 and f[j] > 0):
            continue
        dl = np.log(x[j]) - np.log(x[i])
        slope = (np.log(f[j]) - np.log(f[i])) / dl
        ci = [None, None]
        if fb is not None:
            with np.errstate(all="ignore"):
                sb = np.where((fb[:, i] > 0) & (fb[:, j] > 0), np.log(fb[:, j]) - np.log(fb[:, i]), np.nan) / dl
            lo, hi = _percentile(sb[:, None], confidence)
            ci = [_num(lo[0]), _num(hi[0])]
        out.append({"from": float(x[i]), "to": float(x[j]), "slope": float(slope), "ci": ci, "i": i, "j": j})
    return out


def _agree(slopes):
    """Whether all the slopes' intervals share a common point (no interval: no agreement)."""
    if not slopes or any(None in s["ci"] for s in slopes):
        return False
    return max(s["ci"][0] for s in slopes) <= min(s["ci"][1] for s in slopes)


def _runs(slopes):
    """Maximal runs of consecutive slopes (sharing points) whose intervals agree, as
    [low, high] distance ranges holding at least two slopes."""
    runs, n = [], len(slopes)
    for a in range(n):
        b = a
        while b + 1 < n and slopes[b + 1]["i"] == slopes[b]["j"] and _agree(slopes[a:b + 2]):
            b += 1
        if b > a and _agree(slopes[a:b + 1]) and not any(r[0] <= a and b <= r[1] for r in runs):
            runs.append((a, b))
    return [[slopes[a]["from"], slopes[b]["to"]] for a, b in runs]


def _floor(x, f, fb, flat_slope, confidence, min_points=3):
    """The roundoff floor: the largest distance x_j such that f is flat over every leading
    range [x_0, x_k], k <= j (least-squares slope of log f below ``flat_slope`` or its
    bootstrap interval reaching 0), over at least ``min_points`` points; else None.
    Whole leading ranges, not single neighbour slopes: one noisy slope makes no plateau
    and breaks none. Points given as NaN (too few events to measure f) are skipped."""
    ok = np.isfinite(x) & (x > 0) & (f > 0)
    idx = np.flatnonzero(ok)
    floor = None
    for j in range(min_points - 1, len(idx)):
        use = idx[:j + 1]
        if not np.all(ok[idx[0]:idx[j] + 1]):
            break
        lx = np.log(x[use])
        w = (lx - lx.mean()) / ((lx - lx.mean()) ** 2).sum()
        slope = float(np.log(f[use]) @ w)
        low = None
        if fb is not None:
            with np.errstate(all="ignore"):
                lb = np.log(fb[:, use])
            sb = np.where(np.isfinite(lb).all(1), np.nan_to_num(lb, neginf=0.0) @ w, np.nan)
            # few events on a floor: judge the resamples where every f > 0
            low = _percentile(sb[:, None], confidence, max_undefined=0.5)[0][0]
        if not (slope <= flat_slope or (low is not None and np.isfinite(low) and low <= 0)):
            break
        floor = float(x[idx[j]])
    return floor


def _floor_resampled(x, fb, flat_slope, confidence) -> dict | None:
    """The floor by the slope criterion alone (slope of log f below ``flat_slope``; no
    interval within a resample) in each bootstrap resample ``fb`` (resamples x points): the
    percentile interval of the floors found and the share of resamples that find none. How
    far the floor moves when other starts are drawn: by decades where the data are few
    (a plateau 1e-3 + √ε, 300 starts x 32 directions: 1e-8 … 1e-6, none in 72 %)."""
    if fb is None or not len(fb):
        return None
    floors = np.array([np.nan if (v := _floor(x, row, None, flat_slope, confidence)) is None else v
                       for row in fb])
    found = np.isfinite(floors)
    a = (1 - confidence) / 2
    ci = [float(np.quantile(floors[found], a)), float(np.quantile(floors[found], 1 - a))] if found.any() else None
    return {"ci": ci, "none_share": float(1 - found.mean()), "resamples": int(len(floors))}


#: α is printed only when the bootstrap interval of the change of slope between the lower
#: and upper halves of the fit range lies within ± this share of α: agreement of the local
#: slopes alone is absence of evidence, which few data always give (a change the interval
#: shows but keeps within the margin, 0.09 to 0.11 over 11 decades, does not refuse α)
SLOPE_CHANGE_TOLERANCE = 0.5


def _split_slopes(lx, ly, lfb, confidence):
    """Least-squares slopes of ly on lx over the lower and upper halves of the points (the
    middle point in both when their number is odd), their change upper − lower and its
    bootstrap interval from the resampled shares ``lfb`` (resamples × points; None: no
    interval); None with fewer than 4 points."""
    m = len(lx)
    if m < 4:
        return None
    halves = [np.arange(0, (m + 1) // 2), np.arange(m // 2, m)]

    def weights(h):
        u = lx[h] - lx[h].mean()
        return u / (u ** 2).sum()

    w = [weights(h) for h in halves]
    lower, upper = float(ly[halves[0]] @ w[0]), float(ly[halves[1]] @ w[1])
    ci = [None, None]
    if lfb is not None:
        with np.errstate(all="ignore"):
            lb = np.log(lfb)
        ok = np.isfinite(lb).all(1)
        d = np.full(len(lb), np.nan)
        d[ok] = lb[ok][:, halves[1]] @ w[1] - lb[ok][:, halves[0]] @ w[0]
        lo, hi = _percentile(d[:, None], confidence)
        ci = [_num(lo[0]), _num(hi[0])]
    return {"lower": lower, "upper": upper, "change": upper - lower, "ci": ci,
            "split_at": float(np.exp(lx[m // 2]))}


def _fit(lx, ly):
    A = np.vstack([lx, np.ones_like(lx)]).T
    return np.linalg.lstsq(A, ly, rcond=None)[0]


def uncertainty(ds, part=None, *, eps_dim="eps", cell=None, fit_range=None, n_boot=1000, seed=0,
                confidence=0.95, flat_slope=0.01, min_events=10, H=None) -> dict:
    """f(ε), its local slopes, the roundoff floor and the uncertainty exponent α of a store
    with an ``eps`` axis, as a JSON-safe dict (see ``analysis.report`` for the keys).

    f(ε) is the share of perturbed starts whose class differs from the reference start:
    the ``eps = 0`` cell of the same start and direction (else the smallest ε, labelled as
    such). The abscissa is the realised distance to the reference (stored ``distance`` or
    computed from the stored starts); inert cells (distance 0) are left out and counted.
    Intervals are a bootstrap over starts (over directions when there is one start).
    Points with fewer than ``min_events`` changes (or non-changes) are not fitted.
    α is fitted above the floor, within ``fit_range`` (distances), only when the local
    slopes there agree within their intervals and (4 points or more) the bootstrap interval
    of the change of slope between the lower and upper halves of the range lies within
    ±``SLOPE_CHANGE_TOLERANCE``·α, since overlapping wide intervals are no evidence of one
    exponent. Otherwise ``alpha`` is None with a reason.
    """
    part = partition(ds, part)
    sweep = [d for d in part.dims]
    cluster = "start" if "start" in sweep else ("direction" if "direction" in sweep else None)
    keep = [d for d in (eps_dim, "start", "direction") if d in sweep]
    sub, fixed = _fixed_dims(part, keep, cell)
    sel = {d: sub[d].item() if d in sub.coords else 0 for d in fixed}

    def pick(v):
        return v.sel({d: val for d, val in sel.items() if d in v.dims and d in v.coords}) \
            .isel({d: 0 for d in fixed if d in v.dims and d not in v.coords})

    done = pick(ds["done"]) if isinstance(ds, xr.Dataset) and "done" in ds else None
    eps = sub[eps_dim].values
    has_zero = bool((eps == 0).any())
    ref_eps = 0.0 if has_zero else float(eps.min())
    reference = (f"{eps_dim} = 0 cell of the same start and direction" if has_zero else
                 f"smallest {eps_dim} = {ref_eps:g} of the same start and direction: the store has no "
                 f"{eps_dim} = 0 cell, so f counts changes against a perturbed start")
    if isinstance(ds, xr.Dataset) and "distance" in ds and has_zero:
        dist, dist_source = pick(ds["distance"]), "stored distance"
    elif isinstance(ds, xr.Dataset) and "W1_start" in ds:
        dist, dist_source = realised_distance(pick(ds), eps_dim, ref_eps), "computed from the stored starts"
    else:
        dist = abs(sub[eps_dim] - ref_eps).broadcast_like(sub)
        dist_source = f"nominal |{eps_dim} - {ref_eps:g}| (no stored starts)"
    inert = dist == 0
    if isinstance(ds, xr.Dataset) and "inert" in ds and has_zero:
        inert = pick(ds["inert"]).astype(bool)
    valid = valid_cells(sub, done)
    ref = sub.sel({eps_dim: ref_eps})
    both = valid & valid.sel({eps_dim: ref_eps})
    changed = (sub != ref) & both & ~inert
    compared = both & ~inert
    others = [i for i, e in enumerate(eps) if e != ref_eps]
    k = _cluster_arrays(changed, cluster, eps_dim)[:, others]
    n = _cluster_arrays(compared, cluster, eps_dim)[:, others]
    n_inert = (_cluster_arrays(inert & both, cluster, eps_dim)[:, others]).sum((0, 2))
    dist_a = _cluster_arrays(dist.broadcast_like(sub), cluster, eps_dim)[:, others]
    seen = n.sum((1, 2)) > 0  # starts with no trained pair (pending) are not resampled
    k, n, n_inert, dist_a = k[seen], n[seen], n_inert, dist_a[seen]
    comp_a = n.astype(bool)
    x = np.array([np.median(dist_a[:, e][comp_a[:, e]]) if comp_a[:, e].any() else np.nan
                  for e in range(len(others))])
    W = resampling_weights(k.shape[0], n_boot, seed)
    sh = clustered_share(k.sum(2), n.sum(2), W, confidence)
    lo_w, hi_w = wilson(sh["n"] * sh["share"], sh["n"], confidence)
    fb = sh.get("boot")
    if fb is None:  # independent cells (one per start and ε): the same starts recur across ε, so α's interval
        with np.errstate(all="ignore"):  # and the slope gates below still resample starts
            fb = (W @ k.sum(2)) / (W @ n.sum(2))
    order = np.argsort(np.where(np.isfinite(x), x, np.inf))
    xs, fs = x[order], sh["share"][order]
    fbs = fb[:, order] if fb is not None else None
    slopes = local_slopes(xs, fs, fbs, confidence)
    events = (sh["n"] * sh["share"])[order]
    measured = (events >= min_events) & (sh["n"][order] - events >= min_events)
    x_measured = np.where(measured, xs, np.nan)
    floor = _floor(x_measured, fs, fbs, flat_slope, confidence)
    H = H if H is not None else (int(ds.sizes["hidden"]) if isinstance(ds, xr.Dataset) and "hidden" in ds.dims else None)
    D = moving_dimensions(H) if H is not None else None
    total = int(np.asarray(done.values, bool).sum()) if done is not None else int(sub.size)
    out = {
        "partition": partition_info(sub, valid),
        "fixed": fixed,
        "reference": reference,
        "reference_is_eps0": has_zero,
        "distance": dist_source,
        "clusters": {"dim": cluster, "count": int(k.shape[0])},
        "used": {"cells": int(n.sum()), "cells_done": total, "share_of_cells": _num(
            float(valid.sum()) / sub.size if sub.size else 0.0)},
        "inert": int(n_inert.sum()),
        "points": [{"eps": float(eps[others[o]]), "distance": _num(x[o]), "f": _num(sh["share"][o]),
                    "ci": [_num(sh["lo"][o]), _num(sh["hi"][o])],
                    "wilson": [_num(lo_w[o]), _num(hi_w[o])], "n": int(sh["n"][o]),
                    "inert": int(n_inert[o]), "design_effect": _num(sh["design_effect"][o])} for o in order],
        "interval": sh["method"],
        "local_slopes": [{k_: v for k_, v in s.items() if k_ not in ("i", "j")} for s in slopes],
        "floor": floor,
        "floor_resampled": _floor_resampled(x_measured, fbs, flat_slope, confidence),
        "flat_slope": flat_slope,
        "dimensions": D,
        "dimensions_note": (f"D = 4H + 1 = {D}: the dims training moves in (5H + 2 = {n_parameters(H)} parameters; "
                            "the row sums of W2 and the sum of b2 never change)") if D else "H unknown",
        "alpha": None, "alpha_ci": None, "alpha_se": None, "fit_range": None, "fit_points": 0,
        "boundary_dimension": None, "agreeing_ranges": _runs(slopes),
        "design_effect": _num(np.nanmedian(sh["design_effect"])) if np.isfinite(sh["design_effect"]).any() else None,
    }
    use = np.isfinite(xs) & (fs > 0) & (fs < 1) & measured
    if floor is not None:
        use &= xs >= floor
    if fit_range is not None:
        # inclusive up to a relative 1e-6: a realised distance sits within rounding of its ε
        use &= (xs >= fit_range[0] * (1 - 1e-6)) & (xs <= fit_range[1] * (1 + 1e-6))
    idx = np.flatnonzero(use)
    inside = [s for s in slopes if s["i"] in idx and s["j"] in idx]
    where = "above the floor" if floor is not None else "over all distances"
    if fit_range is not None:
        where += f" within the fit range {fit_range[0]:g} to {fit_range[1]:g}"
    if len(idx) < 3:
        out["reason"] = f"fewer than 3 points with at least {min_events} changes and non-changes {where}"
        return out
    if not _agree(inside):
        s = sorted(v["slope"] for v in inside)
        out["reason"] = (f"local slopes {where} disagree beyond their intervals (from {s[0]:.3g} to {s[-1]:.3g}): "
                         "no single exponent; see agreeing_ranges and pass one as fit_range")
        return out
    lx, ly = np.log(xs[idx]), np.log(fs[idx])
    alpha = _fit(lx, ly)[0]
    split = _split_slopes(lx, ly, None if fbs is None else fbs[:, idx], confidence)
    if split is not None:
        out["slope_change"] = split
        lo_d, hi_d = split["ci"]
        tol = SLOPE_CHANGE_TOLERANCE * abs(alpha)
        if lo_d is None or hi_d is None:
            out["reason"] = f"the change of slope across the fit range {where} has no interval: no single exponent"
            return out
        if (lo_d > 0 or hi_d < 0) and (lo_d < -tol or hi_d > tol):
            out["reason"] = (f"the slope changes across the fit range {where}: {split['lower']:.3g} on its lower half, "
                             f"{split['upper']:.3g} on its upper (change {split['change']:+.3g} "
                             f"[{lo_d:+.3g}, {hi_d:+.3g}], beyond ±{SLOPE_CHANGE_TOLERANCE:g}·α = ±{tol:.3g}): "
                             "no single exponent; see agreeing_ranges")
            return out
        if lo_d < -tol or hi_d > tol:
            out["reason"] = (f"too few data to tell one exponent from a changing slope {where}: the change of slope "
                             f"between the halves of the fit range, {split['change']:+.3g} [{lo_d:+.3g}, {hi_d:+.3g}], "
                             f"is not held within ±{SLOPE_CHANGE_TOLERANCE:g}·α = ±{tol:.3g}")
            return out
    out.update(alpha=float(alpha), fit_range=[float(xs[idx].min()), float(xs[idx].max())], fit_points=int(len(idx)))
    if fbs is not None:
        with np.errstate(all="ignore"):
            lyb = np.log(fbs[:, idx])
        ok = np.isfinite(lyb).all(1)
        ab = np.full(len(lyb), np.nan)
        w = (lx - lx.mean()) / ((lx - lx.mean()) ** 2).sum()
        ab[ok] = (lyb[ok] - lyb[ok].mean(1, keepdims=True)) @ w
        lo, hi = _percentile(ab[:, None], confidence)
        out["alpha_ci"] = [_num(lo[0]), _num(hi[0])] if np.isfinite(lo[0]) else None
        out["alpha_se"] = _num(np.nanstd(ab))
        f_i, n_i = fs[idx], sh["n"][order][idx]
        naive = float((w ** 2 * (1 - f_i) / (n_i * f_i)).sum())
        out["alpha_design_effect"] = _num(np.nanvar(ab) / naive) if naive > 0 else None
    if D is not None:
        out["boundary_dimension"] = float(D - alpha)
    return out
