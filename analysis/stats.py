"""Statistics over attractor labels: shares per rounding digit, flip rates, f(ε) and the
uncertainty exponent. Functions take and return xarray objects; none trains.

Confidence intervals are Wilson score intervals for a binomial share (95 % by default):
they stay inside [0, 1] and behave at 0 and n successes, where counts here often sit.

f(ε) (Grebogi, McDonald, Ott, Yorke 1983): the share of pairs of starts a distance ε
apart that land in different attractors. A store holds x₀ + ε·u for a grid of ε > 0 (a
spec cannot hold ε = 0), so the pair used here is (x₀ + ε_min·u, x₀ + ε·u) along the
same direction: its separation is ε − ε_min, and x₀ + ε_min·u is as random a base
point as x₀. f is reported at every ε above ε_min, with that separation as coordinate,
and α is fitted against the separation. No start is re-trained.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import xarray as xr

from xorsweep.analysis.labels import display_names


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
    ds["count"].attrs["long_name"] = "networks in the attractor"
    ds["n"].attrs["long_name"] = "trained networks"
    return _with_interval(ds, "count", "n", "share", confidence)


def flip_rate(att: xr.DataArray, dim="decimals", reference=-1, over=None, confidence=0.95) -> xr.Dataset:
    """Rate at which each value of ``dim`` lands in another attractor than the same start
    at ``dim = reference`` (default: the unrounded start, decimals = -1)."""
    over = _over(att, [dim], over)
    ref = att.sel({dim: reference}, drop=True)
    both = _valid(att) & _valid(ref)
    flips = ((att != ref) & both).sum(over)
    ds = xr.Dataset({"flips": flips, "n": both.sum(over)}).drop_sel({dim: reference})
    ds["flips"].attrs["long_name"] = f"networks whose attractor differs from {dim} = {reference}"
    ds["n"].attrs["long_name"] = "compared pairs"
    ds.attrs["reference"] = f"{dim} = {reference}"
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


def n_params(ds) -> int:
    """D, the number of trained parameters of a 2-H-2 network: 5H + 2."""
    return 5 * int(ds.sizes["hidden"]) + 2


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
