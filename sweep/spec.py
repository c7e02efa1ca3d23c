"""The sweep spec: a frozen, validated description of a sweep (TOML file, dict or keywords).

A spec names the training settings, the base starts and the axes; every cell's start is
a pure function of the spec and the cell's grid index (see grid.py). However it is built,
a spec is validated on construction and a mistake is one ``SpecError`` line naming the
field (``spec: axes.slice.u: ...``). ``to_dict`` gives plain data (stored as JSON in the
store); ``identity``/``hash`` name what decides every stored value and must never change
for a spec that could be written before (stores made then must keep resuming).

    python -m xorsweep.sweep.spec docs/spec.schema.json   # regenerate the JSON Schema
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Optional

import numpy as np
from pydantic import Field, StrictBool, StrictStr, model_validator

from xorsweep.kernels import vocab
from xorsweep.sweep.spec_axes import (H_STEP, MAX_HIDDEN, MAX_STEPS, SETTING_AXES, Arith, Axes, DecimalsAxis,
                                      Dtype, EpsAxis, Gradient, Rule, Seed, SeedDirection, SeededDirections,
                                      SliceAxis, Update)
from xorsweep.sweep.spec_base import Bad, Int, Model, Num, Number, SpecError

__all__ = ["Spec", "Training", "Start", "Execution", "Axes", "DecimalsAxis", "EpsAxis", "SeededDirections",
           "SeedDirection", "SliceAxis", "SpecError", "SETTING_AXES", "MAX_CELLS", "spec_differences", "read_toml",
           "write_schema"]

MAX_CELLS = 2**36
MAX_SPEC_BYTES = 2**20  # a spec is a page of TOML; anything bigger is a mistake (or /dev/zero)
MAX_RECORD_BYTES = 2**30  # trajectories one block may hold in memory
RANDOM_REACH = 40  # |N(0,1)| draws beyond 40 never happen: random weights stay below 40·init_std


class Training(Model):
    """How every network is trained (settings swept as axes override these). The rule is a
    gradient and an update order; ``rule`` names the two named pairs, and a spec stores
    ``rule`` alone for them (so specs written before the parts existed keep their hash)."""
    _at = "training"
    rule: Optional[Rule] = Field(vocab.DEFAULT_RULE, description=" | ".join(
        f"{k}: {v}" for k, v in vocab.RULE_DESCRIPTIONS.items()) + " (or give gradient and update)")
    gradient: Gradient = Field(vocab.RULE_PARTS[vocab.DEFAULT_RULE][0], description=" | ".join(
        f"{k}: {v}" for k, v in vocab.GRADIENTS.items()))
    update: Update = Field(vocab.RULE_PARTS[vocab.DEFAULT_RULE][1], description=" | ".join(
        f"{k}: {v}" for k, v in vocab.UPDATES.items()))
    lr: Num(gt=0) = Field(vocab.RULE_DEFAULTS[vocab.DEFAULT_RULE]["lr"], description="learning rate")
    steps: Int(ge=0, le=MAX_STEPS) = Field(vocab.RULE_DEFAULTS[vocab.DEFAULT_RULE]["steps"],
                                           description="training steps (full-batch iterations)")
    dtype: Dtype = Field(vocab.DEFAULT_DTYPE, description="floating-point type")
    arith: Arith = Field(vocab.DEFAULT_ARITH, description=" | ".join(
        f"{k}: {v}" for k, v in vocab.ARITHS.items()))
    hidden: Int(ge=1, le=MAX_HIDDEN) = Field(vocab.HIDDEN_DEFAULT, description="hidden units H")
    record_every: Int(ge=0, le=MAX_STEPS) = Field(0, description="keep the parameters every k steps (0: never)")
    h: H_STEP = Field(vocab.DEFAULT_H, description="finite-difference step of the numerical gradient (1e-12 … 1)")
    lyapunov: StrictBool = Field(False, description="also measure each cell's finite-time Lyapunov exponent "
                                                    "(a twin trajectory; about twice the training time)")

    @classmethod
    def _prepare(cls, d):
        if d.get("rule") is None:
            d.pop("rule", None)
        rule, parts = d.get("rule"), {k: d[k] for k in ("gradient", "update") if k in d}
        tables = (("rule", rule, vocab.RULE_PARTS), *((k, v, getattr(vocab, k.upper() + "S")) for k, v in parts.items()))
        if not all(v is None or (isinstance(v, str) and v in t) for _, v, t in tables):
            return d  # pydantic names the unknown value
        try:
            gradient, update = vocab.rule_parts(rule, **parts)
        except ValueError as e:  # "<part> '<value>' contradicts rule ...": name the part
            part, _, message = str(e).partition(" ")
            raise Bad(part, message) from None
        named = {"rule": vocab.rule_name(gradient, update), "gradient": gradient, "update": update}
        return {**vocab.training_defaults(gradient, update), **d, **named}

    def to_dict(self):
        """Plain data: ``rule`` alone for a named pair, else ``gradient`` and ``update``;
        ``lyapunov`` only when on."""
        d = super().to_dict()
        if self.rule is not None:
            del d["gradient"], d["update"]
        if not self.lyapunov:  # a spec without it keeps its hash
            del d["lyapunov"]
        return d

    @property
    def rule_text(self) -> str:
        """'seed (numerical gradient, sequential update)', or the two parts of an unnamed pair."""
        parts = f"{self.gradient} gradient, {self.update} update"
        return f"{self.rule} ({parts})" if self.rule else parts


Matrix = tuple[tuple[Number, ...], ...]
Vector = tuple[Number, ...]
GROUP_SHAPES = ("W1", "(2, H)"), ("b1", "(H,)"), ("W2", "(H, 2)"), ("b2", "(2,)")


class Start(Model):
    """The base starts: literal arrays, the blog's ``published = true`` start, or ``count``
    random starts drawn as the author did (``init_std``·N(0,1) weights, zero biases)."""
    _at = "start"
    W1: Optional[Matrix] = Field(None, description="input-to-hidden weights, 2 rows of H")
    b1: Optional[Vector] = Field(None, description="hidden biases, H (default zeros)")
    W2: Optional[Matrix] = Field(None, description="hidden-to-output weights, H rows of 2")
    b2: Optional[Vector] = Field(None, description="output biases, 2 (default zeros)")
    scale: Number = Field(1.0, description="multiply the literal start by this")
    published: StrictBool = Field(False, description="the blog author's published 2-3-2 start")
    count: Optional[Int(ge=1, le=MAX_CELLS)] = Field(None, description="number of random starts")
    init_std: Num(ge=0, le=1e300) = Field(vocab.INIT_STD, description="std of the random weights")
    seed: Seed = Field(0, description="seed of the random starts")

    @classmethod
    def _prepare(cls, d):
        literal = ("W1", "b1", "W2", "b2", "scale", "published")
        if "count" in d:
            for k in literal:
                if k in d:
                    raise Bad(k, "cannot be combined with start.count (random starts)")
            return d
        for k in ("init_std", "seed"):
            if k in d:
                raise Bad(k, "only applies to random starts (start.count)")
        if not isinstance(d.get("published", False), bool):
            raise Bad("published", f"must be true or false, got {d['published']!r}")
        if d.get("published", False):
            for g, a in vocab.published_start().items():
                value = a.tolist() if a.any() or g in ("W1", "W2") else None
                if g in d and d[g] is not None and _floats(d[g]) != _floats(value):
                    raise Bad(g, "cannot be combined with start.published = true")
                d[g] = value
        for k in ("W1", "W2"):
            if d.get(k) is None:
                raise Bad("", f"needs {k} (or published = true, or count for random starts)")
        return d

    @model_validator(mode="after")
    def _shapes(self):
        if self.random:
            return self
        H = len(self.W1[0]) if len(self.W1) else 0
        expect = vocab.group_shapes(H)
        for g, shape in GROUP_SHAPES:
            a = getattr(self, g)
            if a is not None and (H < 1 or _shape(a) != expect[g]):
                raise Bad(g, "must be 2 rows of H >= 1 numbers" if g == "W1" else
                          f"must be shaped {shape.replace('H', str(H))} to match W1")
        for g, _ in GROUP_SHAPES:
            a = getattr(self, g)
            with np.errstate(over="ignore"):
                if a is not None and not np.all(np.isfinite(self.scale * np.array(a))):
                    raise Bad("scale", f"scale {self.scale!r} makes start.{g} overflow to infinity")
        return self

    @property
    def random(self) -> bool:
        return self.count is not None

    @property
    def hidden(self) -> int | None:
        """H of a literal start; None for random starts (they take training.hidden)."""
        return None if self.random else len(self.W1[0])

    def to_dict(self):
        if self.random:
            return {"count": self.count, "init_std": self.init_std, "seed": self.seed}
        if self.published:
            return {"published": True, "scale": self.scale}
        return self.identity()

    def identity(self):
        """The literal form (a published start exactly as its W1, W2 written out)."""
        if self.random:
            return self.to_dict()
        d = {g: [list(r) for r in a] if g in ("W1", "W2") else list(a)
             for g, a in (("W1", self.W1), ("W2", self.W2), ("b1", self.b1), ("b2", self.b2)) if a is not None}
        return {**d, "scale": self.scale}


def _floats(a):
    return None if a is None else np.asarray(a, dtype=float).tolist()


def _shape(a):
    if not (a and isinstance(a[0], tuple)):
        return (len(a),)
    rows = {len(r) for r in a}
    return (len(a), rows.pop()) if len(rows) == 1 else None


class Outcomes(Model):
    """How outcomes are read off the trained networks (``kernels.outcomes``)."""
    _at = "outcomes"
    window: Optional[Int(ge=1, le=MAX_STEPS)] = Field(
        None, description="settling window in steps: a network whose decisions or hidden code changed within "
                          "the last `window` steps is `unsettled` (default: 10 % of the steps, at least 1)")
    fold_swap: StrictBool = Field(False, description="also fold the input swap x1 <-> x2 into `solution`")

    def to_dict(self):
        """Only the settings that differ from the defaults (a spec without them keeps its hash)."""
        return {k: v for k, v in super().to_dict().items() if not (k == "fold_swap" and v is False)}


class Execution(Model):
    _at = "execution"
    block: Int(ge=1, le=2**24) = Field(4096, description="networks per block (one Dask task, whole Zarr chunks)")


class Spec(Model):
    """A sweep: training settings, base starts, axes, block size and a name."""
    model_config = {"title": "xorsweep sweep spec",
                    "json_schema_extra": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}
    name: StrictStr = Field("", description="a short name (the store's title)")
    training: Training = Field(Training(), description="training settings")
    start: Start = Field(description="literal W1/W2, published = true, or a random count")
    axes: Axes = Field(Axes(), description="the axes of the grid")
    execution: Execution = Field(Execution(), description="how the sweep is cut into tasks")
    outcomes: Outcomes = Field(Outcomes(), description="how outcomes are read off the trained networks")

    @classmethod
    def _prepare(cls, d):
        if d.get("axes") == {}:
            raise Bad("axes", "is empty: give at least one axis (or leave out [axes])")
        return d

    @model_validator(mode="after")
    def _fits(self):
        _check_width(self)
        if self.cells > MAX_CELLS:
            raise Bad("axes", f"the grid has {self.cells:.3g} cells, more than the limit {MAX_CELLS:.3g}")
        _check_recording(self)
        _check_rounding(self)
        return self

    # ---- size: the grid's dims without building it ----
    @property
    def sizes(self) -> dict[str, int]:
        """dim -> length, outermost first: settings axes, start, decimals, eps, direction, a, b
        (a zoomed slice: zoom, a_index, b_index)."""
        ax, out = self.axes, {k: len(v) for k, v in self.axes.settings.items()}
        if self.start.random:
            out["start"] = self.start.count
        if ax.decimals is not None:
            out["decimals"] = len(ax.decimals.values)
        if ax.eps is not None:
            out.update(eps=len(ax.eps.values), direction=ax.n_directions)
        if ax.slice is not None and ax.slice.zoom is not None:  # a(zoom, a_index), b(zoom, b_index)
            out.update(zoom=ax.slice.levels, a_index=ax.slice.resolution[0], b_index=ax.slice.resolution[1])
        elif ax.slice is not None:
            out.update(a=ax.slice.resolution[0], b=ax.slice.resolution[1])
        return out

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.sizes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.sizes.values())

    @property
    def cells(self) -> int:
        return math.prod(self.shape)

    @property
    def block(self) -> int:
        return self.execution.block

    @property
    def max_steps(self) -> int:
        return max(self.axes.settings.get("steps", (self.training.steps,)))

    # ---- plain data and identity ----
    def to_dict(self):
        """Plain data; from_dict(to_dict()) == self."""
        d = {"name": self.name, "training": self.training.to_dict(), "start": self.start.to_dict(),
             "execution": self.execution.to_dict()}
        axes, outcomes = self.axes.to_dict(), self.outcomes.to_dict()
        d = {**d, "axes": axes} if axes else d
        return {**d, "outcomes": outcomes} if outcomes else d

    @property
    def arith_named(self) -> bool:
        """Whether the spec names ``training.arith`` (with an ``arith`` axis the axis decides
        the values, but ``training.arith`` is still part of the spec's identity)."""
        return "arith" in self.training.model_fields_set

    def with_arith_of(self, stored: "Spec") -> "Spec":
        """This spec with ``stored``'s arithmetic when it names none: a spec that leaves the
        arithmetic to the default resumes a store with the arithmetic the store was made
        with (which its stored spec always names), so stores made before the default
        changed keep resuming with their own bits."""
        if self.arith_named or stored.arith_named is False or self.training.arith == stored.training.arith:
            return self
        d = self.to_dict()
        d["training"]["arith"] = stored.training.arith
        return Spec.from_dict(d)

    def identity(self):
        """The parts that decide every stored value (not the block size nor the name)."""
        d = self.to_dict()
        d.pop("execution"), d.pop("name")
        d["start"] = self.start.identity()
        return d

    def hash(self):
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_toml(cls, path):
        return cls.from_dict(read_toml(path))

    @classmethod
    def json_schema(cls) -> dict:
        """JSON Schema of a spec file (for editors completing TOML specs)."""
        return _without_nulls(cls.model_json_schema(mode="validation"))


def _without_nulls(schema):
    """TOML has no null: an optional table or value is simply left out."""
    if isinstance(schema, list):
        return [_without_nulls(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    options = schema.get("anyOf", ())
    if {"type": "null"} in options:
        rest = [s for s in schema.pop("anyOf") if s != {"type": "null"}]
        schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    if isinstance(schema.get("default"), dict) or ("default" in schema and schema["default"] is None):
        del schema["default"]  # a table's default is its fields' defaults
    return {k: _without_nulls(v) for k, v in schema.items()}


def _check_width(spec):
    """Literal starts and parameter names must fit training.hidden."""
    H, s, ax = spec.training.hidden, spec.start, spec.axes
    if not s.random and s.hidden != H:
        raise Bad("start.W1", f"must be shaped (2, {H}) to match training.hidden = {H}, got (2, {s.hidden})")
    names = [(f"axes.direction.names[{i}]", n) for i, n in enumerate(ax.direction or ()) if isinstance(n, str)]
    if ax.slice is not None:
        names += [(f"axes.slice.{k}", getattr(ax.slice, k)) for k in ("u", "v")]
    for where, name in names:
        if isinstance(name, str):
            try:
                vocab.param_index(name, H)
            except ValueError as e:
                raise Bad(where, str(e)) from None


def _check_recording(spec):
    """A bound on record_every, computed without allocating anything."""
    k, steps = spec.training.record_every, spec.max_steps
    if not k:
        return
    if k > steps:
        raise Bad("training.record_every", f"must be <= the steps trained ({steps}), got {k}")
    records = steps // k + 1
    need = min(spec.block, spec.cells) * records * (vocab.n_params(spec.training.hidden) + 2) * 8
    if need > MAX_RECORD_BYTES:
        raise Bad("training.record_every", f"recording every {k} of {steps} steps needs {need / 2**30:,.1f} GiB "
                  f"per block of {min(spec.block, spec.cells)} (limit {MAX_RECORD_BYTES / 2**30:g} GiB): "
                  "record less often or lower execution.block")


def _check_rounding(spec):
    """np.round(x, d) computes x·10^d: refuse a finite start it would round to infinity."""
    dec = spec.axes.decimals
    if dec is None:
        return
    s = spec.start
    groups = vocab.GROUPS if dec.biases else vocab.WEIGHT_GROUPS
    if s.random:
        big, what = np.array([s.init_std * RANDOM_REACH]), f"random weights ({RANDOM_REACH}·init_std)"
    else:  # the start as grid.py rounds it: scaled first (finite, checked by Start)
        big = np.concatenate([s.scale * np.ravel(getattr(s, g)) for g in groups if getattr(s, g) is not None])
        what = f"start {'/'.join(g for g in groups if getattr(s, g) is not None)}"
    with np.errstate(over="ignore", invalid="ignore"):  # np.round(x, d) computes x·10^d
        for i, d in enumerate(dec.values):
            if d != "none" and not np.all(np.isfinite(np.round(big, d))):
                worst = float(np.max(np.abs(big)))
                raise Bad(f"axes.decimals.values[{i}]", f"rounding {what} (|x| up to {worst:.3g}) to {d} decimals "
                          "overflows to infinity")


def read_toml(path) -> dict:
    """The TOML table of a spec file; refuses anything but a regular file of at most 1 MiB
    before reading it (a FIFO would hang, /dev/zero exhaust memory)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise SpecError(f"cannot read spec {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SpecError(f"cannot read spec {path}: not a regular file")
        if st.st_size > MAX_SPEC_BYTES:
            raise SpecError(f"cannot read spec {path}: {st.st_size:,} bytes, more than the {MAX_SPEC_BYTES:,} a spec may have")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_SPEC_BYTES + 1)
    except OSError as e:
        raise SpecError(f"cannot read spec {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"cannot read spec {path}: more than the {MAX_SPEC_BYTES:,} bytes a spec may have")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(f"cannot read spec {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"spec {path} is not valid TOML: {e}") from None


def spec_differences(a: dict, b: dict, prefix=""):
    """Dotted paths where two spec dicts differ, with both values."""
    out = []
    for k in sorted(set(a) | set(b)):
        p = f"{prefix}{k}"
        if k not in a or k not in b:
            out.append(f"{p}: {a.get(k, '(absent)')!r} in store, {b.get(k, '(absent)')!r} now")
        elif isinstance(a[k], dict) and isinstance(b[k], dict):
            out.extend(spec_differences(a[k], b[k], p + "."))
        elif a[k] != b[k]:
            out.append(f"{p}: {a[k]!r} in store, {b[k]!r} now")
    return out


def schema_text() -> str:
    return json.dumps(Spec.json_schema(), indent=2, sort_keys=False) + "\n"


def write_schema(path="docs/spec.schema.json"):
    Path(path).write_text(schema_text())


if __name__ == "__main__":
    write_schema(*sys.argv[1:2])
