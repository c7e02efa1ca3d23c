"""Stores of reduced versions of every shipped example hold the same values, bit for bit,
as the first release made (commit 2bf573f, before the package was reorganised): every
redesign since must leave stored values alone. The hashes were taken from stores made by
that commit's ``xorsweep run`` on the specs in tests/data/pinned/."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from xorsweep.sweep.engine import Sweep

PINNED = Path(__file__).parent / "data" / "pinned"
VALUES = json.loads((PINNED / "values-2bf573f.json").read_text())


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    from xorsweep.sweep.cluster import WORKER_ENV

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=WORKER_ENV) as cluster, Client(cluster) as c:
        yield c


@pytest.mark.parametrize("name", sorted(VALUES))
def test_example_stores_hold_the_pinned_values(client, tmp_path, name):
    """The specs name no arithmetic: that release made them with "exact", as a store of
    theirs records (a spec naming none resumes such a store with it: test_sweep_run)."""
    from xorsweep.sweep.spec import Spec, read_toml

    d = read_toml(PINNED / f"{name}.toml")
    d.setdefault("training", {}).setdefault("arith", "exact")
    ds = Sweep(Spec.from_dict(d), tmp_path / f"{name}.zarr").run(client).load()
    for var, digest in VALUES[name].items():
        got = hashlib.sha256(np.ascontiguousarray(ds[var].values).tobytes()).hexdigest()[:16]
        assert got == digest, f"{name}: {var} differs from the first release"
