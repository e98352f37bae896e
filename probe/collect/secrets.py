"""The IMAP password: from `--password-file` (first line) or `PROBE_IMAP_PASSWORD`.

It lives in one `Secret`, whose repr and str are masked, from where it is read to the one call
that puts it on the wire (`imap_login`). The wire forms (`imap_quoted`, `sasl_plain`) are built
inside the Secret and come back as memoryviews, whose repr shows no bytes, so no frame between
holds the password in a variable a locals-capturing traceback would print.

A server can echo what it received: raw, IMAP-quoted (`"pw\\"x\\\\z"`), as the base64 AUTH PLAIN
token, re-quoted or split over several quoted strings or lines by its own quoting. A
`Redactor` masks all of these (the password's characters with any run of quotes, backslashes
and white space between them) in the server text that reaches an error, a log or the JSON.
"""

from __future__ import annotations

import binascii
import functools
import hmac
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from probe.errors import ConfigError
from probe.files import Refused, read_regular

PASSWORD_ENV: Final = "PROBE_IMAP_PASSWORD"
MASK: Final = "********"
PASSWORD_FILE_MAX: Final = 64 * 1024
GLUE: Final = frozenset("\\\"' \t\r\n")  # what an echo may put between the characters
_GLUE_RUN = r"[\\\"' \t\r\n]*+"  # possessive: no backtracking, linear in the text
_SHORTEST_TOLERANT = 4  # a shorter password (without glue) is masked only where it is verbatim


class Secret:
    """A string that does not show itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")

    def fits_imap_quoted(self) -> bool:
        """Whether LOGIN can carry it as a quoted string (ASCII without NUL, CR, LF: RFC 3501 9);
        sending CR LF there would end the command and start another."""
        return self._value.isascii() and not any(c in self._value for c in "\0\r\n")

    def imap_quoted(self) -> memoryview:
        """The password as an IMAP quoted string (`"` and `\\` escaped), for LOGIN."""
        return memoryview(
            b'"' + self._value.replace("\\", "\\\\").replace('"', '\\"').encode("ascii") + b'"'
        )

    def sasl_plain(self, user: str) -> memoryview:
        """The AUTHENTICATE PLAIN response (RFC 4616): base64 of `\\0user\\0password`, UTF-8."""
        return memoryview(
            binascii.b2a_base64(
                b"\0" + user.encode("utf-8") + b"\0" + self._value.encode("utf-8"), newline=False
            )
        )

    def matches(self, candidate: bytes) -> bool:
        """Whether `candidate` is this secret (UTF-8), compared in constant time: the token of
        `probe listen`'s records endpoint."""
        return hmac.compare_digest(candidate, self._value.encode("utf-8"))

    def http_bearer(self) -> memoryview:
        """The HTTP Authorization value `Bearer <secret>`, for the records endpoint."""
        return memoryview(b"Bearer " + self._value.encode("utf-8"))

    def long_enough(self, characters: int) -> bool:
        return len(self._value) >= characters

    def redactor(self, user: str = "") -> Redactor:
        """What masks this password (for `user`'s AUTH PLAIN token too) in server text."""
        return Redactor(_pattern(self._value, user))


class Redactor:
    """Masks one password in every form a server could echo; `text` and `data` are C-level
    `re.sub` calls, so the unmasked input never sits in a Python frame of theirs."""

    __slots__ = ("data", "text")

    def __init__(self, pattern: str) -> None:
        self.text: Callable[[str], str]
        self.data: Callable[[bytes], bytes]
        if pattern:
            self.text = functools.partial(re.compile(pattern).sub, MASK)
            self.data = functools.partial(re.compile(pattern.encode()).sub, MASK.encode())
        else:
            self.text, self.data = str, bytes

    def __repr__(self) -> str:
        return f"Redactor({MASK!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Redactor is not pickled")


def _pattern(value: str, user: str) -> str:
    """One regex for every echoed form of `value` (and of the PLAIN token with `user`)."""
    if not value:
        return ""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    verbatim = {value, escaped, escaped.replace("\\", "\\\\").replace('"', '\\"')}
    forms = [_tolerant(value)] if len(_squeezed(value)) >= _SHORTEST_TOLERANT else []
    forms += [re.escape(v) for v in sorted(verbatim, key=len, reverse=True)]
    shown = repr(value.encode("utf-8"))[2:-1]  # how imaplib's messages print reply bytes
    if shown != value and len(_squeezed(shown)) >= _SHORTEST_TOLERANT:
        forms.append(_tolerant(shown))
    token = binascii.b2a_base64(
        b"\0" + user.encode("utf-8") + b"\0" + value.encode("utf-8"), newline=False
    ).decode("ascii")
    tail = token[4 * ((len(user.encode("utf-8")) + 2) // 3) :]  # from the first password byte
    forms += [_tolerant(t) for t in (token, tail) if len(t) >= _SHORTEST_TOLERANT]
    return "|".join(f"(?:{f})" for f in forms)


def _squeezed(text: str) -> str:
    return "".join(c for c in text if c not in GLUE)


def _tolerant(needle: str) -> str:
    """`needle`'s characters with glue allowed between them; overlapping repeats included."""
    chars = _squeezed(needle)
    core = _GLUE_RUN.join(re.escape(c) for c in chars)
    periods = [p for p in range(1, len(chars)) if chars[p:] == chars[:-p]]
    if not periods:
        return core
    tails = "|".join(_GLUE_RUN + _GLUE_RUN.join(re.escape(c) for c in chars[-p:]) for p in periods)
    return f"{core}(?:{tails})*"


def resolve_password(
    env: str = PASSWORD_ENV,
    file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    what: str = "password file",
) -> Secret | None:
    """The password (or `what` else), file first, then the environment; None when neither
    gives one."""
    if file is not None:
        try:
            secret = _first_line(read_regular(file, PASSWORD_FILE_MAX))
        except (Refused, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"cannot read the {what}: {why}", path=str(file)) from None
        except UnicodeDecodeError:
            raise ConfigError(f"cannot read the {what}: not UTF-8", path=str(file)) from None
        if not secret:
            raise ConfigError(f"the {what}'s first line is empty", path=str(file))
        return secret
    secret = Secret((os.environ if environ is None else environ).get(env, ""))
    return secret if secret else None


def _first_line(data: bytes) -> Secret:
    return Secret(next(iter(data.decode("utf-8").splitlines()), "").strip())
