"""Outcome tracking on one chunk of LANES networks, shared by both rules.

The coarse state of a network at step s (its parameters before update s) is its four
decisions (argmax of the softmax, ties give 0, as ``predicted``) and its binarised hidden
code (each unit's activations > 0.5 on the four rows). Per lane the kernels keep:

- ``prev`` (H + 1, LANES) int8: the state last seen; row 0 the decisions as
  8·p0 + 4·p1 + 2·p2 + p3, row 1 + j unit j's code 8·z0 + 2·z1 + 4·z2 + z3
  (``kernels.codes.unit_code``); -1 before the first step, so step 0 always "changes";
- ``last`` (LANES,) int32: the last step at which the state changed (0 if never after 0);
- ``solved`` (LANES,) int32: the first step from which the decisions were right at every
  step seen so far.

``batch.train`` folds in the final state (after the last update) from the final forward
pass. Only comparisons and exact integer arithmetic (in gd's fused step on floats holding
small integers): tracking changes no bit of the training.

gd's fused step keeps the same state in rows as wide as its floats while it runs
(``state_rows``, copied in and out of prev/last/solved by ``copy_state``): the codes as
floats (small integers, exact), computed with selects and adds in the float registers, and
the step numbers as float64 (exact to 2**53) or, beside float32, as int32 (a float32 is
exact only to 2**24). With int8 codes and int32 steps, an AVX2 lane loop over float64
packs every comparison's mask down to bytes: 193 of the second pass's 823 instructions
per 4 lanes went to tracking, now 99 (float32: 164 of 752 per 8 lanes, now 94); on an AMD
EPYC Zen 3 whole gd calls +6 % float64, +11 % float32, the same integers.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from xorsweep.kernels.layout import C_QUARTER, LANES
from xorsweep.kernels.lanes import INLINE

#: the decision code of a network that solves XOR: predicted [0, 1, 1, 0]
SOLVED_DECISIONS = 6

#: the kernels' ``tracking`` argument (an int): no tracking; tracking; tracking and the
#: norm of the gradient of the call's last step into gnorm (gd's fused step takes that
#: step staged, so a caller training in pieces asks for it in the last piece only)
TRACK_OFF, TRACK, TRACK_NORM = 0, 1, 2


@njit(**INLINE)
def decisions(y, dec):
    """dec[r * LANES + l] = argmax of the softmax outputs y (4, 2, LANES), ties and NaN 0."""
    for r in range(4):
        for l in range(LANES):
            dec[r * LANES + l] = y[r, 1, l] > y[r, 0, l]


def state_rows(n_codes, like):
    """Scratch for gd's fused step (see the module's docstring): (codes, last, solved) with
    n_codes codes of like's float type and LANES step numbers, float64 beside float64,
    int32 beside float32."""


@overload(state_rows, inline="always")
def _state_rows(n_codes, like):
    if like.dtype == types.float64:
        return lambda n_codes, like: (np.empty(n_codes, np.float64), np.empty(LANES, np.float64),
                                      np.empty(LANES, np.float64))
    return lambda n_codes, like: (np.empty(n_codes, np.float32), np.empty(LANES, np.int32),
                                  np.empty(LANES, np.int32))


def as_step(s, one):
    """The step number s in the type of state_rows' step rows beside floats like one."""


@overload(as_step, inline="always")
def _as_step(s, one):
    if one == types.float64:
        return lambda s, one: np.float64(s)
    return lambda s, one: np.int32(s)


@njit(**INLINE)
def copy_state(prev, last, solved, prev_to, last_to, solved_to):
    """prev_to, last_to, solved_to = prev, last, solved (flat codes, LANES steps each)."""
    for k in range(prev.size):
        prev_to[k] = prev[k]
    for l in range(LANES):
        last_to[l] = last[l]
        solved_to[l] = solved[l]


@njit(**INLINE)
def unit_code_float(z0, z1, z2, z3, half, one):
    """A hidden unit's code from its activations on rows 0..3 (as in ``track``), as a float
    of one's type."""
    two = one + one
    four = two + two
    nil = one - one
    return ((((four + four) if z0 > half else nil) + (two if z1 > half else nil)) + (four if z2 > half else nil)
            + (one if z3 > half else nil))


@njit(**INLINE)
def fold_lane_float(y00, y01, y10, y11, y20, y21, y30, y31, one, changed, sf, sf1, zs, prev, last, solved, l):
    """Fold lane l's decisions (from its softmax outputs y, one the floats' 1) at step sf
    (as_step; sf1 = step + 1, zs = a run-time 0 of that type) into the state_rows
    prev/last/solved (as ``track``), given whether its hidden code changed; prev flat, row 0
    the decisions."""
    two = one + one
    four = two + two
    nil = one - one
    d = ((((four + four) if y01 > y00 else nil) + (four if y11 > y10 else nil)) + (two if y21 > y20 else nil)
         + (one if y31 > y30 else nil))
    changed = changed | (d != prev[l])
    prev[l] = d
    # both loaded unconditionally and the kept value + zs: else LLVM makes the loads or the
    # store masked (vmaskmovpd, slow on AMD)
    so = solved[l]
    lo = last[l]
    solved[l] = so + zs if d == (four + two) else sf1  # 6: SOLVED_DECISIONS
    last[l] = sf if changed else lo


@njit(**INLINE)
def track(zf, rs, js, H, dec, c, s, prev, last, solved, changed):
    """Fold the state at step s into prev/last/solved. zf is the hidden activations flat,
    unit j row r at zf[r * rs + j * js + l]; dec holds the decisions flat (4 * LANES)."""
    half = c[C_QUARTER] + c[C_QUARTER]
    for l in range(LANES):
        d = 8 * dec[l] + 4 * dec[LANES + l] + 2 * dec[2 * LANES + l] + dec[3 * LANES + l]
        changed[l] = d != prev[0, l]
        prev[0, l] = d
        solved[l] = solved[l] if d == SOLVED_DECISIONS else s + 1
    for j in range(H):
        o = j * js
        for l in range(LANES):
            code = (8 * (zf[o + l] > half) + 2 * (zf[o + rs + l] > half) + 4 * (zf[o + 2 * rs + l] > half)
                    + (zf[o + 3 * rs + l] > half))
            changed[l] = changed[l] | (code != prev[1 + j, l])
            prev[1 + j, l] = code
    for l in range(LANES):
        last[l] = s if changed[l] else last[l]
