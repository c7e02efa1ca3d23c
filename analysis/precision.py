"""Why two machines can disagree: the outcome of the same starts under each arithmetic
and training setting, against a reference setting.

A store whose spec sweeps settings as axes (``arith``, ``dtype``, ``rule`` or its parts
``gradient`` and ``update``, ``h``, ``lr``, ``steps``) and optionally a tiny perturbation (``eps`` with ε = 0 and a nudge of about
one ulp) answers it: for each axis and each value other than the reference, with every
other axis at its reference value, the share of starts whose class (``solution`` by
default) differs from the reference run's. Each start is compared once per row, so the
comparisons are independent across starts and the interval is Wilson's.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from xorsweep.analysis import stats
from xorsweep.kernels import vocab

#: the settings a result is compared against: the blog author's run, on this project's
#: arithmetic of IEEE basic operations (same bits on every IEEE-754 machine)
REFERENCE = {"arith": "exact", "dtype": vocab.DEFAULT_DTYPE, "rule": vocab.DEFAULT_RULE,
             "gradient": vocab.RULE_PARTS[vocab.DEFAULT_RULE][0], "update": vocab.RULE_PARTS[vocab.DEFAULT_RULE][1],
             "h": vocab.DEFAULT_H, "eps": 0.0}
AXES = ("arith", "dtype", "rule", "gradient", "update", "h", "lr", "steps", "eps")


def _at(da, dim, value):
    if da[dim].dtype.kind == "f":
        return da.sel({dim: value}, method="nearest")
    return da.sel({dim: value})


def precision_flips(ds: xr.Dataset, part=None, reference=None, confidence=0.95) -> dict:
    """{"reference": {...}, "partition": name, "rows": [{axis, value, flips, n, rate, ci}]}.

    ``reference`` overrides ``REFERENCE`` per axis (an axis whose reference value the
    store lacks is compared against its first value, and the output says so)."""
    part = stats.partition(ds, part)
    done = ds["done"] if "done" in ds else xr.ones_like(part, dtype=bool)
    valid = stats.valid_cells(part, done)
    ref = {**REFERENCE, **(reference or {})}
    axes = [d for d in AXES if d in part.dims and part.sizes[d] > 1]
    used = {}
    for d in axes:
        values = part[d].values
        want = ref.get(d)
        hit = want is not None and (np.isclose(values.astype(float), float(want), rtol=1e-12, atol=0).any()
                                    if values.dtype.kind == "f" else want in values.tolist())
        used[d] = want if hit else values[0].item() if hasattr(values[0], "item") else values[0]
    base, base_ok = part, valid
    for d in axes:
        base, base_ok = _at(base, d, used[d]), _at(base_ok, d, used[d])
    rows = []
    for d in axes:
        others = {k: v for k, v in used.items() if k != d}
        sub, sub_ok = part, valid
        for k, v in others.items():
            sub, sub_ok = _at(sub, k, v), _at(sub_ok, k, v)
        for v in part[d].values:
            v = v.item() if hasattr(v, "item") else v
            if v == used[d] or (isinstance(v, float) and np.isclose(v, float(used[d]), rtol=1e-12, atol=0)):
                continue
            a, a_ok = _at(sub, d, v), _at(sub_ok, d, v)
            both = (a_ok & base_ok).values
            flips = int(((a.values != base.values) & both).sum())
            n = int(both.sum())
            lo, hi = stats.wilson(flips, n, confidence) if n else (np.nan, np.nan)
            rows.append({"axis": d, "value": v, "flips": flips, "n": n, "rate": flips / n if n else None,
                         "ci": [float(lo), float(hi)] if n else None})
    return {"reference": {k: (v.item() if hasattr(v, "item") else v) for k, v in used.items()},
            "partition": str(part.name), "interval": f"{confidence:.0%} Wilson (one comparison per start)",
            "rows": rows}


def format_precision(rep: dict) -> str:
    ref = ", ".join(f"{k} {v}" for k, v in rep["reference"].items())
    lines = [f"outcome changes against the reference ({ref}), partition {rep['partition']}, {rep['interval']}:"]
    for r in rep["rows"]:
        rate = "n/a" if r["rate"] is None else f"{r['rate']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        lines.append(f"  {r['axis']:>6} = {str(r['value']):<10} {rate}  ({r['flips']} of {r['n']} starts)")
    return "\n".join(lines)
