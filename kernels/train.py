"""``train``: the one batched entry point of the kernels."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numba
import numpy as np

from kernels import evaluate, gd, seed
from kernels.layout import LANES, constants, n_params, pack, split_groups, unpack_lanes

RULES = {"seed": seed.train_chunks, "gd": gd.train_chunks}
#: lr and steps used when not given: the blog author's, for both rules
RULE_DEFAULTS = {"seed": {"lr": 5.0, "steps": 100}, "gd": {"lr": 5.0, "steps": 100}}
ARITHS = ("exact", "libm")
DTYPES = {"float64": np.float64, "float32": np.float32}
LABELS = np.array([0, 1, 1, 0], dtype=np.int8)
# numba's default (workqueue) threading layer aborts the process when two Python threads
# enter parallel regions at once, e.g. tasks of a multi-threaded Dask worker: take turns
_PARALLEL = threading.Lock()


@dataclass(frozen=True)
class Trajectory:
    """Parameters, loss and accuracy at ``steps`` (0, k, 2k, ...); arrays shaped (B, T, ...)."""

    steps: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray


@dataclass(frozen=True)
class TrainResult:
    """Final state of B networks.

    ``z1`` (B, 4, H) hidden activations and ``y`` (B, 4, 2) softmax outputs at the final
    parameters, on the inputs [[0,0],[1,0],[0,1],[1,1]]; ``predicted`` (B, 4) their argmax;
    ``diverged`` marks networks whose parameters or loss became non-finite.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    predicted: np.ndarray
    z1: np.ndarray
    y: np.ndarray
    diverged: np.ndarray
    trajectory: Trajectory | None = None


def _as_batch(name, a, shape, dtype):
    a = np.asarray(a)
    if a.ndim != len(shape) + 1 or a.shape[1:] != shape:
        raise ValueError(f"{name} must be shaped (B, {', '.join(map(str, shape))}), got {a.shape}")
    return a.astype(dtype, copy=False)


def _check_int(name, v, minimum):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


@contextlib.contextmanager
def _numba_threads(n):
    if n is None:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def train(W1, b1, W2, b2, *, rule, lr=None, steps=None, dtype="float64", arith="exact",
          record_every=None, h=1e-4, threads=None) -> TrainResult:
    """Train B independent XOR networks from the given starts.

    W1 (B, 2, H), b1 (B, H), W2 (B, H, 2), b2 (B, 2); H >= 1. ``rule`` is ``"seed"``
    (the blog author's numerical-gradient rule) or ``"gd"`` (analytic backprop); lr and
    steps default to the author's 5.0 and 100. ``arith="exact"`` uses the project's own
    exp/log (same bits on any IEEE-754 machine); ``"libm"`` the platform's. ``h`` is the
    seed rule's finite-difference step. A network's result is bit-identical whatever the
    batch size, its position in the batch and ``threads``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}, got {rule!r}")
    if arith not in ARITHS:
        raise ValueError(f"arith must be one of {list(ARITHS)}, got {arith!r}")
    dtype_name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if dtype_name not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    dt = DTYPES[dtype_name]
    lr = RULE_DEFAULTS[rule]["lr"] if lr is None else float(lr)
    if not np.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    steps = _check_int("steps", RULE_DEFAULTS[rule]["steps"] if steps is None else steps, 0)
    every = 0 if record_every is None else _check_int("record_every", record_every, 1)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")

    W1 = np.asarray(W1)
    if W1.ndim != 3 or W1.shape[1] != 2 or W1.shape[2] < 1:
        raise ValueError(f"W1 must be shaped (B, 2, H) with H >= 1, got {W1.shape}")
    B, _, H = W1.shape
    W1 = W1.astype(dt, copy=False)
    b1 = _as_batch("b1", b1, (H,), dt)
    W2 = _as_batch("W2", W2, (H, 2), dt)
    b2 = _as_batch("b2", b2, (2,), dt)
    for name, a in (("b1", b1), ("W2", W2), ("b2", b2)):
        if a.shape[0] != B:
            raise ValueError(f"{name} has {a.shape[0]} networks, W1 has {B}")

    P = pack(W1, b1, W2, b2, dt)
    chunks, nP = P.shape[0], n_params(H)
    c = constants(dt, lr, h)
    T = steps // every + 1 if every else 0
    traj = np.zeros((chunks, T, nP, LANES), dt)
    tloss = np.zeros((chunks, T, LANES), dt)
    tacc = np.zeros((chunks, T, LANES), dt)
    Z = np.empty((chunks, 4, H, LANES), dt)
    Y = np.empty((chunks, 4, 2, LANES), dt)
    loss = np.empty((chunks, LANES), dt)
    acc = np.empty((chunks, LANES), dt)
    libm = arith == "libm"
    with _PARALLEL, _numba_threads(threads):
        RULES[rule](P, c, steps, every, traj, tloss, tacc, libm)
        evaluate.evaluate_chunks(P, c, Z, Y, loss, acc, libm)

    final = split_groups(unpack_lanes(P, B), H)
    loss = unpack_lanes(loss, B)
    y = unpack_lanes(Y, B)
    finite = np.all(np.isfinite(unpack_lanes(P, B)), axis=1) & np.isfinite(loss)
    trajectory = None
    if every:
        tflat = unpack_lanes(traj, B)  # (B, T, P)
        trajectory = Trajectory(steps=np.arange(T) * every, **split_groups(tflat, H),
                                loss=unpack_lanes(tloss, B), accuracy=unpack_lanes(tacc, B))
    return TrainResult(
        **final,
        loss=loss,
        accuracy=unpack_lanes(acc, B),
        predicted=(y[..., 1] > y[..., 0]).astype(np.int8),
        z1=unpack_lanes(Z, B),
        y=y,
        diverged=~finite,
        trajectory=trajectory,
    )
