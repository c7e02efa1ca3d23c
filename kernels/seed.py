"""The ``seed`` rule: what the blog author ran (DESIGN §1).

The book's numerical gradient (central difference, h, element by element in row-major
order, the element restored after each pair of evaluations), with the four groups
updated one after another inside each iteration: W1, then b1 at the new W1, then W2,
then b2.
"""
import numpy as np
from numba import njit, prange

from kernels.layout import C_H, C_LR, C_TWO_H, LANES
from kernels.lanes import INLINE, evaluate, hidden, logits, loss_of_softmax, softmax


@njit(**INLINE)
def _loss(p, H, c, z, a, out, libm):
    hidden(p, H, c, z, libm)
    logits(p, H, z, a)
    softmax(a, c, libm)
    loss_of_softmax(a, c, out, libm)


@njit(**INLINE)
def _group_step(p, H, c, lo, hi, z, a, grad, v, fp, fm, libm):
    h = c[C_H]
    two_h = c[C_TWO_H]
    lr = c[C_LR]
    for e in range(lo, hi):
        for l in range(LANES):
            v[l] = p[e, l]
            p[e, l] = v[l] + h
        _loss(p, H, c, z, a, fp, libm)
        for l in range(LANES):
            p[e, l] = v[l] - h
        _loss(p, H, c, z, a, fm, libm)
        for l in range(LANES):
            grad[e - lo, l] = (fp[l] - fm[l]) / two_h
            p[e, l] = v[l]
    for e in range(lo, hi):
        for l in range(LANES):
            p[e, l] = p[e, l] - lr * grad[e - lo, l]


@njit(**INLINE)
def _body(p, c, steps, every, traj, tloss, tacc, libm):
    H = (p.shape[0] - 2) // 5
    dt = p.dtype
    z = np.empty((4, H, LANES), dt)
    a = np.empty((4, 2, LANES), dt)
    grad = np.empty((2 * H, LANES), dt)
    v = np.empty(LANES, dt)
    fp = np.empty(LANES, dt)
    fm = np.empty(LANES, dt)
    t = 0
    for s in range(steps + 1):
        if every > 0 and s % every == 0:
            traj[t] = p
            evaluate(p, H, c, z, a, tloss[t], tacc[t], libm)
            t += 1
        if s == steps:
            break
        for lo, hi in ((0, 2 * H), (2 * H, 3 * H), (3 * H, 5 * H), (5 * H, 5 * H + 2)):
            _group_step(p, H, c, lo, hi, z, a, grad, v, fp, fm, libm)


@njit(error_model="numpy", cache=True)
def _chunk_exact(p, c, steps, every, traj, tloss, tacc):
    _body(p, c, steps, every, traj, tloss, tacc, False)


@njit(error_model="numpy", cache=True)
def _chunk_libm(p, c, steps, every, traj, tloss, tacc):
    _body(p, c, steps, every, traj, tloss, tacc, True)


@njit(parallel=True, error_model="numpy", cache=True)
def train_chunks(P, c, steps, every, traj, tloss, tacc, libm):
    """Train every chunk of P (chunks, P, LANES) in place; record into traj/tloss/tacc."""
    for i in prange(P.shape[0]):
        if libm:
            _chunk_libm(P[i], c, steps, every, traj[i], tloss[i], tacc[i])
        else:
            _chunk_exact(P[i], c, steps, every, traj[i], tloss[i], tacc[i])
