"""The Zarr v3 store of a sweep: template, identity, blocks, integrity, metadata.

Layout: the full template (coords, attrs, empty chunked variables) is written first;
each block then writes its chunk-aligned region of every variable and, last, its chunk
of ``done``. A block counts as done only when its ``done`` chunk is all true and every
chunk of its data exists, so a block killed half-way, or one whose chunk was lost, is
simply recomputed (with the same bits) on resume. Every chunk carries a CRC32C checksum
(zarr's ``crc32c`` codec): damage is an error on read, never a silently wrong number;
``verify`` reads every done block and ``repair`` marks damaged ones not done.

A store has an identity (``store_id``, random, written at creation): a task writes only
into the store whose id it was sent, so two stores, runs or paths can never mix data.
Everything here reads and writes through zarr's API; this module is the only one that
touches a store's metadata.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import re
import shlex
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import asyncio
import base64

import numpy as np
import zarr
import zarr.api.asynchronous
from zarr.codecs import BloscCodec, Crc32cCodec
from zarr.core.sync import sync

from xorsweep.errors import StoreDamaged, UserError
from xorsweep.kernels import outcomes
from xorsweep.kernels.vocab import GRADIENTS, GROUP_DIMS, GROUP_LONG_NAMES, GROUPS, LABELS, RULE_PARTS, UPDATES, X
from xorsweep.sweep.grid import Block, Grid
from xorsweep.sweep.location import Remote, as_location, backend_error
from xorsweep.sweep.provenance import provenance
from xorsweep.sweep.spec import Spec, spec_differences

COORD_ATTRS = {
    "rule": {"long_name": "training rule",
             "comment": "; ".join(f"{r}: {g} gradient, {u} update" for r, (g, u) in RULE_PARTS.items())},
    "gradient": {"long_name": "gradient of the training rule",
                 "comment": "; ".join(f"{k}: {v}" for k, v in GRADIENTS.items())},
    "update": {"long_name": "update order of the training rule",
               "comment": "; ".join(f"{k}: {v}" for k, v in UPDATES.items())},
    "dtype": {"long_name": "floating-point type of training"},
    "arith": {"long_name": "exp/log implementation"},
    "lr": {"long_name": "learning rate", "units": "1"},
    "steps": {"long_name": "training iterations", "units": "1"},
    "h": {"long_name": "finite-difference step of the numerical gradient", "units": "1"},
    "start": {"long_name": "random start index"},
    "decimals": {"long_name": "decimals the start was rounded to (NaN: unrounded, see rounded)", "units": "1"},
    "rounded": {"long_name": "the start was rounded (False: the unrounded start)"},
    "eps": {"long_name": "perturbation size (euclidean norm)", "units": "1"},
    "direction": {"long_name": "perturbation direction index"},
    "a": {"long_name": "slice coordinate along u", "units": "1"},
    "b": {"long_name": "slice coordinate along v", "units": "1"},
    "zoom": {"long_name": "zoom level (0: the slice as given)"},
    "a_index": {"long_name": "grid index along a"},
    "b_index": {"long_name": "grid index along b"},
    "row": {"long_name": "input row: x = [[0,0],[1,0],[0,1],[1,1]], labels [0,1,1,0]"},
    "input": {"long_name": "input unit (x1, x2)"},
    "hidden": {"long_name": "hidden unit"},
    "output": {"long_name": "output unit (class 0, class 1)"},
    "direction_name": {"long_name": "perturbed parameter"},
    "record": {"long_name": "recorded training step"},
}
#: every chunk: Blosc LZ4 with byte shuffle (zarr v2's default compressor; on a block of a
#: gd sweep 2.6 times quicker than zstd and 8 % smaller), then a CRC32C of the compressed
#: bytes. Stores made before keep their zstd: codecs are per array, written in its metadata.
CODECS = (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec())
PENDING_INT = -1
STORE_ID_ATTR = "store_id"
#: on an object store (no rename), the group attribute written last, when a template is complete
COMPLETE = "template_complete"


@contextlib.contextmanager
def quiet():
    """Consolidated metadata is not in the Zarr v3 spec yet; xarray relies on it to open
    fast. The one place that silences zarr's warning about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zarr.errors.ZarrUserWarning)
        yield


def _variables(grid: Grid):
    """name -> (extra dims, dtype, attrs, fill value) of every stored variable."""
    v = {}
    for g in GROUPS:
        dims = GROUP_DIMS[g]
        v[f"{g}_start"] = (dims, np.float64, {"long_name": f"{GROUP_LONG_NAMES[g]} at the start", "units": "1"},
                           np.nan)
        v[g] = (dims, np.float64, {"long_name": f"{GROUP_LONG_NAMES[g]} after training", "units": "1"}, np.nan)
    v["loss"] = ((), np.float64, {"long_name": "cross-entropy loss after training", "units": "nat"}, np.nan)
    v["accuracy"] = ((), np.float64, {"long_name": "share of the 4 inputs classified right", "units": "1"}, np.nan)
    v["predicted"] = (("row",), np.int8, {"long_name": "argmax output per input row (-1: not yet trained)",
                                           "flag_values": [PENDING_INT, 0, 1],
                                           "flag_meanings": "pending class_0 class_1"}, PENDING_INT)
    v["z1"] = (("row", "hidden"), np.float64, {"long_name": "hidden activations after training", "units": "1"},
               np.nan)
    v["diverged"] = ((), np.bool_, {"long_name": "parameters or loss became non-finite (read with done)",
                                    "flag_values": [0, 1], "flag_meanings": "finite diverged"}, False)
    if grid.record_steps is not None:
        for g in GROUPS:
            v[f"{g}_traj"] = (("record",) + GROUP_DIMS[g], np.float64,
                              {"long_name": f"{GROUP_LONG_NAMES[g]} during training", "units": "1"}, np.nan)
        v["loss_traj"] = (("record",), np.float64, {"long_name": "loss during training", "units": "nat"}, np.nan)
        v["accuracy_traj"] = (("record",), np.float64, {"long_name": "accuracy during training", "units": "1"},
                              np.nan)
    if grid.spec.training.lyapunov:
        v.update(lyapunov_variables(grid))
    o = grid.spec.outcomes
    a = outcomes.attrs(grid.H, o.fold_swap, o.window)
    for name, (extra, dtype) in outcomes.STORE_VARIABLES.items():
        fill = OUTCOME_FILL.get(name, np.nan if np.dtype(dtype).kind == "f" else 0)
        v[name] = (extra, dtype, a[name], fill)
    v["done"] = ((), np.bool_, {"long_name": "cell trained and written", "flag_values": [0, 1],
                                "flag_meanings": "pending done"}, False)
    return v


def lyapunov_variables(grid: Grid) -> dict:
    """The exponent (and its running value when trajectories are kept) of a spec with
    ``training.lyapunov``; its separation and pause interval as attrs."""
    from xorsweep.kernels import lyapunov as L  # numba, imported only for these specs

    deltas = sorted({L.DELTA[d] for d in grid.spec.axes.settings.get("dtype", (grid.spec.training.dtype,))})
    how = {"method": "Benettin twin trajectory, separation measured in the 4H + 1 dims training moves in",
           "separation": deltas[0] if len(deltas) == 1 else ", ".join(f"{d:g}" for d in deltas),
           "renormalise_every_steps": L.EVERY, "direction_seed": L.DIRECTION_SEED,
           "comment": "NaN: the separation became non-finite; -inf: the twin fell onto the network"}
    v = {"lyapunov": ((), np.float64, {"long_name": "finite-time Lyapunov exponent of training", "units": "1/step",
                                       **how}, np.nan)}
    if grid.record_steps is not None:
        v["lyapunov_traj"] = (("record",), np.float64, {
            "long_name": "finite-time Lyapunov exponent up to the recorded step", "units": "1/step", **how}, np.nan)
    return v


#: fill values (what a cell not yet trained reads) of the outcome variables; class codes
#: read 0, "pending", and booleans False: read ``done`` first
OUTCOME_FILL = {"hidden_code": -1, "solved_step": -2, "settled_step": -2, "unsettled": False, "marginal": False,
                "informative": False}


def data_variables(grid: Grid, path=None) -> list[str]:
    """The variables a block writes, ``done`` (written last) excluded; with ``path``, those
    the store's template holds: a store made before outcomes were stored lacks all of
    those (``outcomes.STORE_VARIABLES``, but for any ``analysis.labels`` added later);
    any other one missing is damage (StoreDamaged), never a variable silently left
    unwritten or unchecked. On an object store each array's own metadata object is asked
    for (concurrently), not the consolidated copy, which outlives a lost one."""
    names = [name for name in _variables(grid) if name != "done"]
    if path is None:
        return names
    present = _present_arrays(path, names)
    added = _group(path).attrs.get("added_variables", [])
    _refuse_lost(path, names, [n for n in names if n not in present], added)
    return [n for n in names if n in present]


def _present_arrays(path, names) -> set:
    """Which of ``names`` have their own metadata: on an object store each array's
    zarr.json asked for (in one concurrent request), not the consolidated copy, which
    outlives a lost one."""
    loc = as_location(path)
    if isinstance(loc, Remote):
        keys = {n: loc.key(n, "zarr.json") for n in names}
        try:
            got = loc.fs.cat(list(keys.values()), on_error="return")
        except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
            raise backend_error(loc, e) from None
        return {n for n, k in keys.items() if isinstance(got.get(k), bytes)}
    with quiet():  # zarr warns of a lost array's folder: the callers name it
        return {n for n, _ in _group(path).arrays()} & set(names)


def _refuse_lost(path, names, absent, added=()):
    """StoreDamaged when an array the template must hold is ``absent``: any one but the
    outcome variables, and those too unless all of them are absent and the consolidated
    metadata does not list them (a store made before they existed; variables ``added`` by
    analysis later do not count)."""
    outcome_names = [n for n in names if n in outcomes.STORE_VARIABLES and n not in added]
    # all absent, and the consolidated metadata (written with the template) never listed
    # them: rm -r of every outcome folder left them listed there, and passed for an old store
    listed = _consolidated_names(path) if any(n in absent for n in outcome_names) else None
    before_outcomes = all(n in absent for n in outcome_names) and not (
        listed is not None and any(n in listed for n in outcome_names))
    lost = [n for n in absent if n not in outcomes.STORE_VARIABLES or not before_outcomes]
    if lost:
        raise StoreDamaged(f"store {path}: the metadata of its {', '.join(map(repr, lost))} "
                           f"array{'s' * (len(lost) > 1)} ({path}/{lost[0]}/zarr.json) is missing; the store "
                           "cannot be checked or resumed as it is (restore it, or make a new store)")


def _sizes(grid: Grid):
    s = {"input": 2, "hidden": grid.H, "output": 2, "row": 4}
    if grid.record_steps is not None:
        s["record"] = len(grid.record_steps)
    return s


def estimated_bytes(grid: Grid) -> int:
    """Uncompressed size of every variable of the store (random floats barely compress)."""
    sizes = _sizes(grid)
    per_cell = sum(np.dtype(dt).itemsize * int(np.prod([sizes[d] for d in extra], dtype=np.int64))
                   for extra, dt, _, _ in _variables(grid).values())
    return grid.cells * per_cell


def template_parts(grid: Grid) -> tuple[dict, dict]:
    """(data variables: name -> (dims, shape, chunks, dtype, attrs, fill value), coordinates:
    name -> (dims, values, attrs)) of the store's template (Zarr chunks = blocks)."""
    sizes = _sizes(grid)
    data_vars = {}
    for name, (extra, dtype, vattrs, fill) in _variables(grid).items():
        data_vars[name] = (grid.dims + extra, grid.shape + tuple(sizes[d] for d in extra),
                           grid.chunks + tuple(sizes[d] for d in extra), np.dtype(dtype), vattrs, fill)
    coords = {d: ((d,), np.asarray(v), dict(COORD_ATTRS.get(d, {}))) for d, v in grid.coords().items()}
    coords.update(input=(("input",), np.array([0, 1]), COORD_ATTRS["input"]),
                  hidden=(("hidden",), np.arange(grid.H), COORD_ATTRS["hidden"]),
                  output=(("output",), np.array([0, 1]), COORD_ATTRS["output"]),
                  row=(("row",), np.arange(4), COORD_ATTRS["row"]),
                  x1=(("row",), X[:, 0], {"long_name": "input x1 of the row"}),
                  x2=(("row",), X[:, 1], {"long_name": "input x2 of the row"}),
                  row_label=(("row",), LABELS, {"long_name": "XOR label of the row"}))
    sl = grid.spec.axes.slice
    if sl is not None and sl.zoom is not None:
        coords.update(_zoom_coords(grid))
    if sl is not None:
        for dim, src in (("a", sl.u), ("b", sl.v)):
            name = src if isinstance(src, str) else f"seeded random unit direction (seed {src.seed})"
            coords[dim][2].update(long_name=f"{dim}: the start plus {dim} times {name}", direction=str(name))
    if "decimals" in coords:
        coords["rounded"] = (("decimals",), ~np.isnan(coords["decimals"][1]), COORD_ATTRS["rounded"])
    if grid.record_steps is not None:
        coords["record"] = (("record",), np.asarray(grid.record_steps), COORD_ATTRS["record"])
    coords.update(outcomes.lookups(grid.H, grid.spec.outcomes.fold_swap))
    if grid.spec.axes.eps is not None and isinstance(grid.spec.axes.direction, tuple):
        coords["direction_name"] = (("direction",), np.array(grid.spec.axes.direction, dtype=object),
                                    COORD_ATTRS["direction_name"])
    return data_vars, {n: ((d,) if isinstance(d, str) else tuple(d), np.asarray(v), a) for n, (d, v, a) in coords.items()}


def template(grid: Grid, attrs: dict):
    """The empty template as an xarray Dataset of lazy dask arrays (one chunk each) and its
    encoding: what ``xarray.to_zarr(compute=False)`` would make of it is, array for array,
    what ``write_template`` writes (tests/test_store_template.py checks it)."""
    import dask.array as da
    import xarray as xr

    data_vars, coords = template_parts(grid)
    encoding = {}
    dv = {}
    for name, (dims, shape, chunks, dtype, vattrs, fill) in data_vars.items():
        encoding[name] = {"chunks": chunks, "compressors": CODECS, "fill_value": fill}
        dv[name] = (dims, da.zeros(shape, dtype=dtype, chunks=-1), vattrs)
    for name in coords:
        encoding[name] = {"compressors": CODECS}
    return xr.Dataset(dv, {k: (d, v, dict(a)) for k, (d, v, a) in coords.items()}, attrs), encoding


def write_template(zstore, grid: Grid, attrs: dict):
    """Write the empty template into ``zstore`` (replacing what is there) through zarr alone,
    encoded as xarray encodes it (CF: a ``coordinates`` attribute naming the non-dimension
    coordinates a variable spans, the group's own for the others; ``_FillValue`` for
    floats; strings as variable-length UTF-8), then consolidate the metadata. No xarray or
    dask import: they cost a warm first run a second."""
    arrays, root_attrs = _template_arrays(grid, attrs)
    with quiet():
        g = zarr.open_group(zstore, mode="w", zarr_format=3, attributes=_json_attrs(root_attrs))
        for name, spec in arrays.items():
            _create(g, name, spec)
        zarr.consolidate_metadata(zstore)


def _create(g, name, spec):
    """One template array in group ``g`` (``_template_arrays``' entry), its values written."""
    dims, shape, chunks, dtype, a, fill, values = spec
    arr = g.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill, compressors=CODECS,
                         dimension_names=dims, attributes=a)
    if values is not None:
        arr[...] = values


def _template_arrays(grid: Grid, attrs: dict) -> tuple[dict, dict]:
    """(name -> (dims, shape, chunks, dtype, attributes, fill value, values to write or
    None), the group's attributes) of the template, encoded as ``write_template`` says."""
    data_vars, coords = template_parts(grid)
    nondim = {n: set(d) for n, (d, _, _) in coords.items() if d != (n,)}
    used = set()

    def cf_attrs(dims, a, kind, fill, with_coords):
        out = _json_attrs(a)
        if with_coords:
            names = sorted(n for n, d in nondim.items() if d <= set(dims))
            used.update(names)
            if names:
                out["coordinates"] = " ".join(names)
        if kind == "f":
            out["_FillValue"] = base64.standard_b64encode(np.array(fill, dtype="<f8").tobytes()).decode()
        return out

    arrays = {}  # name -> (dims, shape, chunks, dtype, attrs, fill, values to write or None)
    for name, (dims, shape, chunks, dtype, vattrs, fill) in data_vars.items():
        if dtype.kind == "f" and dtype != np.float64:
            raise ValueError(f"{name}: the template's float variables are float64")  # _FillValue above
        arrays[name] = (dims, shape, chunks, dtype, cf_attrs(dims, vattrs, dtype.kind, fill, True), fill, None)
    for name, (dims, values, cattrs) in coords.items():
        if values.dtype.kind in "OUS":  # text: variable-length UTF-8, as xarray writes it
            dtype, fill, values = str, "", values.astype(str)
        else:
            dtype, fill = values.dtype, (np.nan if values.dtype.kind == "f" else values.dtype.type(0))
            if dtype.kind == "f" and dtype != np.float64:
                raise ValueError(f"{name}: the template's float coordinates are float64")
        arrays[name] = (dims, values.shape, values.shape, dtype,
                        cf_attrs(dims, cattrs, "T" if dtype is str else dtype.kind, fill, False), fill, values)
    root_attrs = dict(attrs)
    if set(nondim) - used:
        root_attrs["coordinates"] = " ".join(sorted(set(nondim) - used))
    return arrays, root_attrs


# ---- the fixed arrays: coordinates and lookups, a pure function of the spec -------------
def _consolidated_names(path) -> set | None:
    """The arrays the root's consolidated metadata lists (written with the template and
    rewritten with every array added), or None when the store has none."""
    try:
        with quiet():
            cm = zarr.open_group(_zs(path, True), mode="r", use_consolidated=True).metadata.consolidated_metadata
    except Exception:  # noqa: BLE001 - no consolidated metadata (or none readable): nothing to compare with
        return None
    return None if cm is None else set(cm.metadata)


def _same_values(name, got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape:
        return False
    if want.dtype.kind in "OUST":
        return [str(x) for x in got.ravel().tolist()] == [str(x) for x in want.ravel().tolist()]
    if name == "decimals" and want.dtype.kind == "f" and got.dtype.kind in "iu":  # a store from before
        got = np.where(got == -1, np.nan, got.astype(np.float64))  # the rounded coordinate: -1 unrounded
    if got.dtype.kind != want.dtype.kind:
        return False
    if want.dtype.kind == "f":
        # computed coordinates (np.linspace of a slice) within a few ulps: another numpy may round
        # one last digit differently; damage is a bad checksum or fill values, far off
        scale = float(np.nanmax(np.abs(want))) if np.isfinite(want).any() else 0.0
        return bool(np.array_equal(np.isnan(got), np.isnan(want)) and
                    np.allclose(got, want, rtol=1e-13, atol=1e-13 * scale, equal_nan=True))
    return bool(np.array_equal(got, want))


def _fixed_values(path, coords: dict, present: set) -> dict:
    """name -> the stored values of the fixed arrays ``present`` (None: unreadable). On an
    object store every array's metadata and its one chunk come in one concurrent request,
    then decode from memory (one GET after another took 0.7 -> 3 s at 30 ms a request)."""
    loc = as_location(path)
    out = {}
    if not isinstance(loc, Remote):
        g = _group(path)
        for name in present:
            with quiet():
                out[name] = _read_ok(lambda: g[name][...])
        return out
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    keys = {}
    for name in present:
        ndim = len(coords[name][0])
        keys[f"{name}/zarr.json"] = loc.key(name, "zarr.json")
        keys[f"{name}/c/" + "/".join(["0"] * ndim) if ndim else f"{name}/c"] = loc.key(
            name, "c", *(["0"] * ndim)) if ndim else loc.key(name, "c")
    try:
        got = loc.fs.cat(list(keys.values()), on_error="return")
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None
    buf = default_buffer_prototype().buffer
    mem = MemoryStore({k: buf.from_bytes(got[v]) for k, v in keys.items() if isinstance(got.get(v), bytes)})
    for name in present:
        with quiet():
            out[name] = _read_ok(lambda: zarr.open_array(mem, path=name, mode="r")[...])
    return out


def fixed_array_damage(path, grid: Grid) -> list[str]:
    """The template's fixed arrays (coordinates and name lookups, which the spec gives)
    that are lost (listed by the consolidated metadata, their own metadata gone), unreadable
    (bad checksum) or hold other values than the spec gives (a lost chunk reads as fill
    values). Blocks never write them, so the block checks cannot see them: a lost
    ``decimals`` read as NaN, every column "unrounded", while verify said no damage. A
    store made before an array existed (not listed) is not damaged by lacking it."""
    _data, coords = template_parts(grid)
    listed = _consolidated_names(path)
    present = _present_arrays(path, coords)
    stored = _fixed_values(path, coords, {n for n in coords if n in present})
    bad = []
    for name, (_dims, want, _attrs) in coords.items():
        if name not in present:
            if listed is not None and name in listed:
                bad.append(name)
            continue
        values = stored[name]
        if values is None or not _same_values(name, np.asarray(values), want):
            bad.append(name)
    return bad


def refuse_fixed_array_damage(path, grid: Grid):
    """StoreDamaged naming the fixed arrays ``fixed_array_damage`` finds, if any."""
    bad = fixed_array_damage(path, grid)
    if bad:
        many = len(bad) > 1
        raise StoreDamaged(f"store {path}: its fixed array{'s' * many} {', '.join(map(repr, bad))} (coordinates the "
                           f"spec gives) {'are' if many else 'is'} lost, unreadable or changed; repair with: "
                           f"xorsweep verify {shell_word(path)} --repair")


def rewrite_fixed_arrays(path, grid: Grid, names):
    """Write the fixed arrays ``names`` again from the store's spec (encoded as the
    template writes them), then consolidate the metadata."""
    arrays, _root = _template_arrays(grid, {})
    listed = _consolidated_names(path) or set()
    g = _group(path, "r+")
    with quiet():
        legacy = "decimals" in names and "rounded" not in listed and "rounded" not in g
        for name in names:
            if name in g:
                del g[name]
            elif not isinstance(as_location(path), Remote):
                shutil.rmtree(Path(path, name), ignore_errors=True)  # a folder left without its metadata
            spec = arrays[name]
            if name == "decimals" and legacy:  # a store from before the rounded coordinate: its own form,
                dims, shape, chunks, _dt, a, _fill, values = spec  # int16 with -1 for the unrounded start
                a = {k: v for k, v in a.items() if k != "_FillValue"}
                a["long_name"] = "decimals the start was rounded to (-1: unrounded)"
                spec = (dims, shape, chunks, np.dtype(np.int16), a, np.int16(0),
                        np.where(np.isnan(values), -1, values).astype(np.int16))
            _create(g, name, spec)
        zarr.consolidate_metadata(_zs(path))


def _zoom_coords(grid: Grid) -> dict:
    """A zoomed slice's coordinates: a(zoom, a_index), b(zoom, b_index) and the extent of
    each level; ``ds.isel(zoom=i)`` is then a slice with 1-D a and b."""
    sl = grid.spec.axes.slice
    out = {}
    for d in ("a", "b"):
        out[d] = (("zoom", f"{d}_index"), grid.slice_values(d), dict(COORD_ATTRS[d]))
        out[f"extent_{d}"] = ("zoom", grid.zoom_extents(d), {"long_name": f"extent of the level along {d}",
                                                             "units": "1"})
    out["zoom"] = ("zoom", np.arange(sl.levels), {
        "long_name": f"zoom level: the slice shrunk by {sl.zoom.factor:g}**level towards (a, b) = "
                     f"({sl.center[0]:g}, {sl.center[1]:g})",
        "factor": sl.zoom.factor, "center_a": sl.center[0], "center_b": sl.center[1]})
    return out


def enclosing_store(path) -> Path | None:
    """The Zarr store (a folder holding ``zarr.json``) that holds the local ``path``, or is
    it; None for a URL or a path in no store. Writing there changes that store's folder."""
    if isinstance(as_location(path), Remote):
        return None
    p = Path(path).resolve()  # a symbolic link into a store is inside it
    for folder in (p, *p.parents):
        if (folder / "zarr.json").is_file():
            return folder
    return None


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


_DEBRIS = re.compile(r"^\.(?P<name>.+)\.creating-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def remove_creation_debris(path: Path):
    """Remove half-made templates (``.NAME.creating-PID-XXXX``) left beside the store by a
    creator that died: only those of this store whose process is gone."""
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            m = _DEBRIS.match(entry.name)
            if not m or m["name"] != path.name or entry.is_symlink() or not entry.is_dir():
                continue
            pid = int(m["pid"])
            try:
                os.kill(pid, 0)
                continue  # alive: another creator is at work
            except ProcessLookupError:
                shutil.rmtree(entry, ignore_errors=True)
            except PermissionError:
                continue


def check_room(path, grid: Grid):
    """Refuse a grid larger than the free space where its store would go (an object store
    has no such limit to check)."""
    if isinstance(as_location(path), Remote):
        return
    path = Path(path)
    need, free = estimated_bytes(grid), shutil.disk_usage(path.parent).free
    if need > free:
        raise UserError(f"store {path} would need about {need / 1e9:,.1f} GB ({grid.cells:,} networks) "
                        f"but only {free / 1e9:,.1f} GB are free there: shrink the grid or use another disk")


def create(path, spec: Spec, command: str) -> Grid:
    """Write the template of a new store at ``path`` (an empty folder, or none; at a URL:
    no object, or a half-written template, which is replaced)."""
    loc = as_location(path)
    grid = Grid(spec)
    check_room(path, grid)
    now = _now()
    attrs = {
        "title": f"xorsweep {spec.name or 'sweep'}",
        "Conventions": "CF-1.10",
        "spec": json.dumps(spec.to_dict(), sort_keys=True),
        "spec_hash": spec.hash(),
        STORE_ID_ATTR: uuid.uuid4().hex,
        "created": now,
        "history": f"{now} created by: {command}",
        **provenance(spec.training.arith),
        **rule_attrs(grid),
    }
    if isinstance(loc, Remote):
        _create_remote(loc, grid, attrs)
        return grid
    path = Path(path)
    remove_creation_debris(path)
    # written beside the store under an unpredictable name (mkdtemp: O_EXCL, no symlink
    # followed), then renamed onto the empty folder: a reader never sees a half-made
    # template, and a failure leaves no half-made store behind
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.creating-{os.getpid()}-", dir=path.parent))
    try:
        write_template(str(tmp), grid, attrs)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return grid


def _create_remote(loc: Remote, grid: Grid, attrs: dict):
    """An object store cannot rename: write the whole template (``mode="w"`` replaces a
    half-written one), then rewrite the root ``zarr.json`` with the completion attribute,
    the last object written (one PUT: a reader sees the old or the new object). A store
    without it is never read as a store (``remote_state``: "partial"); ``run`` writes it
    again."""
    try:
        write_template(loc.zarr_store(), grid, attrs)
        update_attrs(loc, **{COMPLETE: attrs["created"]})
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None


def remote_state(loc: Remote) -> str:
    """What is at a URL: "absent" (nothing), "partial" (a template whose writer stopped
    before its marker), "complete" (a store), or "foreign" (objects, no zarr.json).
    A missing bucket, no credentials or no network: one line."""
    fs = loc.fs
    try:
        fs.invalidate_cache()
        try:
            root = json.loads(fs.cat_file(loc.key("zarr.json")))
        except FileNotFoundError:
            root = None
        except ValueError:
            raise StoreDamaged(f"store {loc}: its zarr.json is damaged; refusing to read or rewrite it") from None
        if root is not None:
            if COMPLETE in root.get("attributes", {}):
                return "complete"
            if fs.find(loc.key("done", "c") + "/", maxdepth=None)[:1]:  # blocks were written: not a template
                raise StoreDamaged(f"store {loc}: blocks are written but its zarr.json lacks the "
                                   f"{COMPLETE!r} attribute (rewritten by another tool?); refusing to touch it")
            return "partial"
        bucket = loc.key().split("/", 1)[0]
        if not fs.exists(bucket):
            raise FileNotFoundError(f"no bucket {bucket}")
        return "foreign" if fs.find(loc.key(), maxdepth=2)[:1] else "absent"
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None


def _zs(path, read_only=False):
    """What zarr and xarray open: a local path's text, or a URL's fsspec store."""
    loc = as_location(path)
    return loc.zarr_store(read_only) if isinstance(loc, Remote) else str(loc)


def rule_attrs(grid: Grid) -> dict:
    """The training rule of every cell in words: ``gradient`` and ``update`` (one value, or
    the coordinate that varies it) with descriptions."""
    t, swept = grid.spec.training, [d for d in ("rule", "gradient", "update") if d in grid.dims]
    pairs = grid.rule_parts()
    out = {}
    for i, (part, table) in enumerate((("gradient", GRADIENTS), ("update", UPDATES))):
        values = list(dict.fromkeys(p[i] for p in pairs))
        if len(values) == 1:
            step = "see the h coordinate" if "h" in grid.dims else f"h = {t.h:g}"
            text = table[values[0]] + (f" ({step})" if values[0] == "numerical" else "")
            out.update({part: values[0], f"{part}_description": text})
        else:
            out.update({part: f"per cell: see the {' and '.join(swept)} coordinate{'s' * (len(swept) > 1)}",
                        f"{part}_description": "; ".join(f"{k}: {table[k]}" for k in values)})
    return out


def _group(path, mode="r", consolidated=False, listing=False):
    """The store's root group; on an object store through its consolidated metadata (one
    GET, not one per array) unless ``listing``: then which arrays exist is asked of the
    store itself (an interrupted add's arrays are not in the consolidated copy)."""
    if consolidated is False and not listing and isinstance(as_location(path), Remote):
        consolidated = None
    with quiet():
        return zarr.open_group(_zs(path, mode == "r"), mode=mode, use_consolidated=consolidated)


def _array(path, name):
    """One array of the store; a damaged or missing one is named in the error."""
    try:
        return _group(path)[name]
    except Exception as e:  # noqa: BLE001 - unreadable metadata of one array
        raise StoreDamaged(f"store {path}: the metadata of its {name!r} array ({path}/{name}/zarr.json) "
                           f"is damaged or missing ({type(e).__name__}); the store cannot be resumed as it is") from None


def stored_attrs(path) -> dict:
    """The group attributes of the store at ``path`` (a clear error for a non-store)."""
    loc = as_location(path)
    if isinstance(loc, Remote):
        state = remote_state(loc)
        if state != "complete":
            raise UserError({"absent": f"store {loc} does not exist",
                             "foreign": f"store {loc} holds objects but no zarr.json: not an xorsweep store",
                             "partial": f"store {loc} holds a half-written template (its creator stopped before "
                                        "finishing it): `xorsweep run` with its spec writes it again"}[state])
        try:
            return dict(_group(loc).attrs)
        except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
            raise backend_error(loc, e) from None
    p = Path(path)
    if not p.exists():
        raise UserError(f"store {path} does not exist")
    if not p.is_dir():
        raise UserError(f"store {path} is not a directory (not a Zarr store)")
    try:
        return dict(_group(p).attrs)
    except Exception as e:  # noqa: BLE001 - any failure here means: not a readable sweep store
        raise UserError(f"store {path} is not a readable xorsweep store ({type(e).__name__}: "
                        f"{_clean(str(e))})") from None


def stored_spec(path) -> Spec:
    """The spec a store was made with, checked against its stored hash."""
    attrs = stored_attrs(path)
    if "spec" not in attrs:
        raise StoreDamaged(f"store {path} has no spec attribute: not an xorsweep store, or its metadata was "
                           "overwritten")
    try:
        spec = Spec.from_dict(json.loads(attrs["spec"]))
    except (json.JSONDecodeError, TypeError, UserError) as e:
        raise StoreDamaged(f"store {path} holds a damaged spec ({_clean(str(e))})") from None
    if attrs.get("spec_hash") != spec.hash():
        raise StoreDamaged(f"store {path}: its spec does not match its spec_hash ({attrs.get('spec_hash')!r} "
                           f"stored, {spec.hash()!r} computed): the metadata was edited; refusing to mix data")
    return spec


def store_id(path) -> str:
    sid = stored_attrs(path).get(STORE_ID_ATTR)
    return sid or "legacy-" + stored_spec(path).hash()


def check_same_spec(path, spec: Spec) -> Spec:
    """The store's spec, when ``spec`` describes the same values (a spec that names no
    arithmetic takes the store's: ``Spec.with_arith_of``); else a UserError naming the
    differences."""
    old = stored_spec(path)
    spec = spec.with_arith_of(old)
    diff = spec_differences(old.identity(), spec.identity())
    if diff:
        raise UserError(f"store {path} was made by another spec ({'; '.join(diff[:3])}"
                        f"{'; …' if len(diff) > 3 else ''}): use a new --store")
    return old


def update_attrs(path, history: str | None = None, **attrs):
    """Add a history line and attributes to the store's group, through zarr (its local
    store replaces metadata files atomically, so readers never see half a file)."""
    g = _group(path, "r+", consolidated=None)  # so that the rewrite keeps the consolidated metadata
    new = dict(attrs)
    if history is not None:
        new["history"] = g.attrs.get("history", "") + f"\n{_now()} {history}"
    with quiet():
        g.update_attributes(new)
        if g.metadata.consolidated_metadata is None:  # e.g. a store made without it
            zarr.consolidate_metadata(_zs(path))


def add_variables(path, new: xr.Dataset, encoding: dict, history: str):
    """Write the data variables of ``new`` into the store (replacing same-named ones it
    added before; a template variable the store lacks, e.g. ``hidden_code`` of a store made
    before outcomes were stored, may be added). No other array and no group attribute
    changes, but for one history line and ``added_variables``; the consolidated metadata
    is rewritten to list the new arrays. The names go into ``adding_variables`` before the
    first array is touched and out after the last is written: an interrupted add leaves
    them there, and every reader refuses the store (``refuse_interrupted_add``) until the
    add is run again or ``verify --repair`` drops them."""
    g = _group(path, "r+", listing=True)
    grid = Grid(stored_spec(path))
    added = list(g.attrs.get("added_variables", []))
    own = (set(data_variables(grid, path)) - set(added)) | {"done"} | set(g.attrs.get("_coords", []))
    for name, var in new.data_vars.items():
        if name in own or (name in g and name not in added):
            raise UserError(f"store {path} already has a variable {name!r} of its own: not replaced")
    names = list(new.data_vars)
    added += [n for n in names if n not in added]
    try:
        update_attrs(path, None, adding_variables=names, added_variables=added)
    except OSError as e:  # the first write: nothing has changed yet
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise UserError(f"store {path} cannot be written ({e.strerror}): no variable added") from None
        raise
    g = _group(path, "r+", listing=True)
    with quiet():
        old = [name for name in names if name in g]
        for name in old:
            del g[name]
        if old:  # out of the consolidated metadata too: a plain xr.open_zarr must not read them as fill values
            zarr.consolidate_metadata(_zs(path))
    with quiet(), zarr.config.set({"array.write_empty_chunks": True}):
        for name, var in new.data_vars.items():
            fill = PENDING_INT if var.dtype.kind in "iu" else (False if var.dtype.kind == "b" else np.nan)
            arr = g.create_array(name, shape=var.shape, dtype=var.dtype, chunks=encoding[name]["chunks"],
                                 fill_value=fill, compressors=CODECS, dimension_names=var.dims,
                                 attributes=_json_attrs(var.attrs))
            arr[...] = var.values
    with quiet():
        zarr.consolidate_metadata(_zs(path))
    update_attrs(path, history, adding_variables=[])


def added_variables(path) -> list[str]:
    """The variables analysis added to the store (``add_variables``), not the sweep's own."""
    return list(_group(path).attrs.get("added_variables", []))


def refuse_interrupted_add(path, names=None):
    """StoreDamaged if adding variables to the store (``add_variables``) was interrupted
    (or, with ``names``, is under way as a reader saw it): its arrays may be missing, empty
    or half written and would read as fill values."""
    names = names or _group(path).attrs.get("adding_variables") or []
    if names:
        word = shell_word(path)
        raise StoreDamaged(f"store {path}: adding the variable{'s' * (len(names) > 1)} {', '.join(map(repr, names))} "
                           "was interrupted and they may read as fill values; add them again "
                           f"(xorsweep label {word}) or drop them: xorsweep verify {word} --repair")


def drop_interrupted_add(path) -> list[str]:
    """Delete the variables of an interrupted ``add_variables`` and forget them; the
    names dropped (none when no add was interrupted)."""
    g = _group(path, "r+", listing=True)
    names = list(g.attrs.get("adding_variables") or [])
    if not names:
        return []
    with quiet():
        for name in names:
            if name in g:
                del g[name]
        zarr.consolidate_metadata(_zs(path))
    update_attrs(path, f"dropped the variables of an interrupted add: {', '.join(names)}", adding_variables=[],
                 added_variables=[n for n in g.attrs.get("added_variables", []) if n not in names])
    return names


def _json_attrs(attrs: dict) -> dict:
    return json.loads(json.dumps(attrs, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# ---- blocks ----------------------------------------------------------------------------
def _chunk_path(path, name: str, grid: Grid, block_pos: tuple, n_extra: int) -> Path:
    """Where zarr's default v3 chunk key encoding puts a block's chunk of ``name``."""
    return Path(path, name, "c", *map(str, block_pos), *("0",) * n_extra)


def block_positions(grid: Grid, indices) -> np.ndarray:
    """(n, ndims) chunk-grid positions of flat block indices."""
    if not grid.dims:
        return np.zeros((len(indices), 0), dtype=np.int64)
    return np.stack(np.unravel_index(np.asarray(indices, dtype=np.int64), grid.block_grid), axis=1)


def done_blocks(path, grid: Grid) -> np.ndarray:
    """Flat bool array over blocks: True where the block's ``done`` chunk reads all true
    and every data chunk of the block exists. Reads ``done`` in slabs of whole chunks
    (flat memory, seconds for a million blocks)."""
    arr = _array(path, "done")
    refuse_fixed_array_damage(path, grid)
    if grid.dims and not isinstance(as_location(path), Remote) and Path(path, "done").is_dir():
        flat = _done_from_files(path, grid, arr).reshape(-1)
        if flat.any():
            flat &= _chunks_present(path, grid, flat)
        return flat
    out = np.zeros(grid.block_grid or (1,), dtype=bool)
    if not grid.dims:
        out[()] = _read_ok(lambda: bool(arr[()]))
    else:
        rows = grid.chunks[0]
        per_slab = max(1, (1 << 24) // max(1, grid.cells // grid.shape[0] * rows))
        for first in range(0, grid.block_grid[0], per_slab):
            last = min(grid.block_grid[0], first + per_slab)
            region = (slice(first * rows, min(grid.shape[0], last * rows)),)
            slab = _read_ok(lambda: arr[region])
            if slab is None:  # a damaged chunk in the slab: block by block
                for k in range(first, last):
                    sub = _read_ok(lambda: arr[(slice(k * rows, min(grid.shape[0], (k + 1) * rows)),)])
                    out[k] = _all_per_chunk(sub, grid)[0] if sub is not None else _per_block(arr, grid, k)
                continue
            out[first:last] = _all_per_chunk(slab, grid)
    flat = out.reshape(-1)
    if flat.any():
        flat &= _chunks_present(path, grid, flat)
    return flat


def _done_from_files(path, grid: Grid, arr) -> np.ndarray:
    """Done flags from the done chunks on disk: a missing chunk is not done; an interior
    chunk whose bytes equal those of a chunk already decoded as all true is done (the
    encoding is deterministic), anything else is decoded (a damaged chunk: not done).
    Reads each present chunk once: seconds for a million blocks, nothing for empty ones."""
    root = Path(path, "done", "c")
    out = np.zeros(grid.block_grid, dtype=bool)
    canonical = None
    for key in _present_keys(root, len(grid.dims)):
        if len(key) != len(grid.dims) or any(k >= n for k, n in zip(key, grid.block_grid)):
            continue
        full = all((k + 1) * c <= s for k, c, s in zip(key, grid.chunks, grid.shape))
        f = root.joinpath(*map(str, key))
        if full and canonical is not None:
            with contextlib.suppress(OSError):
                if f.read_bytes() == canonical:
                    out[key] = True
                    continue
        region = tuple(slice(k * c, min(s, (k + 1) * c)) for k, c, s in zip(key, grid.chunks, grid.shape))
        v = _read_ok(lambda: arr[region])
        out[key] = v is not None and bool(np.all(v))
        if out[key] and full and canonical is None:
            with contextlib.suppress(OSError):
                canonical = f.read_bytes()
    return out


def _per_block(arr, grid, k0):
    """Done flags of the blocks in chunk row ``k0``, one block at a time (damage fallback)."""
    sub_grid = grid.block_grid[1:]
    res = np.zeros(sub_grid, dtype=bool)
    for pos in np.ndindex(*sub_grid):
        region = tuple(slice(p * c, min(n, (p + 1) * c)) for p, c, n in zip((k0,) + pos, grid.chunks, grid.shape))
        v = _read_ok(lambda: arr[region])
        res[pos] = bool(v is not None and np.all(v))
    return res


def _all_per_chunk(a: np.ndarray, grid: Grid) -> np.ndarray:
    """all() over each chunk of ``a`` (a slab of whole chunk rows along every dim)."""
    for axis, c in enumerate(grid.chunks):
        a = np.logical_and.reduceat(a, np.arange(0, a.shape[axis], c), axis=axis)
    return a


def _read_ok(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - unreadable (missing codec data, bad checksum) means not done
        return None


def _chunks_present(path, grid: Grid, done: np.ndarray) -> np.ndarray:
    """For each block marked done: does every data chunk of it exist (on disk, or as an
    object: one listing per variable)?"""
    loc = as_location(path)
    remote = isinstance(loc, Remote)
    if remote:
        loc.fs.invalidate_cache()
    elif not Path(path).is_dir():
        return np.ones_like(done)
    ok = done.copy()
    idx = np.flatnonzero(done)
    pos = block_positions(grid, idx)
    extra = {name: len(dims) for name, (dims, *_rest) in _variables(grid).items()}
    for name in data_variables(grid, path):
        if remote:
            present = _remote_keys(loc, name, len(grid.dims) + extra[name])
        else:
            root = Path(path, name, "c")
            if _count_files(root) == grid.n_blocks:  # every chunk of the variable is there
                continue
            present = _present_keys(root, len(grid.dims) + extra[name])
        for j, k in enumerate(idx):
            if ok[k] and tuple(pos[j]) + (0,) * extra[name] not in present:
                ok[k] = False
    return ok


def _count_files(root: Path) -> int:
    return sum(sum(1 for f in files if f.isdigit()) for _d, _s, files in os.walk(root))


def _present_keys(root: Path, depth: int) -> set:
    """Chunk keys (tuples of ints) of the files under a variable's ``c/`` folder."""
    out = set()
    if depth == 0:
        return {()} if root.is_file() else set()
    for dirpath, _dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root).parts
        if len(rel) == depth - 1:
            for f in files:
                if f.isdigit():
                    out.add(tuple(int(x) for x in rel) + (int(f),))
    return out


def _remote_keys(loc: Remote, name: str, depth: int) -> set:
    """Chunk keys (tuples of ints) of the objects under a variable's ``c/`` prefix."""
    prefix = loc.key(name, "c")
    try:
        if depth == 0:
            return {()} if loc.fs.exists(prefix) else set()
        out = set()
        for k in loc.fs.find(prefix + "/"):
            parts = k[len(prefix) + 1:].split("/")
            if len(parts) == depth and all(p.isdigit() for p in parts):
                out.add(tuple(int(p) for p in parts))
        return out
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None


def write_block(path, expected_id: str, grid: Grid, block: Block, values: dict):
    """Write one block's variables into their regions, then mark it done; refuse a store
    whose identity is not the one this task was made for."""
    g = _group(path, "r+")
    sid = g.attrs.get(STORE_ID_ATTR) or "legacy-" + str(g.attrs.get("spec_hash"))
    if sid != expected_id:
        raise StoreDamaged(f"store {path} is not the store this task was made for (id {sid}, expected "
                           f"{expected_id}): a relative path or another store at the same path; nothing written")
    # every chunk is written, even one equal to the fill value: a missing chunk means damage
    with zarr.config.set({"array.write_empty_chunks": True}):
        sync(_write_arrays(path, data_variables(grid), block, values))  # all at once, then, last:
        g["done"][block.region] = np.ones(block.shape, dtype=bool)


async def _write_arrays(path, names, block, values):
    """Write ``values[name]`` into the block's region of every array named that the
    template holds (a store made by an earlier version has fewer), concurrently (one
    block's ~30 small writes overlap instead of queueing); returns once every write has
    ended, raising the first failure. Nothing is written when a value is missing."""
    g = await zarr.api.asynchronous.open_group(_zs(path), mode="r+", use_consolidated=False)
    opened = await asyncio.gather(*(g.getitem(n) for n in names), return_exceptions=True)
    for a in opened:
        if isinstance(a, BaseException) and not isinstance(a, KeyError):  # KeyError: not in this template
            raise a
    _refuse_lost(path, names, [n for n, a in zip(names, opened) if isinstance(a, KeyError)],
                 g.attrs.get("added_variables", []))
    arrays = {n: a for n, a in zip(names, opened) if not isinstance(a, BaseException)}
    missing = [n for n in arrays if n not in values]
    if missing:
        raise RuntimeError(f"block {block.index}: no values for {missing}")
    ended = await asyncio.gather(*(a.setitem(block.region, values[n]) for n, a in arrays.items()),
                                 return_exceptions=True)
    for e in ended:
        if isinstance(e, BaseException):
            raise e


# ---- integrity -------------------------------------------------------------------------
def verify(path, grid: Grid, *, repair=False, progress=None) -> list[int]:
    """Read every chunk of every done block; return the damaged blocks (unreadable, bad
    checksum, missing). ``repair`` marks them not done, so that the next run recomputes
    them with the same bits (every cell is a pure function of the spec). Damaged fixed
    arrays (``fixed_array_damage``) are refused first: ``rewrite_fixed_arrays`` repairs them."""
    _array(path, "done")  # its metadata lost: one line naming it
    refuse_fixed_array_damage(path, grid)  # these, ``rewrite_fixed_arrays`` repairs
    refuse_interrupted_add(path)  # these, ``drop_interrupted_add`` repairs
    g = _group(path, "r+" if repair else "r")
    arr = g["done"]
    names = data_variables(grid, path)
    damaged = []
    marked = np.flatnonzero(_marked_done(arr, grid))
    present = _chunks_present(path, grid, _mask(marked, grid.n_blocks))
    for i, k in enumerate(marked):
        region = grid.block(int(k)).region
        bad = not present[k] or _read_ok(lambda: arr[region]) is None
        for name in names if not bad else ():
            if _read_ok(lambda: g[name][region]) is None:
                bad = True
                break
        if bad:
            damaged.append(int(k))
        if progress is not None:
            progress(i + 1, len(marked))
    if repair and damaged:
        with zarr.config.set({"array.write_empty_chunks": True}):
            for k in damaged:
                b = grid.block(k)
                arr[b.region] = np.zeros(b.shape, dtype=bool)
    return damaged


def _mask(idx, n):
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


def _marked_done(arr, grid: Grid) -> np.ndarray:
    """Blocks whose done chunk is all true, or unreadable (damage to be reported)."""
    out = np.zeros(grid.n_blocks, dtype=bool)
    for k in range(grid.n_blocks):
        v = _read_ok(lambda: arr[grid.block(k).region])
        out[k] = v is None or bool(np.all(v))
    return out


def _clean(text: str) -> str:
    """Text from a store or a path, with control characters (terminal escapes) shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


printable = _clean


def shell_word(text) -> str:
    """text (a path) as one word of a command a user can paste into a shell: control
    characters escaped (``printable``), then quoted where the shell would split or expand it."""
    return shlex.quote(_clean(str(text)))


def open_dataset(path, interrupted_add_ok=False) -> xr.Dataset:
    """The store as an xarray Dataset (lazy); a store made before the ``rounded``
    coordinate reads as a new one (its -1 sentinel becomes NaN). A store that has lost an
    array's metadata (``data_variables``), whose fixed arrays are damaged
    (``refuse_fixed_array_damage``) or where adding variables was interrupted
    (``refuse_interrupted_add``, unless ``interrupted_add_ok``: the add itself, run again)
    is refused: it would read as other data."""
    import xarray as xr

    grid = Grid(stored_spec(path))
    data_variables(grid, path)  # an array's metadata lost: refused, naming it
    refuse_fixed_array_damage(path, grid)
    if not interrupted_add_ok:
        refuse_interrupted_add(path)

    with quiet():
        ds = with_rounded(xr.open_zarr(_zs(path, read_only=True)))
    if not interrupted_add_ok and ds.attrs.get("adding_variables"):  # an add begun since the check above
        refuse_interrupted_add(path, ds.attrs["adding_variables"])
    return ds


def with_rounded(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with a float ``decimals`` coordinate, NaN for the unrounded start, and the
    boolean ``rounded`` coordinate; older stores' integer coordinate (-1: unrounded) is
    converted (their stored data is unchanged: a resumed old store keeps its coordinate)."""
    if "decimals" not in ds.coords or ds["decimals"].dtype.kind == "f":
        return ds
    from xorsweep.sweep.grid import unrounded

    vals = ds["decimals"].values
    un = unrounded(vals)
    return ds.assign_coords(decimals=("decimals", np.where(un, np.nan, vals.astype(np.float64)),
                                      dict(COORD_ATTRS["decimals"])),
                            rounded=("decimals", ~un, dict(COORD_ATTRS["rounded"])))
