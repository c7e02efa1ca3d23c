"""Forward pass of trained chunks: hidden activations, softmax, loss, accuracy."""
from numba import njit, prange

from xorsweep.kernels.lanes import evaluate


@njit(error_model="numpy", cache=True)
def _chunk_exact(p, c, z, y, loss, acc):
    evaluate(p, (p.shape[0] - 2) // 5, c, z, y, loss, acc, False)


@njit(error_model="numpy", cache=True)
def _chunk_libm(p, c, z, y, loss, acc):
    evaluate(p, (p.shape[0] - 2) // 5, c, z, y, loss, acc, True)


@njit(parallel=True, error_model="numpy", cache=True)
def evaluate_chunks(P, c, Z, Y, loss, acc, libm):
    """Z (chunks, 4, H, LANES), Y (chunks, 4, 2, LANES), loss/acc (chunks, LANES)."""
    for i in prange(P.shape[0]):
        if libm:
            _chunk_libm(P[i], c, Z[i], Y[i], loss[i], acc[i])
        else:
            _chunk_exact(P[i], c, Z[i], Y[i], loss[i], acc[i])
