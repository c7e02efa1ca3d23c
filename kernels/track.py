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
pass. Only comparisons and integer operations: tracking changes no floating-point bit.
"""
import numpy as np
from numba import njit

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


@njit(**INLINE)
def unit_state(z0, z1, z2, z3, half):
    """A hidden unit's code from its activations on rows 0..3 (as in ``track``), as an int8
    (a narrow type keeps lane loops at their float width: int64 codes halve a float32 loop's)."""
    return np.int8(8 * (z0 > half) + 2 * (z1 > half) + 4 * (z2 > half) + (z3 > half))


@njit(**INLINE)
def fold_lane(d, changed, s, prev, last, solved, l):
    """Fold lane l's decision code d at step s into prev/last/solved (as ``track``), given
    whether its hidden code changed; prev flat ((H + 1) * LANES), row 0 the decisions."""
    changed = changed | (d != prev[l])
    prev[l] = d
    solved[l] = solved[l] if d == SOLVED_DECISIONS else s + 1
    last[l] = s if changed else last[l]


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
