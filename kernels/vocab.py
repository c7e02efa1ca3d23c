"""The project's vocabulary, spelled once: the XOR data, the parameter layout and names,
the training rules with their defaults, dtypes and arithmetic variants, and the blog
author's published start. Every other module (sweep, analysis, tests, benchmarks)
imports these names instead of repeating them.
"""
from __future__ import annotations

import functools
import json
import re
from importlib import resources

import numpy as np

# ---- the XOR task --------------------------------------------------------------------
#: input rows in this order, and their labels
X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.int8)
LABELS = np.array([0, 1, 1, 0], dtype=np.int8)
LOSS_GUARD = 1e-7  # loss = mean(-log(y[row, label] + LOSS_GUARD))

# ---- parameters ----------------------------------------------------------------------
#: parameter groups in the flat layout's order; each flattened row-major
GROUPS = ("W1", "b1", "W2", "b2")
#: the xarray dims of each group's array
GROUP_DIMS = {"W1": ("input", "hidden"), "b1": ("hidden",), "W2": ("hidden", "output"), "b2": ("output",)}
GROUP_LONG_NAMES = {"W1": "input-to-hidden weights", "b1": "hidden biases",
                    "W2": "hidden-to-output weights", "b2": "output biases"}
#: the groups np.round touches in a rounding study unless biases are asked for too
WEIGHT_GROUPS = ("W1", "W2")
HIDDEN_DEFAULT = 3


def n_params(H: int) -> int:
    """P = 5H + 2 parameters for hidden width H."""
    return 5 * H + 2


def group_shapes(H: int) -> dict[str, tuple[int, ...]]:
    return {"W1": (2, H), "b1": (H,), "W2": (H, 2), "b2": (2,)}


def group_slices(H: int) -> dict[str, slice]:
    out, o = {}, 0
    for g, shape in group_shapes(H).items():
        n = int(np.prod(shape))
        out[g] = slice(o, o + n)
        o += n
    return out


def split_groups(flat: np.ndarray, H: int) -> dict[str, np.ndarray]:
    """(..., P) -> {'W1': (..., 2, H), ...}."""
    lead = flat.shape[:-1]
    return {g: flat[..., s].reshape(lead + group_shapes(H)[g]) for g, s in group_slices(H).items()}


def join_groups(W1, b1, W2, b2) -> np.ndarray:
    """Group arrays with the same leading dims -> (..., P) flat parameters."""
    W1 = np.asarray(W1)
    lead = W1.shape[:-2]
    return np.concatenate([np.asarray(a).reshape(lead + (-1,)) for a in (W1, b1, W2, b2)], axis=-1)


def weight_columns(H: int) -> np.ndarray:
    """Flat indices of the weights (W1 and W2), the entries a rounding study rounds."""
    s = group_slices(H)
    return np.r_[s["W1"], s["W2"]]


_PARAM_RE = re.compile(r"^(W1|b1|W2|b2)\[(\d+)(?:,(\d+))?\]$")


def param_index(name: str, H: int) -> int:
    """'W1[0,2]' (spaces allowed) -> flat index into the P parameters; ValueError if not a
    parameter of a 2-H-2 network."""
    m = _PARAM_RE.match(name.replace(" ", "")) if isinstance(name, str) else None
    if not m:
        raise ValueError(f"{name!r} is not a parameter name like 'W1[0,2]' or 'b2[1]'")
    group, i, j = m.group(1), int(m.group(2)), m.group(3)
    shape = group_shapes(H)[group]
    idx = (i,) if j is None else (i, int(j))
    if len(idx) != len(shape) or any(k >= n for k, n in zip(idx, shape)):
        raise ValueError(f"{name!r} is out of range for {group} shaped {shape}")
    flat = idx[0] if len(idx) == 1 else idx[0] * shape[1] + idx[1]
    return group_slices(H)[group].start + flat


def param_name(index: int, H: int) -> str:
    """The canonical spelling of flat parameter ``index``: 'W1[0,2]', 'b2[1]'."""
    for g, s in group_slices(H).items():
        if s.start <= index < s.stop:
            k = index - s.start
            shape = group_shapes(H)[g]
            return f"{g}[{k}]" if len(shape) == 1 else f"{g}[{k // shape[1]},{k % shape[1]}]"
    raise ValueError(f"parameter index {index} is out of range for H = {H}")


def canonical_param(name: str, H: int) -> str:
    return param_name(param_index(name, H), H)


# ---- training settings ---------------------------------------------------------------
#: rule -> defaults used when not given (the blog author's: lr 5.0, 100 iterations)
RULE_DEFAULTS = {"seed": {"lr": 5.0, "steps": 100}, "gd": {"lr": 5.0, "steps": 100}}
RULES = tuple(RULE_DEFAULTS)
RULE_DESCRIPTIONS = {
    "seed": "the blog author's: the book's numerical gradient (step h), groups W1, b1, W2, b2 updated in turn",
    "gd": "textbook full-batch gradient descent: analytic gradient, all groups updated together",
}
DEFAULT_RULE = "seed"
#: a training rule is a gradient and an update order, two orthogonal settings
GRADIENTS = {
    "numerical": "the book's central difference with step h, element by element",
    "analytic": "backpropagation (the book's TwoLayerNet.gradient)",
}
UPDATES = {
    "sequential": "groups W1, b1, W2, b2 updated in turn, each group's gradient taken after its predecessors moved",
    "simultaneous": "all groups updated together from the gradient at the same parameters",
}
#: named rule -> (gradient, update); the other two pairs have no name
RULE_PARTS = {"seed": ("numerical", "sequential"), "gd": ("analytic", "simultaneous")}
assert set(RULE_PARTS) == set(RULE_DEFAULTS)


def rule_name(gradient: str, update: str) -> str | None:
    """The named rule of a (gradient, update) pair, None for the two unnamed pairs."""
    return next((r for r, parts in RULE_PARTS.items() if parts == (gradient, update)), None)


def rule_parts(rule: str | None = None, gradient: str | None = None, update: str | None = None) -> tuple[str, str]:
    """(gradient, update) from a rule name and/or the two settings: a part not given comes
    from ``rule``, else from ``DEFAULT_RULE``. ValueError names an unknown value or a part
    that contradicts ``rule``."""
    for name, v, known in (("rule", rule, RULE_PARTS), ("gradient", gradient, GRADIENTS), ("update", update, UPDATES)):
        if v is not None and v not in known:
            raise ValueError(f"{name} must be one of {list(known)}, got {v!r}")
    implied = RULE_PARTS[DEFAULT_RULE if rule is None else rule]
    for name, v, want in (("gradient", gradient, implied[0]), ("update", update, implied[1])):
        if rule is not None and v is not None and v != want:
            raise ValueError(f"{name} {v!r} contradicts rule {rule!r} ({implied[0]} gradient, {implied[1]} update)")
    return (gradient or implied[0], update or implied[1])


def training_defaults(gradient: str, update: str) -> dict:
    """lr and steps used when not given: the named rule's, else the default rule's."""
    return RULE_DEFAULTS[rule_name(gradient, update) or DEFAULT_RULE]
DTYPES = {"float64": np.float64, "float32": np.float32}
DEFAULT_DTYPE = "float64"
#: arithmetic variant -> what it guarantees
ARITHS = {
    "exact": "exp/log: xorsweep's own, built from IEEE basic operations (same bits on any IEEE-754 machine)",
    "libm": "exp/log: the platform's libm (bits may differ between machines)",
    "exact-fma": "exp/log: xorsweep's own, built from IEEE basic operations and explicit fused multiply-add "
                 "(same bits on any IEEE-754 machine with a correct fma; hardware FMA on x86-64 since 2013 and ARMv8)",
    "exact-fma2": "exp/log: as exact-fma with a shorter exp (minimax polynomial, one scaling multiply; within 1 ulp, "
                  "the same bits on any IEEE-754 machine with a correct fma)",
}
#: the arithmetic of a spec that names none: exact-fma2 is as exact as exact and exact-fma (<= 1
#: ulp, the same bits on every machine with a correct fma) and the fastest of them.
#: A store records the arithmetic it was made with; a spec that names none resumes a store
#: with the store's own (``Spec.with_arith_of``), so stores made when the default was
#: "exact" or "exact-fma" keep their bits.
DEFAULT_ARITH = "exact-fma2"
DEFAULT_H = 1e-4  # the book's finite-difference step
INIT_STD = 0.1  # the author's 0.1 * N(0, 1) initial weights


# ---- the published start -------------------------------------------------------------
@functools.cache
def published_cases() -> dict:
    """The blog entry's published numbers (part 7 of the series), as stored in
    ``xorsweep/kernels/data/part7-cases.json``."""
    return json.loads(resources.files("xorsweep.kernels").joinpath("data/part7-cases.json").read_text())


def published_start() -> dict[str, np.ndarray]:
    """The author's published 2-3-2 start: W1, b1, W2, b2 (biases zero), float64."""
    init = published_cases()["init"]
    return {g: np.array(init[g], dtype=np.float64) for g in GROUPS}
