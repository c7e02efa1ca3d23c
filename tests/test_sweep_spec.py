"""Sweep specs and grids: validation, round trips, and starts as pure functions of the index."""
import re
from pathlib import Path

import numpy as np
import pytest

from xorsweep.kernels.vocab import published_cases


class blog:  # the published start, as nested lists
    W1 = published_cases()["init"]["W1"]
    W2 = published_cases()["init"]["W2"]
from xorsweep.sweep.errors import UserError
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.spec import Spec

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


def spec_dict(**over):
    d = {"training": {"rule": "gd", "steps": 20}, "start": {"W1": blog.W1, "W2": blog.W2},
         "axes": {"decimals": {"values": ["none", 3, 1]}}, "execution": {"block": 8}}
    d.update(over)
    return d


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load_and_round_trip(path):
    spec = Spec.from_toml(path)
    assert Spec.from_dict(spec.to_dict()) == spec
    assert Grid(spec).cells >= 1


def test_round_trip_of_every_axis_kind():
    d = spec_dict(
        start={"count": 5, "init_std": 0.1, "seed": 3},
        axes={"decimals": {"values": ["none", 2], "biases": True}, "eps": {"min": 1e-16, "max": 1e-4, "num": 4},
              "direction": {"count": 3, "seed": 2}, "slice": {"u": "W1[0,0]", "v": {"seed": 4}, "a": [-1, 1],
                                                            "b": [0, 2], "resolution": [3, 2]},
              "lr": {"values": [1.0, 5.0]}, "dtype": {"values": ["float64", "float32"]}})
    spec = Spec.from_dict(d)
    assert Spec.from_dict(spec.to_dict()) == spec
    g = Grid(spec)
    assert g.dims == ("dtype", "lr", "start", "decimals", "eps", "direction", "a", "b")
    assert g.shape == (2, 2, 5, 2, 4, 3, 3, 2)
    assert g.chunks[:2] == (1, 1)  # settings axes: one value per block
    np.testing.assert_allclose(g.coords()["eps"], [1e-16, 1e-12, 1e-8, 1e-4])


@pytest.mark.parametrize("over, field", [
    ({"training": {"lr": -1}}, "training.lr"),
    ({"training": {"steps": "many"}}, "training.steps"),
    ({"training": {"rule": "adam"}}, "training.rule"),
    ({"training": {"speed": 1}}, "training"),
    ({"start": {"W1": [[1, 2]], "W2": blog.W2}}, "start.W1"),
    ({"start": {"W1": blog.W1}}, "start"),
    ({"axes": {"decimals": {"values": [21]}}}, "axes.decimals.values[0]"),
    ({"axes": {"decimals": {"values": []}}}, "axes.decimals.values"),
    ({"axes": {"eps": {"values": [1e-3]}}}, "axes"),
    ({"axes": {"slice": {"u": "W3[0,0]", "v": "W1[0,0]"}}}, "axes.slice.u"),
    ({"axes": {"slice": {"u": "W1[5,0]", "v": "W1[0,0]"}}}, "axes.slice.u"),
    ({"axes": {}}, "axes"),
])
def test_bad_specs_name_the_field(over, field):
    with pytest.raises(UserError, match=re.escape(f"spec: {field}: ")):
        Spec.from_dict(spec_dict(**over))


def test_absurd_grid_is_refused_before_anything_is_allocated():
    with pytest.raises(UserError, match="cells"):
        Spec.from_dict(spec_dict(start={"count": 2**33}, axes={"decimals": {"values": list(range(21))}}))


def _all_starts(spec):
    g = Grid(spec)
    out = np.full(g.shape + (g.P,), np.nan)
    for k in range(g.n_blocks):
        b = g.block(k)
        out[b.region] = g.starts(b)
    return out


@pytest.mark.parametrize("block", [1, 5, 64])
def test_starts_do_not_depend_on_the_block_size(block):
    d = spec_dict(start={"count": 4, "init_std": 0.1, "seed": 1},
                  axes={"decimals": {"values": ["none", 2]}, "eps": {"values": [1e-8, 1e-3]},
                        "direction": {"count": 3, "seed": 5}})
    ref = _all_starts(Spec.from_dict({**d, "execution": {"block": 1000}}))
    got = _all_starts(Spec.from_dict({**d, "execution": {"block": block}}))
    np.testing.assert_array_equal(got.view(np.int64), ref.view(np.int64))


def test_starts_follow_the_documented_recipe():
    spec = Spec.from_dict(spec_dict(
        start={"W1": blog.W1, "W2": blog.W2, "scale": 2.0},
        axes={"decimals": {"values": ["none", 3]}, "eps": {"values": [1e-6]}, "direction": {"names": ["W2[1,0]"]}}))
    x = _all_starts(spec)
    W1, W2 = 2.0 * np.array(blog.W1), 2.0 * np.array(blog.W2)
    np.testing.assert_array_equal(x[0, 0, 0, :6], W1.ravel())
    np.testing.assert_array_equal(x[1, 0, 0, :6], np.round(W1, 3).ravel())
    expect = np.round(W2, 3).ravel()
    expect[2] += 1e-6  # W2[1,0]
    np.testing.assert_array_equal(x[1, 0, 0, 9:15], expect)
    np.testing.assert_array_equal(x[..., 6:9], 0.0)  # biases stay zero


def test_slice_is_a_plane_through_the_start():
    spec = Spec.from_dict(spec_dict(axes={"slice": {"u": "W1[0,0]", "v": "b2[1]", "a": [-1, 1], "b": [0, 3],
                                                    "resolution": [5, 4]}}))
    x = _all_starts(spec)
    assert x.shape == (5, 4, 17)
    np.testing.assert_allclose(x[:, 0, 0] - blog.W1[0][0], np.linspace(-1, 1, 5), atol=1e-15)
    np.testing.assert_array_equal(x[0, :, 16], np.linspace(0, 3, 4))


def test_seeded_slice_axes_are_orthonormal():
    spec = Spec.from_dict(spec_dict(axes={"slice": {"u": {"seed": 1}, "v": {"seed": 2}}}))
    u, v = Grid(spec).slice_vectors()
    assert abs(np.dot(u, u) - 1) < 1e-15 and abs(np.dot(v, v) - 1) < 1e-15 and abs(np.dot(u, v)) < 1e-15


def test_random_starts_are_the_authors_init():
    spec = Spec.from_dict(spec_dict(start={"count": 3, "init_std": 0.1, "seed": 9},
                                    axes={"decimals": {"values": ["none"]}}))
    x = _all_starts(spec)
    rng = np.random.default_rng([9, 2])
    np.testing.assert_array_equal(x[2, 0, :6], 0.1 * rng.standard_normal((2, 3)).ravel())
    np.testing.assert_array_equal(x[2, 0, 9:15], 0.1 * rng.standard_normal((3, 2)).ravel())
