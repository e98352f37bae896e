"""Typed values out of raw TOML data, for every config probe reads (profiles, check configs).

Each reader method returns the value in its type or raises one `ConfigError` that names the file
and the dotted key, so a user learns exactly which line to fix.
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
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key (known: {', '.join(known)})")
        return value

    def typed(self, value: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise self.fail(key, f"expected {what}, got {type_name(value)}")
        return value

    def text(self, value: Any, key: str) -> str:
        return str(self.typed(value, key, str, "a string"))

    def integer(self, value: Any, key: str, low: int, high: int) -> int:
        number = int(self.typed(value, key, int, "an integer"))
        if not low <= number <= high:
            raise self.fail(key, f"{number} is out of range ({low} .. {high})")
        return number

    def seconds(self, value: Any, key: str, *, zero: bool = False) -> float:
        """A duration (90, '90s', '3m', '1h'); `zero` allows 0 where that makes sense."""
        if isinstance(value, str):
            match = DURATION_RE.fullmatch(value.strip())
            if not match:
                raise self.fail(key, f"bad duration {value!r} (e.g. 90, '90s', '3m', '1h')")
            scale = {"": 1, "s": 1, "m": 60, "h": 3600}[(match[2] or "").lower()]
            value = float(match[1]) * scale
        number = float(self.typed(value, key, (int, float), "a number of seconds"))
        if not (0 <= number if zero else 0 < number) or number > 86_400:
            bounds = "0 .. 86400" if zero else "more than 0, at most 86400"
            raise self.fail(key, f"{number:g} seconds is out of range ({bounds})")
        return number

    def byte_size(self, value: Any, key: str) -> int:
        """A size in bytes: 1048576, '1MiB', '10MB', '20 GB'."""
        if isinstance(value, str):
            match = SIZE_RE.fullmatch(value.strip()[:40])
            if not match:
                raise self.fail(key, f"bad size {value!r} (bytes, '100kB', '10MB', '10MiB')")
            value = round(float(match[1]) * SIZE_UNITS[(match[2] or "").lower()])
        size = int(self.typed(value, key, int, "a size"))
        if not 0 < size <= MAX_BYTES:
            raise self.fail(key, f"impossible size {size:,} (1 .. {MAX_BYTES:,} bytes)")
        return size

    def choice(self, value: Any, key: str, enum_type: type[enum.StrEnum], what: str) -> Any:
        word = self.text(value, key)
        try:
            return enum_type(word)
        except ValueError:
            known = ", ".join(m.value for m in enum_type)
            raise self.fail(key, f"unknown {what} {word!r} (known: {known})") from None
