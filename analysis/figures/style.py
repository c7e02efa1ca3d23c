"""Shared looks: class colours that stay the same across figures, new axes when none given."""
from __future__ import annotations

from matplotlib.figure import Figure

SUCCESS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#17becf", "#bcbd22", "#8c564b",
                  "#e377c2", "#393b79", "#637939", "#8c6d31", "#843c39")
FAILURE_COLORS = ("#7f7f7f", "#d62728", "#3b3b3b", "#f2a3a3", "#bdbdbd", "#8b0000", "#5e5e5e",
                  "#e8c0c0")
FIXED = {"pending": "#ffffff", "diverged": "#000000", "other": "#c5b0d5"}
RARE_COLOR = "#e8e3d3"
MAX_CLASSES = 12  # more colours than this are not told apart; the rarest are merged


def keep_common(names, counts, k=MAX_CLASSES):
    """The names shown on their own: all of them if at most k, else the k − 1 most
    common (in the given order); the rest are merged into one 'rarer' class."""
    counts = list(counts)
    if sum(c > 0 for c in counts) <= k:
        return [n for n, c in zip(names, counts) if c > 0]
    top = sorted(range(len(names)), key=lambda i: -counts[i])[:k - 1]
    return [names[i] for i in sorted(top) if counts[i] > 0]


def rare_label(n_classes):
    return f"{n_classes} rarer classes"


def class_colors(names, families=None) -> dict:
    """name -> colour: successes in a qualitative palette, failures in reds and greys."""
    families = families or ["failure" if n.startswith("fail") else n for n in names]
    out, s, f = {}, 0, 0
    for name, fam in zip(names, families):
        if name in FIXED:
            out[name] = FIXED[name]
        elif fam == "failure":
            out[name] = FAILURE_COLORS[f % len(FAILURE_COLORS)]
            f += 1
        else:
            out[name] = SUCCESS_COLORS[s % len(SUCCESS_COLORS)]
            s += 1
    return out


def axes(ax, projection=None, figsize=(6.4, 4.4)):
    """``ax`` or, when None, the axes of a new Figure (not registered with pyplot)."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot(projection=projection)
