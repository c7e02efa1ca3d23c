"""Finite-time Lyapunov exponents of training, by Benettin's twin trajectory.

Every network gets a twin started at distance δ along a fixed unit direction u; both are
trained side by side (one batch of twice the chunks, so the main network's bits are
those of training alone: lanes never interact). Every ``every`` steps the separation
d = |P(twin − main)| is measured, log(d / d₀) accumulated (d₀ the realised separation
the twin was set to, after rounding), and the twin put back at distance δ along the
current separation. λ = Σ log(dᵢ / d₀ᵢ) / steps, per step.

**The subspace.** The softmax depends on the difference of its two logits only, so the
loss is unchanged along e(W2[j,0]) + e(W2[j,1]) for every unit j and along e(b2[0]) +
e(b2[1]): gradients have no component there and these H + 1 sums never change in
training (up to the numerical gradient's rounding). A separation along them would
neither grow nor shrink; separations are measured after projecting them out (``project``),
in the D = 4H + 1 dimensions training moves in, and u is drawn there.

**δ and k.** δ must sit well above the rounding noise the twin picks up: the rule's
per-step kick κ (the seed rule's numerical gradient moves every parameter by about
lr·ulp(L)/(2h) ≈ 3e-12 per step; an analytic gradient by about one ulp, 1e-16), summed and
amplified like the separation itself, κ/(1 − e^-λ) ≈ 2e-11 for the seed rule at λ ≈ 0.17
(see ``analysis.lyapunov``); and well below the scale where the dynamics stop being
linear over k steps (parameters of order 0.1–10, growth up to about e^0.5 per step early
in training). Measured on 256 of the author's random starts (seed rule): λ is flat to a
median 0.001 (spread of λ over starts: 0.11 to 0.32) for δ from 3e-9 to 1e-5, biased up
by 0.02 at 1e-10 and 0.12 at 1e-11; hence δ = 1e-7 in float64, in the middle of the
window (κ-noise ≈ 2e-4 of δ, δ·e^(0.5k) ≈ 1.5e-5). k = 10: λ is the same for k = 2 … 20
and drifts from k = 50 (nonlinear growth within a pause); the pauses cost a few per cent
of the training. In float32 κ reaches lr·ulp(L)/(2h) ≈ 1.5e-3 with the seed rule's
numerical gradient: no window is left, and δ = 1e-3 is only a rough setting.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))
from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder)

from xorsweep.kernels.track import TRACK, TRACK_NORM, TRACK_OFF
from xorsweep.kernels.vocab import n_params

#: separation of the twin, per dtype (see the module docstring)
DELTA = {"float64": 1e-7, "float32": 1e-3}
#: renormalise every this many steps
EVERY = 10
#: seed of the fixed initial direction (one direction per H, the same for every network)
DIRECTION_SEED = 20260412


def frozen_pairs(H: int) -> list[tuple[int, int]]:
    """Flat index pairs (a, b) whose sum training never changes: W2[j, 0] + W2[j, 1], b2[0] + b2[1]."""
    return [(3 * H + 2 * j, 3 * H + 2 * j + 1) for j in range(H)] + [(5 * H, 5 * H + 1)]


def project(v: np.ndarray, H: int, axis: int = -1) -> np.ndarray:
    """v with its components along the frozen directions removed (a copy); parameters along ``axis``."""
    v = np.array(np.moveaxis(v, axis, 0), dtype=np.float64)
    for a, b in frozen_pairs(H):
        m = (v[a] - v[b]) * 0.5
        v[a], v[b] = m, -m
    return np.moveaxis(v, 0, axis)


def direction(H: int) -> np.ndarray:
    """The fixed unit start direction (P,) in the moving subspace."""
    u = project(np.random.default_rng([DIRECTION_SEED, H]).standard_normal(n_params(H)), H)
    return u / np.sqrt(np.sum(u * u))


def boundaries(steps: int, every: int, record_every: int) -> list[int]:
    """The steps where training pauses: multiples of ``every`` and of ``record_every``, and the end."""
    marks = set(range(every, steps, every)) | {steps}
    if record_every:
        marks |= set(range(record_every, steps + 1, record_every))
    return sorted(m for m in marks if m > 0)


def benettin(advance, record, P, H: int, steps: int, *, every: int = EVERY, delta: float = DELTA["float64"],
             record_every: int = 0):
    """Benettin's method on packed networks P (2·chunks, P, LANES): the first half the
    main networks, the second half overwritten with their twins. ``advance(a, n)`` trains
    all of P n steps from absolute step a; ``record(t)`` keeps the main state at record
    index t (step t·record_every). Only the twins are ever changed here.

    Returns λ (chunks, LANES) float64 per step (NaN where the separation became
    non-finite, -inf where the twin fell onto its network), and with ``record_every`` its
    running value at the recorded steps (chunks, T, LANES): the logs so far plus the log
    of the current growth, over the steps so far (NaN at step 0).
    """
    chunks, lanes = P.shape[0] // 2, P.shape[2]
    u = direction(H)
    total = np.zeros((chunks, lanes))
    d0, grow = np.ones((chunks, lanes)), np.empty((chunks, lanes))
    pause(P, H, u, delta, d0, grow, PLACE)
    traj = None
    if record_every:
        traj = np.full((chunks, steps // record_every + 1, lanes), np.nan)
        record(0)
    a = 0
    for b in boundaries(steps, every, record_every):
        advance(a, b - a)
        a = b
        renorm = b % every == 0 or b == steps
        pause(P, H, u, delta, d0, grow, RENORMALISE if renorm else MEASURE)
        if record_every and b % record_every == 0:
            traj[:, b // record_every] = (total + grow) / b
            record(b // record_every)
        if renorm:
            total += grow
    with np.errstate(invalid="ignore"):
        lam = total / steps if steps else np.full_like(total, np.nan)
    return lam, traj


MEASURE, RENORMALISE, PLACE = 0, 1, 2


@njit(error_model="numpy", cache=True)
def _separation(main, twin, H, s, acc):
    """s (P, LANES) = the separation twin - main with its frozen components removed (every
    index from 3H on pairs with its neighbour); acc (LANES,) = its squared norm."""
    nP, lanes = main.shape
    for l in range(lanes):
        acc[l] = 0.0
    for e in range(3 * H):
        for l in range(lanes):
            x = np.float64(twin[e, l]) - np.float64(main[e, l])
            s[e, l] = x
            acc[l] += x * x
    for e in range(3 * H, nP, 2):
        for l in range(lanes):
            x = ((np.float64(twin[e, l]) - np.float64(main[e, l]))
                 - (np.float64(twin[e + 1, l]) - np.float64(main[e + 1, l]))) * 0.5
            s[e, l], s[e + 1, l] = x, -x
            acc[l] += 2.0 * (x * x)


@njit(error_model="numpy", cache=True)
def _pause_chunk(main, twin, H, u, delta, d0, grow, mode):
    nP, lanes = main.shape
    s = np.empty((nP, lanes))
    acc = np.empty(lanes)
    scale = np.empty(lanes)
    if mode != PLACE:
        _separation(main, twin, H, s, acc)
        for l in range(lanes):
            grow[l] = np.log(np.sqrt(acc[l]) / d0[l])
        if mode == MEASURE:
            return
    for l in range(lanes):
        d = np.sqrt(acc[l]) if mode != PLACE else 1.0
        fresh = mode == PLACE or not np.isfinite(d) or d == 0.0
        scale[l] = -1.0 if fresh else delta / d
    for e in range(nP):
        for l in range(lanes):
            v = delta * u[e] if scale[l] < 0 else scale[l] * s[e, l]
            twin[e, l] = np.float64(main[e, l]) + v
    _separation(main, twin, H, s, acc)
    for l in range(lanes):
        d0[l] = np.sqrt(acc[l])


@njit(error_model="numpy", cache=True)
def _pause(P, H, u, delta, d0, grow, mode):
    chunks = P.shape[0] // 2
    for i in range(chunks):
        _pause_chunk(P[i], P[chunks + i], H, u, delta, d0[i], grow[i], mode)


@njit(error_model="numpy", cache=True, parallel=True)
def _pause_parallel(P, H, u, delta, d0, grow, mode):
    chunks = P.shape[0] // 2
    for i in numba.prange(chunks):
        _pause_chunk(P[i], P[chunks + i], H, u, delta, d0[i], grow[i], mode)


def pause(P, H, u, delta, d0, grow, mode):
    """At a pause of P (2·chunks, P, LANES; twins in the second half): ``MEASURE`` puts
    log(d / d0) into grow (chunks, LANES); ``RENORMALISE`` also puts every twin back at
    distance δ along its separation (along u where the separation is 0 or not finite) and
    its realised distance into d0; ``PLACE`` puts every twin at δ·u and sets d0. Chunks
    are independent: on more than one thread they are shared out (a pause of 65,536
    networks takes about as long as one training step of them, serially)."""
    f = _pause_parallel if numba.get_num_threads() > 1 and P.shape[0] > 2 else _pause
    f(P, H, np.ascontiguousarray(u, dtype=np.float64), float(delta), d0, grow, mode)


def train_with_twins(kernel, evaluate_chunks, P, c, H, steps, every, traj, tloss, tacc, state, track, k, delta):
    """Train P (chunks, P, LANES) in place as ``kernel`` would in one call, beside a twin per
    network (``kernels.lyapunov.benettin``), pausing every k steps and at recorded steps.

    ``kernel`` is a rule's parallel entry, ``evaluate_chunks`` the forward pass of its
    arithmetic, the rest as ``batch.train`` hands them to ``kernel``; ``state`` is (prev,
    last, solved, gnorm). On one thread main and twins train in separate calls (only the
    main networks are tracked), on more in one call per pause (a parallel region costs
    more). The kernels count steps from 0 in each call: the tracking state's step numbers are
    shifted by the steps already done before a call and back after it (tracking only copies
    or sets them), so it ends as one call would leave it; the last call's last step sets
    gnorm. Recording happens here, at the pauses, with the kernels' own forward pass."""
    chunks = P.shape[0]
    both = np.concatenate([P, P])
    main, twin = both[:chunks], both[chunks:]
    st = [np.concatenate([a, a]) for a in state]  # first half the main networks' tracking
    last, solved = st[1][:chunks], st[2][:chunks]
    none = np.zeros((2 * chunks, 0) + traj.shape[2:], traj.dtype), np.zeros((2 * chunks, 0, P.shape[2]), P.dtype)
    Z = np.empty((chunks, 4, H, P.shape[2]), P.dtype)
    Y = np.empty((chunks, 4, 2, P.shape[2]), P.dtype)
    ls, ac = np.empty((chunks, P.shape[2]), P.dtype), np.empty((chunks, P.shape[2]), P.dtype)

    def advance(a, n):
        last[...] -= a
        solved[...] -= a
        # the gradient norm only in the last piece (gd takes that step staged, 1.8x slower)
        tracking = (TRACK_NORM if a + n == steps else TRACK) if track else TRACK_OFF
        if numba.get_num_threads() > 1:  # one parallel region per pause: a region costs more than tracking twins
            kernel(both, c, n, 0, *none, none[1], *st, tracking)
        else:  # the twins untracked: cheaper, same bits
            half = none[0][:chunks], none[1][:chunks]
            kernel(main, c, n, 0, *half, half[1], *(a[:chunks] for a in st), tracking)
            kernel(twin, c, n, 0, *half, half[1], *(a[chunks:] for a in st), TRACK_OFF)
        last[...] += a
        solved[...] += a

    def record(t):
        traj[:, t] = main
        evaluate_chunks(main, c, Z, Y, ls, ac)
        tloss[:, t], tacc[:, t] = ls, ac

    lam, lam_traj = benettin(advance, record, both, H, steps, every=k, delta=delta, record_every=every)
    P[...] = main
    for a, b in zip(state, st):
        a[...] = b[:chunks]
    return lam, lam_traj
