"""``train``: the one batched entry point of the kernels."""
from __future__ import annotations

import contextlib
import dataclasses
import threading
from dataclasses import dataclass

import numba
import numpy as np

from xorsweep.kernels import _cache  # noqa: F401  (sets numba's cache folder before any @njit(cache=True))
from xorsweep.kernels import evaluate, gd, lyapunov as lyap, seed
from xorsweep.kernels.finish import FINISH
from xorsweep.kernels.layout import FUSED_H, LANES, constants, pack, unpack_lanes
from xorsweep.kernels.recycle import Recycler
from xorsweep.kernels.track import TRACK_NORM, TRACK_OFF
from xorsweep.kernels.xmath import ARITH_CODES
from xorsweep.kernels.vocab import (ARITHS, DEFAULT_ARITH, DEFAULT_DTYPE, DEFAULT_H, DTYPES, GRADIENTS, GROUP_DIMS,
                                    GROUPS, X, n_params, rule_parts, split_groups, training_defaults)

#: gradient -> its kernel module: ``TRAIN`` maps an arith code to the parallel entry, which
#: takes the update order as a flag
_KERNELS = {"numerical": seed, "analytic": gd}
assert {g: m.__name__.rsplit(".", 1)[1] for g, m in _KERNELS.items()} == _cache.KERNEL_MODULES
assert set(_KERNELS) == set(GRADIENTS)
assert set(ARITH_CODES) == set(ARITHS)
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

    Outcome tracking (``kernels.track``; None when trained with ``track=False``), per
    network: ``solved_step`` (int32) the first step from which all four decisions are right
    until the end (step ``steps`` being the final parameters), -1 if the final decisions
    are wrong; ``settled_step`` (int32) the last step at which the coarse state, the four
    decisions and the hidden code (activations > 0.5), changed, 0 if never;
    ``grad_norm`` the Euclidean norm of the gradient used in the last update (with the
    sequential update, each group's gradient taken after the previous groups' updates, as
    used), NaN when ``steps`` is 0.
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
    solved_step: np.ndarray | None = None
    settled_step: np.ndarray | None = None
    grad_norm: np.ndarray | None = None
    lyapunov: np.ndarray | None = None
    lyapunov_traj: np.ndarray | None = None

    def to_dataset(self):
        """The result as an xarray Dataset over dims network, input, hidden, output, row
        (and step when a trajectory was recorded)."""
        import xarray as xr

        net = ("network",)
        v = {g: (net + GROUP_DIMS[g], getattr(self, g)) for g in GROUPS}
        v.update(loss=(net, self.loss), accuracy=(net, self.accuracy), predicted=(net + ("row",), self.predicted),
                 z1=(net + ("row", "hidden"), self.z1), y=(net + ("row", "output"), self.y),
                 diverged=(net, self.diverged))
        if self.solved_step is not None:
            v.update(solved_step=(net, self.solved_step, {"long_name": "first step from which all four decisions "
                                                          "are right until the end (-1: not solved)"}),
                     settled_step=(net, self.settled_step, {"long_name": "last step at which the decisions or "
                                                            "the binarised hidden code changed (0: never)"}),
                     grad_norm=(net, self.grad_norm, {"long_name": "norm of the gradient used in the last update"}))
        if self.lyapunov is not None:
            v["lyapunov"] = (net, self.lyapunov, {"long_name": LYAPUNOV_LONG_NAME, "units": "1/step"})
        coords = {"network": np.arange(self.W1.shape[0]), "row": np.arange(4), "x1": ("row", X[:, 0]),
                  "x2": ("row", X[:, 1])}
        t = self.trajectory
        if t is not None:
            coords["step"] = t.steps
            for g in GROUPS:
                v[f"{g}_traj"] = (net + ("step",) + GROUP_DIMS[g], getattr(t, g))
            v["loss_traj"] = (net + ("step",), t.loss)
            v["accuracy_traj"] = (net + ("step",), t.accuracy)
            if self.lyapunov_traj is not None:
                v["lyapunov_traj"] = (net + ("step",), self.lyapunov_traj, {"long_name": "running " + LYAPUNOV_LONG_NAME,
                                                                            "units": "1/step"})
        return xr.Dataset(v, coords)


def _real_array(name, a):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def _as_batch(name, a, shape, single):
    """a as a batch (B, *shape), in its own dtype: ``pack`` casts it as it copies it."""
    a = _real_array(name, a)
    if single:
        a = a[None]
    if a.ndim != len(shape) + 1 or a.shape[1:] != shape:
        want = ", ".join(map(str, shape))
        raise ValueError(f"{name} must be shaped (B, {want}) or ({want}), got {a.shape[1:] if single else a.shape}")
    return a


def _check_int(name, v, minimum, maximum=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum or (maximum and v > maximum):
        bound = f">= {minimum}" + (f" and <= {maximum}" if maximum else "")
        raise ValueError(f"{name} must be an integer {bound}, got {v!r}")
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


def train(W1, b1, W2, b2, *, rule=None, gradient=None, update=None, lr=None, steps=None, dtype=DEFAULT_DTYPE,
          arith=DEFAULT_ARITH, record_every=None, h=DEFAULT_H, threads=None, track=True, lyapunov=False,
          lyapunov_delta=None, lyapunov_every=lyap.EVERY) -> TrainResult:
    """Train B independent XOR networks from the given starts.

    W1 (B, 2, H), b1 (B, H), W2 (B, H, 2), b2 (B, 2) with H >= 1 and B >= 0; or one
    network's arrays W1 (2, H), b1 (H,), W2 (H, 2), b2 (2,), trained as a batch of one.
    The training rule is a ``gradient`` (``vocab.GRADIENTS``: "numerical" with step ``h``,
    or "analytic") and an ``update`` order (``vocab.UPDATES``: "sequential" or
    "simultaneous"), or a named ``rule`` (``vocab.RULE_PARTS``: "seed", the blog author's,
    is numerical + sequential; "gd", textbook backprop, analytic + simultaneous); parts not
    given come from ``rule``, else from the default rule "seed", and parts that contradict
    ``rule`` are a ValueError. lr and steps default to ``vocab.training_defaults``.
    ``arith`` names the exp/log variant (``vocab.ARITHS``). ``h`` is the numerical
    gradient's finite-difference step. ``track`` (default on; off
    only to measure its cost) records ``solved_step``, ``settled_step`` and ``grad_norm``
    without changing any other bit. ``lyapunov`` adds the finite-time Lyapunov exponent
    (``kernels.lyapunov``: a twin at ``lyapunov_delta``, default ``lyapunov.DELTA[dtype]``,
    renormalised every ``lyapunov_every`` steps) without changing any other bit.
    A network's result is
    bit-identical whatever the batch size, its position in the batch and ``threads``.
    The packed parameters and final activations (up to 64 MiB) are kept for the next call
    of the same shapes, which then skips faulting in fresh memory; no result points into them.
    The results' own memory, once the caller has dropped every reference to it, is used
    again by a later call (up to 64 MiB held: ``kernels.recycle``).
    ``TrainResult.to_dataset()`` gives the result as an xarray Dataset.
    """
    gradient, update = rule_parts(rule, gradient, update)
    if arith not in ARITHS:
        raise ValueError(f"arith must be one of {list(ARITHS)}, got {arith!r}")
    dtype_name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if dtype_name not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    dt = DTYPES[dtype_name]
    defaults = training_defaults(gradient, update)
    lr = defaults["lr"] if lr is None else float(lr)
    if not np.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    # the step numbers of outcome tracking are int32 (solved_step is a step + 1)
    steps = _check_int("steps", defaults["steps"] if steps is None else steps, 0, 2**31 - 2)
    every = 0 if record_every is None else _check_int("record_every", record_every, 1, max(steps, 1))
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating, np.integer)) or not (
            np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")

    W1 = _real_array("W1", W1)
    single = W1.ndim == 2
    if single:
        W1 = W1[None]
    if W1.ndim != 3 or W1.shape[1] != 2 or W1.shape[2] < 1:
        raise ValueError(f"W1 must be shaped (B, 2, H) or (2, H) with H >= 1, got {W1.shape}")
    B, _, H = W1.shape
    b1 = _as_batch("b1", b1, (H,), single)
    W2 = _as_batch("W2", W2, (H, 2), single)
    b2 = _as_batch("b2", b2, (2,), single)
    for name, a in (("b1", b1), ("W2", W2), ("b2", b2)):
        if a.shape[0] != B:
            raise ValueError(f"{name} has {a.shape[0]} networks, W1 has {B}")
    lyapunov = bool(lyapunov)
    delta = lyap.DELTA[dtype_name] if lyapunov_delta is None else float(lyapunov_delta)
    if lyapunov and not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"lyapunov_delta must be a finite number > 0, got {lyapunov_delta!r}")
    k = _check_int("lyapunov_every", lyapunov_every, 1)
    T = steps // every + 1 if every else 0
    if B * T * (n_params(H) + 2) * np.dtype(dt).itemsize > 2**34:
        raise ValueError(f"recording {T} steps of {B} networks needs more than 16 GiB: "
                         "record less often or train fewer networks per call")
    if B == 0:  # train one zero start and keep none of it: every output keeps its shape, with B = 0
        one = train(np.zeros((1, 2, H)), np.zeros((1, H)), np.zeros((1, H, 2)), np.zeros((1, 2)), gradient=gradient,
                    update=update, lr=lr,
                    steps=steps, dtype=dtype_name, arith=arith, record_every=record_every, h=h, threads=threads,
                    track=track, lyapunov=lyapunov, lyapunov_delta=lyapunov_delta, lyapunov_every=k)
        return _first(one, 0)

    chunks, nP = -(-B // LANES), n_params(H)
    c = constants(dt, lr, h)
    traj = np.zeros((chunks, T, nP, LANES), dt)
    tloss = np.zeros((chunks, T, LANES), dt)
    tacc = np.zeros((chunks, T, LANES), dt)
    code = ARITH_CODES[arith]
    track = bool(track)
    module = _KERNELS[gradient]
    # one entry per (threads, step): a run compiles only the code it runs
    sequential, fused = update == "sequential", H == FUSED_H
    # what the caller receives, in memory used again once the caller drops it (_OUT)
    new = _OUT.empty
    params, z1, y = new((B, nP), dt), new((B, 4, H), dt), new((B, 4, 2), dt)
    loss_o, acc_o, predicted, diverged = new((B,), dt), new((B,), dt), new((B, 4), np.int8), new((B,), np.bool_)
    nt = B if track else 0
    solved_o, settled_o, gnorm_o = new((nt,), np.int32), new((nt,), np.int32), new((nt,), dt)

    lam = lam_traj = None
    with _PARALLEL, _numba_threads(threads):
        # the packed parameters, activations and tracking state go in buffers kept between
        # calls (_Scratch), read out into the arrays above before the lock is released
        take = _SCRATCH.take
        P = pack(W1, b1, W2, b2, dt, out=take("P", (chunks, nP, LANES), dt))
        Z, Y = take("Z", (chunks, 4, H, LANES), dt), take("Y", (chunks, 4, 2, LANES), dt)
        loss, acc = take("loss", (chunks, LANES), dt), take("acc", (chunks, LANES), dt)
        prev, last, solved = (take("prev", (chunks, H + 1, LANES), np.int8), take("last", (chunks, LANES), np.int32),
                              take("solved", (chunks, LANES), np.int32))
        gnorm = take("gnorm", (chunks, LANES), dt)
        prev.fill(-1)
        last.fill(0)
        solved.fill(0)
        gnorm.fill(np.nan)
        # one thread (Dask workers, xorsweep train): the entries without a parallel region,
        # which compile in a fraction of the time; the bits are the same
        threaded = chunks > 1 and numba.get_num_threads() > 1
        which = 0 if threaded else 1
        entry, evaluate_chunks = module.TRAIN[code][threaded, fused], evaluate.EVALUATE[code][which]

        def kernel(*args):  # the rule's entry, its update order fixed
            entry(*args, sequential, fused)

        if lyapunov:
            lam, lam_traj = lyap.train_with_twins(kernel, evaluate_chunks, P, c, H, steps, every, traj, tloss,
                                                  tacc, (prev, last, solved, gnorm), track, k, delta)
        else:
            kernel(P, c, steps, every, traj, tloss, tacc, prev, last, solved, gnorm, TRACK_NORM if track else TRACK_OFF)
        evaluate_chunks(P, c, Z, Y, loss, acc)
        FINISH[which](P, Z, Y, loss, acc, gnorm, prev, last, solved, steps, c, track, B,
                      params, z1, y, loss_o, acc_o, predicted, diverged, solved_o, settled_o, gnorm_o)
    trajectory = None
    if every:
        tflat = unpack_lanes(traj, B)  # (B, T, P)
        trajectory = Trajectory(steps=np.arange(T) * every, **split_groups(tflat, H),
                                loss=unpack_lanes(tloss, B), accuracy=unpack_lanes(tacc, B))
    tracked = dict(solved_step=solved_o, settled_step=settled_o, grad_norm=gnorm_o) if track else {}
    return TrainResult(
        **split_groups(params, H),
        loss=loss_o,
        accuracy=acc_o,
        predicted=predicted,
        z1=z1,
        y=y,
        diverged=diverged,
        trajectory=trajectory,
        **tracked,
        lyapunov=None if lam is None else unpack_lanes(lam, B),
        lyapunov_traj=None if lam_traj is None else unpack_lanes(lam_traj, B),
    )


class _Scratch:
    """Buffers kept from one call of ``train`` to the next of the same shapes, up to
    ``limit`` bytes in all: a fresh array's pages are faulted in on first touch, which at
    B = 65,536 costs more than the final forward pass (5-10 % of a 200-step call on this
    virtual machine). Used only under ``_PARALLEL``; nothing a caller receives points into
    them (``kernels.finish`` copies the results out)."""

    def __init__(self, limit):
        self.limit, self.kept = limit, {}

    def take(self, name, shape, dtype):
        a = self.kept.pop(name, None)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = np.empty(shape, dtype)
        if a.nbytes + sum(b.nbytes for b in self.kept.values()) <= self.limit:
            self.kept[name] = a
        return a


_SCRATCH = _Scratch(64 << 20)
#: the memory of the arrays a call returns, used again by a later call once the caller has
#: dropped them (``kernels.recycle``: no page faults for the next call's 11 MB at B = 65,536)
_OUT = Recycler(64 << 20)


LYAPUNOV_LONG_NAME = "finite-time Lyapunov exponent of training (twin trajectory, Benettin)"


def _first(r: TrainResult, n: int) -> TrainResult:
    """The result of the first ``n`` networks."""
    cut = {f.name: getattr(r, f.name)[:n] for f in dataclasses.fields(r)
           if isinstance(getattr(r, f.name), np.ndarray)}
    t = r.trajectory
    if t is not None:
        t = Trajectory(steps=t.steps, **{f.name: getattr(t, f.name)[:n] for f in dataclasses.fields(t)
                                         if f.name != "steps"})
    return dataclasses.replace(r, **cut, trajectory=t)
