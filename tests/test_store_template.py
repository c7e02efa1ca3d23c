"""The store's template is written through zarr alone (no xarray or dask import on the way
to a first result); xarray + dask (``to_zarr(compute=False)``) is the oracle: array for
array, the same metadata (attributes in the same order), the same coordinate values, and
the same dataset when opened."""
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from xorsweep.sweep import store
from xorsweep.sweep.grid import Grid
from xorsweep.sweep.spec import Spec

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))
MORE = {  # what no example holds: random slice directions, H = 5, trajectories of a gd sweep, a 0-d grid
    "random-slice": {"training": {"rule": "gd", "steps": 10}, "start": {"published": True},
                     "axes": {"slice": {"u": "W1[0,0]", "v": {"seed": 4}, "a": [-1, 1], "b": [-1, 1],
                                        "resolution": [5, 4]}}},
    "wide-traj": {"training": {"rule": "gd", "steps": 20, "record_every": 5, "hidden": 5},
                  "start": {"count": 10, "seed": 3},
                  "axes": {"lr": {"values": [1.0, 5.0]}}},
    "single": {"training": {"rule": "seed", "steps": 3}, "start": {"published": True}},
}


def specs():
    out = [pytest.param(Spec.from_toml(p), id=p.stem) for p in EXAMPLES]
    out += [pytest.param(Spec.from_dict(d), id=k) for k, d in MORE.items()]
    return out


def _metadata(path: Path) -> dict:
    return {str(p.relative_to(path)): json.loads(p.read_text()) for p in sorted(path.rglob("zarr.json"))}


@pytest.mark.parametrize("spec", specs())
def test_template_is_what_xarray_writes(spec, tmp_path):
    grid = Grid(spec)
    attrs = {"title": "t", "spec": json.dumps(spec.to_dict(), sort_keys=True), "n": 3, "list": [1, 2]}
    ds, encoding = store.template(grid, attrs)
    with store.quiet():
        ds.to_zarr(str(tmp_path / "oracle.zarr"), mode="w", compute=False, zarr_format=3, consolidated=True,
                   encoding=encoding)
    store.write_template(str(tmp_path / "ours.zarr"), grid, attrs)
    want, got = _metadata(tmp_path / "oracle.zarr"), _metadata(tmp_path / "ours.zarr")
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name
        # attribute order too (a reader listing them sees the same)
        assert list(got[name].get("attributes", {})) == list(want[name].get("attributes", {})), name
    a, b = zarr.open_group(str(tmp_path / "oracle.zarr"), mode="r"), zarr.open_group(str(tmp_path / "ours.zarr"),
                                                                                     mode="r")
    for name in ds.coords:
        np.testing.assert_array_equal(b[name][...], a[name][...], err_msg=name)
    with store.quiet():
        xr.testing.assert_identical(xr.open_zarr(tmp_path / "ours.zarr"), xr.open_zarr(tmp_path / "oracle.zarr"))


def test_template_writing_imports_neither_xarray_nor_dask(tmp_path):
    """What a warm first run saves: the run's path to its store does not import them."""
    import subprocess
    import sys

    code = ("import sys, json; from xorsweep.sweep import store; from xorsweep.sweep.grid import Grid; "
            "from xorsweep.sweep.spec import Spec; "
            f"g = Grid(Spec.from_dict({MORE['random-slice']!r})); "
            f"store.write_template({str(tmp_path / 's.zarr')!r}, g, {{'title': 't'}}); "
            "print(json.dumps([m for m in ('xarray', 'dask', 'pandas', 'distributed') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
