"""Stores on S3: a real S3-compatible server (moto's server mode) on 127.0.0.1, started and
stopped here, a real ``dask scheduler`` with workers writing chunks straight to the URL."""
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import assert_same_store, dask_cluster, load_store

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from xorsweep.errors import UserError  # noqa: E402
from xorsweep.sweep import lock, store  # noqa: E402
from xorsweep.sweep.cluster import WORKER_ENV  # noqa: E402
from xorsweep.sweep.engine import Sweep  # noqa: E402
from xorsweep.sweep.location import Remote, as_location  # noqa: E402

BIN = Path(sys.executable).parent
# 18 blocks of 20,000 seed steps of 6 networks (padded to one 64-lane chunk: about 1 s each on
# one core of a slow host); the arc test pauses the workers (SIGSTOP) as soon as 2 blocks are
# done, while it tries the second writer and sends Ctrl-C, so that both land mid-sweep however
# fast the kernel or the machine is (the other 16 blocks take seconds)
SPEC = {"training": {"rule": "seed", "steps": 20000}, "start": {"count": 36, "init_std": 0.1, "seed": 11},
        "axes": {"decimals": {"values": ["none", 3, 1]}}, "execution": {"block": 6}}
SMALL = {**SPEC, "training": {"rule": "seed", "steps": 100}, "start": {**SPEC["start"], "count": 12}}  # 6 blocks
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """The server's environment (credentials and AWS_ENDPOINT_URL), in this process too."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {**CREDS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir("bucket")
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    toml = tmp_path_factory.mktemp("spec") / "spec.toml"
    toml.write_text('[training]\nrule = "seed"\nsteps = 20000\n[start]\ncount = 36\ninit_std = 0.1\nseed = 11\n'
                    '[axes.decimals]\nvalues = ["none", 3, 1]\n[execution]\nblock = 6\n')
    return toml


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    Sweep(SPEC, path).train_here()
    return load_store(path)


def cli(*args, env, **kw):
    return subprocess.Popen([str(BIN / "xorsweep"), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "DASK_SCHEDULER_ADDRESS": "", "PYTHONUNBUFFERED": "1",
                                            **env}, **kw)


def done_on_s3(url):
    try:
        return int(store.open_dataset(url).done.values.sum())  # the done flags only: a quick poll
    except Exception:  # noqa: BLE001 - not created yet
        return 0


@contextlib.contextmanager
def paused(pids):
    """Processes stopped (SIGSTOP) inside the block, resumed however it ends."""
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def load_remote(url):
    return store.open_dataset(url).load()


def _drop(ds):
    # attributes differ by nature (id, times, history); variables must be the same bits
    return ds.assign_attrs({})


# ---- the whole arc on a real cluster -------------------------------------------------------
@pytest.mark.slow
def test_sweep_on_s3_with_a_real_dask_cluster(s3, spec_file, local_reference, tmp_path, capsys):
    """`dask scheduler` + 2 workers write s3://bucket/arc.zarr; a second writer is refused
    while the first holds the lock; Ctrl-C stops it mid-sweep; status, verify, stats and
    figures read the URL; the resumed store is bit-identical to a local store of the same spec."""
    url = "s3://bucket/arc.zarr"
    with dask_cluster(tmp_path, {**os.environ, **WORKER_ENV, "DASK_SCHEDULER_ADDRESS": ""}) as address:
        from distributed import Client

        with Client(address, timeout="30s") as c:
            workers = sorted(c.run(os.getpid).values())
        first = cli("run", spec_file, "--store", url, "--address", address, env=s3, start_new_session=True)
        t = time.monotonic()
        while done_on_s3(url) < 2:
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() - t < 300, "no block written"
            time.sleep(0.2)
        with paused(workers):  # the run can neither finish nor lose its workers (the scheduler waits minutes)
            holder = lock.holder(url)
            assert holder and holder["host"] == socket.gethostname(), holder
            with pytest.raises(UserError, match="is being written by pid"):
                with lock.store_lock(url):
                    pass
            from xorsweep.sweep import cli as xcli

            assert xcli.main(["run", str(spec_file), "--store", url, "--address", address]) == 2  # a second writer
            err = capsys.readouterr().err
            assert f"is being written by pid {first.pid} on {socket.gethostname()}" in err, err
            assert len(err.strip().splitlines()) == 1, err
            assert first.poll() is None, "the run ended before the second writer was tried"
            os.killpg(first.pid, signal.SIGINT)  # Ctrl-C as a terminal sends it
            out, err = first.communicate(timeout=120)
        assert first.returncode == 130, err
        assert "Traceback" not in err and "stopped" in err, err
        assert lock.holder(url) is None  # the lock object went with the run
        done = done_on_s3(url)
        status = cli("status", url, env=s3)
        out, err = status.communicate(timeout=120)
        assert status.returncode == 0, err
        assert url in out and "blocks" in out, out
        rest = cli("run", spec_file, "--store", url, "--address", address, env=s3)
        out, err = rest.communicate(timeout=600)
        assert rest.returncode == 0, err
        assert "already done" in err and "blocks 18/18 done" in err, err
        assert 0 < done < 108, done
    assert_same_store(_drop(load_remote(url)), _drop(local_reference))
    for verb, text in (("verify", "good checksum"), ("stats", "shares per rounding digit"),
                       ("figures", "flip-rate-by-decimals.png")):
        p = cli(verb, url, *(["--out", tmp_path / "figures"] if verb == "figures" else []), env=s3)
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and text in out, (verb, out, err)


# ---- in this process: guarantees one by one ---------------------------------------------------
@pytest.mark.slow
def test_damaged_and_missing_objects_are_found_and_recomputed(s3, tmp_path):
    url = "s3://bucket/damage.zarr"
    sw = Sweep(SMALL, url)
    sw.train_here()
    loc = as_location(url)
    grid = sw.check()[0]
    chunk = loc.key("loss", "c", "0", "0")
    data = bytearray(loc.fs.cat_file(chunk))
    data[-1] ^= 0xFF  # one bit of the checksum
    loc.fs.pipe_file(chunk, bytes(data))
    loc.fs.rm_file(loc.key("W1", "c", "3", "0", "0", "0"))  # a lost object
    assert not store.done_blocks(url, grid)[3]  # a missing data object: not done
    assert store.verify(url, grid) == [0, 3]
    assert store.verify(url, grid, repair=True) == [0, 3]
    assert sw.train_here() == 2
    Sweep(SMALL, tmp_path / "ref.zarr").train_here()
    assert_same_store(_drop(load_remote(url)), _drop(load_store(tmp_path / "ref.zarr")))


@pytest.mark.parametrize("lost", ["W1", "outcome"])
def test_a_lost_array_metadata_object_is_refused_before_any_write(s3, lost):
    """W1/zarr.json lost from a store with blocks left: the writer, which opens arrays
    without the consolidated metadata, used to skip W1 and mark the blocks done (a lost
    outcome/zarr.json: its blocks never counted as done, retrained by every run). The
    store's check asks for each array's own metadata object: run, status and verify
    refuse before anything changes."""
    url = f"s3://bucket/lostmeta-{lost}.zarr"
    sw = Sweep(SMALL, url)
    sw.train_here(blocks=[0])
    loc = as_location(url)
    loc.fs.rm_file(loc.key(lost, "zarr.json"))

    def objects():
        loc.fs.invalidate_cache()
        return {k: loc.fs.cat_file(k) for k in loc.fs.find(loc.key(""))}

    before = objects()
    for call in (sw.train_here, lambda: store.verify(url, sw.check()[0]), lambda: sw.plan()):
        with pytest.raises(UserError, match=f"'{lost}' array"):
            call()
    assert objects() == before


@pytest.mark.slow
def test_half_written_template_is_refused_then_written_again(s3):
    url = "s3://bucket/half.zarr"
    sw = Sweep(SMALL, url)
    sw.create()
    loc = as_location(url)
    root = json.loads(loc.fs.cat_file(loc.key("zarr.json")))
    del root["attributes"][store.COMPLETE]  # as a creator stopped before its last write leaves it
    loc.fs.pipe_file(loc.key("zarr.json"), json.dumps(root).encode())
    with pytest.raises(UserError, match="half-written template"):
        store.stored_spec(url)
    assert sw.train_here(blocks=[0]) == 1  # written again, then used
    assert store.done_blocks(url, sw.check()[0]).sum() == 1
    sid = store.store_id(url)
    assert sid != root["attributes"]["store_id"]
    before = loc.fs.cat_file(loc.key("zarr.json"))
    with pytest.raises(UserError, match="was made by another spec"):  # bad input changes nothing
        Sweep(SPEC, url).train_here()
    assert loc.fs.cat_file(loc.key("zarr.json")) == before and lock.holder(url) is None


def test_lock_object_single_writer_stale_and_foreign_hosts(s3):
    url = "s3://bucket/locked.zarr"
    loc = as_location(url)
    with lock.store_lock(url, "first"):
        info = lock.holder(url)
        assert info["pid"] == os.getpid() and info["command"] == "first"
        with pytest.raises(UserError, match=f"being written by pid {os.getpid()}"):
            with lock.store_lock(url, "second"):
                pass
    assert lock.holder(url) is None
    # a dead run of this host (its pid gone): taken over
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    loc.fs.pipe_file(loc.sibling_lock, json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                                   "since": "then", "token": "old"}).encode())
    assert lock.holder(url) is None  # a dead process holds nothing (as with flock)
    with lock.store_lock(url, "after a crash"):
        assert lock.holder(url)["command"] == "after a crash"
    # another host's lock cannot be checked: refused, naming the object to delete
    loc.fs.pipe_file(loc.sibling_lock, json.dumps({"pid": 1, "host": "elsewhere", "since": "then"}).encode())
    with pytest.raises(UserError, match=r"on elsewhere since then.*delete the lock object s3://bucket/locked\.zarr\.lock"):
        with lock.store_lock(url):
            pass
    lock.clear_stale(url)
    assert lock.holder(url)["host"] == "elsewhere"  # not ours to clear
    loc.fs.rm_file(loc.sibling_lock)


def test_a_server_that_ignores_conditional_writes_is_refused(s3, monkeypatch):
    url = "s3://bucket/ignored.zarr"
    fs = as_location(url).fs  # fsspec keeps one instance per set of options: the lock's own
    plain = fs.pipe_file

    def ignoring(path, value, mode="overwrite", **kw):
        return plain(path, value, **kw)  # as a server without If-None-Match support behaves

    monkeypatch.setattr(fs, "pipe_file", ignoring)
    with pytest.raises(UserError, match="ignores conditional writes"):
        with lock.store_lock(url):
            pass
    with lock.store_lock(url, unsafe_no_lock=True):  # run --no-lock: the user's guarantee
        assert lock.holder(url) is None
    monkeypatch.undo()
    assert lock.holder(url) is None


def test_backend_without_atomic_create_needs_the_opt_out(tmp_path):
    """fsspec's memory:// stands for any backend without an atomic create (gs://, az://, …)."""
    url = "memory://bucket/mem.zarr"
    with pytest.raises(UserError, match=r"memory:// has no atomic create here.*--no-lock"):
        Sweep(SMALL, url).train_here(blocks=[0])
    Sweep(SMALL, tmp_path / "ref.zarr").train_here(blocks=[0, 1])
    assert Sweep(SMALL, url, unsafe_no_lock=True).train_here(blocks=[0, 1]) == 2
    a, b = load_remote(url), load_store(tmp_path / "ref.zarr")
    assert_same_store(_drop(a), _drop(b))


def test_bad_urls_are_one_line(s3, spec_file, capsys):
    from xorsweep.sweep import cli as xcli

    for argv, text in ((["status", "s3://nobucket/x.zarr"], "does bucket 'nobucket' exist?"),
                       (["status", "s3://bucket/absent.zarr"], "does not exist"),
                       (["run", str(spec_file), "--store", "s3://nobucket/x.zarr"], "does bucket 'nobucket' exist?"),
                       (["status", "s3://bucket"], "give a bucket and a name"),
                       (["run", str(spec_file), "--store", "gs://bucket/x.zarr"], "no filesystem for gs://"),
                       (["status", "s3://bucket/x.zarr", "--storage-option", "oops"], "write KEY=VALUE")):
        assert xcli.main(argv) != 0
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and text in err, (argv, err)
    assert not as_location("s3://bucket/absent.zarr").fs.exists("bucket/absent.zarr")


def test_no_credentials_or_no_server_is_one_line(s3, spec_file):
    no_creds = {k: "" for k in CREDS} | {"AWS_ENDPOINT_URL": s3["AWS_ENDPOINT_URL"], "AWS_CONFIG_FILE": "/nonexistent",
                                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}
    for env, text in ((no_creds, "AWS_ACCESS_KEY_ID"),
                      ({**s3, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}", "AWS_MAX_ATTEMPTS": "1"},
                       "cannot reach it")):
        p = cli("run", spec_file, "--store", "s3://bucket/never.zarr", env=env)
        out, err = p.communicate(timeout=300)
        assert p.returncode != 0 and len(err.strip().splitlines()) == 1 and text in err, err
    assert not as_location("s3://bucket/never.zarr").fs.exists("bucket/never.zarr")


def test_remote_travels_with_its_options():
    import pickle

    r = as_location("s3://bucket/x.zarr/")
    assert isinstance(r, Remote) and r.url == "s3://bucket/x.zarr" and pickle.loads(pickle.dumps(r)) == r
    assert as_location("file:///tmp/x.zarr") == "/tmp/x.zarr"


def test_two_runs_taking_over_one_stale_lock_at_once_leave_one_writer(s3, monkeypatch):
    """S3 has no conditional delete: a takeover reads the stale lock, then deletes it. Two runs
    that both read it before either deleted it could otherwise delete each other's new lock
    (forced here: the second reader deletes after the first has made its own lock). The
    takeover is claimed with a conditional create first: exactly one run writes."""
    import threading

    from xorsweep.sweep import objlock

    url = "s3://bucket/contended.zarr"
    loc = as_location(url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    loc.fs.pipe_file(loc.sibling_lock, json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "then",
                                                   "token": "old"}).encode())
    saw_stale, read_then_wait = threading.Barrier(2, timeout=5), threading.Barrier(2, timeout=2)
    plain_stale, plain_remove = objlock._stale, objlock._remove_if_mine

    def stale(info):  # both runs see the stale lock before either acts
        out = plain_stale(info)
        if out and info.get("token") == "old" and not getattr(local, "met", False):
            local.met = True
            saw_stale.wait()
        return out

    def remove_if_mine(loc_, token):
        if token != "old":
            return plain_remove(loc_, token)
        if threading.current_thread().name == "B":  # reads, then deletes late: after A made its lock
            held = (objlock._read(loc_) or {}).get("token")
            with contextlib.suppress(threading.BrokenBarrierError):
                read_then_wait.wait()
            time.sleep(0.5)
            if held == token:
                loc_.fs.rm_file(loc_.sibling_lock)
            return None
        with contextlib.suppress(threading.BrokenBarrierError):  # A deletes only once B has read
            read_then_wait.wait()
        return plain_remove(loc_, token)

    local = threading.local()
    monkeypatch.setattr(objlock, "_stale", stale)
    monkeypatch.setattr(objlock, "_remove_if_mine", remove_if_mine)
    held, refused, overlaps = [], [], []

    def contend(name):
        try:
            with lock.store_lock(url, name):
                held.append(name)
                for _ in range(10):
                    if lock.holder(url) is None or lock.holder(url)["command"] != name:
                        overlaps.append(name)
                    time.sleep(0.1)
        except UserError as e:
            refused.append((name, str(e)))

    threads = [threading.Thread(target=contend, args=(n,), name=n) for n in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(held) == 1 and len(refused) == 1 and not overlaps, (held, refused, overlaps)
    assert lock.holder(url) is None
    assert not [k for k in loc.fs.ls("bucket") if "takeover" in k]  # the claim went with the stale lock
