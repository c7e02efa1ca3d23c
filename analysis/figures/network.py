"""The blog author's figures of one network's training (his "#コード4-2 … 4-9"): accuracy
and loss per step; W1, b1, W2 as paths in the 3-D space of the hidden units (and as
three 2-D projections); b2 as a 2-D path. Input: a trajectory Dataset
(``analysis.trajectory.trajectory``)."""
from __future__ import annotations

import itertools

import numpy as np
from matplotlib.figure import Figure

from xorsweep.analysis.figures.style import axes as _axes

#: the polylines of each group: (label, selection) pairs
PATHS = {
    "W1": [("from x1: W1[0, :]", {"input": 0}), ("from x2: W1[1, :]", {"input": 1})],
    "b1": [("b1", {})],
    "W2": [("to class 0: W2[:, 0]", {"output": 0}), ("to class 1: W2[:, 1]", {"output": 1})],
}
LINE_COLORS = ("#1f77b4", "#d62728")
AXIS_NAMES = {"W1": "weight into hidden unit {}", "b1": "bias of hidden unit {}", "W2": "weight from hidden unit {}"}


ACC_COLOR, LOSS_COLOR = "#1f77b4", "#d62728"


def plot_accuracy_loss(traj, ax=None):
    """Accuracy (left axis) and loss (right axis; log scale when it spans more than a
    factor 30) per training step; each axis is coloured like its line."""
    ax = _axes(ax)
    step = traj["step"].values
    (acc,) = ax.plot(step, traj["accuracy"].values, color=ACC_COLOR, label="accuracy")
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy (share of the 4 inputs right)", color=ACC_COLOR)
    ax.tick_params(axis="y", colors=ACC_COLOR)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    right = ax.twinx()
    loss_values = traj["loss"].values
    (loss,) = right.plot(step, loss_values, color=LOSS_COLOR, label="loss")
    finite = loss_values[np.isfinite(loss_values) & (loss_values > 0)]
    if finite.size and finite.max() > 30 * finite.min():
        right.set_yscale("log")
    right.set_ylabel("loss (cross-entropy, nat)", color=LOSS_COLOR)
    right.tick_params(axis="y", colors=LOSS_COLOR)
    return [acc, loss]


def _unit_axes(traj, group):
    """The three hidden units drawn (the first three when H > 3)."""
    H = traj.sizes["hidden"]
    if H < 3:
        raise ValueError(f"3-D paths need at least 3 hidden units, the network has {H}")
    return [0, 1, 2]


def _path(traj, group, sel):
    return traj[group].isel(sel).transpose("step", "hidden").values


def plot_path_3d(traj, group, ax=None):
    """W1 (one path per input row), b1, or W2 (one path per output column) as polylines
    in the space of hidden units 1-3; a circle marks the start, a square the end."""
    ax = _axes(ax, projection="3d", figsize=(5.6, 5.0))
    units = _unit_axes(traj, group)
    artists = []
    for (label, sel), color in zip(PATHS[group], LINE_COLORS):
        p = _path(traj, group, sel)[:, units]
        (line,) = ax.plot(p[:, 0], p[:, 1], p[:, 2], color=color, lw=1.2, label=label)
        artists += [line, ax.scatter(*p[0], color=color, marker="o", s=18, depthshade=False),
                    ax.scatter(*p[-1], color=color, marker="s", s=18, depthshade=False)]
    for setter, u in zip((ax.set_xlabel, ax.set_ylabel, ax.set_zlabel), units):
        setter(AXIS_NAMES[group].format(u + 1), labelpad=2)
    ax.tick_params(labelsize=7, pad=0)
    ax.legend(loc="upper left", fontsize=8)
    return artists


def plot_path_projections(traj, group, axes=None):
    """The paths of ``plot_path_3d`` projected on the three planes of pairs of hidden
    units; ``axes`` is a sequence of three Axes."""
    if axes is None:
        fig = Figure(figsize=(10.5, 3.6), layout="constrained")
        axes = fig.subplots(1, 3)
    units = _unit_axes(traj, group)
    artists = []
    for ax, (i, j) in zip(axes, itertools.combinations(range(3), 2)):
        for (label, sel), color in zip(PATHS[group], LINE_COLORS):
            p = _path(traj, group, sel)[:, units]
            (line,) = ax.plot(p[:, i], p[:, j], color=color, lw=1.2, label=label)
            artists += [line, ax.plot(p[0, i], p[0, j], "o", color=color, ms=4)[0],
                        ax.plot(p[-1, i], p[-1, j], "s", color=color, ms=4)[0]]
        ax.set_xlabel(AXIS_NAMES[group].format(units[i] + 1))
        ax.set_ylabel(AXIS_NAMES[group].format(units[j] + 1))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return artists


def plot_b2_path(traj, ax=None):
    """b2 as a 2-D path: output bias of class 0 against class 1."""
    ax = _axes(ax, figsize=(4.8, 4.4))
    p = traj["b2"].transpose("step", "output").values
    (line,) = ax.plot(p[:, 0], p[:, 1], color=LINE_COLORS[0], lw=1.2, label="b2")
    start = ax.plot(p[0, 0], p[0, 1], "o", color=LINE_COLORS[0], ms=5, label="start")[0]
    end = ax.plot(p[-1, 0], p[-1, 1], "s", color=LINE_COLORS[0], ms=5, label=f"step {int(traj.step[-1])}")[0]
    ax.set_xlabel("b2[0] (class 0)")
    ax.set_ylabel("b2[1] (class 1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if np.ptp(p) == 0:
        ax.margins(0.5)
    return [line, start, end]
