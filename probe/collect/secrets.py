"""The IMAP password: from `--password-file` (first line) or `PROBE_IMAP_PASSWORD`.

It travels as a `Secret`, whose repr and str are masked, so a stray log line, exception or
dataclass repr cannot print it; only the IMAP login calls `reveal()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from probe.errors import ConfigError

PASSWORD_ENV: Final = "PROBE_IMAP_PASSWORD"
MASK: Final = "********"


class Secret:
    """A string that does not show itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")


def resolve_password(
    env: str = PASSWORD_ENV,
    file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Secret | None:
    """The password, file first, then the environment; None when neither gives one."""
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
            raise ConfigError(f"cannot read the password file: {reason}", path=str(file)) from None
        lines = text.splitlines()
        value = lines[0].strip() if lines else ""
        if not value:
            raise ConfigError("the password file's first line is empty", path=str(file))
        return Secret(value)
    value = (os.environ if environ is None else environ).get(env, "")
    return Secret(value) if value else None
