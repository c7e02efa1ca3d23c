"""The analytic gradient (the book's ``TwoLayerNet.gradient``: dy = (y - t) / 4 at the
output): the ``gd`` rule, textbook full-batch gradient descent with all four groups
updated together from the gradient at the current parameters, and its sequential twin
(``sequential``: W1, then b1 at the new W1, then W2, then b2, as the seed rule orders its
numerical gradient), staged, one forward pass per group.

Two implementations of one gd step, with the same operations in the same order (the
contract in ``kernels.lanes``), so the same bits:

- for H = 3 (the default) a fused step: one pass over the lanes computes the sigmoids,
  a second does the logits, softmax, output delta and update, keeping logits and deltas
  in registers.
  It works on the chunk flattened to 1-D with H a compile-time constant, so every
  row offset is a constant multiple of LANES: LLVM unrolls the loops over hidden
  units, proves that rows do not overlap and vectorises the whole pass (~1.8x the
  staged step). With a run-time H the loops over units would sit inside the lane
  loop and nothing would vectorise, hence
- for any other H the staged step: one lane loop per stage, H a run-time value.
"""
import numpy as np
from numba import njit, prange

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))
from xorsweep.kernels.layout import C_LR, C_ONE, C_QUARTER, C_ZERO, FUSED_H, LANES
from xorsweep.kernels.lanes import (INLINE, copy_rows, descend, evaluate, group_range, hidden, logits, sigmoid_rows,
                                   softmax, softmax2)
from xorsweep.kernels.track import (PACK_UNIT, TRACK_NORM, add_code, as_float, as_step, decisions, fold_lane_packed,
                                   pack_state, state_rows, track, unpack_state)
from xorsweep.kernels.xmath import EXACT, EXACT_FMA, EXACT_FMA2, LIBM

L = LANES


@njit(**INLINE)
def _fused_step(p, H, c, z, arith, tracking, s, state, last, solved):
    """One step s of the chunk p flattened to 1-D (row k of the parameters at k * L), two
    passes over the lanes; z holds the hidden activations between them, (4 * H * L,). With
    ``tracking``, the state at step s is folded into the packed state row, last and solved
    (``track.state_rows``) in the second pass (``kernels.track``: the same integers as
    ``track``, from values still in registers)."""
    one = c[C_ONE]
    q = c[C_QUARTER]
    lr = c[C_LR]
    half = q + q
    sf = as_step(s, one)
    sf1 = as_step(s + 1, one)
    zs = as_step(q - q, one)  # 0, unknown to the compiler
    o = 3 * H
    # the 12 sigmoids in a lane loop of their own: with the rest of the step in the same
    # loop, their constants and the step's values crowd the registers (3-7 % slower)
    for l in range(L):
        for j in range(H):
            z0, z1, z2, z3 = sigmoid_rows(p[j * L + l], p[(H + j) * L + l], p[(2 * H + j) * L + l], one, arith)
            zj = 4 * j * L + l
            z[zj], z[zj + L], z[zj + 2 * L], z[zj + 3 * L] = z0, z1, z2, z3
    for l in range(L):
        # forward: logits summed in order of the units
        z0, z1, z2, z3 = z[l], z[L + l], z[2 * L + l], z[3 * L + l]
        hcode = add_code(as_float(0, one), z0, z1, z2, z3, half, as_float(1, one))
        v0 = p[o * L + l]
        v1 = p[(o + 1) * L + l]
        s00, s01, s10, s11 = z0 * v0, z0 * v1, z1 * v0, z1 * v1
        s20, s21, s30, s31 = z2 * v0, z2 * v1, z3 * v0, z3 * v1
        for j in range(1, H):
            zj = 4 * j * L + l
            z0, z1, z2, z3 = z[zj], z[zj + L], z[zj + 2 * L], z[zj + 3 * L]
            hcode = add_code(hcode, z0, z1, z2, z3, half, as_float(PACK_UNIT ** j, one))
            v0 = p[(o + 2 * j) * L + l]
            v1 = p[(o + 2 * j + 1) * L + l]
            s00, s01, s10, s11 = s00 + z0 * v0, s01 + z0 * v1, s10 + z1 * v0, s11 + z1 * v1
            s20, s21, s30, s31 = s20 + z2 * v0, s21 + z2 * v1, s30 + z3 * v0, s31 + z3 * v1
        c0 = p[5 * H * L + l]
        c1 = p[(5 * H + 1) * L + l]
        y00, y01 = softmax2(s00 + c0, s01 + c1, one, arith)
        y10, y11 = softmax2(s10 + c0, s11 + c1, one, arith)
        y20, y21 = softmax2(s20 + c0, s21 + c1, one, arith)
        y30, y31 = softmax2(s30 + c0, s31 + c1, one, arith)
        if tracking:
            fold_lane_packed(y00, y01, y10, y11, y20, y21, y30, y31, hcode, sf, sf1, zs, state, last, solved, l)
        # dy = (y - t) / 4 for the labels [0, 1, 1, 0]
        a00, a01 = (y00 - one) * q, y01 * q
        a10, a11 = y10 * q, (y11 - one) * q
        a20, a21 = y20 * q, (y21 - one) * q
        a30, a31 = (y30 - one) * q, y31 * q
        # backward and update, unit by unit as in _backward_update
        for j in range(H):
            zj = 4 * j * L + l
            z0, z1, z2, z3 = z[zj], z[zj + L], z[zj + 2 * L], z[zj + 3 * L]
            iw = (o + 2 * j) * L + l
            w20 = p[iw]
            w21 = p[iw + L]
            g20 = ((z0 * a00 + z1 * a10) + z2 * a20) + z3 * a30
            g21 = ((z0 * a01 + z1 * a11) + z2 * a21) + z3 * a31
            d0 = ((one - z0) * z0) * (a00 * w20 + a01 * w21)
            d1 = ((one - z1) * z1) * (a10 * w20 + a11 * w21)
            d2 = ((one - z2) * z2) * (a20 * w20 + a21 * w21)
            d3 = ((one - z3) * z3) * (a30 * w20 + a31 * w21)
            p[j * L + l] = p[j * L + l] - lr * (d1 + d3)
            p[(H + j) * L + l] = p[(H + j) * L + l] - lr * (d2 + d3)
            p[(2 * H + j) * L + l] = p[(2 * H + j) * L + l] - lr * (((d0 + d1) + d2) + d3)
            p[iw] = w20 - lr * g20
            p[iw + L] = w21 - lr * g21
        gb0 = ((a00 + a10) + a20) + a30
        gb1 = ((a01 + a11) + a21) + a31
        p[5 * H * L + l] = p[5 * H * L + l] - lr * gb0
        p[(5 * H + 1) * L + l] = p[(5 * H + 1) * L + l] - lr * gb1


@njit(**INLINE)
def _unit_grads(p, H, c, z, a, j, l):
    """Hidden unit j's gradients in lane l, a holding dy: (W1[0, j], W1[1, j], b1[j],
    W2[j, 0], W2[j, 1])."""
    one = c[C_ONE]
    z0, z1, z2, z3 = z[0, j, l], z[1, j, l], z[2, j, l], z[3, j, l]
    w20 = p[3 * H + 2 * j, l]
    w21 = p[3 * H + 2 * j + 1, l]
    g20 = ((z0 * a[0, 0, l] + z1 * a[1, 0, l]) + z2 * a[2, 0, l]) + z3 * a[3, 0, l]
    g21 = ((z0 * a[0, 1, l] + z1 * a[1, 1, l]) + z2 * a[2, 1, l]) + z3 * a[3, 1, l]
    d0 = ((one - z0) * z0) * (a[0, 0, l] * w20 + a[0, 1, l] * w21)
    d1 = ((one - z1) * z1) * (a[1, 0, l] * w20 + a[1, 1, l] * w21)
    d2 = ((one - z2) * z2) * (a[2, 0, l] * w20 + a[2, 1, l] * w21)
    d3 = ((one - z3) * z3) * (a[3, 0, l] * w20 + a[3, 1, l] * w21)
    return d1 + d3, d2 + d3, ((d0 + d1) + d2) + d3, g20, g21


@njit(**INLINE)
def _output_bias_grads(a, l):
    """The gradients of b2 in lane l, a holding dy."""
    return (((a[0, 0, l] + a[1, 0, l]) + a[2, 0, l]) + a[3, 0, l],
            ((a[0, 1, l] + a[1, 1, l]) + a[2, 1, l]) + a[3, 1, l])


@njit(**INLINE)
def _backward_update(p, H, c, z, a):
    """a holds dy = (y - t) / 4; each hidden unit's gradients use only its own old
    W2 row, so updating unit j in place equals updating all groups together."""
    lr = c[C_LR]
    for j in range(H):
        for l in range(LANES):
            gw0, gw1, gb, g20, g21 = _unit_grads(p, H, c, z, a, j, l)
            p[j, l] = p[j, l] - lr * gw0
            p[H + j, l] = p[H + j, l] - lr * gw1
            p[2 * H + j, l] = p[2 * H + j, l] - lr * gb
            p[3 * H + 2 * j, l] = p[3 * H + 2 * j, l] - lr * g20
            p[3 * H + 2 * j + 1, l] = p[3 * H + 2 * j + 1, l] - lr * g21
    for l in range(LANES):
        gb0, gb1 = _output_bias_grads(a, l)
        p[5 * H, l] = p[5 * H, l] - lr * gb0
        p[5 * H + 1, l] = p[5 * H + 1, l] - lr * gb1


@njit(**INLINE)
def _group_grads(p, H, c, z, a, k, grad):
    """grad[:n] = the gradient of group k (0 W1, 1 b1, 2 W2, 3 b2) in layout order, a
    holding dy; the same operations as ``_backward_update``."""
    if k == 3:
        for l in range(LANES):
            grad[0, l], grad[1, l] = _output_bias_grads(a, l)
    else:
        for j in range(H):
            for l in range(LANES):
                gw0, gw1, gb, g20, g21 = _unit_grads(p, H, c, z, a, j, l)
                if k == 0:
                    grad[j, l] = gw0
                    grad[H + j, l] = gw1
                elif k == 1:
                    grad[j, l] = gb
                else:
                    grad[2 * j, l] = g20
                    grad[2 * j + 1, l] = g21


@njit(**INLINE)
def _grad_norm(p, H, c, z, a, out):
    """out = |gradient| of the step about to be taken (a holds dy), the squares summed
    unit by unit (W1[0, j], W1[1, j], b1[j], W2[j, 0], W2[j, 1]), then b2."""
    for l in range(LANES):
        out[l] = c[C_ZERO]
    for j in range(H):
        for l in range(LANES):
            gw0, gw1, gb, g20, g21 = _unit_grads(p, H, c, z, a, j, l)
            out[l] = ((((out[l] + gw0 * gw0) + gw1 * gw1) + gb * gb) + g20 * g20) + g21 * g21
    for l in range(LANES):
        gb0, gb1 = _output_bias_grads(a, l)
        out[l] = np.sqrt((out[l] + gb0 * gb0) + gb1 * gb1)


@njit(**INLINE)
def _output_delta(a, c):
    """Softmax outputs -> dy = (y - t) / 4 for the labels [0, 1, 1, 0], in place."""
    one = c[C_ONE]
    q = c[C_QUARTER]
    for l in range(LANES):
        a[0, 0, l] = (a[0, 0, l] - one) * q
        a[0, 1, l] = a[0, 1, l] * q
        a[1, 0, l] = a[1, 0, l] * q
        a[1, 1, l] = (a[1, 1, l] - one) * q
        a[2, 0, l] = a[2, 0, l] * q
        a[2, 1, l] = (a[2, 1, l] - one) * q
        a[3, 0, l] = (a[3, 0, l] - one) * q
        a[3, 1, l] = a[3, 1, l] * q


@njit(**INLINE)
def _body(p, H, fused, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, tracking, sequential, arith):
    """Train one chunk p (P, LANES); ``fused`` needs H to be a compile-time constant.
    With ``sequential`` each step updates W1, b1, W2, b2 in turn, each group's gradient
    taken at the parameters its predecessors left (four forward passes, staged).
    With ``tracking`` (``kernels.track.TRACK``), fold each step's state into prev/last/solved
    (``kernels.track``); with ``TRACK_NORM`` also record the norm of the last step's
    gradient in gnorm (taking that step staged: same bits)."""
    z = np.empty((4, H, LANES), p.dtype)
    a = np.empty((4, 2, LANES), p.dtype)
    grad = np.empty((2 * H, LANES), p.dtype)
    gsq = np.empty(LANES, p.dtype)
    flat = p.reshape(p.size)
    zflat = np.empty(4 * H * LANES, p.dtype)
    pflat = prev.reshape(prev.size)
    # the fused step's state packed in a row as wide as the floats (track.state_rows), packed
    # before its first step and unpacked before a staged step and at the end
    pw, lw, sw = state_rows(LANES, p)
    wide = False
    dec = np.empty(4 * LANES, np.int8)
    changed = np.empty(LANES, np.bool_)
    t = 0
    for s in range(steps + 1):
        if every > 0 and s % every == 0:
            copy_rows(p, traj[t])
            evaluate(p, H, c, z, a, tloss[t], tacc[t], arith)
            t += 1
        if s == steps:
            break
        if fused and not sequential and not (tracking == TRACK_NORM and s == steps - 1):
            # tracking a constant in each copy: with it a run-time value, the lane loop holds
            # conditional int8 stores, which AVX2 cannot mask: 2.2x slower on an AVX2 machine
            # (AMD EPYC Zen 3, one thread, 102 against 46 ns per network-step), as fast with AVX-512
            if tracking:
                if not wide:
                    pack_state(pflat, last, solved, pw, lw, sw)
                    wide = True
                _fused_step(flat, H, c, zflat, arith, True, s, pw, lw, sw)
            else:
                _fused_step(flat, H, c, zflat, arith, False, s, pw, lw, sw)
            continue
        if wide:
            unpack_state(pw, lw, sw, pflat, last, solved)
            wide = False
        for l in range(LANES):
            gsq[l] = c[C_ZERO]
        for k in range(4 if sequential else 1):
            hidden(p, H, c, z, arith)
            logits(p, H, z, a)
            softmax(a, c, arith)
            if tracking and k == 0:
                decisions(a, dec)
                track(z.reshape(z.size), H * L, L, H, dec, c, s, prev, last, solved, changed)
            _output_delta(a, c)
            if sequential:
                lo, hi = group_range(H, k, True)
                _group_grads(p, H, c, z, a, k, grad)
                descend(p, lo, hi, grad, c, gsq)
            else:
                if tracking == TRACK_NORM and s == steps - 1:
                    _grad_norm(p, H, c, z, a, gnorm)
                _backward_update(p, H, c, z, a)
        if sequential and tracking == TRACK_NORM and s == steps - 1:
            for l in range(LANES):
                gnorm[l] = np.sqrt(gsq[l])
    if wide:
        unpack_state(pw, lw, sw, pflat, last, solved)


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
    """Train every chunk of P (chunks, P, LANES) in place with the ``exact`` arithmetic and the
    staged step (``train_fused_exact``: H = 3, the fused step); record into traj/tloss/tacc;
    with ``tracking``, the outcome state into prev (chunks, H + 1, LANES), last, solved and
    gnorm (chunks, LANES); ``sequential`` updates the groups in turn (False: the gd rule).
    ``fused`` is ignored (the entries of both gradients take the same arguments). One entry
    per arithmetic and step, parallel or not, so a run compiles only the code it runs."""
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
    """``train_chunks_exact`` with the ``exact`` arithmetic, the fused step."""
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
    """``train_chunks_exact`` with the ``libm`` arithmetic, the fused step."""
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
    """``train_chunks_exact`` with the ``exact-fma`` arithmetic, the fused step."""
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
    """``train_chunks_exact`` with the ``exact-fma2`` arithmetic, the fused step."""
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
