"""Stores that cannot silently lose, mix or corrupt data (issue 9): identity, checksums,
verify and repair, the lock, temp files, and the defects found by trying to break the tool.

Each test names the defect it guards against; each failed on the code before this issue.
"""
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import assert_same_store, load_store
from xorsweep import kernels
from xorsweep.errors import UserError
from xorsweep.sweep import engine, store
from xorsweep.sweep.cluster import WORKER_ENV
from xorsweep.sweep.engine import Sweep
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.lock import holder, lock_path, store_lock
from xorsweep.sweep.spec import Spec

SPEC = {"name": "integrity", "training": {"rule": "gd", "steps": 20},
        "start": {"count": 12, "init_std": 0.5, "seed": 5},
        "axes": {"decimals": {"values": ["none", 2]}}, "execution": {"block": 4}}
BIN = Path(sys.executable).parent
ENV = {**os.environ, "DASK_SCHEDULER_ADDRESS": "", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    Sweep(SPEC, path).run(client)
    return path


def copy_of(src, dst):
    shutil.copytree(src, dst)
    return dst


def files_of(path):
    p = Path(path)
    return {str(f.relative_to(p)): hashlib.sha256(f.read_bytes()).hexdigest() for f in p.rglob("*") if f.is_file()}


def chunk(path, name, *key):
    return Path(path, name, "c", *map(str, key))


def done_count(path):
    grid = Grid(store.stored_spec(path))
    return int(store.done_blocks(path, grid).sum())


# ---- defect 1: adding labels deleted the store's spec --------------------------------------
def test_adding_labels_keeps_every_attribute_and_every_existing_chunk(reference, tmp_path):
    from xorsweep.analysis import labels

    path = copy_of(reference, tmp_path / "l.zarr")
    before_attrs = store.stored_attrs(path)
    before = {k: v for k, v in files_of(path).items() if "/c/" in k or k.count("/") == 1 and k.endswith(".json")
              and not k.startswith("zarr.json")}
    labels.add_to_store(path)
    after_attrs = store.stored_attrs(path)
    for k, v in before_attrs.items():
        if k != "history":
            assert after_attrs[k] == v, k
    assert after_attrs["history"].startswith(before_attrs["history"])
    after = files_of(path)
    assert {k: after[k] for k in before} == before
    assert store.stored_spec(path).hash() == Spec.from_dict(SPEC).hash()
    ds = xr.open_zarr(path)
    assert "attractor" in ds and "loss" in ds
    got, want = load_store(path), load_store(reference)
    for name in want.variables:  # every variable the store had keeps its values
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)


# ---- defects 2 and 3: relative paths on a remote cluster; two stores on one cluster ------
def test_two_stores_of_one_spec_on_one_cluster_both_get_every_block(client, reference, tmp_path):
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    errors = []

    def go(p):
        try:
            Sweep(SPEC, p).run(client)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=go, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert_same_store(a, reference)
    assert_same_store(b, reference)
    assert store.store_id(a) != store.store_id(b)


def test_a_task_refuses_to_write_into_another_store(reference, tmp_path):
    path = copy_of(reference, tmp_path / "other.zarr")
    grid = Grid(store.stored_spec(path))
    block = grid.block(0)
    values = {"loss": np.zeros(block.shape)}
    before = files_of(path)
    with pytest.raises(UserError, match="not the store this task was made for"):
        store.write_block(path, "0" * 32, grid, block, values)
    assert files_of(path) == before


def test_the_store_path_is_made_absolute_on_the_client(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sw = Sweep(SPEC, "rel.zarr")
    assert sw.path == tmp_path / "rel.zarr" and sw.path.is_absolute()


# ---- defects 4 and 5, and the repair guarantee ----------------------------------------------
DAMAGE = {
    "deleted": lambda f: f.unlink(),
    "truncated": lambda f: f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2]),
    "bit-flipped": lambda f: _flip(f),
    "zeroed": lambda f: f.write_bytes(bytes(len(f.read_bytes()))),
}


def _flip(f):
    data = bytearray(f.read_bytes())
    i = random.Random(str(f)).randrange(len(data))
    data[i] ^= 1 << random.Random(i).randrange(8)
    f.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("variable", ["loss", "z1", "predicted", "done"])
def test_damage_is_found_and_repaired_bit_for_bit(client, reference, tmp_path, damage, variable):
    path = copy_of(reference, tmp_path / "d.zarr")
    grid = Grid(store.stored_spec(path))
    key = (1, 0) + ((0,) if variable == "predicted" else (0, 0) if variable == "z1" else ())
    DAMAGE[damage](chunk(path, variable, *key))
    damaged = store.verify(path, grid)
    block = int(np.ravel_multi_index((1, 0), grid.block_grid))
    if (variable, damage) == ("done", "deleted"):
        # a lost done chunk reads as "pending": the block is simply trained again
        assert damaged == [] and not store.done_blocks(path, grid)[block]
        Sweep(SPEC, path).run(client)
        assert_same_store(path, reference)
        return
    assert damaged == [block]
    if damage == "deleted":
        assert not store.done_blocks(path, grid)[block]  # a missing chunk: not done, found without reading data
    if variable == "loss" and damage == "bit-flipped":
        with pytest.raises(ValueError, match="checksum"):
            xr.open_zarr(path).loss.values  # damage is an error on read, never a wrong number
    assert store.verify(path, grid, repair=True) == [block]
    assert not store.done_blocks(path, grid)[block]
    Sweep(SPEC, path).run(client)
    assert store.verify(path, grid) == []
    assert_same_store(path, reference)


def test_every_chunk_carries_a_checksum(reference):
    import zarr

    g = zarr.open_group(str(reference), mode="r")
    for name, arr in g.arrays():
        assert any(type(c).__name__ == "Crc32cCodec" for c in arr.metadata.codecs), name


def test_verify_and_repair_from_the_command_line(reference, tmp_path):
    path = copy_of(reference, tmp_path / "cli.zarr")
    chunk(path, "loss", 1, 0).unlink()
    r = subprocess.run([sys.executable, "-m", "xorsweep", "verify", str(path)], capture_output=True, text=True,
                       env=ENV, timeout=120)
    assert r.returncode == 1 and "1 damaged blocks" in r.stderr and "--repair" in r.stderr
    st = subprocess.run([sys.executable, "-m", "xorsweep", "status", str(path)], capture_output=True, text=True,
                        env=ENV, timeout=120)
    assert "5/6 done" in st.stdout and "1 damaged blocks" in st.stdout
    r = subprocess.run([sys.executable, "-m", "xorsweep", "verify", str(path), "--repair"], capture_output=True,
                       text=True, env=ENV, timeout=120)
    assert r.returncode == 0 and "marked not done" in r.stdout


def test_status_says_when_a_store_was_never_verified(reference):
    r = subprocess.run([sys.executable, "-m", "xorsweep", "status", str(reference)], capture_output=True, text=True,
                       env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "never verified" in r.stdout or "verified" in r.stdout


# ---- defects 6 and 7: the lock ---------------------------------------------------------------
def _contend(path, barrier, log):
    barrier.wait()
    try:
        with store_lock(path, "contender"):
            t0 = time.monotonic()
            time.sleep(0.3)
            log.put((os.getpid(), t0, time.monotonic()))
    except UserError:
        log.put((os.getpid(), None, None))


@pytest.mark.parametrize("trial", range(5))
def test_many_contenders_on_a_dead_runs_lock_never_hold_it_together(tmp_path, trial):
    path = tmp_path / "s.zarr"
    path.mkdir()
    lock_path(path).write_text(json.dumps({"pid": 999999, "host": "gone"}))  # a dead run's lock file
    ctx = multiprocessing.get_context("fork")
    barrier, log = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(path, barrier, log)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    got = [log.get(timeout=5) for _ in procs]
    held = sorted((a, b) for _, a, b in got if a is not None)
    assert len(held) >= 1
    for (a0, a1), (b0, _) in zip(held, held[1:]):
        assert b0 >= a1, "two contenders held the lock at the same time"


def test_a_symlink_to_a_store_meets_the_same_lock(tmp_path):
    real = tmp_path / "real.zarr"
    real.mkdir()
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    assert lock_path(link) == lock_path(real)
    with store_lock(real, "first"):
        assert holder(link)["pid"] == os.getpid()
        with pytest.raises(UserError, match="being written by pid"):
            with store_lock(link, "second"):
                pass
    assert holder(link) is None


# ---- defect 8: the dashboard ---------------------------------------------------------------
def test_the_embedded_dashboard_listens_on_loopback_only():
    from xorsweep.sweep.cluster import client_for

    with client_for(None, 1, dashboard="127.0.0.1:0") as c:
        link = c.dashboard_link
        assert link.startswith("http://127.0.0.1:")
        info = c.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")
        port = int(link.split(":")[2].split("/")[0])
        import psutil

        listening = [s for s in psutil.net_connections("inet") if s.laddr and s.laddr.port == port
                     and s.status == psutil.CONN_LISTEN]
        assert listening and all(s.laddr.ip in ("127.0.0.1", "::1") for s in listening)


# ---- defect 10: predictable temp names that follow symlinks ---------------------------------
def test_planted_symlinks_at_old_temp_names_are_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "s.zarr"
    for pid in range(os.getpid(), os.getpid() + 50):
        (tmp_path / f".s.zarr.creating-{pid}").symlink_to(victim)
    engine_spec = {**SPEC, "start": {"count": 2, "init_std": 0.5, "seed": 5}}
    grid = store.create(_mk(path), Spec.from_dict(engine_spec), "test")
    assert victim.read_text() == "precious"
    store.update_attrs(path, "a history line")
    assert victim.read_text() == "precious"
    assert grid.cells == 4
    assert not [p for p in tmp_path.iterdir() if ".creating-" in p.name and not p.is_symlink()]


def _mk(p):
    p.mkdir()
    return p


def test_creation_debris_of_a_dead_creator_is_removed(tmp_path):
    path = tmp_path / "s.zarr"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    debris = tmp_path / f".s.zarr.creating-{dead}-abc123"
    (debris / "W1").mkdir(parents=True)
    store.create(_mk(path), Spec.from_dict({**SPEC, "start": {"count": 2, "init_std": 0.5, "seed": 5}}), "t")
    assert not debris.exists()


# ---- defect 14: figures written in place ---------------------------------------------------
def test_a_figure_that_fails_half_way_leaves_no_file_under_its_final_name(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from xorsweep.analysis.figure_files import _Writer

    w = _Writer(tmp_path, "footer", ("png", "svg"))
    fig, ax = w.new((2, 2))
    ax.plot([0, 1])

    def broken(self, f, **kw):
        f.write(b"half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(KeyboardInterrupt):
        w.save(fig, "fig")
    assert list(tmp_path.iterdir()) == []


# ---- defect 15: kernels.train edge inputs ------------------------------------------------
def test_train_accepts_an_empty_batch_and_one_network_and_refuses_complex():
    r = kernels.train(np.zeros((0, 2, 3)), np.zeros((0, 3)), np.zeros((0, 3, 2)), np.zeros((0, 2)), rule="gd",
                      steps=3)
    assert r.W1.shape == (0, 2, 3) and r.loss.shape == (0,) and r.predicted.shape == (0, 4)
    one = kernels.train(np.ones((2, 3)) * 0.1, np.zeros(3), np.ones((3, 2)) * 0.1, np.zeros(2), rule="gd", steps=3)
    assert one.W1.shape == (1, 2, 3)
    ds = one.to_dataset()
    assert ds.W1.dims == ("network", "input", "hidden") and list(ds.x1.values) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="real numbers"):
        kernels.train(np.ones((1, 2, 3)) * 1j, np.zeros((1, 3)), np.zeros((1, 3, 2)), np.zeros((1, 2)), rule="gd")


# ---- defect 16 and decided behaviours ------------------------------------------------------
@pytest.mark.parametrize("bad", [".", "", "/", ".."])
def test_a_store_path_without_a_name_is_refused(bad):
    with pytest.raises(UserError, match="has no name"):
        Sweep(SPEC, bad)


def test_an_edited_spec_attribute_is_refused(reference, tmp_path):
    import zarr

    path = copy_of(reference, tmp_path / "edited.zarr")
    g = zarr.open_group(str(path), mode="r+")
    spec = json.loads(g.attrs["spec"])
    spec["training"]["steps"] = 30
    g.update_attributes({"spec": json.dumps(spec)})
    with pytest.raises(UserError, match="does not match its spec_hash"):
        Sweep(spec, path).check()


def test_status_and_resume_read_done_in_whole_chunks_on_a_million_blocks(tmp_path):
    d = {"training": {"rule": "gd", "steps": 1}, "start": {"count": 1_000_000, "init_std": 0.1},
         "execution": {"block": 1}}
    path = _mk(tmp_path / "m.zarr")
    grid = store.create(path, Spec.from_dict(d), "test")
    assert grid.n_blocks == 1_000_000
    t0 = time.perf_counter()
    done = store.done_blocks(path, grid)
    assert time.perf_counter() - t0 < 30 and not done.any()


def test_status_piped_into_head_ends_quietly(reference):
    p = subprocess.run(f"{sys.executable} -m xorsweep status {reference} | head -1", shell=True,
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 0 and "Broken pipe" not in p.stderr and p.stdout.startswith("store")


def test_names_are_printed_with_escapes_neutralised(client, tmp_path):
    path = tmp_path / "esc.zarr"
    Sweep({**SPEC, "name": "evil\x1b[31mred", "start": {"count": 2, "init_std": 0.5, "seed": 5}}, path).run(client)
    r = subprocess.run([sys.executable, "-m", "xorsweep", "status", str(path)], capture_output=True, text=True,
                       env=ENV, timeout=120)
    assert "\x1b" not in r.stdout and "evil\\x1b[31mred" in r.stdout


def test_a_run_whose_cluster_has_no_workers_stops_with_a_resumable_store(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    monkeypatch.setattr(engine, "NO_WORKER_TIMEOUT", 3.0)
    path = tmp_path / "nw.zarr"
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster, Client(cluster) as c:
        with pytest.raises(UserError, match="no workers"):
            Sweep(SPEC, path).run(c)
    assert "run stopped" in store.stored_attrs(path)["history"]
    assert holder(path) is None


def test_a_damaged_array_metadata_file_is_named_in_one_line(reference, tmp_path):
    path = copy_of(reference, tmp_path / "meta.zarr")
    Path(path, "done", "zarr.json").write_text("{ not json")
    r = subprocess.run([sys.executable, "-m", "xorsweep", "status", str(path)], capture_output=True, text=True,
                       env=ENV, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "done/zarr.json" in r.stderr and str(path) in r.stderr


def test_figures_are_written_with_ordinary_permissions(tmp_path):
    from xorsweep.analysis.figure_files import _UMASK, _Writer

    w = _Writer(tmp_path, "footer", ("png",))
    fig, ax = w.new((2, 2))
    ax.plot([0, 1])
    w.save(fig, "fig")
    assert (tmp_path / "fig.png").stat().st_mode & 0o777 == 0o666 & ~_UMASK


def _not_done(path, block):
    import zarr

    g = zarr.open_group(str(path), mode="r+")
    region = Grid(Spec.from_dict(SPEC)).block(block).region
    g["done"][region] = np.zeros(tuple(r.stop - r.start for r in region), dtype=bool)


@pytest.mark.parametrize("lost", ["W1", "outcome"])
def test_a_lost_array_metadata_file_is_refused_never_left_unwritten(reference, tmp_path, lost):
    """W1/zarr.json lost from a store with blocks left to train: the writer saw no W1 and
    wrote every other variable, marking the blocks done with W1 missing (NaN on read), and
    verify skipped it. Now run, verify and status refuse in one line naming the file, and
    nothing in the store changes; a block written directly is refused before any write.
    One outcome variable lost while the others are there is damage too (only a store
    made before outcomes lacks them, all together)."""
    path = copy_of(reference, tmp_path / "lost.zarr")
    _not_done(path, 1)
    Path(path, lost, "zarr.json").unlink()
    before = files_of(path)
    (tmp_path / "spec.toml").write_text('name = "integrity"\n[training]\nrule = "gd"\nsteps = 20\n[start]\n'
                                        'count = 12\ninit_std = 0.5\nseed = 5\n[axes.decimals]\n'
                                        'values = ["none", 2]\n[execution]\nblock = 4\n')  # SPEC
    for args in (["run", str(tmp_path / "spec.toml"), "--store", str(path)], ["verify", str(path)],
                 ["status", str(path)]):
        r = subprocess.run([sys.executable, "-m", "xorsweep", *args], capture_output=True, text=True, env=ENV,
                           timeout=120)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert f"'{lost}'" in r.stderr and f"{lost}/zarr.json" in r.stderr and "missing" in r.stderr, r.stderr
    grid = Grid(Spec.from_dict(SPEC))
    values = engine.cells.block_values(grid, grid.block(1), threads=1)
    with pytest.raises(store.StoreDamaged, match=f"'{lost}'"):
        store.write_block(path, store.store_id(path), grid, grid.block(1), values)
    assert files_of(path) == before


def test_a_store_made_before_outcomes_were_stored_resumes_without_them(client, reference, tmp_path):
    """A store whose template has no outcome variables (as one made before they existed)
    resumes: the blocks left are written, the outcome variables stay absent, the rest
    is the reference's, bit for bit."""
    import zarr

    from xorsweep.kernels import outcomes

    path = copy_of(reference, tmp_path / "old.zarr")
    for name in outcomes.STORE_VARIABLES:
        shutil.rmtree(Path(path, name))
    zarr.consolidate_metadata(str(path))
    _not_done(path, 2)
    Sweep(SPEC, path).run(client)
    got, want = load_store(path), load_store(reference)
    assert not set(outcomes.STORE_VARIABLES) & set(got.data_vars)
    assert_same_store(got, want.drop_vars(list(outcomes.STORE_VARIABLES)))


# ---- fixed arrays (coordinates, lookups), found by an adversarial review, 2026-12-03 ----------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "xorsweep", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=180)


@pytest.mark.parametrize("damage", ["folder", "chunk", "flip", "lookup"])
def test_a_damaged_coordinate_is_refused_and_repaired_from_the_spec(reference, tmp_path, damage):
    """The fixed arrays the template writes (coordinates, name lookups) were never read
    back: with ``decimals`` deleted, verify, status and run said all was well, and every
    rounding digit read as NaN ("unrounded"); a bit-flipped chunk of it passed verify too.
    Now each command that reads the store refuses it in one line naming the array, nothing
    changes, and ``verify --repair`` writes it again from the spec: the store then equals
    the reference, attributes of the arrays included."""
    path = copy_of(reference, tmp_path / "c.zarr")
    name = "label_names" if damage == "lookup" else "decimals"
    if damage in ("folder", "lookup"):
        shutil.rmtree(Path(path, name))
    elif damage == "chunk":
        shutil.rmtree(Path(path, name, "c"))
    else:
        f = chunk(path, name, 0)
        b = bytearray(f.read_bytes())
        b[len(b) // 2] ^= 0x10
        f.write_bytes(bytes(b))
    before = files_of(path)
    (tmp_path / "spec.toml").write_text('name = "integrity"\n[training]\nrule = "gd"\nsteps = 20\n[start]\n'
                                        'count = 12\ninit_std = 0.5\nseed = 5\n[axes.decimals]\n'
                                        'values = ["none", 2]\n[execution]\nblock = 4\n')  # SPEC
    every = (["run", tmp_path / "spec.toml", "--store", path], ["verify", path], ["status", path],
             ["stats", path], ["figures", path, "--out", tmp_path / "figs"])
    for args in every if damage == "folder" else every[1:2]:  # each command once; the damages through verify
        r = _cli(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert f"fixed array '{name}'" in r.stderr and "--repair" in r.stderr, r.stderr
    assert files_of(path) == before and not (tmp_path / "figs").exists()
    with pytest.raises(store.StoreDamaged, match=name):
        store.open_dataset(path)
    r = _cli("verify", path, "--repair")
    assert r.returncode == 0 and f"fixed array {name} written again" in r.stdout, r.stdout + r.stderr
    assert store.fixed_array_damage(path, Grid(Spec.from_dict(SPEC))) == []
    got, want = xr.open_zarr(path).load(), xr.open_zarr(reference).load()
    got.attrs, want.attrs = {}, {}  # the history and verified attributes differ, as they should
    xr.testing.assert_identical(got, want)


def test_every_outcome_array_deleted_is_damage_not_an_old_store(reference, tmp_path):
    """All ten outcome folders deleted passed for a store made before outcomes existed
    (resumed, verified, then stats failed with ZeroDivisionError). Their names are still in
    the consolidated metadata written with the template: lost, refused in one line."""
    from xorsweep.kernels import outcomes

    path = copy_of(reference, tmp_path / "o.zarr")
    for name in outcomes.STORE_VARIABLES:
        shutil.rmtree(Path(path, name))
    before = files_of(path)
    for args in (["verify", path], ["status", path], ["stats", path]):
        r = _cli(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "'outcome'" in r.stderr and "missing" in r.stderr, r.stderr
    assert files_of(path) == before


def test_a_store_or_figures_inside_a_store_are_refused(reference, tmp_path):
    """``run --store ref.zarr/new.zarr`` built a store inside another; ``figures --out
    ref.zarr`` wrote 22 files into one. Both are refused, the store unchanged."""
    path = copy_of(reference, tmp_path / "r.zarr")
    before = files_of(path)
    (tmp_path / "spec.toml").write_text('name = "x"\n[training]\nrule = "gd"\nsteps = 5\n[start]\ncount = 2\n')
    r = _cli("run", tmp_path / "spec.toml", "--store", Path(path, "new.zarr"))
    assert r.returncode == 2 and "inside the store" in r.stderr, r.stderr
    for out in (path, Path(path, "sub", "figs")):
        r = _cli("figures", path, "--out", out)
        assert r.returncode == 2 and "inside the store" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert files_of(path) == before


def test_verify_names_a_lost_done_array_and_stats_refuses_a_cell_the_store_lacks(reference, tmp_path):
    """``verify`` ended in an internal error (KeyError 'done') when done/zarr.json was lost;
    ``stats --cell decimals=99`` (or start=99999) quietly reported the first cell."""
    path = copy_of(reference, tmp_path / "d.zarr")
    for cell, words in (("decimals=99", "not among"), ("start=99999", "not among"), ("decimals=2", None)):
        r = _cli("stats", path, "--cell", cell)
        if words is None:
            assert r.returncode == 0, r.stderr
        else:
            assert r.returncode == 2 and words in r.stderr and cell.split("=")[0] in r.stderr, r.stderr
    Path(path, "done", "zarr.json").unlink()
    r = _cli("verify", path)
    assert r.returncode == 2 and "'done'" in r.stderr and "internal error" not in r.stderr, r.stderr


# ---- adding the attractor variables, found by a review, 2026-12-03 ----------------------------
def _old_store(reference, path):
    """A copy of the reference as a store made before outcomes were stored."""
    import zarr

    from xorsweep.kernels import outcomes

    path = copy_of(reference, path)
    for name in outcomes.STORE_VARIABLES:
        shutil.rmtree(Path(path, name))
    zarr.consolidate_metadata(str(path))
    return path


def test_labels_are_added_to_a_store_made_before_outcomes_as_to_a_new_one(client, reference, tmp_path):
    """add_to_store refused such a store, saying it 'already has a variable hidden_code of
    its own' (it had none): the template's names were protected, not the arrays it holds.
    Its labels come from the sweep's own arrays: the same as the new store's, hidden_code
    too; the store then resumes and adds them again."""
    from xorsweep.analysis import labels

    old, new = _old_store(reference, tmp_path / "old.zarr"), copy_of(reference, tmp_path / "new.zarr")
    labels.add_to_store(old)
    labels.add_to_store(new)
    got, want = load_store(old), load_store(new)
    for name in labels.NEW_VARIABLES:
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
    assert "hidden_code" in store.added_variables(old) and "hidden_code" not in store.added_variables(new)
    _not_done(old, 1)
    Sweep(SPEC, old).run(client)
    labels.add_to_store(old)  # again, after the resume: hidden_code is its own to replace
    got = load_store(old)
    for name in labels.NEW_VARIABLES:
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
    assert _cli("verify", old).returncode == 0


@pytest.mark.parametrize("when", ["before the first array", "after deleting the old array", "after writing one"])
def test_an_interrupted_add_is_refused_by_every_reader_until_done_again_or_dropped(reference, tmp_path, when,
                                                                                  monkeypatch):
    """An add interrupted after its old arrays were deleted left 'attractor' reading -1
    (pending) everywhere with verify and status content and stats printing it; an
    interrupted first add left arrays no later add would replace. Now the names go into
    ``adding_variables`` first: stats, figures, verify refuse the store in one line naming
    them until the add is run again (the reference's labels, bit for bit) or ``verify
    --repair`` drops them (the store as before the add)."""
    import zarr

    from xorsweep.analysis import labels

    path = copy_of(reference, tmp_path / "i.zarr")
    labels.add_to_store(path)
    before = load_store(path)
    real = zarr.Group.create_array
    count = {"n": 0}

    def fail(self, name, **kw):
        if when == "after writing one" and count["n"] == 0:
            count["n"] += 1
            return real(self, name, **kw)
        raise KeyboardInterrupt

    if when == "before the first array":
        monkeypatch.setattr(zarr.Group, "__delitem__", lambda self, k: (_ for _ in ()).throw(KeyboardInterrupt()))
    monkeypatch.setattr(zarr.Group, "create_array", fail)
    with pytest.raises(KeyboardInterrupt):
        labels.add_to_store(path)
    monkeypatch.undo()
    plain = xr.open_zarr(path)  # no xorsweep: the consolidated metadata never lists a half-written array
    if when == "before the first array":
        np.testing.assert_array_equal(plain["attractor"].values, before["attractor"].values)
    else:
        assert "attractor" not in plain
    with pytest.raises(store.StoreDamaged, match="was interrupted.*xorsweep label .*verify .* --repair"):
        store.open_dataset(path)
    # the commands, once (each is a process of its own: seconds)
    cli_readers = [["stats", path, "--partition", "attractor"], ["verify", path], ["figures", path, "--out",
                                                                                 tmp_path / "f"]]
    for args in cli_readers if when == "after deleting the old array" else []:
        r = _cli(*args)
        assert r.returncode != 0 and "was interrupted" in r.stderr and "'attractor'" in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    if when == "after deleting the old array":
        st = _cli("status", path)
        assert st.returncode == 1 and "was interrupted" in st.stdout
    again = copy_of(path, tmp_path / "again.zarr")
    if when == "after deleting the old array":  # as the refusal says: xorsweep label STORE
        r = _cli("label", again)
        assert r.returncode == 0 and "added attractor" in r.stdout, r.stderr
    else:
        labels.add_to_store(again)
    assert_same_store(load_store(again), before)
    if when == "after deleting the old array":
        r = _cli("verify", path, "--repair")
        assert r.returncode == 0 and "dropped" in r.stdout, r.stdout + r.stderr
    else:
        assert store.drop_interrupted_add(path) == ["attractor", "attractor_nearest", "hidden_surplus"]
    got = load_store(path)
    assert not set(labels.NEW_VARIABLES) & set(got.data_vars) - {"hidden_code"}
    assert_same_store(got, load_store(reference))
    assert store.added_variables(path) == []
    store.open_dataset(path)  # accepted again


def test_stats_never_reads_attractor_labels_older_than_the_cells(client, reference, tmp_path):
    """Labels added while blocks were left, then the run resumed: stats read the stored
    'attractor' with cells still 'pending' that were since trained. It now takes them only
    when no cell was trained since, as figures did."""
    from xorsweep.analysis import labels

    path = copy_of(reference, tmp_path / "s.zarr")
    _not_done(path, 1)
    labels.add_to_store(path)
    Sweep(SPEC, path).run(client)
    fresh = copy_of(reference, tmp_path / "fresh.zarr")
    a, b = (_cli("stats", p, "--partition", "attractor", "--json") for p in (path, fresh))
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout)["decimals"] == json.loads(b.stdout)["decimals"]


def test_a_partition_that_is_no_class_variable_is_refused_in_one_line(reference):
    from xorsweep.analysis import stats

    r = _cli("stats", reference, "--partition", "loss")
    assert r.returncode != 0 and "not a class variable" in r.stderr and "solution" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    ds = store.open_dataset(reference)
    for name in ("hidden_code", "predicted", "decimals", "W1"):
        with pytest.raises(UserError, match="not a class variable"):
            stats.partition(ds, name)
    assert stats.partition(ds, "diverged").dtype == bool  # boolean classes with flag attributes are accepted


@pytest.mark.parametrize("after", [1, 3])
@pytest.mark.parametrize("then", ["drop", "add again"])
def test_an_interrupted_add_on_an_object_store_is_dropped_or_completed(monkeypatch, after, then):
    """On an object store the group was opened through its consolidated metadata, which
    does not list an interrupted add's new arrays: 'verify --repair' said 'dropped' and left
    them (reading as fill values, accepted by every reader), and adding again failed. The
    add and the drop now ask the store which arrays exist (an in-memory fsspec store here)."""
    import uuid

    import zarr

    from xorsweep.analysis import labels
    from xorsweep.sweep.engine import Sweep

    import dask

    # an in-memory store lives in this process: no task may run on a cluster's workers (a
    # module-scoped client of this file is the default scheduler while it lives)
    monkeypatch.setitem(dask.config.config, "scheduler", "sync")
    url = f"memory://bucket/{uuid.uuid4().hex}.zarr"
    Sweep(SPEC, url, unsafe_no_lock=True).train_here()
    real, made = zarr.Group.create_array, []

    def interrupted(self, name, **kw):
        made.append(real(self, name, **kw))
        if len(made) == after:
            raise KeyboardInterrupt
        return made[-1]

    monkeypatch.setattr(zarr.Group, "create_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        labels._add_locked(url)
    monkeypatch.setattr(zarr.Group, "create_array", real)
    with pytest.raises(store.StoreDamaged, match="was interrupted"):
        store.open_dataset(url)
    if then == "drop":
        assert store.drop_interrupted_add(url) == ["attractor", "attractor_nearest", "hidden_surplus"]
        ds = store.open_dataset(url)
        assert not {"attractor", "attractor_nearest", "hidden_surplus"} & set(ds.data_vars)
        assert store.added_variables(url) == []
    labels._add_locked(url)
    want = labels.attractors(store.open_dataset(url))
    got = store.open_dataset(url)
    for name in ("attractor", "attractor_nearest", "hidden_surplus"):
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)


def test_commands_in_refusals_paste_into_a_shell():
    """A refusal that tells the user what to run names the store as one shell word: a path
    with spaces, quotes or a dollar sign comes back intact from shlex.split."""
    import shlex

    from xorsweep.sweep import store

    path = "/data/my sweeps/it's $HOME.zarr"
    with pytest.raises(store.StoreDamaged) as e:
        store.refuse_interrupted_add(path, names=["attractor"])
    text = str(e.value)
    label = text.split("(", 1)[1].split(")", 1)[0]
    verify = text.rsplit(": ", 1)[1]
    assert shlex.split(label) == ["xorsweep", "label", path]
    assert shlex.split(verify) == ["xorsweep", "verify", path, "--repair"]
    assert store.shell_word("/tmp/plain/store.zarr") == "/tmp/plain/store.zarr"  # plain paths stay as they were
