"""Parameter layout shared by every kernel.

A network with hidden width H has P = 5H + 2 parameters, flattened row-major in the
group order W1 (2, H), b1 (H), W2 (H, 2), b2 (2). Kernels see networks in chunks of
``LANES`` (64): an array shaped (chunks, P, LANES), so that the loop over the networks
of a chunk is the innermost loop and vectorises.
"""
import numpy as np

from xorsweep.kernels.vocab import LOSS_GUARD

LANES = 64

#: the hidden width the kernels compile with H a constant (gd's fused step, the seed
#: rule's one-loop row terms); other widths take the general code, same bits
FUSED_H = 3

# indices into the per-dtype constants array given to every kernel
C_ONE, C_ZERO, C_QUARTER, C_GUARD, C_LR, C_H, C_TWO_H = range(7)

def constants(dtype, lr: float, h: float) -> np.ndarray:
    c = np.zeros(7, dtype=dtype)
    c[C_ONE], c[C_QUARTER], c[C_GUARD], c[C_LR], c[C_H] = 1.0, 0.25, LOSS_GUARD, lr, h
    c[C_TWO_H] = 2 * c[C_H]
    return c


def pack(W1, b1, W2, b2, dtype, out=None) -> np.ndarray:
    """(B, ...) group arrays -> (chunks, P, LANES) (into ``out`` if given); padding lanes are
    zero starts. Each group is cast and transposed into place in one copy (10x faster at
    B = 65,536 than concatenating, padding and transposing)."""
    B = W1.shape[0]
    cols = [np.asarray(a).reshape(B, -1) for a in (W1, b1, W2, b2)]
    chunks = -(-B // LANES)
    shape = (chunks, sum(a.shape[1] for a in cols), LANES)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must be {shape} {np.dtype(dtype)}, got {out.shape} {out.dtype}")
    lanes = out.transpose(0, 2, 1)  # (chunks, LANES, P): a view
    full, rest = divmod(B, LANES)
    o = 0
    for a in cols:
        k = a.shape[1]
        lanes[:full, :, o:o + k] = a[:full * LANES].reshape(full, LANES, k)
        if rest:
            lanes[full, :rest, o:o + k] = a[full * LANES:]
            lanes[full, rest:, o:o + k] = 0
        o += k
    return out


def unpack_lanes(a: np.ndarray, B: int) -> np.ndarray:
    """(chunks, ..., LANES) -> (B, ...)."""
    moved = np.moveaxis(a, -1, 1)
    return moved.reshape((-1,) + moved.shape[2:])[:B]
