"""Forward pass of trained chunks: hidden activations, softmax, loss, accuracy."""
from numba import njit, prange

from xorsweep.kernels import _cache  # noqa: F401  (numba's cache folder: set before any @njit(cache=True))
from xorsweep.kernels.lanes import evaluate
from xorsweep.kernels.xmath import EXACT, EXACT_FMA, EXACT_FMA2, LIBM


@njit(error_model="numpy", cache=True)
def _chunk_exact(p, c, z, y, loss, acc):
    evaluate(p, (p.shape[0] - 2) // 5, c, z, y, loss, acc, EXACT)


@njit(error_model="numpy", cache=True)
def _chunk_libm(p, c, z, y, loss, acc):
    evaluate(p, (p.shape[0] - 2) // 5, c, z, y, loss, acc, LIBM)


@njit(error_model="numpy", cache=True)
def _chunk_fma(p, c, z, y, loss, acc):
    evaluate(p, (p.shape[0] - 2) // 5, c, z, y, loss, acc, EXACT_FMA)


@njit(error_model="numpy", cache=True)
def _chunk_fma2(p, c, z, y, loss, acc):
    evaluate(p, (p.shape[0] - 2) // 5, c, z, y, loss, acc, EXACT_FMA2)


@njit(parallel=True, error_model="numpy", cache=True)
def evaluate_chunks_exact(P, c, Z, Y, loss, acc):
    """Z (chunks, 4, H, LANES), Y (chunks, 4, 2, LANES), loss/acc (chunks, LANES); ``exact`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_exact(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(error_model="numpy", cache=True)
def serial_evaluate_exact(P, c, Z, Y, loss, acc):
    """``evaluate_chunks_exact`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_exact(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(parallel=True, error_model="numpy", cache=True)
def evaluate_chunks_libm(P, c, Z, Y, loss, acc):
    """Z (chunks, 4, H, LANES), Y (chunks, 4, 2, LANES), loss/acc (chunks, LANES); ``libm`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_libm(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(error_model="numpy", cache=True)
def serial_evaluate_libm(P, c, Z, Y, loss, acc):
    """``evaluate_chunks_libm`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_libm(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(parallel=True, error_model="numpy", cache=True)
def evaluate_chunks_fma(P, c, Z, Y, loss, acc):
    """Z (chunks, 4, H, LANES), Y (chunks, 4, 2, LANES), loss/acc (chunks, LANES); ``exact-fma`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_fma(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(error_model="numpy", cache=True)
def serial_evaluate_fma(P, c, Z, Y, loss, acc):
    """``evaluate_chunks_fma`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_fma(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(parallel=True, error_model="numpy", cache=True)
def evaluate_chunks_fma2(P, c, Z, Y, loss, acc):
    """Z (chunks, 4, H, LANES), Y (chunks, 4, 2, LANES), loss/acc (chunks, LANES); ``exact-fma2`` arithmetic."""
    for i in prange(P.shape[0]):
        _chunk_fma2(P[i], c, Z[i], Y[i], loss[i], acc[i])


@njit(error_model="numpy", cache=True)
def serial_evaluate_fma2(P, c, Z, Y, loss, acc):
    """``evaluate_chunks_fma2`` on one thread, with no parallel region to compile."""
    for i in range(P.shape[0]):
        _chunk_fma2(P[i], c, Z[i], Y[i], loss[i], acc[i])


#: arith code -> (parallel entry, single-threaded entry); a sweep compiles only what it uses
EVALUATE = {EXACT: (evaluate_chunks_exact, serial_evaluate_exact), LIBM: (evaluate_chunks_libm, serial_evaluate_libm),
            EXACT_FMA: (evaluate_chunks_fma, serial_evaluate_fma),
            EXACT_FMA2: (evaluate_chunks_fma2, serial_evaluate_fma2)}
