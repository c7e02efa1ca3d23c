"""xorsweep's gd kernel side by side with its peers, all in one run: network-steps/s.

Run: python benchmarks/bench_peers.py [--rounds 3] [--pairs 7] [--batch 65536] [--steps 200] [--quick] [--seed-only]
     python benchmarks/bench_peers.py --processes 5 [--pairs 7]   (the head to head alone, in 5 processes)
Peers (optional): ``pip install -e '.[bench]'`` (torch, jax, jaxlib); missing ones are
listed as skipped.

Every implementation trains the same 2-3-2 networks from the same starts with the gd
rule (analytic gradient, lr 5, all groups updated together). Each is compiled (or
loaded) once on the full batch before timing; then the implementations take turns,
``--rounds`` times, and each row reports the median of its rounds, so a change of load
on this shared machine hits every row alike. Ratios are against xorsweep's
``DEFAULT_ARITH`` in the same dtype.

- xorsweep: ``kernels.train(rule="gd")`` per arithmetic variant, float64 and float32,
  ``--steps`` steps per call (packing, the final forward pass and unpacking included),
  with outcome tracking (the default); and, in the default arithmetic, gd without
  tracking and the analytic gradient with the sequential update (the rule combination
  the gradient x update settings add; the numerical gradient's rows are the seed table);
  and the fused step loop alone (the entry ``kernels.train`` calls, on arrays packed
  once, tracking on), which is what the peers' rows time: their step loops, with no
  conversion in or out and no final forward pass.
- head to head: xorsweep's default (whole calls, and the step loop alone) against
  ``torch.compile`` (2 threads), ``--pairs`` times in the order A B B A, each quadruple
  giving one ratio (its two A rates' mean over its two B rates'): the ratio of rates
  measured seconds apart, so a drift of the machine's speed over the run (which the load
  average need not show on a shared host) cancels to first order; a process that runs
  slow for its whole life (README, Speed) does not: compare runs.
  The table gives the median ratio and the range over the quadruples.
- ``--processes N``: only the head to head, in N fresh processes one after another (each
  loads the kernels from the cache and torch's compiled step from inductor's cache), and a
  table of each process's median ratio and the median and range over the processes: a
  process that runs slow for its whole life shifts one process's ratio, not the summary
  (added 2026-12-03, after single runs gave float64 1.15x and 1.39x on one day).
- torch.compile in chunks (``--torch-chunks``, default 16,384 and 32,768 networks): the
  same compiled step, the batch trained chunk by chunk, each for all its steps, as
  xorsweep trains its chunks of 64: a step of the whole batch reads and writes 17 arrays
  of B floats and the step's temporaries, 18 MB in float64 at B = 65,536, near what a
  shared host leaves of the L3 cache, and in chunks the same step ran up to 1.4x faster
  in the same process (2026-12-04, Zen 4). They are in the head to head too (against
  whole calls): the peer at its best blocking, not only at the batch size it was given
  (added 2026-12-04, after torch's whole-batch rate moved by 2x between runs of the same
  compiled code).
- torch.compile (inductor) and JAX ``jit`` of ``flat_step``: the kernel's own step on one
  (B,) array per parameter, one exp for the two-class softmax, written once for any
  array namespace; torch loops over the compiled step in Python (2 threads, and 1: on a
  loaded machine OpenMP's barriers make 2 threads slower), JAX runs it in
  ``lax.fori_loop``. numpy runs the same ``flat_step`` (one thread, fewer steps).
- JAX ``vmap`` of ``book_step`` (the book's TwoLayerNet step: matmuls, softmax with two
  exps, analytic gradient), and numpy running ``book_step`` batched with ``matmul``.

The seed rule's limit from its op counts (H = 3, one network, one iteration of the four
group steps; a sigmoid is exp + div, a row term is the logits, the two-class softmax
(one exp) and log(y + 1e-7)):

- each group step first evaluates the base state: 12 sigmoids and 4 row terms, whose
  softmax takes both outputs (2 div: the decisions that outcome tracking needs); 4 groups
  give 48 sigmoids and 16 such row terms;
- then two loss evaluations per element, recomputing only what the element reaches:
  W1[i, j] 6 x 2 x (2 sigmoids + 2 row terms), b1[j] 3 x 2 x (4 + 4), W2 6 x 2 x 4 row
  terms, b2 2 x 2 x 4 row terms: 48 sigmoids, 112 row terms that need only the label's
  softmax output (1 div: its numerator, 1 or E, chosen before the division);
- so 96 sigmoids + 128 row terms: exp 96 + 128 = 224, log 128, div 96 + 2 x 16 + 112 +
  17 (the gradients) = 257, and about 2,700 add/sub/mul (a row term 17: the logits 12,
  the softmax 4, the guard 1; a sigmoid 3; 34 loss combinations 5; 17 perturbations,
  gradients and updates 5).

limit = 1 / (224 t_exp + 128 t_log + 257 t_div + 2700 t_flop) network-iterations per
CPU-second, where each t is the CPU time per element of that operation alone in an
in-cache lane loop on one thread (measured in this run, per arithmetic variant, just
before each timing of the rule). It ignores loads, stores and branches, but it also adds
up times that overlap in the kernel (a division runs on a unit of its own while exp and
log arithmetic goes on; the add/mul cost measured alone is bound by its stores): an
estimate, not a bound, and a share near or above 100 % says the estimate is loose, not
that the rule is faster than possible. The table gives the rule's rate on one thread per
CPU-second as a share of it (CPU
time of the calling thread, ``time.thread_time``, because other processes on this shared
machine take wall time from both alike but not at the same moments, and idle worker
threads spin: after the 2-thread run, the process's CPU time counts their spinning too,
10-15 % of the one-thread run's).
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from xorsweep import kernels  # noqa: E402
from xorsweep.kernels.vocab import ARITHS, DEFAULT_ARITH  # noqa: E402

H, LR = 3, 5.0
T = ((1.0, 0.0), (0.0, 1.0), (0.0, 1.0), (1.0, 0.0))  # one-hot labels of [0, 1, 1, 0]
SEED_OPS = dict(exp=224, log=128, div=257, flop=2700)


# ---- the step, written once for numpy, torch and jax ---------------------------------
def flat_step(xp, p, lr):
    """One gd step of B networks; p: 17 arrays (B,) in the flat order W1, b1, W2, b2,
    the kernel's operations (one exp per softmax) in its order."""
    w0, w1, b, v, c = p[0:H], p[H:2 * H], p[2 * H:3 * H], p[3 * H:5 * H], p[5 * H:]
    z = [[1 / (1 + xp.exp(-a)) for a in (b[j], w0[j] + b[j], w1[j] + b[j], (w0[j] + w1[j]) + b[j])]
         for j in range(H)]
    dy = []
    for r in range(4):
        s = [z[0][r] * v[k] for k in range(2)]
        for j in range(1, H):
            s = [s[k] + z[j][r] * v[2 * j + k] for k in range(2)]
        d = (s[1] + c[1]) - (s[0] + c[0])
        e = xp.exp(-xp.abs(d))
        big, small = 1 / (1 + e), e / (1 + e)
        first = d <= 0
        y = (xp.where(first, big, small), xp.where(first, small, big))
        dy.append([(y[k] - T[r][k]) * 0.25 for k in range(2)])
    nw0, nw1, nb, nv = [], [], [], []
    for j in range(H):
        zj, vj = z[j], (v[2 * j], v[2 * j + 1])
        g = [((zj[0] * dy[0][k] + zj[1] * dy[1][k]) + zj[2] * dy[2][k]) + zj[3] * dy[3][k] for k in range(2)]
        d = [((1 - zj[r]) * zj[r]) * (dy[r][0] * vj[0] + dy[r][1] * vj[1]) for r in range(4)]
        nw0.append(w0[j] - lr * (d[1] + d[3]))
        nw1.append(w1[j] - lr * (d[2] + d[3]))
        nb.append(b[j] - lr * (((d[0] + d[1]) + d[2]) + d[3]))
        nv += [vj[0] - lr * g[0], vj[1] - lr * g[1]]
    nc = [c[k] - lr * (((dy[0][k] + dy[1][k]) + dy[2][k]) + dy[3][k]) for k in range(2)]
    return tuple(nw0 + nw1 + nb + nv + nc)


def book_step(xp, W1, b1, W2, b2, X, Tm, lr):
    """The book's TwoLayerNet gd step for any leading batch dims (W1 (..., 2, H))."""
    z1 = 1 / (1 + xp.exp(-(X @ W1 + b1[..., None, :])))
    a2 = z1 @ W2 + b2[..., None, :]
    ex = xp.exp(a2 - xp.max(a2, axis=-1, keepdims=True))
    y = ex / xp.sum(ex, axis=-1, keepdims=True)
    dy = (y - Tm) / 4
    dz1 = (1 - z1) * z1 * (dy @ xp.swapaxes(W2, -1, -2))
    return (W1 - lr * (X.T @ dz1), b1 - lr * xp.sum(dz1, axis=-2),
            W2 - lr * (xp.swapaxes(z1, -1, -2) @ dy), b2 - lr * xp.sum(dy, axis=-2))


def starts(B, seed=0, std=0.5):
    rng = np.random.default_rng(seed)
    return (std * rng.standard_normal((B, 2, H)), std * rng.standard_normal((B, H)),
            std * rng.standard_normal((B, H, 2)), std * rng.standard_normal((B, 2)))


def flat_columns(s, dtype):
    B = s[0].shape[0]
    flat = np.concatenate([a.reshape(B, -1) for a in s], axis=1).astype(dtype)
    return [np.ascontiguousarray(flat[:, i]) for i in range(flat.shape[1])]


# ---- implementations: name -> (prepare() -> run(), steps per call) ---------------------
def xorsweep_impl(s, steps, dtype, arith, **how):
    """``kernels.train`` of the gd rule (or ``how``: another gradient x update, track=False)."""
    how = how or {"rule": "gd"}

    def prepare():
        kernels.train(*s, lr=LR, steps=1, dtype=dtype, arith=arith, threads=2, **how)
        return lambda: kernels.train(*s, lr=LR, steps=steps, dtype=dtype, arith=arith, threads=2, **how)
    return prepare


def xorsweep_loop_impl(s, steps, dtype, arith):
    """gd's fused step loop alone, as the peers' rows are: the kernel entry that
    ``kernels.train`` calls, on arrays packed once (each call starts from a copy of the
    packed starts, timed), outcome tracking on, 2 threads; no packing, final forward pass
    or unpacking."""
    import numba

    from xorsweep.kernels import gd
    from xorsweep.kernels.layout import LANES, constants, pack
    from xorsweep.kernels.track import TRACK_NORM
    from xorsweep.kernels.xmath import ARITH_CODES

    def prepare():
        dt = np.dtype(dtype).type
        P0 = pack(*s, dt)
        chunks = P0.shape[0]
        P = np.empty_like(P0)
        c = constants(dt, LR, 1e-4)
        traj, tloss, tacc = (np.zeros((chunks, 0, P0.shape[1], LANES), dt), np.zeros((chunks, 0, LANES), dt),
                             np.zeros((chunks, 0, LANES), dt))  # nothing recorded
        prev = np.empty((chunks, H + 1, LANES), np.int8)
        last, solved = np.zeros((chunks, LANES), np.int32), np.zeros((chunks, LANES), np.int32)
        gnorm = np.zeros((chunks, LANES), dt)
        entry = gd.TRAIN[ARITH_CODES[arith]][True, True]

        def run():
            numba.set_num_threads(2)
            np.copyto(P, P0)
            prev.fill(-1)
            entry(P, c, steps, 0, traj, tloss, tacc, prev, last, solved, gnorm, TRACK_NORM, False, True)
            return P
        run()
        return run
    return prepare


def numpy_flat_impl(s, steps, dtype):
    def prepare():
        p0 = tuple(flat_columns(s, dtype))
        lr = np.dtype(dtype).type(LR)

        def run():
            p = p0
            for _ in range(steps):
                p = flat_step(np, p, lr)
            return p
        return run
    return prepare


def numpy_book_impl(s, steps, dtype):
    def prepare():
        p0 = tuple(a.astype(dtype) for a in s)
        X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype)
        Tm = np.array(T, dtype)

        def run():
            p = p0
            for _ in range(steps):
                p = book_step(np, *p, X, Tm, dtype(LR))
            return p
        return run
    return prepare


def torch_impl(s, steps, dtype, threads=2, chunk=None):
    """torch.compile of ``flat_step`` on the whole batch, or with ``chunk``: the batch in
    chunks of that many networks, each trained for all its steps before the next (as
    xorsweep's kernel does with its chunks of 64), so that a step's arrays (17 parameters
    and the step's temporaries) can stay in the caches: the peer at its best blocking."""
    import torch

    def prepare():
        tdt = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
        cols = flat_columns(s, dtype)
        B = cols[0].shape[0]
        n = B if chunk is None else chunk
        parts = [tuple(torch.from_numpy(a[i:i + n]) for a in cols) for i in range(0, B, n)]
        step = torch.compile(lambda p: flat_step(torch, p, LR), backend="inductor", dynamic=False)
        with torch.no_grad():
            for p0 in (parts[0], parts[-1]):  # compile on the real shapes (a last, shorter chunk too)
                out = step(p0)
        assert out[0].dtype == tdt

        def run():
            torch.set_num_threads(threads)
            with torch.no_grad():
                done = []
                for p in parts:
                    for _ in range(steps):
                        p = step(p)
                    done.append(p)
            return done
        return run
    return prepare


TORCH_CHUNKS = "torch.compile flat step, in chunks of "


def torch_chunk_label(n):
    return f"{TORCH_CHUNKS}{n:,}"


def jax_flat_impl(s, steps, dtype):
    import jax
    import jax.numpy as jnp

    def prepare():
        p0 = tuple(jnp.asarray(a) for a in flat_columns(s, dtype))
        assert p0[0].dtype == dtype
        lr = dtype(LR)
        run_jit = jax.jit(lambda p: jax.lax.fori_loop(0, steps, lambda i, q: flat_step(jnp, q, lr), p))
        jax.block_until_ready(run_jit(p0))
        return lambda: jax.block_until_ready(run_jit(p0))
    return prepare


def jax_vmap_impl(s, steps, dtype):
    import jax
    import jax.numpy as jnp

    def prepare():
        p0 = tuple(jnp.asarray(a.astype(dtype)) for a in s)
        X = jnp.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype)
        Tm = jnp.array(T, dtype)
        one = jax.vmap(lambda W1, b1, W2, b2: book_step(jnp, W1, b1, W2, b2, X, Tm, dtype(LR)))
        run_jit = jax.jit(lambda p: jax.lax.fori_loop(0, steps, lambda i, q: one(*q), p))
        jax.block_until_ready(run_jit(p0))
        return lambda: jax.block_until_ready(run_jit(p0))
    return prepare


def check_same_step(s):
    """The peers' step is the kernel's: numpy's flat_step with the kernel's exp is
    the kernel's result bit for bit, after 3 steps of 64 networks."""
    import numba
    from xorsweep.kernels.xmath import exp_f64

    vexp = numba.vectorize(["float64(float64)"])(lambda x: exp_f64(x))

    class XP:
        exp, abs, where = staticmethod(vexp), staticmethod(np.abs), staticmethod(np.where)

    small = tuple(a[:64] for a in s)
    p = tuple(flat_columns(small, np.float64))
    for _ in range(3):
        p = flat_step(XP, p, LR)
    r = kernels.train(*small, rule="gd", lr=LR, steps=3, arith="exact")
    mine = np.concatenate([getattr(r, g).reshape(64, -1) for g in ("W1", "b1", "W2", "b2")], axis=1)
    return np.array_equal(mine, np.stack(p, axis=1))


# ---- op-count limit of the seed rule --------------------------------------------------
def op_costs(arith, dtype=np.float64, reps=300):
    """CPU seconds per element of exp, log, div and one add/mul, each alone in an in-cache
    lane loop on one thread (CPU time of the calling thread: what other processes take from
    this shared machine, and the spinning of idle worker threads, do not count)."""
    from numba import njit

    from xorsweep.kernels.xmath import ARITH_CODES, xexp, xlog
    code = ARITH_CODES[arith]

    def make(kind):
        if kind == "exp":
            def body(a, R):
                for _ in range(R):
                    for l in range(a.size):
                        a[l] = xexp(-abs(a[l]), code)
        elif kind == "log":
            def body(a, R):
                for _ in range(R):
                    for l in range(a.size):
                        a[l] = xlog(a[l] + 1.5, code)
        elif kind == "div":
            def body(a, R):
                for _ in range(R):
                    for l in range(a.size):
                        a[l] = 1.0 / a[l]
        else:
            def body(a, R):
                for _ in range(R):
                    for l in range(a.size):
                        a[l] = a[l] * 0.5 + 0.25  # two flops
        inner = njit(error_model="numpy")(body)

        def outer(A, R):
            for i in range(A.shape[0]):
                inner(A[i], R)
        return njit(error_model="numpy")(outer)

    A = np.full((32, 256), 0.3, dtype)
    fns = {kind: make(kind) for kind in ("flop", "div", "exp", "log")}
    ts = {kind: [] for kind in fns}
    for fn in fns.values():
        fn(A, 1)
    for _ in range(7):  # the kinds take turns; the fastest of each is the least disturbed
        for kind, fn in fns.items():
            A[:] = 0.3
            t0 = time.thread_time()
            fn(A, reps)
            ts[kind].append(time.thread_time() - t0)
    out = {kind: min(t) / (A.size * reps) for kind, t in ts.items()}
    out["flop"] /= 2
    return out


def seed_limit(costs):
    return 1.0 / sum(SEED_OPS[k] * costs[k] for k in SEED_OPS)


# ---- the run ---------------------------------------------------------------------------
def machine_info():
    """The CPU as numba compiles for it (LLVM's name for the core, e.g. znver3 or znver4, and
    its vector width: the ratios to the peers move with both) and the versions."""
    import llvmlite.binding as llb

    model, fields = "?", {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        model = fields.get("model name", "?")
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    family = f"family {fields['cpu family']} model {fields['model']}, " if "cpu family" in fields else ""
    model = f"{model} ({family}LLVM {llb.get_host_cpu_name()}, {vector}{' + FMA' if 'fma' in flags else ''})"
    vers = {"python": platform.python_version()}
    for m in ("numpy", "numba", "llvmlite", "torch", "jax", "jaxlib"):
        try:
            vers[m] = importlib.import_module(m).__version__
        except Exception:  # noqa: BLE001  (optional peers)
            pass
    return model, vers


def available(module):
    try:
        importlib.import_module(module)
        return True
    except Exception:  # noqa: BLE001
        return False


def warm():
    """Compile (or load) every xorsweep kernel the tables time: run in a process of its own
    before the timed one. A process that has just compiled the seed rule runs it up to
    1.65x slower than one that loaded the same code from the cache (measured 2026-12-02:
    1.2-1.3e6 against 2.1e6 network-iterations per CPU-second, the same bits; cause not
    found, see the README's Speed section), and every later run on the machine loads from
    the cache: that is the speed to report."""
    s = starts(128, seed=1, std=0.1)
    hows = ({"rule": "gd"}, {"rule": "gd", "track": False}, {"gradient": "analytic", "update": "sequential"},
            {"rule": "seed"})
    for dtype in ("float64", "float32"):
        for arith in ARITHS:
            for how in hows:
                for threads in (1, 2):
                    kernels.train(*s, steps=1, dtype=dtype, arith=arith, threads=threads, **how)


def head_to_head(runs, pairs, batch):
    """(dtype, A, B, A's rates, B's rates, ratios): xorsweep's default gd (whole calls, and
    the step loop alone) against torch.compile with 2 threads, ``pairs`` quadruples A B B A
    each; a quadruple's ratio is mean(A) / mean(B) of its own four timings. Nothing when
    ``pairs`` is 0 or torch is missing."""
    by = {(d, label): (run, st) for d, label, run, st in runs}
    out = []
    whole, loop = f"xorsweep gd {DEFAULT_ARITH}", f"xorsweep gd {DEFAULT_ARITH}, step loop alone (as the peers' rows)"
    for dtn in ("float64", "float32") if pairs > 0 else ():
        # torch on the whole batch against both of ours; torch in chunks against whole calls
        chunked = [label for d, label in by if d == dtn and label.startswith(TORCH_CHUNKS)]
        for a_label, b_label in ([(whole, "torch.compile flat step"), (loop, "torch.compile flat step")]
                                 + [(whole, c) for c in chunked]):
            a, b = (dtn, a_label), (dtn, b_label)
            if a not in by or b not in by:
                continue
            ra, rb, q = [], [], []
            for _ in range(pairs):
                quad = []
                for run, st in (by[a], by[b], by[b], by[a]):
                    t0 = time.perf_counter()
                    run()
                    quad.append(batch * st / (time.perf_counter() - t0))
                ra += [quad[0], quad[3]]
                rb += [quad[1], quad[2]]
                q.append((quad[0] + quad[3]) / (quad[1] + quad[2]))
            out.append((dtn, a_label.removeprefix("xorsweep gd "),
                        b_label.replace("torch.compile flat step", "torch.compile 2 threads"), ra, rb, q))
    return out


def head_only(B, steps, pairs, chunks=()):
    """The head to head alone, in this process: one JSON line per (dtype, A, B) on stdout."""
    import json

    s = starts(B)
    runs = []
    for dtn, dt in (("float64", np.float64), ("float32", np.float32)):
        for label, prep in ((f"xorsweep gd {DEFAULT_ARITH}", xorsweep_impl(s, steps, dtn, DEFAULT_ARITH)),
                            (f"xorsweep gd {DEFAULT_ARITH}, step loop alone (as the peers' rows)",
                             xorsweep_loop_impl(s, steps, dt, DEFAULT_ARITH)),
                            ("torch.compile flat step", torch_impl(s, steps, dt)),
                            *((torch_chunk_label(n), torch_impl(s, steps, dt, chunk=n)) for n in chunks)):
            runs.append((dtn, label, prep(), steps))
    for _, _, run, _ in runs:  # one untimed call each, as the full run's rounds come first
        run()
    for dtn, a, b, ra, rb, q in head_to_head(runs, pairs, B):
        print(json.dumps({"dtype": dtn, "a": a, "b": b, "a_rate": float(np.median(ra)), "b_rate": float(np.median(rb)),
                          "ratio": float(np.median(q)), "low": min(q), "high": max(q)}), flush=True)


def header(title):
    """Compile (or load) the kernels in a process of their own (``warm``), then print the
    run's title, machine, load and versions."""
    t_warm = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--warm"], check=True)  # see ``warm``
    t_warm = time.perf_counter() - t_warm
    model, vers = machine_info()
    load0 = os.getloadavg()
    print(f"# {title}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# CPU: {model}; {os.cpu_count()} logical CPUs; load at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print("# versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    print(f"# xorsweep's kernels compiled or loaded in a process of their own first ({t_warm:.0f} s): the timed "
          "processes load them from the cache, as every run after a machine's first does")


def across_processes(args):
    """``--processes``: the head to head in fresh processes, one after another, and the
    spread of their median ratios."""
    import json

    if not available("torch"):
        sys.exit("bench_peers: --processes needs torch (pip install -e '.[bench]')")
    header("xorsweep head to head across processes")
    print(f"# gd, H = 3, B = {args.batch}, {args.steps} steps per call; {args.processes} processes one after "
          f"another, each {args.pairs} x (A B B A) against torch.compile (2 threads; on the whole batch, and in "
          f"chunks of {', '.join(f'{n:,}' for n in args.torch_chunks) or 'no size'})")
    rows = {}
    for k in range(args.processes):
        out = subprocess.run([sys.executable, __file__, "--head-only", "--batch", str(args.batch), "--steps",
                              str(args.steps), "--pairs", str(args.pairs), "--torch-chunks",
                              ",".join(map(str, args.torch_chunks))], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                rows.setdefault((r["dtype"], r["a"], r["b"]), []).append(r)
                print(f"# process {k + 1}: {r['dtype']} A {r['a']}, B {r['b']}: {r['ratio']:.3f} ({r['low']:.3f}-{r['high']:.3f}); "
                      f"A {r['a_rate']:.3g}, B {r['b_rate']:.3g} network-steps/s", flush=True)
    load1 = os.getloadavg()
    print()
    print("| dtype | A | B | processes | median of the processes' ratios | range "
          "| A network-steps/s (range) | B network-steps/s (range) |")
    print("|---|---|---|---|---|---|---|---|")
    for (dtn, a, b), rs in rows.items():
        q = [r["ratio"] for r in rs]
        ar, br = [r["a_rate"] for r in rs], [r["b_rate"] for r in rs]
        print(f"| {dtn} | {a} | {b} | {len(rs)} | {np.median(q):.3f} | {min(q):.3f}-{max(q):.3f} "
              f"| {np.median(ar):.3g} ({min(ar):.3g}-{max(ar):.3g}) | {np.median(br):.3g} ({min(br):.3g}-{max(br):.3g}) |")
    print(f"\n# load at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (1, 5, 15 min)")


def chunk_sizes(text):
    """'16384,32768' -> (16384, 32768); '' -> ()."""
    try:
        sizes = tuple(int(t) for t in text.replace("_", "").split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"chunk sizes must be integers separated by commas, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"chunk sizes must be >= 1, got {text!r}")
    return sizes


def main():
    if sys.argv[1:] == ["--warm"]:  # the compiling process (``warm``)
        warm()
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=65_536)
    ap.add_argument("--steps", type=int, default=200, help="steps per call for the fast implementations")
    ap.add_argument("--slow-steps", type=int, default=20, help="steps per call for numpy and JAX vmap")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=7, help="A B B A quadruples of the head-to-head ratios (0: none)")
    ap.add_argument("--seed-batch", type=int, default=8192)
    ap.add_argument("--seed-steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    ap.add_argument("--seed-only", action="store_true",
                    help="only the seed rule's table (same measurement, rounds and sizes; no gd peers)")
    ap.add_argument("--processes", type=int, default=0,
                    help="only the head to head, in this many fresh processes, and the spread of their ratios")
    ap.add_argument("--torch-chunks", type=chunk_sizes, default=(16_384, 32_768),
                    help="comma-separated chunk sizes for torch.compile's extra rows: the batch trained chunk by "
                         "chunk, each for all steps (default 16384,32768; '' for none)")
    ap.add_argument("--head-only", action="store_true", help=argparse.SUPPRESS)  # one process of --processes
    args = ap.parse_args()
    if args.pairs < 0:
        ap.error(f"--pairs must be >= 0, got {args.pairs}")
    if args.processes < 0:
        ap.error(f"--processes must be >= 0, got {args.processes}")
    if args.head_only:
        head_only(args.batch, args.steps, max(args.pairs, 1), args.torch_chunks)
        return
    if args.quick:
        args.batch, args.steps, args.slow_steps, args.rounds, args.seed_batch = 4096, 20, 2, 1, 512
        args.torch_chunks = tuple(min(n, 1024) for n in args.torch_chunks[:1])
        args.pairs = min(args.pairs, 1)
    if args.processes:
        if args.pairs == 0:
            ap.error("--processes needs --pairs >= 1")
        across_processes(args)
        return
    os.environ.setdefault("XLA_FLAGS", "")
    if available("jax"):
        import jax
        jax.config.update("jax_enable_x64", True)

    B = args.batch
    s = starts(B)
    impls = []  # (dtype name, label, prepare, steps)
    skipped = []
    for dtn, dt in () if args.seed_only else (("float64", np.float64), ("float32", np.float32)):
        for arith in ARITHS:
            impls.append((dtn, f"xorsweep gd {arith}", xorsweep_impl(s, args.steps, dtn, arith), args.steps))
        # outcome tracking (on in every row above) and the analytic gradient's other update order
        impls.append((dtn, f"xorsweep gd {DEFAULT_ARITH}, no outcome tracking",
                      xorsweep_impl(s, args.steps, dtn, DEFAULT_ARITH, rule="gd", track=False), args.steps))
        impls.append((dtn, f"xorsweep gd {DEFAULT_ARITH}, step loop alone (as the peers' rows)",
                      xorsweep_loop_impl(s, args.steps, dt, DEFAULT_ARITH), args.steps))
        impls.append((dtn, f"xorsweep analytic + sequential {DEFAULT_ARITH}",
                      xorsweep_impl(s, args.steps, dtn, DEFAULT_ARITH, gradient="analytic", update="sequential"),
                      args.steps))
        if available("torch"):
            impls.append((dtn, "torch.compile flat step", torch_impl(s, args.steps, dt), args.steps))
            impls.append((dtn, "torch.compile flat step, 1 thread", torch_impl(s, args.steps, dt, 1), args.steps))
            for n in args.torch_chunks:
                impls.append((dtn, torch_chunk_label(n), torch_impl(s, args.steps, dt, chunk=n), args.steps))
        elif dtn == "float64":
            skipped.append("torch.compile and the head to head (pip install -e '.[bench]')")
        if available("jax"):
            impls.append((dtn, "JAX jit flat step", jax_flat_impl(s, args.steps, dt), args.steps))
            impls.append((dtn, "JAX jit vmap book step", jax_vmap_impl(s, args.slow_steps, dt), args.slow_steps))
        elif dtn == "float64":
            skipped.append("JAX jit and vmap (pip install -e '.[bench]')")
        impls.append((dtn, "numpy flat step (1 thread)", numpy_flat_impl(s, args.slow_steps, dt), args.slow_steps))
        impls.append((dtn, "numpy batched matmul book step", numpy_book_impl(s, args.slow_steps, dt), args.slow_steps))

    header("xorsweep peers")
    if args.seed_only:
        print(f"# seed rule only (--seed-only), B = {args.seed_batch}, {args.seed_steps} iterations per call, "
              f"median of {args.rounds} rounds")
    else:
        print(f"# gd, H = 3, B = {B}, median of {args.rounds} rounds, implementations alternating")
        for sk in skipped:
            print(f"# skipped: {sk}")
        print(f"# numpy flat_step with the kernel's exp gives the kernel's bits: {check_same_step(s)}")

    runs = []
    for dtn, label, prep, st in impls:
        runs.append((dtn, label, prep(), st))
    rates = {(d, l): [] for d, l, _, _ in runs}
    for _ in range(args.rounds):
        for dtn, label, run, st in runs:
            t0 = time.perf_counter()
            run()
            rates[(dtn, label)].append(B * st / (time.perf_counter() - t0))

    heads = head_to_head(runs, args.pairs, B)

    # the seed rule and its op-count limit, the variants taking turns; each round times
    # the operations just before the rule, and the share is the median of the rounds'
    ss = starts(args.seed_batch, seed=1, std=0.1)
    half = tuple(x[:args.seed_batch // 2] for x in ss)
    seed = {a: {"rate": [], "cpu_rate": [], "limit": [], "costs": []} for a in ARITHS}
    for a in ARITHS:  # compile (or load) both entries timed below: the threaded and the one-thread one
        kernels.train(*(x[:128] for x in ss), rule="seed", steps=1, arith=a, threads=2)
        kernels.train(*(x[:128] for x in ss), rule="seed", steps=1, arith=a, threads=1)
    for _ in range(args.rounds):
        for a in ARITHS:
            costs = op_costs(a)
            n = args.seed_batch * args.seed_steps
            t0 = time.perf_counter()
            kernels.train(*ss, rule="seed", steps=args.seed_steps, arith=a, threads=2)
            seed[a]["rate"].append(n / (time.perf_counter() - t0))
            c0 = time.thread_time()
            kernels.train(*half, rule="seed", steps=args.seed_steps, arith=a, threads=1)
            seed[a]["cpu_rate"].append(n / 2 / (time.thread_time() - c0))
            seed[a]["limit"].append(seed_limit(costs))
            seed[a]["costs"].append(costs)
    load1 = os.getloadavg()

    if runs:
        print()
        print(f"| dtype | implementation | steps/call | network-steps/s | vs xorsweep {DEFAULT_ARITH} | spread |")
        print("|---|---|---|---|---|---|")
    for dtn, label, _, st in runs:
        r = rates[(dtn, label)]
        base = np.median(rates[(dtn, f"xorsweep gd {DEFAULT_ARITH}")])
        med = np.median(r)
        print(f"| {dtn} | {label} | {st} | {med:.3g} | {med / base:.2f} | {min(r):.3g}-{max(r):.3g} |")
    if heads:
        print()
        print(f"| dtype | head to head, {args.pairs} x (A B B A) | A network-steps/s | B network-steps/s "
              "| ratio A / B, median | range |")
        print("|---|---|---|---|---|---|")
        for dtn, a, b, ra, rb, q in heads:
            print(f"| {dtn} | A {a}, B {b} | {np.median(ra):.3g} | {np.median(rb):.3g} | {np.median(q):.3f} "
                  f"| {min(q):.3f}-{max(q):.3f} |")
    print()
    print("| seed rule, float64 | network-iterations/s (2 threads) | per CPU-second (1 thread) "
          "| op-count limit per CPU-second | share | share range | t_exp | t_log | t_div | t_flop (CPU ns) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for a in ARITHS:
        d = seed[a]
        shares = np.array(d["cpu_rate"]) / np.array(d["limit"])
        share = np.median(shares)
        c = {k: np.median([x[k] for x in d["costs"]]) * 1e9 for k in SEED_OPS}
        print(f"| {a} | {np.median(d['rate']):.3g} | {np.median(d['cpu_rate']):.3g} | {np.median(d['limit']):.3g} "
              f"| {share:.0%} | {shares.min():.0%}-{shares.max():.0%} | {c['exp']:.3f} "
              f"| {c['log']:.3f} | {c['div']:.3f} | {c['flop']:.4f} |")
    print(f"\n# load at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (1, 5, 15 min); the machine has "
          f"{os.cpu_count()} logical CPUs")


if __name__ == "__main__":
    main()
