"""Whole-sweep speed and memory against the bare kernel (prints numbers, asserts nothing).

  python benchmarks/bench_sweep.py speed             # 1,000,000-network gd sweep vs kernels.train (3 rounds)
  python benchmarks/bench_sweep.py memory            # peak RSS at 1e5, 1e6, 1.6e7 cells
  python benchmarks/bench_sweep.py big-slice         # 4096 x 4096 slice, 1,000 gd steps
  python benchmarks/bench_sweep.py first-run         # the README's main job, empty and warm compile cache

Every mode prints the machine's load average before and after: numbers taken under load
say so.
"""
import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xorsweep import kernels
from xorsweep.sweep import engine
from xorsweep.sweep.cluster import client_for
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.spec import Spec

START = {"published": True}


def slice_spec(side, steps, block):
    return Spec.from_dict({
        "training": {"rule": "gd", "lr": 5.0, "steps": steps},
        "start": START,
        "axes": {"slice": {"u": "W1[0,2]", "v": "W2[1,1]", "a": [-2, 2], "b": [-2, 2], "resolution": [side, side]}},
        "execution": {"block": block}})


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_sweep(spec, root, workers, opened=None, warm=False):
    """Seconds of the sweep as ``xorsweep run`` makes it (template, blocks trained and
    written, history; the workers import and load their kernels as the run starts, while
    this process makes the template: ``engine.WarmCheck``), the workers'
    peak RSS in MB and the store's bytes. ``opened``: a list that gets the seconds of
    opening the finished store as the xarray Dataset the library's ``engine.run`` returns
    (in this process, xarray and dask.array imported then: a cost paid once per process).
    ``warm``: every worker first trains one network of the spec (imports, kernels loaded
    from the compile cache), as the bare kernel's process has before its clock starts:
    what is left is the steady cost of Dask and Zarr."""
    path = Path(root) / "bench.zarr"
    shutil.rmtree(path, ignore_errors=True)
    with client_for(None, workers) as client:
        client.run(lambda: None)  # workers up before the clock starts
        if warm:
            client.run(engine.compile_block, spec.to_dict(), 0)
        t = time.perf_counter()
        engine.Sweep(spec, path).run(client, dataset=False)
        elapsed = time.perf_counter() - t
        if opened is not None:
            from xorsweep.sweep import store

            t = time.perf_counter()
            store.open_dataset(path)
            opened.append(time.perf_counter() - t)
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    shutil.rmtree(path)
    return elapsed, max(worker_rss.values()), size


def speed(args):
    side = 1000
    spec = slice_spec(side, args.steps, args.block)
    grid = Grid(spec)
    x = grid.starts(grid.block(0)) if grid.n_blocks == 1 else np.concatenate(
        [grid.starts(grid.block(k)).reshape(-1, grid.P) for k in range(grid.n_blocks)])
    x = x.reshape(-1, grid.P)
    H = 3
    parts = (x[:, :6].reshape(-1, 2, H), x[:, 6:9], x[:, 9:15].reshape(-1, H, 2), x[:, 15:])
    kernels.train(*(p[:128] for p in parts), rule="gd", steps=2, threads=args.workers)  # compile / load (parallel)
    work = grid.cells * args.steps
    print(f"networks {grid.cells:,} x {args.steps} gd steps, block {args.block}, {args.workers} workers; "
          f"{args.repeat} round(s) of: bare kernel, sweep as `xorsweep run`, sweep on warm workers", flush=True)
    rows = []
    for r in range(args.repeat):
        t = time.perf_counter()
        kernels.train(*parts, rule="gd", steps=args.steps, threads=args.workers)
        bare = time.perf_counter() - t
        opened = []
        elapsed, worker_mb, size = run_sweep(spec, args.dir, args.workers, opened)
        warm = run_sweep(spec, args.dir, args.workers, warm=True)[0]
        rows.append((bare, elapsed, warm, opened[0]))
        print(f"round {r + 1}: bare {bare:6.2f} s ({work / bare:.3g} network-steps/s)   sweep {elapsed:6.2f} s "
              f"({bare / elapsed:.1%})   warm workers {warm:6.2f} s ({bare / warm:.1%})   load "
              f"{os.getloadavg()[0]:.2f}", flush=True)
    bare, elapsed, warm = (float(np.median(c)) for c in list(zip(*rows))[:3])
    opened = rows[0][3]  # the first round's: xarray is imported then
    cold_share = float(np.median([b / e for b, e, _, _ in rows]))
    warm_share = float(np.median([b / w for b, _, w, _ in rows]))
    print(f"bare kernel   {bare:8.2f} s  {work / bare:.3g} network-steps/s  (medians of {len(rows)} round(s))")
    print(f"whole sweep   {elapsed:8.2f} s  {work / elapsed:.3g} network-steps/s  "
          f"(store {size / 1e9:.2f} GB, worker peak RSS {worker_mb:.0f} MB; as `xorsweep run`: new workers "
          "import and load their kernels as it starts)")
    print(f"sweep / bare  {cold_share:.1%}   (target >= 90%; median of the rounds' ratios)")
    print(f"warm workers  {warm:8.2f} s  {work / warm:.3g} network-steps/s  (each worker trained one network "
          f"first, as the bare kernel's process did): sweep / bare {warm_share:.1%}")
    print(f"opening the store as the Dataset engine.run returns: {opened:.2f} s more in this process in the first "
          f"round (xarray imported then; {np.median([r[3] for r in rows[1:]] or [opened]):.2f} s after); with "
          f"the first, sweep / bare {bare / (elapsed + opened):.1%}")


def memory(args):
    print(f"{'cells':>12} {'blocks':>7} {'seconds':>8} {'client MB':>10} {'worker MB':>10} {'store GB':>9}")
    for cells in (10**5, 10**6, 4096 * 4096):
        spec = slice_spec(int(math.isqrt(cells)), 1, args.block)
        elapsed, worker_mb, size = run_sweep(spec, args.dir, args.workers)
        print(f"{Grid(spec).cells:>12,} {Grid(spec).n_blocks:>7} {elapsed:>8.1f} {peak_rss_mb():>10.0f} "
              f"{worker_mb:>10.0f} {size / 1e9:>9.2f}", flush=True)
    print("(client MB is the peak of this process so far: flat means it does not grow with the grid)")


def big_slice(args):
    spec = slice_spec(4096, 1000, args.block)
    elapsed, worker_mb, size = run_sweep(spec, args.dir, args.workers)
    print(f"4096 x 4096 slice, 1,000 gd steps: {elapsed:.0f} s ({Grid(spec).cells * 1000 / elapsed:.3g} "
          f"network-steps/s), client peak {peak_rss_mb():.0f} MB, worker peak {worker_mb:.0f} MB, "
          f"store {size / 1e9:.2f} GB")


def first_run(args):
    """``xorsweep run examples/blog-rounding.toml`` as a new user meets it: a new process,
    an empty numba cache (a fresh folder in NUMBA_CACHE_DIR), then the same again warm."""
    from importlib.resources import files

    example = files("xorsweep") / "examples" / "blog-rounding.toml"
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / "numba")}
        for label in ("cold (empty compile cache)", "warm (cached kernels)"):
            store = Path(tmp) / "blog.zarr"
            shutil.rmtree(store, ignore_errors=True)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "xorsweep", "run", str(example), "--store", str(store)], env=env,
                           check=True, capture_output=True)
            print(f"xorsweep run blog-rounding, {label}: {time.perf_counter() - t:6.1f} s", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["speed", "memory", "big-slice", "first-run"])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--block", type=int, default=65536)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="speed: rounds (bare, sweep, warm sweep); medians")
    p.add_argument("--dir", default=tempfile.gettempdir())
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    {"speed": speed, "memory": memory, "big-slice": big_slice, "first-run": first_run}[args.what](args)
    print(f"load average {os.getloadavg()[0]:.2f} after", flush=True)


if __name__ == "__main__":
    main()
