"""Statistics and basin measures on synthetic attractor data of known answer."""
import math

import numpy as np
import pytest
import xarray as xr

from xorsweep.kernels.vocab import RULES
from xorsweep.analysis import basins, stats

NAMES = ["pending", "diverged", "A", "B", "C"]
ATTRS = {"flag_values": list(range(len(NAMES))), "flag_meanings": " ".join(NAMES), "flag_display_names": NAMES}


def labelled(values, dims, coords=None):
    return xr.DataArray(np.asarray(values, dtype=np.int16), dims=dims, coords=coords or {}, attrs=dict(ATTRS))


def test_wilson_interval_known_values_and_empty():
    lo, hi = stats.wilson(np.array([0, 10, 5, 0]), np.array([10, 10, 10, 0]))
    np.testing.assert_allclose(lo[:3], [0.0, 0.7225, 0.2366], atol=1e-4)
    np.testing.assert_allclose(hi[:3], [0.2775, 1.0, 0.7634], atol=1e-4)
    assert np.isnan(lo[3]) and np.isnan(hi[3])


def test_one_start_gets_no_interval():
    """One start per digit (the README's main job) is one deterministic run, not a sample:
    its share and flip rate get no interval, where two starts or more get theirs."""
    one = labelled([2, 2, 3, 2], ("decimals",), {"decimals": np.array([-1, 3, 2, 1], dtype=np.int16)})
    fl = stats.flip_rate(one)
    np.testing.assert_array_equal(fl["rate"].values, [0, 1, 0])
    assert np.isnan(fl["rate_lo"].values).all() and np.isnan(fl["rate_hi"].values).all()
    assert fl.attrs["interval_note"] == stats.NO_INTERVAL
    r = stats.clustered_share(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]]))
    assert np.isnan(r["lo"]).all() and np.isnan(r["hi"]).all() and r["method"] == stats.NO_INTERVAL
    # n = 1 in one column, 3 in the other: an interval only where n >= 2, and the method says so
    k, n = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    r = stats.clustered_share(k, n)
    assert np.isnan(r["lo"][0]) and np.isfinite(r["lo"][1]) and r["lo"][1] < 2 / 3 < r["hi"][1]
    assert r["method"].startswith("95% Wilson") and r["method"].endswith(stats.NO_INTERVAL)
    four = labelled([[2, 2, 3], [2, 3, 3], [3, 3, 4], [2, 2, 2]], ("start", "decimals"),
                    {"decimals": np.array([-1, 3, 2], dtype=np.int16)})
    fl4 = stats.flip_rate(four)
    assert np.isfinite(fl4["rate_lo"].values).all() and "interval_note" not in fl4.attrs


def test_attractor_shares_and_flip_rate():
    # 4 starts x decimals (-1, 3, 2); pending cells are not counted
    att = labelled([[2, 2, 3], [2, 3, 3], [3, 3, 4], [2, 0, 2]], ("start", "decimals"),
                   {"decimals": np.array([-1, 3, 2], dtype=np.int16)})
    sh = stats.attractor_shares(att)
    assert list(sh.attractor.values) == ["A", "B", "C"]
    np.testing.assert_array_equal(sh["n"].values, [4, 3, 4])
    np.testing.assert_allclose(sh["share"].sel(decimals=-1).values, [0.75, 0.25, 0.0])
    np.testing.assert_allclose(sh["share"].sel(decimals=2).values, [0.25, 0.5, 0.25])
    assert (sh["share_lo"] <= sh["share"]).all() and (sh["share"] <= sh["share_hi"]).all()
    fl = stats.flip_rate(att)
    assert list(fl.decimals.values) == [3, 2]
    np.testing.assert_array_equal(fl["flips"].values, [1, 3])
    np.testing.assert_array_equal(fl["n"].values, [3, 4])


def line_boundary_starts(S=20000, ndir=4, seed=0):
    """Attractor data on a plane cut by a straight line: (start, eps, direction)."""
    rng = np.random.default_rng(seed)
    eps = np.logspace(-5, -1, 9)
    x0 = rng.uniform(-1, 1, (S, 2))
    theta = rng.uniform(0, 2 * np.pi, (S, ndir))
    u = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    p = x0[:, None, None, :] + eps[None, :, None, None] * u[:, None, :, :]
    return labelled(2 + (p[..., 1] > 0.2 * p[..., 0] + 0.1), ("start", "eps", "direction"), {"eps": eps})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uncertainty_exponent_of_a_smooth_boundary_is_one(seed):
    frac = stats.uncertainty_fraction(line_boundary_starts(seed=seed))
    assert frac.attrs["reference_eps"] == pytest.approx(1e-5)
    np.testing.assert_allclose(frac["separation"].values, frac["eps"].values - 1e-5, rtol=1e-12)
    fit = stats.uncertainty_exponent(frac, D=2)
    assert abs(float(fit["alpha"]) - 1) < 0.1
    assert 0 < float(fit["alpha_se"]) < 0.1
    assert abs(float(fit["boundary_dimension"]) - 1) < 0.1
    assert int(fit["fit_points"]) >= 5


def test_uncertainty_fraction_skips_pending_and_fits_per_extra_dim():
    att = line_boundary_starts(S=4000)
    both = xr.concat([att, att.where(att.start % 2 == 0, 0)], dim=xr.DataArray(["all", "half"], dims="group"))
    both.attrs = att.attrs
    frac = stats.uncertainty_fraction(both, over=["start", "direction"])
    assert frac["n"].sel(group="half").max() == 2000 * 4
    fit = stats.uncertainty_exponent(frac)
    assert fit["alpha"].dims == ("group",)


def grid_map(fn, n=512):
    a = np.linspace(-1, 1, n)
    A, B = np.meshgrid(a, a, indexing="ij")
    return labelled(2 + fn(A, B), ("a", "b"), {"a": a, "b": a})


@pytest.mark.parametrize("fn", [lambda A, B: A ** 2 + B ** 2 < 0.5, lambda A, B: B > 0.3 * A + 0.1],
                         ids=["circle", "line"])
def test_box_counting_dimension_of_a_smooth_curve_is_one(fn):
    counts = basins.box_counts(grid_map(fn))
    assert counts["box"].values[0] == 1
    dim = basins.box_dimension(counts)
    assert abs(float(dim["dimension"]) - 1) < 0.1
    # fits start at box side 2 and stop where half the boxes are mixed or at an eighth of the side
    assert (float(dim["fit_min"]), float(dim["fit_max"])) == (2.0, 64.0)
    assert not dim.attrs["saturated"]
    assert "box_a" in counts.coords


def test_box_counting_of_noise_is_flagged_saturated():
    rng = np.random.default_rng(0)
    att = labelled(rng.integers(2, 4, (300, 300)), ("a", "b"))
    dim = basins.box_dimension(basins.box_counts(att))
    # N(s) of noise follows s^-2, but the map is mixed at every box size: no dimension
    assert dim.attrs["saturated"] and np.isnan(float(dim["dimension"]))
    assert abs(float(dim["raw_slope"]) - 2) < 0.2 and "saturated" in dim.attrs["reason"]


def test_attractor_map_selects_the_other_dims():
    att = labelled(np.arange(24).reshape(2, 3, 4) % 3 + 2, ("rule", "a", "b"), {"rule": list(RULES)})
    m = basins.attractor_map(att, {"rule": "gd"})
    assert m.dims == ("b", "a") and m["rule"].item() == "gd"
    np.testing.assert_array_equal(m.values, att.sel(rule="gd").values.T)


def test_boundary_cells():
    att = labelled([[2, 2, 3], [2, 2, 3], [2, 2, 2]], ("a", "b"))
    np.testing.assert_array_equal(basins.boundary(att).values,
                                  [[0, 1, 1], [0, 1, 1], [0, 0, 1]])


def test_basin_entropy_of_simple_maps():
    one = basins.basin_entropy(labelled(np.full((20, 20), 2), ("a", "b")))
    assert float(one["Sb"]) == 0 and np.isnan(float(one["Sbb"])) and int(one["boundary_boxes"]) == 0
    # boundary after column 3 of 10: boxes of columns 0-4 hold 3/5 A and 2/5 B
    half = np.full((10, 10), 2)
    half[:, 3:] = 3
    ent = basins.basin_entropy(labelled(half, ("a", "b")), box=5)
    h = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert float(ent["Sbb"]) == pytest.approx(h) and float(ent["Sb"]) == pytest.approx(h / 2)
    assert (int(ent["boxes"]), int(ent["boundary_boxes"])) == (4, 2)
    rng = np.random.default_rng(1)
    noise = basins.basin_entropy(labelled(rng.integers(2, 4, (200, 200)), ("a", "b")), box=20)
    assert float(noise["Sbb"]) == pytest.approx(math.log(2), abs=0.01)
    three = basins.basin_entropy(labelled(rng.integers(2, 5, (200, 200)), ("a", "b")), box=20)
    assert float(three["Sbb"]) == pytest.approx(math.log(3), abs=0.01) and bool(three["log2_criterion"])


def test_pending_cells_are_left_out_of_maps():
    m = np.full((8, 8), 2)
    m[:, 4:] = 0  # not trained yet
    assert int(basins.box_counts(labelled(m, ("a", "b")))["count"].sum()) == 0
