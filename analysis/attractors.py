"""Attractor labels for analysis: the classifier lives in ``xorsweep.kernels.outcomes``
(shared with the sweep engine, class codes fixed per H); this module keeps the analysis
view of it: per-dataset classes numbered by frequency, each with a family, and the
nearest named label of networks labelled ``other``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xorsweep.kernels import outcomes as O
from xorsweep.kernels.outcomes import DIVERGED, OTHER, PENDING, SATURATION, Name  # noqa: F401 (re-exported)

from xorsweep.kernels.vocab import LABELS  # noqa: E402,F401 (re-exported)


@dataclass(frozen=True)
class Classes:
    """Per-network results: ``label`` and ``nearest`` index ``names``; ``code`` (N, H) is
    each unit's function index (-1 when not trained); ``surplus`` (N, H) marks the units
    of a named label that are not among its arguments; ``marginal`` (N,) named labels
    read from an activation within ``SATURATION`` of 0.5."""

    label: np.ndarray
    nearest: np.ndarray
    code: np.ndarray
    surplus: np.ndarray
    names: list
    marginal: np.ndarray | None = None

    def display(self, which="label"):
        return [self.names[i].display for i in getattr(self, which)]


def _family(name: Name) -> str:
    if name.family in (PENDING, "failure", OTHER):
        return name.family
    return name.display.split("(", 1)[0] + "-like"


def classify(z1, W2, b2, predicted, accuracy, diverged, done=None) -> Classes:
    """Attractor of N networks from z1 (N, 4, H), W2 (N, H, 2), b2 (N, 2), predicted
    (N, 4), accuracy (N,), diverged (N,) and done (N,) (default: all done). W2 and b2
    only mark networks with non-finite output weights as diverged: the label depends on
    the hidden codes and decisions alone (``kernels.outcomes``)."""
    z = np.asarray(z1, dtype=np.float64)
    N, _, H = z.shape
    W2, b2 = np.asarray(W2, dtype=np.float64), np.asarray(b2, dtype=np.float64)
    done = np.ones(N, bool) if done is None else np.asarray(done, dtype=bool)
    bad = np.asarray(diverged, dtype=bool) | ~np.all(np.isfinite(W2), axis=(1, 2)) \
        | ~np.all(np.isfinite(b2), axis=1)
    done = done & (bad | np.isfinite(np.asarray(accuracy, dtype=np.float64)))
    c = O.classify(z, np.nan_to_num(np.asarray(predicted, dtype=np.float64)), bad, done=done)
    table = O.label_table(H)
    nearest = O.nearest_label(z, c["label"], H)
    named = c["label"] > O.LABEL_OTHER
    surplus = ~c["informative"] & named[:, None]
    # pending, diverged and other always have a class (pending first: code 0), as stores expect
    present = np.unique(np.concatenate([[0, 1, O.LABEL_OTHER], c["label"], nearest]))
    remap = np.zeros(len(table), np.int16)
    remap[present] = np.arange(len(present))
    names = [Name(table[i].display, table[i].cf, _family(table[i])) for i in present]
    cl = Classes(remap[c["label"]], remap[nearest], c["hidden_code"], surplus, names, c["marginal"])
    return _by_frequency(cl)


def _by_frequency(cl: Classes) -> Classes:
    """Fixed classes and failures first, then other, then named attractors, most common first."""
    n = len(cl.names)
    count = np.bincount(cl.label, minlength=n) * (n + 1) + np.bincount(cl.nearest, minlength=n)
    fixed = [i for i, nm in enumerate(cl.names) if nm.family in (PENDING, "failure", OTHER)]
    rest = sorted((i for i in range(n) if i not in fixed), key=lambda i: (-count[i], cl.names[i].display))
    order = np.array(fixed + rest, dtype=np.int64)
    new = np.empty(n, dtype=np.int16)
    new[order] = np.arange(n)
    return Classes(new[cl.label], new[cl.nearest], cl.code, cl.surplus, [cl.names[i] for i in order], cl.marginal)


def classify_result(result) -> Classes:
    """Attractors of a ``kernels.TrainResult``."""
    return classify(result.z1, result.W2, result.b2, result.predicted, result.accuracy, result.diverged)
