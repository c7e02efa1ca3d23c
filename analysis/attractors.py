"""Attractor labels: which solution (or which failure) training landed in.

The output class depends only on d = a2[:,1] − a2[:,0] = z1 @ w + c with
w = W2[:,1] − W2[:,0] and c = b2[1] − b2[0]. For a network that solves XOR:

1. Each hidden unit's activations on the 4 rows, binarised at 0.5, name one of the 16
   two-input functions (``analysis.codes``).
2. Surplus units: in order of increasing influence |w_j|·(max z_j − min z_j), a unit
   is surplus when replacing its activations by their mean (together with the surplus
   units found so far) leaves all four decisions unchanged (mean ablation). A unit that
   barely varies or barely weighs is removed this way; no weight threshold is needed.
3. The output gate g: the informative units' bits b give d(b) = c' + Σ b_j w_j with the
   surplus units held at their means in c'; g(b) = [d(b) > 0] on *every* combination of
   bits. An informative unit with a constant code (FALSE, TRUE) is surplus too: its
   constant bit is fixed in g. Units g does not depend on are dropped.
4. The label ``g(u1,u2)`` is named if every activation of its arguments is at least
   ``SATURATION`` from 0.5 and g applied to their codes gives XOR on the four rows;
   otherwise the network is ``other``, and its nearest code is the binarisation of the
   informative units closest to their activations (L1) for which g gives XOR (searched
   for up to 3 informative units; none found: ``other``).
Labels are canonical under permutation of the hidden units: the smallest (gate index,
argument names) over the argument orders.

Failures come first: ``diverged``, then ``fail[p0,p1,p2,p3]`` (accuracy < 1, the
predicted classes); cells not yet trained are ``pending``.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from xorsweep.analysis import codes as C

#: an activation names a bit only if it is at least this far from 0.5. The blog author
#: reads Z1 rounded to one decimal: 0.4 reads as off (his 7-decimal unit 3, 0.379, is
#: "OR-like"), 0.5 names nothing (his 3-decimal case, 0.507 and 0.505: "free-form").
#: Rounding to one decimal gives 0.5 exactly for |z − 0.5| < 0.05. The published cases
#: are labelled the same for any value in (0.007, 0.11): 0.05 sits well inside.
SATURATION = 0.05
LABELS = np.array([0, 1, 1, 0], dtype=np.int8)
#: bit of row r in a unit code (see codes.ROW_WEIGHTS)
ROW_SHIFT = np.array([3, 1, 2, 0])
MAX_ARGS = 5  # gates of more informative units are not named (H = 3 gives at most 3)
PENDING, DIVERGED, OTHER = "pending", "diverged", "other"


@dataclass(frozen=True)
class Name:
    display: str  # e.g. "AND(NAND,OR)"
    cf: str  # CF flag_meanings word, e.g. "AND.NAND.OR"
    family: str  # e.g. "AND-like"


FIXED = {PENDING: Name(PENDING, PENDING, PENDING), DIVERGED: Name(DIVERGED, DIVERGED, "failure"),
         OTHER: Name(OTHER, OTHER, OTHER)}


def fail_name(pattern):
    p = [int(v) for v in pattern]
    return Name(f"fail[{','.join(map(str, p))}]", "fail_" + "".join(map(str, p)), "failure")


@dataclass(frozen=True)
class Classes:
    """Per-network results: ``label`` and ``nearest`` index ``names``; ``code`` (N, H) is
    each unit's function index (-1 when not trained); ``surplus`` (N, H)."""

    label: np.ndarray
    nearest: np.ndarray
    code: np.ndarray
    surplus: np.ndarray
    names: list

    def display(self, which="label"):
        return [self.names[i].display for i in getattr(self, which)]


def _surplus(z, w, c, predicted):
    """(N, H) surplus mask and (N,) constant folded into c by the surplus units."""
    N, _, H = z.shape
    mean = z.mean(axis=1)
    influence = np.abs(w) * (z.max(axis=1) - z.min(axis=1))
    d = np.einsum("nrh,nh->nr", z, w) + c[:, None]
    dev = w[:, None, :] * (z - mean[:, None, :])  # change of d when unit h is mean-ablated
    removed = np.zeros_like(d)
    surplus = np.zeros((N, H), dtype=bool)
    order = np.argsort(influence, axis=1, kind="stable")
    rows = np.arange(N)
    for t in range(H):
        j = order[:, t]
        trial = removed + dev[rows, :, j]
        keeps = np.all(((d - trial) > 0) == predicted, axis=1)
        surplus[rows, j] = keeps
        removed = np.where(keeps[:, None], trial, removed)
    return surplus, (np.where(surplus, w * mean, 0.0)).sum(axis=1)


def _reduce(codes, g):
    """Drop the arguments g does not depend on: (codes, g outputs)."""
    codes, g = list(codes), np.asarray(g, dtype=bool).ravel()
    while codes:
        k = len(codes)
        dep = C.depends_on(g, k)
        if all(dep):
            break
        i = dep.index(False)
        g = np.take(g.reshape((2,) * k), 0, axis=i).ravel()
        codes.pop(i)
    return codes, g


def consistent(codes, g):
    """Whether g applied to the units' codes gives XOR on the four rows."""
    k = len(codes)
    if k == 0:
        return False
    bits = (np.asarray(codes)[None, :] >> ROW_SHIFT[:, None]) & 1  # (4 rows, k)
    idx = (bits << np.arange(k - 1, -1, -1)).sum(axis=1)
    return bool(np.all(np.asarray(g)[idx] == LABELS.astype(bool)))


def name_gate(codes, g) -> Name:
    """Canonical name of the output gate g over units computing ``codes``."""
    k = len(codes)
    best = None
    for perm in itertools.permutations(range(k)):
        gp = C.permute_table(g, perm)
        key = (C.table_index(gp), tuple(C.UNIT_NAMES[codes[p]] for p in perm))
        if best is None or key < best[0]:
            best = (key, gp, [codes[p] for p in perm])
    _, gp, ordered = best
    gate = C.gate_name(gp, k)
    return Name(f"{gate}({','.join(C.UNIT_NAMES[c] for c in ordered)})",
                ".".join([gate] + [C.UNIT_CF_NAMES[c] for c in ordered]), f"{gate}-like")


def name_success(codes, g, saturated=None):
    """(Name or None, positions of the arguments kept) for informative units with
    ``codes`` read by gate outputs ``g``; None when the binarised network is not XOR or
    an argument is not saturated."""
    k = len(codes)
    g = np.asarray(g, dtype=bool).reshape((2,) * k)
    kept = list(range(k))
    for i in reversed(range(k)):
        if codes[i] in C.CONSTANT_CODES:  # a constant bit: fix it in g
            g = np.take(g, int(codes[i] == 15), axis=i)
            kept.pop(i)
    pos, g = _reduce(range(len(kept)), g)
    kept = [kept[p] for p in pos]
    kept_codes = [codes[i] for i in kept]
    if (saturated is None or all(saturated[i] for i in kept)) and consistent(kept_codes, g):
        return name_gate(kept_codes, g), kept
    return None, kept


@functools.lru_cache(maxsize=256)
def _xor_assignments(g_bits, k):
    """(A, 4, k) bit patterns of k units on the 4 rows for which the gate with outputs
    ``g_bits`` gives XOR and every unit computes a function a sigmoid unit can (not XOR
    nor XNOR)."""
    g = np.array(g_bits, dtype=bool)
    assign = C.combos(4 * k).reshape(-1, 4, k)
    idx = (assign.astype(np.int64) << np.arange(k - 1, -1, -1)).sum(axis=2)
    ok = np.all(g[idx] == LABELS.astype(bool), axis=1)
    unit = C.unit_code(np.moveaxis(assign, 1, 2))
    ok &= ~np.any((unit == 6) | (unit == 9), axis=1)
    return assign[ok]


def _nearest(z, g, k):
    """Per network: codes of the nearest (L1 in the activations) XOR-giving binarisation
    of its k informative units (z is (n, 4, k)), or None when there is none."""
    if 4 * k > 12:
        return [None] * len(z)
    assign = _xor_assignments(tuple(bool(v) for v in g), k)
    if len(assign) == 0:
        return [None] * len(z)
    flat = assign.reshape(len(assign), -1).astype(np.float64)
    zf = z.reshape(len(z), -1)
    cost = zf.sum(axis=1)[:, None] + (1 - 2 * zf) @ flat.T  # sum |z - b| for b in {0, 1}
    best = C.unit_code(np.moveaxis(assign[np.argmin(cost, axis=1)], 1, 2))  # (n, k)
    return [tuple(row) for row in best.tolist()]


class _Registry:
    def __init__(self):
        self.names, self.index = [], {}

    def __call__(self, name):
        if name.display not in self.index:
            self.index[name.display] = len(self.names)
            self.names.append(name)
        return self.index[name.display]


def _label_successes(cells, zs, code, w, c_fold, surplus, saturated, label, nearest, reg):
    """Name the networks ``cells`` that solve XOR, in groups of one informative-unit set."""
    other = reg(FIXED[OTHER])
    masks, inverse = np.unique(~surplus[cells], axis=0, return_inverse=True)
    for m, mask in enumerate(masks):
        grp = cells[inverse.ravel() == m]
        k, units = int(mask.sum()), np.flatnonzero(mask)
        if k == 0 or k > MAX_ARGS:
            label[grp] = nearest[grp] = other
            continue
        g = (C.combos(k).astype(np.float64) @ w[grp][:, mask].T + c_fold[grp]).T > 0  # (n, 2**k)
        gidx = g.astype(np.int64) @ (1 << np.arange(2**k - 1, -1, -1, dtype=np.int64))
        sig = np.column_stack([gidx, code[grp][:, mask], saturated[grp][:, mask]])
        usig, uinv = np.unique(sig, axis=0, return_inverse=True)
        uinv = uinv.ravel()
        for u, row in enumerate(usig):
            these = grp[uinv == u]
            gu = g[np.flatnonzero(uinv == u)[0]]
            name, kept = name_success(list(row[1:1 + k]), gu, list(row[1 + k:].astype(bool)))
            if name is not None:
                label[these] = nearest[these] = reg(name)
                surplus[np.ix_(these, np.delete(units, kept))] = True
                continue
            label[these] = other
            near = _nearest(zs[these][:, :, mask], gu, k)
            found = {c: name_success(list(c), gu)[0] for c in set(near) if c is not None}
            for i, codes in zip(these, near):
                nearest[i] = reg(found[codes]) if found.get(codes) is not None else other


def classify(z1, W2, b2, predicted, accuracy, diverged, done=None) -> Classes:
    """Attractor of N networks from z1 (N, 4, H), W2 (N, H, 2), b2 (N, 2), predicted
    (N, 4), accuracy (N,), diverged (N,) and done (N,) (default: all done)."""
    z = np.asarray(z1, dtype=np.float64)
    N, _, H = z.shape
    W2, b2 = np.asarray(W2, dtype=np.float64), np.asarray(b2, dtype=np.float64)
    predicted = np.asarray(predicted).astype(bool)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    done = np.ones(N, bool) if done is None else np.asarray(done, dtype=bool)
    bad = np.asarray(diverged, dtype=bool) | ~np.all(np.isfinite(z), axis=(1, 2)) \
        | ~np.all(np.isfinite(W2), axis=(1, 2)) | ~np.all(np.isfinite(b2), axis=1)
    pending = ~done | (~bad & ~np.isfinite(accuracy))
    bad &= ~pending
    success = ~pending & ~bad & (accuracy == 1.0)
    fails = ~pending & ~bad & ~success
    zs = np.where(np.isfinite(z), z, 0.5)
    w = np.nan_to_num(W2[:, :, 1] - W2[:, :, 0], nan=0.0, posinf=0.0, neginf=0.0)
    c = np.nan_to_num(b2[:, 1] - b2[:, 0], nan=0.0, posinf=0.0, neginf=0.0)
    code = np.where(pending[:, None], -1, C.unit_code(np.moveaxis(zs > 0.5, 1, 2))).astype(np.int8)
    surplus, fold = _surplus(zs, w, c, predicted)
    surplus &= ~pending[:, None]
    saturated = np.all(np.abs(zs - 0.5) >= SATURATION, axis=1)  # (N, H)

    reg = _Registry()
    label = np.zeros(N, dtype=np.int16)
    label[pending], label[bad] = reg(FIXED[PENDING]), reg(FIXED[DIVERGED])
    patterns, inv = np.unique(predicted[fails].astype(np.int8), axis=0, return_inverse=True)
    if len(patterns):
        label[fails] = np.array([reg(fail_name(p)) for p in patterns], dtype=np.int16)[inv.ravel()]
    reg(FIXED[OTHER])
    nearest = label.copy()
    _label_successes(np.flatnonzero(success), zs, code, w, c + fold, surplus, saturated, label, nearest, reg)
    return _by_frequency(Classes(label, nearest, code, surplus, reg.names))


def _by_frequency(cl: Classes) -> Classes:
    """Fixed classes and failures first, then other, then named attractors, most common first."""
    n = len(cl.names)
    count = np.bincount(cl.label, minlength=n) * (n + 1) + np.bincount(cl.nearest, minlength=n)
    fixed = [i for i, nm in enumerate(cl.names) if nm.family in (PENDING, "failure", OTHER)]
    rest = sorted((i for i in range(n) if i not in fixed), key=lambda i: (-count[i], cl.names[i].display))
    order = np.array(fixed + rest)
    new = np.empty(n, dtype=np.int16)
    new[order] = np.arange(n)
    return Classes(new[cl.label], new[cl.nearest], cl.code, cl.surplus, [cl.names[i] for i in order])


def classify_result(result) -> Classes:
    """Attractors of a ``kernels.TrainResult``."""
    return classify(result.z1, result.W2, result.b2, result.predicted, result.accuracy, result.diverged)
