"""The stored finite-time Lyapunov exponents and the roundoff floor estimated from them.

**The floor.** Take a perturbation ε of the start and the rule's rounding: every step
the arithmetic kicks the parameters by about κ, independently of ε (the seed rule's
numerical gradient (f₊ − f₋)/(2h) carries the rounding of the loss, about ulp(L), divided
by 2h, times lr: κ ≈ lr·ulp(L)/(2h) ≈ 3e-12 at L ≈ ln 2, lr = 5, h = 1e-4; an analytic
gradient only the rounding of the update, about ulp(p)). In the linearised dynamics a
separation grows by e^λ per step, so after T steps the perturbation is ε·e^{λT} and the
kick of step s (s = 1 … T, entering with update s as ε entered with update 1) is
κ·e^{λ(T − s + 1)}. All kicks together, in the worst (coherent) case:

    κ·Σ_{s=1..T} e^{λ(T−s+1)} = e^{λT}·κ·Σ_{j=0..T−1} e^{−λj} = e^{λT}·κ·(1 − e^{−λT}) / (1 − e^{−λ}).

Both sides grow by the same e^{λT}: the outcome stops depending on ε when ε is below

    ε* = κ·(1 − e^{−λT}) / (1 − e^{−λ})   →   κ / (1 − e^{−λ})  for λT ≫ 1,

(κ·T for λ → 0; for λ < 0 kicks pile up faster than ε shrinks, ε* grows towards κ·e^{|λ|T}/|λ|).
It is an order of magnitude, not a number to three digits: kicks of random sign add up
as a root of a sum of squares, κ·√(Σ e^{−2λj}) (``floor_low``), and a perturbation along
a random direction puts only 1/√D of itself on the growing direction while each kick is
κ per parameter, a factor √D more (``floor_high`` = √D·ε*). λ is taken as the median
over the cells that enter f(ε); the band from the 10 % to the 90 % quantile is also given.
"""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

from xorsweep.kernels.vocab import LABELS, LOSS_GUARD, RULE_DEFAULTS, X, DEFAULT_DTYPE, DEFAULT_H

#: rule -> its gradient (``numerical``: the book's central difference; ``analytic``: backprop)
RULE_GRADIENT = {"seed": "numerical", "gd": "analytic"}


def settings(ds, sub=None) -> dict:
    """rule, gradient, lr, h, dtype, steps of the selected cells ``sub`` (settings axes
    taken from its scalar coords) or of the store's spec."""
    t = json.loads(ds.attrs.get("spec", "{}")).get("training", {})
    rule = t.get("rule", "seed")
    out = {"rule": rule, "lr": t.get("lr", RULE_DEFAULTS[rule]["lr"]), "steps": t.get("steps", 100),
           "h": t.get("h", DEFAULT_H), "dtype": t.get("dtype", DEFAULT_DTYPE), "gradient": t.get("gradient")}
    for k in ("rule", "lr", "steps", "h", "dtype", "gradient"):
        if sub is not None and k in sub.coords and sub[k].ndim == 0:
            v = sub[k].item()
            out[k] = v.decode() if isinstance(v, bytes) else v
    out["gradient"] = out["gradient"] or RULE_GRADIENT.get(out["rule"], "analytic")
    return out


def start_loss(W1, b1, W2, b2) -> np.ndarray:
    """The loss at the starts (..., 2, H) … (..., 2), float64 numpy (only to size κ)."""
    z = 1 / (1 + np.exp(-(np.einsum("ri,...ij->...rj", X.astype(float), W1) + b1[..., None, :])))
    a = np.einsum("...rj,...jk->...rk", z, W2) + b2[..., None, :]
    a = a - a.max(-1, keepdims=True)
    y = np.exp(a) / np.exp(a).sum(-1, keepdims=True)
    return -np.log(y[..., np.arange(4), LABELS.astype(int)] + LOSS_GUARD).mean(-1)


def kick(gradient: str, lr: float, h: float, dtype: str, loss: float, scale: float) -> float:
    """κ, the rounding kick per parameter and step: lr·ulp(loss)/(2h) for a numerical
    gradient, ulp(scale) (the typical parameter size) for an analytic one."""
    dt = np.dtype(dtype).type
    if gradient == "numerical":
        return float(lr) * float(np.spacing(dt(loss))) / (2 * float(h))
    return float(np.spacing(dt(scale)))


def estimated_floor(lam: float, kappa: float, steps: int, D: int) -> dict:
    """ε* = κ·Σ_{j<T} e^{−λj} with its band [√(Σ e^{−2λj})·κ, √D·ε*] (module docstring)."""
    j = np.arange(max(int(steps), 1))
    with np.errstate(over="ignore"):
        coherent = float(kappa * np.exp(-lam * j).sum())
        random = float(kappa * np.sqrt(np.exp(-2 * lam * j).sum()))
    return {"floor": coherent, "floor_low": random, "floor_high": float(np.sqrt(D) * coherent)}


def by_start(lam: xr.DataArray, sub: xr.Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """The finite exponents of ``lam``, one per distinct start and setting, and the
    resampling cluster of each (``clusters``). Cells that hold the same start with the
    same settings (the ε = 0 cell of every direction of a start, or a slice finer than
    the float spacing) are one network, not independent observations; their exponents are
    equal and the first is kept. Settings axes (lr, steps, …) stay apart."""
    from xorsweep.sweep.spec import SETTING_AXES

    v = lam.values.reshape(-1)
    ok = np.isfinite(v)
    keep = np.flatnonzero(ok)
    parts = [sub[f"{g}_start"].broadcast_like(lam) for g in ("W1", "b1", "W2", "b2") if f"{g}_start" in sub]
    if len(parts) == 4:
        rows = [np.ascontiguousarray(p.transpose(*lam.dims, ...).values, dtype=np.float64).reshape(v.size, -1) + 0.0
                for p in parts]  # + 0.0: -0.0 and 0.0 are the same start
        idx = np.indices(lam.shape).reshape(lam.ndim, -1)
        rows += [idx[i][:, None].astype(np.float64) for i, d in enumerate(lam.dims) if d in SETTING_AXES]
        rows = np.concatenate(rows, axis=1)[ok]
        _, first = np.unique(rows.view(np.uint64), axis=0, return_index=True)
        keep = keep[np.sort(first)]
    return v[keep], clusters(lam, keep)


def clusters(lam: xr.DataArray, keep: np.ndarray) -> np.ndarray | None:
    """What is resampled whole, per kept cell: the random start it came from (index along
    ``start``: its rounded copies, directions and perturbations are not independent of
    it), else the tile of a slice map (``_tiles``), else None (each distinct start)."""
    if "start" in lam.dims:
        i = np.indices(lam.shape).reshape(lam.ndim, -1)[lam.dims.index("start"), keep]
        return np.unique(i, return_inverse=True)[1]
    return _tiles(lam, keep)


#: a slice's cells are resampled in square tiles of about this many per side
TILES_PER_SIDE = 8


def _tiles(lam: xr.DataArray, keep: np.ndarray):
    """The tile of each kept cell when ``lam`` is a slice map (dims a and b, or a_index and
    b_index): neighbouring starts have nearly the same exponent, so a slice is resampled in
    tiles (``TILES_PER_SIDE`` per side, other dims apart), not cell by cell."""
    for a, b in (("a", "b"), ("a_index", "b_index")):
        if a in lam.dims and b in lam.dims:
            break
    else:
        return None
    idx = np.indices(lam.shape).reshape(lam.ndim, -1)[:, keep]
    tile = np.zeros(keep.size, dtype=np.int64)
    for d, n in zip(lam.dims, lam.shape):
        i = idx[lam.dims.index(d)]
        side = max(1, -(-n // TILES_PER_SIDE)) if d in (a, b) else 1
        tile = tile * (-(-n // side)) + i // side
    return np.unique(tile, return_inverse=True)[1]


def median_interval(v: np.ndarray, clusters=None, confidence=0.95, n_boot=1000, seed=0,
                    unit="tiles of the slice") -> dict:
    """The median's interval by a percentile bootstrap over the distinct starts, or over
    ``clusters`` (cluster number per value, e.g. a slice's tiles) resampled whole: the
    median of each resample is the weighted median of the values, weighted by how often
    their cluster was drawn. Seeded: the same numbers every time. (``scipy.stats.bootstrap``
    resamples single observations, which would treat a tile's cells as independent.)"""
    from xorsweep.analysis.stats import _percentile, resampling_weights

    v = np.asarray(v, float)
    c = np.arange(v.size) if clusters is None else np.asarray(clusters)
    n = int(c.max()) + 1 if c.size else 0
    what = f"{n} distinct starts" if clusters is None else f"{n} {unit} ({v.size} distinct starts)"
    if n < 3 or np.all(v == v[0]):
        return {"median_interval": None, "interval_method": f"none: {what}"}
    order = np.argsort(v, kind="stable")
    vs, cs = v[order], c[order]
    W = resampling_weights(n, n_boot, seed)
    meds = np.empty(n_boot)
    step = max(1, 2 ** 22 // v.size)  # bounded memory: at most 4 M weights at a time
    for lo in range(0, n_boot, step):
        cw = np.cumsum(W[lo:lo + step][:, cs], axis=1)
        half = 0.5 * cw[:, -1:]
        # the weighted median: the midpoint of the lower and upper middle values
        meds[lo:lo + step] = 0.5 * (vs[np.argmax(cw >= half, axis=1)] + vs[np.argmax(cw > half, axis=1)])
    lo_, hi_ = _percentile(meds[:, None], confidence)
    return {"median_interval": [float(lo_[0]), float(hi_[0])],
            "interval_method": f"{round(100 * confidence)}% percentile bootstrap over {what}, resampled whole "
                               f"({n_boot} resamples, seed {seed})"}


def summary(ds: xr.Dataset, fixed: dict | None = None, eps_dim="eps", confidence=0.95, n_boot=1000,
            seed=0) -> dict | None:
    """The exponents of the cells at ``fixed`` (dim -> value; the reference ε = 0 cells
    when the store has them), one per distinct start (``by_start``), their quantiles and
    the median's bootstrap interval, the rule's κ and the estimated floor; None when the
    store has no ``lyapunov``."""
    if "lyapunov" not in ds:
        return None
    sel = {d: v for d, v in (fixed or {}).items() if d in ds["lyapunov"].dims}
    sub = ds.sel({d: v for d, v in sel.items() if d in ds.coords}) if sel else ds
    if eps_dim in sub.dims and (sub[eps_dim] == 0).any():
        sub = sub.sel({eps_dim: 0.0})
    lam = sub["lyapunov"]
    if "done" in sub:
        lam = lam.where(sub["done"])
    cells = int(np.isfinite(lam.values).sum())
    v, groups = by_start(lam, sub)
    unit = "random starts" if "start" in lam.dims else "tiles of the slice"
    s = settings(ds, sub)
    H = int(ds.sizes["hidden"])
    D = 4 * H + 1
    out = {"cells": cells, "distinct_starts": int(v.size), "units": "1/step", "settings": s,
           "separation": ds["lyapunov"].attrs.get("separation"),
           "renormalise_every_steps": ds["lyapunov"].attrs.get("renormalise_every_steps"),
           "median": None, "median_interval": None, "interval_method": None, "q10": None, "q90": None,
           "positive_share": None, "kick": None,
           "floor": None, "floor_low": None, "floor_high": None, "floor_band": None, "dimensions": D}
    if not v.size:
        return out
    q10, med, q90 = (float(x) for x in np.percentile(v, [10, 50, 90]))
    starts = {g: sub[f"{g}_start"].values for g in ("W1", "b1", "W2", "b2") if f"{g}_start" in sub}
    if len(starts) == 4:
        L0 = float(np.nanmedian(start_loss(*(starts[g] for g in ("W1", "b1", "W2", "b2")))))
        flat = np.concatenate([np.abs(a).reshape(-1) for a in starts.values()])
        scale = float(np.sqrt(np.nanmean(flat[flat > 0] ** 2))) if (flat > 0).any() else 1.0
    else:
        L0, scale = float(np.log(2)), 0.1
    k = kick(s["gradient"], s["lr"], s["h"], s["dtype"], L0, scale)
    est = estimated_floor(med, k, s["steps"], D)
    band = [estimated_floor(q90, k, s["steps"], D)["floor"], estimated_floor(q10, k, s["steps"], D)["floor"]]
    out.update(median=med, q10=q10, q90=q90, positive_share=float((v > 0).mean()), kick=k, start_loss=L0,
               parameter_scale=scale, floor_band=band, **est, **median_interval(v, groups, confidence, n_boot, seed, unit))
    return out


def lyapunov_map(sub: xr.Dataset) -> xr.DataArray:
    """λ over a selected 2-D slice, NaN where not done."""
    lam = sub["lyapunov"]
    return lam.where(sub["done"]) if "done" in sub else lam
