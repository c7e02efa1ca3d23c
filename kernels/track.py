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
(``state_rows``, packed from and unpacked into prev/last/solved by ``pack_state`` and
``unpack_state``): the four codes of H = 3 as one float per lane (``PACK_UNIT``,
``PACK_DECISIONS``: 16 bits, exact even in a float32), built by conditional adds in the
float registers and compared once per step, and the step numbers as float64 (exact to
2**53) or, beside float32, as int32 (a float32 is exact only to 2**24). With int8 codes
and int32 steps, an AVX2 lane loop over float64 packs every comparison's mask down to
bytes: 193 of the second pass's 823 instructions per 4 lanes went to tracking, then 99
with float codes per row (float32: 164 of 752 per 8 lanes, then 94; on an AMD EPYC Zen 3
whole gd calls +6 % float64, +11 % float32). Packed (2026-12-04, AMD EPYC Zen 4, AVX-512,
float32): the tracking pass 597 -> 560 instructions per 16 lanes (493 without tracking),
no compare per unit, no select-then-add per bit (a masked add each); whole calls with the
exp clamps' max/min (``kernels.xmath``) 1.10x float32, 1.13x float64, alternating with the
old code. The same integers throughout.
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


def state_rows(n, like):
    """Scratch for gd's fused step (see the module's docstring): (state, last, solved), n
    each: the packed state (``pack_state``) in like's float type and the step numbers,
    float64 beside float64, int32 beside float32."""


@overload(state_rows, inline="always")
def _state_rows(n, like):
    if like.dtype == types.float64:
        return lambda n, like: (np.empty(n, np.float64), np.empty(n, np.float64), np.empty(n, np.float64))
    return lambda n, like: (np.empty(n, np.float32), np.empty(n, np.int32), np.empty(n, np.int32))


def as_step(s, one):
    """The step number s in the type of state_rows' step rows beside floats like one."""


@overload(as_step, inline="always")
def _as_step(s, one):
    if one == types.float64:
        return lambda s, one: np.float64(s)
    return lambda s, one: np.int32(s)


def as_float(k, one):
    """The integer k as a float of one's type (a constant when k is one)."""


@overload(as_float, inline="always")
def _as_float(k, one):
    if one == types.float64:
        return lambda k, one: np.float64(k)
    return lambda k, one: np.float32(k)


#: the packed state of the fused step (H = 3 hidden units: 16 bits, exact in a float32):
#: unit j's code times 16**j, plus the decisions' code times 16**3; -1 before the first step
PACK_UNIT, PACK_DECISIONS = 16, 4096


@njit(**INLINE)
def pack_state(prev, last, solved, state, last_to, solved_to):
    """The int8 codes prev ((H + 1) * LANES flat, H = 3) -> the packed state row, and
    last, solved copied into the step rows."""
    for l in range(LANES):
        d = prev[l]
        v = np.int32(-1)
        if d >= 0:
            v = np.int32(d) * PACK_DECISIONS
            w = np.int32(1)
            for j in range(3):
                v += np.int32(prev[(1 + j) * LANES + l]) * w
                w *= PACK_UNIT
        state[l] = v
        last_to[l] = last[l]
        solved_to[l] = solved[l]


@njit(**INLINE)
def unpack_state(state, last, solved, prev_to, last_to, solved_to):
    """pack_state undone."""
    for l in range(LANES):
        v = np.int32(state[l])
        if v < 0:
            for k in range(4):
                prev_to[k * LANES + l] = -1
        else:
            prev_to[l] = v // PACK_DECISIONS
            for j in range(3):
                prev_to[(1 + j) * LANES + l] = (v // PACK_UNIT ** j) % PACK_UNIT
        last_to[l] = last[l]
        solved_to[l] = solved[l]


@njit(**INLINE)
def add_code(acc, z0, z1, z2, z3, half, w):
    """acc + w times a hidden unit's code from its activations on rows 0..3 (as ``track``:
    8·[z0 > half] + 2·[z1 > half] + 4·[z2 > half] + [z3 > half]); w a power of two, all of
    one float type. Written as conditional adds: with AVX-512 each is one masked add after
    its compare (a select of the term and an add were two)."""
    two = w + w
    four = two + two
    acc = acc + (four + four) if z0 > half else acc
    acc = acc + two if z1 > half else acc
    acc = acc + four if z2 > half else acc
    return acc + w if z3 > half else acc


@njit(**INLINE)
def fold_lane_packed(y00, y01, y10, y11, y20, y21, y30, y31, hidden, sf, sf1, zs, state, last, solved, l):
    """Fold lane l's state at step sf (as_step; sf1 = step + 1, zs a run-time 0 of that
    type) into the packed row state and last/solved (as ``track``), given its hidden units'
    packed codes and its softmax outputs y."""
    w = as_float(PACK_DECISIONS, hidden)
    two = w + w
    four = two + two
    v = hidden + (four + four) if y01 > y00 else hidden
    v = v + four if y11 > y10 else v
    v = v + two if y21 > y20 else v
    v = v + w if y31 > y30 else v
    changed = v != state[l]
    state[l] = v
    # the decisions right (code 6, SOLVED_DECISIONS) from the decision bits themselves
    right = (not (y01 > y00)) & (y11 > y10) & (y21 > y20) & (not (y31 > y30))
    # both loaded unconditionally and the kept value + zs: else LLVM makes the loads or the
    # store masked (vmaskmovpd, slow on AMD)
    so = solved[l]
    lo = last[l]
    solved[l] = so + zs if right else sf1
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
