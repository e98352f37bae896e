"""The `probe.run/1` document is a contract: a renamed, retyped or dropped field cannot slip by.

Two golden files guard it (tests/data/golden):
- `run.json`, a real run saved from the embedded lab (the checkpoint path: a control, a PDF
  attachment delivered with X-CheckPoint, 1,200 kB rejected with `554 Permanent scan failure`).
  Loading it into the types and writing it out again must give the same document, field for field.
- `run.shape.json`, the shape of every field the types can hold (names, JSON kinds, enum values),
  including the branches the sample run does not reach.
A deliberate schema change updates both: `PROBE_UPDATE_GOLDEN=1 pytest tests/unit/test_golden.py`
rewrites the shape (the sample needs a new run from the lab), and the schema's version goes up
when old documents no longer load.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from probe.model.json import TextForm, document, from_data, is_inline, to_data
from probe.model.run import RUN_SCHEMA, RunResult
from probe.model.status import Status

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def _shape(tp: Any, seen: tuple[type, ...] = ()) -> Any:
    """The JSON shape a type projects to (what `to_data` writes for it)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return "any"
    if origin in (typing.Union, types.UnionType):
        return {"one of": [_shape(a, seen) for a in typing.get_args(tp)]}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return [_shape(args[0], seen)]
        return {"tuple": [_shape(a, seen) for a in args]}
    if origin in (list, frozenset, set):
        return [_shape(typing.get_args(tp)[0], seen)]
    if origin is dict:
        key, value = typing.get_args(tp)
        return {"map": [_shape(key, seen), _shape(value, seen)]}
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and issubclass(tp, TextForm):
        return "str"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp in seen:
            return f"(recursive {tp.__name__})"
        hints = typing.get_type_hints(tp)
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(tp):
            if f.init:
                shape = _shape(hints[f.name], (*seen, tp))
                fields.update(shape if is_inline(f) else {f.name: shape})
        return fields
    if isinstance(tp, type) and issubclass(tp, Status):
        return {"enum": [s.name for s in tp]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if tp is dt.datetime:
        return "datetime"
    if tp is bytes:
        return "base64"
    if isinstance(tp, type):
        return tp.__name__
    return repr(tp)


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / "run.json").read_text())
    return data


def test_the_sample_run_is_a_real_one() -> None:
    data = _sample()
    assert data["schema"] == RUN_SCHEMA
    assert data["status"] == "CRITICAL"
    assert [v["variant"] for v in data["variants"]] == ["control", "attach-pdf", "size-1200k"]
    assert data["decision"]["hops"], "the sample must hold a decision with hops"


def test_the_sample_run_round_trips_field_for_field() -> None:
    data = _sample()
    result = from_data(RunResult, data)
    if os.environ.get("PROBE_UPDATE_GOLDEN"):  # a new field with its default joins the sample
        data = document(RUN_SCHEMA, result)
        (GOLDEN / "run.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    assert document(RUN_SCHEMA, result) == data


def test_every_field_of_the_sample_is_in_the_types() -> None:
    """A field the types no longer have would be dropped silently by `from_data`."""
    shape = _shape(RunResult)

    def walk(value: Any, expected: Any, where: str) -> list[str]:
        if isinstance(expected, dict) and "one of" in expected:
            options = [o for o in expected["one of"] if o != "null"]
            if value is None or not options:
                return []
            best = [walk(value, o, where) for o in options]
            return min(best, key=len)
        if isinstance(value, dict) and isinstance(expected, dict) and "enum" not in expected:
            if "map" in expected:
                return []
            missing = [f"{where}.{k}" for k in value if k not in expected]
            for key, item in value.items():
                if key in expected:
                    missing += walk(item, expected[key], f"{where}.{key}")
            return missing
        if isinstance(value, list) and isinstance(expected, list):
            return [p for i, v in enumerate(value) for p in walk(v, expected[0], f"{where}[{i}]")]
        return []

    assert walk({k: v for k, v in _sample().items() if k != "schema"}, shape, "run") == []


def test_the_shape_of_every_field_is_unchanged() -> None:
    shape = _shape(RunResult)
    path = GOLDEN / "run.shape.json"
    if os.environ.get("PROBE_UPDATE_GOLDEN"):
        path.write_text(json.dumps(shape, indent=1) + "\n")
    assert shape == json.loads(path.read_text()), (
        "the shape of probe.run/1 changed: if the JSON a user gets is the same (e.g. a str field"
        " became an enum of the same values), rerun with PROBE_UPDATE_GOLDEN=1 and commit"
        " tests/data/golden/run.shape.json; if it is not, the change breaks the schema"
    )


def test_to_data_is_json() -> None:
    result = from_data(RunResult, _sample())
    json.dumps(to_data(result))
