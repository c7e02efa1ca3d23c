"""The exponent in a sweep store: opt-in, beside bit-identical training values."""
import json

import numpy as np
import pytest

from conftest import bits, load_store
from xorsweep import kernels
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
