"""The numerical gradient: the ``seed`` rule (what the blog author ran, DESIGN §1) and
its simultaneous twin.

The book's numerical gradient (central difference, h, element by element in row-major
order, the element restored after each pair of evaluations). With ``sequential`` (the
``seed`` rule) the four groups are updated one after another inside each iteration: W1,
then b1 at the new W1, then W2, then b2; without it every element's difference is taken
at the same parameters and all are updated together.

Each perturbed loss is evaluated incrementally: only the hidden activations and the
per-row loss terms that the perturbed element can change are recomputed, the rest are
reused. Every value is produced by the same operations on the same inputs as a full
forward pass, so the bits are those of the book's full re-evaluation.
"""
import numpy as np
from numba import njit, prange

from xorsweep.kernels.layout import C_GUARD, C_H, C_ONE, C_QUARTER, C_TWO_H, C_ZERO, LANES
from xorsweep.kernels.lanes import INLINE, copy_rows, descend, evaluate, group_range, hidden, softmax2
from xorsweep.kernels.track import TRACK_NORM, track
from xorsweep.kernels.xmath import EXACT, EXACT_FMA, EXACT_FMA2, LIBM, xexp_plus1, xlog

LABEL = (0, 1, 1, 0)


@njit(**INLINE)
def _unit_row(p, H, c, z, r, j, arith):
    """z[r, j] = sigmoid(x_r @ W1[:, j] + b1[j]) for one input row r."""
    one = c[C_ONE]
    if r == 0:
        for l in range(LANES):
            z[0, j, l] = one / xexp_plus1(-p[2 * H + j, l], arith)
    elif r == 1:
        for l in range(LANES):
            z[1, j, l] = one / xexp_plus1(-(p[j, l] + p[2 * H + j, l]), arith)
    elif r == 2:
        for l in range(LANES):
            z[2, j, l] = one / xexp_plus1(-(p[H + j, l] + p[2 * H + j, l]), arith)
    else:
        for l in range(LANES):
            z[3, j, l] = one / xexp_plus1(-((p[j, l] + p[H + j, l]) + p[2 * H + j, l]), arith)


@njit(**INLINE)
def _row_term(p, H, c, z, r, acc, terms, dec, arith):
    """terms[r] = log(y[r, label_r] + 1e-7) from the cached z[r]; dec[r * LANES + l] the
    row's decision (argmax of y, ties and NaN 0, as ``track.decisions``)."""
    one = c[C_ONE]
    g = c[C_GUARD]
    o = 3 * H
    for l in range(LANES):
        acc[0, l] = z[r, 0, l] * p[o, l]
        acc[1, l] = z[r, 0, l] * p[o + 1, l]
    for j in range(1, H):
        for l in range(LANES):
            acc[0, l] = acc[0, l] + z[r, j, l] * p[o + 2 * j, l]
            acc[1, l] = acc[1, l] + z[r, j, l] * p[o + 2 * j + 1, l]
    label = LABEL[r]
    # the log in a lane loop of its own, acc[0] carrying its argument: with the softmax in
    # the same loop, the two's constants crowd the registers (a third slower)
    for l in range(LANES):
        y0, y1 = softmax2(acc[0, l] + p[5 * H, l], acc[1, l] + p[5 * H + 1, l], one, arith)
        acc[0, l] = (y1 if label else y0) + g
        dec[r * LANES + l] = y1 > y0
    for l in range(LANES):
        terms[r, l] = xlog(acc[0, l], arith)


@njit(**INLINE)
def _combine(c, terms, out):
    q = c[C_QUARTER]
    for l in range(LANES):
        out[l] = -(((terms[0, l] + terms[1, l]) + terms[2, l]) + terms[3, l]) * q


@njit(**INLINE)
def _loss_after(p, H, c, z, e, acc, terms, dec, out, arith):
    """Loss with parameter row e changed, z and terms holding the unchanged state: for
    W1[i, j] or b1[j], unit j on the rows its input reaches, then those rows' terms; for W2
    or b2, every row's term. (Each helper is called from one place: numba copies an
    inlined function's IR at every call site, and those copies are most of the compile time.)"""
    hid = e < 3 * H
    j = e % H
    i = e // H
    for r in range(4):
        if not hid or i == 2 or (i == 0 and (r == 1 or r == 3)) or (i == 1 and r >= 2):
            if hid:
                _unit_row(p, H, c, z, r, j, arith)
            _row_term(p, H, c, z, r, acc, terms, dec, arith)
    _combine(c, terms, out)


@njit(**INLINE)
def _base_state(p, H, c, z, acc, terms, dec, arith):
    hidden(p, H, c, z, arith)
    for r in range(4):
        _row_term(p, H, c, z, r, acc, terms, dec, arith)


@njit(**INLINE)
def _group_step(p, H, c, lo, hi, z, acc, terms, base, zsave, grad, v, fp, fm, gsq, arith, tracking, dec, s, prev,
                last, solved, changed):
    """One update of the parameter rows [lo, hi); with ``tracking``, first fold the state
    at its parameters (the base state's z and decisions) into prev/last/solved."""
    h = c[C_H]
    two_h = c[C_TWO_H]
    _base_state(p, H, c, z, acc, base, dec, arith)
    if tracking:
        track(z.reshape(z.size), H * LANES, LANES, H, dec, c, s, prev, last, solved, changed)
    for e in range(lo, hi):
        j = e % H
        for l in range(LANES):
            for r in range(4):
                zsave[r, l] = z[r, j, l]
                terms[r, l] = base[r, l]
            v[l] = p[e, l]
        for k in range(2):  # loss at v + h into fp, then at v - h into fm (one inlined copy)
            for l in range(LANES):
                p[e, l] = v[l] + h if k == 0 else v[l] - h
            _loss_after(p, H, c, z, e, acc, terms, dec, fp if k == 0 else fm, arith)
        for l in range(LANES):
            grad[e - lo, l] = (fp[l] - fm[l]) / two_h
            p[e, l] = v[l]
        if e < 3 * H:
            for l in range(LANES):
                for r in range(4):
                    z[r, j, l] = zsave[r, l]
    descend(p, lo, hi, grad, c, gsq)


@njit(**INLINE)
def _body(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, arith):
    """Train one chunk, the groups updated in turn (``sequential``) or together; with
    ``tracking``, fold each step's state into prev/last/solved (``kernels.track``, from the
    first group step's base state: no extra forward pass) and put the norm of the gradient
    used in the last step (all four groups, in layout order) into gnorm."""
    H = (p.shape[0] - 2) // 5
    dt = p.dtype
    z = np.empty((4, H, LANES), dt)
    y = np.empty((4, 2, LANES), dt)
    acc = np.empty((2, LANES), dt)
    terms = np.empty((4, LANES), dt)
    base = np.empty((4, LANES), dt)
    zsave = np.empty((4, LANES), dt)
    grad = np.empty((5 * H + 2, LANES), dt)
    v = np.empty(LANES, dt)
    fp = np.empty(LANES, dt)
    fm = np.empty(LANES, dt)
    gsq = np.empty(LANES, dt)
    dec = np.empty(4 * LANES, np.int8)
    changed = np.empty(LANES, np.bool_)
    t = 0
    for s in range(steps + 1):
        if every > 0 and s % every == 0:
            copy_rows(p, traj[t])
            evaluate(p, H, c, z, y, tloss[t], tacc[t], arith)
            t += 1
        if s == steps:
            break
        for l in range(LANES):
            gsq[l] = c[C_ZERO]
        for k in range(4 if sequential else 1):
            lo, hi = group_range(H, k, sequential)
            _group_step(p, H, c, lo, hi, z, acc, terms, base, zsave, grad, v, fp, fm, gsq, arith, tracking and k == 0,
                        dec, s, prev, last, solved, changed)
        if tracking == TRACK_NORM and s == steps - 1:
            for l in range(LANES):
                gnorm[l] = np.sqrt(gsq[l])


@njit(error_model="numpy", cache=True)
def _chunk_exact(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, EXACT)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_exact(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """Train every chunk of P (chunks, P, LANES) in place with the ``exact`` arithmetic, the
    groups updated in turn (``sequential``: the seed rule) or together; record into
    traj/tloss/tacc; with ``tracking``, the outcome state into prev (chunks, H + 1, LANES),
    last, solved and gnorm (chunks, LANES). ``fused`` is unused here (the entries of both
    gradients take the same arguments)."""
    for i in prange(P.shape[0]):
        _chunk_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                      tracking, sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_exact(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                  tracking, sequential)


@njit(error_model="numpy", cache=True)
def _chunk_libm(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, LIBM)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_libm(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``libm`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                      tracking, sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_libm(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_libm`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                  tracking, sequential)


@njit(error_model="numpy", cache=True)
def _chunk_fma(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, EXACT_FMA)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_fma(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact-fma`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_fma(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                      tracking, sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_fma(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_fma`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_fma(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                  tracking, sequential)


@njit(error_model="numpy", cache=True)
def _chunk_fma2(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, EXACT_FMA2)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_fma2(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact-fma2`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_fma2(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                    tracking, sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_fma2(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_fma2`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_fma2(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i],
                    tracking, sequential)


#: arith code -> {(threaded, fused): entry}; fused (H = 3 in gd's fused step) is the same code here
TRAIN = {code: {(True, False): par, (True, True): par, (False, False): ser, (False, True): ser}
         for code, (par, ser) in ((EXACT, (train_chunks_exact, serial_chunks_exact)),
                                  (LIBM, (train_chunks_libm, serial_chunks_libm)),
                                  (EXACT_FMA, (train_chunks_fma, serial_chunks_fma)),
                                  (EXACT_FMA2, (train_chunks_fma2, serial_chunks_fma2)))}
