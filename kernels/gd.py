"""The ``gd`` rule: textbook full-batch gradient descent with the analytic gradient.

All four groups are updated together from the gradient at the current parameters
(the book's ``TwoLayerNet.gradient``: dy = (y - t) / 4 at the output).
"""
import numpy as np
from numba import njit, prange

from kernels.layout import C_LR, C_ONE, C_QUARTER, LANES
from kernels.lanes import INLINE, evaluate, hidden, logits, softmax


@njit(**INLINE)
def _backward_update(p, H, c, z, a):
    """a holds dy = (y - t) / 4; each hidden unit's gradients use only its own old
    W2 row, so updating unit j in place equals updating all groups together."""
    lr = c[C_LR]
    one = c[C_ONE]
    for j in range(H):
        for l in range(LANES):
            z0, z1, z2, z3 = z[0, j, l], z[1, j, l], z[2, j, l], z[3, j, l]
            w20 = p[3 * H + 2 * j, l]
            w21 = p[3 * H + 2 * j + 1, l]
            g20 = ((z0 * a[0, 0, l] + z1 * a[1, 0, l]) + z2 * a[2, 0, l]) + z3 * a[3, 0, l]
            g21 = ((z0 * a[0, 1, l] + z1 * a[1, 1, l]) + z2 * a[2, 1, l]) + z3 * a[3, 1, l]
            d0 = ((one - z0) * z0) * (a[0, 0, l] * w20 + a[0, 1, l] * w21)
            d1 = ((one - z1) * z1) * (a[1, 0, l] * w20 + a[1, 1, l] * w21)
            d2 = ((one - z2) * z2) * (a[2, 0, l] * w20 + a[2, 1, l] * w21)
            d3 = ((one - z3) * z3) * (a[3, 0, l] * w20 + a[3, 1, l] * w21)
            p[j, l] = p[j, l] - lr * (d1 + d3)
            p[H + j, l] = p[H + j, l] - lr * (d2 + d3)
            p[2 * H + j, l] = p[2 * H + j, l] - lr * (((d0 + d1) + d2) + d3)
            p[3 * H + 2 * j, l] = w20 - lr * g20
            p[3 * H + 2 * j + 1, l] = w21 - lr * g21
    for l in range(LANES):
        gb0 = ((a[0, 0, l] + a[1, 0, l]) + a[2, 0, l]) + a[3, 0, l]
        gb1 = ((a[0, 1, l] + a[1, 1, l]) + a[2, 1, l]) + a[3, 1, l]
        p[5 * H, l] = p[5 * H, l] - lr * gb0
        p[5 * H + 1, l] = p[5 * H + 1, l] - lr * gb1


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
def _body(p, c, steps, every, traj, tloss, tacc, libm):
    H = (p.shape[0] - 2) // 5
    z = np.empty((4, H, LANES), p.dtype)
    a = np.empty((4, 2, LANES), p.dtype)
    t = 0
    for s in range(steps + 1):
        if every > 0 and s % every == 0:
            traj[t] = p
            evaluate(p, H, c, z, a, tloss[t], tacc[t], libm)
            t += 1
        if s == steps:
            break
        hidden(p, H, c, z, libm)
        logits(p, H, z, a)
        softmax(a, c, libm)
        _output_delta(a, c)
        _backward_update(p, H, c, z, a)


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
