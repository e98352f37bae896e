"""Typed values out of raw TOML data, for every config probe reads (profiles, check configs).

Each reader method returns the value in its type or raises one `ConfigError` that names the file
and the dotted key, so a user learns exactly which line to fix. Whatever the data: a number a
file can make huge (a 400-digit integer, a size or duration string of a million digits) is
refused before a float or int conversion can overflow, and a value or key echoed in an error is
quoted, its control characters escaped, and cut, so the error stays one short line.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

from probe.errors import ConfigError

DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?", re.I)
SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?", re.I)
SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6,
              "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30}  # fmt: skip
MAX_BYTES = 10**12
MAX_NUMBER_CHARS = 20  # of the number in a size or duration string


def shown(value: object, limit: int = 60) -> str:
    """A value from a file or a caller, quoted for one line of an error: control characters
    escaped (repr), cut to `limit` characters."""
    text = str(value)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def key_shown(name: str) -> str:
    """A key as it goes into an error's dotted key: as is when it is a plain word, else quoted
    and cut like a value."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]{1,60}", name) else shown(name)


def number_shown(number: int, *, grouped: bool = True) -> str:
    """An integer for an error line (thousands grouped or not), or its length when huge."""
    if abs(number) < 10**18:
        return f"{number:,}" if grouped else str(number)
    return f"a {len(str(abs(number))):,}-digit number"


def blank(text: str) -> bool:
    """White space or a control character: what cannot stand in an SMTP command's argument."""
    return any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text)


def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip


class Values:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.source, key=key)

    def table(self, value: Any, key: str, known: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {type_name(value)}")
        for name in value:
            if name not in known:
                where = f"{key}.{key_shown(name)}" if key else key_shown(name)
                raise self.fail(where, f"unknown key (known: {', '.join(known)})")
        return value

    def typed(self, value: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise self.fail(key, f"expected {what}, got {type_name(value)}")
        return value

    def text(self, value: Any, key: str) -> str:
        return str(self.typed(value, key, str, "a string"))

    def line(self, value: Any, key: str, limit: int) -> str:
        """A string of one line (no control characters) of at most `limit` characters."""
        text = self.text(value, key)
        if len(text) > limit or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise self.fail(key, f"must be one line of at most {limit} characters")
        return text

    def count(self, items: list[Any], key: str, limit: int, what: str) -> None:
        """A list of at most `limit` items."""
        if len(items) > limit:
            raise self.fail(key, f"{len(items):,} {what} (at most {limit})")

    def integer(self, value: Any, key: str, low: int, high: int) -> int:
        number = int(self.typed(value, key, int, "an integer"))
        if not low <= number <= high:
            shown_number = number_shown(number, grouped=False)
            raise self.fail(key, f"{shown_number} is out of range ({low} .. {high})")
        return number

    def number(self, value: Any, key: str, what: str, bounds: str) -> float:
        """An integer or float as a float; an integer too large for one is out of range."""
        number = self.typed(value, key, (int, float), what)
        if isinstance(number, int) and abs(number) > 10**15:
            raise self.fail(key, f"{number_shown(number)} is out of range ({bounds})")
        return float(number)

    def decimal(self, digits: str, key: str) -> float:
        """The number in a size or duration string (digits and a point, matched already)."""
        if len(digits) > MAX_NUMBER_CHARS:
            raise self.fail(key, f"a number of {len(digits):,} characters is out of range")
        return float(digits)

    def seconds(self, value: Any, key: str, *, zero: bool = False) -> float:
        """A duration (90, '90s', '3m', '1h'); `zero` allows 0 where that makes sense."""
        if isinstance(value, str):
            match = DURATION_RE.fullmatch(value.strip())
            if not match:
                raise self.fail(key, f"bad duration {shown(value)} (e.g. 90, '90s', '3m', '1h')")
            scale = {"": 1, "s": 1, "m": 60, "h": 3600}[(match[2] or "").lower()]
            value = self.decimal(match[1], key) * scale
        bounds = "0 .. 86400" if zero else "more than 0, at most 86400"
        number = self.number(value, key, "a number of seconds", f"{bounds} seconds")
        if not (0 <= number if zero else 0 < number) or number > 86_400:
            raise self.fail(key, f"{number:g} seconds is out of range ({bounds})")
        return number

    def byte_size(self, value: Any, key: str) -> int:
        """A size in bytes: 1048576, '1MiB', '10MB', '20 GB'."""
        if isinstance(value, str):
            match = SIZE_RE.fullmatch(value.strip()[:40])
            if not match:
                raise self.fail(key, f"bad size {shown(value)} (bytes, '100kB', '10MB', '10MiB')")
            value = round(float(match[1]) * SIZE_UNITS[(match[2] or "").lower()])
        size = int(self.typed(value, key, int, "a size"))
        if not 0 < size <= MAX_BYTES:
            raise self.fail(key, f"impossible size {number_shown(size)} (1 .. {MAX_BYTES:,} bytes)")
        return size

    def choice(self, value: Any, key: str, enum_type: type[enum.StrEnum], what: str) -> Any:
        word = self.text(value, key)
        try:
            return enum_type(word)
        except ValueError:
            known = ", ".join(m.value for m in enum_type)
            raise self.fail(key, f"unknown {what} {shown(word)} (known: {known})") from None
