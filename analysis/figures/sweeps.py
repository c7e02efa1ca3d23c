"""Figures of whole sweeps: attractor shares and flip rate per rounding digit, f(ε) with
the fitted uncertainty exponent, the attractor map of a 2-D slice, the box-count plot."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from xorsweep.analysis.basins import ISLAND_CELLS
from xorsweep.analysis.figures.style import axes as _axes
from xorsweep.analysis.figures.style import RARE_COLOR, class_colors, keep_common, rare_label
from xorsweep.analysis.labels import display_names
from xorsweep.sweep.grid import decimals_label


def _digits(se):
    """Decimals that show a standard error with two significant digits (2 to 4)."""
    if not np.isfinite(se) or se <= 0:
        return 2
    return int(min(4, max(2, 1 - np.floor(np.log10(se)))))


def _decimal_labels(values):
    return [decimals_label(v) for v in values]


def plot_attractor_shares(shares, ax=None, dim="decimals"):
    """Stacked bars: the share of each attractor at each rounding digit (``shares`` from
    ``analysis.stats.attractor_shares``); the legend names the classes."""
    ax = _axes(ax, figsize=(7.6, 4.2))
    names = [str(n) for n in shares["attractor"].values]
    families = [str(f) for f in shares["family"].values] if "family" in shares.coords else names
    share = np.nan_to_num(shares["share"].transpose("attractor", dim).values)
    shown = keep_common(names, shares["count"].sum(dim).values)
    colors = class_colors(shown, [families[names.index(n)] for n in shown], shares.attrs.get("classes"),
                          shares.attrs.get("families"))
    rare = [i for i, n in enumerate(names) if n not in shown]
    x = np.arange(shares.sizes[dim])
    bottom = np.zeros(len(x))
    bars = []
    for name, h, color in [(n, share[names.index(n)], colors[n]) for n in shown] + (
            [(rare_label(len(rare)), share[rare].sum(axis=0), RARE_COLOR)] if rare else []):
        bars.append(ax.bar(x, h, bottom=bottom, color=color, edgecolor="white", lw=0.5, label=name))
        bottom += h
    ax.set_xticks(x, _decimal_labels(shares[dim].values) if dim == "decimals" else shares[dim].values,
                  fontsize=7 if len(x) > 12 else None)
    ax.set_xlabel("decimals the start was rounded to (none: unrounded)" if dim == "decimals" else dim)
    n = shares["n"].values
    ax.set_ylabel("share of networks" + (f" (n = {int(n.max())} per digit)" if n.min() == n.max() else ""))
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title=shares.attrs.get("partition", "class"),
              title_fontsize=8, frameon=False)
    return bars


def plot_flip_rate(flips, ax=None, dim="decimals"):
    """Rate at which rounding changes the attractor against the unrounded start, with its
    Wilson interval (``flips`` from ``analysis.stats.flip_rate``)."""
    ax = _axes(ax, figsize=(7.0, 3.8))
    x = np.arange(flips.sizes[dim])
    rate = flips["rate"].values
    # no bar where there is no interval (n = 1: one deterministic run, analysis.stats.MIN_INTERVAL_N)
    err = np.nan_to_num(np.vstack([rate - flips["rate_lo"].values, flips["rate_hi"].values - rate]))
    conf = round(100 * flips.attrs.get("confidence", 0.95))
    bars = bool(np.isfinite(flips["rate_lo"].values).any())
    art = ax.errorbar(x, rate, yerr=err if bars else None, fmt="o", color="#1f77b4", ecolor="#9ecae1", capsize=3,
                      label="share changed" + (f", {conf}% Wilson interval" if bars else ""))
    ax.set_xticks(x, _decimal_labels(flips[dim].values) if dim == "decimals" else flips[dim].values)
    ax.set_xlabel("decimals the start was rounded to" if dim == "decimals" else dim)
    ref = flips.attrs.get("reference", "the reference")
    ax.set_ylabel("share of starts in another\nattractor than " + ("unrounded" if ref == "the unrounded start" else ref))
    ax.set_ylim(-0.03, 1.2)  # the note sits above the rate's range, clear of every point
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y", alpha=0.3)
    n = flips["n"].values
    count = f"n = {int(n.max())} start{'s' if n.max() != 1 else ''} per digit" if n.min() == n.max() \
        else f"n = {int(n.min())} to {int(n.max())} starts per digit"
    if not bars:
        what = "one deterministic run per digit, no interval" if n.max() <= 1 else "no intervals"
    elif np.isfinite(flips["rate_lo"].values).all():
        what = f"bars: {conf}% Wilson interval"
    else:
        what = f"bars: {conf}% Wilson interval; none where n = 1"
    note = ax.text(0.015, 0.97, f"{count}; {what}", transform=ax.transAxes, va="top",
                   fontsize=8, bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9})
    return [art, note]


def plot_uncertainty(frac, fit, ax=None):
    """f(ε) on log-log axes against the separation of the two starts, with the fitted
    power law over its fit range and α in the legend."""
    ax = _axes(ax)
    x, f = frac["separation"].values, frac["f"].values
    pos = f > 0
    lo, hi = frac["f_lo"].values, frac["f_hi"].values
    conf = round(100 * frac.attrs.get("confidence", 0.95))
    pts = ax.errorbar(x[pos], f[pos], yerr=np.nan_to_num(np.vstack([f[pos] - lo[pos], hi[pos] - f[pos]])), fmt="o", ms=4,
                      color="#1f77b4", ecolor="#9ecae1", capsize=2, label=f"f(ε), {conf}% Wilson interval")
    artists = [pts]
    if (~pos).any():
        artists.append(ax.plot(x[~pos], hi[~pos], "v", color="#9ecae1", ms=4,
                               label="f = 0: upper end of the interval")[0])
    alpha = float(fit["alpha"])
    if np.isfinite(alpha):
        xs = np.geomspace(float(fit["fit_min"]), float(fit["fit_max"]), 50)
        se = float(fit["alpha_se"])
        k = _digits(se)
        label = f"fit: α = {alpha:.{k}f} ± {se:.{k}f}"
        if "boundary_dimension" in fit:
            label += f",\nboundary dimension D − α = {float(fit['D']) - alpha:.{k}f} (D = {int(fit['D'])})"
        artists.append(ax.plot(xs, 10 ** float(fit["log10_prefactor"]) * xs ** alpha, "-", color="#d62728",
                               lw=1.5, label=label)[0])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"separation of the two starts, ε − {frac.attrs.get('reference_eps', 0):.0e} (euclidean)")
    ax.set_ylabel("f(ε): share of pairs in different attractors")
    ax.grid(which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return artists


def plot_attractor_map(att, ax=None, legend=True, done=None, shown=None):
    """The attractor of every start of a 2-D slice (dims (a, b) or any two), one colour
    per class, with a legend of the class names and their shares; cells not ``done``
    are drawn as ``pending``. ``shown``: the class names drawn on their own, the rest
    merged (default: the commonest of this map); give the same list to panels that
    must share their colours."""
    ax = _axes(ax, figsize=(7.4, 5.0))
    if done is not None:
        from xorsweep.analysis.basins import mark_pending

        att = mark_pending(att, done.transpose(*att.dims))
    ydim, xdim = att.dims
    names = display_names(att)
    values = list(att.attrs["flag_values"])
    families = att.attrs.get("flag_families", names)
    counts = np.array([(att.values == v).sum() for v in values])
    shown = keep_common(names, counts) if shown is None else [n for n in shown if n in names]
    colors = class_colors(shown, [families[names.index(n)] for n in shown], names, families)
    classes = [(n, colors[n], counts[names.index(n)]) for n in shown]
    position = {values[names.index(n)]: i for i, n in enumerate(shown)}
    rare = sum(k > 0 for n, k in zip(names, counts) if n not in shown)
    if rare:
        classes.append((rare_label(rare), RARE_COLOR,
                        counts.sum() - sum(c for _, _, c in classes)))
    index = np.vectorize(lambda v: position.get(int(v), len(shown)), otypes=[np.int16])(att.values)
    cmap = ListedColormap([c for _, c, _ in classes])
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, cmap.N)
    mesh = ax.pcolormesh(att[xdim].values, att[ydim].values, index, cmap=cmap, norm=norm, shading="nearest",
                         rasterized=True)
    ax.set_xlabel(att[xdim].attrs.get("long_name", xdim))
    ax.set_ylabel(att[ydim].attrs.get("long_name", ydim))
    ax.set_aspect("auto")
    artists = [mesh]
    if legend:
        handles = [Patch(facecolor=c, edgecolor="0.5", lw=0.5, label=f"{n} ({100 * k / counts.sum():.1f}%)")
                   for n, c, k in classes]
        artists.append(ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                                 title=str(att.name or "class"), title_fontsize=8, frameon=False))
    return artists


def plot_box_count(counts, dim, ax=None, control=None, without_islands=None):
    """N(s), boxes on the boundary against box side, log-log, with the fitted slope over
    the shaded fit range (``counts`` from ``box_counts``, ``dim`` from ``box_dimension``);
    ``control``: the counts of the same map shuffled (``basins.shuffled``), drawn beside;
    ``without_islands``: (counts, dimension, n) of the map without its n islands
    (``basins.without_islands``), drawn where n > 0."""
    ax = _axes(ax)
    s, n = counts["box"].values, counts["count"].values
    pos = n > 0
    mixed = counts["mixed_share"].values
    artists = [ax.plot(s[pos], n[pos], "o", color="#1f77b4", ms=5,
                       label=f"boxes holding two or more attractors ({100 * mixed[0]:.0f} % of side {s[0]:g})")[0]]
    if control is not None:
        cs, cn = control["box"].values, control["count"].values
        cp = cn > 0
        artists.append(ax.plot(cs[cp], cn[cp], "x", color="0.45", ms=5,
                               label=f"the same map shuffled ({100 * control['mixed_share'].values[0]:.0f} % "
                                     f"of side {cs[0]:g})")[0])
    if without_islands is not None and without_islands[2]:
        wc, wd, wn = without_islands
        ws, wv = wc["box"].values, wc["count"].values
        dw = float(wd["dimension"])
        artists.append(ax.plot(ws[wv > 0], wv[wv > 0], "s", color="#2ca02c", ms=3, mfc="none",
                               label=f"its {wn} islands of ≤ {ISLAND_CELLS} cells filled in"
                                     + (f": d = {dw:.3f}" if np.isfinite(dw) else ": no dimension"))[0])
    d = float(dim["dimension"])
    if np.isfinite(d):
        lo, hi = float(dim["fit_min"]), float(dim["fit_max"])
        artists.append(ax.axvspan(lo / 1.15, hi * 1.15, color="0.92", zorder=0,
                                  label=f"fit range: {lo:g} to {hi:g} cells"))
        xs = np.geomspace(lo, hi, 20)
        se = float(dim["dimension_se"])
        k = _digits(se)
        artists.append(ax.plot(xs, 10 ** float(dim["log10_prefactor"]) * xs ** -d, "-", color="#d62728",
                               label=rf"$N \propto s^{{-d}}$, d = {d:.{k}f} ± {se:.{k}f} (fit s.e.)")[0])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("box side s (cells of the slice grid)")
    ax.set_ylabel("N(s): boxes on the boundary")
    ax.grid(which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    return artists


# ---- honest statistics: f against the realised distance, local slopes, box-count controls

def _partition_text(p):
    return f"{p['name']}, {p['classes']} classes"


def plot_f_distance(unc, ax=None):
    """f(ε) against the realised distance (``unc`` from ``analysis.stats.uncertainty``),
    bootstrap intervals over starts, the roundoff floor shaded, the fitted power law over
    its range or the refusal; the legend names the partition and the inert cells left out."""
    ax = _axes(ax, figsize=(6.6, 4.6))
    pts = [p for p in unc["points"] if p["distance"] is not None and p["f"] is not None]
    x = np.array([p["distance"] for p in pts])
    f = np.array([p["f"] for p in pts])
    lo = np.array([np.nan if p["ci"][0] is None else p["ci"][0] for p in pts])
    hi = np.array([np.nan if p["ci"][1] is None else p["ci"][1] for p in pts])
    pos = f > 0
    artists = [ax.errorbar(x[pos], f[pos], yerr=np.nan_to_num(np.vstack([f[pos] - lo[pos], hi[pos] - f[pos]])), fmt="o", ms=4,
                           color="#1f77b4", ecolor="#9ecae1", capsize=2,
                           label=f"f, {unc['interval']}\n({_partition_text(unc['partition'])}; "
                                 f"{unc['inert']} inert cells left out)")]
    if (~pos).any():
        artists.append(ax.plot(x[~pos], hi[~pos], "v", color="#9ecae1", ms=4, label="f = 0: upper end")[0])
    if unc["floor"] is not None and len(x):
        artists.append(ax.axvspan(x.min() / 1.5, unc["floor"], color="0.92", zorder=0,
                                  label=f"roundoff floor (f stops falling below {unc['floor']:.1e})"))
    if unc["alpha"] is not None:
        a, (x0, x1) = unc["alpha"], unc["fit_range"]
        use = (x >= x0) & (x <= x1) & pos
        c = np.exp(np.mean(np.log(f[use]) - a * np.log(x[use])))
        xs = np.geomspace(x0, x1, 50)
        ci = unc["alpha_ci"] or [None, None]
        label = f"α = {a:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else "")
        if unc.get("boundary_dimension") is not None:
            label += f"\nD − α = {unc['boundary_dimension']:.3f} (D = 4H + 1 = {unc['dimensions']})"
        artists.append(ax.plot(xs, c * xs**a, "-", color="#d62728", lw=1.5, label=label)[0])
    else:
        artists.append(ax.text(0.98, 0.03, "no α: " + (unc.get("reason") or ""), transform=ax.transAxes, ha="right",
                               va="bottom", fontsize=7, wrap=True,
                               bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9}))
    if len(x) and (x > 0).any():
        ax.set_xscale("log")
    if pos.any():
        ax.set_yscale("log")
    else:
        artists.append(ax.text(0.5, 0.5, "f = 0 at every distance", transform=ax.transAxes, ha="center"))
    ref = "ε = 0 start" if unc["reference_is_eps0"] else "smallest-ε start (no ε = 0 cell)"
    ax.set_xlabel(f"realised distance to the {ref}")
    ax.set_ylabel("f: share of perturbed starts in another class")
    ax.grid(which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return artists


def plot_local_slopes(unc, ax=None):
    """Local slopes of log f against log distance between neighbouring ε, with their
    bootstrap intervals, the floor and the fitted α over its range."""
    ax = _axes(ax, figsize=(6.6, 3.4))
    sl = unc["local_slopes"]
    mid = np.array([np.sqrt(s["from"] * s["to"]) for s in sl])
    y = np.array([s["slope"] for s in sl])
    lo = np.array([np.nan if s["ci"][0] is None else s["ci"][0] for s in sl])
    hi = np.array([np.nan if s["ci"][1] is None else s["ci"][1] for s in sl])
    artists = [ax.errorbar(mid, y, yerr=np.vstack([y - lo, hi - y]), fmt="s", ms=4, color="#2ca02c",
                           ecolor="#a1d99b", capsize=2, label="local slope, bootstrap interval")]
    artists.append(ax.axhline(0, color="0.5", lw=0.8))
    if unc["floor"] is not None:
        artists.append(ax.axvline(unc["floor"], color="0.4", ls="--", lw=1, label=f"floor {unc['floor']:.1e}"))
    if unc["alpha"] is not None:
        x0, x1 = unc["fit_range"]
        artists.append(ax.plot([x0, x1], [unc["alpha"]] * 2, "-", color="#d62728", lw=1.5,
                               label=f"α = {unc['alpha']:.3f} over the fit range")[0])
    if len(sl):
        ax.set_xscale("log")
    else:
        artists.append(ax.text(0.5, 0.5, "no two neighbouring ε with f > 0", transform=ax.transAxes, ha="center"))
    ax.set_xlabel("realised distance (geometric middle of the two ε)")
    ax.set_ylabel("d log f / d log distance")
    ax.set_title(f"local slopes ({_partition_text(unc['partition'])})" +
                 ("" if unc["alpha"] is not None else ": slopes disagree, no α"), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return artists


def plot_box_count_controls(rep, ax=None):
    """Boxes on the boundary N(s) of the map and of its shuffled control (same class
    shares), with the mixed shares on a second axis and the fit or the saturation flag
    (``rep`` from ``analysis.basins.box_count_report``)."""
    ax = _axes(ax, figsize=(6.6, 4.4))
    bc = rep["box_count"] if "box_count" in rep else rep
    s = np.array(bc["box"], float)
    n, nc = np.array(bc["count"], float), np.array(bc["shuffled_count"], float)
    artists = [ax.plot(s[n > 0], n[n > 0], "o-", color="#1f77b4", ms=4, label="N(s): map")[0],
               ax.plot(s[nc > 0], nc[nc > 0], "x--", color="0.5", ms=4, label="N(s): shuffled map")[0]]
    if bc.get("islands") and bc.get("without_islands_count"):  # the islands' control (basins.without_islands)
        nw = np.array(bc["without_islands_count"], float)
        dw = bc["dimension_without_islands"]
        artists.append(ax.plot(s[nw > 0], nw[nw > 0], "s:", color="#2ca02c", ms=3,
                               label=f"N(s): its {bc['islands']} islands of ≤ {bc['island_max_cells']} cells filled in"
                                     + (f" (d = {dw:.3f})" if dw is not None else ""))[0])
    if bc["dimension"] is not None:
        x0, x1 = bc["fit_range"]
        artists.append(ax.axvspan(x0 / 1.1, x1 * 1.1, color="0.93", zorder=0,
                                  label=f"d = {bc['dimension']:.3f} over sides {x0:g}–{x1:g}"))
    else:
        artists.append(ax.text(0.02, 0.03, "no dimension: " + (bc["reason"] or ""), transform=ax.transAxes,
                               fontsize=7, va="bottom", wrap=True,
                               bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9}))
    ax.set_xscale("log", base=2)
    if (n > 0).any() or (nc > 0).any():
        ax.set_yscale("log")
    ax.set_xlabel("box side s (cells)")
    ax.set_ylabel("N(s): boxes holding two or more classes")
    tw = ax.twinx()
    artists += [tw.plot(s, bc["mixed_share"], "-", color="#ff7f0e", lw=1, label="mixed share: map")[0],
                tw.plot(s, bc["shuffled_mixed_share"], ":", color="#ff7f0e", lw=1, label="mixed share: shuffled")[0],
                tw.axhline(0.5, color="#ff7f0e", lw=0.6, ls="-.")]
    tw.set_ylim(0, 1.02)
    tw.set_ylabel("share of mixed boxes (fit only below 0.5)", color="#ff7f0e")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = tw.get_legend_handles_labels()
    artists.append(ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper right"))
    p = rep.get("partition") or rep.get("slice_partition")
    if p:
        ax.set_title(f"box counting with its shuffled control ({_partition_text(p)})", fontsize=9)
    return artists


def plot_zoom_sequence(zoom, ax=None):
    """Local box dimension per zoom level (``zoom`` from ``analysis.basins.zoom_sequence``),
    refused levels marked at the top (saturated, or repeating starts), the shuffled map's
    dimension as the control, and on the right axis the mixed share of the smallest boxes
    beside the shuffled map's."""
    ax = _axes(ax, figsize=(6.4, 4.0))
    lv = zoom["level"].values
    d = zoom["dimension"].values
    ok = np.isfinite(d)
    artists = [ax.plot(lv[ok], d[ok], "o-", color="#1f77b4", label="local box dimension")[0]]
    if "shuffled_dimension" in zoom and np.isfinite(zoom["shuffled_dimension"].values).any():
        sd = zoom["shuffled_dimension"].values
        artists.append(ax.plot(lv[np.isfinite(sd)], sd[np.isfinite(sd)], "o", mfc="none", color="#1f77b4",
                               label="shuffled map's dimension")[0])
    shown = [d[ok]]
    if "dimension_without_islands" in zoom and (zoom["islands"].values > 0).any():
        dw = np.where(zoom["islands"].values > 0, zoom["dimension_without_islands"].values, np.nan)
        fin = np.isfinite(dw)
        shown.append(dw[fin])
        artists.append(ax.plot(lv[fin], dw[fin], "D", mfc="none", color="#2ca02c", ms=5,
                               label=f"islands of ≤ {ISLAND_CELLS} cells filled in")[0])
    sat = zoom["saturated"].values.astype(bool) & ~ok
    if sat.any():
        artists.append(ax.plot(lv[sat], np.full(sat.sum(), 2.05), "x", color="#d62728", ms=8,
                               label="no dimension: saturated")[0])
    other = ~ok & ~sat
    if other.any():
        artists.append(ax.plot(lv[other], np.full(other.sum(), 2.05), "+", color="0.3", ms=9,
                               label="no dimension: no boundary, too few box sides or repeated starts")[0])
    low = min([0.8] + [float(v.min()) - 0.05 for v in shown if v.size])  # islands can bring d below 1
    ax.set_ylim(low, 2.15)
    ax.set_xlabel("zoom level (0: the slice as given)")
    ax.set_ylabel("box-counting dimension")
    tw = ax.twinx()
    key = "mixed_share_1" if "mixed_share_1" in zoom else "mixed_share_2"
    side = key[-1]
    artists.append(tw.plot(lv, zoom[key].values, "s:", color="#ff7f0e", ms=4,
                           label=f"mixed share, boxes of side {side}")[0])
    if f"shuffled_{key}" in zoom:
        artists.append(tw.plot(lv, zoom[f"shuffled_{key}"].values, "s", mfc="none", color="#ff7f0e", ms=5,
                               label=f"mixed share, side {side}, shuffled map")[0])
    tw.set_ylim(0, 1.02)
    tw.set_ylabel("mixed share", color="#ff7f0e")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = tw.get_legend_handles_labels()
    artists.append(ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left"))
    ax.set_xticks(lv, [f"{k}\nwidth {w:.0e}" for k, w in zip(lv, zoom["width"].values)], fontsize=7)
    return artists
