"""``stats_report`` on small real stores (trained in-process, block by block, no cluster):
every example kind gives one JSON object; a partial store says so and uses its done cells."""
import json

import numpy as np
import pytest
import xarray as xr

from xorsweep.analysis import labels, report
from xorsweep.sweep import engine
from xorsweep.sweep.spec import Spec

PUBLISHED = {"published": True}
SPECS = {
    "rounding": {"training": {"rule": "seed", "steps": 40}, "start": {"count": 12, "init_std": 0.1, "seed": 2},
                 "axes": {"decimals": {"values": ["none", 7, 4, 3]}}, "execution": {"block": 48}},
    "slice": {"training": {"rule": "seed", "steps": 40}, "start": PUBLISHED,
              "axes": {"slice": {"u": "W1[0,2]", "v": "W2[1,1]", "a": [-0.25, 0.25], "b": [-0.25, 0.25],
                                 "resolution": [24, 24]}}, "execution": {"block": 288}},
    "eps": {"training": {"rule": "gd", "steps": 40}, "start": {"count": 8, "init_std": 0.5, "seed": 3},
            "axes": {"eps": {"min": 1e-8, "max": 1e-1, "num": 5}, "direction": {"count": 4, "seed": 1}},
            "execution": {"block": 40}},
}


def make(path, d, blocks=None):
    engine.Sweep(d, path, command="test").train_here(blocks)
    return labels.with_attractors(xr.open_zarr(str(path)))


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    return {name: make(root / f"{name}.zarr", d) for name, d in SPECS.items()}


@pytest.mark.parametrize("name, key", [("rounding", "decimals"), ("slice", "box_count"), ("eps", "uncertainty")])
def test_report_on_each_kind_of_store(stores, name, key):
    rep = report.stats_report(stores[name], n_boot=200, n_balls=100)
    text = json.dumps(rep, allow_nan=False)
    assert json.loads(text)["completeness"]["share"] == 1.0
    assert key in rep and rep["partition"]["name"] == "solution"  # stored by every sweep, the default
    assert report.format_report(rep)
    if key == "uncertainty":
        u = rep["uncertainty"]
        assert not u["reference_is_eps0"] and "no eps = 0 cell" in u["reference"]
        assert u["dimensions"] == 13 and u["distance"] == "computed from the stored starts"
    if key == "box_count":
        assert rep["distinct_starts"]["share"] == 1.0
        assert set(rep["basin_entropy"]) >= {"S_b", "S_bb", "classes", "shuffled_S_bb"}


def test_partial_store_is_labelled_partial(tmp_path):
    ds = make(tmp_path / "half.zarr", SPECS["slice"], blocks=[0])
    rep = report.stats_report(ds, n_boot=100, n_balls=50)
    assert rep["completeness"]["share"] == pytest.approx(0.5) and not rep["completeness"]["complete"]
    assert rep["box_count"]["used"] == pytest.approx(0.5)
    assert "partial store" in report.format_report(rep)
    assert np.isfinite(rep["basin_entropy"]["S_b"])
