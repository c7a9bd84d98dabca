"""Plain records: standard dataclasses with the pydantic-style methods the host and plugins call.

The contract's small records (a principal, a config issue, a feature, a health result) and the
host's status report are built by every command, `atom-host plugins` included, and importing
pydantic alone takes longer than that whole command may. So they are standard dataclasses:
building, reading and printing them needs nothing beyond the standard library, while pydantic
and FastAPI still validate them, serialise them and describe them in the OpenAPI document (a
field's `metadata` carries its `description`, `examples` and `exclude`, as `Field` would).

`model_validate`, `model_dump` and `model_copy` answer as pydantic's do for the types these
records hold (strings, numbers, booleans, enums, datetimes, optionals, lists, dicts and other
records), so code written against pydantic models keeps working.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Literal, Self

_MISSING = dataclasses.MISSING


class RecordError(ValueError):
    """A value does not fit a record; the message names each field at fault and why."""


class Record:
    """Base of the plain records; subclasses are `@dataclass`es."""

    # Field name -> resolved type, read from the annotations on first validation.
    _types: ClassVar[dict[type, dict[str, Any]]] = {}

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        """`value` as this record: an instance is returned as it is; a mapping is checked
        field by field (RecordError lists every problem); anything else is refused."""
        if isinstance(value, cls):
            return value
        problems: list[str] = []
        built = _build(cls, value, (), problems)
        if problems:
            raise RecordError(f"invalid {cls.__name__}: " + "; ".join(problems))
        return typing.cast(Self, built)

    def model_dump(
        self, *, mode: Literal["python", "json"] = "python", exclude_none: bool = False
    ) -> dict[str, Any]:
        """The record as a dict, nested records included; fields marked `exclude` are left
        out. `mode="json"` gives what JSON holds: enum values, ISO 8601 datetimes."""
        return typing.cast(dict[str, Any], _dump(self, mode == "json", exclude_none))

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A shallow copy with `update`'s fields replaced (not validated, as in pydantic)."""
        duplicate = copy.copy(self)
        for name, value in (update or {}).items():
            object.__setattr__(duplicate, name, value)
        return duplicate


def about(description: str | None = None, **more: Any) -> dict[str, Any]:
    """A record field's `metadata` as pydantic reads it: `Field`'s own arguments
    (`description`, `examples`, `exclude`)."""
    return {"description": description, **more} if description is not None else more


def to_jsonable(value: Any) -> Any:
    """`value` (records, lists, dicts, enums, datetimes, plain values) as JSON holds it, the
    way pydantic's `model_dump(mode="json")` writes it."""
    return _dump(value, True, False)


def _dump(value: Any, json: bool, exclude_none: bool) -> Any:
    if isinstance(value, Record):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(typing.cast(Any, value)):
            if f.metadata.get("exclude"):
                continue
            item = getattr(value, f.name)
            if item is None and exclude_none:
                continue
            out[f.name] = _dump(item, json, exclude_none)
        return out
    if isinstance(value, list | tuple):
        return [_dump(v, json, exclude_none) for v in value]
    if isinstance(value, dict):
        return {(str(k) if json else k): _dump(v, json, exclude_none) for k, v in value.items()}
    if not json:
        return value
    if isinstance(value, Enum):
        return _dump(value.value, json, exclude_none)
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value


# --------------------------------------------------------------------------- validation


def _field_types(cls: type) -> dict[str, Any]:
    known = Record._types.get(cls)
    if known is None:
        known = typing.get_type_hints(cls)
        Record._types[cls] = known
    return known


def _where(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top)"


def _build(cls: type, value: Any, loc: tuple[str | int, ...], problems: list[str]) -> Any:
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        problems.append(
            f"{_where(loc)}: Input should be a valid dictionary or instance of {cls.__name__}"
        )
        return None
    hints = _field_types(cls)
    kwargs: dict[str, Any] = {}
    before = len(problems)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name not in value:
            if f.default is _MISSING and f.default_factory is _MISSING:
                problems.append(f"{_where((*loc, f.name))}: Field required")
            continue
        kwargs[f.name] = _check(hints[f.name], value[f.name], (*loc, f.name), problems)
    if len(problems) > before:
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        problems.append(f"{_where(loc)}: {exc}")
        return None


def _check(tp: Any, value: Any, loc: tuple[str | int, ...], problems: list[str]) -> Any:
    """`value` checked against the type `tp` (and converted where pydantic would: a str to
    its enum, a mapping to its record, an int to a float); a problem is added when it does
    not fit."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            trial: list[str] = []
            checked = _check(option, value, loc, trial)
            if not trial:
                return checked
        return _check(next(o for o in options if o is not type(None)), value, loc, problems)
    if origin is list:
        if not isinstance(value, list | tuple):
            problems.append(f"{_where(loc)}: Input should be a valid list")
            return value
        (item,) = typing.get_args(tp)
        return [_check(item, v, (*loc, i), problems) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            problems.append(f"{_where(loc)}: Input should be a valid dictionary")
            return value
        key_type, item_type = typing.get_args(tp)
        return {
            _check(key_type, k, (*loc, str(k)), problems): _check(
                item_type, v, (*loc, str(k)), problems
            )
            for k, v in value.items()
        }
    if isinstance(tp, type) and issubclass(tp, Record):
        return _build(tp, value, loc, problems)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            choices = [repr(m.value) for m in tp]
            expected = " or ".join(
                [", ".join(choices[:-1]), choices[-1]] if len(choices) > 1 else choices
            )
            problems.append(f"{_where(loc)}: Input should be {expected}")
            return value
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{_where(loc)}: Input should be a valid boolean")
        return value
    if tp is str:
        if not isinstance(value, str):
            problems.append(f"{_where(loc)}: Input should be a valid string")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{_where(loc)}: Input should be a valid integer")
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{_where(loc)}: Input should be a valid number")
            return value
        return float(value)
    if tp is datetime:
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        if not isinstance(value, datetime):
            problems.append(f"{_where(loc)}: Input should be a valid datetime")
        return value
    raise TypeError(f"records cannot hold {tp!r}")
