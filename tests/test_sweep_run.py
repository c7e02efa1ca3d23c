"""Sweeps on a real 2-worker LocalCluster into a real Zarr store on disk."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xorsweep import kernels
from conftest import assert_same_store, bits, load_store
from xorsweep.sweep import engine
from xorsweep.sweep.cluster import WORKER_ENV
from xorsweep.sweep.errors import UserError
from xorsweep.kernels.vocab import RULES
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.spec import Spec

SPEC = {
    "training": {"rule": "gd", "lr": 5.0, "steps": 30, "record_every": 10},
    "start": {"count": 7, "init_std": 0.5, "seed": 4},
    "axes": {"decimals": {"values": ["none", 2, 1]}},
    "execution": {"block": 4},
}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as c:
        yield c


def spec(**over):
    d = json.loads(json.dumps(SPEC))
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v}
    return Spec.from_dict(d)


load = load_store
assert_same = assert_same_store


def chunk_files(path):
    """Every data chunk of the store with its bytes and modification time."""
    out = {}
    for p in Path(path).rglob("*"):
        if p.is_file() and "c" in p.relative_to(path).parts:
            out[str(p.relative_to(path))] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def reference_store(client, tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    engine.run(spec(), path, client)
    return path


def test_end_to_end_values_equal_kernels_train_called_directly(reference_store):
    ds = load(reference_store)
    assert ds.done.all()
    assert dict(ds.sizes) == {"start": 7, "decimals": 3, "record": 4, "input": 2, "hidden": 3, "output": 2, "row": 4,
                              "outcome_class": 18, "solution_class": 13, "label_class": 90}
    W1 = ds.W1_start.values.reshape(-1, 2, 3)
    W2 = ds.W2_start.values.reshape(-1, 3, 2)
    r = kernels.train(W1, np.zeros((21, 3)), W2, np.zeros((21, 2)), rule="gd", lr=5.0, steps=30, record_every=10)
    np.testing.assert_array_equal(bits(ds.W1.values.reshape(-1, 2, 3)), bits(r.W1))
    np.testing.assert_array_equal(bits(ds.loss.values.ravel()), bits(r.loss))
    np.testing.assert_array_equal(ds.predicted.values.reshape(-1, 4), r.predicted)
    np.testing.assert_array_equal(bits(ds.z1.values.reshape(-1, 4, 3)), bits(r.z1))
    np.testing.assert_array_equal(bits(ds.W2_traj.values.reshape(-1, 4, 3, 2)), bits(r.trajectory.W2))
    np.testing.assert_array_equal(ds.record.values, [0, 10, 20, 30])
    # the starts are the spec's: decimals NaN (rounded False) is unrounded, 2 is np.round(., 2)
    assert ds.rounded.values.tolist() == [False, True, True]
    np.testing.assert_array_equal(ds.W1_start.sel(decimals=2).values,
                                  np.round(ds.W1_start.sel(decimals=np.nan).values, 2))
    assert json.loads(ds.attrs["spec"]) == spec().to_dict()
    for v in ds.variables.values():
        assert "long_name" in v.attrs
    assert ds.predicted.attrs["flag_meanings"] and ds.diverged.attrs["flag_values"] == [0, 1]
    for key in ("versions", "git_commit", "cpu_model", "cpu_flags", "arith", "created", "history"):
        assert key in ds.attrs


def test_opens_with_plain_xarray_without_this_project(reference_store):
    code = ("import sys; sys.modules['xorsweep'] = None\n"
            "import warnings; warnings.simplefilter('error')\n"
            f"import xarray as xr; ds = xr.open_zarr({str(reference_store)!r}); print(float(ds.loss.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert np.isclose(float(out.stdout), float(load(reference_store).loss.sum()))


@pytest.mark.parametrize("block", [1, 9, 100])
def test_dataset_does_not_depend_on_block_size(client, reference_store, tmp_path, block):
    path = tmp_path / "b.zarr"
    engine.run(spec(execution={"block": block}), path, client)
    assert_same(load(path), load(reference_store))


def test_dataset_does_not_depend_on_worker_count(reference_store, tmp_path):
    from distributed import Client, LocalCluster

    path = tmp_path / "one.zarr"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as c:
        engine.run(spec(execution={"block": 5}), path, c)
    assert_same(load(path), load(reference_store))


def test_every_arithmetic_is_independent_of_block_size_and_workers(client, tmp_path, monkeypatch):
    """An arith axis over every variant: 2 workers with blocks of 4 and one in-process run
    with blocks of 7 write the same bits, and each variant's cells are kernels.train's
    with that arithmetic called directly (2 threads, the whole batch at once)."""
    from xorsweep.kernels.vocab import ARITHS

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    axes = {"decimals": {"values": ["none", 2]}, "arith": {"values": list(ARITHS)}}
    a, b = tmp_path / "workers.zarr", tmp_path / "here.zarr"
    engine.run(spec(axes=axes, start={"count": 5}), a, client)
    engine.Sweep(spec(axes=axes, start={"count": 5}, execution={"block": 7}), b).run(here=True)
    assert_same(a, b)
    ds = load(a)
    for arith in ARITHS:
        cell = ds.sel(arith=arith)
        W1 = cell.W1_start.values.reshape(-1, 2, 3)
        W2 = cell.W2_start.values.reshape(-1, 3, 2)
        r = kernels.train(W1, np.zeros((len(W1), 3)), W2, np.zeros((len(W1), 2)), rule="gd", lr=5.0, steps=30,
                          arith=arith, threads=2)
        np.testing.assert_array_equal(bits(cell.W1.values.reshape(-1, 2, 3)), bits(r.W1), err_msg=arith)
        np.testing.assert_array_equal(bits(cell.loss.values.ravel()), bits(r.loss), err_msg=arith)
    w = {arith: bits(ds.W1.sel(arith=arith).values) for arith in ARITHS}
    assert all(not np.array_equal(w[x], w[y]) for x in ARITHS for y in ARITHS if x < y)  # the axis is used


class Stop(Exception):
    pass


@pytest.mark.parametrize("stop_after", [1, 3])
def test_resume_after_a_stop_is_bit_identical_and_keeps_finished_chunks(client, reference_store, tmp_path, stop_after):
    path = tmp_path / "r.zarr"

    def stopper(p):
        if p.blocks_done >= stop_after:
            raise Stop

    with pytest.raises(Stop):
        engine.run(spec(), path, client, progress=stopper)
    partial = load(path)  # readable mid-sweep: done cells hold values, the rest NaN
    assert 0 < int(partial.done.sum()) < partial.done.size
    assert np.isnan(partial.loss.values[~partial.done.values]).all()
    assert not np.isnan(partial.loss.values[partial.done.values]).any()
    grid, done = engine.Sweep(spec(), path).check()
    finished = {k: v for k, v in chunk_files(path).items() if _in_done_block(k, partial, grid, done)}
    assert finished
    engine.run(spec(), path, client)
    after = chunk_files(path)
    assert {k: after[k] for k in finished} == finished  # not one byte nor mtime changed
    assert_same(load(path), load(reference_store))
    assert "run stopped" in load(path).attrs["history"]


def _in_done_block(name, ds, grid, done):
    """Whether chunk file ``name`` (var/c/i/j/...) of a data variable lies in a done block."""
    parts = name.split("/")
    if parts[0] not in ds.data_vars:
        return False
    idx = tuple(int(p) for p in parts[2:2 + len(grid.dims)])
    return bool(done[np.ravel_multi_index(idx, grid.block_grid)])


def test_rerun_of_a_finished_store_changes_no_chunk(client, reference_store, tmp_path):
    import shutil

    path = tmp_path / "copy.zarr"
    shutil.copytree(reference_store, path)
    before = chunk_files(path)
    engine.run(spec(), path, client)
    assert chunk_files(path) == before


def test_store_of_another_spec_is_refused_with_the_difference(client, reference_store):
    before = chunk_files(reference_store)
    with pytest.raises(UserError, match=r"another spec \(training\.lr: 5\.0 in store, 2\.0 now"):
        engine.run(spec(training={"lr": 2.0}), reference_store, client)
    assert chunk_files(reference_store) == before


def test_cli_run_and_status(tmp_path):
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('[training]\nrule = "gd"\nsteps = 10\n[start]\ncount = 5\n'
                         '[axes.decimals]\nvalues = ["none", 1]\n[execution]\nblock = 4\n')
    store = tmp_path / "s.zarr"
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": ""}
    out = subprocess.run([sys.executable, "-m", "xorsweep", "run", str(spec_file), "--store", str(store), "--workers", "2"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "blocks 3/3 done" in out.stderr
    st = subprocess.run([sys.executable, "-m", "xorsweep", "status", str(store)], capture_output=True, text=True, timeout=60)
    assert st.returncode == 0, st.stderr
    assert "3/3 done" in st.stdout and "start 5 x decimals 2" in st.stdout
    again = subprocess.run([sys.executable, "-m", "xorsweep", "run", str(spec_file), "--store", str(store)],
                           capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "already done" in again.stderr
    assert Grid(Spec.from_toml(spec_file)).cells == 10


def test_each_kernel_variant_compiles_on_one_worker_first():
    """A variant's blocks wait for its probe; probes of different variants run side by side."""
    g = Grid(spec(axes={"rule": {"values": list(RULES)}, "lr": {"values": [1.0, 5.0]}},
                  execution={"block": 7}))
    assert g.dims[:2] == ("rule", "lr")
    q = engine.CompileOnce(g, range(g.n_blocks))
    (a, pa), (b, pb), (c, _) = q.take(), q.take(), q.take()
    assert pa and pb and c is None  # one probe per rule, then nothing until one finished
    assert {g.block(a).settings["rule"], g.block(b).settings["rule"]} == set(RULES)
    q.compiled(b)
    rest = []
    while (t := q.take())[0] is not None:
        assert not t[1]
        rest.append(t[0])
    assert len(rest) == g.n_blocks // 2 and {g.block(k).settings["rule"] for k in rest} == {g.block(b).settings["rule"]}
    q.compiled(a)
    while (k := q.take()[0]) is not None:
        rest.append(k)
    assert sorted(rest) == list(range(g.n_blocks))  # every block exactly once, after its probe
    # lr is not a compiled setting: its blocks share one probe
    one = engine.CompileOnce(Grid(spec(axes={"lr": {"values": [1.0, 5.0]}})), range(4))
    assert one.take()[1] and one.take()[0] is None
    # a warm cache: no probes, every block at once, in order
    warm = engine.CompileOnce(g, range(g.n_blocks), probe=False)
    assert [warm.take() for _ in range(g.n_blocks + 1)] == [(k, False) for k in range(g.n_blocks)] + [(None, False)]


def test_a_probe_trains_one_network_of_its_block_without_a_store():
    s = spec(axes={"rule": {"values": list(RULES)}})
    g = Grid(s)
    assert engine.compile_block(s.to_dict(), g.n_blocks - 1) == {"compiled": g.n_blocks - 1}


def test_a_sweep_over_two_rules_matches_its_single_rule_stores(client, tmp_path):
    both = spec(axes={"rule": {"values": ["gd", "seed"]}})
    engine.run(both, tmp_path / "both.zarr", client)
    ds = load(tmp_path / "both.zarr")
    for rule in ("gd", "seed"):
        engine.run(spec(training={"rule": rule}), tmp_path / f"{rule}.zarr", client)
        one = load(tmp_path / f"{rule}.zarr")
        np.testing.assert_array_equal(bits(ds.loss.sel(rule=rule).values), bits(one.loss.values))


def test_gradient_and_update_axes_store_each_pair_as_kernels_train_gives_it(client, tmp_path):
    """A gradient x update sweep: each cell holds kernels.train's bits for its pair, the
    store records the pairs as coordinates and in its attributes, and the precision study
    compares each part against the author's rule."""
    from xorsweep.analysis.precision import precision_flips

    d = {"training": {"steps": 12}, "start": {"count": 70, "init_std": 1.0, "seed": 5},
         "axes": {"gradient": {"values": ["numerical", "analytic"]}, "update": {"values": ["sequential", "simultaneous"]}},
         "execution": {"block": 64}}
    path = tmp_path / "parts.zarr"
    engine.run(Spec.from_dict(d), path, client)
    ds = load(path)
    assert ds.done.all() and ds.W1.dims[:3] == ("gradient", "update", "start")
    assert "sequential" in ds["update"].attrs["comment"] and ds.attrs["gradient"].startswith("per cell")
    for gradient in ("numerical", "analytic"):
        for update in ("sequential", "simultaneous"):
            cell = ds.sel(gradient=gradient, update=update)
            r = kernels.train(cell.W1_start.values, cell.b1_start.values, cell.W2_start.values, cell.b2_start.values,
                              gradient=gradient, update=update, steps=12)
            np.testing.assert_array_equal(bits(cell.W1.values), bits(r.W1), err_msg=f"{gradient} {update}")
            np.testing.assert_array_equal(bits(cell.grad_norm.values), bits(r.grad_norm))
    rows = {(r["axis"], r["value"]) for r in precision_flips(ds)["rows"]}
    assert rows == {("gradient", "analytic"), ("update", "simultaneous")}
    fixed = store_attrs_of(Spec.from_dict({**d, "training": {"gradient": "analytic", "update": "sequential"},
                                           "axes": {"decimals": {"values": [2]}}}))
    assert (fixed["gradient"], fixed["update"]) == ("analytic", "sequential")


def store_attrs_of(s):
    from xorsweep.sweep import store

    return store.rule_attrs(Grid(s))


# ---- small sweeps train in the calling process --------------------------------------------
def test_a_small_sweep_trains_in_this_process_with_the_cluster_bits(reference_store, tmp_path, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    sw = engine.Sweep(spec(), tmp_path / "here.zarr")
    grid, done = sw.check()
    assert sw.would_train_here(grid, done)
    seen = []
    ds = sw.run(on_start=lambda c, g, d: seen.append(c), progress=lambda p: seen.append(p.blocks_done))
    n = grid.n_blocks
    assert seen == [None, *range(1, n + 1), n]  # no client; every block reported, then the final report
    assert "in this process" in ds.attrs["history"]
    assert_same(sw.path, reference_store)


def test_which_sweeps_train_here(tmp_path, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    sw = engine.Sweep(spec(), tmp_path / "s.zarr")
    grid, done = sw.check()
    assert not sw.would_train_here(grid, done, workers=2)  # a cluster asked for
    assert not sw.would_train_here(grid, done, address="tcp://127.0.0.1:1")
    assert not sw.would_train_here(grid, done, here=False)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    assert not sw.would_train_here(grid, done)
    assert sw.would_train_here(grid, done, here=True)
    with pytest.raises(UserError, match="here=True trains in this process"):
        sw.would_train_here(grid, done, here=True, workers=2)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    n = grid.n_blocks  # each of at most 4 networks, padded to 64 lanes, 30 steps
    assert engine.training_work(grid, range(n)) == n * 64 * 30
    big = engine.Sweep(spec(training={"steps": engine.SMALL_WORK // (n * 64) + 1}), tmp_path / "b.zarr")
    assert not big.would_train_here(*big.check())
    many = engine.Sweep(spec(start={"count": 100}, execution={"block": 1}), tmp_path / "m.zarr")
    assert many.check()[0].n_blocks > engine.SMALL_BLOCKS and not many.would_train_here(*many.check())
    steps = engine.SMALL_WORK // (n * 64 * 3) + 1  # small alone, not with a twin trajectory
    plain, twin = (engine.Sweep(spec(training={"lyapunov": t, "steps": steps}), tmp_path / f"{t}.zarr")
                   for t in (False, True))
    assert plain.would_train_here(*plain.check()) and not twin.would_train_here(*twin.check())
    # a numerical step costs (5H + 2)·H, 400 times more at H = 64 than at H = 3: not small
    assert engine.step_cost("numerical", 64) == pytest.approx(64 / 3 * 322 / 17)
    wide = engine.Sweep(spec(training={"rule": "seed", "hidden": 64}), tmp_path / "w.zarr")
    assert not wide.would_train_here(*wide.check())
    narrow = engine.Sweep(spec(training={"rule": "seed"}), tmp_path / "n.zarr")
    assert narrow.would_train_here(*narrow.check())
    # a URL store goes to a cluster (a write per object is a round trip)
    assert not engine.Sweep(spec(), "s3://bucket/x.zarr").would_train_here(grid, done)


def test_ctrl_c_during_an_in_process_run_stops_between_blocks(client, tmp_path):
    """SIGINT while blocks train in the CLI process: a clean stop after the block in hand
    (never inside a write), then a resume gives the cluster's bits."""
    import signal
    import time

    spec_file = tmp_path / "s.toml"
    # 60 blocks of one network at 500 steps: 1.9e6 lane-steps (each block is 64 lanes), "small"
    spec_file.write_text('[training]\nrule = "gd"\nlr = 5.0\nsteps = 500\n[start]\ncount = 20\ninit_std = 0.5\n'
                         'seed = 4\n[axes.decimals]\nvalues = ["none", 2, 1]\n[execution]\nblock = 1\n')
    store = tmp_path / "s.zarr"
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "xorsweep", "run", str(spec_file), "--store", str(store)]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    import zarr

    def done():
        try:
            return int(zarr.open_group(str(store), mode="r")["done"][...].sum())
        except Exception:  # noqa: BLE001 - not made yet
            return 0
    t = time.monotonic()
    while done() < 2 and p.poll() is None:
        assert time.monotonic() - t < 120
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    assert "small sweep: training in this process" in err
    assert p.returncode == 130 and "Traceback" not in err and "Resume with" in err, err
    assert 0 < done() < 60
    ok = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "already done" in ok.stderr and "blocks 60/60 done" in ok.stderr, ok.stderr
    assert_same(store, engine.run(Spec.from_toml(spec_file), tmp_path / "cluster.zarr", client))


def test_an_interrupt_inside_an_in_process_block_lands_after_it(reference_store, tmp_path, monkeypatch):
    """SIGINT while a block trains here: the block is written and counted, the run stops
    before the next one with its history line, and the handler is back."""
    import signal

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    real, calls = engine.train_block, []

    def interrupted(*a):
        calls.append(a[-1])
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # arrives while the block is in hand
        return real(*a)

    monkeypatch.setattr(engine, "train_block", interrupted)
    sw = engine.Sweep(spec(), tmp_path / "int.zarr")
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        sw.run(here=True)
    assert signal.getsignal(signal.SIGINT) is handler and len(calls) == 2
    grid, done = sw.check()
    assert done.sum() == 2 and done[calls].all()
    assert f"run stopped: 2/{grid.n_blocks} blocks done" in load(sw.path).attrs["history"]
    monkeypatch.setattr(engine, "train_block", real)
    sw.run(here=True)
    assert_same(sw.path, reference_store)


def test_probes_only_where_a_worker_has_a_cold_cache(client, reference_store, tmp_path):
    """Workers are asked whether their own compile cache holds the kernels (a cluster's
    machines have caches of their own); one cold worker brings the compile probes back."""
    from distributed import Client, LocalCluster

    g = Grid(spec())
    assert engine.workers_warm(client, g)  # the reference store was trained on these workers
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env={**WORKER_ENV, "NUMBA_CACHE_DIR": str(tmp_path / "empty")}) as cluster, \
            Client(cluster) as cold:
        assert not engine.workers_warm(cold, g)
        # the check a run starts with (engine.WarmCheck) loads nothing from a cold cache:
        # that worker would compile what the probe compiles on one worker
        assert not engine.WarmCheck(cold, g).result()
        assert not any(cold.run(lambda: "xorsweep.kernels.batch" in sys.modules).values())
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as new:
        assert not any(new.run(lambda: "xorsweep.kernels.batch" in sys.modules).values())
        assert engine.WarmCheck(new, g).result()  # a warm cache: the kernels are imported as the run starts
        assert all(new.run(lambda: "xorsweep.kernels.batch" in sys.modules).values())


@pytest.mark.parametrize("then", ["exact", "exact-fma"])
def test_a_store_made_with_an_earlier_default_resumes_with_its_own_arithmetic(tmp_path, monkeypatch, then):
    """The default arithmetic is exact-fma2 for new stores; a store made when it was exact or
    exact-fma (its stored spec names it) resumes with that arithmetic from the same spec
    file, which names none, and ends bit-identical to an uninterrupted store of it."""
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    made = spec(training={"arith": then})
    unnamed = spec()
    assert unnamed.training.arith == "exact-fma2" and not unnamed.arith_named
    whole = engine.Sweep(made, tmp_path / "whole.zarr")
    whole.run(here=True)
    old = engine.Sweep(made, tmp_path / "old.zarr")
    old.train_here(blocks=[0, 2])
    resumed = engine.Sweep(unnamed, tmp_path / "old.zarr")
    assert resumed.would_train_here(*resumed.check())
    resumed.run(here=True)
    assert_same(tmp_path / "old.zarr", tmp_path / "whole.zarr")
    assert json.loads(load(tmp_path / "old.zarr").attrs["spec"])["training"]["arith"] == then
    # with --block too (the spec is rebuilt, the arithmetic still left to the store)
    assert engine.Sweep(unnamed, tmp_path / "old.zarr", block=4).plan().blocks_done == whole.plan().blocks
    # a new store from the same file: exact-fma2, other bits
    new = engine.Sweep(unnamed, tmp_path / "new.zarr")
    new.run(here=True)
    ds = load(tmp_path / "new.zarr")
    assert json.loads(ds.attrs["spec"])["training"]["arith"] == "exact-fma2"
    assert not np.array_equal(bits(ds.W1.values), bits(load(tmp_path / "whole.zarr").W1.values))
    # a spec that names exact-fma2 is another spec for the old store
    with pytest.raises(UserError, match=f"training.arith: '{then}' in store, 'exact-fma2' now"):
        engine.Sweep(spec(training={"arith": "exact-fma2"}), tmp_path / "old.zarr").check()


def test_in_process_runs_compile_each_variant_before_its_blocks(tmp_path, monkeypatch):
    """Outside the blocks (where Ctrl-C stops at once), one network of the first block of
    each kernel variant compiles or loads its kernels; then the blocks train."""
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    calls = []
    real_compile, real_train = engine.compile_block, engine.train_block
    monkeypatch.setattr(engine, "compile_block", lambda d, k: calls.append(("compile", k)) or real_compile(d, k))
    monkeypatch.setattr(engine, "train_block", lambda *a: calls.append(("train", a[-1])) or real_train(*a))
    d = spec(axes={"rule": {"values": list(RULES)}, "decimals": {"values": ["none", 1]}})
    sw = engine.Sweep(d, tmp_path / "v.zarr")
    sw.run(here=True)
    g = Grid(d)
    rules = [g.block(k).settings["rule"] for _, k in calls]
    compiles = [i for i, (what, _) in enumerate(calls) if what == "compile"]
    assert len(compiles) == len(RULES) and [w for w, _ in calls].count("train") == g.n_blocks
    for i in compiles:  # each compile comes right before the first block of its rule
        assert calls[i + 1] == ("train", calls[i][1]) and rules[i] not in rules[:i]


def test_in_process_runs_report_their_live_rate_for_status(tmp_path, monkeypatch):
    """`xorsweep status` in another terminal reads the run's rate and ETA from the store; an
    in-process run writes them too (here after every block), and clears them at the end."""
    from xorsweep.sweep import store

    real_live, real_update, seen = engine.Sweep._live, store.update_attrs, []
    monkeypatch.setattr(engine.Sweep, "_live", staticmethod(lambda p, s, c, last: real_live(p, s, c, last, every=0)))

    def update(path, history=None, **attrs):
        if "live" in attrs:
            seen.append(attrs["live"])
        return real_update(path, history, **attrs)

    monkeypatch.setattr(store, "update_attrs", update)
    sw = engine.Sweep(spec(), tmp_path / "live.zarr")
    sw.run(here=True, dataset=False)
    grid, _ = sw.check()
    running = [v for v in seen if v is not None]
    # from the first block with a measured rate on (the rate needs one block finished before)
    assert len(running) >= grid.n_blocks - 1
    assert [v["blocks_done"] for v in running] == list(range(grid.n_blocks - len(running) + 1, grid.n_blocks + 1))
    assert all(v["rate"] > 0 and v["eta"] and v["dashboard"] is None for v in running)
    assert seen[-1] is None and load(sw.path).attrs.get("live") is None


@pytest.mark.parametrize("training", [{"record_every": 10}, {"lyapunov": True, "record_every": 10, "rule": "seed"}])
def test_the_last_blocks_train_in_parts_with_the_bits_of_whole_blocks(client, tmp_path, training):
    """On a cluster of 2 threads the last 2 blocks of a run are trained in 2 parts each (cut
    along the block's longest dim, parts of at least 64 cells) and written once joined: the
    store is the one trained block by
    block in this process, bit for bit (trajectories, Lyapunov exponents and outcomes
    included), and the progress counts every cell once."""
    from distributed import get_task_stream

    sp = spec(training=training, start={"count": 130}, execution={"block": 150})  # 390 cells: 150, 150, 90
    grid = Grid(sp)
    assert [grid.block(k).shape for k in range(3)] == [(50, 3), (50, 3), (30, 3)]
    assert engine.part_bounds(grid.block(1), 2) == (0, [(0, 25), (25, 50)])
    assert engine.part_bounds(grid.block(2), 2) == (0, [(0, 30)])  # 90 cells: one part of at least 64
    seen = []
    with get_task_stream(client) as ts:
        engine.Sweep(sp, tmp_path / "parts.zarr").run(client, progress=lambda p: seen.append(p.cells_done))
    parts = sorted(d["key"] for d in ts.data if "-part-" in str(d["key"]))
    assert len(parts) == 2 and all(k.rsplit("-", 3)[-3] == "1" for k in parts), parts  # block 1: 0:25, 25:50
    assert seen[-1] == 390 and seen == sorted(seen)
    engine.Sweep(sp, tmp_path / "here.zarr").train_here()
    assert_same(tmp_path / "parts.zarr", tmp_path / "here.zarr")
