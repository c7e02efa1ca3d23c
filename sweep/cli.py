"""The ``xorsweep`` command line."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from xorsweep.kernels import vocab
from xorsweep.sweep.errors import UserError

TRAIN_EPILOG = """example (the blog's published start, rounded to 7 decimals, the author's rule):
  xorsweep train --published --decimals 7
  xorsweep train --W1 '[[-0.0042,-0.0433,0.1214],[-0.0095,0.0199,0.0259]]' \\
                 --W2 '[[0.0821,-0.0486],[-0.1715,-0.3033],[-0.0039,-0.054]]' --rule gd --steps 2000 --json
"""


def _array_arg(name, text, ndim):
    try:
        a = np.array(json.loads(text), dtype=np.float64)
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise UserError(f"--{name}: not a JSON array of numbers ({e})") from None
    if a.ndim != ndim:
        raise UserError(f"--{name}: expected a {ndim}-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise UserError(f"--{name}: contains NaN or infinity")
    return a


def _start_from_args(args):
    if args.published == (args.W1 is not None):
        raise UserError("give either --published or --W1 and --W2")
    if args.published:
        pub = vocab.published_start()
        W1, W2 = pub["W1"], pub["W2"]
    else:
        if args.W2 is None:
            raise UserError("--W2 is required with --W1")
        W1, W2 = _array_arg("W1", args.W1, 2), _array_arg("W2", args.W2, 2)
    H = W1.shape[1] if W1.ndim == 2 else 0
    if W1.shape[0] != 2 or H < 1:
        raise UserError(f"--W1 must be shaped (2, H) with H >= 1, got {W1.shape}")
    if W2.shape != (H, 2):
        raise UserError(f"--W2 must be shaped ({H}, 2) to match --W1, got {W2.shape}")
    b1 = np.zeros(H) if args.b1 is None else _array_arg("b1", args.b1, 1)
    b2 = np.zeros(2) if args.b2 is None else _array_arg("b2", args.b2, 1)
    if b1.shape != (H,):
        raise UserError(f"--b1 must have {H} entries, got shape {b1.shape}")
    if b2.shape != (2,):
        raise UserError(f"--b2 must have 2 entries, got shape {b2.shape}")
    if args.init_scale is not None:
        if not np.isfinite(args.init_scale):
            raise UserError("--init-scale must be finite")
        W1, W2, b1, b2 = (args.init_scale * a for a in (W1, W2, b1, b2))
    if args.decimals is not None:
        W1, W2 = np.round(W1, args.decimals), np.round(W2, args.decimals)
    return W1, b1, W2, b2


def _cmd_train(args):
    from xorsweep import kernels

    W1, b1, W2, b2 = _start_from_args(args)
    r = kernels.train(W1[None], b1[None], W2[None], b2[None], rule=args.rule, lr=args.lr,
                      steps=args.steps, dtype=args.dtype, arith=args.arith)
    out = {
        "W1": r.W1[0], "b1": r.b1[0], "W2": r.W2[0], "b2": r.b2[0], "z1": r.z1[0], "y": r.y[0],
        "predicted": r.predicted[0], "accuracy": float(r.accuracy[0]), "loss": float(r.loss[0]),
        "diverged": bool(r.diverged[0]),
    }
    from xorsweep.analysis.attractors import classify_result

    classes = classify_result(r)
    out["attractor"], out["attractor_nearest"] = classes.display()[0], classes.display("nearest")[0]
    if args.json:
        print(json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in out.items()}))
        return 0
    with np.printoptions(precision=8, suppress=False, floatmode="maxprec"):
        for key, title in (("W1", "W1"), ("b1", "b1"), ("W2", "W2"), ("b2", "b2"),
                           ("z1", "Z1 = sigmoid(x @ W1 + b1)"), ("y", "y = softmax(Z1 @ W2 + b2)")):
            print(f"{title}\n{out[key]}")
    print(f"argmax {out['predicted']}")
    print(f"accuracy {out['accuracy']:.2f}  loss {out['loss']:.8g}" + ("  DIVERGED" if out["diverged"] else ""))
    near = out["attractor_nearest"]
    print(f"attractor {out['attractor']}" + (f" (nearest {near})" if near != out["attractor"] else ""))
    return 0


FIGURES_EPILOG = """examples:
  xorsweep figures blog-rounding.zarr --out figures
  xorsweep figures slice.zarr --out figures --cell a=0.1 --cell b=-0.2
Writes PNG and SVG files named after what they show and prints their paths."""


def _cmd_figures(args):
    import matplotlib

    matplotlib.use("Agg")
    from xorsweep.analysis.cli import write_figures

    if args.eps_fit is not None and not (0 < args.eps_fit[0] < args.eps_fit[1]):
        raise UserError(f"--eps-fit needs 0 < LOW < HIGH, got {args.eps_fit[0]} {args.eps_fit[1]}")
    files, notes = write_figures(args.store, args.out, cell=args.cell,
                                 eps_range=tuple(args.eps_fit) if args.eps_fit else None)
    for note in notes:
        print(f"xorsweep figures: left out: {note}", file=sys.stderr)
    for f in files:
        print(f)
    return 0


RUN_EPILOG = """examples:
  xorsweep run examples/blog-rounding.toml --store blog-rounding.zarr
  xorsweep run examples/slice.toml --store slice.zarr --workers 2
  xorsweep run examples/random-rounding.toml --store /shared/rr.zarr --address tcp://10.0.0.5:8786
Running the same spec on the same store again trains only the blocks not yet done."""

STATUS_EPILOG = """example:
  xorsweep status blog-rounding.zarr"""


def _fmt_eta(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class _Bar:
    """One progress line on stderr: blocks, networks per second, ETA."""

    def __init__(self, steps_per_network):
        self.steps = steps_per_network
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p):
        import time

        now = time.monotonic()
        final = p.blocks_done == p.blocks_total
        if not final and now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        left = (p.cells_total - p.cells_done) / p.rate if p.rate > 0 else 0
        line = (f"blocks {p.blocks_done}/{p.blocks_total} ({100 * p.blocks_done / p.blocks_total:.0f}%)  "
                f"{p.rate:,.4g} networks/s  {p.rate * self.steps:.3g} network-steps/s  "
                f"ETA {_fmt_eta(left)}")
        print(("\r" + line + " " * 4) if self.tty else line, end="\n" if (final or not self.tty) else "",
              file=sys.stderr, flush=True)


def _cmd_run(args):
    from xorsweep.sweep import engine
    from xorsweep.sweep.cluster import client_for
    from xorsweep.sweep.lock import store_lock
    from xorsweep.sweep.spec import Spec

    spec = Spec.from_toml(args.spec)
    if args.block is not None:
        spec = Spec.from_dict({**spec.to_dict(), "execution": {"block": args.block}})
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    command = " ".join(["xorsweep"] + sys.argv[1:])
    bar = _Bar(max(spec.axes.settings.get("steps", (spec.training.steps,))))
    state = None

    def progress(p):
        nonlocal state
        state = p
        if p.cells_this_run:
            bar(p)

    try:
        with store_lock(engine.open_for_writing(args.store), command):
            # the store, new or resumed, is made or checked before a cluster is started
            grid, done = engine.prepare(spec, args.store, command)
            print(f"{args.store}: {grid.cells:,} networks in {grid.n_blocks} blocks, {int(done.sum())} already done",
                  file=sys.stderr)
            if done.all():
                return 0
            with client_for(args.address, args.workers) as client:
                if client.dashboard_link:
                    print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
                engine.run_locked(spec, args.store, client, progress=progress, command=command)
    except KeyboardInterrupt:
        done = f"{state.blocks_done}/{state.blocks_total} blocks done; " if state else ""
        print(f"\nxorsweep run: interrupted; {done}the store is consistent. Resume with: "
              f"xorsweep run {args.spec} --store {args.store}", file=sys.stderr)
        return 130
    return 0


def _cmd_status(args):
    from xorsweep.sweep import store
    from xorsweep.sweep.grid import Grid

    spec = store.stored_spec(args.store)
    grid = Grid(spec)
    done = store.done_blocks(args.store, grid)
    import zarr

    attrs = zarr.open_group(args.store, mode="r", use_consolidated=False).attrs
    t = spec.training
    print(f"store      {args.store}  (spec {spec.hash()}{', ' + spec.name if spec.name else ''})")
    print(f"training   rule {t.rule}, lr {t.lr}, steps {t.steps}, {t.dtype}, arith {t.arith}, hidden {t.hidden}"
          + (f", record every {t.record_every}" if t.record_every else ""))
    print("start      " + (f"{spec.start.count:,} random starts, init_std {spec.start.init_std}, seed {spec.start.seed}"
                           if spec.start.random else "literal W1, W2"))
    print("grid       " + (" x ".join(f"{d} {n}" for d, n in zip(grid.dims, grid.shape)) or "one network")
          + f" = {grid.cells:,} networks")
    print(f"blocks     {int(done.sum())}/{grid.n_blocks} done ({100 * done.mean():.1f}%), "
          f"{grid.spec.block} networks per block")
    if "last_rate_networks_per_s" in attrs:
        print(f"rate       {attrs['last_rate_networks_per_s']:,} networks/s in the last run")
    print("history    " + attrs.get("history", "").strip().splitlines()[-1])
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the problem, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    p = _Parser(prog="xorsweep", description="Map where XOR-network training lands from each start.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=_Parser)

    t = sub.add_parser("train", help="train one network from a literal start and print the result",
                       description="Train one 2-H-2 XOR network from a literal start and print its finals, "
                                   "hidden activations Z1, softmax outputs, argmax, accuracy and loss.",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--W1", help="JSON array, shape (2, H)")
    t.add_argument("--W2", help="JSON array, shape (H, 2)")
    t.add_argument("--b1", help="JSON array, shape (H,) (default zeros)")
    t.add_argument("--b2", help="JSON array, shape (2,) (default zeros)")
    t.add_argument("--published", action="store_true", help="start from the blog author's published W1, W2")
    t.add_argument("--init-scale", type=float, metavar="S", help="multiply the start by S (before --decimals)")
    t.add_argument("--decimals", type=int, metavar="N", help="np.round W1 and W2 to N decimals first")
    t.add_argument("--rule", choices=["seed", "gd"], default="seed", help="training rule (default: seed)")
    t.add_argument("--lr", type=float, help="learning rate (default 5.0)")
    t.add_argument("--steps", type=int, help="iterations (default 100)")
    t.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    t.add_argument("--arith", choices=list(vocab.ARITHS), default=vocab.DEFAULT_ARITH,
                   help="exp/log: the project's own, same bits everywhere (exact, exact-fma), or the platform's "
                        f"(libm); default {vocab.DEFAULT_ARITH}")
    t.add_argument("--json", action="store_true", help="print one JSON object instead")
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("run", help="run (or resume) a sweep into a Zarr store",
                       description="Run the sweep described by SPEC (a TOML file) on Dask and write every "
                                   "network's start, finals and outcome into a Zarr store; resume if the "
                                   "store exists.", epilog=RUN_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("spec", metavar="SPEC", help="sweep spec, a TOML file (see examples/)")
    r.add_argument("--store", required=True, metavar="PATH", help="Zarr store to create or resume")
    r.add_argument("--address", metavar="ADDR",
                   help="scheduler of an existing Dask cluster, e.g. tcp://host:8786 "
                        "(default: $DASK_SCHEDULER_ADDRESS, else an embedded LocalCluster)")
    r.add_argument("--workers", type=int, metavar="N", help="embedded cluster: N worker processes (default: cores)")
    r.add_argument("--block", type=int, metavar="N", help="networks per block for a new store "
                                                         "(default: the spec's execution.block)")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("status", help="show a store's spec, blocks done and rate",
                       description="Show the spec summary of a sweep store, how many blocks are done, and "
                                   "the rate of its last run.", epilog=STATUS_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("store", metavar="STORE")
    s.set_defaults(func=_cmd_status)

    f = sub.add_parser("figures", help="write every figure a store supports (PNG and SVG)",
                       description="Write the figures of a store: one network's training (accuracy, loss, "
                                   "W1/b1/W2/b2 paths), attractor shares and flip rate per rounding digit, "
                                   "f(eps) with the uncertainty exponent, the attractor map and box count of "
                                   "a 2-D slice, as far as the store's axes allow.", epilog=FIGURES_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("store", metavar="STORE")
    f.add_argument("--out", required=True, metavar="DIR", help="folder for the figure files (created)")
    f.add_argument("--cell", action="append", metavar="DIM=VALUE",
                   help="the network drawn, and the value of dims a figure does not summarise "
                        "(repeatable; default: the first cell; decimals=none is the unrounded start)")
    f.add_argument("--eps-fit", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="fit the uncertainty exponent only over LOW <= eps <= HIGH "
                        "(default: every eps with 0 < f < 1)")
    f.set_defaults(func=_cmd_figures)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UserError, ValueError) as e:
        if args.debug:
            raise
        print(f"xorsweep {args.verb}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        if args.debug:
            raise
        print(f"xorsweep {args.verb}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - no traceback reaches the user without --debug
        if args.debug:
            raise
        print(f"xorsweep {args.verb}: error: unexpected {type(e).__name__}: {_one_line(e)} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__
