"""The sweep's axes, one small frozen class each: ``decimals``, ``eps`` with its
``direction``, a 2-D ``slice``, and the training settings swept as axes (rule, or its two
parts gradient and update; dtype, arith, lr, steps, h). Parameter names are compared in their canonical spelling
(``vocab.canonical_param``); whether they fit the network's width is checked by ``Spec``.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal, Optional, Union

from pydantic import BeforeValidator, Field, StrictBool, ValidationError, model_validator

from xorsweep.kernels import vocab
from xorsweep.sweep.spec_base import Bad, Int, Model, Num, first_error, integer, join, number, table_value

MAX_HIDDEN = 64
MAX_STEPS = 10**9
MAX_DECIMALS = 20  # np.round's useful range for float64 (and today's stored specs)
MIN_EPS = 1e-300  # smallest nonzero eps: eps·u stays a normal number
Seed = Int(ge=0, le=2**63 - 1)
SETTING_AXES = ("rule", "gradient", "update", "dtype", "arith", "lr", "steps", "h")  # outermost dims, one block each


def _param(v, where=""):
    """A parameter name of some 2-H-2 network (its range for H is checked by Spec)."""
    if not isinstance(v, str):
        raise Bad(where, f"must be a parameter name like 'W1[0,2]', got {v!r}")
    try:
        vocab.param_index(v, MAX_HIDDEN)
    except ValueError as e:
        raise Bad(where, str(e)) from None
    return v


def canonical(source):
    """Parameter names in one spelling; seeded sources as themselves."""
    return vocab.canonical_param(source, MAX_HIDDEN) if isinstance(source, str) else source


def _nested(cls, v):
    """Validate ``v`` as ``cls`` inside another validator, keeping the error's path."""
    if isinstance(v, cls):
        return v
    try:
        return cls.__pydantic_validator__.validate_python(v)
    except ValidationError as e:
        raise Bad(*first_error(e)) from None


class _Values(Model):
    """An axis given by its list of values, none repeated."""

    @model_validator(mode="after")
    def _distinct(self):
        for i, v in enumerate(self.values):
            if v in self.values[:i]:
                raise Bad("values", f"has repeated values ({v!r} at [{self.values.index(v)}] and [{i}])")
        return self


# ---- the training settings as axes ---------------------------------------------------------
Rule = Literal[vocab.RULES]
Gradient = Literal[tuple(vocab.GRADIENTS)]
Update = Literal[tuple(vocab.UPDATES)]
Dtype = Literal[tuple(vocab.DTYPES)]
Arith = Literal[tuple(vocab.ARITHS)]
Lr = Num(gt=0)
Steps = Int(ge=0, le=MAX_STEPS)
# the numerical gradient's central difference: below 1e-12 it is pure roundoff (the loss is
# ~0.7, its ulp ~1e-16) and soon v ± h == v; above 1 it is no derivative at all
H_STEP = Num(ge=1e-12, le=1.0)


class RuleAxis(_Values):
    _at = "axes.rule"
    values: tuple[Rule, ...] = Field(min_length=1, description="training rules to sweep")


class GradientAxis(_Values):
    _at = "axes.gradient"
    values: tuple[Gradient, ...] = Field(min_length=1, description="gradients to sweep (numerical, analytic)")


class UpdateAxis(_Values):
    _at = "axes.update"
    values: tuple[Update, ...] = Field(min_length=1, description="update orders to sweep (sequential, simultaneous)")


class DtypeAxis(_Values):
    _at = "axes.dtype"
    values: tuple[Dtype, ...] = Field(min_length=1, description="floating-point types to sweep")


class ArithAxis(_Values):
    _at = "axes.arith"
    values: tuple[Arith, ...] = Field(min_length=1, description="arithmetic variants to sweep")


class LrAxis(_Values):
    _at = "axes.lr"
    values: tuple[Lr, ...] = Field(min_length=1, description="learning rates to sweep")


class StepsAxis(_Values):
    _at = "axes.steps"
    values: tuple[Steps, ...] = Field(min_length=1, description="step counts to sweep")


class HAxis(_Values):
    _at = "axes.h"
    values: tuple[H_STEP, ...] = Field(min_length=1, description="finite-difference steps of the numerical "
                                                                 "gradient to sweep")


# ---- rounding --------------------------------------------------------------------------------
def _decimal(v):
    if v == "none":
        return v
    d = integer(v)
    if not 0 <= d <= MAX_DECIMALS:
        raise Bad("", f"must be 'none' or an integer 0 ... {MAX_DECIMALS}, got {v!r}")
    return d


Decimal = Annotated[Union[Literal["none"], Annotated[int, Field(ge=0, le=MAX_DECIMALS)]], BeforeValidator(_decimal)]


class DecimalsAxis(_Values):
    """Round the weights (and the biases if asked) half-to-even, like np.round."""
    _at = "axes.decimals"
    values: tuple[Decimal, ...] = Field(min_length=1, description='decimals to round to, or "none" (unrounded)')
    biases: StrictBool = Field(False, description="round b1 and b2 too")


# ---- perturbations: eps x direction ------------------------------------------------------------
def _eps(v):
    if 0 < v < MIN_EPS:
        raise Bad("", f"must be 0 or >= {MIN_EPS}, got {v!r}")
    return v


def _grid_keys(schema):
    """The schema also offers min/max/num (``_prepare`` turns them into values)."""
    schema.pop("required")
    schema["properties"].update(
        min={"type": "number", "exclusiveMinimum": 0, "description": "smallest eps of a log-spaced grid"},
        max={"type": "number", "exclusiveMinimum": 0, "description": "largest eps of a log-spaced grid"},
        num={"type": "integer", "minimum": 1, "maximum": 10**6, "description": "number of log-spaced values"})


class EpsAxis(_Values):
    """Perturbation sizes: ``values`` (0 allowed: the unperturbed reference), or ``min``,
    ``max``, ``num`` for a log-spaced grid."""
    _at = "axes.eps"
    _aliases = ("min", "max", "num")
    model_config = {"json_schema_extra": _grid_keys}
    values: tuple[Annotated[float, Field(ge=0), BeforeValidator(_eps), BeforeValidator(number)], ...] = Field(
        min_length=1, description="perturbation sizes (or give min, max and num)")

    @classmethod
    def _prepare(cls, d):
        grid = [k for k in cls._aliases if k in d]
        if not grid:
            return d
        if "values" in d:
            raise Bad(grid[0], "give either values or min/max/num")
        for k in cls._aliases:
            if k not in d:
                raise Bad("", f"needs values, or min, max and num (missing {k})")
        lo = table_value(d, "min", number, lo=MIN_EPS)
        hi = table_value(d, "max", number, lo=lo)
        num = table_value(d, "num", integer, lo=1, hi=10**6)
        values = logspace(lo, hi, num)
        if len(set(values)) < num:
            raise Bad("", f"min {lo!r}, max {hi!r} and num {num} give repeated values"
                      + (" (min = max needs num = 1)" if lo == hi else ""))
        return {"values": values}


def logspace(lo, hi, num):
    """num values from lo to hi, evenly spaced in log10 (the same bits as every stored spec)."""
    if num == 1:
        return (lo,)
    a, b = math.log10(lo), math.log10(hi)
    return tuple(float(10 ** (a + (b - a) * i / (num - 1))) for i in range(num))


class SeededDirections(Model):
    """``count`` seeded random unit directions in parameter space."""
    _at = "axes.direction"
    count: Int(ge=1, le=10**7) = Field(description="number of random unit directions")
    seed: Seed = Field(0, description="seed of numpy's default_rng")


class NamedDirections(Model):  # only the schema's picture of [axes.direction] names = [...]
    names: list[str] = Field(min_length=1, description="parameter names like 'W1[0,2]'")


def _directions(v):
    if isinstance(v, (list, tuple)):
        v = {"names": v}
    if not isinstance(v, dict) or "names" not in v:
        return _nested(SeededDirections, v)
    if set(v) - {"names"}:
        raise Bad(sorted(set(v) - {"names"})[0], "give either names or count/seed")
    names = v["names"]
    if not isinstance(names, (list, tuple)) or not names:
        raise Bad("names", f"must be a non-empty list of parameter names, got {names!r}")
    seen = {}
    for i, n in enumerate(names):
        c = canonical(_param(n, f"names[{i}]"))
        if c in seen:
            raise Bad(f"names[{i}]", f"{n!r} repeats {seen[c]!r} (both are {c})")
        seen[c] = n
    return tuple(names)


#: named parameters (a tuple of names, as the store's direction_name coordinate) or seeded ones
Directions = Annotated[Union[tuple[str, ...], SeededDirections],
                       BeforeValidator(_directions, json_schema_input_type=Union[NamedDirections, SeededDirections])]


# ---- the 2-D slice -----------------------------------------------------------------------------
class SeedDirection(Model):
    """A seeded random unit direction (the slice's ``u = {seed = 1}``; used for u and v)."""
    seed: Seed = Field(0, description="seed of numpy's default_rng")


def _source(v):
    return _param(v) if isinstance(v, str) else _nested(SeedDirection, v)


Source = Annotated[Union[str, SeedDirection], BeforeValidator(_source, json_schema_input_type=Union[str, SeedDirection])]


def _interval(v):
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise Bad("", f"must be [low, high], got {v!r}")
    lo, hi = (table_value({i: x for i, x in enumerate(v)}, i, lambda x, k: number(x, join(k))) for i in range(2))
    if not lo < hi:
        raise Bad("", f"low must be < high, got {list(v)!r}")
    return lo, hi


def _resolution(v):
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v, v]
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise Bad("", f"must be [na, nb] or one integer, got {v!r}")
    return tuple(table_value({i: x for i, x in enumerate(v)}, i, lambda x, k: integer(x, join(k)), lo=1, hi=2**20)
                 for i in range(2))


Interval = Annotated[tuple[float, float], BeforeValidator(_interval)]
MAX_ZOOM_DEPTH = 64
MAX_ZOOM = 1e300  # factor ** depth: the deepest level's extent stays a positive double


def _point(v):
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise Bad("", f"must be [a, b], got {v!r}")
    return tuple(table_value({i: x for i, x in enumerate(v)}, i, lambda x, k: number(x, join(k))) for i in range(2))


class Zoom(Model):
    """Nested slices: level 0 is the slice as given, level i the same grid shrunk by
    factor**i towards ``center`` (each level inside the last, the centre at the same
    relative place in every level, the same resolution)."""
    _at = "axes.slice.zoom"
    factor: Num(gt=1) = Field(description="each level is this many times narrower than the last (e.g. 10)")
    depth: Int(ge=1, le=MAX_ZOOM_DEPTH) = Field(description="zoom levels after the slice itself (depth + 1 levels)")
    center: Optional[Annotated[tuple[float, float], BeforeValidator(_point)]] = Field(
        None, description="[a, b] the levels shrink towards, inside the slice (default: the slice's centre)")

    @model_validator(mode="after")
    def _finite(self):
        if self.depth * math.log10(self.factor) > math.log10(MAX_ZOOM):
            raise Bad("depth", f"factor ** depth = {self.factor:g} ** {self.depth} is beyond {MAX_ZOOM:g}: "
                               "the deepest level would have no extent")
        return self


class SliceAxis(Model):
    """Starts on the plane start + a·u + b·v (v made orthogonal to u), a and b on linspace grids."""
    _at = "axes.slice"
    u: Source = Field(description="first axis: a parameter name like 'W1[0,0]', or {seed = 1}")
    v: Source = Field(description="second axis: a parameter name like 'W2[1,1]', or {seed = 2}")
    a: Interval = Field((-1.0, 1.0), description="[low, high] of a")
    b: Interval = Field((-1.0, 1.0), description="[low, high] of b")
    resolution: Annotated[tuple[int, int], BeforeValidator(_resolution)] = Field(
        (64, 64), description="[na, nb] grid points (or one integer for both)")
    zoom: Optional[Zoom] = Field(None, description="nested slices: {factor = 10, depth = 4, center = [a, b]}")

    @model_validator(mode="after")
    def _distinct(self):
        if canonical(self.u) == canonical(self.v):
            raise Bad("v", f"must differ from u (both are {canonical(self.u)!r})")
        z = self.zoom
        if z is not None and z.center is not None:
            for k, c, (lo, hi) in zip("ab", z.center, (self.a, self.b)):
                if not lo <= c <= hi:
                    raise Bad("zoom.center", f"{k} = {c!r} is outside the slice's {k} = [{lo!r}, {hi!r}]")
        return self

    @property
    def levels(self) -> int:
        return 1 if self.zoom is None else self.zoom.depth + 1

    @property
    def center(self) -> tuple[float, float]:
        """The point the zoom levels shrink towards: ``zoom.center``, else the slice's centre."""
        if self.zoom is not None and self.zoom.center is not None:
            return self.zoom.center
        return tuple(lo / 2 + hi / 2 for lo, hi in (self.a, self.b))


class Axes(Model):
    """The sweep's axes; a spec with none trains one network per start."""
    _at = "axes"
    decimals: Optional[DecimalsAxis] = None
    eps: Optional[EpsAxis] = None
    direction: Optional[Directions] = Field(None, description="names = [...] or count = N, seed = S; goes with eps")
    slice: Optional[SliceAxis] = None
    rule: Optional[RuleAxis] = None
    gradient: Optional[GradientAxis] = None
    update: Optional[UpdateAxis] = None
    dtype: Optional[DtypeAxis] = None
    arith: Optional[ArithAxis] = None
    lr: Optional[LrAxis] = None
    steps: Optional[StepsAxis] = None
    h: Optional[HAxis] = None

    @model_validator(mode="after")
    def _pairs(self):
        if (self.eps is None) != (self.direction is None):
            raise Bad("", "eps and direction go together: give both axes.eps and axes.direction")
        for part in ("gradient", "update"):
            if self.rule is not None and getattr(self, part) is not None:
                raise Bad(part, "cannot be swept together with axes.rule (a rule is a gradient and an update): "
                                "sweep either rule, or gradient and/or update")
        return self

    @property
    def settings(self) -> dict:
        """Setting name -> tuple of values, for the settings swept as axes (in dim order)."""
        return {k: getattr(self, k).values for k in SETTING_AXES if getattr(self, k) is not None}

    @property
    def n_directions(self) -> int:
        d = self.direction
        return len(d) if isinstance(d, tuple) else d.count

    def to_dict(self):
        out = super().to_dict()
        if isinstance(self.direction, tuple):
            out["direction"] = {"names": list(self.direction)}
        return out
