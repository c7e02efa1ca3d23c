"""Zoom sequences: nested slices around a point in one store (dims zoom, a_index, b_index)."""
import json
from fractions import Fraction

import numpy as np
import pytest

from conftest import assert_same_store, bits, load_store
from xorsweep.analysis import basins, report
from xorsweep.kernels import vocab
from xorsweep.sweep import engine
from xorsweep.sweep.cluster import WORKER_ENV
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.spec import Spec, SpecError

PUB = vocab.published_start()
SLICE = {"u": "W1[0,2]", "v": "W2[1,1]", "a": [-0.25, 0.25], "b": [-0.25, 0.25], "resolution": [6, 5]}


def spec(zoom=None, block=7, **slice_over):
    sl = {**SLICE, **slice_over}
    if zoom is not None:
        sl["zoom"] = zoom
    return Spec.from_dict({"training": {"rule": "gd", "lr": 5.0, "steps": 30}, "start": {"published": True},
                           "axes": {"slice": sl}, "execution": {"block": block}})


# ---- the spec --------------------------------------------------------------------------------
@pytest.mark.parametrize("zoom, message", [
    ({"factor": 1, "depth": 3}, "axes.slice.zoom.factor: must be > 1"),
    ({"factor": -10, "depth": 3}, "axes.slice.zoom.factor: must be > 1"),
    ({"factor": "10", "depth": 3}, "axes.slice.zoom.factor: must be a number"),
    ({"factor": 10, "depth": 0}, "axes.slice.zoom.depth: must be >= 1"),
    ({"factor": 10, "depth": 2.5}, "axes.slice.zoom.depth: must be an integer"),
    ({"factor": 10}, "axes.slice.zoom.depth: missing"),
    ({"factor": 1e10, "depth": 31}, "axes.slice.zoom.depth: factor ** depth"),
    ({"factor": 10, "depth": 2, "centre": [0, 0]}, "axes.slice.zoom: unknown key 'centre' (did you mean 'center'?)"),
    ({"factor": 10, "depth": 2, "center": [0.3, 0]}, "axes.slice.zoom.center: a = 0.3 is outside"),
    ({"factor": 10, "depth": 2, "center": [0]}, "axes.slice.zoom.center: must be [a, b]"),
    (3, "axes.slice.zoom: must be a table"),
])
def test_bad_zoom_is_one_line_naming_the_field(zoom, message):
    with pytest.raises(SpecError) as e:
        spec(zoom)
    assert str(e.value).startswith(f"spec: {message}"), str(e.value)
    assert "\n" not in str(e.value)


def test_zoom_round_trips_and_a_slice_without_it_keeps_its_hash():
    plain = spec()
    assert "zoom" not in plain.to_dict()["axes"]["slice"] and plain.dims == ("a", "b")
    z = spec({"factor": 10, "depth": 3, "center": [0.1, -0.05]})
    assert Spec.from_dict(json.loads(json.dumps(z.to_dict()))) == z
    assert z.hash() != plain.hash()
    assert z.dims == ("zoom", "a_index", "b_index") and z.shape == (4, 6, 5)
    assert spec({"factor": 10, "depth": 3}).axes.slice.center == (0.0, 0.0)


# ---- starts at every level, against exact rationals ---------------------------------------------
def _all_starts(grid):
    out = np.full(grid.shape + (grid.P,), np.nan)
    for k in range(grid.n_blocks):
        b = grid.block(k)
        out[b.region] = grid.starts(b)
    return out


def _exact_coordinate(lo, hi, n, j, c, factor, level):
    """The level's grid point j as an exact rational: level 0 is linspace's double itself."""
    x0 = Fraction(float(np.linspace(lo, hi, n)[j]))
    return Fraction(c) + (x0 - Fraction(c)) / Fraction(factor) ** level


@pytest.mark.parametrize("zoom", [{"factor": 10, "depth": 4}, {"factor": 7.5, "depth": 3, "center": [0.1, -0.2]},
                                  {"factor": 1e3, "depth": 5, "center": [0.0123, 0.25]}])
def test_starts_at_every_level_are_the_exact_point_rounded(zoom):
    s = spec(zoom, block=4, resolution=[5, 4])
    g = Grid(s)
    x = _all_starts(g)
    ka, kb = vocab.param_index("W1[0,2]", 3), vocab.param_index("W2[1,1]", 3)
    base = g.starts(g.block(0))[0, 0, 0] - 0.0  # any cell: the other parameters are the published start
    c = s.axes.slice.center
    for level in range(s.axes.slice.levels):
        for i in range(5):
            a = _exact_coordinate(-0.25, 0.25, 5, i, c[0], s.axes.slice.zoom.factor, level)
            assert g.slice_values("a")[level, i] == float(a)  # the coordinate, rounded once
            for j in range(4):
                b = _exact_coordinate(-0.25, 0.25, 4, j, c[1], s.axes.slice.zoom.factor, level)
                cell = x[level, i, j]
                # x + a·u + b·v of named directions: each moved parameter is one IEEE sum
                assert cell[ka] == float(Fraction(float(PUB["W1"][0, 2])) + Fraction(float(a)))
                assert cell[kb] == float(Fraction(float(PUB["W2"][1, 1])) + Fraction(float(b)))
                others = np.ones(g.P, bool)
                others[[ka, kb]] = False
                np.testing.assert_array_equal(bits(cell[others]), bits(base[others]))
    # the point the levels shrink towards keeps its place: level extents shrink by the factor
    np.testing.assert_allclose(g.zoom_extents("a"), 0.5 / s.axes.slice.zoom.factor ** np.arange(s.axes.slice.levels),
                               rtol=1e-15)


def test_deep_levels_are_correctly_rounded_where_a_linspace_of_their_ends_is_not():
    """At extent 1e-13 around 0.1 (a step of 900 ulps) every grid point is the exact one
    rounded once; a linspace between the level's own rounded ends misses one by 0.56 ulp."""
    s = spec({"factor": 10, "depth": 12, "center": [0.1, 0.0]}, resolution=[9, 3], a=[0.05, 0.15])
    g = Grid(s)
    vals = g.slice_values("a")[12]
    exact = [_exact_coordinate(0.05, 0.15, 9, j, 0.1, 10, 12) for j in range(9)]
    half_ulp = [np.spacing(float(e)) / 2 for e in exact]
    assert all(abs(Fraction(float(v)) - e) <= h for v, e, h in zip(vals, exact, half_ulp))
    naive = np.linspace(float(exact[0]), float(exact[-1]), 9)
    assert any(abs(Fraction(float(v)) - e) > h for v, e, h in zip(naive, exact, half_ulp))


def test_levels_below_the_float_spacing_repeat_their_starts():
    """Extent 5e-17 around W1[0,2] = 0.12 (ulp 1.4e-17) and W2[1,1] = -0.30 (ulp 5.6e-17):
    the level holds 5 distinct starts in 30 cells, which is why the report counts them."""
    g = Grid(spec({"factor": 1e4, "depth": 4}))
    x = _all_starts(g)
    distinct = [len(np.unique(x[i].reshape(-1, g.P), axis=0)) for i in range(5)]
    assert distinct[:4] == [30] * 4 and distinct[4] < 10


def test_level_zero_is_the_slice_without_zoom():
    plain, z = Grid(spec(resolution=[5, 4])), Grid(spec({"factor": 10, "depth": 2, "center": [0.1, 0.2]},
                                                       resolution=[5, 4]))
    np.testing.assert_array_equal(bits(_all_starts(z)[0]), bits(_all_starts(plain)))


# ---- a real store ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as c:
        yield c


ZOOM = {"factor": 10, "depth": 2, "center": [0.065, -0.12]}


@pytest.fixture(scope="module")
def zoom_store(client, tmp_path_factory):
    path = tmp_path_factory.mktemp("zoom") / "z.zarr"
    engine.run(spec(ZOOM), path, client)
    return path


@pytest.mark.slow  # a 2-worker cluster and a real store
def test_store_keeps_every_level_with_its_coordinates(zoom_store, client, tmp_path):
    import xarray as xr

    ds = xr.open_zarr(zoom_store)
    assert dict(ds["done"].sizes) == {"zoom": 3, "a_index": 6, "b_index": 5} and bool(ds["done"].all())
    g = Grid(spec(ZOOM))
    assert ds["a"].dims == ("zoom", "a_index") and ds["b"].dims == ("zoom", "b_index")
    np.testing.assert_array_equal(ds["a"].values, g.slice_values("a"))
    np.testing.assert_array_equal(ds["extent_a"].values, g.zoom_extents("a"))
    assert ds["zoom"].attrs["factor"] == 10 and ds["zoom"].attrs["center_a"] == 0.065
    np.testing.assert_array_equal(ds["W1_start"].values[..., 0, 2],
                                  np.broadcast_to(ds["a"].values[:, :, None] + PUB["W1"][0, 2], (3, 6, 5)))
    lvl = basins.zoom_level(ds, 2)  # a plain slice: 1-D a and b, ready for .plot(x="a", y="b")
    assert lvl["solution"].dims == ("a", "b") and lvl["a"].dims == ("a",)
    # level 0 is, bit for bit, the store of the same slice without zoom
    plain = tmp_path / "plain.zarr"
    engine.run(spec(), plain, client)
    p = load_store(plain)
    z0 = basins.zoom_level(load_store(zoom_store), 0)
    for name in p.data_vars:
        np.testing.assert_array_equal(bits(z0[name].values), bits(p[name].values), err_msg=name)


@pytest.mark.slow  # a 2-worker cluster and a real store
@pytest.mark.parametrize("block", [1, 13, 200])
def test_store_does_not_depend_on_block_size(zoom_store, client, tmp_path, block):
    path = tmp_path / "b.zarr"
    engine.run(spec(ZOOM, block=block), path, client)
    assert_same_store(load_store(path), load_store(zoom_store))


class Stop(Exception):
    pass


@pytest.mark.slow  # a 2-worker cluster and a real store
def test_resume_across_levels_is_bit_identical(zoom_store, client, tmp_path):
    path = tmp_path / "r.zarr"

    def stopper(p):
        if p.blocks_done >= 2:
            raise Stop

    with pytest.raises(Stop):
        engine.run(spec(ZOOM, block=10), path, client, progress=stopper)
    partial = load_store(path)
    assert 0 < int(partial.done.sum()) < partial.done.size
    rep = report.stats_report(partial, n_boot=50, n_balls=20)
    assert not rep["completeness"]["complete"]
    assert all(r["used"] < 1 for r in rep["zoom"]) or any(r["used"] == 0 for r in rep["zoom"])
    engine.run(spec(ZOOM, block=10), path, client)
    assert_same_store(load_store(path), load_store(zoom_store))


# ---- statistics and figures --------------------------------------------------------------------
KEYS = {"level", "extent", "factor", "center", "dimension", "saturated", "reason", "fit_range",
        "mixed_share_smallest", "mixed_share_2", "shuffled_dimension", "shuffled_mixed_share_smallest", "S_bb",
        "shuffled_S_bb", "classes", "distinct_starts", "cells", "used"}


@pytest.mark.slow  # a 2-worker cluster and a real store
def test_stats_json_reports_every_level(zoom_store, tmp_path, capsys):
    from xorsweep.sweep import cli

    assert cli.main(["stats", str(zoom_store), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert len(rep["zoom"]) == 3
    # the top-level slice statistics are those of level 0 (the slice as given), and say so
    assert rep["box_count"]["fixed"] == {"zoom": 0} and rep["basin_entropy"]["fixed"] == {"zoom": 0}
    assert rep["box_count"]["mixed_share"][0] == pytest.approx(rep["zoom"][0]["mixed_share_smallest"])
    assert rep["basin_entropy"]["S_bb"] == pytest.approx(rep["zoom"][0]["S_bb"])
    assert rep["distinct_starts"]["cells"] == 30 and "verdict" in rep["fractality"]
    for i, r in enumerate(rep["zoom"]):
        assert set(r) >= KEYS
        assert r["level"] == i and r["cells"] == 30 and r["used"] == 1
        assert r["extent"] == pytest.approx([0.5 / 10**i] * 2)
        assert r["distinct_starts"] == 30
        assert r["dimension"] is None and r["reason"]  # 6 x 5 cells: too few box sides for any fit
        assert 0 <= r["mixed_share_smallest"] <= 1 and 0 <= r["shuffled_mixed_share_smallest"] <= 1
    assert cli.main(["stats", str(zoom_store)]) == 0
    assert "zoom sequence" in capsys.readouterr().out
    assert cli.main(["figures", str(zoom_store), "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "zoom-sequence.png").exists() and (tmp_path / "fig" / "zoom-maps.png").exists()


def test_levels_finer_than_the_float_spacing_get_no_dimension():
    """Level 1 repeats its starts (as a slice finer than the float spacing does): refused,
    though its map alone (a smooth line) would give d = 1 like level 0."""
    from synthetic import grid_map

    m = grid_map(lambda A, B: 1 + (B > 0.3 * A + 0.1), 64)
    zs = basins.zoom_sequence([m, m], distinct=[(64 * 64, 64 * 64), (3, 64 * 64)])
    assert abs(zs["dimension"].values[0] - 1) < 0.15 and not zs["saturated"].values[0]
    assert np.isnan(zs["dimension"].values[1]) and "only 3 distinct starts" in zs["reason"].values[1]
