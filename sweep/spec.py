"""The sweep spec: a frozen, validated description of a sweep (TOML file or Python object).

A spec names the training settings, the base starts and the axes; every cell's start is
a pure function of the spec and the cell's grid index. ``Spec.from_dict`` validates and
names the bad field; ``Spec.to_dict`` gives back plain data (stored as JSON in the store).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xorsweep.sweep.errors import UserError

from xorsweep.kernels.vocab import ARITHS, DTYPES, RULES

DTYPES, ARITHS = tuple(DTYPES), tuple(ARITHS)
SETTING_AXES = ("rule", "dtype", "arith", "lr", "steps")  # outermost dims, one block each
MAX_CELLS = 2**36
PARAM_RE = re.compile(r"^(W1|b1|W2|b2)\[(\d+)(?:,\s*(\d+))?\]$")


class SpecError(UserError):
    def __init__(self, where, message):
        super().__init__(f"spec: {where}: {message}")


def _known(d, keys, where):
    if not isinstance(d, dict):
        raise SpecError(where, f"must be a table, got {type(d).__name__}")
    unknown = sorted(set(d) - set(keys))
    if unknown:
        raise SpecError(where, f"unknown key {unknown[0]!r} (known: {', '.join(keys)})")


def _number(v, where, *, lo=None, hi=None, lo_open=False, integer=False):
    ok_type = (int,) if integer else (int, float)
    if isinstance(v, bool) or not isinstance(v, ok_type):
        raise SpecError(where, f"must be {'an integer' if integer else 'a number'}, got {v!r}")
    if not integer and not math.isfinite(v):
        raise SpecError(where, f"must be finite, got {v!r}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise SpecError(where, f"must be {'>' if lo_open else '>='} {lo}, got {v!r}")
    if hi is not None and v > hi:
        raise SpecError(where, f"must be <= {hi}, got {v!r}")
    return v if integer else float(v)


def _choice(v, options, where):
    if v not in options:
        raise SpecError(where, f"must be one of {', '.join(options)}, got {v!r}")
    return v


def _matrix(v, shape, where):
    """A nested list of finite numbers with the given shape, as nested tuples of floats."""
    def walk(x, dims, w):
        if not dims:
            return _number(x, w)
        if not isinstance(x, (list, tuple)) or len(x) != dims[0]:
            raise SpecError(where, f"must be shaped {shape}")
        return tuple(walk(e, dims[1:], f"{w}[{i}]") for i, e in enumerate(x))
    return walk(v, shape, where)


def _values(v, where, item):
    if not isinstance(v, (list, tuple)) or len(v) == 0:
        raise SpecError(where, "must be a non-empty list")
    out = tuple(item(x, f"{where}[{i}]") for i, x in enumerate(v))
    if len(set(out)) != len(out):
        raise SpecError(where, "has repeated values")
    return out


def parse_param(name, H, where):
    """'W1[0,2]' -> flat index into the P = 5H + 2 parameters (W1, b1, W2, b2 row-major)."""
    m = PARAM_RE.match(name.replace(" ", "")) if isinstance(name, str) else None
    if not m:
        raise SpecError(where, f"{name!r} is not a parameter name like 'W1[0,2]' or 'b2[1]'")
    group, i, j = m.group(1), int(m.group(2)), m.group(3)
    shapes = {"W1": (2, H), "b1": (H,), "W2": (H, 2), "b2": (2,)}
    offsets = {"W1": 0, "b1": 2 * H, "W2": 3 * H, "b2": 5 * H}
    idx = (i,) if j is None else (i, int(j))
    if len(idx) != len(shapes[group]) or any(k >= n for k, n in zip(idx, shapes[group])):
        raise SpecError(where, f"{name!r} is out of range for {group} shaped {shapes[group]}")
    flat = idx[0] if len(idx) == 1 else idx[0] * shapes[group][1] + idx[1]
    return offsets[group] + flat


@dataclass(frozen=True)
class Training:
    rule: str = "seed"
    lr: float = 5.0
    steps: int = 100
    dtype: str = "float64"
    arith: str = "exact"
    hidden: int = 3
    record_every: int = 0
    h: float = 1e-4

    @classmethod
    def from_dict(cls, d):
        w = "training"
        _known(d, [f.name for f in cls.__dataclass_fields__.values()], w)
        return cls(
            rule=_choice(d.get("rule", "seed"), RULES, f"{w}.rule"),
            lr=_number(d.get("lr", 5.0), f"{w}.lr", lo=0, lo_open=True),
            steps=_number(d.get("steps", 100), f"{w}.steps", lo=0, hi=10**9, integer=True),
            dtype=_choice(d.get("dtype", "float64"), DTYPES, f"{w}.dtype"),
            arith=_choice(d.get("arith", "exact"), ARITHS, f"{w}.arith"),
            hidden=_number(d.get("hidden", 3), f"{w}.hidden", lo=1, hi=64, integer=True),
            record_every=_number(d.get("record_every", 0), f"{w}.record_every", lo=0, integer=True),
            h=_number(d.get("h", 1e-4), f"{w}.h", lo=0, lo_open=True),
        )


@dataclass(frozen=True)
class Start:
    """Literal arrays (W1, W2, optional b1, b2, scale) or ``count`` random starts."""
    W1: tuple | None = None
    W2: tuple | None = None
    b1: tuple | None = None
    b2: tuple | None = None
    scale: float = 1.0
    count: int | None = None
    init_std: float = 0.1
    seed: int = 0

    @property
    def random(self):
        return self.count is not None

    @classmethod
    def from_dict(cls, d, H):
        w = "start"
        if d.get("published") is True:  # interim: the typed spec keeps the flag
            from xorsweep.kernels.vocab import published_start
            pub = published_start()
            d = {**{k: v for k, v in d.items() if k != "published"}, "W1": pub["W1"].tolist(), "W2": pub["W2"].tolist()}
        _known(d, [f.name for f in cls.__dataclass_fields__.values()], w)
        if "count" in d:
            extra = sorted(set(d) & {"W1", "W2", "b1", "b2", "scale"})
            if extra:
                raise SpecError(f"{w}.{extra[0]}", "cannot be combined with start.count (random starts)")
            return cls(count=_number(d["count"], f"{w}.count", lo=1, hi=MAX_CELLS, integer=True),
                       init_std=_number(d.get("init_std", 0.1), f"{w}.init_std", lo=0),
                       seed=_number(d.get("seed", 0), f"{w}.seed", lo=0, hi=2**63 - 1, integer=True))
        for k in ("init_std", "seed"):
            if k in d:
                raise SpecError(f"{w}.{k}", "only applies to random starts (start.count)")
        for k in ("W1", "W2"):
            if k not in d:
                raise SpecError(w, f"needs {k} (or count for random starts)")
        return cls(W1=_matrix(d["W1"], (2, H), f"{w}.W1"), W2=_matrix(d["W2"], (H, 2), f"{w}.W2"),
                   b1=_matrix(d["b1"], (H,), f"{w}.b1") if "b1" in d else None,
                   b2=_matrix(d["b2"], (2,), f"{w}.b2") if "b2" in d else None,
                   scale=_number(d.get("scale", 1.0), f"{w}.scale"))


def _decimal(v, where):
    if v == "none":
        return "none"
    return _number(v, where, lo=0, hi=20, integer=True)


def _direction_source(d, H, where):
    """A parameter name, or {seed = N} for a seeded random unit direction."""
    if isinstance(d, str):
        parse_param(d, H, where)
        return d
    _known(d, ["seed"], where)
    return {"seed": _number(d.get("seed", 0), f"{where}.seed", lo=0, hi=2**63 - 1, integer=True)}


@dataclass(frozen=True)
class Axes:
    decimals: tuple | None = None
    decimals_biases: bool = False
    eps: tuple | None = None
    direction: tuple | dict | None = None  # tuple of names, or {"count": n, "seed": s}
    slice: dict | None = None
    settings: dict = field(default_factory=dict)  # name -> tuple of values

    @classmethod
    def from_dict(cls, d, H):
        w = "axes"
        _known(d, ["decimals", "eps", "direction", "slice", *SETTING_AXES], w)
        if not d:
            raise SpecError(w, "is empty: give at least one axis (or leave out [axes])")
        out = {}
        if "decimals" in d:
            t = d["decimals"]
            _known(t, ["values", "biases"], f"{w}.decimals")
            out["decimals"] = _values(t.get("values"), f"{w}.decimals.values", _decimal)
            b = t.get("biases", False)
            if not isinstance(b, bool):
                raise SpecError(f"{w}.decimals.biases", f"must be true or false, got {b!r}")
            out["decimals_biases"] = b
        if ("eps" in d) != ("direction" in d):
            raise SpecError(w, "eps and direction go together: give both axes.eps and axes.direction")
        if "eps" in d:
            out["eps"] = _eps(d["eps"], f"{w}.eps")
            out["direction"] = _direction(d["direction"], H, f"{w}.direction")
        if "slice" in d:
            out["slice"] = _slice(d["slice"], H, f"{w}.slice")
        settings = {}
        items = {"rule": lambda v, x: _choice(v, RULES, x), "dtype": lambda v, x: _choice(v, DTYPES, x),
                 "arith": lambda v, x: _choice(v, ARITHS, x), "lr": lambda v, x: _number(v, x, lo=0, lo_open=True),
                 "steps": lambda v, x: _number(v, x, lo=0, hi=10**9, integer=True)}
        for name in SETTING_AXES:
            if name in d:
                t = d[name]
                _known(t, ["values"], f"{w}.{name}")
                settings[name] = _values(t.get("values"), f"{w}.{name}.values", items[name])
        out["settings"] = settings
        return cls(**out)


def _eps(t, where):
    _known(t, ["values", "min", "max", "num"], where)
    if "values" in t:
        if set(t) - {"values"}:
            raise SpecError(where, "give either values or min/max/num")
        vals = _values(t["values"], f"{where}.values", lambda v, x: _number(v, x, lo=0, lo_open=True))
    else:
        for k in ("min", "max", "num"):
            if k not in t:
                raise SpecError(where, f"needs values, or min, max and num (missing {k})")
        lo = _number(t["min"], f"{where}.min", lo=0, lo_open=True)
        hi = _number(t["max"], f"{where}.max", lo=lo)
        num = _number(t["num"], f"{where}.num", lo=1, hi=10**6, integer=True)
        vals = tuple(float(v) for v in _logspace(lo, hi, num))
    if min(vals) < 1e-300:
        raise SpecError(where, "values must be >= 1e-300")
    return vals


def _logspace(lo, hi, num):
    if num == 1:
        return [lo]
    a, b = math.log10(lo), math.log10(hi)
    return [10 ** (a + (b - a) * i / (num - 1)) for i in range(num)]


def _direction(t, H, where):
    _known(t, ["names", "count", "seed"], where)
    if "names" in t:
        if set(t) - {"names"}:
            raise SpecError(where, "give either names or count/seed")
        names = _values(t["names"], f"{where}.names", lambda v, x: v)
        for i, n in enumerate(names):
            parse_param(n, H, f"{where}.names[{i}]")
        return names
    if "count" not in t:
        raise SpecError(where, "needs names, or count (seeded random unit directions)")
    return {"count": _number(t["count"], f"{where}.count", lo=1, hi=10**7, integer=True),
            "seed": _number(t.get("seed", 0), f"{where}.seed", lo=0, hi=2**63 - 1, integer=True)}


def _slice(t, H, where):
    _known(t, ["u", "v", "a", "b", "resolution"], where)
    out = {}
    for k in ("u", "v"):
        if k not in t:
            raise SpecError(where, f"needs {k} (a parameter name like 'W1[0,0]' or {{seed = 1}})")
        out[k] = _direction_source(t[k], H, f"{where}.{k}")
    if out["u"] == out["v"]:
        raise SpecError(where, "u and v must differ")
    for k in ("a", "b"):
        v = t.get(k, [-1.0, 1.0])
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise SpecError(f"{where}.{k}", f"must be [low, high], got {v!r}")
        lo, hi = (_number(x, f"{where}.{k}[{i}]") for i, x in enumerate(v))
        if not lo < hi:
            raise SpecError(f"{where}.{k}", f"low must be < high, got {v!r}")
        out[k] = (lo, hi)
    res = t.get("resolution", [64, 64])
    if isinstance(res, int) and not isinstance(res, bool):
        res = [res, res]
    if not isinstance(res, (list, tuple)) or len(res) != 2:
        raise SpecError(f"{where}.resolution", f"must be [na, nb] or one integer, got {res!r}")
    out["resolution"] = tuple(_number(x, f"{where}.resolution[{i}]", lo=1, hi=2**20, integer=True)
                              for i, x in enumerate(res))
    return out


@dataclass(frozen=True)
class Spec:
    training: Training
    start: Start
    axes: Axes
    block: int = 4096
    name: str = ""

    @classmethod
    def from_dict(cls, d):
        _known(d, ["name", "training", "start", "axes", "execution"], "spec")
        if "start" not in d:
            raise SpecError("start", "missing: give literal W1/W2 or a random count")
        training = Training.from_dict(d.get("training", {}))
        start = Start.from_dict(d["start"], training.hidden)
        axes = Axes.from_dict(d["axes"], training.hidden) if "axes" in d else Axes()
        ex = d.get("execution", {})
        _known(ex, ["block"], "execution")
        block = _number(ex.get("block", 4096), "execution.block", lo=1, hi=2**24, integer=True)
        name = d.get("name", "")
        if not isinstance(name, str):
            raise SpecError("name", f"must be a string, got {name!r}")
        spec = cls(training, start, axes, block, name)
        cells = spec.cells
        if cells > MAX_CELLS:
            raise SpecError("axes", f"the grid has {cells:.3g} cells, more than the limit {MAX_CELLS:.3g}")
        return spec

    @classmethod
    def from_toml(cls, path):
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read spec {path}: {e.strerror if isinstance(e, OSError) else e}") from None
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"spec {path} is not valid TOML: {e}") from None
        return cls.from_dict(d)

    def to_dict(self):
        """Plain data; from_dict(to_dict()) == self."""
        t = asdict(self.training)
        s = {k: _lists(v) for k, v in asdict(self.start).items() if v is not None}
        if self.start.random:
            s = {k: s[k] for k in ("count", "init_std", "seed")}
        else:
            s.pop("init_std"), s.pop("seed")
        a = {}
        ax = self.axes
        if ax.decimals is not None:
            a["decimals"] = {"values": list(ax.decimals), "biases": ax.decimals_biases}
        if ax.eps is not None:
            a["eps"] = {"values": list(ax.eps)}
            a["direction"] = {"names": list(ax.direction)} if isinstance(ax.direction, tuple) else dict(ax.direction)
        if ax.slice is not None:
            a["slice"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in ax.slice.items()}
        for k, v in ax.settings.items():
            a[k] = {"values": list(v)}
        d = {"name": self.name, "training": t, "start": s, "execution": {"block": self.block}}
        if a:
            d["axes"] = a
        return d

    def identity(self):
        """The parts that decide every stored value (not the block size nor the name)."""
        d = self.to_dict()
        d.pop("execution"), d.pop("name")
        return d

    def hash(self):
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def cells(self):
        from xorsweep.sweep.grid import Grid
        return Grid(self).cells


def _lists(v):
    return [_lists(x) for x in v] if isinstance(v, tuple) else v


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
