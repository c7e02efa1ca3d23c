"""Where training landed, in three partitions with fixed class tables (pure numpy).

Shared by the sweep engine (one call per block: ``classify`` then ``variables``) and by
analysis; it never trains.

**outcome** (``OUTCOMES``): ``pending`` (cell not trained), ``solved`` (decisions
[0, 1, 1, 0]), ``diverged``, or ``fail[p0,p1,p2,p3]`` with the predicted classes. Whether
training was still changing near the end is the separate boolean ``unsettled``:
``settled_step > steps - window`` (``window`` defaults to ``default_window(steps)``, 10 %
of the steps), so ``outcome`` keeps few classes and any outcome can be unsettled.

**solution** (``solution_table(H)``), for solved networks: the informative hidden
features up to complement z <-> 1 - z and permutation of the hidden units. A unit's
feature is its hidden code (activations > 0.5 on the four rows, ``kernels.codes``); up to
complement there are 6 non-constant features a sigmoid unit can compute: AND|NAND,
OR|NOR, x1∧¬x2|x1→x2, ¬x1∧x2|x2→x1, x1|¬x1, x2|¬x2. A set of features is *sufficient*
when a threshold unit reading their bits can give XOR on the four rows (the bits tell
the rows of different labels apart and some linear threshold of the bits gives the
labels). The informative set of a network is the inclusion-minimal sufficient subset of
its units' features; when several exist, the first in the table order (by size, then
by feature order) is taken, so the choice depends on the hidden codes only: no weight,
no order of influence. No sufficient subset: ``other`` (the network relies on graded
activations). Failures and diverged networks: ``unsolved``. With ``fold_swap`` the
input swap x1 <-> x2 is folded too (x1∧¬x2 <-> ¬x1∧x2, x1 <-> x2).

**label** (``label_table(H)``): the full name, a gate over the informative units' own
functions, e.g. ``AND(NAND,OR)``; the fixed classes ``pending``, ``diverged``,
``fail[...]`` and ``other`` first. Among the sufficient subsets of the same feature set
(e.g. NAND and AND units both present) the one with the smallest canonical name is
taken. The gate is named from the reachable bit patterns only: among the threshold
gates that agree there, the one with the smallest truth-table index, over the argument
orders (ties: the argument names). ``marginal`` flags a label one of whose argument
units has an activation within ``margin`` (``SATURATION``) of 0.5 on some row: the bit
is read, but barely; the label itself is not changed by it.

Class codes are positions in tables that depend only on H (and ``fold_swap``), never on
the data, so independently written blocks agree; 0 is always ``pending`` (the fill value
of a fresh store).
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from xorsweep.kernels import codes as C
from xorsweep.kernels.vocab import LABELS

#: an activation within this of 0.5 reads its bit only "marginally" (flag ``marginal``)
SATURATION = 0.05
#: default share of the steps at the end within which a change of state means "unsettled"
WINDOW_SHARE = 0.1
MAX_FEATURES = 4  # every minimal sufficient feature set has at most 4 features (see _minimal_sets)
PENDING, DIVERGED, OTHER, UNSOLVED, SOLVED = "pending", "diverged", "other", "unsolved", "solved"
#: bit of row r in a unit code (see codes.ROW_WEIGHTS)
ROW_SHIFT = np.array([3, 1, 2, 0])
#: features up to complement, as (code, complement code), and how they are spelt
FEATURES = ((1, 14), (7, 8), (2, 13), (4, 11), (3, 12), (5, 10))
FEATURE_NAMES = ("AND|NAND", "OR|NOR", "x1∧¬x2|x1→x2", "¬x1∧x2|x2→x1", "x1|¬x1", "x2|¬x2")
FEATURE_CF = ("AND", "OR", "x1_andnot_x2", "x2_andnot_x1", "x1", "x2")
FEATURE_OF = np.full(16, -1, np.int64)
for _f, _pair in enumerate(FEATURES):
    FEATURE_OF[list(_pair)] = _f
FAIL_PATTERNS = tuple(p for p in itertools.product((0, 1), repeat=4) if p != tuple(LABELS))
NICKNAMES = {(0, 1): "OR∧¬AND", (2, 3): "(x1∧¬x2)∨(¬x1∧x2)"}


@dataclass(frozen=True)
class Name:
    display: str  # e.g. "AND(NAND,OR)"
    cf: str  # CF flag_meanings word: alphanumerics and _-.+@ only
    family: str  # the solution (or outcome) it belongs to


def default_window(steps: int) -> int:
    return max(1, int(np.ceil(WINDOW_SHARE * steps)))


# ---- truth tables ---------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def threshold_gates(k: int) -> frozenset:
    """Truth-table indices of the k-input threshold functions [w·b > t] (k <= 4:
    integer weights |w| <= 3 realise all of them: 4, 14, 104, 1882)."""
    b = C.combos(k).astype(np.int64)
    w = np.array(list(itertools.product(range(-3, 4), repeat=k)), dtype=np.int64)
    s = w @ b.T  # (weights, 2**k)
    out = set()
    for t in np.arange(-3 * k - 0.5, 3 * k + 1):
        g = (s > t).astype(np.int64) @ (1 << np.arange(2**k - 1, -1, -1))
        out.update(g.tolist())
    return frozenset(out)


def _patterns(codes):
    """Per row, the index of the units' bit pattern (first unit most significant)."""
    k = len(codes)
    bits = (np.asarray(codes, dtype=np.int64)[None, :] >> ROW_SHIFT[:, None]) & 1  # (4, k)
    return (bits << np.arange(k - 1, -1, -1)).sum(axis=1)


def completions(codes) -> list:
    """Threshold gates over units computing ``codes`` that give XOR on the four rows,
    as truth-table indices, ascending (empty: the codes are not sufficient)."""
    k = len(codes)
    if k == 0 or k > MAX_FEATURES:
        return []
    shift = 2**k - 1 - _patterns(codes)  # (4,): the truth-table bit each row reads
    g = _gate_array(k)
    ok = np.all(((g[:, None] >> shift[None, :]) & 1) == LABELS.astype(np.int64)[None, :], axis=1)
    return g[ok].tolist()


@functools.lru_cache(maxsize=8)
def _gate_array(k: int) -> np.ndarray:
    """threshold_gates(k), ascending, as int64 (at most 2**16: truth tables of k <= 4)."""
    return np.array(sorted(threshold_gates(k)), dtype=np.int64)


def sufficient(codes) -> bool:
    return bool(completions(codes))


@functools.lru_cache(maxsize=4096)
def gate_name(codes: tuple) -> Name:
    """Canonical label of a sufficient code set: the smallest (gate index, argument names)
    over the argument orders, the gate the smallest threshold completion."""
    best = None
    for perm in itertools.permutations(range(len(codes))):
        ordered = [codes[p] for p in perm]
        g = completions(ordered)[0]
        key = (g, tuple(C.UNIT_NAMES[c] for c in ordered))
        if best is None or key < best[0]:
            best = (key, ordered)
    (g, _), ordered = best
    k = len(ordered)
    outputs = [(g >> (2**k - 1 - i)) & 1 for i in range(2**k)]
    gate = C.gate_name(outputs, k)
    return Name(f"{gate}({','.join(C.UNIT_NAMES[c] for c in ordered)})",
                ".".join([gate] + [C.UNIT_CF_NAMES[c] for c in ordered]), "")


# ---- the fixed tables -----------------------------------------------------------------
def _swap(code):
    """The code of a unit after swapping the inputs x1 <-> x2 (rows (1,0) <-> (0,1))."""
    return (code & 9) | ((code & 2) << 1) | ((code & 4) >> 1)


SWAP_FEATURE = tuple(int(FEATURE_OF[_swap(pair[0])]) for pair in FEATURES)


@functools.lru_cache(maxsize=16)
def _minimal_sets(H: int) -> tuple:
    """Inclusion-minimal sufficient feature sets of at most min(H, 4) features, by size
    then lexicographically. (Any 5 of the 6 features contain AND|NAND + OR|NOR or
    x1∧¬x2|x1→x2 + ¬x1∧x2|x2→x1, both sufficient: no minimal set has more than 4.)"""
    found = []
    for k in range(1, min(H, MAX_FEATURES) + 1):
        for fs in itertools.combinations(range(len(FEATURES)), k):
            if any(set(f) <= set(fs) for f in found):
                continue
            if sufficient([FEATURES[f][0] for f in fs]):
                found.append(fs)
    return tuple(found)


def _canonical(fs, fold_swap):
    fs = tuple(sorted(fs))
    if not fold_swap:
        return fs
    sw = tuple(sorted(SWAP_FEATURE[f] for f in fs))
    return min((len(fs), fs), (len(sw), sw))[1]


def _solution_name(fs):
    feats = ", ".join(FEATURE_NAMES[f] for f in fs)
    nick = NICKNAMES.get(fs)
    display = f"{nick} family {{{feats}}}" if nick else f"{{{feats}}}"
    return Name(display, "sol." + ".".join(FEATURE_CF[f] for f in fs), display)


@functools.lru_cache(maxsize=16)
def _solutions(H: int, fold_swap: bool):
    sets = []
    for fs in _minimal_sets(H):
        c = _canonical(fs, fold_swap)
        if c not in sets:
            sets.append(c)
    fixed = [Name(PENDING, PENDING, PENDING), Name(UNSOLVED, UNSOLVED, UNSOLVED), Name(OTHER, OTHER, OTHER)]
    return tuple(fixed + [_solution_name(fs) for fs in sets]), {fs: 3 + i for i, fs in enumerate(sets)}


def solution_table(H: int, fold_swap: bool = False) -> tuple:
    """The solution classes for hidden width H: code -> Name (0 pending, 1 unsolved,
    2 other, then the feature sets)."""
    return _solutions(H, fold_swap)[0]


def _fail_name(p):
    return Name(f"fail[{','.join(map(str, p))}]", "fail_" + "".join(map(str, p)), "failure")


OUTCOMES = (Name(PENDING, PENDING, PENDING), Name(SOLVED, SOLVED, SOLVED), Name(DIVERGED, DIVERGED, "failure")) + \
    tuple(_fail_name(p) for p in FAIL_PATTERNS)
_FIXED_LABELS = (OUTCOMES[0], OUTCOMES[2]) + OUTCOMES[3:] + (Name(OTHER, OTHER, OTHER),)
LABEL_OTHER = len(_FIXED_LABELS) - 1


@functools.lru_cache(maxsize=16)
def _labels(H: int):
    names, index = list(_FIXED_LABELS), {}
    sols = _solutions(H, False)[0]
    for s, fs in enumerate(_minimal_sets(H)):
        for choice in itertools.product((0, 1), repeat=len(fs)):
            codes = tuple(sorted(FEATURES[f][c] for f, c in zip(fs, choice)))
            n = gate_name(codes)
            index[codes] = len(names)
            names.append(Name(n.display, n.cf, sols[3 + s].display))
    return tuple(names), index


def label_table(H: int) -> tuple:
    """The label classes for hidden width H: code -> Name (``family`` is the solution,
    input swap not folded)."""
    return _labels(H)[0]


def outcome_table() -> tuple:
    return OUTCOMES


# ---- classifying ------------------------------------------------------------------------
@functools.lru_cache(maxsize=65536)
def _choose(distinct: tuple, H: int, fold_swap: bool):
    """(label code, solution code, informative codes) for a solved network whose
    non-constant units compute the codes ``distinct`` (sorted, no repeats)."""
    minimal = []
    for k in range(1, min(len(distinct), MAX_FEATURES) + 1):
        for sub in itertools.combinations(distinct, k):
            if len({int(FEATURE_OF[c]) for c in sub}) == k and not any(set(m) <= set(sub) for m in minimal) \
                    and sufficient(list(sub)):
                minimal.append(sub)
    if not minimal:
        return LABEL_OTHER, 2, ()
    sol_index = _solutions(H, fold_swap)[1]
    key = {sub: (sol_index[_canonical([int(FEATURE_OF[c]) for c in sub], fold_swap)], gate_name(sub).display)
           for sub in minimal}
    sub = min(minimal, key=key.get)
    return _labels(H)[1][tuple(sorted(sub))], key[sub][0], sub


def _groups(keys, cells):
    """``cells`` grouped by their row of ``keys`` (n, H) (values 0..16) as a multiset: pairs
    (cells of the group, its sorted row). A row is one base-17 number, so that grouping is
    a 1-D sort (``np.unique`` over rows sorts structured rows: ten times slower)."""
    keys = np.sort(keys, axis=1)
    H = keys.shape[1]
    if 17**H >= 2**62:  # too many units for an int64 key
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()
    else:
        flat = np.zeros(len(keys), dtype=np.int64)
        for i in range(H):
            flat = flat * 17 + keys[:, i]
        numbers, inv = np.unique(flat, return_inverse=True)
        uniq = (numbers[:, None] // 17 ** np.arange(H - 1, -1, -1, dtype=np.int64)) % 17
    order = np.argsort(inv, kind="stable")
    bounds = np.cumsum(np.bincount(inv, minlength=len(uniq)))
    return [(cells[order[b - n:b]], row) for row, b, n in zip(uniq, bounds, np.diff(bounds, prepend=0))]


def classify(z1, predicted, diverged, settled_step=None, steps=None, done=None, *, window=None,
             fold_swap=False, margin=SATURATION) -> dict:
    """Classes of N networks from their final hidden activations z1 (N, 4, H), decisions
    predicted (N, 4), diverged (N,), and optionally settled_step (N,) with the number of
    ``steps`` trained and done (N,) (default all done; not done: ``pending``).

    Returns int16 codes ``outcome``, ``solution``, ``label`` (N,) into ``outcome_table()``,
    ``solution_table(H, fold_swap)``, ``label_table(H)``; booleans ``marginal`` (N,),
    ``unsettled`` (N,) (only with settled_step and steps) and ``informative`` (N, H); and
    ``hidden_code`` (N, H) int8, each unit's function (-1 pending). Pure function of each
    network's own values: any block gives the same codes."""
    z = np.asarray(z1, dtype=np.float64)
    N, _, H = z.shape
    done = np.ones(N, bool) if done is None else np.asarray(done, dtype=bool)
    bad = (np.asarray(diverged, dtype=bool) | ~np.all(np.isfinite(z), axis=(1, 2))) & done
    pred = np.nan_to_num(np.asarray(predicted, dtype=np.float64)).astype(np.int64)
    pattern = pred @ np.array([8, 4, 2, 1])
    solved = done & ~bad & (pattern == 6)
    fail = done & ~bad & ~solved
    # fail patterns in FAIL_PATTERNS order: every pattern index but 6
    outcome = np.where(solved, 1, np.where(bad, 2, 3 + pattern - (pattern > 6))).astype(np.int16)
    outcome[~done] = 0
    code = C.unit_code(np.moveaxis(z > 0.5, 1, 2)).astype(np.int8)
    code[~done] = -1
    label = np.where(fail, outcome - 1, np.where(bad, 1, 0)).astype(np.int16)
    solution = np.where(done & ~solved, 1, 0).astype(np.int16)
    informative = np.zeros((N, H), bool)
    if solved.any():
        cells = np.flatnonzero(solved)
        for these, row in _groups(np.where(FEATURE_OF[code[cells]] >= 0, code[cells], 16), cells):
            lab, sol, sub = _choose(tuple(sorted(set(int(c) for c in row if c != 16))), H, bool(fold_swap))
            label[these], solution[these] = lab, sol
            informative[these] = np.isin(code[these], sub)
    d = np.abs(z - 0.5)
    dist = np.minimum(np.minimum(d[:, 0], d[:, 1]), np.minimum(d[:, 2], d[:, 3]))  # (N, H) closest to 0.5 over rows
    marginal = np.any(informative & (dist < margin), axis=1)
    out = {"outcome": outcome, "solution": solution, "label": label, "marginal": marginal,
           "informative": informative, "hidden_code": code}
    if settled_step is not None and steps is not None:
        w = default_window(steps) if window is None else int(window)
        out["unsettled"] = done & (np.asarray(settled_step) > steps - w)
    return out


def classify_result(result, steps=None, done=None, **kw) -> dict:
    """``classify`` of a ``kernels.TrainResult`` trained for ``steps`` (needed for
    ``unsettled``), with its tracking fields ``solved_step``, ``settled_step`` and
    ``grad_norm`` passed through (when tracked)."""
    out = classify(result.z1, result.predicted, result.diverged, result.settled_step, steps, done, **kw)
    if result.solved_step is not None:
        out.update(solved_step=result.solved_step, settled_step=result.settled_step, grad_norm=result.grad_norm)
    return out


def names(codes, table) -> list:
    """Display names of class codes."""
    return [table[int(c)].display for c in np.asarray(codes).ravel()]


def nearest_label(z1, label, H=None) -> np.ndarray:
    """For networks labelled ``other``: the named label whose units' bits are nearest (L1)
    to the activations of some of the network's units; elsewhere the label itself."""
    z = np.asarray(z1, dtype=np.float64)
    H = z.shape[2] if H is None else H
    out = np.array(label, dtype=np.int16, copy=True)
    rows = np.flatnonzero(out == LABEL_OTHER)
    if not len(rows):
        return out
    zr = np.where(np.isfinite(z[rows]), z[rows], 0.5)
    best = np.full(len(rows), np.inf)
    _, index = _labels(H)
    for codes, lab in index.items():
        bits = ((np.asarray(codes)[:, None] >> ROW_SHIFT[None, :]) & 1).astype(np.float64)  # (k, 4)
        for units in itertools.permutations(range(H), len(codes)):
            cost = np.abs(zr[:, :, list(units)] - bits.T[None]).sum(axis=(1, 2))
            take = cost < best
            best[take], out[rows[take]] = cost[take], lab
    return out


# ---- as stored variables -------------------------------------------------------------
#: the class variables and their tables' lookup coordinates: <name>_names over <name>_class
CLASS_VARIABLES = ("outcome", "solution", "label")
DECODE_HINT = "names: ds.{0}_names[ds.{0}] (plain xarray; position = code)"
LONG_NAMES = {
    "outcome": "solved, diverged or failed with its predicted classes",
    "solution": "informative hidden features up to complement and unit permutation (solved networks)",
    "label": "output gate over the informative hidden units' functions",
    "unsettled": "decisions or hidden code still changed within the settling window before the end",
    "marginal": "the label reads a hidden bit from an activation within the saturation margin of 0.5",
    "informative": "hidden unit among the label's arguments",
    "hidden_code": "Boolean function of (x1, x2) computed by the hidden unit (activations > 0.5)",
    "solved_step": "first step from which all four decisions are right until the end (-1: not solved)",
    "settled_step": "last step at which the decisions or the binarised hidden code changed (0: never)",
    "grad_norm": "norm of the gradient used in the last update",
}


#: every per-cell variable for a store: name -> (extra dims after the sweep dims, dtype).
#: A fresh store's zeros read as ``pending`` (class code 0); ``done`` says which cells hold data.
STORE_VARIABLES = {
    "outcome": ((), np.int16), "solution": ((), np.int16), "label": ((), np.int16),
    "unsettled": ((), np.bool_), "marginal": ((), np.bool_),
    "informative": (("hidden",), np.bool_), "hidden_code": (("hidden",), np.int8),
    "solved_step": ((), np.int32), "settled_step": ((), np.int32), "grad_norm": ((), np.float64),
}


def tables(H: int, fold_swap: bool = False) -> dict:
    """name -> class table (tuple of Name) of the class variables."""
    return {"outcome": OUTCOMES, "solution": solution_table(H, fold_swap), "label": label_table(H)}


def _flags(table):
    return {"flag_values": list(range(len(table))), "flag_meanings": " ".join(n.cf for n in table),
            "flag_display_names": [n.display for n in table]}


def attrs(H: int, fold_swap: bool = False, window: int | None = None, margin: float = SATURATION) -> dict:
    """name -> attrs of every variable ``variables`` makes (CF flags on the class ones)."""
    out = {name: {"long_name": LONG_NAMES[name], "comment": DECODE_HINT.format(name), **_flags(t)}
           for name, t in tables(H, fold_swap).items()}
    out["solution"]["fold_input_swap"] = int(bool(fold_swap))
    out["solution"]["families_of_labels"] = "label_family"
    out["marginal"] = {"long_name": LONG_NAMES["marginal"], "flag_values": [0, 1],
                       "flag_meanings": "saturated marginal", "saturation_margin": margin}
    out["unsettled"] = {"long_name": LONG_NAMES["unsettled"], "flag_values": [0, 1],
                        "flag_meanings": "settled unsettled"}
    if window is not None:
        out["unsettled"]["settling_window_steps"] = int(window)
    else:
        out["unsettled"]["settling_window"] = f"the last {WINDOW_SHARE:.0%} of the steps (at least 1)"
    out["informative"] = {"long_name": LONG_NAMES["informative"], "flag_values": [0, 1],
                          "flag_meanings": "surplus informative"}
    out["hidden_code"] = {"long_name": LONG_NAMES["hidden_code"], "flag_values": list(range(-1, 16)),
                          "flag_meanings": " ".join(("pending",) + C.UNIT_CF_NAMES)}
    for name in ("solved_step", "settled_step", "grad_norm"):
        out[name] = {"long_name": LONG_NAMES[name]}
    return out


def lookups(H: int, fold_swap: bool = False) -> dict:
    """The name lookups for the store template, as coordinates: ``<name>_names`` (str)
    over dim ``<name>_class``, position = class code; and ``label_family``, each label's
    solution name. ``ds.label_names.isel(label_class=ds.label)`` decodes a variable."""
    out = {}
    for name, t in tables(H, fold_swap).items():
        out[f"{name}_names"] = ((f"{name}_class",), np.array([n.display for n in t], dtype=object),
                                {"long_name": f"name of each {name} class (index: the {name} code)"})
    out["label_family"] = (("label_class",), np.array([n.family for n in label_table(H)], dtype=object),
                           {"long_name": "the solution each label belongs to (input swap not folded)"})
    return out


def variables(classified: dict, dims: tuple, shape: tuple | None = None, *, fold_swap: bool = False,
              window: int | None = None) -> dict:
    """Store-ready variables ``name -> (dims, values, attrs)`` from ``classify`` (or
    ``classify_result``) output for one block of cells, reshaped to ``shape`` over
    ``dims`` (per-unit variables get a trailing ``hidden`` dim)."""
    H = classified["hidden_code"].shape[1]
    shape = tuple(shape) if shape is not None else (classified["outcome"].shape[0],)
    a = attrs(H, fold_swap, window)
    out = {}
    for name, values in classified.items():
        values = np.asarray(values, dtype=STORE_VARIABLES[name][1] if name in STORE_VARIABLES else None)
        extra = ("hidden",) if values.ndim == 2 else ()
        out[name] = (tuple(dims) + extra, values.reshape(shape + values.shape[1:]), a.get(name, {}))
    return out


def block_values(result, steps: int, shape: tuple, *, fold_swap: bool = False, window: int | None = None) -> dict:
    """What the sweep engine writes per block: name -> array shaped ``shape`` (+ hidden),
    dtypes as in ``STORE_VARIABLES``, from a ``kernels.TrainResult`` trained ``steps``."""
    c = classify_result(result, steps=steps, fold_swap=fold_swap, window=window)
    return {name: v for name, (_, v, _) in variables(c, (), shape, fold_swap=fold_swap, window=window).items()}
