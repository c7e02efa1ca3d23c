"""Shared looks: class colours that stay the same across figures, new axes when none given."""
from __future__ import annotations

from matplotlib.figure import Figure

SUCCESS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#17becf", "#bcbd22", "#8c564b",
                  "#e377c2", "#393b79", "#637939", "#8c6d31", "#843c39")
FAILURE_COLORS = ("#7f7f7f", "#d62728", "#3b3b3b", "#f2a3a3", "#bdbdbd", "#8b0000", "#5e5e5e",
                  "#e8c0c0")
FIXED = {"pending": "#ffffff", "diverged": "#000000", "other": "#c5b0d5", "unsolved": "#969696"}  # not a failure's
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


def _is_failure(name, family):
    return family == "failure" or name.startswith("fail[") or name == "unsolved"


def _assign(names, families):
    out, s, f = {}, 0, 0
    for name, fam in zip(names, families):
        if name in FIXED:
            out[name] = FIXED[name]
        elif _is_failure(name, fam):
            out[name] = FAILURE_COLORS[f % len(FAILURE_COLORS)]
            f += 1
        else:
            out[name] = SUCCESS_COLORS[s % len(SUCCESS_COLORS)]
            s += 1
    return out, s, f


def class_colors(names, families=None, among=None, among_families=None) -> dict:
    """name -> colour for the classes ``names`` a figure shows: pending white, diverged
    black, other lilac, unsolved grey, failures in reds and greys, successes in a
    qualitative palette. With ``among`` (every class of the partition in code order, and
    ``among_families``) a class takes the colour of its place in that list, so every
    figure of one partition colours a class alike; where the partition has more successes
    or failures than its palette holds, that kind's places are those in ``names`` instead
    (distinct colours within the figure); the other kind keeps its places."""
    families = list(families) if families is not None else list(names)
    shown = _assign(names, families)[0]
    if among is None:
        return shown
    among = list(among)
    among_families = list(among_families) if among_families is not None else among
    full, s, f = _assign(among, among_families)
    kind = {n: _is_failure(n, fam) for n, fam in zip(among, among_families)}
    fits = {False: s <= len(SUCCESS_COLORS), True: f <= len(FAILURE_COLORS)}
    return {n: full[n] if n in full and (n in FIXED or fits[kind[n]]) else shown[n] for n in names}


def axes(ax, projection=None, figsize=(6.4, 4.4)):
    """``ax`` or, when None, the axes of a new Figure (not registered with pyplot)."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot(projection=projection)
