"""The unrounded start on the ``decimals`` axis: NaN with a ``rounded`` coordinate, so that
plain xarray plots and selects it right; stores made with the old -1 sentinel still resume
and read the same through the project."""
import matplotlib
import numpy as np
import pytest
import xarray as xr
import zarr

from conftest import assert_same_store
from xorsweep.analysis import report, stats
from xorsweep.analysis import trajectory as T
from xorsweep.sweep import store
from xorsweep.sweep.engine import Sweep
from xorsweep.sweep.grid import Grid

matplotlib.use("Agg")
SPEC = {"training": {"rule": "seed", "steps": 30}, "start": {"count": 3, "init_std": 0.5, "seed": 4},
        "axes": {"decimals": {"values": ["none", 3, 1, 0]}}, "execution": {"block": 4}}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    path = tmp_path_factory.mktemp("rounded") / "r.zarr"
    Sweep(SPEC, path).train_here()
    return path


def test_plain_xarray_plot_has_no_made_up_digit(made):
    import matplotlib.pyplot as plt

    ds = xr.open_zarr(made)  # plain xarray, no xorsweep in between
    assert ds["decimals"].dtype == np.float64 and np.isnan(ds["decimals"].values[0])
    assert ds["rounded"].values.tolist() == [False, True, True, True]
    fig = plt.figure()
    (line,) = ds.accuracy.mean("start").plot(x="decimals")
    x = np.asarray(line.get_xdata(), dtype=float)
    plt.close(fig)
    assert not (x == -1).any()
    np.testing.assert_array_equal(x[np.isfinite(x)], [3, 1, 0])  # NaN: matplotlib draws no point there
    # selecting the unrounded start by its label works as for any other value
    np.testing.assert_array_equal(ds.W1_start.sel(decimals=np.nan).values,
                                  ds.W1_start.isel(decimals=int(np.flatnonzero(~ds.rounded.values)[0])).values)
    np.testing.assert_array_equal(ds.W1_start.sel(decimals=1).values,
                                  np.round(ds.W1_start.sel(decimals=np.nan).values, 1))


def _as_old_store(path):
    """Rewrite the decimals coordinate as stores made before this change have it: int16,
    -1 for the unrounded start, no ``rounded`` coordinate."""
    g = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    attrs = {k: v for k, v in g["decimals"].attrs.items() if k != "_FillValue"}
    vals = np.where(np.isnan(g["decimals"][...]), -1, g["decimals"][...]).astype(np.int16)
    del g["decimals"], g["rounded"]
    a = g.create_array("decimals", shape=vals.shape, dtype=np.int16, dimension_names=["decimals"],
                       attributes={**attrs, "long_name": "decimals the start was rounded to (-1: unrounded)"})
    a[...] = vals
    with store.quiet():
        zarr.consolidate_metadata(str(path))


def test_an_old_stores_lost_decimals_is_repaired_in_its_own_form(made, tmp_path):
    """``verify --repair`` of a store from before the rounded coordinate writes its lost
    decimals back as such a store has it (int16, -1 unrounded), so that it reads as every
    old store does, through ``open_dataset`` with a rounded coordinate."""
    import shutil

    old = tmp_path / "old.zarr"
    Sweep(SPEC, old).train_here()
    _as_old_store(old)
    want = store.open_dataset(old).load()
    shutil.rmtree(old / "decimals" / "c")
    with pytest.raises(store.StoreDamaged, match="'decimals'"):
        store.open_dataset(old)
    grid = Grid(store.stored_spec(old))
    store.rewrite_fixed_arrays(old, grid, store.fixed_array_damage(old, grid))
    assert xr.open_zarr(old)["decimals"].values.tolist() == [-1, 3, 1, 0]
    got = store.open_dataset(old).load()
    assert "rounded" in got.coords
    assert_same_store(got.assign_attrs({}), want.assign_attrs({}))


def test_old_sentinel_stores_resume_and_read_the_same(made, tmp_path):
    old = tmp_path / "old.zarr"
    sw = Sweep(SPEC, old)
    sw.train_here(blocks=[0])
    _as_old_store(old)
    assert xr.open_zarr(old)["decimals"].values.tolist() == [-1, 3, 1, 0]
    assert Sweep(SPEC, old).train_here() == 2  # resumed as it is
    assert xr.open_zarr(old)["decimals"].values.tolist() == [-1, 3, 1, 0]  # its bytes unchanged
    a, b = store.open_dataset(old).load(), store.open_dataset(made).load()
    assert_same_store(a.assign_attrs({}), b.assign_attrs({}))  # read through xorsweep: the new form
    for ds in (a, b):
        assert T.describe(T.select(ds, T.parse_cell(ds, ["decimals=none"]))) == "start 0, unrounded"
        rep = report.decimals_report(ds, stats.partition(ds.assign(solution=ds.solution)))
        assert rep["decimals"] == [None, 3, 1, 0] and [r["decimals"] for r in rep["flip_rate"]] == [3, 1, 0]
    fr = stats.flip_rate(stats.partition(b), over=["start"])
    assert fr.attrs["reference"] == "the unrounded start" and fr["decimals"].values.tolist() == [3, 1, 0]
    # the same counted by hand: a flip is a start whose class differs from its unrounded one
    part = stats.partition(b).values
    np.testing.assert_array_equal(fr["flips"].values, (part[:, 1:] != part[:, :1]).sum(0))
