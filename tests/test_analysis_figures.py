"""Figure functions render without any warning, return their artists and never touch
pyplot's global state."""
import io
import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from xorsweep.analysis import basins, stats  # noqa: E402
from xorsweep.analysis import figures as F  # noqa: E402
from xorsweep.analysis import trajectory as T  # noqa: E402
from test_analysis_stats import grid_map, labelled, line_boundary_starts  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


def render(artists):
    """Draw the figure of the artists; every axes it has is labelled."""
    fig = _figure_of(artists)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    assert buf.getbuffer().nbytes > 1000
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert all(ax.get_ylabel() for ax in axes), "an axes without a y label"
    assert any(ax.get_xlabel() for ax in axes), "no x label"
    return fig


def _figure_of(artists):
    """The figure of the first artist (containers such as bars hold artists)."""
    for a in artists:
        for part in (a.get_children() if hasattr(a, "get_children") and not hasattr(a, "figure") else [a]):
            if getattr(part, "figure", None) is not None:
                return part.figure
    raise AssertionError("no artist with a figure")


@pytest.fixture(scope="module")
def traj(cases):
    """The 7-decimal published network, re-trained from a cell without a stored trajectory."""
    spec = {"training": {"rule": "seed", "lr": 5.0, "steps": 100}, "start": {"published": True},
            "axes": {"decimals": {"values": [3, 7]}}}
    cell = xr.Dataset({"W1": (("input", "hidden"), np.zeros((2, 3))), "b1": ("hidden", np.zeros(3)),
                       "W2": (("hidden", "output"), np.zeros((3, 2))), "b2": ("output", np.zeros(2))},
                      coords={"decimals": np.int16(7)}, attrs={"spec": json.dumps(spec)})
    t = T.trajectory(cell)
    assert t.sizes["step"] == 101 and t.attrs["source"].startswith("re-trained")
    assert t.attrs["matches_store"] == 0  # the finals above are zeros, not the stored ones
    np.testing.assert_array_equal(t["W1"].values[0], np.round(np.array(cases["init"]["W1"]), 7))
    return t


def test_network_figures(traj):
    assert traj["accuracy"].values[-1] == 1.0
    artists = F.plot_accuracy_loss(traj)
    fig = render(artists)
    lines = [a for a in artists if hasattr(a, "get_ydata")]
    assert len(lines) == 2 and len(lines[0].get_xdata()) == 101  # accuracy and loss at every step
    ylabels = " ".join(ax.get_ylabel() for ax in fig.axes)
    assert "accuracy" in ylabels and "loss" in ylabels
    for group in ("W1", "b1", "W2"):
        artists = F.plot_path_3d(traj, group)
        assert len(artists) == 3 * (1 if group == "b1" else 2)
        render(artists)
        proj = F.plot_path_projections(traj, group)
        assert len({a.axes for a in proj if hasattr(a, "axes")}) == 3  # three projections
        render(proj)
    b2 = F.plot_b2_path(traj)
    render(b2)


def test_network_figures_on_given_axes(traj):
    fig = Figure(layout="constrained")
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    artists = F.plot_path_3d(traj, "W2", ax=ax)
    assert all(a.axes is ax for a in artists)
    axes = [fig.add_subplot(3, 2, k) for k in (2, 4, 6)]
    F.plot_path_projections(traj, "W1", axes=axes)
    render(artists)


def test_rounding_figures():
    rng = np.random.default_rng(0)
    att = labelled(rng.integers(2, 5, (50, 4)), ("start", "decimals"),
                   {"decimals": np.array([-1, 7, 4, 3], dtype=np.int16)})
    render(F.plot_attractor_shares(stats.attractor_shares(att, over=["start"])))
    render(F.plot_flip_rate(stats.flip_rate(att, over=["start"])))
    # one start per digit: points without bars, and the note says why
    art, note = F.plot_flip_rate(stats.flip_rate(att.isel(start=0)))
    assert "no interval" in note.get_text() and "Wilson" not in art.get_label()
    render([art, note])


def test_uncertainty_figure():
    frac = stats.uncertainty_fraction(line_boundary_starts(S=3000))
    render(F.plot_uncertainty(frac, stats.uncertainty_exponent(frac, D=17)))


def test_slice_figures():
    att = grid_map(lambda A, B: (A ** 2 + B ** 2 < 0.5) + (B > 0.6), n=64)
    att["a"].attrs["long_name"] = "a: along W1[0,2]"
    render(F.plot_attractor_map(att))
    counts = basins.box_counts(att)
    render(F.plot_box_count(counts, basins.box_dimension(counts)))


def test_many_classes_are_merged_in_the_legend():
    names = ["pending", "diverged"] + [f"c{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    att = xr.DataArray(rng.integers(2, 22, (40, 40)).astype(np.int16), dims=("b", "a"),
                       coords={"a": np.arange(40.0), "b": np.arange(40.0)},
                       attrs={"flag_values": list(range(22)), "flag_meanings": " ".join(names),
                              "flag_display_names": names})
    artists = F.plot_attractor_map(att)
    legend = artists[-1]
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 12 and texts[-1].startswith("9 rarer classes")
    render(artists)


def test_figure_functions_never_import_pyplot():
    """Run the figure module's functions in a fresh process: pyplot (global state) is
    never imported, so no figure can be left open."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, xarray as xr\n"
            "from xorsweep.analysis import figures as F\n"
            "t = xr.Dataset({'loss': ('step', np.linspace(1, 0, 5)), 'accuracy': ('step', np.ones(5))},"
            " coords={'step': np.arange(5)})\n"
            "F.plot_accuracy_loss(t)\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_a_class_has_one_colour_in_every_figure_and_unsolved_is_grey():
    """The shares bars coloured successes by their order among the classes present and
    'unsolved' as a success (blue), the convergence figure by class code: the same class
    had another colour in each figure. Now every figure colours a class by its place
    among the partition's classes; failures (unsolved, fail[...]) in greys and reds."""
    from matplotlib.colors import to_hex

    from xorsweep.analysis.figures.style import FAILURE_COLORS, FIXED

    names = ["pending", "unsolved", "other", "S1", "S2", "S3"]
    flags = {"flag_values": list(range(6)), "flag_meanings": " ".join(names), "flag_display_names": names}
    rng = np.random.default_rng(1)
    codes = rng.choice([1, 2, 4, 5], (30, 3))  # S1 nowhere but in the first digit
    codes[:5, 0] = 3
    steps = np.where(codes >= 3, rng.integers(10, 90, codes.shape), -1).astype(np.int32)
    ds = xr.Dataset({"solution": (("start", "decimals"), codes.astype(np.int16), {"long_name": "solution", **flags}),
                     "solved_step": (("start", "decimals"), steps),
                     "done": (("start", "decimals"), np.ones(codes.shape, bool))},
                    coords={"decimals": [np.nan, 7.0, 4.0]})
    bars = F.plot_attractor_shares(stats.attractor_shares(ds.solution, over=["start"]))
    in_bars = {b.get_label(): to_hex(b.patches[0].get_facecolor()) for b in bars}
    points = F.plot_solved_step_by(ds, "decimals")
    in_points = {a.get_label().split(" (")[0]: to_hex(a.get_facecolor()[0]) for a in points
                 if hasattr(a, "get_offsets") and a.get_label().startswith("S")}
    m = ds.solution.isel(decimals=1).values[:25].reshape(5, 5)  # no S1 here
    att = xr.DataArray(m, dims=("b", "a"), coords={"a": np.arange(5.0), "b": np.arange(5.0)}, attrs=flags)
    leg = F.plot_attractor_map(att)[-1]
    in_map = {t.get_text().split(" (")[0]: to_hex(h.get_facecolor()) for t, h in zip(leg.get_texts(),
                                                                                      leg.legend_handles)}
    assert "S1" not in in_map and {"S2", "S3"} <= set(in_map) & set(in_points) & set(in_bars)
    for name in ("S1", "S2", "S3", "unsolved", "other"):
        seen = {d[name] for d in (in_bars, in_points, in_map) if name in d}
        assert len(seen) == 1, (name, seen)
    assert in_bars["unsolved"] == in_map["unsolved"] == FIXED["unsolved"] and FIXED["unsolved"] not in FAILURE_COLORS
    assert len({in_bars[n] for n in ("S1", "S2", "S3", "unsolved", "other")}) == 5


def test_more_failures_than_greys_leave_the_successes_their_places():
    """A partition with 15 fail[...] classes (the label partition, H = 2) has more failures
    than the failure palette: failures then take their order in the figure, and the
    successes keep their place among the partition's classes (review, 2026-12-04: one
    palette running out switched the other off too)."""
    from xorsweep.analysis.figures.style import class_colors

    names = ["pending", "diverged"] + [f"fail[{i}]" for i in range(15)] + ["other", "A", "B", "C"]
    one = class_colors(["B", "fail[3]"], None, names)
    two = class_colors(["A", "B", "C", "fail[3]", "fail[9]"], None, names)
    assert one["B"] == two["B"] and two["A"] != two["B"] != two["C"]
    assert two["fail[3]"] != two["fail[9]"]
