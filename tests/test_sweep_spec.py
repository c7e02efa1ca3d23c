"""Sweep specs and grids: validation, round trips, and starts as pure functions of the index."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

from xorsweep.kernels.vocab import RULE_PARTS, published_cases


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
    ({"training": {"gradient": "exact"}}, "training.gradient"),
    ({"training": {"update": ["sequential"]}}, "training.update"),
    ({"training": {"rule": "seed", "gradient": "analytic"}}, "training.gradient"),
    ({"training": {"rule": "gd", "update": "sequential"}}, "training.update"),
    ({"axes": {"rule": {"values": ["gd"]}, "update": {"values": ["sequential"]}}}, "axes.update"),
    ({"axes": {"gradient": {"values": ["analytic", "analytic"]}}}, "axes.gradient.values"),
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


# ---- the typed model: identity kept, validation however the spec is built ----------------------
import hashlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from fractions import Fraction  # noqa: E402

import mpmath  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from xorsweep.sweep import spec as spec_module  # noqa: E402
from xorsweep.sweep.spec import SpecError, Start, Training  # noqa: E402
from xorsweep.sweep.spec_axes import Axes, EpsAxis, SliceAxis  # noqa: E402

#: spec hashes computed by the code before the typed model (stores made then must keep resuming);
#: the perturbation example gained an eps = 0 reference since (its earlier form, eps log-spaced
#: from 1e-16 to 1e-1 with num = 16, hashed a54414062364: pinned below)
EXAMPLE_HASHES = {"blog-rounding.toml": "455082219849", "perturbation.toml": "b7950d9a1436",
                  "random-rounding.toml": "acb5d9d1e897", "slice.toml": "55c147299254",
                  "precision.toml": None, "zoom.toml": "2cb8394fbd96", "rule-parts.toml": "03262cc6d0b6",
                  "lyapunov.toml": "3753d1cfd1a6"}
#: the same while the default was exact-fma (2026-12-02, before exact-fma2)
EXAMPLE_HASHES_FMA = {"blog-rounding.toml": "105988066b26", "perturbation.toml": "2cd67caaec61",
                      "random-rounding.toml": "3328ded126cc", "slice.toml": "389b5d2ec077",
                      "precision.toml": "82cbec5ecedb", "zoom.toml": "1f41263cecc0",
                      "rule-parts.toml": "e9e80c237713", "lyapunov.toml": "8477be6565bd"}


def as_made_then(spec: Spec, arith: str = "exact") -> Spec:
    """The spec as a store made when the default arithmetic was ``arith`` holds it (exact
    before exact-fma, exact-fma before exact-fma2)."""
    d = spec.to_dict()
    if not spec.arith_named:
        d["training"]["arith"] = arith
    return Spec.from_dict(d)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_hashes_are_pinned(path):
    """The stored specs of stores made then keep their hashes (a spec file that names no
    arithmetic resumes them with their own: test_sweep_run)."""
    if EXAMPLE_HASHES[path.name] is not None:
        assert as_made_then(Spec.from_toml(path)).hash() == EXAMPLE_HASHES[path.name]
    assert as_made_then(Spec.from_toml(path), "exact-fma").hash() == EXAMPLE_HASHES_FMA[path.name]


def test_the_earlier_perturbation_example_keeps_its_hash():
    d = as_made_then(Spec.from_toml(EXAMPLES[0].parent / "perturbation.toml")).to_dict()
    d["axes"]["eps"] = {"min": 1e-16, "max": 1e-1, "num": 16}
    assert Spec.from_dict(d).hash() == "a54414062364"


def test_a_spec_that_names_no_arithmetic_takes_the_store_s():
    plain = Spec.from_dict({"start": {"count": 3}})
    assert not plain.arith_named and plain.training.arith == "exact-fma2"  # new stores: the default
    for then in ("exact", "exact-fma"):
        old = as_made_then(plain, then)
        assert old.arith_named and plain.with_arith_of(old).hash() == old.hash()
    old = as_made_then(plain)
    named = Spec.from_dict({"training": {"arith": "exact-fma"}, "start": {"count": 3}})
    assert named.arith_named and named.with_arith_of(old) is named  # named: kept, and refused by the store
    # with an arith axis the axis decides every value; training.arith is still adopted
    axis = Spec.from_dict({"start": {"count": 3}, "axes": {"arith": {"values": ["exact", "libm"]}}})
    assert axis.with_arith_of(as_made_then(axis)).hash() == as_made_then(axis).hash()


LIT = {"W1": blog.W1, "W2": blog.W2}
#: (spec dict, its hash, sha256[:16] of every start in block order), all computed by the old code
PINNED = [
    ({"start": {**LIT, "b1": [0.1, -0.2, 0.3], "b2": [1, 2]}, "axes": {"decimals": {"values": ["none", 3, 0], "biases": True}}},
     "23b7fa4a1c1e", "dd1cc1fa05965d70"),
    ({"start": {"count": 5, "init_std": 0.1, "seed": 3},
      "axes": {"decimals": {"values": ["none", 2]}, "eps": {"min": 1e-16, "max": 1e-4, "num": 4},
               "direction": {"count": 3, "seed": 2},
               "slice": {"u": "W1[0,0]", "v": {"seed": 4}, "a": [-1, 1], "b": [0, 2], "resolution": [3, 2]},
               "lr": {"values": [1.0, 5]}, "dtype": {"values": ["float64", "float32"]}}, "execution": {"block": 7}},
     "36e101f10e46", "0b06f1cb0f44dd84"),
    ({"start": LIT, "axes": {"eps": {"values": [1e-3, 1e-9, 1e-13]}, "direction": {"names": ["W2[1, 0]", "b2[1]", "W1[0,2]"]}}},
     "a5df95129126", "3347eca4583db55a"),
    ({"start": LIT, "axes": {"slice": {"u": "W1[0, 2]", "v": "W2[1,1]", "a": [-0.25, 0.25], "b": [-0.25, 0.25],
                                       "resolution": 9}}, "execution": {"block": 10}},
     "a22e3fe4a7c5", "405578fee335ea45"),
    ({"start": {"count": 3, "seed": 9}, "training": {"record_every": 1},
      "axes": {"steps": {"values": [3, 5]}, "rule": {"values": ["gd", "seed"]}, "arith": {"values": ["exact", "libm"]}}},
     "f0a5b7681f39", "0b2169466588649d"),
    ({"start": {"count": 2, "init_std": 1}, "training": {"hidden": 5, "rule": "gd"},
      "axes": {"eps": {"values": [1e-5]}, "direction": {"names": ["W1[1,4]", "b1[4]"]},
               "slice": {"u": "W2[4,1]", "v": {"seed": 0}, "resolution": [2, 3]}}},
     "fc7e6cdf09f0", "0c5880dfc4b16120"),
]


@pytest.mark.parametrize("d, digest, starts", PINNED, ids=range(len(PINNED)))
def test_hashes_and_start_bits_are_those_of_the_old_code(d, digest, starts):
    spec = as_made_then(Spec.from_dict(d))
    assert spec.hash() == digest
    g, h = Grid(spec), hashlib.sha256()
    for k in range(g.n_blocks):
        h.update(np.ascontiguousarray(g.starts(g.block(k))).tobytes())
    assert h.hexdigest()[:16] == starts
    assert Spec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_published_start_has_the_literal_identity():
    d = as_made_then(Spec.from_toml(EXAMPLES[0])).to_dict()  # blog-rounding
    assert EXAMPLES[0].name == "blog-rounding.toml"
    literal = Spec.from_dict({**d, "start": {"W1": blog.W1, "W2": blog.W2}})
    d["start"] = {"published": True}
    published = Spec.from_dict(d)
    assert published.identity() == literal.identity() and published.hash() == EXAMPLE_HASHES["blog-rounding.toml"]
    assert published.to_dict()["start"] == {"published": True, "scale": 1.0}
    assert Spec.from_dict(published.to_dict()) == published
    np.testing.assert_array_equal(_all_starts(published).view(np.int64), _all_starts(literal).view(np.int64))


def test_published_start_is_not_spelled_in_the_spec_modules():
    root = Path(spec_module.__file__).parent
    digits = repr(abs(blog.W1[0][2]))  # the number, never written here either
    for name in ("spec.py", "spec_axes.py", "spec_base.py", "grid.py"):
        assert digits not in (root / name).read_text(), name


@pytest.mark.parametrize("build, where", [
    (lambda: Training(lr=-1), "spec: training.lr: "),
    (lambda: Training(steps=True), "spec: training.steps: "),
    (lambda: Start(W1=blog.W1), "spec: start: "),
    (lambda: Start(count=3, W1=blog.W1), "spec: start.W1: "),
    (lambda: SliceAxis(u="W1[0,0]", v="W1[0, 0]"), "spec: axes.slice.v: "),
    (lambda: EpsAxis(values=(1e-3, 0.001)), "spec: axes.eps.values: "),
    (lambda: Axes(eps={"values": [1e-3]}), "spec: axes: "),
    (lambda: Spec(start=LIT, training={"rule": "adam"}), "spec: training.rule: "),
    (lambda: Spec(start=Start(**LIT), axes=Axes(slice=SliceAxis(u="W1[0,0]", v="W1[0,9]"))), "spec: axes.slice.v: "),
    (lambda: Spec.model_validate({"start": LIT, "execution": {"block": 0}}), "spec: execution.block: "),
])
def test_keyword_built_specs_are_validated_too(build, where):
    with pytest.raises(SpecError) as e:
        build()
    assert str(e.value).startswith(where) and "\n" not in str(e.value)
    assert not isinstance(e.value, ValidationError)


def test_specs_are_frozen():
    spec = Spec(start=LIT)
    with pytest.raises(ValidationError):
        spec.training.lr = 1.0  # pydantic's own error: a programming mistake, not bad input
    assert hash(spec) == hash(Spec(start=Start(**LIT)))


@pytest.mark.parametrize("d, message", [
    ({"start": LIT, "trainig": {}}, "spec: unknown key 'trainig' (did you mean 'training'?)"),
    ({"start": LIT, "colour": 1}, "spec: unknown key 'colour' (known: name, training, start, axes, execution, outcomes)"),
    ({"start": LIT, "training": {"stpes": 3}}, "spec: training: unknown key 'stpes' (did you mean 'steps'?)"),
    ({"start": LIT, "axes": {"decimal": {"values": [1]}}}, "did you mean 'decimals'?"),
    ({"start": LIT, "axes": {"slice": {"u": {"sed": 1}, "v": "W1[0,0]"}}}, "spec: axes.slice.u: unknown key 'sed' (did you mean 'seed'?)"),
    ({"start": LIT, "axes": {"slice": {"u": "W1[0,0]", "v": {"sed": 1}}}}, "spec: axes.slice.v: unknown key 'sed'"),
])
def test_misspelt_keys_get_a_suggestion(d, message):
    with pytest.raises(SpecError) as e:
        Spec.from_dict(d)
    assert message in str(e.value) and "spec: spec:" not in str(e.value)


def test_the_spec_knows_its_size_and_never_imports_the_grid():
    spec = Spec.from_dict(PINNED[1][0])
    g = Grid(spec)
    assert (spec.dims, spec.shape, spec.cells) == (g.dims, g.shape, g.cells)
    code = "import sys, xorsweep.sweep.spec; assert 'xorsweep.sweep.grid' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_json_schema_is_committed_and_describes_the_examples():
    committed = Path(__file__).parent.parent / "docs" / "spec.schema.json"
    assert committed.read_text() == spec_module.schema_text(), "run: python -m xorsweep.sweep.spec docs/spec.schema.json"
    jsonschema = pytest.importorskip("jsonschema")
    import tomllib
    schema = json.loads(committed.read_text())
    for path in EXAMPLES:
        jsonschema.validate(tomllib.loads(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"start": LIT, "training": {"speed": 1}}, schema)


def test_spec_files_that_are_not_regular_or_too_big_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 2**20 + "\n")
    with pytest.raises(SpecError, match="more than"):
        Spec.from_toml(big)
    with pytest.raises(SpecError, match="not a regular file"):
        Spec.from_toml(tmp_path)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file"):
        Spec.from_toml(fifo)  # would hang if opened for a blocking read
    with pytest.raises(SpecError, match="not a regular file"):
        Spec.from_toml("/dev/zero")


# ---- eps = 0 and the realised distance -----------------------------------------------------------
def _exact_distance(x, r):
    """sqrt(sum (x - r)^2) to 50 digits, from the exact rationals of the doubles."""
    s = sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, r))
    with mpmath.workdps(50):
        return mpmath.sqrt(mpmath.mpf(s.numerator) / s.denominator)


def _check_realised(spec):
    g = Grid(spec)
    for k in range(g.n_blocks):
        b = g.block(k)
        x, ref = g.starts(b), g.references(b)
        dist, inert = g.realised(b, x)
        assert dist.shape == inert.shape == b.shape
        for i in np.ndindex(b.shape):
            exact = _exact_distance(x[i], ref[i])
            assert abs(mpmath.mpf(dist[i]) - exact) <= 4 * 2.0**-53 * exact, (i, dist[i], exact)
            assert inert[i] == (x[i].tobytes() == ref[i].tobytes())
            assert inert[i] == (dist[i] == 0) or np.any(x[i] != ref[i])  # -0.0 vs 0.0 only
    return g


def test_eps_may_be_zero_and_is_its_own_reference():
    spec = Spec.from_dict(spec_dict(start={"count": 3, "init_std": 0.1, "seed": 4},
                                    axes={"eps": {"values": [0, 1e-300, 1e-20, 1e-12, 1e-3]},
                                          "direction": {"count": 4, "seed": 1}}, execution={"block": 1000}))
    g = _check_realised(spec)
    b = g.block(0)
    dist, inert = g.realised(b, g.starts(b))
    assert inert[:, 0].all() and (dist[:, 0] == 0).all()
    # zero biases take eps·u exactly even where the weights do not move: never inert
    assert not inert[:, 1:].any()
    np.testing.assert_allclose(dist[:, 3:], np.broadcast_to(np.array([1e-12, 1e-3])[:, None], (3, 2, 4)), rtol=1e-4)
    assert (dist[:, 3] != 1e-12).any()  # the realised distance is not the nominal eps


def test_realised_distance_of_named_directions_and_slices():
    spec = Spec.from_dict(spec_dict(axes={"eps": {"values": [0.0, 1e-20, 1e-17, 1e-9]},
                                          "direction": {"names": ["W1[0,2]", "b1[1]", "W2[1, 1]"]}},
                                    execution={"block": 1000}))
    g = _check_realised(spec)
    b = g.block(0)
    dist, inert = g.realised(b, g.starts(b))
    assert inert[1, 0] and inert[1, 2]  # 1e-20 is below half an ulp of W1[0,2] and W2[1,1]
    assert not inert[1, 1] and dist[1, 1] == 1e-20  # a zero bias moves by exactly eps
    tiny = Spec.from_dict(spec_dict(axes={"slice": {"u": "W1[0,2]", "v": "W2[1,1]", "a": [-1e-17, 1e-17],
                                                    "b": [-1e-17, 1e-17], "resolution": [7, 5]}},
                                    execution={"block": 1000}))
    g = _check_realised(tiny)
    dist, inert = g.realised(g.block(0))
    assert inert[3, 2] and 1 < inert.sum() < inert.size  # the centre, and cells the rounding swallowed


def test_eps_grids_stay_positive_and_distinct():
    assert EpsAxis(min=1e-16, max=1e-1, num=16).values[0] == 1e-16
    with pytest.raises(SpecError, match="min = max needs num = 1"):
        EpsAxis(min=1e-3, max=1e-3, num=3)
    with pytest.raises(SpecError, match="axes.eps.min: must be >= 1e-300"):
        EpsAxis(min=0, max=1e-3, num=3)


# ---- the rule as two settings: gradient x update ---------------------------------------------
def test_a_named_pair_is_stored_as_its_rule_and_keeps_the_rule_s_hash():
    base = spec_dict()  # rule = "gd"
    for rule, (gradient, update) in RULE_PARTS.items():
        by_name = Spec.from_dict({**base, "training": {"rule": rule, "steps": 20}})
        by_parts = Spec.from_dict({**base, "training": {"gradient": gradient, "update": update, "steps": 20}})
        both = Spec.from_dict({**base, "training": {"rule": rule, "gradient": gradient, "steps": 20}})
        assert by_name == by_parts == both and by_parts.hash() == by_name.hash()
        t = by_parts.to_dict()["training"]
        assert t["rule"] == rule and "gradient" not in t and "update" not in t
    assert Spec.from_dict({**base, "training": {"steps": 20}}).training.rule == "seed"  # the default rule


@pytest.mark.parametrize("gradient, update", [("numerical", "simultaneous"), ("analytic", "sequential")])
def test_an_unnamed_pair_is_stored_as_its_parts(gradient, update):
    spec = Spec.from_dict(spec_dict(training={"gradient": gradient, "update": update, "steps": 20}))
    t = spec.to_dict()["training"]
    assert "rule" not in t and (t["gradient"], t["update"]) == (gradient, update)
    assert spec.training.rule is None and Spec.from_dict(spec.to_dict()) == spec
    assert spec.hash() not in {Spec.from_dict(spec_dict(training={"rule": r, "steps": 20})).hash() for r in RULE_PARTS}
    assert spec.training.rule_text == f"{gradient} gradient, {update} update"


def test_one_part_given_takes_the_other_from_the_default_rule():
    t = Spec.from_dict(spec_dict(training={"gradient": "analytic"})).training
    assert (t.rule, t.gradient, t.update, t.lr, t.steps) == (None, "analytic", "sequential", 5.0, 100)


def test_gradient_and_update_axes_set_each_block_s_parts_and_name_the_rule():
    spec = Spec.from_dict(spec_dict(training={"rule": "gd", "steps": 20},
                                    axes={"gradient": {"values": ["numerical", "analytic"]},
                                          "update": {"values": ["sequential", "simultaneous"]}}))
    g = Grid(spec)
    assert g.dims == ("gradient", "update") and g.chunks == (1, 1)
    seen = {(b.settings["gradient"], b.settings["update"]): b.settings["rule"]
            for b in (g.block(k) for k in range(g.n_blocks))}
    assert seen == {("numerical", "sequential"): "seed", ("numerical", "simultaneous"): None,
                    ("analytic", "sequential"): None, ("analytic", "simultaneous"): "gd"}
    assert g.rule_parts() == list(seen)
    assert list(g.coords()["update"]) == ["sequential", "simultaneous"]
    one = Grid(Spec.from_dict(spec_dict(training={"rule": "gd"}, axes={"update": {"values": ["sequential"]}})))
    assert one.block(0).settings["gradient"] == "analytic" and one.rule_parts() == [("analytic", "sequential")]
    by_rule = Grid(Spec.from_dict(spec_dict(axes={"rule": {"values": ["gd", "seed"]}})))
    assert [by_rule.block(k).settings["update"] for k in range(2)] == ["simultaneous", "sequential"]


def test_the_schema_offers_gradient_and_update():
    schema = Spec.json_schema()
    props = schema["$defs"]["Training"]["properties"]
    assert props["gradient"]["enum"] == ["numerical", "analytic"] and "sequential" in props["update"]["enum"]
    assert {"gradient", "update"} <= set(schema["$defs"]["Axes"]["properties"])
