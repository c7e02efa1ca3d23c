"""The exponent in a sweep store: opt-in, beside bit-identical training values."""
import json

import numpy as np
import pytest

from conftest import bits, load_store
from xorsweep import kernels
from xorsweep.analysis import lyapunov as AL
from xorsweep.analysis import report
from xorsweep.analysis.figure_files import write_figures
from xorsweep.kernels.vocab import RULES, published_start
from xorsweep.sweep import engine
from xorsweep.sweep.spec import Spec

SPEC = {
    "training": {"rule": "seed", "steps": 30, "record_every": 10},
    "start": {"count": 5, "seed": 2},
    "axes": {"decimals": {"values": ["none", 3]}},
    "execution": {"block": 4},
}


def _spec(lyapunov):
    d = json.loads(json.dumps(SPEC))
    if lyapunov is not None:
        d["training"]["lyapunov"] = lyapunov
    return Spec.from_dict(d)


def test_off_by_default_and_old_specs_keep_their_hash():
    assert _spec(None).hash() == _spec(False).hash() != _spec(True).hash()
    assert "lyapunov" not in _spec(False).to_dict()["training"]
    assert _spec(True).to_dict()["training"]["lyapunov"] is True
    with pytest.raises(Exception, match="training.lyapunov"):
        _spec("yes")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as c, \
            Client(c) as cl:
        yield cl


def test_stored_beside_the_same_training_values(client, tmp_path):
    engine.run(_spec(True), tmp_path / "on.zarr", client)
    engine.run(_spec(None), tmp_path / "off.zarr", client)
    on, off = load_store(tmp_path / "on.zarr"), load_store(tmp_path / "off.zarr")
    assert set(on.data_vars) - set(off.data_vars) == {"lyapunov", "lyapunov_traj"}
    for name in off.data_vars:
        x, y = on[name].values, off[name].values
        np.testing.assert_array_equal(bits(x) if x.dtype.kind in "fiub" else x, bits(y) if y.dtype.kind in "fiub" else y,
                                      err_msg=name)
    assert on.lyapunov.dims == ("start", "decimals") and on.lyapunov.attrs["units"] == "1/step"
    assert on.lyapunov_traj.dims == ("start", "decimals", "record")
    assert on.lyapunov.attrs["separation"] == 1e-7 and on.lyapunov.attrs["renormalise_every_steps"] == 10
    x = {g: on[f"{g}_start"].values.reshape((10,) + on[f"{g}_start"].shape[2:]) for g in ("W1", "b1", "W2", "b2")}
    r = kernels.train(**x, steps=30, record_every=10, lyapunov=True)
    np.testing.assert_array_equal(bits(on.lyapunov.values.ravel()), bits(r.lyapunov))
    np.testing.assert_array_equal(bits(on.lyapunov_traj.values.reshape(10, 4)), bits(r.lyapunov_traj))
    assert np.isfinite(on.lyapunov.values).all() and np.isnan(on.lyapunov_traj.values[..., 0]).all()


def test_the_floor_formula():
    k = 3e-12
    big = AL.estimated_floor(2.0, k, 100, 13)
    assert big["floor"] == pytest.approx(k / (1 - np.exp(-2.0)))
    assert AL.estimated_floor(0.0, k, 100, 13)["floor"] == pytest.approx(100 * k)
    for lam in (-0.1, 0.0, 0.2, 1.0):
        e = AL.estimated_floor(lam, k, 100, 13)
        assert e["floor_low"] <= e["floor"] <= e["floor_high"] == pytest.approx(np.sqrt(13) * e["floor"])
    # a numerical gradient's kick is lr·ulp(L)/(2h), an analytic one's an ulp of the parameters
    assert AL.kick("numerical", 5.0, 1e-4, "float64", 0.69, 0.1) == 5.0 * np.spacing(0.69) / 2e-4
    assert AL.kick("numerical", 5.0, 1e-3, "float64", 0.69, 0.1) == pytest.approx(2.78e-13, rel=0.01)
    assert AL.kick("analytic", 5.0, 1e-4, "float64", 0.69, 0.1) == np.spacing(0.1)
    assert AL.kick("numerical", 5.0, 1e-4, "float32", 0.69, 0.1) == pytest.approx(1.5e-3, rel=0.02)


def test_the_median_interval_counts_each_start_once():
    """Cells sharing a start (the ε = 0 cell of every direction) are one observation: the
    bootstrap runs over the 20 distinct starts, not the 100 cells, and is wider than a
    naive one over the cells; the same seed gives the same interval."""
    import xarray as xr

    rng = np.random.default_rng(3)
    n, m, H = 20, 5, 3
    lam = rng.normal(0.17, 0.05, n)
    W1 = rng.normal(0, 0.5, (n, 2, H))

    def rep(a):  # the same start in every direction
        return np.repeat(a[:, None], m, axis=1)
    ds = xr.Dataset({"lyapunov": (("start", "direction"), rep(lam)),
                     "W1_start": (("start", "direction", "input", "hidden"), rep(W1)),
                     "b1_start": (("start", "direction", "hidden"), np.zeros((n, m, H))),
                     "W2_start": (("start", "direction", "hidden", "output"), rep(rng.normal(0, 0.5, (n, H, 2)))),
                     "b2_start": (("start", "direction", "output"), np.zeros((n, m, 2)))})
    s = AL.summary(ds)
    assert s["cells"] == n * m and s["distinct_starts"] == n
    assert s["median"] == pytest.approx(np.median(lam))
    lo, hi = s["median_interval"]
    assert lo < s["median"] < hi and "over 20 random starts" in s["interval_method"]
    assert AL.summary(ds)["median_interval"] == [lo, hi]
    naive = AL.median_interval(rep(lam).ravel())["median_interval"]
    assert hi - lo > 1.5 * (naive[1] - naive[0])
    # different starts in every direction (rounded copies, say): every cell is a network,
    # but a start's cells are still resampled together
    ds["W1_start"] = ds["W1_start"] + xr.DataArray(np.arange(m) * 1e-3, dims="direction")
    ds["lyapunov"] = ds["lyapunov"] + xr.DataArray(np.arange(m) * 1e-4, dims="direction")
    s = AL.summary(ds)
    assert s["distinct_starts"] == n * m and "over 20 random starts (100 distinct starts)" in s["interval_method"]
    assert s["median_interval"][1] - s["median_interval"][0] > 1.5 * (naive[1] - naive[0])
    # settings axes stay apart: the same start at two learning rates is two networks
    two = xr.concat([ds, ds.assign(lyapunov=ds.lyapunov + 1)], dim="lr").transpose("lr", ...)
    assert AL.summary(two)["distinct_starts"] == 2 * n * m


def test_the_resampled_median_is_the_midpoint_of_the_middle_values():
    v = np.arange(10.0)
    r = AL.median_interval(v, n_boot=4000)
    lo, hi = r["median_interval"]
    assert abs((lo + hi) / 2 - 4.5) <= 0.5 and lo < 4.5 < hi
    assert AL.median_interval(np.array([1.0, 2.0]))["median_interval"] is None  # too few to resample


def test_minus_zero_is_the_same_start():
    import xarray as xr

    ds = xr.Dataset({"lyapunov": ("cell", [0.2, 0.2]),
                     "W1_start": (("cell", "input", "hidden"), np.ones((2, 2, 3))),
                     "b1_start": (("cell", "hidden"), np.array([[0.0, -0.0, 0.0], [-0.0, 0.0, 0.0]])),
                     "W2_start": (("cell", "hidden", "output"), np.ones((2, 3, 2))),
                     "b2_start": (("cell", "output"), np.zeros((2, 2)))})
    assert AL.summary(ds)["distinct_starts"] == 1


def _slice_ds(lam):
    import xarray as xr

    n = lam.shape[0]
    a = np.linspace(-0.25, 0.25, n)
    W1 = np.zeros((n, n, 2, 3)) + a[:, None, None, None]
    W1[..., 1, 0] += a[None, :]  # a different start in every cell
    return xr.Dataset({"lyapunov": (("a", "b"), lam), "W1_start": (("a", "b", "input", "hidden"), W1),
                       "b1_start": (("a", "b", "hidden"), np.zeros((n, n, 3))),
                       "W2_start": (("a", "b", "hidden", "output"), np.ones((n, n, 3, 2))),
                       "b2_start": (("a", "b", "output"), np.zeros((n, n, 2)))}, coords={"a": a, "b": a})


def test_a_slice_is_resampled_in_tiles_and_a_shuffled_map_is_the_control():
    """Neighbouring cells of a smooth exponent map are not independent: tiles of the slice
    give a much wider interval than single cells would; the same values shuffled over the
    map (no spatial correlation) give about the single-cell width."""
    rng = np.random.default_rng(0)
    n = 64
    x = np.linspace(0, 3, n)
    smooth = 0.2 + 0.1 * np.sin(x)[:, None] * np.cos(x)[None, :] + rng.normal(0, 0.005, (n, n))
    s = AL.summary(_slice_ds(smooth))
    assert s["distinct_starts"] == n * n and "64 tiles of the slice" in s["interval_method"]
    lo, hi = s["median_interval"]
    cells = AL.median_interval(smooth.ravel())["median_interval"]
    assert hi - lo > 3 * (cells[1] - cells[0])
    shuffled = rng.permutation(smooth.ravel()).reshape(n, n)
    lo2, hi2 = AL.summary(_slice_ds(shuffled))["median_interval"]
    assert 0.5 < (hi2 - lo2) / (cells[1] - cells[0]) < 2


def _run(client, path, d):
    engine.run(Spec.from_dict(d), path, client)
    return load_store(path)


@pytest.mark.parametrize("rule", RULES)
def test_stats_estimate_the_floor_from_the_stored_exponents(client, tmp_path, rule):
    """The floor estimated from λ follows the rule's kick: about 1e-11 for the seed rule's
    numerical gradient, ulp-level for gd's analytic one."""
    d = {"training": {"rule": rule, "steps": 40, "lyapunov": True}, "start": {"count": 6, "seed": 3},
         "axes": {"eps": {"values": [0.0, 1e-12, 1e-8, 1e-4]}, "direction": {"count": 3, "seed": 1}},
         "execution": {"block": 24}}
    ds = _run(client, tmp_path / "p.zarr", d)
    rep = report.stats_report(ds, n_boot=50)
    y, u = rep["lyapunov"], rep["uncertainty"]
    assert y["cells"] == 18 and y["q10"] <= y["median"] <= y["q90"]
    assert u["floor_from_lyapunov"] == y["floor"] and u["floor_from_lyapunov_band"] == [y["floor_low"], y["floor_high"]]
    lam0 = ds.lyapunov.sel(eps=0.0).values
    assert y["median"] == pytest.approx(float(np.median(lam0)))
    if rule == "seed":
        assert 1e-12 < y["floor"] < 1e-10 and y["settings"]["gradient"] == "numerical"
    else:
        assert y["floor"] < 1e-14 and y["settings"]["gradient"] == "analytic"
    assert "floor estimated from λ" in report.format_report(rep)
    report.to_json(rep)


def test_slice_figures_put_the_exponent_map_beside_the_solution_map(client, tmp_path):
    d = {"training": {"steps": 60, "lyapunov": True}, "start": {"published": True},
         "axes": {"slice": {"u": "W1[0,2]", "v": "W2[1,1]", "a": [-0.25, 0.25], "b": [-0.25, 0.25],
                            "resolution": [16, 12]}}, "execution": {"block": 192}}
    _run(client, tmp_path / "s.zarr", d)
    files, _ = write_figures(tmp_path / "s.zarr", tmp_path / "figs", formats=("png",))
    assert any(str(f).endswith("slice-lyapunov-map.png") for f in files)


def test_train_prints_the_exponent(capsys):
    from xorsweep.sweep.cli import main

    assert main(["train", "--published", "--lyapunov", "--steps", "30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    r = kernels.train(**published_start(), steps=30, lyapunov=True)
    assert out["lyapunov"] == float(r.lyapunov[0]) and out["lyapunov_separation"] == 1e-7
    assert main(["train", "--published", "--steps", "30", "--json"]) == 0
    assert "lyapunov" not in json.loads(capsys.readouterr().out)
