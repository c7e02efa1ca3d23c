"""Convergence-time figures (Kolen & Pollack 1990): the step from which a network is
solved, over a 2-D slice and per rounding digit or ε."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from xorsweep.analysis.convergence import solved_steps
from xorsweep.analysis.labels import display_names
from xorsweep.sweep.grid import decimals_label
from xorsweep.analysis.figures.style import SUCCESS_COLORS, class_colors
from xorsweep.analysis.figures.style import axes as _axes

UNSOLVED_COLOR = "#d9d9d9"


def _two_d(da, a, b, sel):
    """da reduced to dims (b, a): ``sel`` picks other dims by position (default 0)."""
    extra = {d: sel.get(d, 0) for d in da.dims if d not in (a, b)}
    return da.isel(extra).transpose(b, a)


def _classes(ds, partition):
    """{code: name} and {code: family} of the partition's classes (code order), or None:
    from the class variable's flag attributes, else the store's ``{partition}_names``."""
    if partition in ds and "flag_values" in ds[partition].attrs and (
            "flag_meanings" in ds[partition].attrs or "flag_display_names" in ds[partition].attrs):
        att = ds[partition]
        codes = [int(v) for v in att.attrs["flag_values"]]
        names = display_names(att)
        families = att.attrs.get("flag_families", names)
        return dict(zip(codes, names)), dict(zip(codes, families))
    key = f"{partition}_names"
    if key not in ds:
        return None, None
    names = [str(v) for v in ds[key].values]
    return dict(enumerate(names)), dict(enumerate(names))


def plot_solved_step_map(ds, a="a", b="b", ax=None, partition="solution", boundaries=False, **sel):
    """``solved_step`` over the slice a × b (other dims picked by position in ``sel``),
    unsolved cells grey; the title gives the number of ``partition`` classes in the
    slice, and with ``boundaries`` their boundaries are drawn as contours (readable on
    coarse or zoomed slices only). Returns [mesh, colorbar, legend]."""
    ax = _axes(ax, figsize=(6.4, 5.2))
    steps = _two_d(solved_steps(ds), a, b, sel)
    x, y = ds[a].values, ds[b].values
    ax.set_facecolor(UNSOLVED_COLOR)
    mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(steps.values), cmap="viridis", shading="nearest")
    cbar = ax.figure.colorbar(mesh, ax=ax, label="solved from step")
    handles = [Patch(facecolor=UNSOLVED_COLOR, label=f"not solved ({int(steps.isnull().sum())} cells)")]
    n_classes = None
    if partition in ds:
        cls = _two_d(ds[partition], a, b, sel).values
        present = np.unique(cls)
        n_classes = int(present.size)
        if boundaries and n_classes > 1:
            # one contour level between consecutive present codes marks every class boundary
            index = np.searchsorted(present, cls).astype(float)
            ax.contour(x, y, index, levels=np.arange(n_classes - 1) + 0.5, colors="white", linewidths=0.6)
            handles.append(Line2D([], [], color="white", lw=0.6, label=f"{partition} boundaries"))
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    title = "convergence time (Kolen & Pollack 1990)"
    if n_classes is not None:
        title += f"\n{partition}: {n_classes} classes"
    ax.set_title(title, fontsize=10)
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.12), fontsize=8, frameon=False)
    return [mesh, cbar, leg]


def _tick_labels(dim, values):
    if dim == "decimals":
        return [decimals_label(v) for v in values]
    return [f"{v:.3g}" if isinstance(v, (float, np.floating)) else str(v) for v in values]


def plot_solved_step_by(ds, dim, ax=None, partition="solution"):
    """Distribution of ``solved_step`` per value of ``dim`` (a rounding digit, ε, ...):
    solved cells as points coloured by their ``partition`` class (when stored), the
    median as a black bar, the share solved above each column. Returns the artists."""
    ax = _axes(ax, figsize=(10.5, 4.4))
    steps = solved_steps(ds)
    pooled = [d for d in steps.dims if d != dim]
    vals = steps.transpose(dim, *pooled).values.reshape(steps.sizes[dim], -1)
    cls = ds[partition].transpose(dim, *pooled).values.reshape(vals.shape) if partition in ds else np.zeros(
        vals.shape, int)
    name_of, family_of = _classes(ds, partition)
    # the ε = 0 cells of one start are the same network in every direction: counted once
    counted = np.ones(vals.shape, bool)
    if dim == "eps" and "direction" in pooled and dim in ds.coords:
        first = (np.arange(ds.sizes["direction"]) == 0)
        shape = [steps.sizes[d] for d in pooled]
        once = np.broadcast_to(first.reshape([-1 if d == "direction" else 1 for d in pooled]), shape).reshape(-1)
        for i in np.flatnonzero(ds[dim].values == 0):
            counted[i] = once
    n_col = counted.sum(axis=1)
    rng = np.random.default_rng(0)  # jitter only: a fixed seed keeps the figure reproducible
    artists = []
    solved_codes = np.unique(cls[np.isfinite(vals) & counted])
    colors = {}
    if name_of:
        shown = [name_of.get(int(c), f"class {c}") for c in solved_codes]
        colors = class_colors(shown, [family_of.get(int(c), "") for c in solved_codes], list(name_of.values()),
                              list(family_of.values()))
    for code in solved_codes:
        col, row = np.nonzero((cls == code) & np.isfinite(vals) & counted)
        name = name_of.get(int(code), f"class {code}") if name_of else (f"class {code}" if partition in ds
                                                                          else "solved")
        # the colour of the class's place among the partition's classes, as in every figure
        color = colors.get(name, SUCCESS_COLORS[int(code) % len(SUCCESS_COLORS)])
        size = 6 if vals.shape[1] > 50 else 28  # few networks per column: points big enough to see
        # jitter spreads a column's points; one network per column stays on its column
        spread = 0.3 if n_col.max() > 1 else 0.0
        artists.append(ax.scatter(col + rng.uniform(-spread, spread, col.size), vals[col, row], s=size, color=color,
                                  alpha=0.6 if size == 6 else 0.9, lw=0,
                                  label=f"{name} ({col.size} in all columns)", zorder=3))
    for i in range(vals.shape[0]):
        v = vals[i][np.isfinite(vals[i]) & counted[i]]
        if v.size:
            artists.append(ax.hlines(np.median(v), i - 0.4, i + 0.4, color="black", lw=1.5))
        crowded = vals.shape[0] > 10
        ax.annotate(f"{v.size / max(n_col[i], 1):.0%}", (i, 1.0), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=6 if crowded else 7, rotation=90 if crowded else 0)
    ax.set_xticks(np.arange(vals.shape[0]), _tick_labels(dim, ds[dim].values if dim in ds.coords
                                                         else range(vals.shape[0])),
                  fontsize=7 if vals.shape[0] > 12 else None, rotation=90 if vals.shape[0] > 12 and dim != "decimals" else 0)
    ax.set_xlabel("decimals the start was rounded to (none: unrounded)" if dim == "decimals" else dim)
    ax.set_ylabel("solved from step")
    per = f"n = {n_col.max():,} per column" if n_col.min() == n_col.max() else \
        f"n = {n_col.min():,} to {n_col.max():,} per column" + (" (ε = 0: one per start)" if dim == "eps" else "")
    ax.set_title(f"convergence time by {dim}, share solved on top; {per}", fontsize=9, pad=22, loc="left")
    if artists and solved_codes.size:
        label = f"{partition} ({solved_codes.size} classes)" if partition in ds else None
        artists.append(ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title=label,
                                 title_fontsize=8, frameon=False, markerscale=2))
    return artists
