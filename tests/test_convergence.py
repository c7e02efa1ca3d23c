"""Convergence-time maps and the label-stability statistic, on small trained slices."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from test_analysis_figures import render  # noqa: E402
from xorsweep import kernels  # noqa: E402
from xorsweep.analysis import convergence  # noqa: E402
from xorsweep.analysis import figures as F  # noqa: E402
from xorsweep.kernels import outcomes as O  # noqa: E402
from xorsweep.kernels.vocab import published_start  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


def _trained(W1, W2, steps, dims, shape):
    B = len(W1)
    r = kernels.train(W1, np.zeros((B, 3)), W2, np.zeros((B, 2)), rule="seed", steps=steps)
    v = O.variables(O.classify_result(r, steps=steps), dims, shape)
    return xr.Dataset(v, coords=O.lookups(3))


@pytest.fixture(scope="module")
def slice_ds():
    """The published start + a·u + b·v over an 8 × 8 grid, trained 100 and 300 steps."""
    s = published_start()
    rng = np.random.default_rng(1)
    u, v = rng.standard_normal((2, 12))
    a = b = np.linspace(-0.2, 0.2, 8)
    flat = np.concatenate([s["W1"].ravel(), s["W2"].ravel()])
    starts = flat + a[None, :, None] * u + b[:, None, None] * v  # (b, a, 12)
    W1, W2 = starts[..., :6].reshape(-1, 2, 3), starts[..., 6:].reshape(-1, 3, 2)
    per = [_trained(W1, W2, T, ("b", "a"), (8, 8)) for T in (100, 300)]
    return xr.concat(per, dim="steps", data_vars="all", coords="minimal", compat="override").assign_coords(
        steps=[100, 300], a=a, b=b)


def test_solved_step_map(slice_ds):
    arts = F.plot_solved_step_map(slice_ds, "a", "b", boundaries=True, steps=0)
    render(arts)
    ax = arts[0].axes
    n = len(np.unique(slice_ds["solution"].isel(steps=0).values))
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"
    assert "Kolen & Pollack" in ax.get_title() and f"solution: {n} classes" in ax.get_title()
    unsolved = int((slice_ds["solved_step"].isel(steps=0) < 0).sum())
    assert f"not solved ({unsolved} cells)" in [t.get_text() for t in arts[2].get_texts()]


def test_solved_step_by_rounding_digit():
    s = published_start()
    dec = [-1, 7, 6, 5, 4, 3]
    W1 = np.array([s["W1"] if d < 0 else np.round(s["W1"], d) for d in dec])
    W2 = np.array([s["W2"] if d < 0 else np.round(s["W2"], d) for d in dec])
    ds = _trained(W1, W2, 100, ("decimals",), (6,)).assign_coords(decimals=dec)
    arts = F.plot_solved_step_by(ds, "decimals")
    render(arts)
    ax = arts[0].axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["none", "7", "6", "5", "4", "3"]
    assert ax.get_ylabel() == "solved from step" and "decimals" in ax.get_xlabel()
    legend = arts[-1]
    # 7/6/5, 4 and 3 decimals: three solution classes among the solved (the unrounded fails)
    assert legend.get_title().get_text() == "solution (3 classes)"
    assert len(legend.get_texts()) == 3


def test_label_stability(slice_ds):
    st = convergence.label_stability(slice_ds, "label").isel(steps=0)
    assert int(st["steps"]) == 300 and int(st["n"]) == 64 and st.attrs["reference"] == "steps = 100"
    changed = int(((slice_ds["label"].isel(steps=0) != slice_ds["label"].isel(steps=1))).sum())
    assert int(st["changed"]) == changed
    assert st["share_lo"] <= st["share"] <= st["share_hi"]
    assert st.attrs["partition"] == "label"
    sol = convergence.label_stability(slice_ds).isel(steps=0)
    assert sol.attrs["partition"] == "solution" and int(sol["changed"]) <= int(st["changed"])
    with pytest.raises(ValueError, match="no 'steps' axis"):
        convergence.label_stability(slice_ds.isel(steps=0))


def test_the_figures_command_draws_convergence_figures(slice_ds, tmp_path):
    from xorsweep.analysis import figure_files as cli

    w = cli._Writer(tmp_path, "test", ("png",))
    ds = slice_ds.isel(steps=0, drop=True).assign(done=slice_ds["outcome"].isel(steps=0) > 0)
    assert cli.convergence_figures(w, ds, {}, ("b", "a")) == []
    assert [Path(p).name for p in w.files] == ["slice-solved-step-map.png"]
