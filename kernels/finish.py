"""The last pass of a call: read every network's results out of the packed chunks.

One pass over the chunks (in numba's threads) writes what ``batch.train`` returns in the
callers' layout (B, ...): the final parameters, activations, softmax outputs, loss and
accuracy, the decisions (argmax, ties and NaN 0), whether a network diverged (a parameter
or the loss not finite) and, with tracking, the state at the final parameters folded in
by ``kernels.track.track`` (the code the kernels run at every step): the solved and
settled steps and the last gradient norm. Copies and comparisons only: no bit of a result
changes. It replaced numpy's strided copies and a numpy twin of the tracking's last fold;
with the results in recycled memory (``kernels.recycle``) a call's fixed cost at
B = 65,536 on two threads went from 11.0-14.3 to 5.3-7.1 ms in float32 and from 16.7-19.7
to 5.8-6.0 ms in float64 (2026-12-04, Zen 4, processes alternating with the old code).
"""
import numpy as np
from numba import njit, prange

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))
from xorsweep.kernels.lanes import INLINE
from xorsweep.kernels.layout import LANES
from xorsweep.kernels.track import SOLVED_DECISIONS, decisions, track


@njit(**INLINE)
def _chunk(i, P, Z, Y, loss, acc, gnorm, prev, last, solved, steps, c, tracking, B,
           params, z1, y, loss_o, acc_o, predicted, diverged, solved_o, settled_o, gnorm_o):
    nP, H = P.shape[1], Z.shape[2]
    n = min(LANES, B - i * LANES)
    p, z, a = P[i], Z[i], Y[i]
    dec = np.empty(4 * LANES, np.bool_)
    decisions(a, dec)
    if tracking:
        changed = np.empty(LANES, np.bool_)
        track(z.ravel(), H * LANES, LANES, H, dec, c, steps, prev[i], last[i], solved[i], changed)
    for l in range(n):
        b = i * LANES + l
        finite = np.isfinite(loss[i, l])
        for k in range(nP):
            v = p[k, l]
            params[b, k] = v
            finite = finite & np.isfinite(v)
        diverged[b] = not finite
        for r in range(4):
            predicted[b, r] = dec[r * LANES + l]
            for j in range(H):
                z1[b, r, j] = z[r, j, l]
            y[b, r, 0] = a[r, 0, l]
            y[b, r, 1] = a[r, 1, l]
        loss_o[b] = loss[i, l]
        acc_o[b] = acc[i, l]
        if tracking:
            # track kept solved[l] only where the final decisions are right
            solved_o[b] = solved[i, l] if prev[i, 0, l] == SOLVED_DECISIONS else -1
            settled_o[b] = last[i, l]
            gnorm_o[b] = gnorm[i, l]


@njit(parallel=True, error_model="numpy", cache=True)
def finish_chunks(P, Z, Y, loss, acc, gnorm, prev, last, solved, steps, c, tracking, B,
                  params, z1, y, loss_o, acc_o, predicted, diverged, solved_o, settled_o, gnorm_o):
    """Packed P (chunks, nP, LANES), Z (chunks, 4, H, LANES), Y (chunks, 4, 2, LANES), loss,
    acc, gnorm, last, solved (chunks, LANES), prev (chunks, H + 1, LANES) -> params (B, nP),
    z1 (B, 4, H), y (B, 4, 2), loss_o, acc_o, diverged, solved_o, settled_o, gnorm_o (B,),
    predicted (B, 4) int8; with ``tracking`` the final state (step ``steps``) is folded into
    prev/last/solved first (the tracking outputs may be empty without it)."""
    for i in prange(P.shape[0]):
        _chunk(i, P, Z, Y, loss, acc, gnorm, prev, last, solved, steps, c, tracking, B,
               params, z1, y, loss_o, acc_o, predicted, diverged, solved_o, settled_o, gnorm_o)


@njit(error_model="numpy", cache=True)
def serial_finish(P, Z, Y, loss, acc, gnorm, prev, last, solved, steps, c, tracking, B,
                  params, z1, y, loss_o, acc_o, predicted, diverged, solved_o, settled_o, gnorm_o):
    """``finish_chunks`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk(i, P, Z, Y, loss, acc, gnorm, prev, last, solved, steps, c, tracking, B,
               params, z1, y, loss_o, acc_o, predicted, diverged, solved_o, settled_o, gnorm_o)


#: (parallel entry, single-threaded entry), as ``evaluate.EVALUATE``
FINISH = (finish_chunks, serial_finish)
