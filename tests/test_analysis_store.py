"""Analysis of small real stores made by the sweep engine on a 2-worker LocalCluster."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xorsweep.analysis import labels
from xorsweep.analysis import trajectory as T
from xorsweep.sweep import engine
from xorsweep.sweep.cluster import WORKER_ENV
from xorsweep.sweep.spec import Spec

PUBLISHED = {"published": True}
SPECS = {
    "rounding": {"training": {"rule": "seed", "record_every": 25}, "start": PUBLISHED,
                 "axes": {"decimals": {"values": ["none", 7, 4, 3]}}, "execution": {"block": 2}},
    "slice": {"training": {"rule": "seed"}, "start": PUBLISHED,
              "axes": {"slice": {"u": "W1[0,2]", "v": "W2[1,1]", "a": [-0.02, 0.02], "b": [-0.02, 0.02],
                                 "resolution": [12, 10]}}, "execution": {"block": 40}},
    "eps": {"training": {"rule": "gd", "steps": 30}, "start": {"count": 5, "init_std": 0.5, "seed": 3},
            "axes": {"eps": {"min": 1e-6, "max": 1e-1, "num": 4}, "direction": {"count": 3, "seed": 1}},
            "execution": {"block": 30}},
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from distributed import Client, LocalCluster

    root = tmp_path_factory.mktemp("analysis")
    out = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as client:
        for name, d in SPECS.items():
            out[name] = root / f"{name}.zarr"
            engine.run(Spec.from_dict(d), out[name], client)
    return out


def test_published_cases_labelled_from_a_store(stores):
    att = labels.attractors(xr.open_zarr(stores["rounding"]))
    assert list(labels.decode(att["attractor"]).values) == ["fail[0,1,1,1]", "AND(NAND,OR)",
                                                            "NAND(x1→x2,x2→x1)", "other"]
    assert labels.decode(att["attractor_nearest"]).values[3] == "NAND(x1→x2,x2→x1)"
    assert {"AND.NAND.OR", "NAND.x1_imp_x2.x2_imp_x1", "fail_0111"} <= set(att["attractor"].attrs["flag_meanings"].split())
    assert att["hidden_code"].sel(decimals=7).values.tolist() == [15, 14, 7]


def _files(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in Path(path).rglob("*") if p.is_file()}


def test_adding_attractors_leaves_every_existing_array_byte_identical(stores, tmp_path):
    path = tmp_path / "copy.zarr"
    shutil.copytree(stores["slice"], path)
    before = _files(path)
    new = labels.add_to_store(path)
    after = _files(path)
    changed = {k for k in before if after.get(k) != before[k]}
    assert changed == {"zarr.json"}  # the group metadata: history and consolidated metadata
    # hidden_code is the store's own (written by the sweep): not added again
    assert {k.split("/")[0] for k in set(after) - set(before)} == set(labels.NEW_VARIABLES) - {"hidden_code"}
    ds = xr.open_zarr(path)
    assert "attractor variables added" in ds.attrs["history"]
    np.testing.assert_array_equal(ds["attractor"].values, new["attractor"].values)
    labels.add_to_store(path)  # again: replaces the attractor variables only
    assert {k for k in before if _files(path).get(k) != before[k]} == {"zarr.json"}


def test_adding_attractors_is_refused_while_a_sweep_writes(stores, tmp_path):
    from xorsweep.sweep.errors import UserError
    from xorsweep.sweep.lock import store_lock

    path = tmp_path / "busy.zarr"
    shutil.copytree(stores["slice"], path)
    before = _files(path)
    with store_lock(path, "a sweep"), pytest.raises(UserError, match="being written by pid"):
        labels.add_to_store(path)
    assert _files(path) == before


def test_label_refuses_a_store_being_written_and_what_is_no_store(stores, tmp_path):
    from xorsweep.sweep.lock import store_lock

    path = tmp_path / "busy.zarr"
    shutil.copytree(stores["slice"], path)
    before = _files(path)
    with store_lock(path, "a sweep"):
        busy = _label(path)
    assert busy.returncode == 2 and "being written by pid" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1 and _files(path) == before
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "missing.zarr", tmp_path / "empty"):
        r = _label(bad)
        assert r.returncode == 2 and r.stderr.startswith("xorsweep label: error: "), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "missing.zarr").exists() and not any((tmp_path / "empty").iterdir())


def test_stale_stored_attractors_are_recomputed(stores):
    ds = labels.with_attractors(xr.open_zarr(stores["rounding"]))
    assert labels.with_attractors(ds) is ds  # stored and up to date: used as they are
    stale = ds.assign(attractor=ds["attractor"].where(ds.decimals != 7, 0))  # 0: pending
    np.testing.assert_array_equal(labels.with_attractors(stale)["attractor"].values, ds["attractor"].values)


def _label(path):
    return subprocess.run([sys.executable, "-m", "xorsweep", "label", str(path)], capture_output=True, text=True,
                          timeout=180)


def test_added_attractors_read_with_plain_xarray(stores, tmp_path):
    """``xorsweep label STORE`` (the command line's add_to_store) writes labels plain xarray reads."""
    path = tmp_path / "plain.zarr"
    shutil.copytree(stores["rounding"], path)
    done = _label(path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"{path}: added attractor, attractor_nearest, hidden_surplus: 4 of 4 cells "
                                   "labelled (4 attractors)")
    code = ("import sys; sys.modules['xorsweep'] = None\n"
            "import warnings; warnings.simplefilter('error')\n"
            f"import xarray as xr; a = xr.open_zarr({str(path)!r}).attractor\n"
            "names = dict(zip(a.attrs['flag_values'], a.attrs['flag_display_names']))\n"
            "print(a.dtype, a.attrs['long_name'], [names[int(v)] for v in a.values])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("int16 attractor training landed in")
    assert "'AND(NAND,OR)', 'NAND(x1→x2,x2→x1)', 'other']" in out.stdout


def test_stored_and_re_trained_trajectories_are_the_same(stores):
    ds = xr.open_zarr(stores["rounding"])
    cell = T.select(ds, {"decimals": 7})
    stored = T.trajectory(cell)
    again = T.trajectory(cell.drop_vars([v for v in cell.data_vars if v.endswith("_traj")]))
    assert again.attrs["matches_store"] == 1
    np.testing.assert_array_equal(stored["step"].values, [0, 25, 50, 75, 100])
    for g in ("W1", "b1", "W2", "b2", "loss"):
        np.testing.assert_array_equal(again[g].sel(step=stored["step"]).values, stored[g].values, err_msg=g)


def test_cell_selection(stores):
    ds = xr.open_zarr(stores["slice"])
    cell = T.select(ds, T.parse_cell(ds, ["a=0.0071", "b=-0.02"]))
    assert T.describe(cell) == "a 0.00545455, b -0.02"
    assert T.trajectory(cell).attrs["matches_store"] == 1  # re-trained through the sweep's own path
    with pytest.raises(ValueError, match="no sweep dim 'decimals'"):
        T.parse_cell(ds, ["decimals=3"])
    rounding = xr.open_zarr(stores["rounding"])
    assert np.isnan(T.parse_cell(rounding, ["decimals=none"])["decimals"])
    assert T.describe(T.select(rounding, T.parse_cell(rounding, ["decimals=none"]))) == "unrounded"
    with pytest.raises(ValueError, match="not among"):
        T.select(rounding, {"decimals": 5})
    # a cell the store lacks is refused when parsed, before any statistic quietly takes another
    with pytest.raises(ValueError, match="not among the store's decimals"):
        T.parse_cell(rounding, ["decimals=5"])
    with pytest.raises(ValueError, match=r"a=5: outside the store's a range \["):
        T.parse_cell(ds, ["a=5"])
    # eps, lr and other float axes: a value of the axis (a relative 1e-9), not the nearest
    # (eps=1e-9 on [0, 1e-8, 1e-3] took the reference cell eps = 0); text axes as zarr reads them
    grid = xr.Dataset({"done": (("eps", "dtype"), np.ones((3, 2), bool))},
                      {"eps": [0.0, 1e-8, 1e-3], "dtype": np.array(["float64", "float32"], dtype=np.dtypes.StringDType())})
    assert T.parse_cell(grid, ["eps=1e-08", "dtype=float32"]) == {"eps": 1e-8, "dtype": "float32"}
    for bad in ("eps=1e-9", "eps=5e-4", "eps=-0.0004", "dtype=float16"):
        with pytest.raises(ValueError, match="not among"):
            T.parse_cell(grid, [bad])
    lo, hi = float(ds.a.min()), float(ds.a.max())
    assert T.parse_cell(ds, [f"a={hi + 0.4 * float(ds.a.diff('a').max())}"])["a"] > hi  # within half a step
    assert T.parse_cell(ds, [f"a={lo}"])["a"] == lo


def figures(store, out, *cell):
    args = [sys.executable, "-m", "xorsweep", "figures", str(store), "--out", str(out)]
    for c in cell:
        args += ["--cell", c]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


NETWORK = ["accuracy-loss", "W1-path-3d", "W1-path-projections", "b1-path-3d", "b1-path-projections",
           "W2-path-3d", "W2-path-projections", "b2-path"]


@pytest.mark.parametrize("name, cell, tag, sweep_figures", [
    ("rounding", ["decimals=7"], "network-decimals=7", ["attractor-share-by-decimals", "flip-rate-by-decimals",
                                                        "solved-step-by-decimals"]),
    ("slice", [], "network-a=-0.02-b=-0.02", ["slice-attractor-map", "slice-box-count", "slice-box-count-controls",
                                              "slice-solved-step-map"]),
    ("eps", ["start=2"], "network-start=2-eps=1e-06-direction=0", ["uncertainty-f-distance", "solved-step-by-eps"]),
])
def test_figures_command_end_to_end(stores, tmp_path, name, cell, tag, sweep_figures):
    out = figures(stores[name], tmp_path / "fig", *cell)
    assert out.returncode == 0, out.stderr
    expected = {f"{tag}-{n}" for n in NETWORK} | set(sweep_figures)
    for fmt in ("png", "svg"):
        assert {p.stem for p in (tmp_path / "fig").glob(f"*.{fmt}")} == expected
    assert sorted(out.stdout.split()) == sorted(str(p) for p in (tmp_path / "fig").iterdir())
    assert "Warning" not in out.stderr
    svg = next((tmp_path / "fig").glob("*.svg")).read_text()
    assert json.loads(xr.open_zarr(stores[name]).attrs["spec"]) and xr.open_zarr(stores[name]).attrs["spec_hash"] in svg


def test_figures_command_names_the_problem(stores, tmp_path):
    out = figures(stores["rounding"], tmp_path / "fig", "decimals=5")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "not among" in out.stderr
    out = figures(tmp_path / "missing.zarr", tmp_path / "fig")
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_train_prints_the_attractor():
    run = [sys.executable, "-m", "xorsweep", "train", "--published", "--decimals"]
    out = subprocess.run(run + ["4", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["attractor"] == got["label"] == "NAND(x1→x2,x2→x1)"
    assert got["outcome"] == "solved" and got["solution"].startswith("(x1∧¬x2)∨(¬x1∧x2) family")
    assert 0 < got["solved_step"] <= got["settled_step"] <= 100
    out = subprocess.run(run + ["3"], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "label other (nearest NAND(x1→x2,x2→x1))"


def test_train_takes_the_gradient_and_the_update_order():
    from xorsweep import kernels
    from xorsweep.kernels.vocab import published_start

    run = [sys.executable, "-m", "xorsweep", "train", "--published", "--steps", "7", "--h", "1e-3", "--json"]
    s = published_start()
    for gradient, update in (("numerical", "simultaneous"), ("analytic", "sequential")):
        out = subprocess.run(run + ["--gradient", gradient, "--update", update], capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        r = kernels.train(s["W1"], s["b1"], s["W2"], s["b2"], gradient=gradient, update=update, steps=7, h=1e-3)
        assert json.loads(out.stdout)["loss"] == float(r.loss[0])
