"""A catalogue of bad inputs: each gives one clear line and a non-zero exit, and leaves
every existing store byte for byte as it was (no lock left behind, no traceback)."""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from xorsweep.sweep.lock import lock_path

GOOD = """
[training]
rule = "gd"
steps = 5
[start]
W1 = [[-0.0042078, -0.04331233, 0.1213682], [-0.00953556, 0.01987206, 0.02593997]]
W2 = [[0.08212653, -0.04860534], [-0.17150817, -0.30326033], [-0.003902, -0.053973]]
[axes.decimals]
values = ["none", 3]
"""
RANDOM = '[training]\nrule = "gd"\nsteps = 5\n[start]\ncount = 3\n'


def edit(old, new, base=GOOD):
    assert old in base
    return base.replace(old, new)


# (id, spec text, then the words the one line must contain)
SPEC_CASES = [
    ("not-toml", "this is [not toml", "not valid TOML"),
    ("unknown-top-key", GOOD + "\ncolour = 1\n", "unknown key 'colour'"),
    ("unknown-training-key", edit('rule = "gd"', 'rule = "gd"\nspeed = 2'), "training: unknown key 'speed'"),
    ("lr-negative", edit("steps = 5", "steps = 5\nlr = -1.0"), "training.lr"),
    ("lr-nan", edit("steps = 5", "steps = 5\nlr = nan"), "training.lr"),
    ("lr-string", edit("steps = 5", 'steps = 5\nlr = "fast"'), "training.lr"),
    ("steps-negative", edit("steps = 5", "steps = -5"), "training.steps"),
    ("steps-float", edit("steps = 5", "steps = 2.5"), "training.steps"),
    ("rule-unknown", edit('rule = "gd"', 'rule = "adam"'), "training.rule"),
    ("dtype-unknown", edit('rule = "gd"', 'rule = "gd"\ndtype = "float16"'), "training.dtype"),
    ("hidden-zero", edit('rule = "gd"', 'rule = "gd"\nhidden = 0'), "training.hidden"),
    ("record-every-negative", edit('rule = "gd"', 'rule = "gd"\nrecord_every = -2'), "training.record_every"),
    ("start-missing", '[training]\nrule = "gd"\n', "start"),
    ("W1-wrong-shape", edit("W1 = [[-0.0042078, -0.04331233, 0.1213682], ", "W1 = ["), "start.W1"),
    ("W1-nan", edit("-0.0042078", "nan"), "start.W1[0][0]"),
    ("W2-inf", edit("-0.053973", "inf"), "start.W2[2][1]"),
    ("W1-string", edit("-0.0042078", '"x"'), "start.W1[0][0]"),
    ("count-zero", edit("count = 3", "count = 0", RANDOM), "start.count"),
    ("count-with-W1", edit("count = 3", "count = 3\nW1 = [[1, 2, 3], [4, 5, 6]]", RANDOM), "start.W1"),
    ("decimals-too-many", edit('"none", 3', '"none", 25'), "axes.decimals.values[1]"),
    ("decimals-negative", edit('"none", 3', "-1"), "axes.decimals.values[0]"),
    ("decimals-empty", edit('"none", 3', ""), "axes.decimals.values"),
    ("decimals-repeated", edit('"none", 3', "3, 3"), "repeated"),
    ("axes-empty", edit('[axes.decimals]\nvalues = ["none", 3]', "[axes]"), "axes"),
    ("axis-unknown", edit("[axes.decimals]", "[axes.temperature]"), "unknown key 'temperature'"),
    ("eps-without-direction", edit('[axes.decimals]\nvalues = ["none", 3]', "[axes.eps]\nvalues = [1e-3]"), "direction"),
    ("eps-negative", edit('[axes.decimals]\nvalues = ["none", 3]',
                          "[axes.eps]\nvalues = [-1e-3]\n[axes.direction]\ncount = 2"), "axes.eps.values[0]"),
    ("direction-unknown-param", edit('[axes.decimals]\nvalues = ["none", 3]',
                                     '[axes.eps]\nvalues = [1e-3]\n[axes.direction]\nnames = ["W1[9,9]"]'), "W1[9,9]"),
    ("slice-bounds", edit('[axes.decimals]\nvalues = ["none", 3]',
                          '[axes.slice]\nu = "W1[0,0]"\nv = "W1[1,0]"\na = [1, -1]'), "axes.slice.a"),
    ("slice-resolution-zero", edit('[axes.decimals]\nvalues = ["none", 3]',
                                   '[axes.slice]\nu = "W1[0,0]"\nv = "W1[1,0]"\nresolution = [0, 4]'),
     "axes.slice.resolution[0]"),
    ("absurd-grid", edit("count = 3", "count = 10000000000\n[axes.decimals]\nvalues = [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]",
                         RANDOM), "cells"),
    ("block-zero", GOOD + "\n[execution]\nblock = 0\n", "execution.block"),
    ("lr-axis-empty", GOOD + "\n[axes.lr]\nvalues = []\n", "axes.lr.values"),
    # closed gaps (issue 9) and the typed spec's messages
    ("eps-min-equals-max", edit('[axes.decimals]\nvalues = ["none", 3]',
                                "[axes.eps]\nmin = 1e-3\nmax = 1e-3\nnum = 4\n[axes.direction]\ncount = 2"),
     "axes.eps", "repeated values"),
    ("slice-one-param-two-spellings", edit('[axes.decimals]\nvalues = ["none", 3]',
                                           '[axes.slice]\nu = "W1[0,0]"\nv = "W1[0, 0]"'), "axes.slice.v", "must differ"),
    ("slice-one-seed-twice", edit('[axes.decimals]\nvalues = ["none", 3]',
                                  "[axes.slice]\nu = {seed = 1}\nv = {seed = 1}"), "axes.slice.v"),
    ("direction-names-two-spellings", edit('[axes.decimals]\nvalues = ["none", 3]',
                                           '[axes.eps]\nvalues = [1e-3]\n[axes.direction]\nnames = ["b2[1]", "b2[ 1 ]"]'),
     "axes.direction.names[1]", "repeats"),
    ("direction-names-and-count", edit('[axes.decimals]\nvalues = ["none", 3]',
                                       '[axes.eps]\nvalues = [1e-3]\n[axes.direction]\nnames = ["b2[1]"]\ncount = 2'),
     "axes.direction.count"),
    ("record-every-huge", edit('rule = "gd"', 'rule = "gd"\nrecord_every = 100000000000000000000000000'),
     "training.record_every"),
    ("record-every-above-steps", edit('rule = "gd"', 'rule = "gd"\nrecord_every = 6'), "training.record_every", "<= the steps"),
    ("record-every-too-much-memory", edit("steps = 5", "steps = 1000000000\nrecord_every = 1"),
     "training.record_every", "GiB"),
    ("rounding-overflows", edit("-0.053973", "1.7e308"), "axes.decimals.values[1]", "overflows"),
    ("random-rounding-overflows", RANDOM + "init_std = 1e300\n[axes.decimals]\nvalues = [16]\n",
     "axes.decimals.values[0]", "overflows"),
    ("scale-overflows", edit("-0.053973", "1e10").replace(
        "-0.003902, 1e10]]", "-0.003902, 1e10]]\nscale = 1e300"), "start.scale"),
    ("h-tiny", edit('rule = "gd"', 'rule = "gd"\nh = 1e-320'), "training.h"),
    ("h-huge", edit('rule = "gd"', 'rule = "gd"\nh = 1e308'), "training.h"),
    ("h-zero", edit('rule = "gd"', 'rule = "gd"\nh = 0'), "training.h"),
    ("eps-subnormal", edit('[axes.decimals]\nvalues = ["none", 3]',
                           "[axes.eps]\nvalues = [0, 1e-310]\n[axes.direction]\ncount = 2"), "axes.eps.values[1]"),
    ("eps-values-and-grid", edit('[axes.decimals]\nvalues = ["none", 3]',
                                 "[axes.eps]\nvalues = [1e-3]\nnum = 3\n[axes.direction]\ncount = 2"), "axes.eps"),
    ("eps-zero-twice", edit('[axes.decimals]\nvalues = ["none", 3]',
                            "[axes.eps]\nvalues = [0, 0.0]\n[axes.direction]\ncount = 2"), "axes.eps.values", "repeated"),
    ("misspelt-key", edit("steps = 5", "stpes = 5"), "training: unknown key 'stpes'", "did you mean 'steps'?"),
    ("misspelt-axis", edit("[axes.decimals]", "[axes.decimal]"), "did you mean 'decimals'?"),
    ("misspelt-top-key", GOOD + "\n[executon]\nblock = 2\n", "did you mean 'execution'?"),
    ("published-with-W1", edit("[start]", "[start]\npublished = true"),
     "start.W1", "published"),
    ("published-not-bool", '[training]\nrule = "gd"\n[start]\npublished = "yes"\n', "start.published"),
    ("hidden-mismatch", edit('rule = "gd"', 'rule = "gd"\nhidden = 4'), "start.W1", "training.hidden"),
    ("seed-with-literal-start", edit("[start]", "[start]\nseed = 3"), "start.seed"),
    ("init-std-negative", RANDOM + "init_std = -0.1\n", "start.init_std"),
    ("lr-axis-repeated", GOOD + "\n[axes.lr]\nvalues = [1, 1.0]\n", "axes.lr.values", "repeated"),
    ("biases-not-bool", edit('values = ["none", 3]', 'values = ["none", 3]\nbiases = 1'), "axes.decimals.biases"),
    ("training-not-a-table", GOOD.replace('[training]\nrule = "gd"\nsteps = 5\n', 'training = 5\n'),
     "training", "must be a table"),
    ("name-not-a-string", "name = 3\n" + GOOD, "spec: name"),
    ("slice-u-a-number", edit('[axes.decimals]\nvalues = ["none", 3]', '[axes.slice]\nu = 3\nv = "W1[1,0]"'),
     "axes.slice.u"),
    ("zoom-factor-one", edit('[axes.decimals]\nvalues = ["none", 3]',
                             '[axes.slice]\nu = "W1[0,0]"\nv = "W1[1,0]"\nzoom = {factor = 1, depth = 3}'),
     "axes.slice.zoom.factor", "must be > 1"),
    ("zoom-center-outside", edit('[axes.decimals]\nvalues = ["none", 3]',
                                 '[axes.slice]\nu = "W1[0,0]"\nv = "W1[1,0]"\n'
                                 'zoom = {factor = 10, depth = 3, center = [0, 2]}'), "axes.slice.zoom.center"),
]


def files_of(path):
    """Every file under path with a hash of its bytes: the store's exact state."""
    p = Path(path)
    if not p.exists():
        return None
    if p.is_file():
        return {".": hashlib.sha256(p.read_bytes()).hexdigest()}
    return {str(f.relative_to(p)): hashlib.sha256(f.read_bytes()).hexdigest() for f in p.rglob("*") if f.is_file()}


def xorsweep(*args, timeout=120):
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": ""}
    return subprocess.run([sys.executable, "-m", "xorsweep", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_one_clear_line(r, *words):
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith("xorsweep")
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    """A complete store made by the CLI from GOOD."""
    d = tmp_path_factory.mktemp("good")
    (d / "good.toml").write_text(GOOD)
    r = xorsweep("run", d / "good.toml", "--store", d / "good.zarr", "--workers", 1, timeout=300)
    assert r.returncode == 0, r.stderr
    return d / "good.zarr"


@pytest.mark.parametrize("case, text, words", [(c[0], c[1], c[2:]) for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_bad_spec_on_an_existing_store(good_store, tmp_path, case, text, words):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    before = files_of(good_store)
    r = xorsweep("run", spec, "--store", good_store)
    assert_one_clear_line(r, "spec", *words)
    assert "spec: spec:" not in r.stderr
    assert files_of(good_store) == before
    assert not lock_path(good_store).exists()


@pytest.mark.parametrize("case, text, words", SPEC_CASES[:6], ids=[c[0] for c in SPEC_CASES[:6]])
def test_bad_spec_creates_no_store(tmp_path, case, text, words):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    assert_one_clear_line(xorsweep("run", spec, "--store", tmp_path / "new.zarr"), words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_spec_file_missing_or_binary(tmp_path):
    assert_one_clear_line(xorsweep("run", tmp_path / "nope.toml", "--store", tmp_path / "s.zarr"), "cannot read spec")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00binary")
    assert_one_clear_line(xorsweep("run", tmp_path / "bin.toml", "--store", tmp_path / "s.zarr"), "spec")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "too-big"])
def test_spec_path_that_is_no_spec_file(good_store, tmp_path, kind):
    """Refused before reading: a FIFO would hang the run, /dev/zero exhaust its memory."""
    path = {"fifo": tmp_path / "fifo.toml", "dev-zero": Path("/dev/zero"), "directory": tmp_path,
            "too-big": tmp_path / "big.toml"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "too-big":
        path.write_text(GOOD + "#" * 2**20 + "\n")
    before = files_of(good_store)
    r = xorsweep("run", path, "--store", good_store, timeout=60)
    assert_one_clear_line(r, "cannot read spec", "more than" if kind == "too-big" else "not a regular file")
    assert files_of(good_store) == before


@pytest.fixture()
def good_spec(tmp_path):
    p = tmp_path / "good.toml"
    p.write_text(GOOD)
    return p


def test_store_path_is_a_file(good_spec, tmp_path):
    f = tmp_path / "file.zarr"
    f.write_text("precious")
    assert_one_clear_line(xorsweep("run", good_spec, "--store", f), "not a directory")
    assert f.read_text() == "precious"


def test_store_folder_missing(good_spec, tmp_path):
    assert_one_clear_line(xorsweep("run", good_spec, "--store", tmp_path / "no" / "s.zarr"), "does not exist")


def test_read_only_store(good_spec, good_store, tmp_path):
    ro = tmp_path / "ro.zarr"
    shutil.copytree(good_store, ro)
    mode = ro.stat().st_mode
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        before = files_of(ro)
        bigger = tmp_path / "bigger.toml"
        bigger.write_text(GOOD)
        assert_one_clear_line(xorsweep("run", bigger, "--store", ro), "read-only")
        assert files_of(ro) == before
    finally:
        ro.chmod(mode)


def test_read_only_parent_folder(good_spec, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert_one_clear_line(xorsweep("run", good_spec, "--store", parent / "s.zarr"), "read-only")
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


def test_store_of_another_spec(good_store, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(edit("steps = 5", "steps = 6"))
    before = files_of(good_store)
    assert_one_clear_line(xorsweep("run", other, "--store", good_store), "another spec", "training.steps: 5 in store, 6 now")
    assert files_of(good_store) == before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_damaged_store(good_spec, good_store, tmp_path, damage):
    bad = tmp_path / "bad.zarr"
    shutil.copytree(good_store, bad)
    meta = bad / "zarr.json"
    if damage == "truncated":
        meta.write_bytes(meta.read_bytes()[:100])
    elif damage == "garbage":
        meta.write_bytes(b"\x00\x01garbage")
    else:
        meta.unlink()
    before = files_of(bad)
    assert_one_clear_line(xorsweep("run", good_spec, "--store", bad), "not a readable xorsweep store")
    assert files_of(bad) == before
    assert_one_clear_line(xorsweep("status", bad), "not a readable xorsweep store")


def test_folder_that_is_not_a_store(good_spec, tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    (d / "cat.jpg").write_bytes(b"meow")
    assert_one_clear_line(xorsweep("run", good_spec, "--store", d), "not a readable xorsweep store")
    assert files_of(d) == {"cat.jpg": hashlib.sha256(b"meow").hexdigest()}


@pytest.mark.parametrize("args, words", [
    (["run", "SPEC", "--store", "S", "--workers", "0"], "--workers"),
    (["run", "SPEC"], "--store"),
    (["status", "nowhere.zarr"], "does not exist"),
    (["train", "--W1", "[[nan, 1, 2], [1, 2, 3]]", "--W2", "[[1,2],[3,4],[5,6]]"], "--W1"),
    (["train", "--published", "--steps", "-5"], "steps"),
    (["train", "--published", "--lr", "nan"], "lr"),
    (["train", "--W1", "[[1, 2, 3], [1, 2, 3]]", "--W2", "[[1,2],[3,4]]"], "--W2"),
    (["train"], "--published or --W1"),
    (["train", "--published", "--rule", "adam"], "--rule"),
    (["train", "--published", "--gradient", "exact"], "--gradient"),
    (["train", "--published", "--rule", "seed", "--gradient", "analytic"], "--gradient: 'analytic' contradicts rule"),
    (["figures", "S", "--out", "figs", "--eps-fit", "1", "0.1"], "--eps-fit"),
    (["figures", "S", "--out", "figs"], "does not exist"),
])
def test_bad_command_lines(good_spec, tmp_path, args, words):
    args = [str(good_spec) if a == "SPEC" else str(tmp_path / "s.zarr") if a == "S" else a for a in args]
    assert_one_clear_line(xorsweep(*args), words)
    assert not (tmp_path / "s.zarr").exists()


def test_extreme_training_is_recorded_not_a_crash(tmp_path):
    """lr = 1e6 saturates the sigmoids (a failure, finite); logits that overflow to inf - inf
    are recorded as diverged. Neither stops the sweep."""
    spec = tmp_path / "wild.toml"
    # rounding 1.7e308 to 0 decimals stays finite (to 3 it would overflow: a refused spec)
    spec.write_text(edit("[[0.08212653, -0.04860534], [-0.17150817, -0.30326033], [-0.003902, -0.053973]]",
                         "[[1.7e308, 1.7e308], [1.7e308, 1.7e308], [1.7e308, 1.7e308]]").replace('"none", 3', '"none", 0')
                    + "\n[axes.lr]\nvalues = [5.0, 1e6]\n")
    r = xorsweep("run", spec, "--store", tmp_path / "w.zarr", "--workers", 1, timeout=300)
    assert r.returncode == 0, r.stderr
    import xarray as xr

    ds = xr.open_zarr(tmp_path / "w.zarr")
    assert bool(ds.done.all()) and bool(ds.diverged.all())
    assert (ds.accuracy.values < 1).all()


def test_grid_bigger_than_the_disk_is_refused_before_writing(tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text(edit("count = 3", "count = 4000000000", RANDOM))
    assert_one_clear_line(xorsweep("run", spec, "--store", tmp_path / "h.zarr"), "GB are free")
    assert not (tmp_path / "h.zarr").exists()
