"""Profiles: TOML files naming the variants of a run, its defaults and how findings count.

`parse_profile` is logic over text (tests need no files); `probe.plan.profile_files` finds and
reads the files at the edge. Everything is validated before anything is sent: every mistake
becomes one `ConfigError` line naming the file and the key, e.g.
`profiles/bad.toml: variant[3].attachments[0].kind: unknown attachment kind 'exee' (known: ...)`.

A profile may `extend` others (a name or a path, or a list of them); bases are merged in order
and the profile itself last: defaults and checks key by key, variants by id (later wins, in
place), and `exclude` drops variant ids.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from probe.errors import ConfigError
from probe.model.smtp import Timeouts
from probe.model.variant import (
    AttachmentKind,
    AttachmentSpec,
    Encoding,
    Expect,
    SizeBase,
    VariantSpec,
)
from probe.model.verdict import CHECK_DEFAULTS, CheckLevel
from probe.plan.bounded_toml import read_toml
from probe.plan.craft import minimum_size
from probe.plan.timing import parse_timing, timed_variants
from probe.plan.values import Values, blank, key_shown, number_shown, shown, type_name
from probe.plan.variants import MAX_RECEIVED, MAX_RECIPIENTS, MAX_SIZE, spec_problems

CONTROL = "control"
MAX_VARIANTS = 200  # in one file and merged: every variant is a message sent
MAX_LAYERS = 32  # profile files merged into one (itself, its bases, theirs ...)


# A profile's conversation timeouts unless it says otherwise: generous, since a run waits for
# slow filters (a scanner holds the final reply for minutes).
PROFILE_TIMEOUTS = Timeouts(
    connect=30.0, banner=120.0, command=120.0, tls=120.0, data_block=120.0, final_reply=600.0
)


@dataclasses.dataclass(frozen=True)
class Defaults:
    mail_from: str | None = None  # key "from"; the CLI's --from wins
    helo: str | None = None
    concurrency: int = 4  # conversations at once, in total
    per_host: int = 2  # conversations at once per MX address
    min_interval: float = 0.2  # seconds between connection starts (rate limit)
    retry_for: float = 180.0  # seconds within which 4xx replies are retried
    collect_deadline: float = 600.0  # seconds to wait for copies and bounces
    timeouts: Timeouts = PROFILE_TIMEOUTS


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    description: str
    source: str  # the file it was read from
    defaults: Defaults = Defaults()
    checks: tuple[tuple[str, CheckLevel], ...] = ()  # finding code -> level
    variants: tuple[VariantSpec, ...] = ()
    extends: tuple[str, ...] = ()  # the sources merged into it, bases first

    def check_level(self, code: str) -> CheckLevel:
        """The profile's level for a check, else the check's default level."""
        return dict(self.checks).get(code) or CHECK_DEFAULTS[code]

    def variant(self, variant_id: str) -> VariantSpec:
        for spec in self.variants:
            if spec.id == variant_id:
                return spec
        raise KeyError(variant_id)


# (reference, source of the profile that refers to it) -> (source, text)
Loader = Callable[[str, str], tuple[str, str]]

_TOP = ("name", "description", "extends", "exclude", "defaults", "checks", "variant", "timing")
_DEFAULTS = ("from", "helo", "concurrency", "per_host", "min_interval", "retry_for",
             "collect_deadline", "timeouts")  # fmt: skip
_TIMEOUTS = ("connect", "banner", "command", "data")  # the keys of [defaults.timeouts]
_VARIANT = ("id", "description", "size", "attachments", "encoding", "charset", "line_length",
            "allow_long_lines", "smtputf8", "recipients", "received_headers", "declare_size",
            "headers", "expect")  # fmt: skip
_ATTACHMENT = ("kind", "size", "filename", "encoding")
_INTEGERS = (("recipients", 1, MAX_RECIPIENTS), ("received_headers", 0, MAX_RECEIVED),
             ("line_length", 1, 1_000_000))  # fmt: skip
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib)?", re.I)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6,
          "mib": 2**20}  # fmt: skip
_RELATIVE_RE = re.compile(r"advertised\s*(?:([+-])\s*(\d+))?", re.I)


@dataclasses.dataclass
class _Layer:
    """What one file (or a merge of files) says; only the keys it sets."""

    name: str | None = None
    description: str | None = None
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    timeouts: dict[str, float] = dataclasses.field(default_factory=dict)
    checks: dict[str, CheckLevel] = dataclasses.field(default_factory=dict)
    variants: dict[str, VariantSpec] = dataclasses.field(default_factory=dict)
    exclude: set[str] = dataclasses.field(default_factory=set)
    sources: list[str] = dataclasses.field(default_factory=list)
    timing: dict[str, Any] = dataclasses.field(default_factory=dict)  # [timing], key by key

    def merge(self, top: _Layer) -> _Layer:
        variants = dict(self.variants)
        for key in top.exclude:
            variants.pop(key, None)
        variants.update(top.variants)  # same id: replaced in place; new ids appended
        return _Layer(
            top.name or self.name,
            top.description or self.description,
            {**self.defaults, **top.defaults},
            {**self.timeouts, **top.timeouts},
            {**self.checks, **top.checks},
            variants,
            set(),
            self.sources + [s for s in top.sources if s not in self.sources],
            {**self.timing, **top.timing},
        )


def _timeouts(seconds: Mapping[str, float]) -> Timeouts:
    """[defaults.timeouts] on the conversation's timeouts: `command` also bounds the TLS
    handshake and each block of the upload, `data` is the wait for the final reply."""
    base = PROFILE_TIMEOUTS
    command = seconds.get("command")
    return Timeouts(
        connect=seconds.get("connect", base.connect),
        banner=seconds.get("banner", base.banner),
        command=base.command if command is None else command,
        tls=base.tls if command is None else command,
        data_block=base.data_block if command is None else command,
        final_reply=seconds.get("data", base.final_reply),
    )


def parse_profile(text: str, *, source: str, loader: Loader | None = None) -> Profile:
    """Parse and validate a profile given as TOML text; `loader` fetches what it extends.

    Whatever the text, the result is a Profile or a ConfigError naming the file and the key.
    """
    layer = _load_layer(text, source, loader, (), [0])
    variants = timed_variants(_Parser(source), layer.variants, layer.timing)
    if len(variants) > MAX_VARIANTS:
        message = f"{len(variants):,} variants once merged (at most {MAX_VARIANTS})"
        raise ConfigError(message, path=source, key="variant")
    if CONTROL not in layer.variants:
        raise ConfigError(
            f"no {CONTROL!r} variant (every verdict is a difference against it)",
            path=source,
            key="variant",
        )
    timeouts = _timeouts(layer.timeouts)
    defaults = Defaults(**layer.defaults, timeouts=timeouts)
    name = layer.name or Path(source).stem
    return Profile(
        name=name,
        description=layer.description or "",
        source=source,
        defaults=defaults,
        checks=tuple(sorted(layer.checks.items())),
        variants=variants,
        extends=tuple(layer.sources[:-1]),
    )


def _load_layer(
    text: str, source: str, loader: Loader | None, chain: tuple[str, ...], loaded: list[int]
) -> _Layer:
    """One file merged onto what it extends; `loaded` counts the files read so far, so that
    bases extending the same bases many times over cannot multiply the work."""
    loaded[0] += 1
    if loaded[0] > MAX_LAYERS:
        message = f"more than {MAX_LAYERS} profile files to merge"
        raise ConfigError(message, path=source, key="extends")
    raw = read_toml(text, source)
    own = _Parser(source).layer(raw)
    bases = raw.get("extends", [])
    merged = _Layer()
    for reference in [bases] if isinstance(bases, str) else bases:
        if loader is None:
            raise ConfigError(f"cannot load {shown(reference)} here", path=source, key="extends")
        base_source, base_text = loader(reference, source)
        if base_source in (*chain, source):
            cycle = " -> ".join((*chain, source, base_source))
            raise ConfigError(f"extends cycle: {cycle}", path=source, key="extends")
        base = _load_layer(base_text, base_source, loader, (*chain, source), loaded)
        merged = merged.merge(base)
    return merged.merge(own)


class _Parser(Values):
    """Validates one file's raw TOML data into a `_Layer`; every error names file and key."""

    # ---- sections

    def layer(self, raw: Mapping[str, Any]) -> _Layer:
        self.table(raw, "", _TOP)
        out = _Layer(sources=[self.source])
        if "name" in raw:
            out.name = self.line(raw["name"], "name", 100)
        if "description" in raw:
            out.description = self.line(raw["description"], "description", 1000)
        extends = raw.get("extends", [])
        if not isinstance(extends, str):
            self.typed(extends, "extends", list, "a name or a list")
            self.count(extends, "extends", MAX_LAYERS, "profiles")
            for i, item in enumerate(extends):
                self.text(item, f"extends[{i}]")
        excluded = self.typed(raw.get("exclude", []), "exclude", list, "a list of variant ids")
        self.count(excluded, "exclude", MAX_VARIANTS, "ids")
        out.exclude = {self.text(item, f"exclude[{i}]") for i, item in enumerate(excluded)}
        self.defaults(raw.get("defaults", {}), out)
        if "timing" in raw:
            out.timing = parse_timing(self, raw["timing"])
        checks = raw.get("checks", {})
        if not isinstance(checks, dict):
            raise self.fail("checks", f"expected a table, got {type_name(checks)}")
        for code, level in checks.items():
            if code not in CHECK_DEFAULTS:
                known = ", ".join(sorted(CHECK_DEFAULTS))
                raise self.fail(f"checks.{key_shown(code)}", f"unknown check (known: {known})")
            out.checks[code] = self.choice(level, f"checks.{code}", CheckLevel, "check level")
        variants = self.typed(raw.get("variant", []), "variant", list, "an array of tables")
        self.count(variants, "variant", MAX_VARIANTS, "variants")
        first_at: dict[str, int] = {}
        for i, item in enumerate(variants):
            spec = self.variant(item, f"variant[{i}]")
            if spec.id in first_at:
                message = f"duplicate variant id {spec.id!r} (also variant[{first_at[spec.id]}])"
                raise self.fail(f"variant[{i}].id", message)
            first_at[spec.id] = i
            out.variants[spec.id] = spec
        return out

    def defaults(self, raw: Any, out: _Layer) -> None:
        raw = self.table(raw, "defaults", _DEFAULTS)
        for key, value in raw.items():
            where = f"defaults.{key}"
            if key in ("from", "helo"):
                text = self.text(value, where)
                if key == "from" and (
                    text.count("@") != 1 or any(c in text for c in "<>") or blank(text)
                ):
                    raise self.fail(where, f"not an address: {shown(text)}")
                if key == "from" and len(text) > 254:
                    raise self.fail(where, f"an address of {len(text):,} characters (at most 254)")
                if key == "helo" and (not 0 < len(text) <= 255 or blank(text)):
                    raise self.fail(where, "must be a host name: 1 .. 255 characters, no blanks")
                out.defaults["mail_from" if key == "from" else key] = text
            elif key in ("concurrency", "per_host"):
                out.defaults[key] = self.integer(value, where, 1, 100)
            elif key == "timeouts":
                for name, seconds in self.table(value, where, _TIMEOUTS).items():
                    out.timeouts[name] = self.seconds(seconds, f"{where}.{name}")
            elif key == "min_interval":
                number = self.number(value, where, "a number of seconds", "0 .. 60 seconds")
                if not 0 <= number <= 60:
                    raise self.fail(where, f"{number:g} seconds is out of range (0 .. 60)")
                out.defaults[key] = number
            else:
                out.defaults[key] = self.seconds(value, where, zero=True)

    def variant(self, raw: Any, key: str) -> VariantSpec:
        raw = self.table(raw, key, _VARIANT)
        if "id" not in raw:
            raise self.fail(f"{key}.id", "missing (every variant needs an id)")
        fields: dict[str, Any] = {"id": self.text(raw["id"], f"{key}.id")}
        fields["description"] = self.text(
            raw.get("description", fields["id"]), f"{key}.description"
        )
        for name in ("allow_long_lines", "smtputf8", "declare_size"):
            if name in raw:
                fields[name] = self.typed(raw[name], f"{key}.{name}", bool, "true or false")
        for name, low, high in _INTEGERS:
            if name in raw:
                fields[name] = self.integer(raw[name], f"{key}.{name}", low, high)
        if "charset" in raw:
            fields["charset"] = self.text(raw["charset"], f"{key}.charset").lower()
        if "encoding" in raw:
            fields["encoding"] = self.choice(
                raw["encoding"], f"{key}.encoding", Encoding, "encoding"
            )
        if "expect" in raw:
            fields["expect"] = self.choice(raw["expect"], f"{key}.expect", Expect, "expectation")
        if "headers" in raw:
            headers = raw["headers"]
            if not isinstance(headers, dict):
                raise self.fail(f"{key}.headers", f"expected a table, got {type_name(headers)}")
            fields["headers"] = tuple(
                (name, self.text(value, f"{key}.headers.{key_shown(name)}"))
                for name, value in headers.items()
            )
        if "size" in raw:
            fields.update(self.size(raw["size"], f"{key}.size"))
        items = self.typed(raw.get("attachments", []), f"{key}.attachments", list, "a list")
        fields["attachments"] = tuple(
            self.attachment(item, f"{key}.attachments[{i}]") for i, item in enumerate(items)
        )
        spec = VariantSpec(**fields)
        for where, message in spec_problems(spec):
            raise self.fail(f"{key}.{where}", message)
        if spec.size is not None:
            floor = minimum_size(spec)
            if spec.size < floor:
                raise self.fail(f"{key}.size", f"{spec.size:,} bytes is below this variant's "
                                f"minimum of about {floor:,} bytes")  # fmt: skip
        return spec

    def size(self, value: Any, key: str) -> dict[str, Any]:
        """An exact size (bytes, or '100kB', '1MB', '10MiB') or 'advertised[+-N]'."""
        if isinstance(value, str):
            relative = _RELATIVE_RE.fullmatch(value.strip())
            if relative:
                offset = int(self.decimal(relative[2] or "0", key))
                if offset > MAX_SIZE:
                    raise self.fail(key, f"an offset of {offset:,} bytes is out of range "
                                    f"(at most {MAX_SIZE:,})")  # fmt: skip
                offset *= -1 if relative[1] == "-" else 1
                return {"size_relative": SizeBase.ADVERTISED, "size_offset": offset}
            match = _SIZE_RE.fullmatch(value.strip())
            if not match:
                raise self.fail(key, f"bad size {shown(value)} (bytes, '100kB', '1MB', '10MiB', "
                                "'advertised', 'advertised+1')")  # fmt: skip
            value = self.decimal(match[1], key) * _UNITS[(match[2] or "").lower()]
            if value != int(value):
                raise self.fail(key, f"size {shown(match[0])} is not a whole number of bytes")
            value = int(value)
        size = int(self.typed(value, key, int, "a size"))
        if not 0 < size <= MAX_SIZE:
            raise self.fail(key, f"impossible size {number_shown(size)} (1 .. {MAX_SIZE:,} bytes)")
        return {"size": size}

    def attachment(self, raw: Any, key: str) -> AttachmentSpec:
        if isinstance(raw, str):
            raw = {"kind": raw}
        raw = self.table(raw, key, _ATTACHMENT)
        if "kind" not in raw:
            raise self.fail(f"{key}.kind", "missing")
        fields: dict[str, Any] = {
            "kind": self.choice(raw["kind"], f"{key}.kind", AttachmentKind, "attachment kind")
        }
        if "size" in raw:
            sized = self.size(raw["size"], f"{key}.size")
            if "size" not in sized:
                raise self.fail(f"{key}.size", "an attachment size must be exact")
            fields["size"] = sized["size"]
        if "filename" in raw:
            fields["filename"] = self.text(raw["filename"], f"{key}.filename")
        if "encoding" in raw:
            fields["encoding"] = self.choice(
                raw["encoding"], f"{key}.encoding", Encoding, "encoding"
            )
        return AttachmentSpec(**fields)

