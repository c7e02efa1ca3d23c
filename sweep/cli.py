"""The ``xorsweep`` command line: the only module that knows argparse.

Each verb parses its arguments and calls the library (``Sweep``, ``store``, ``cells``,
``xorsweep.analysis``). A ``UserError`` becomes one line and exit status 2; any other
exception is a bug and says so, with a hint to ``--debug`` for its traceback.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys

import numpy as np

from xorsweep.errors import UserError
from xorsweep.kernels import vocab

TRAIN_EPILOG = """examples (the blog's published start, rounded to 7 decimals, the author's rule):
  xorsweep train --published --decimals 7
  xorsweep train --W1 '[[-0.0042,-0.0433,0.1214],[-0.0095,0.0199,0.0259]]' \\
                 --W2 '[[0.0821,-0.0486],[-0.1715,-0.3033],[-0.0039,-0.054]]' --rule gd --steps 2000 --json
  xorsweep train --published --gradient analytic --update sequential   # his update order, backprop's gradient
"""
RUN_EPILOG = """examples:
  xorsweep run examples/blog-rounding.toml --store blog-rounding.zarr
  xorsweep run examples/slice.toml --store slice.zarr --workers 2
  xorsweep run examples/random-rounding.toml --store /shared/rr.zarr --address tcp://10.0.0.5:8786
Running the same spec on the same store again trains only the blocks not yet done. A small
sweep on a local store (about a second of training) trains in this process; --workers or
--address always use a Dask cluster."""
STATUS_EPILOG = """example:
  xorsweep status blog-rounding.zarr"""
VERIFY_EPILOG = """examples:
  xorsweep verify blog-rounding.zarr            # report damaged blocks
  xorsweep verify blog-rounding.zarr --repair   # mark them not done; then run again to recompute them"""
PLAN_EPILOG = """example:
  xorsweep plan examples/slice.toml --store slice.zarr"""
STATS_EPILOG = """examples:
  xorsweep stats perturbation.zarr
  xorsweep stats slice.zarr --json | python -m json.tool"""
LABEL_EPILOG = """example:
  xorsweep label blog-rounding.zarr
  python -c "import xarray as xr; print(xr.open_zarr('blog-rounding.zarr').attractor.values)"
The labels' names are in the variable's flag_meanings and flag_display_names attributes."""
FIGURES_EPILOG = """examples:
  xorsweep figures blog-rounding.zarr --out figures
  xorsweep figures slice.zarr --out figures --cell a=0.1 --cell b=-0.2
Writes PNG and SVG files named after what they show and prints their paths."""


# ---- train -----------------------------------------------------------------------------
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


def _start_from_args(args) -> dict:
    if args.published == (args.W1 is not None):
        raise UserError("give either --published or --W1 and --W2")
    if args.published:
        for name in ("W2", "b1", "b2"):
            if getattr(args, name) is not None:
                raise UserError(f"--{name} cannot be combined with --published")
        start = {"published": True}
    else:
        if args.W2 is None:
            raise UserError("--W2 is required with --W1")
        W1, W2 = _array_arg("W1", args.W1, 2), _array_arg("W2", args.W2, 2)
        H = W1.shape[1] if W1.ndim == 2 else 0
        if W1.shape[0] != 2 or H < 1:
            raise UserError(f"--W1 must be shaped (2, H) with H >= 1, got {W1.shape}")
        if W2.shape != (H, 2):
            raise UserError(f"--W2 must be shaped ({H}, 2) to match --W1, got {W2.shape}")
        start = {"W1": W1.tolist(), "W2": W2.tolist()}
        if args.b1 is not None:
            start["b1"] = _array_arg("b1", args.b1, 1).tolist()
            if len(start["b1"]) != H:
                raise UserError(f"--b1 must have {H} entries, got {len(start['b1'])}")
        if args.b2 is not None:
            start["b2"] = _array_arg("b2", args.b2, 1).tolist()
            if len(start["b2"]) != 2:
                raise UserError(f"--b2 must have 2 entries, got {len(start['b2'])}")
    if args.init_scale is not None:
        start["scale"] = args.init_scale
    return start


#: spec fields -> the train flags that set them, for messages in the user's words
_TRAIN_FLAGS = {"training.lr": "--lr", "training.steps": "--steps", "training.h": "--h",
                "training.gradient": "--gradient", "training.update": "--update", "training.rule": "--rule",
                "start.scale": "--init-scale", "axes.decimals.values[0]": "--decimals", "start.W1": "--W1",
                "start.W2": "--W2", "start.b1": "--b1", "start.b2": "--b2", "training.hidden": "--W1"}


def train_spec(args):
    """The one-cell spec that ``xorsweep train`` trains."""
    from xorsweep.sweep.spec import Spec

    start = _start_from_args(args)
    training = {"dtype": args.dtype, "arith": args.arith, "h": args.h}
    training.update({k: getattr(args, k) for k in ("rule", "gradient", "update", "lr", "steps")
                     if getattr(args, k) is not None})  # the rest: the rule's defaults
    if args.lyapunov:
        training["lyapunov"] = True
    H = len(start["W1"][0]) if "W1" in start else vocab.HIDDEN_DEFAULT
    training["hidden"] = H
    d = {"name": "xorsweep train", "training": training, "start": start}
    if args.decimals is not None:
        d["axes"] = {"decimals": {"values": [args.decimals]}}
    try:
        return Spec.from_dict(d)
    except UserError as e:
        text = str(e)
        for field, flag in sorted(_TRAIN_FLAGS.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(field, flag)
        raise UserError(text.removeprefix("spec: ")) from None


def _cmd_train(args):
    from xorsweep.sweep import cells

    spec = train_spec(args)
    _, r = cells.train_cell(spec)
    out = {
        "W1": r.W1[0], "b1": r.b1[0], "W2": r.W2[0], "b2": r.b2[0], "z1": r.z1[0], "y": r.y[0],
        "predicted": r.predicted[0], "accuracy": float(r.accuracy[0]), "loss": float(r.loss[0]),
        "diverged": bool(r.diverged[0]),
    }
    from xorsweep.kernels import outcomes as O

    c = O.classify_result(r, steps=spec.training.steps)
    tables = O.tables(r.W1.shape[2])
    for name in O.CLASS_VARIABLES:
        out[name] = tables[name][int(c[name][0])].display
    out["attractor"] = out["label"]  # the former name of label
    out["attractor_nearest"] = tables["label"][int(O.nearest_label(r.z1, c["label"])[0])].display
    out.update(solved_step=int(r.solved_step[0]), settled_step=int(r.settled_step[0]),
               unsettled=bool(c["unsettled"][0]), marginal=bool(c["marginal"][0]),
               grad_norm=float(r.grad_norm[0]))
    if r.lyapunov is not None:
        from xorsweep.kernels import lyapunov as L

        out.update(lyapunov=float(r.lyapunov[0]), lyapunov_separation=L.DELTA[spec.training.dtype],
                   lyapunov_every=L.EVERY)
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
    print(f"outcome {out['outcome']}" + ("  UNSETTLED" if out["unsettled"] else "")
          + f"  solved from step {out['solved_step']}  settled at step {out['settled_step']}"
          + f"  last gradient norm {out['grad_norm']:.3g}")
    if "lyapunov" in out:
        print(f"Lyapunov exponent {out['lyapunov']:.4g} per step (twin at {out['lyapunov_separation']:g}, "
              f"renormalised every {out['lyapunov_every']} steps: a separation grows about "
              f"{np.exp(out['lyapunov'] * spec.training.steps):.3g}-fold over {spec.training.steps} steps)")
    print(f"solution {out['solution']}")
    print(f"label {out['label']}" + (f" (nearest {near})" if near != out["label"] else "")
          + ("  (marginal: a bit read within the saturation margin)" if out["marginal"] else ""))
    return 0


# ---- run, plan, status, verify -----------------------------------------------------------
def _command_line():
    return " ".join(["xorsweep"] + [_safe(a) for a in sys.argv[1:]])


def _count_done(sw) -> int | None:
    """The blocks marked done in the sweep's store now (None if it cannot be read): after a
    stop, the run's own count misses the blocks that were running and finished after it."""
    try:
        return int(sw.check(write=False)[1].sum())
    except (Exception, KeyboardInterrupt):  # the message must not fail; the run's own count stands
        return None


def _safe(text) -> str:
    from xorsweep.sweep.store import printable

    return printable(str(text))


def _word(text) -> str:
    """text as one word of a command to paste into a shell (``store.shell_word``)."""
    from xorsweep.sweep.store import shell_word

    return shell_word(text)


def _sweep(args):
    from xorsweep.sweep.engine import Sweep

    return Sweep(args.spec, args.store, block=args.block, command=_command_line(),
                 unsafe_no_lock=getattr(args, "no_lock", False))


def _exists(sw):
    """Whether sw's store exists; True when that cannot be told (a URL store out of reach), so
    that an interrupt is never reported as having written nothing when it may have."""
    try:
        return sw.exists()
    except Exception:  # noqa: BLE001 - the stop's own message must not fail
        return True


def _cmd_run(args):
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    from xorsweep.sweep.engine import _reporter

    import logging

    from xorsweep.sweep.lock import refuse_if_held

    sw = _sweep(args)
    grid, done = sw.check()  # spec and store, before any cluster starts
    refuse_if_held(sw.path)
    print(f"{_safe(sw.path)}: {grid.cells:,} networks in {grid.n_blocks:,} blocks, {int(done.sum()):,} already done",
          file=sys.stderr)
    if done.all() and sw.exists():
        from xorsweep.sweep.lock import clear_stale

        clear_stale(sw.path)
        return 0
    if not getattr(args, "debug", False) and not sw.would_train_here(grid, done, address=args.address,
                                                                 workers=args.workers):
        # the client's own reconnection errors come with tracebacks: the run reports them
        # itself, in one line (--debug shows them). distributed applies dask's logging
        # config when it is imported, so set both.
        import dask

        dask.config.set({"logging.distributed": "critical"})
        import distributed  # noqa: F401  (configures its loggers on import)

        for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("distributed", "tornado")]:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    state = {}

    def on_start(client, grid, done):
        if client is None:
            print("small sweep: training in this process, which is quicker than starting a cluster "
                  "(--workers N or --address for one)", file=sys.stderr)
        elif client.dashboard_link and client.scheduler_info().get("services", {}).get("dashboard"):
            print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
        from xorsweep.kernels import _cache

        gradients = sorted({g for g, _ in grid.rule_parts()})
        cold = [g for g in gradients if not _cache.is_warm(g)]
        if cold:
            print(f"compiling the kernels for the {' and '.join(cold)} gradient (once per machine and version; "
                  "cached after)…", file=sys.stderr)

    def progress(p):
        if "bar" not in state:
            state["bar"] = _reporter(True, p, grid)
        state["p"] = p
        state["bar"](p, final=p.blocks_done == p.blocks_total)

    try:
        with _interrupts_as_keyboard(state):
            sw.run(progress=progress, address=args.address, workers=args.workers, on_start=on_start,
                   dashboard=f"127.0.0.1:{args.dashboard_port}", dataset=False)
    except KeyboardInterrupt:
        p = state.get("p")
        if "bar" in state:  # closed before the message (else its last line comes after it, at exit)
            state["bar"](p, final=True)
        if p is not None and p.blocks_done == p.blocks_total:
            print("\nxorsweep run: interrupted while stopping the cluster; every block was done: the store is "
                  "complete", file=sys.stderr)
            return 128 + state.get("signal", signal.SIGINT)
        if p is None and not _exists(sw):  # e.g. while the cluster started: the template comes after it
            print("\nxorsweep run: stopped before the store was made; nothing was written", file=sys.stderr)
            return 128 + state.get("signal", signal.SIGINT)
        done_text = f"{p.blocks_done:,}/{p.blocks_total:,} blocks done; " if p else ""
        counted = _count_done(sw) if p is not None else None
        if counted is not None and counted == p.blocks_total:  # the running blocks all finished
            print("\nxorsweep run: stopped after every block was done: the store is complete", file=sys.stderr)
            return 128 + state.get("signal", signal.SIGINT)
        if counted is not None:  # blocks still running when the stop came may have finished since
            external = args.address or os.environ.get("DASK_SCHEDULER_ADDRESS")  # as cluster.client_for
            done_text = f"{counted:,}/{p.blocks_total:,} blocks done (counted in the store"
            done_text += ("; blocks still running on the cluster's workers may finish later); " if external
                          else "); ")
        print(f"\nxorsweep run: stopped; {done_text}the store is consistent. Resume with: "
              f"xorsweep run {_word(args.spec)} --store {_word(args.store)}", file=sys.stderr)
        return 128 + state.get("signal", signal.SIGINT)
    p = state.get("p")
    if p is not None:
        rate = f", {p.rate:,.1f} networks/s of training" if p.rate else ""
        print(f"blocks {p.blocks_done:,}/{p.blocks_total:,} done: {p.cells_this_run:,} networks trained in "
              f"{engine_fmt(p.elapsed)}{rate}", file=sys.stderr)
    return 0


def engine_fmt(seconds):
    from xorsweep.sweep.engine import fmt_duration

    return fmt_duration(seconds)


class _interrupts_as_keyboard:
    """SIGTERM is handled like Ctrl-C (a clean stop, a history line, the lock released);
    the worker processes of an embedded cluster ignore SIGINT, so that Ctrl-C in a
    terminal (sent to the whole process group) reaches only this process."""

    def __init__(self, state):
        self.state = state

    def __enter__(self):
        self.old_term = signal.signal(signal.SIGTERM, self._term)
        return self

    def _term(self, signum, frame):
        self.state["signal"] = signum
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.old_term)
        return False


def _cmd_plan(args):
    sw = _sweep(args)
    print(sw.plan())
    return 0


def _cmd_status(args):
    from xorsweep.sweep import lock, store
    from xorsweep.sweep.grid import Grid

    spec = store.stored_spec(args.store)
    grid = Grid(spec)
    done = store.done_blocks(args.store, grid)
    attrs = store.stored_attrs(args.store)
    t = spec.training
    name = f", {_safe(spec.name)}" if spec.name else ""
    print(f"store      {_safe(args.store)}  (spec {spec.hash()}{name}, id {attrs.get('store_id', 'none (legacy)')})")
    swept = [d for d in ("rule", "gradient", "update") if d in grid.dims]
    rule = f"rule per cell (axes {', '.join(swept)})" if swept else f"rule {t.rule_text}"
    print(f"training   {rule}, lr {t.lr:g}, steps {t.steps:,}, {t.dtype}, arith {t.arith}, hidden {t.hidden}"
          + (f", record every {t.record_every}" if t.record_every else ""))
    print("start      " + (f"{spec.start.count:,} random starts, init_std {spec.start.init_std:g}, seed {spec.start.seed}"
                           if spec.start.random else "literal W1, W2"))
    print("grid       " + (" x ".join(f"{d} {n:,}" for d, n in zip(grid.dims, grid.shape)) or "one network")
          + f" = {grid.cells:,} networks")
    print(f"blocks     {int(done.sum()):,}/{grid.n_blocks:,} done ({100 * done.mean():.1f} %), "
          f"{grid.spec.block:,} networks per block")
    who = lock.holder(args.store)
    if who:
        print(f"writer     pid {who.get('pid')} on {_safe(who.get('host'))} since {who.get('since')}: "
              f"{_safe(who.get('command', ''))}")
        live = attrs.get("live") or {}
        if live:
            print(f"live       {live.get('rate', 0):,.1f} networks/s, ETA {live.get('eta', '?')} (at "
                  f"{live.get('at', '?')})" + (f", dashboard {live['dashboard']}" if live.get("dashboard") else ""))
    elif attrs.get("last_rate_networks_per_s"):
        print(f"rate       {attrs['last_rate_networks_per_s']:,.1f} networks/s of training in the last run")
    v = attrs.get("verified")
    if not v:
        print("integrity  never verified (xorsweep verify STORE reads every chunk)")
    else:
        print(f"integrity  verified {v.get('at')}: " + (f"{v['damaged']} damaged blocks"
                                                      + (" (repaired: run again)" if v.get("repaired") else "")
                                                      if v.get("damaged") else "no damage"))
    if attrs.get("added_variables"):
        print("added      " + ", ".join(map(_safe, attrs["added_variables"])) + " (analysis)")
    if attrs.get("adding_variables"):
        print("damage     adding " + ", ".join(map(_safe, attrs["adding_variables"])) + " was interrupted: add them "
              "again (xorsweep label STORE) or drop them (xorsweep verify STORE --repair)")
    print("history    " + _safe(attrs.get("history", "").strip().splitlines()[-1]))
    return 1 if attrs.get("adding_variables") else 0


def _cmd_verify(args):
    import datetime

    from xorsweep.sweep import lock, store
    from xorsweep.sweep.grid import Grid

    spec = store.stored_spec(args.store)
    grid = Grid(spec)
    ctx = lock.store_lock(args.store, _command_line()) if args.repair else _nullcontext()
    with ctx:
        fixed = store.fixed_array_damage(args.store, grid) if args.repair else []
        if fixed:  # coordinates and lookups: written again from the spec, which gives them
            store.rewrite_fixed_arrays(args.store, grid, fixed)
            print(f"{_safe(args.store)}: its fixed array{'s' * (len(fixed) > 1)} {', '.join(fixed)} written again "
                  "from its spec")
        dropped = store.drop_interrupted_add(args.store) if args.repair else []
        if dropped:  # analysis variables half written: the store as it was before the add
            print(f"{_safe(args.store)}: the variable{'s' * (len(dropped) > 1)} {', '.join(dropped)} of an interrupted "
                  "add dropped (add them again: xorsweep label STORE)")
        damaged = store.verify(args.store, grid, repair=args.repair)
        if args.repair or not lock.holder(args.store):
            now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            with _suppress_readonly():
                store.update_attrs(args.store, f"verified: {len(damaged)} damaged blocks"
                                   + (" marked not done" if args.repair and damaged else "")
                                   + (f"; fixed arrays {', '.join(fixed)} written again" if fixed else ""),
                                   verified={"at": now, "damaged": len(damaged), "repaired": bool(args.repair)})
    if not damaged:
        print(f"{_safe(args.store)}: every chunk of every done block reads back with a good checksum")
        return 0
    shown = ", ".join(map(str, damaged[:20])) + (" …" if len(damaged) > 20 else "")
    if args.repair:
        print(f"{_safe(args.store)}: {len(damaged)} damaged blocks ({shown}) marked not done; run the same spec "
              "again to recompute them (same bits)")
        return 0
    print(f"{_safe(args.store)}: {len(damaged)} damaged blocks ({shown}); repair with: xorsweep verify "
          f"{_safe(args.store)} --repair", file=sys.stderr)
    return 1


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _suppress_readonly:
    def __enter__(self):
        return self

    def __exit__(self, et, e, tb):  # a store on a read-only filesystem (EROFS) is read-only too
        return et is not None and (issubclass(et, PermissionError) or (
            issubclass(et, OSError) and getattr(e, "errno", None) == errno.EROFS))


# ---- figures -----------------------------------------------------------------------------
def _cmd_figures(args):
    import matplotlib

    matplotlib.use("Agg")
    from xorsweep.analysis.figure_files import write_figures

    if args.eps_fit is not None and not (0 < args.eps_fit[0] < args.eps_fit[1]):
        raise UserError(f"--eps-fit needs 0 < LOW < HIGH, got {args.eps_fit[0]} {args.eps_fit[1]}")
    files, notes = write_figures(args.store, args.out, cell=args.cell,
                                 eps_range=tuple(args.eps_fit) if args.eps_fit else None)
    for note in notes:
        print(f"xorsweep figures: left out: {note}", file=sys.stderr)
    for f in files:
        print(f)
    return 0


def _cmd_label(args):
    from xorsweep.analysis import labels
    from xorsweep.sweep import store

    store.stored_spec(args.store)  # a clear error for anything that is not a sound sweep store
    new = labels.add_to_store(args.store)
    added = store.added_variables(args.store)
    # counted from what was written (a sweep may resume on the store as soon as the add ends)
    att = new["attractor"]
    pending = [v for v, n in zip(att.attrs["flag_values"], labels.display_names(att)) if n == "pending"]
    labelled = ~np.isin(att.values, pending)
    done, cells = int(labelled.sum()), int(att.size)
    classes = np.unique(att.values[labelled]).size
    print(f"{_safe(args.store)}: added {', '.join(map(_safe, added))}: {done:,} of {cells:,} cells labelled "
          f"({classes} attractor{'s' * (classes != 1)}){'; cells not done read as pending' * (done < cells)}")
    return 0


def _cmd_stats(args):
    from xorsweep.analysis import labels, report
    from xorsweep.analysis import trajectory as T
    from xorsweep.sweep import store

    store.stored_spec(args.store)  # a clear error for anything that is not a sound sweep store
    ds = store.open_dataset(args.store)
    if (args.partition is None and "solution" not in ds) or args.partition in labels.NEW_VARIABLES:
        # the stored attractor variables only if no cell was trained since they were added, else computed
        ds = labels.with_attractors(ds)
    elif args.partition is not None and args.partition not in ds:
        raise UserError(f"--partition {args.partition}: the store has no such class variable")
    cell = T.parse_cell(ds, args.cell)
    rep = report.stats_report(ds, partition=args.partition, cell=cell,
                              fit_range=tuple(args.fit_range) if args.fit_range else None, seed=args.seed)
    print(report.to_json(rep) if args.json else report.format_report(rep))
    return 0


def _cmd_examples(args):
    from importlib import resources

    root = resources.files("xorsweep").joinpath("examples")
    names = sorted(p.name for p in root.iterdir() if p.name.endswith((".toml", ".ipynb")))
    if args.copy is None:
        for n in names:
            print(n)
        return 0
    import shutil
    from pathlib import Path

    dest = Path(args.copy)
    if not dest.is_dir():
        raise UserError(f"--copy {dest}: not a folder")
    for n in names:
        target = dest / n
        if target.exists():
            print(f"{target} exists: left as it is", file=sys.stderr)
            continue
        with resources.as_file(root.joinpath(n)) as src:
            shutil.copyfile(src, target)
        print(target)
    return 0


# ---- the parser ------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the problem, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    from xorsweep import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show Python tracebacks on errors")
    common.add_argument("--storage-option", action="append", metavar="KEY=VALUE", default=argparse.SUPPRESS,
                        help="an fsspec storage option for a URL store (s3://…), e.g. endpoint_url=http://host:9000 "
                             "or anon=true; credentials come from the environment (AWS_* variables)")
    p = _Parser(prog="xorsweep", description="Map where XOR-network training lands from each start.",
                parents=[common])
    p.add_argument("--version", action="version", version=f"xorsweep {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    raw = argparse.RawDescriptionHelpFormatter

    t = sub.add_parser("train", parents=[common], help="train one network from a literal start and print the result",
                       description="Train one 2-H-2 XOR network from a literal start and print its finals, "
                                   "hidden activations Z1, softmax outputs, argmax, accuracy, loss and attractor.",
                       epilog=TRAIN_EPILOG, formatter_class=raw)
    t.add_argument("--W1", help="JSON array, shape (2, H)")
    t.add_argument("--W2", help="JSON array, shape (H, 2)")
    t.add_argument("--b1", help="JSON array, shape (H,) (default zeros)")
    t.add_argument("--b2", help="JSON array, shape (2,) (default zeros)")
    t.add_argument("--published", action="store_true", help="start from the blog author's published W1, W2")
    t.add_argument("--init-scale", type=float, metavar="S", help="multiply the start by S (before --decimals)")
    t.add_argument("--decimals", type=int, metavar="N", help="np.round W1 and W2 to N decimals first (0 … 20)")
    t.add_argument("--rule", choices=list(vocab.RULES),
                   help="training rule: " + "; ".join(f"{r} = {g} gradient + {u} update"
                                                      for r, (g, u) in vocab.RULE_PARTS.items())
                   + f" (default: {vocab.DEFAULT_RULE})")
    t.add_argument("--gradient", choices=list(vocab.GRADIENTS),
                   help="the rule's gradient: numerical (central difference, step --h) or analytic "
                        "(default: the rule's)")
    t.add_argument("--update", choices=list(vocab.UPDATES),
                   help="the rule's update order: sequential (W1, b1, W2, b2 in turn) or simultaneous "
                        "(default: the rule's)")
    t.add_argument("--lr", type=float, help="learning rate (default: the rule's, 5.0)")
    t.add_argument("--steps", type=int, help="iterations (default: the rule's, 100)")
    t.add_argument("--h", type=float, default=vocab.DEFAULT_H, help="numerical gradient step (default 1e-4)")
    t.add_argument("--dtype", choices=list(vocab.DTYPES), default=vocab.DEFAULT_DTYPE)
    t.add_argument("--arith", choices=list(vocab.ARITHS), default=vocab.DEFAULT_ARITH,
                   help="exp/log variant: " + "; ".join(f"{k}: {v}" for k, v in vocab.ARITHS.items()))
    t.add_argument("--lyapunov", action="store_true", help="also print the finite-time Lyapunov exponent "
                   "(a twin trajectory, see the README)")
    t.add_argument("--json", action="store_true", help="print one JSON object instead")
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("run", parents=[common], help="run (or resume) a sweep into a Zarr store",
                       description="Run the sweep described by SPEC (a TOML file) on Dask and write every "
                                   "network's start, finals and outcome into a Zarr store; resume if the "
                                   "store exists.", epilog=RUN_EPILOG, formatter_class=raw)
    _spec_and_store(r)
    r.add_argument("--address", metavar="ADDR",
                   help="scheduler of an existing Dask cluster, e.g. tcp://host:8786 "
                        "(default: $DASK_SCHEDULER_ADDRESS, else an embedded LocalCluster)")
    r.add_argument("--workers", type=int, metavar="N", help="embedded cluster of N worker processes (default: one per "
                   "core; a small sweep trains in this process unless N is given)")
    r.add_argument("--no-lock", action="store_true",
                   help="a URL store whose backend cannot guarantee a single writer (no atomic create, or a server "
                        "that ignores conditional writes): write without the single-writer lock (you make "
                        "sure no other run writes it)")
    r.add_argument("--dashboard-port", type=int, default=8787, metavar="PORT",
                   help="embedded cluster: dashboard on 127.0.0.1:PORT (default 8787; another if taken)")
    r.set_defaults(func=_cmd_run)

    pl = sub.add_parser("plan", parents=[common], help="print what a run would do: cells, blocks, bytes, time",
                        description="Check SPEC against the store (nothing is written) and print the number of "
                                    "networks and blocks, those already done, the store's size and, when a "
                                    "previous run measured a rate, the time left.", epilog=PLAN_EPILOG,
                        formatter_class=raw)
    _spec_and_store(pl)
    pl.set_defaults(func=_cmd_plan)

    s = sub.add_parser("status", parents=[common], help="show a store's spec, blocks done, writer and rate",
                       description="Show the spec summary of a sweep store, how many blocks are done, who writes "
                                   "it now (pid, host, live rate, ETA), and when it was last verified.",
                       epilog=STATUS_EPILOG, formatter_class=raw)
    s.add_argument("store", metavar="STORE")
    s.set_defaults(func=_cmd_status)

    v = sub.add_parser("verify", parents=[common], help="read every chunk of a store; --repair marks damage for rerun",
                       description="Read every chunk of every done block (each has a CRC32C checksum) and report "
                                   "damaged or missing ones. --repair marks those blocks not done, so the next "
                                   "run of the same spec recomputes them with the same bits.",
                       epilog=VERIFY_EPILOG, formatter_class=raw)
    v.add_argument("store", metavar="STORE")
    v.add_argument("--repair", action="store_true", help="mark damaged blocks not done (holds the store's lock)")
    v.set_defaults(func=_cmd_verify)

    f = sub.add_parser("figures", parents=[common], help="write every figure a store supports (PNG and SVG)",
                       description="Write the figures of a store: one network's training (accuracy, loss, "
                                   "W1/b1/W2/b2 paths), attractor shares and flip rate per rounding digit, "
                                   "f(eps) with the uncertainty exponent, the attractor map and box count of "
                                   "a 2-D slice, the zoom sequence and every level's map of a zoomed slice, as far as the "
                                   "store's axes allow.", epilog=FIGURES_EPILOG,
                       formatter_class=raw)
    f.add_argument("store", metavar="STORE")
    f.add_argument("--out", required=True, metavar="DIR", help="folder for the figure files (created)")
    f.add_argument("--cell", action="append", metavar="DIM=VALUE",
                   help="the network drawn, and the value of dims a figure does not summarise "
                        "(repeatable; default: the first cell; decimals=none is the unrounded start)")
    f.add_argument("--eps-fit", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="fit the uncertainty exponent only over realised distances LOW … HIGH "
                        "(default: above the roundoff floor, where the local slopes agree)")
    f.set_defaults(func=_cmd_figures)

    st = sub.add_parser("stats", parents=[common], help="every statistic a store supports, as a table or JSON",
                        description="Print every statistic the store supports, each with its control and an "
                                    "interval that respects how the cells were drawn: shares and flip rates per "
                                    "rounding digit, f(eps) against the realised distance with local slopes, the "
                                    "roundoff floor and alpha (or why it is refused), box counts with mixed shares "
                                    "and a shuffled control, basin entropies, a fractality test, the same per zoom level "
                                    "of a zoomed slice, completeness.",
                        epilog=STATS_EPILOG, formatter_class=raw)
    st.add_argument("store", metavar="STORE")
    st.add_argument("--json", action="store_true", help="one JSON object (keys: see the README)")
    st.add_argument("--partition", metavar="NAME", help="class variable (default: solution if stored, else attractor)")
    st.add_argument("--cell", action="append", metavar="DIM=VALUE", help="value of dims a statistic does not summarise")
    st.add_argument("--fit-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                    help="fit alpha only over realised distances LOW … HIGH (the fit's own coordinate)")
    st.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the shuffled controls")
    st.set_defaults(func=_cmd_stats)

    lb = sub.add_parser("label", parents=[common], help="store the attractor labels in a store (for plain xarray)",
                        description="Compute every done cell's attractor (attractor, attractor_nearest, "
                                    "hidden_surplus; hidden_code where an old store lacks it) and write them into "
                                    "the store, so that plain xarray reads them. No other array changes. Run again "
                                    "it replaces them (after a resume) or completes an interrupted add. Holds the "
                                    "store's lock: refused while a sweep writes the store.",
                        epilog=LABEL_EPILOG, formatter_class=raw)
    lb.add_argument("store", metavar="STORE")
    lb.set_defaults(func=_cmd_label)

    e = sub.add_parser("examples", parents=[common], help="list the example specs shipped with xorsweep, or copy them",
                       description="List the example specs installed with xorsweep; --copy DIR copies them "
                                   "into DIR (existing files are left alone).")
    e.add_argument("--copy", metavar="DIR", help="copy every example into DIR")
    e.set_defaults(func=_cmd_examples)
    return p


def _spec_and_store(sp):
    sp.add_argument("spec", metavar="SPEC", help="sweep spec, a TOML file (see `xorsweep examples`)")
    sp.add_argument("--store", required=True, metavar="PATH", help="Zarr store to create or resume: a folder or a "
                                                                   "URL (s3://bucket/x.zarr, needs xorsweep[s3])")
    sp.add_argument("--block", type=int, metavar="N", help="networks per block for a new store "
                                                         "(default: the spec's execution.block)")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    debug = getattr(args, "debug", False)
    try:
        _locate(args)
        return args.func(args)
    except UserError as e:
        if debug:
            raise
        print(f"xorsweep {args.verb}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: end quietly, as other commands do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        # zarr's I/O loop may hold tasks the interrupt cut short: they fail as the interpreter
        # shuts down, and asyncio would print each one's traceback after this line
        import logging

        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"\nxorsweep {args.verb}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if debug:
            raise
        print(f"xorsweep {args.verb}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one line, and how to see the traceback
        if debug:
            raise
        print(f"xorsweep {args.verb}: internal error (a bug, please report it): {type(e).__name__}: "
              f"{_one_line(e)} (run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _locate(args):
    """Storage options from --storage-option; a ``file://`` store as its local path."""
    from xorsweep.sweep.location import Remote, as_location, set_storage_options

    set_storage_options(getattr(args, "storage_option", None))
    if isinstance(getattr(args, "store", None), str) and not isinstance(as_location(args.store), Remote):
        args.store = as_location(args.store)


def _one_line(e):
    return _safe(" ".join(str(e).split()) or type(e).__name__)
