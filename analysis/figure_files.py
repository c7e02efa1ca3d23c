"""Write every figure a store supports, as PNG and SVG (``xorsweep figures`` calls it).

- one network (``--cell dim=value``, default the first cell): accuracy and loss, the W1,
  b1, W2 paths in 3-D and in projections, the b2 path;
- a ``decimals`` axis: attractor shares and flip rate per rounding digit (over ``start``);
- an ``eps`` axis: f(ε) with the fitted uncertainty exponent (over ``start``, ``direction``);
- a 2-D slice (``a``, ``b``): the attractor map with basin entropies, the box-count plot,
  and with stored exponents the attractor map beside the Lyapunov exponent map;
- a zoomed slice (``zoom``): the statistics of every level against the level, and every
  level's map (small multiples sharing their class colours);
- with stored exponents the f(ε) figure also marks the floor estimated from them.
Sweep dims not summarised by a figure are taken at the ``--cell`` value or their first.
Each figure carries the store path and spec hash in a footer.
"""
from __future__ import annotations

import contextlib
import re
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import rc_context
from matplotlib.figure import Figure

from xorsweep.analysis import basins, labels, lyapunov, stats
from xorsweep.errors import UserError
from xorsweep.sweep.grid import unrounded
from xorsweep.analysis import trajectory as T
from xorsweep.analysis.figures import convergence as CV
from xorsweep.analysis.figures import lyapunov as LY
from xorsweep.analysis.figures import network as N
from xorsweep.analysis.figures import sweeps as S

def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()
#: deterministic files: the same store gives the same bytes
RC = {"svg.hashsalt": "xorsweep", "svg.fonttype": "path", "font.size": 9}
META = {"png": {"Software": None}, "svg": {"Date": None}}


class _Writer:
    def __init__(self, out, footer, formats):
        self.out, self.footer, self.formats, self.files = Path(out), footer, formats, []
        self.out.mkdir(parents=True, exist_ok=True)

    def new(self, figsize, projection=None, ncols=1):
        fig = Figure(figsize=figsize, layout="constrained")
        fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
        fig.text(0.005, 0.008, self.footer, fontsize=6, color="0.45", ha="left", va="bottom")
        if ncols > 1:
            return fig, fig.subplots(1, ncols)
        return fig, fig.add_subplot(projection=projection)

    def save(self, fig, name):
        """Each file is written under a temporary, unpredictable name, then renamed: a
        killed run leaves no cut figure under its final name."""
        import os
        import tempfile

        for fmt in self.formats:
            path = self.out / f"{name}.{fmt}"
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".{fmt}.tmp", dir=self.out)
            try:
                with os.fdopen(fd, "wb") as f:
                    fig.savefig(f, format=fmt, dpi=100, metadata=META.get(fmt))
                os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a figure is as readable as any file
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            self.files.append(path)


def _tag(cell_ds):
    """File-name stem of one network: 'network-decimals=7', 'network-start=3-unrounded', …"""
    parts = []
    for name in T.cell_coords(cell_ds):
        v = cell_ds[name].values.item()  # a zoomed slice's a and b are lazy 2-D coords
        if name == "decimals" and unrounded([v])[0]:
            parts.append("unrounded")
        else:
            parts.append(f"{name}={v:g}" if isinstance(v, float) else f"{name}={v}")
    return "-".join(["network"] + parts)


def network_figures(w, ds, cell):
    one = T.select(ds, cell)
    if "done" in one and not bool(one["done"]):
        return [f"network figures: the cell ({T.describe(one)}) is not trained yet"]
    traj = T.trajectory(one)
    label = labels.decode(one["attractor"]).item()
    nearest = labels.decode(one["attractor_nearest"]).item()
    if nearest != label:
        label += f" (nearest {nearest})"
    what = T.describe(one) or "the network"
    tag = _tag(one)
    src = "stored trajectory" if traj.attrs["source"].startswith("stored") else "re-trained from the stored start"
    fig, ax = w.new((6.4, 4.0))
    N.plot_accuracy_loss(traj, ax=ax)
    ax.set_title(f"accuracy and loss per step: {what} → {label}", fontsize=9)
    w.save(fig, f"{tag}-accuracy-loss")
    notes = []
    if traj.sizes["hidden"] < 3:
        notes.append("3-D paths: the network has fewer than 3 hidden units")
    else:
        for group in ("W1", "b1", "W2"):
            fig, ax = w.new((6.0, 5.2), projection="3d")
            N.plot_path_3d(traj, group, ax=ax)
            ax.set_title(f"{group} during training ({src})\n{what} → {label}; ○ start, □ end", fontsize=9)
            w.save(fig, f"{tag}-{group}-path-3d")
            fig, axes = w.new((10.5, 3.8), ncols=3)
            N.plot_path_projections(traj, group, axes=axes)
            fig.suptitle(f"{group} during training, projected on pairs of hidden units: {what} → {label}; "
                         "○ start, □ end", fontsize=9)
            w.save(fig, f"{tag}-{group}-path-projections")
    fig, ax = w.new((4.8, 4.6))
    N.plot_b2_path(traj, ax=ax)
    ax.set_title(f"b2 during training\n{what} → {label}", fontsize=9)
    w.save(fig, f"{tag}-b2-path")
    return notes


def rounding_figures(w, ds, cell):
    sub = T.select(ds, cell, keep=("decimals", "start"))
    att = stats.partition(sub)
    over = [d for d in ("start",) if d in att.dims]
    fixed = T.describe(sub)
    what = _partition_words(att)
    shares = stats.attractor_shares(att, over=over)
    shares.attrs["partition"] = str(att.name)
    fig, ax = w.new((9.6, 4.4))
    S.plot_attractor_shares(shares, ax=ax)
    ax.set_title(f"where training lands ({what}), per rounding digit of the start"
                 + (f"\n{fixed}" if fixed else "") + _used(sub), fontsize=9, loc="left")
    w.save(fig, "attractor-share-by-decimals")
    if unrounded(att["decimals"].values).any() and att.sizes["decimals"] > 1:
        fig, ax = w.new((7.0, 3.8))
        S.plot_flip_rate(stats.flip_rate(att, over=over), ax=ax)
        ax.set_title(f"how often rounding changes the {att.name}" + (f" ({fixed})" if fixed else "")
                     + _used(sub), fontsize=9)
        w.save(fig, "flip-rate-by-decimals")
    return []


def _slice_labels(ds, att):
    import json

    sl = json.loads(ds.attrs["spec"]).get("axes", {}).get("slice", {}) if "spec" in ds.attrs else {}
    for dim, key in (("a", "u"), ("b", "v")):
        src = sl.get(key)
        what = src if isinstance(src, str) else (f"random direction (seed {src['seed']})" if src else key)
        att[dim].attrs["long_name"] = f"{dim}: start + {dim}·{key}, {key} = {what}"
    return att


def slice_figures(w, ds, cell):
    sub = T.select(ds, cell, keep=("a", "b"))
    att = _slice_labels(ds, basins.attractor_map(stats.partition(sub)).copy())
    fixed = T.describe(sub)
    done = sub["done"] if "done" in sub else None
    marked = basins.mark_pending(att, done)
    ent, ctrl = basins.basin_entropy(marked), basins.basin_entropy(basins.shuffled(marked))
    fig, ax = w.new((10.5, 5.6))
    S.plot_attractor_map(att, ax=ax, done=done)
    sbb = float(ent["Sbb"])
    # the ln 2 criterion beside its control: the same map shuffled (no geometry) gets a value too
    ax.set_title(f"{_partition_words(att)} of each start in the slice{f' ({fixed})' if fixed else ''}"
                 f"{_used(sub)}\n"
                 f"basin entropy Sb = {float(ent['Sb']):.3f}, boundary basin entropy Sbb = "
                 f"{sbb:.3f} nat ({'>' if sbb > np.log(2) else '≤'} ln 2; the same map shuffled: "
                 f"{float(ctrl['Sbb']):.3f}; boxes of {ent.attrs['box']}×{ent.attrs['box']} cells)", fontsize=9,
                 loc="left")
    w.save(fig, "slice-attractor-map")
    if "lyapunov" in sub:
        fig, axes = w.new((17.0, 5.6), ncols=2)
        S.plot_attractor_map(att, ax=axes[0], done=sub["done"] if "done" in sub else None)
        lam = lyapunov.lyapunov_map(sub).transpose(*att.dims)
        for d in att.dims:
            lam[d].attrs.update(att[d].attrs)
        LY.plot_lyapunov_map(lam, ax=axes[1])
        axes[0].set_title(f"{_partition_words(att)}{f' ({fixed})' if fixed else ''}{_used(sub)}", fontsize=9,
                          loc="left")
        v = lam.values[np.isfinite(lam.values)]
        axes[1].set_title("finite-time Lyapunov exponent" + (f": median {np.median(v):.3f}, 10–90 % "
                          f"{np.percentile(v, 10):.3f} … {np.percentile(v, 90):.3f} per step" if v.size else ""),
                          fontsize=9, loc="left")
        w.save(fig, "slice-lyapunov-map")
    counts = basins.box_counts(marked)
    if len(counts["box"]) >= 2:
        dim = basins.box_dimension(counts)
        clean, n_islands = basins.without_islands(marked)
        islands = None
        if n_islands and np.isfinite(float(dim["dimension"])):  # as the report: only where the map has a d
            c2 = basins.box_counts(clean)
            islands = (c2, basins.box_dimension(c2), n_islands)
        fig, ax = w.new((6.4, 4.4))
        S.plot_box_count(counts, dim, ax=ax, control=basins.box_counts(basins.shuffled(marked)),
                         without_islands=islands)
        ax.set_title(f"box counting of the basin boundary ({att.sizes['a']}×{att.sizes['b']} slice)"
                     + ("\n" + textwrap.fill(f"no dimension: {dim.attrs['reason']}", 78) if dim.attrs["reason"]
                        else ""), fontsize=9,
                     loc="left")
        w.save(fig, "slice-box-count")
        return []
    return ["box count: the slice is too small"]


def zoom_figures(w, ds, cell):
    """A zoomed slice: its statistics against the zoom level, and the map of every level
    (small multiples sharing their class colours)."""
    from xorsweep.analysis.figures.style import keep_common
    from xorsweep.analysis.report import zoom_levels

    part = stats.partition(ds)
    maps, dones, distinct, fixed = zoom_levels(ds, part, cell)
    z = basins.zoom_sequence(maps, dones, distinct=distinct)
    what = _partition_words(part)
    fixed = ", ".join(f"{k} {v}" for k, v in fixed.items())
    fig, ax = w.new((7.2, 4.6))
    S.plot_zoom_sequence(z, ax=ax)
    ax.set_title(f"the slice's boundary level by level ({what}{f'; {fixed}' if fixed else ''}{_used(ds)})",
                 fontsize=9, loc="left")
    w.save(fig, "zoom-sequence")
    maps = [basins.mark_pending(m, d) for m, d in zip(maps, dones or [None] * len(maps))]
    names = labels.display_names(part)
    counts = [sum(int((m.values == v).sum()) for m in maps) for v in part.attrs["flag_values"]]
    shown = keep_common(names, counts)
    n = len(maps)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, ax = w.new((3.6 * cols + 2.6, 3.3 * rows + 0.4))
    ax.remove()
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for k, (m, ax) in enumerate(zip(maps, axes)):
        att = basins.attractor_map(m)
        artists = S.plot_attractor_map(att, ax=ax, legend=k == n - 1, shown=shown)
        if k == n - 1:  # one legend for all panels (they share their colours), shares left out
            leg = artists[-1]
            handles, names = leg.legend_handles, [re.sub(r" \([\d.]+%\)$", "", t.get_text()) for t in leg.get_texts()]
            leg.remove()
            where = axes[n] if len(axes) > n else fig
            kw = {"loc": "center"} if len(axes) > n else {"loc": "outside right upper"}
            where.legend(handles, names, fontsize=7, title=f"{part.name} (all levels)", title_fontsize=7,
                         frameon=False, **kw)
        r = z.isel(level=k)
        dim = "no d" if not np.isfinite(float(r["dimension"])) else f"d = {float(r['dimension']):.2f}"
        ax.set_title(f"level {k}: width {float(r['width']):.1e}, {dim}, mixed {float(r['mixed_share_1']):.2f}",
                     fontsize=8)
        ax.tick_params(labelsize=6)
        ax.xaxis.get_offset_text().set_fontsize(6)
        ax.yaxis.get_offset_text().set_fontsize(6)
        ax.set_xlabel("a", fontsize=7)
        ax.set_ylabel("b", fontsize=7)
    for ax in axes[n:]:
        ax.set_axis_off()
    att = part["zoom"].attrs
    fig.suptitle(f"the class of each start ({what}), zoom level by level: each level {att.get('factor', 0):g} times "
                 f"narrower, towards (a, b) = ({att.get('center_a', 0):g}, {att.get('center_b', 0):g}){_used(ds)}",
                 fontsize=9)
    w.save(fig, "zoom-maps")
    return []


def convergence_figures(w, ds, cell, dims):
    """Convergence-time figures of a store with the kernels' ``solved_step`` (Kolen &
    Pollack 1990): per rounding digit or ε, and over a slice."""
    for dim, keep in (("decimals", ("decimals", "start")), ("eps", ("eps", "start", "direction"))):
        if dim in dims and ds.sizes[dim] > 1:
            sub = T.select(ds, cell, keep=keep)
            fig, ax = w.new((10.5, 4.6))
            CV.plot_solved_step_by(sub, dim, ax=ax)
            w.save(fig, f"solved-step-by-{dim}")
    if "a" in dims and "b" in dims and min(ds.sizes["a"], ds.sizes["b"]) > 1:
        fig, ax = w.new((6.4, 5.2))
        CV.plot_solved_step_map(T.select(ds, cell, keep=("a", "b")), "a", "b", ax=ax)
        w.save(fig, "slice-solved-step-map")
    return []


def write_figures(store, out, cell=None, formats=("png", "svg"), eps_range=None):
    """Write every figure the store at ``store`` supports into ``out``; returns
    (files written, notes on figures left out). ``cell`` is a list of 'dim=value';
    ``eps_range`` (low, high) limits the ε fitted for the uncertainty exponent (e.g. to
    leave out the plateau where roundoff alone changes the attractor)."""
    from xorsweep.sweep import store as stores

    stores.stored_spec(store)  # a clear error for anything that is not a sound sweep store
    outer = stores.enclosing_store(out)
    if outer is not None:
        raise UserError(f"--out {out}: inside the store {outer}; figures there would change that store's folder "
                        "(choose a folder outside it)")
    ds = stores.open_dataset(store)
    if "z1" not in ds or "done" not in ds:
        raise UserError(f"store {store} is not an xorsweep store (no z1/done variables)")
    ds = labels.with_attractors(ds)
    sel = T.parse_cell(ds, cell)
    w = _Writer(out, f"{store} · spec {ds.attrs.get('spec_hash', '?')}", formats)
    notes = []
    done_share = float(ds["done"].mean())
    if done_share < 1:
        notes.append(f"partial store: {100 * done_share:.1f}% of the cells are done; figures use those only")
    dims = labels.sweep_dims(ds)
    with rc_context(RC):
        notes += network_figures(w, ds, sel)
        if "decimals" in dims and ds.sizes["decimals"] > 1:
            notes += rounding_figures(w, ds, sel)
        if "eps" in dims and ds.sizes["eps"] > 2:
            notes += uncertainty_figures(w, ds, sel, eps_range)
        if "a" in dims and "b" in dims and min(ds.sizes["a"], ds.sizes["b"]) > 1:
            notes += slice_figures(w, ds, sel)
            notes += box_count_control_figures(w, ds, sel)
        if "zoom" in dims:
            notes += zoom_figures(w, ds, sel)
        if "solved_step" in ds:
            notes += convergence_figures(w, ds, sel, dims)
    return w.files, notes


def _partition_words(part):
    """'solution, 7 classes': the partition a figure shows and how many classes it holds."""
    names = labels.display_names(part) if "flag_values" in part.attrs else []
    lookup = dict(zip(part.attrs.get("flag_values", []), names))
    present = {lookup.get(int(v), str(v)) for v in np.unique(part.values)} - {"pending"}
    return f"{part.name}, {len(present)} classes"


def _used(ds):
    share = float(ds["done"].mean()) if "done" in ds else 1.0
    return "" if share == 1 else f"; PARTIAL: {100 * share:.1f}% of cells done"


def uncertainty_figures(w, ds, cell, fit_range=None):
    """f(ε) against the realised distance from the ε = 0 start and its local slopes;
    ``fit_range`` filters on that distance, the coordinate α is fitted on."""
    unc = stats.uncertainty(ds, cell=cell, fit_range=fit_range)
    lyap = lyapunov.summary(ds, unc["fixed"])
    if lyap is not None:
        unc.update(floor_from_lyapunov=lyap["floor"], floor_from_lyapunov_band=[lyap["floor_low"], lyap["floor_high"]])
    fig, axes = w.new((12.0, 4.6), ncols=2)
    LY.mark_estimated_floor(unc, axes[0])
    S.plot_f_distance(unc, ax=axes[0])
    S.plot_local_slopes(unc, ax=axes[1])
    fig.suptitle(f"f(ε) against the realised distance ({unc['partition']['name']}, {unc['partition']['classes']} "
                 f"classes; {unc['inert']} inert cells left out{_used(ds)})", fontsize=9)
    w.save(fig, "uncertainty-f-distance")
    return [] if unc["alpha"] is not None else [f"f(ε): no α ({unc.get('reason')})"]


def box_count_control_figures(w, ds, cell):
    """Box counts of the slice beside its shuffled control, with mixed shares."""
    sub = T.select(ds, cell, keep=("a", "b"))
    part = stats.partition(sub)
    rep = basins.box_count_report(part.transpose("a", "b"), sub["done"].transpose("a", "b") if "done" in sub else None,
                                  n_balls=200)
    fig, ax = w.new((6.8, 4.6))
    S.plot_box_count_controls(rep, ax=ax)
    p = rep["partition"]
    ax.set_title(f"box counting with its shuffled control ({p['name']}, {p['classes']} classes{_used(ds)})",
                 fontsize=9)
    w.save(fig, "slice-box-count-controls")
    return []
