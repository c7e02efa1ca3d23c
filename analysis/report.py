"""Every statistic a store supports, as one JSON-safe dict, and a readable table of it.

``stats_report(ds)`` keys (a key is present only when the store supports it):

- ``partition``: the class variable used (``solution`` when stored, else ``attractor``),
  its number of classes present and their names;
- ``completeness``: cells done / cells, ``share``, ``complete``;
- ``decimals``: per rounding digit, the share of each class and the flip rate against the
  unrounded start, each with its interval and the method (Wilson where the observations
  are independent, else a bootstrap over starts);
- ``uncertainty`` (an ``eps`` axis): f(ε) against the realised distance (``points``),
  ``local_slopes`` [{from, to, slope, ci}], ``floor`` (and ``floor_resampled`` {ci,
  none_share, resamples}: its spread over the bootstrap, by the slope criterion alone), ``alpha``, ``alpha_ci``,
  ``fit_range``, ``slope_change`` (the slopes of the fit range's lower and upper halves,
  their change and its interval: α is printed only when that interval lies within
  ±0.5·α), ``dimensions`` (D = 4H + 1), ``reason`` when α is refused, ``inert``,
  ``reference``, design effects (see ``analysis.stats.uncertainty``);
  With stored exponents also ``floor_from_lyapunov`` (the floor estimated from λ and
  the rule's kick, ``analysis.lyapunov``) and ``floor_from_lyapunov_band`` [low, high];
- ``lyapunov`` (``training.lyapunov = true``): one exponent per ``distinct_starts``, their
  ``median`` with its bootstrap ``median_interval`` over starts, ``q10``, ``q90``,
  ``positive_share``, the rule's ``kick`` κ and the estimated ``floor``;
- ``box_count``, ``basin_entropy``, ``fractality`` (a slice ``a`` × ``b``; of a zoomed
  slice, its level ``cell["zoom"]``, default 0, the slice as given): see
  ``analysis.basins.box_count_report``;
- ``zoom`` (a zoomed slice): a list, one entry per level, see ``zoom_report``.

Every section says which share of its cells it used (``used``).
"""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

from xorsweep.analysis import basins, lyapunov, precision, stats
from xorsweep.sweep.grid import unrounded
from xorsweep.sweep.spec import SETTING_AXES


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


def decimals_report(ds, part, cell=None, confidence=0.95, n_boot=1000, seed=0) -> dict:
    """Class shares and flip rates per rounding digit, with intervals."""
    sub, fixed = stats._fixed_dims(part, ("decimals", "start"), cell)
    done = stats._fixed_dims(ds["done"], ("decimals", "start"), cell)[0] if "done" in ds else None
    valid = stats.valid_cells(sub, done)
    cluster = "start" if "start" in sub.dims else None
    order = [d for d in (cluster, "decimals") if d]

    def arr(da):
        a = da.transpose(*order).values
        return a[None] if cluster is None else a

    names = dict(zip(part.attrs.get("flag_values", []), stats.display_names(part)))
    present = [int(v) for v in np.unique(sub.values[valid.values]) if int(v) not in stats.pending_values(part)]
    seen = arr(valid).any(axis=1)  # starts with no trained cell are not resampled

    def arr_seen(da):
        return arr(da)[seen]

    n = arr_seen(valid).astype(float)
    W = stats.resampling_weights(n.shape[0], n_boot, seed)
    un = unrounded(sub["decimals"].values)
    digits = [None if u else int(d) for d, u in zip(sub["decimals"].values, un)]  # None: unrounded
    shares = {}
    for v in present:
        r = stats.clustered_share(arr_seen((sub == v) & valid).astype(float), n, W, confidence)
        shares[str(names.get(v, v))] = [{"decimals": d, "share": r["share"][i], "ci": [r["lo"][i], r["hi"][i]]}
                                        for i, d in enumerate(digits)]
    out = {"fixed": fixed, "partition": stats.partition_info(sub, valid), "shares": shares,
           "n": [int(x) for x in n.sum(0)], "decimals": digits,
           "used": float(valid.values.mean()) if valid.size else 0.0, "interval": r["method"] if present else None}
    if un.any() and len(digits) > 1:
        k = int(np.flatnonzero(un)[0])
        ref = sub.isel(decimals=k)
        both = valid & valid.isel(decimals=k)
        r = stats.clustered_share(arr_seen((sub != ref) & both).astype(float), arr_seen(both).astype(float), W,
                                confidence)
        out["flip_rate"] = [{"decimals": d, "rate": r["share"][i], "ci": [r["lo"][i], r["hi"][i]], "n": r["n"][i]}
                            for i, d in enumerate(digits) if d is not None]
        out["flip_interval"] = r["method"]
    return out


def stats_report(ds: xr.Dataset, partition=None, cell=None, fit_range=None, box_fit_range=None, n_boot=1000,
                 seed=0, confidence=0.95, radius=20, n_balls=1000) -> dict:
    """Every statistic ``ds`` supports, as one JSON-serialisable dict (keys: see the
    module docstring). ``partition`` names the class variable (default ``solution``,
    else ``attractor``); ``cell`` (dim -> value) fixes the dims a statistic does not
    summarise (default: their first value); ``fit_range`` = (low, high) realised
    distances for α; ``box_fit_range`` = (low, high) box sides in cells."""
    part = stats.partition(ds, partition)
    dims = list(part.dims)
    done = ds["done"] if "done" in ds else None
    out = {"partition": stats.partition_info(part, stats.valid_cells(part, done)),
           "completeness": stats.completeness(ds),
           "dims": {d: int(part.sizes[d]) for d in dims}, "notes": []}
    if not out["completeness"]["complete"]:
        out["notes"].append(f"partial store: {100 * out['completeness']['share']:.1f}% of the cells are done; "
                            "every statistic uses the done cells only")
    if "decimals" in dims and part.sizes["decimals"] > 1:
        out["decimals"] = decimals_report(ds, part, cell, confidence, n_boot, seed)
    if "eps" in dims and part.sizes["eps"] > 2:
        out["uncertainty"] = stats.uncertainty(ds, part, cell=cell, fit_range=fit_range, n_boot=n_boot, seed=seed,
                                               confidence=confidence)
        lyap = lyapunov.summary(ds, out["uncertainty"]["fixed"], confidence=confidence, n_boot=n_boot, seed=seed)
        if lyap is not None:
            out["uncertainty"]["floor_from_lyapunov"] = lyap["floor"]
            out["uncertainty"]["floor_from_lyapunov_band"] = [lyap["floor_low"], lyap["floor_high"]]
    if "lyapunov" in ds:
        out["lyapunov"] = lyapunov.summary(ds, stats._fixed_dims(part, [d for d in dims if d not in SETTING_AXES],
                                                                 cell)[1], confidence=confidence, n_boot=n_boot,
                                           seed=seed)
    if "zoom" in dims:  # the top-level slice statistics are those of one level (default 0, the slice as given)
        level = int((cell or {}).get("zoom", 0))
        sds, spart = basins.zoom_level(ds, level), basins.zoom_level(part, level)
        sdone = basins.zoom_level(done, level) if done is not None else None
        scell = {k: v for k, v in (cell or {}).items() if k != "zoom"}
    else:
        level, sds, spart, sdone, scell = None, ds, part, done, cell
    if "a" in spart.dims and "b" in spart.dims and min(spart.sizes["a"], spart.sizes["b"]) > 4:
        m, fixed = stats._fixed_dims(spart, ("a", "b"), scell)
        d = stats._fixed_dims(sdone, ("a", "b"), scell)[0] if sdone is not None else None
        bc = basins.box_count_report(m.transpose("a", "b"), None if d is None else d.transpose("a", "b"),
                                     box_fit_range, seed, radius=radius, n_balls=n_balls)
        if level is not None:
            fixed = {"zoom": level, **fixed}
        for key in ("box_count", "basin_entropy", "fractality"):
            out[key] = {**bc[key], "used": bc["used"], "fixed": fixed}
        out["slice_partition"] = bc["partition"]
        out["distinct_starts"] = distinct_starts(sds, {k: v for k, v in fixed.items() if k != "zoom"})
        if out["distinct_starts"] and out["distinct_starts"]["share"] < 0.99:
            d = out["distinct_starts"]
            out["notes"].append(f"the slice holds only {d['distinct']} distinct starts in {d['cells']} cells: it is "
                                "finer than the float spacing, and its map repeats the same starts")
    if "zoom" in dims:
        out["zoom"] = zoom_report(ds, part, cell, box_fit_range, seed, n_balls=min(n_balls, 200))
        for r in out["zoom"]:
            if r["distinct_starts"] is not None and r["distinct_starts"] < r["cells"]:
                out["notes"].append(f"zoom level {r['level']} holds only {r['distinct_starts']} distinct starts in "
                                    f"{r['cells']} cells (finer than the float spacing)")
    if any(d in dims and part.sizes[d] > 1 for d in precision.AXES if d != "eps"):
        out["precision"] = precision.precision_flips(ds, part, confidence=confidence)
    return _jsonable(out)


def zoom_levels(ds, part, cell=None):
    """(maps, done maps or None, (distinct starts, cells) per level, fixed dims) of each
    zoom level of ``part``, the other dims taken at ``cell`` or their first value."""
    maps, dones, distinct = [], [], []
    for i in range(part.sizes["zoom"]):
        m, fixed = stats._fixed_dims(basins.zoom_level(part, i), ("a", "b"), cell)
        maps.append(m.transpose("a", "b"))
        if "done" in ds:
            dones.append(stats._fixed_dims(basins.zoom_level(ds["done"], i), ("a", "b"), cell)[0].transpose("a", "b"))
        d = distinct_starts(basins.zoom_level(ds, i), fixed)
        distinct.append((d["distinct"], d["cells"]) if d else None)
    return maps, dones or None, distinct, fixed


def zoom_report(ds, part, cell=None, fit_range=None, seed=0, n_balls=200) -> list[dict]:
    """Per zoom level of a zoomed slice: its extent, the local box dimension (or the reason
    there is none: saturated, too few box sides, or fewer distinct starts than cells), the
    mixed share of the smallest boxes, the shuffled control, distinct starts and the share
    of cells used (see ``basins.zoom_sequence``)."""
    maps, dones, distinct, fixed = zoom_levels(ds, part, cell)
    z = basins.zoom_sequence(maps, dones, fit_range, distinct=distinct, seed=seed, n_balls=n_balls)
    attrs = part["zoom"].attrs
    out = []
    for i in range(z.sizes["level"]):
        r = z.isel(level=i)
        extent = [float(ds[f"extent_{k}"].values[i]) if f"extent_{k}" in ds.coords else None for k in "ab"]
        out.append({
            "level": i, "extent": extent, "factor": attrs.get("factor"),
            "center": [attrs.get("center_a"), attrs.get("center_b")], "fixed": fixed,
            "dimension": r["dimension"].item(), "saturated": bool(r["saturated"]), "reason": r["reason"].item() or None,
            "islands": int(r["islands"]),
            "dimension_without_islands": r["dimension_without_islands"].item()
            if np.isfinite(r["dimension_without_islands"].item()) else None,
            "fit_range": [r["fit_min"].item(), r["fit_max"].item()],
            "mixed_share_smallest": r["mixed_share_1"].item(), "mixed_share_2": r["mixed_share_2"].item(),
            "shuffled_dimension": r["shuffled_dimension"].item(),
            "shuffled_mixed_share_smallest": r["shuffled_mixed_share_1"].item(),
            "S_bb": r["S_bb"].item(), "shuffled_S_bb": r["shuffled_S_bb"].item(), "classes": int(r["classes"]),
            "distinct_starts": None if distinct[i] is None else int(distinct[i][0]),
            "cells": int(r["cells"]) if np.isfinite(r["cells"]) else int(maps[i].size),
            "used": r["used"].item()})
        if out[-1]["dimension"] is None or not np.isfinite(out[-1]["dimension"]):
            out[-1]["fit_range"] = None
    return out


def distinct_starts(ds, fixed) -> dict | None:
    """How many of a slice's cells hold distinct starts (a slice narrower than the float
    spacing repeats the same start: its map then measures nothing)."""
    from xorsweep.kernels.vocab import GROUPS

    if not all(f"{g}_start" in ds for g in GROUPS):
        return None
    sel = {d: v for d, v in fixed.items() if d in ds.dims}
    parts = []
    for g in GROUPS:
        x = ds[f"{g}_start"]
        x = x.sel({d: v for d, v in sel.items() if d in x.coords}) if sel else x
        x = x.transpose("a", "b", ...).values
        parts.append(x.reshape(x.shape[0] * x.shape[1], -1))
    flat = np.ascontiguousarray(np.concatenate(parts, axis=1))
    n = len(np.unique(flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1])))))
    return {"distinct": int(n), "cells": int(flat.shape[0]), "share": n / flat.shape[0]}


# ---- the readable table ----------------------------------------------------------------

def _g(x, fmt=".3g"):
    return "—" if x is None else format(x, fmt)


def _ci(ci, fmt=".3g"):
    return "—" if not ci or ci[0] is None else f"[{_g(ci[0], fmt)}, {_g(ci[1], fmt)}]"


def _with_ci(x, ci, fmt, ci_fmt):
    """x and its interval, or x alone where it has none (n = 1: analysis.stats.MIN_INTERVAL_N)."""
    return _g(x, fmt) + ("" if not ci or ci[0] is None else " " + _ci(ci, ci_fmt))


def _floor_spread(u) -> str:
    """The floor's spread over the bootstrap resamples, for the report's floor line."""
    r = u.get("floor_resampled")
    if not r:
        return ""
    where = f", at {_g(r['ci'][0], '.1e')} … {_g(r['ci'][1], '.1e')}" if r["ci"] else ""
    return (f" (in {r['resamples']} resamples of the {u['clusters']['dim'] or 'cell'}s, by the slope of log f "
            f"<= {u['flat_slope']:g} alone: found in {100 * (1 - r['none_share']):.0f} %{where})")


def format_report(rep: dict) -> str:
    """A plain-text table of a ``stats_report`` dict."""
    L = []
    p, c = rep["partition"], rep["completeness"]
    L.append(f"partition: {p['name']} ({p['classes']} classes present)")
    if c["cells"] is not None:
        L.append(f"completeness: {c['done']} of {c['cells']} cells done ({100 * c['share']:.1f}%)"
                 + ("" if c["complete"] else "  PARTIAL: statistics use the done cells only"))
    for note in rep.get("notes", []):
        L.append(f"note: {note}")
    if "decimals" in rep:
        d = rep["decimals"]
        L.append("")
        L.append(f"shares per rounding digit ({d['interval']}; {d['partition']['classes']} classes):")
        w = max([len("class")] + [len(name) for name in d["shares"]]) + 2  # whole names: they are the classes
        L.append("  " + "class".ljust(w) + "".join(("none" if x is None else str(x)).rjust(20) for x in d["decimals"]))
        for name, row in d["shares"].items():
            L.append("  " + name.ljust(w) + "".join(
                _with_ci(r["share"], r["ci"], ".3f", ".2f").rjust(20) for r in row))
        if "flip_rate" in d:
            L.append(f"flip rate against the unrounded start ({d['flip_interval']}); rounding to d decimals moves a "
                     "start by about 10^-d, so where that is below the rule's roundoff floor (f(ε) flat, see "
                     "examples/perturbation.toml) a flip rate measures the floor, not the digit:")
            for r in d["flip_rate"]:
                L.append(f"  decimals {r['decimals']:>3}: {_with_ci(r['rate'], r['ci'], '.3f', '.3f')}  n = {int(r['n'])}")
    if "uncertainty" in rep:
        u = rep["uncertainty"]
        L.append("")
        L.append(f"f(ε) on {u['partition']['name']} ({u['partition']['classes']} classes); reference: {u['reference']}")
        L.append(f"  abscissa: realised distance ({u['distance']}); inert cells left out: {u['inert']}; "
                 f"intervals: {u['interval']}; median design effect {_g(u['design_effect'])}")
        L.append("  " + "eps".rjust(10) + "distance".rjust(11) + "f".rjust(10) + "interval".rjust(22)
                 + "Wilson".rjust(22) + "n".rjust(8) + "inert".rjust(7) + "deff".rjust(7))
        for r in u["points"]:
            L.append("  " + _g(r["eps"], ".2e").rjust(10) + _g(r["distance"], ".2e").rjust(11) + _g(r["f"], ".4f").rjust(10)
                     + _ci(r["ci"], ".4f").rjust(22) + _ci(r["wilson"], ".4f").rjust(22) + str(r["n"]).rjust(8)
                     + str(r["inert"]).rjust(7) + _g(r["design_effect"], ".1f").rjust(7))
        L.append("  local slopes of log f against log distance:")
        for s in u["local_slopes"]:
            L.append(f"    {s['from']:.2e} → {s['to']:.2e}: {s['slope']:+.3f} {_ci(s['ci'])}")
        L.append(f"  roundoff floor: {'none found' if u['floor'] is None else format(u['floor'], '.2e')}"
                 + _floor_spread(u))
        if "floor_from_lyapunov" in u:
            b = u["floor_from_lyapunov_band"]
            L.append(f"  roundoff floor estimated from λ and the rule's kick: {_g(u['floor_from_lyapunov'], '.2e')} "
                     f"(band {_g(b[0], '.1e')} … {_g(b[1], '.1e')})")
        if u["alpha"] is None:
            L.append(f"  α: refused — {u.get('reason')}")
            if u["agreeing_ranges"]:
                L.append("  ranges where the local slopes agree: "
                         + ", ".join(f"{a:.1e}–{b:.1e}" for a, b in u["agreeing_ranges"]))
        else:
            L.append(f"  α = {u['alpha']:.3f} {_ci(u['alpha_ci'])} (bootstrap over {u['clusters']['dim']}s) over "
                     f"distances {u['fit_range'][0]:.2e} to {u['fit_range'][1]:.2e} ({u['fit_points']} points); "
                     f"design effect of α {_g(u.get('alpha_design_effect'))}")
            L.append(f"  boundary dimension D − α = {_g(u['boundary_dimension'], '.3f')}")
        if u.get("slope_change"):
            c = u["slope_change"]
            L.append(f"  slope on the lower / upper half of the fit range (split at {c['split_at']:.1e}): "
                     f"{c['lower']:.3f} / {c['upper']:.3f}, change {c['change']:+.3f} {_ci(c['ci'])} "
                     f"(α is printed only when this interval lies within ±0.5·α)")
        L.append(f"  {u['dimensions_note']}")
    if rep.get("lyapunov"):
        y = rep["lyapunov"]
        L.append("")
        ci = y.get("median_interval")
        ci = f" [{_g(ci[0], '.4f')}, {_g(ci[1], '.4f')}]" if ci else ""
        L.append(f"finite-time Lyapunov exponent ({y['cells']} cells, {y.get('distinct_starts')} distinct starts; "
                 f"twin at {y['separation']}, renormalised every {y['renormalise_every_steps']} steps): median "
                 f"{_g(y['median'], '.4f')}{ci} per step, 10–90 % {_g(y['q10'], '.4f')} … {_g(y['q90'], '.4f')} "
                 f"of the starts, positive in {_g(y['positive_share'], '.3f')}")
        if y.get("interval_method"):
            L.append(f"  interval of the median: {y['interval_method']}")
        L.append(f"  rule's kick κ = {_g(y['kick'], '.2e')} per parameter and step ({y['settings']['gradient']} "
                 f"gradient); estimated roundoff floor κ·Σ e^(−λj) = {_g(y['floor'], '.2e')} (band "
                 f"{_g(y['floor_low'], '.1e')} … {_g(y['floor_high'], '.1e')})")
    if "box_count" in rep:
        b, e, f = rep["box_count"], rep["basin_entropy"], rep["fractality"]
        sp = rep.get("slice_partition", p)
        L.append("")
        lvl = f" (zoom level {b['fixed']['zoom']}; every level below)" if "zoom" in b.get("fixed", {}) else ""
        L.append(f"slice box counting{lvl} on {sp['name']} ({sp['classes']} classes; {100 * b['used']:.1f}% of cells "
                 f"used; {b['rule']})")
        if rep.get("distinct_starts"):
            ds_ = rep["distinct_starts"]
            L.append(f"  distinct starts: {ds_['distinct']} of {ds_['cells']} cells")
        L.append("  " + "side".rjust(6) + "mixed".rjust(9) + "share".rjust(8) + "shuffled".rjust(10))
        for s, n, m, ms in zip(b["box"], b["count"], b["mixed_share"], b["shuffled_mixed_share"]):
            L.append("  " + str(s).rjust(6) + str(n).rjust(9) + _g(m, ".3f").rjust(8) + _g(ms, ".3f").rjust(10))
        if b["dimension"] is None:
            L.append(f"  dimension: none — {b['reason']}")
        else:
            L.append(f"  dimension d = {b['dimension']:.3f} ± {_g(b['dimension_se'], '.3f')} (standard error of the "
                     "line fit, not a sampling interval) over box sides "
                     f"{b['fit_range'][0]:g} to {b['fit_range'][1]:g}")
        if b.get("islands"):
            L.append(f"  with its {b['islands']} islands filled in (regions of at most {b['island_max_cells']} cells, "
                     f"each set to the class around it): "
                     + (f"d = {b['dimension_without_islands']:.3f} ± {_g(b['dimension_without_islands_se'], '.3f')}"
                        if b["dimension_without_islands"] is not None else
                        f"no dimension ({b['without_islands_reason']})"))
        if b.get("islands_note"):
            L.append(f"  note: {b['islands_note']}")
        L.append(f"  shuffled control: dimension {_g(b['shuffled_dimension'])}"
                 f"{' (saturated)' if b['shuffled_saturated'] else ''}; slope over the same window "
                 f"{_g(b['shuffled_slope_same_window'])}")
        L.append(f"  basin entropy ({e['box']}×{e['box']} boxes, {e['classes']} classes, ln {e['classes']} = "
                 f"{_g(e['ln_classes'])}): S_b = {_g(e['S_b'])}, S_bb = {_g(e['S_bb'])}; shuffled S_b = "
                 f"{_g(e['shuffled_S_b'])}, S_bb = {_g(e['shuffled_S_bb'])}")
        L.append(f"  S_bb > ln 2: {e['ln2_criterion']} (shuffled: {e['shuffled_ln2_criterion']}; sufficient for a "
                 f"fractal boundary only with boxes small beside the basins); S_bb {e['S_bb_trend'] or 'trend unknown'} "
                 "(no diagnosis alone: smooth many-class stripes rise too)")
        L.append("  S_bb by box size: " + ", ".join(f"{k}: {_g(v)} (shuffled {_g(e['shuffled_S_bb_by_box'][k])})"
                                                    for k, v in e["S_bb_by_box"].items()))
        L.append(f"  fractality test (Puy et al. 2021, radius {f['radius']}, {f['balls']} boundary balls): "
                 f"{f['verdict']}; Ŝbb = {_g(f['Sbb'])} ± {_g(f['sigma'])}, smooth {f['smooth_Sbb']:.4f} "
                 f"(band {_g(f.get('lower'))} … {_g(f['upper'])}); shuffled map: {f['shuffled_verdict']}"
                 + (f", Ŝbb = {_g(f['shuffled_Sbb'])} ({f['vs_shuffled_sigmas']:+.1f} σ apart)"
                    if f.get("vs_shuffled_sigmas") is not None else "")
                 + (f"; {f['warning']}" if f["warning"] else "") + (f"; {f['note']}" if f.get("note") else "")
                 + (f"; {f['reading']}" if f.get("reading") else ""))
    if "zoom" in rep:
        L.extend(format_zoom(rep["zoom"]))
    if "precision" in rep:
        L.append(precision.format_precision(rep["precision"]))
    return "\n".join(L)


def format_zoom(levels: list) -> list[str]:
    z = levels[0]
    L = ["", f"zoom sequence: each level {_g(z['factor'])} times narrower, towards (a, b) = "
             f"({_g(z['center'][0], '.6g')}, {_g(z['center'][1], '.6g')}); box counts fitted over sides >= 2 with "
             "mixed share < 0.5; 'mixed' is the share of the smallest boxes (side 1) holding two classes; 'no islands' "
             f"the dimension with the islands (regions of at most {basins.ISLAND_CELLS} cells) filled in",
         "  " + "level".rjust(5) + "extent a".rjust(10) + "extent b".rjust(10) + "dimension".rjust(11)
         + "no islands".rjust(11) + "mixed".rjust(7) + "shuffled".rjust(9) + "shuf. d".rjust(9) + "S_bb".rjust(7)
         + "shuf.".rjust(7) + "distinct".rjust(16) + "used".rjust(7)]
    for r in levels:
        d = "refused" if r["dimension"] is None else f"{r['dimension']:.3f}"
        L.append("  " + str(r["level"]).rjust(5) + _g(r["extent"][0], ".1e").rjust(10) + _g(r["extent"][1], ".1e").rjust(10)
                 + d.rjust(11) + _g(r.get("dimension_without_islands"), ".3f").rjust(11)
                 + _g(r["mixed_share_smallest"], ".3f").rjust(7)
                 + _g(r["shuffled_mixed_share_smallest"], ".3f").rjust(9) + _g(r["shuffled_dimension"]).rjust(9)
                 + _g(r["S_bb"]).rjust(7) + _g(r["shuffled_S_bb"]).rjust(7)
                 + f"{'—' if r['distinct_starts'] is None else r['distinct_starts']}/{r['cells']}".rjust(16)
                 + f"{100 * r['used']:.0f}%".rjust(7))
    for r in levels:
        if r["dimension"] is None:
            L.append(f"  level {r['level']}: no dimension — {r['reason']}")
        else:
            L.append(f"  level {r['level']}: d = {r['dimension']:.3f} over box sides {r['fit_range'][0]:g} to "
                     f"{r['fit_range'][1]:g}")
    return L


def to_json(rep: dict) -> str:
    return json.dumps(rep, allow_nan=False)
