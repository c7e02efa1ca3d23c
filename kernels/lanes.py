"""Building blocks on one chunk of LANES networks, shared by both gradients and both update orders.

Arrays hold one chunk: parameters ``p`` (P, LANES), hidden activations ``z``
(4, H, LANES), output logits or softmax ``a`` (4, 2, LANES). Every block is inlined at
Numba-IR level so that the ``arith`` code is a constant in each compiled variant and the
lane loops (innermost, fixed trip count) vectorise. The order of every floating-point
operation is fixed here and is the arithmetic contract of the kernels:

- a1 = x @ W1 + b1 row by row (x is 0/1, so a1 is b, w0 + b, w1 + b, (w0 + w1) + b);
- z1 = 1 / (1 + exp(-a1));  a2[r, k] = ((z0·W2[0,k] + z1·W2[1,k]) + ...) + b2[k];
- two-class softmax with one exp: E = exp(-|a1 - a0|), big = 1/(1 + E), small = E/(1 + E)
  (bit-identical to exp(a - max) / sum);
- loss = -(((l0 + l1) + l2) + l3) / 4 with l_r = log(y[r, label_r] + 1e-7).
"""
from numba import njit

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))
from xorsweep.kernels.layout import C_GUARD, C_LR, C_ONE, C_QUARTER, LANES
from xorsweep.kernels.xmath import xexp, xexp_plus1, xlog

INLINE = dict(inline="always", error_model="numpy", cache=True)


@njit(**INLINE)
def copy_rows(src, dst):
    """dst[...] = src for two (rows, LANES) arrays, without numba's slice assignment (whose
    shape-mismatch message alone costs seconds of compile time in every kernel)."""
    for k in range(src.shape[0]):
        for l in range(src.shape[1]):
            dst[k, l] = src[k, l]


@njit(**INLINE)
def sigmoid_rows(w0, w1, b, one, arith):
    """One hidden unit (weights w0, w1, bias b) on the four input rows."""
    return (one / xexp_plus1(-b, arith),
            one / xexp_plus1(-(w0 + b), arith),
            one / xexp_plus1(-(w1 + b), arith),
            one / xexp_plus1(-((w0 + w1) + b), arith))


@njit(**INLINE)
def hidden(p, H, c, z, arith):
    one = c[C_ONE]
    for j in range(H):
        for l in range(LANES):
            z[0, j, l], z[1, j, l], z[2, j, l], z[3, j, l] = sigmoid_rows(
                p[j, l], p[H + j, l], p[2 * H + j, l], one, arith)


@njit(**INLINE)
def logits(p, H, z, a):
    """a[r, k] = sum_j z[r, j] W2[j, k] + b2[k], summed in order of j."""
    o = 3 * H
    for l in range(LANES):
        w0 = p[o, l]
        w1 = p[o + 1, l]
        for r in range(4):
            a[r, 0, l] = z[r, 0, l] * w0
            a[r, 1, l] = z[r, 0, l] * w1
    for j in range(1, H):
        for l in range(LANES):
            w0 = p[o + 2 * j, l]
            w1 = p[o + 2 * j + 1, l]
            for r in range(4):
                a[r, 0, l] = a[r, 0, l] + z[r, j, l] * w0
                a[r, 1, l] = a[r, 1, l] + z[r, j, l] * w1
    for l in range(LANES):
        b0 = p[5 * H, l]
        b1 = p[5 * H + 1, l]
        for r in range(4):
            a[r, 0, l] = a[r, 0, l] + b0
            a[r, 1, l] = a[r, 1, l] + b1


@njit(**INLINE)
def softmax2(a0, a1, one, arith):
    """Two-class softmax of the logits (a0, a1) -> (y0, y1)."""
    d = a1 - a0
    e = xexp(-abs(d), arith)
    s = one + e
    big = one / s
    small = e / s
    if d <= 0:
        return big, small
    return small, big


@njit(**INLINE)
def softmax2_of(a0, a1, k, one, arith):
    """softmax2(a0, a1, ...)[k] with one division: its numerator (1 or E) chosen first,
    the same bits (NaN included: d <= 0 is then false in both)."""
    d = a1 - a0
    e = xexp(-abs(d), arith)
    s = one + e
    big = (d <= 0) != (k == 1)
    return (one if big else e) / s


@njit(**INLINE)
def softmax(a, c, arith):
    """Logits -> softmax outputs, in place."""
    one = c[C_ONE]
    for l in range(LANES):
        for r in range(4):
            y0, y1 = softmax2(a[r, 0, l], a[r, 1, l], one, arith)
            a[r, 0, l] = y0
            a[r, 1, l] = y1


@njit(**INLINE)
def loss_of_softmax(y, c, out, arith):
    """Cross-entropy of the labels [0, 1, 1, 0] from softmax outputs y (4, 2, LANES)."""
    g = c[C_GUARD]
    q = c[C_QUARTER]
    for l in range(LANES):
        s = xlog(y[0, 0, l] + g, arith) + xlog(y[1, 1, l] + g, arith)
        s = s + xlog(y[2, 1, l] + g, arith)
        s = s + xlog(y[3, 0, l] + g, arith)
        out[l] = -s * q


@njit(**INLINE)
def accuracy_of_softmax(y, c, out):
    q = c[C_QUARTER]
    for l in range(LANES):
        hits = 0
        # predicted = argmax: 1 only where y1 > y0 (ties and NaN give 0)
        hits += 1 - (y[0, 1, l] > y[0, 0, l])
        hits += y[1, 1, l] > y[1, 0, l]
        hits += y[2, 1, l] > y[2, 0, l]
        hits += 1 - (y[3, 1, l] > y[3, 0, l])
        out[l] = hits * q


@njit(**INLINE)
def evaluate(p, H, c, z, y, loss, acc, arith):
    """Forward pass of the chunk: fills z, y (softmax), loss and accuracy."""
    hidden(p, H, c, z, arith)
    logits(p, H, z, y)
    softmax(y, c, arith)
    loss_of_softmax(y, c, loss, arith)
    accuracy_of_softmax(y, c, acc)


@njit(**INLINE)
def group_range(H, k, sequential):
    """[lo, hi) of the parameters updated by update k of a step: with ``sequential`` the
    groups W1, b1, W2, b2 in turn (k = 0 ... 3), else all of them at once (k = 0)."""
    if not sequential:
        return 0, 5 * H + 2
    if k == 0:
        return 0, 2 * H
    if k == 1:
        return 2 * H, 3 * H
    if k == 2:
        return 3 * H, 5 * H
    return 5 * H, 5 * H + 2


@njit(**INLINE)
def descend(p, lo, hi, grad, c, gsq):
    """p[lo:hi] -= lr * grad[:hi - lo]; gsq += the gradient's squares, in layout order."""
    lr = c[C_LR]
    for e in range(lo, hi):
        for l in range(LANES):
            gsq[l] = gsq[l] + grad[e - lo, l] * grad[e - lo, l]
            p[e, l] = p[e, l] - lr * grad[e - lo, l]
