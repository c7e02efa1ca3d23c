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
forward pass, so the bits are those of the book's full re-evaluation. A perturbed loss
needs only the label's softmax output of each row it recomputes: one division (its
numerator, 1 or E, chosen first), not two; the base state takes both, for the decisions.

For H = 3 (``layout.FUSED_H``, the default) the entries are compiled with H a constant:
a row's logits and softmax then share one lane loop (with a run-time H, the loop over
the units inside it would keep it from vectorising). Same operations, same bits.
"""
import numpy as np
from numba import njit, prange

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))
from xorsweep.kernels.layout import C_GUARD, C_H, C_ONE, C_QUARTER, C_TWO_H, C_ZERO, FUSED_H, LANES
from xorsweep.kernels.lanes import INLINE, copy_rows, descend, evaluate, group_range, hidden, softmax2, softmax2_of
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
def _log_arg(a0, a1, label, decide, one, g, arith):
    """(y[label] + 1e-7, y1 > y0) of the logits; without ``decide`` the decision is not
    needed (False) and y[label] takes one division instead of two, the same bits."""
    if decide:
        y0, y1 = softmax2(a0, a1, one, arith)
        return (y1 if label else y0) + g, y1 > y0
    return softmax2_of(a0, a1, label, one, arith) + g, False


@njit(**INLINE)
def _row_term(p, H, fused, c, z, r, acc, terms, dec, decide, arith):
    """terms[r] = log(y[r, label_r] + 1e-7) from the cached z[r]; with ``decide``,
    dec[r * LANES + l] the row's decision (argmax of y, ties and NaN 0, as
    ``track.decisions``). ``fused`` (H a compile-time constant): the logits and the softmax
    in one lane loop; else the logits unit by unit, one lane loop each (a loop over a
    run-time H inside the lane loop would keep it from vectorising). The log has a lane
    loop of its own, acc[0] carrying its argument: with the softmax in the same loop, the
    two's constants crowd the registers (a third slower)."""
    one = c[C_ONE]
    g = c[C_GUARD]
    o = 3 * H
    label = LABEL[r]
    if fused:
        for l in range(LANES):
            a0 = z[r, 0, l] * p[o, l]
            a1 = z[r, 0, l] * p[o + 1, l]
            for j in range(1, H):
                a0 = a0 + z[r, j, l] * p[o + 2 * j, l]
                a1 = a1 + z[r, j, l] * p[o + 2 * j + 1, l]
            acc[0, l], d = _log_arg(a0 + p[5 * H, l], a1 + p[5 * H + 1, l], label, decide, one, g, arith)
            if decide:
                dec[r * LANES + l] = d
    else:
        for l in range(LANES):
            acc[0, l] = z[r, 0, l] * p[o, l]
            acc[1, l] = z[r, 0, l] * p[o + 1, l]
        for j in range(1, H):
            for l in range(LANES):
                acc[0, l] = acc[0, l] + z[r, j, l] * p[o + 2 * j, l]
                acc[1, l] = acc[1, l] + z[r, j, l] * p[o + 2 * j + 1, l]
        for l in range(LANES):
            acc[0, l], d = _log_arg(acc[0, l] + p[5 * H, l], acc[1, l] + p[5 * H + 1, l], label, decide, one, g,
                                    arith)
            if decide:
                dec[r * LANES + l] = d
    for l in range(LANES):
        terms[r, l] = xlog(acc[0, l], arith)


@njit(**INLINE)
def _combine(c, terms, out):
    q = c[C_QUARTER]
    for l in range(LANES):
        out[l] = -(((terms[0, l] + terms[1, l]) + terms[2, l]) + terms[3, l]) * q


@njit(**INLINE)
def _loss_after(p, H, fused, c, z, e, acc, terms, dec, out, arith):
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
            _row_term(p, H, fused, c, z, r, acc, terms, dec, False, arith)
    _combine(c, terms, out)


@njit(**INLINE)
def _base_state(p, H, fused, c, z, acc, terms, dec, arith):
    hidden(p, H, c, z, arith)
    for r in range(4):
        _row_term(p, H, fused, c, z, r, acc, terms, dec, True, arith)


@njit(**INLINE)
def _group_step(p, H, fused, c, lo, hi, z, acc, terms, base, zsave, grad, v, fp, fm, gsq, arith, tracking, dec, s, prev,
                last, solved, changed):
    """One update of the parameter rows [lo, hi); with ``tracking``, first fold the state
    at its parameters (the base state's z and decisions) into prev/last/solved."""
    h = c[C_H]
    two_h = c[C_TWO_H]
    _base_state(p, H, fused, c, z, acc, base, dec, arith)
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
            _loss_after(p, H, fused, c, z, e, acc, terms, dec, fp if k == 0 else fm, arith)
        for l in range(LANES):
            grad[e - lo, l] = (fp[l] - fm[l]) / two_h
            p[e, l] = v[l]
        if e < 3 * H:
            for l in range(LANES):
                for r in range(4):
                    z[r, j, l] = zsave[r, l]
    descend(p, lo, hi, grad, c, gsq)


@njit(**INLINE)
def _body(p, H, fused, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, arith):
    """Train one chunk, the groups updated in turn (``sequential``) or together; with
    ``tracking``, fold each step's state into prev/last/solved (``kernels.track``, from the
    first group step's base state: no extra forward pass) and put the norm of the gradient
    used in the last step (all four groups, in layout order) into gnorm. ``fused`` needs H
    to be a compile-time constant."""
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
            _group_step(p, H, fused, c, lo, hi, z, acc, terms, base, zsave, grad, v, fp, fm, gsq, arith,
                        tracking and k == 0, dec, s, prev, last, solved, changed)
        if tracking == TRACK_NORM and s == steps - 1:
            for l in range(LANES):
                gnorm[l] = np.sqrt(gsq[l])


@njit(error_model="numpy", cache=True)
def _chunk_exact(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, (p.shape[0] - 2) // 5, False, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking,
          sequential, EXACT)


@njit(error_model="numpy", cache=True)
def _fused_exact(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, FUSED_H, True, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential,
          EXACT)


@njit(error_model="numpy", cache=True)
def _chunk_libm(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, (p.shape[0] - 2) // 5, False, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking,
          sequential, LIBM)


@njit(error_model="numpy", cache=True)
def _fused_libm(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, FUSED_H, True, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential,
          LIBM)


@njit(error_model="numpy", cache=True)
def _chunk_fma(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, (p.shape[0] - 2) // 5, False, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking,
          sequential, EXACT_FMA)


@njit(error_model="numpy", cache=True)
def _fused_fma(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, FUSED_H, True, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential,
          EXACT_FMA)


@njit(error_model="numpy", cache=True)
def _chunk_fma2(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, (p.shape[0] - 2) // 5, False, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking,
          sequential, EXACT_FMA2)


@njit(error_model="numpy", cache=True)
def _fused_fma2(p, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential):
    _body(p, FUSED_H, True, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential,
          EXACT_FMA2)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_exact(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """Train every chunk of P (chunks, P, LANES) in place with the ``exact`` arithmetic, H a
    run-time value (``train_fused_exact``: H = 3, a compile-time constant), the groups
    updated in turn (``sequential``: the seed rule) or together; record into
    traj/tloss/tacc; with ``tracking``, the outcome state into prev (chunks, H + 1, LANES),
    last, solved and gnorm (chunks, LANES). ``fused`` is ignored (the entries of both
    gradients take the same arguments). One entry per arithmetic and H, parallel or not, so
    a run compiles only the code it runs."""
    for i in prange(P.shape[0]):
        _chunk_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                     sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_exact(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                     sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_fused_exact(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact`` arithmetic, H = 3."""
    for i in prange(P.shape[0]):
        _fused_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                     sequential)


@njit(error_model="numpy", cache=True)
def serial_fused_exact(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_fused_exact`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _fused_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                     sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_libm(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``libm`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_libm(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_libm`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_fused_libm(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``libm`` arithmetic, H = 3."""
    for i in prange(P.shape[0]):
        _fused_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(error_model="numpy", cache=True)
def serial_fused_libm(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_fused_libm`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _fused_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_fma(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact-fma`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_fma(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                   sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_fma(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_fma`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_fma(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                   sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_fused_fma(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact-fma`` arithmetic, H = 3."""
    for i in prange(P.shape[0]):
        _fused_fma(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                   sequential)


@njit(error_model="numpy", cache=True)
def serial_fused_fma(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_fused_fma`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _fused_fma(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                   sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks_fma2(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact-fma2`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_fma2(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(error_model="numpy", cache=True)
def serial_chunks_fma2(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_fma2`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_fma2(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(parallel=True, error_model="numpy", cache=True)
def train_fused_fma2(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_chunks_exact`` with the ``exact-fma2`` arithmetic, H = 3."""
    for i in prange(P.shape[0]):
        _fused_fma2(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


@njit(error_model="numpy", cache=True)
def serial_fused_fma2(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, fused):
    """``train_fused_fma2`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _fused_fma2(P[i], c, steps, every, traj[i], tloss[i], tacc[i], prev[i], last[i], solved[i], gnorm[i], tracking,
                    sequential)


#: arith code -> {(threaded, fused): entry}
TRAIN = {code: {(True, False): train_chunks, (True, True): train_fused, (False, False): serial_chunks,
                (False, True): serial_fused}
         for code, (train_chunks, train_fused, serial_chunks, serial_fused) in (
             (EXACT, (train_chunks_exact, train_fused_exact, serial_chunks_exact, serial_fused_exact)),
             (LIBM, (train_chunks_libm, train_fused_libm, serial_chunks_libm, serial_fused_libm)),
             (EXACT_FMA, (train_chunks_fma, train_fused_fma, serial_chunks_fma, serial_fused_fma)),
             (EXACT_FMA2, (train_chunks_fma2, train_fused_fma2, serial_chunks_fma2, serial_fused_fma2)))}
