"""The JSON projection of results: `to_data`/`from_data` round-trip every frozen result.

Every document written to stdout carries a `schema` field (`probe.<kind>/<version>`); bump the
version on breaking changes. A field declared with `metadata=INLINE` holds a dataclass whose
fields are written into its parent's object (and read back from it), so a result can hold a
smaller one without nesting it in the JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import types
import typing
from typing import Any, Final, TypeVar

from probe.model.status import Status

T = TypeVar("T")
INLINE: Final = types.MappingProxyType({"json": "inline"})


class TextForm:
    """A typed value whose JSON form is one string: `to_data` writes `str(value)`, `from_data`
    reads it back with `from_text` (a hop key is `"front:mx.example.com"` in a document)."""

    __slots__ = ()

    @classmethod
    def from_text(cls, text: str) -> typing.Self:
        raise NotImplementedError


# Per class, its fields as (name, inline): `dataclasses.fields` is slow to ask per object.
_PLANS: dict[type, tuple[tuple[str, bool], ...]] = {}
_PLAIN = (str, int, float, bool, type(None))


def _plan(cls: type) -> tuple[tuple[str, bool], ...]:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = tuple((f.name, is_inline(f)) for f in dataclasses.fields(cls))
        _PLANS[cls] = plan
    return plan


def to_data(obj: Any) -> Any:
    """Project a result into JSON-ready data (dicts, lists, str, int, float, bool, None)."""
    cls = type(obj)
    if cls in _PLAIN:
        return obj
    if isinstance(obj, TextForm):
        return str(obj)
    if cls in _PLANS or (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        out: dict[str, Any] = {}
        for name, inline in _plan(cls):
            value = to_data(getattr(obj, name))
            if inline:
                out.update(value)
            else:
                out[name] = value
        return out
    if isinstance(obj, Status):
        return obj.name  # "CRITICAL" reads better than 2 in a monitoring pipeline
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | frozenset | set):
        return [to_data(v) for v in obj]
    return obj


def document(schema: str, obj: Any) -> dict[str, Any]:
    """A top-level JSON document: the schema name first, then the result's fields."""
    data = to_data(obj)
    if not isinstance(data, dict):
        data = {"result": data}
    return {"schema": schema, **data}


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild a result of type `cls` from `to_data` output (for `probe analyze RUN.json`)."""
    return typing.cast(T, _convert(cls, data))


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value)
            except (TypeError, ValueError, KeyError) as exc:
                errors.append(exc)
        raise ValueError(f"cannot convert {value!r} to {tp}: {errors}")
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if origin in (list, frozenset, set):
        (arg,) = typing.get_args(tp)
        return origin(_convert(arg, v) for v in value)
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {_convert(key_t, k): _convert(val_t, v) for k, v in value.items()}
    if isinstance(tp, type):
        if issubclass(tp, TextForm):
            if not isinstance(value, str):
                raise TypeError(f"expected a string for {tp.__name__}, got {type(value).__name__}")
            return tp.from_text(value)
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise TypeError(f"expected an object for {tp.__name__}, got {type(value).__name__}")
            hints = typing.get_type_hints(tp)
            kwargs = {
                f.name: _convert(hints[f.name], value if is_inline(f) else value[f.name])
                for f in dataclasses.fields(tp)
                if f.init and (f.name in value or is_inline(f))
            }
            return tp(**kwargs)
        if issubclass(tp, Status) and isinstance(value, str):
            return tp[value]
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is dt.datetime:
            return dt.datetime.fromisoformat(value)
        if tp is bytes:
            return base64.b64decode(value)
        if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if tp in (int, str, bool) and isinstance(value, tp):
            return value
        if tp in (int, str, bool, float):
            raise TypeError(f"expected {tp.__name__}, got {type(value).__name__}")
    return value


def is_inline(field: dataclasses.Field[Any]) -> bool:
    return field.metadata.get("json") == "inline"
