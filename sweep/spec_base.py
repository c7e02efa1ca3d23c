"""The spec's building blocks: a frozen, strict model base whose validation errors become
one-line ``SpecError``s naming the field by its dotted path, and the field types it uses.

Every spec class is a pydantic model that knows where it sits in a spec (``_at``, e.g.
"axes.slice"), so an error reads the same whether the class was built from TOML, a dict
or keyword arguments. Checks that need more than one field raise ``Bad(where, message)``
with ``where`` relative to the class; pydantic's own errors are reworded here.
"""
from __future__ import annotations

import difflib
import math
import numbers
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from xorsweep.sweep.errors import UserError


class SpecError(UserError):
    """A spec the user wrote is wrong: one line, ``spec: <dotted path>: <what is wrong>``."""

    def __init__(self, where, message=None):
        if message is None:  # a whole message (errors about the file, not a field)
            super().__init__(where)
        else:
            super().__init__(f"spec: {where}: {message}" if where else f"spec: {message}")


class Bad(ValueError):
    """Raised inside validators: ``where`` is relative to the class being validated."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where, self.message = where, message


def join(*parts) -> str:
    out = ""
    for p in parts:
        p = f"[{p}]" if isinstance(p, int) else str(p)
        if p.startswith("<"):  # union tags are not part of the user's path
            continue
        out = p if not out else out + p if p.startswith("[") or not p else f"{out}.{p}"
    return out


_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


def _reword(err: dict) -> str:
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        return f"must be {op} {ctx[key]}, got {got!r}"
    if kind == "too_short":
        return "must be a non-empty list" if ctx.get("min_length") == 1 else f"needs {ctx['min_length']} entries"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}, got {got!r}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {got!r}"
    if kind == "bool_type":
        return f"must be true or false, got {got!r}"
    if kind == "string_type":
        return f"must be a string, got {got!r}"
    return f"{err['msg'][0].lower()}{err['msg'][1:]}, got {got!r}"


def first_error(e: ValidationError) -> tuple[str, str]:
    """(dotted path relative to the validated class, message) of pydantic's first error."""
    err = e.errors(include_url=False)[0]
    where = join(*err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Bad):
        return join(where, cause.where), cause.message
    return where, _reword(err)


def unknown_key(key, known) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return f"unknown key {key!r} ({hint})"


class Model(BaseModel):
    """Frozen, no unknown keys, validated however it is built; errors are ``SpecError``s."""
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=False)
    _at: ClassVar[str] = ""  # dotted path of this class in a spec
    _aliases: ClassVar[tuple] = ()  # input keys that ``_prepare`` turns into fields

    def __init__(self, /, **data):
        try:
            super().__init__(**data)
        except ValidationError as e:
            where, message = first_error(e)
            raise SpecError(join(self._at, where), message) from None

    # nested models are still built by pydantic's core, so errors keep their full path
    __init__.__pydantic_base_init__ = True

    @classmethod
    def model_validate(cls, obj, **kwargs):
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as e:
            where, message = first_error(e)
            raise SpecError(join(cls._at, where), message) from None

    @classmethod
    def from_dict(cls, d):
        return cls.model_validate(d)

    @model_validator(mode="before")
    @classmethod
    def _table(cls, data):
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise Bad("", f"must be a table, got {type(data).__name__}")
        known = [*cls.model_fields, *cls._aliases]
        for k in data:
            if k not in known:
                raise Bad("", unknown_key(k, known))
        data = cls._prepare(dict(data))
        for k, f in cls.model_fields.items():
            if f.is_required() and k not in data:
                raise Bad(k, f"missing: {f.description}")
        return data

    @classmethod
    def _prepare(cls, d: dict) -> dict:
        """Turn the input table into field values (defaults that depend on other keys...)."""
        return d

    def to_dict(self) -> dict:
        """Plain data (lists, not tuples); ``from_dict(to_dict()) == self``."""
        return {k: plain(getattr(self, k)) for k in type(self).model_fields if getattr(self, k) is not None}


def plain(v):
    if isinstance(v, Model):
        return v.to_dict()
    return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v


# ---- field types: numbers are numbers (no bools, no strings), floats are finite ----------
def number(v, where=""):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise Bad(where, f"must be a number, got {v!r}")
    if not math.isfinite(v):
        raise Bad(where, f"must be finite, got {v!r}")
    return float(v)


def integer(v, where=""):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise Bad(where, f"must be an integer, got {v!r}")
    return int(v)


def table_value(d: dict, key: str, convert, lo=None, hi=None, lo_open=False):
    """d[key] converted and bounded, for checks done before pydantic sees the table."""
    v = convert(d[key], key)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise Bad(key, f"must be {'>' if lo_open else '>='} {lo}, got {v!r}")
    if hi is not None and v > hi:
        raise Bad(key, f"must be <= {hi}, got {v!r}")
    return v


def Num(**bounds):
    """A finite float with pydantic bounds (gt, ge, le), e.g. ``Num(gt=0)``."""
    return Annotated[float, Field(**bounds), BeforeValidator(number)]


def Int(**bounds):
    """An int (no bool, no float) with pydantic bounds, e.g. ``Int(ge=1, le=64)``."""
    return Annotated[int, Field(**bounds), BeforeValidator(integer)]


Number, Integer = Num(), Int()
