"""Convergence statistics (Kolen & Pollack 1990): how long training takes to solve, and
whether a class reached at T is still the class at k·T.

Functions take and return xarray objects; none trains. They read the stored variables of
``kernels.outcomes`` (``solved_step``, and ``outcome``/``solution``/``label`` whose codes
are fixed per hidden width, so they compare across cells and stores of one H).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from xorsweep.analysis.stats import wilson

PARTITIONS = ("outcome", "solution", "label")
PENDING = 0  # code 0 is ``pending`` in every partition (kernels.outcomes)


def solved_steps(ds: xr.Dataset) -> xr.DataArray:
    """``solved_step`` as float with NaN where the cell is not solved (or not trained)."""
    s = ds["solved_step"]
    ok = s >= 0
    if "outcome" in ds:
        ok = ok & (ds["outcome"] != PENDING)
    return s.where(ok).astype(np.float64).rename("solved_step")


def label_stability(ds: xr.Dataset, partition: str = "solution", dim: str = "steps",
                    confidence: float = 0.95) -> xr.Dataset:
    """Share of cells whose class in ``partition`` (default ``solution``) at a longer
    training ``dim`` value differs from the class at the shortest one (T): for each k·T
    on the ``dim`` axis, ``changed`` / ``n`` with a Wilson interval. Cells pending at
    either length are left out. All other dims are pooled."""
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {list(PARTITIONS)}, got {partition!r}")
    if dim not in ds[partition].dims:
        raise ValueError(f"{partition!r} has no {dim!r} axis: the store must train several step counts")
    cls = ds[partition].sortby(dim) if dim in ds.coords else ds[partition]
    first, later = cls.isel({dim: 0}), cls.isel({dim: slice(1, None)})
    reference = f"{dim} = {first[dim].item()}" if dim in first.coords else f"first {dim}"
    first = first.drop_vars(dim, errors="ignore")
    valid = (first != PENDING) & (later != PENDING)
    pooled = [d for d in later.dims if d != dim]
    n = valid.sum(pooled)
    changed = ((later != first) & valid).sum(pooled)
    lo, hi = wilson(changed, n, confidence)
    out = xr.Dataset({"changed": changed, "n": n, "share": changed / n.where(n > 0),
                      "share_lo": lo, "share_hi": hi})
    out.attrs.update(partition=partition, confidence=confidence,
                     reference=reference,
                     n_classes=int(np.unique(cls.values[cls.values != PENDING]).size),
                     long_name=f"share of {partition} classes that change between T and k·T")
    return out
