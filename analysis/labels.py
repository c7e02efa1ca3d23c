"""Attractor labels as xarray variables with CF flag attributes, and writing them into an
existing store after the fact.

``attractors(ds)`` reads the finals of a sweep dataset and returns a Dataset with
``attractor`` and ``attractor_nearest`` (int16 over the sweep dims), ``hidden_code``
(int8, one of the 16 functions per hidden unit) and ``hidden_surplus`` (bool). The
classes are data-dependent; their names travel in the attributes (``flag_values``,
``flag_meanings`` in CF-safe spelling, ``flag_display_names`` as printed), so plain
xarray can decode them.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from xorsweep.analysis import attractors as A
from xorsweep.analysis import codes as C

NEW_VARIABLES = ("attractor", "attractor_nearest", "hidden_code", "hidden_surplus")


def sweep_dims(ds) -> tuple:
    """The dims of one network per cell (those of ``done``)."""
    return tuple(ds["done"].dims if "done" in ds else ds["accuracy"].dims)


def _cells(ds, name, dims, extra=()):
    a = ds[name].transpose(*dims, *extra).values
    return a.reshape((-1,) + a.shape[len(dims):])


def _flag_attrs(names, long_name):
    return {"long_name": long_name, "flag_values": list(range(len(names))),
            "flag_meanings": " ".join(n.cf for n in names),
            "flag_display_names": [n.display for n in names],
            "flag_families": [n.family for n in names]}


def attractors(ds: xr.Dataset) -> xr.Dataset:
    """The attractor variables of every cell of a sweep dataset (loads the finals)."""
    dims = sweep_dims(ds)
    shape = tuple(ds.sizes[d] for d in dims)
    H = ds.sizes["hidden"]
    done = _cells(ds, "done", dims) if "done" in ds else None
    cl = A.classify(_cells(ds, "z1", dims, ("row", "hidden")), _cells(ds, "W2", dims, ("hidden", "output")),
                    _cells(ds, "b2", dims, ("output",)), np.nan_to_num(_cells(ds, "predicted", dims, ("row",))),
                    _cells(ds, "accuracy", dims), _cells(ds, "diverged", dims).astype(bool), done)
    rule = ("failures first (diverged, fail[predicted classes]); successes as gate(unit functions) of the "
            "informative hidden units, binarised at 0.5: the smallest set of hidden codes from which a threshold "
            "unit gives XOR, gates named on reachable patterns; none: 'other' (see kernels.outcomes)")
    attrs = _flag_attrs(cl.names, "attractor training landed in")
    attrs.update(comment=rule, saturation_margin=A.SATURATION)
    near_attrs = _flag_attrs(cl.names, "nearest named attractor (the attractor itself where it is named)")
    code_names = ["pending"] + list(C.UNIT_CF_NAMES)
    coords = {d: ds[d] for d in dims + ("hidden",) if d in ds.coords}
    out = xr.Dataset(
        {"attractor": (dims, cl.label.reshape(shape), attrs),
         "attractor_nearest": (dims, cl.nearest.reshape(shape), near_attrs),
         "hidden_code": (dims + ("hidden",), cl.code.reshape(shape + (H,)),
                         {"long_name": "Boolean function of (x1, x2) computed by the hidden unit "
                                       "(activations binarised at 0.5)",
                          "flag_values": list(range(-1, 16)), "flag_meanings": " ".join(code_names),
                          "flag_display_names": ["pending"] + list(C.UNIT_NAMES)}),
         "hidden_surplus": (dims + ("hidden",), cl.surplus.reshape(shape + (H,)),
                            {"long_name": "hidden unit not among the attractor's arguments",
                             "flag_values": [0, 1], "flag_meanings": "informative surplus"})},
        coords=coords)
    return out


def display_names(da: xr.DataArray) -> list:
    """The class names of a flag variable, in ``flag_values`` order."""
    if "flag_display_names" in da.attrs:
        return list(da.attrs["flag_display_names"])
    return da.attrs["flag_meanings"].split()


def decode(da: xr.DataArray) -> xr.DataArray:
    """The names (strings) of an attractor variable's values."""
    lookup = dict(zip(da.attrs["flag_values"], display_names(da)))
    values = np.vectorize(lambda v: lookup.get(int(v), "?"), otypes=[object])(da.values)
    return xr.DataArray(values, coords=da.coords, dims=da.dims, name=da.name,
                        attrs={"long_name": da.attrs.get("long_name", da.name)})


def with_attractors(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the attractor variables: the stored ones if present and up to date
    (no cell trained since they were written), else computed."""
    if all(v in ds for v in NEW_VARIABLES):
        att = ds["attractor"]
        pending = [v for v, n in zip(att.attrs["flag_values"], display_names(att)) if n == "pending"]
        if not bool((att.isin(pending) & ds["done"]).any()):
            return ds
    return ds.drop_vars([v for v in NEW_VARIABLES if v in ds]).merge(attractors(ds))


def add_to_store(path) -> xr.Dataset:
    """Compute the attractor variables of the store at ``path`` and write them into it.

    Only the new variables' arrays (and the group metadata: history, consolidated
    metadata) are written; every existing array keeps its bytes. Running it again
    replaces the attractor variables (e.g. after a sweep finished more blocks). It holds
    the store's lock, so it is refused while a sweep writes the store.
    """
    from xorsweep.sweep.lock import store_lock

    path = str(path)
    with store_lock(path, "analysis: add attractor variables"):
        return _add_locked(path)


def _add_locked(path):
    from xorsweep.sweep import store
    from xorsweep.sweep.grid import Grid

    # an interrupted add is completed by this one; what it (or any earlier add) wrote is not
    # read: the variables are computed from the sweep's own arrays
    ds = store.open_dataset(path, interrupted_add_ok=True)
    ds = ds.drop_vars([v for v in store.added_variables(path) if v in ds])
    new = attractors(ds)
    dims = sweep_dims(ds)
    chunks = ds["done"].encoding.get("chunks") or tuple(ds.sizes[d] for d in dims)
    H = ds.sizes["hidden"]
    ds.close()
    # the sweep's own (e.g. hidden_code of stores made since outcomes are stored) stay as they are; hidden_code
    # is added where a store made before outcomes lacks it
    own = set(store.data_variables(Grid(store.stored_spec(path)), path)) - set(store.added_variables(path))
    names = [v for v in NEW_VARIABLES if v not in own]
    encoding = {v: {"chunks": tuple(chunks) + ((H,) if "hidden" in new[v].dims else ())} for v in names}
    store.add_variables(path, new[names], encoding, "attractor variables added by analysis")
    return new
