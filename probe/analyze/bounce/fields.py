"""What every bounce format shares: status codes, addresses, dates, decoded text (pure)."""

from __future__ import annotations

import datetime as dt
import email.message
import email.utils
import re
from typing import Final

from probe.analyze.headers import decode_words
from probe.model.bounce import StatusClass

ENHANCED: Final = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
SMTP_CODE: Final = re.compile(r"(?<![\w.#/=-])([245]\d\d)(?=[ -]|$)")
# The lookbehind tries a local part only where it starts: a search tried from inside a long run
# of its characters would backtrack across the rest of the run at every position.
ADDRESS: Final = re.compile(
    r"<?(?<![^\s<>\"'(),;:@])([^\s<>\"'(),;:@]+@[A-Za-z0-9.-]+[A-Za-z0-9])>?"
)
LINE_ADDRESS: Final = re.compile(r"\s*<?([^\s<>\"':@]+@[^\s<>\"]+?)>?\"?:?\s*")


def text_of(part: email.message.Message) -> str:
    """A part's payload as text with LF line ends, in its charset (UTF-8 when unknown)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset, "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def status_class(action: str | None, status: str | None, code: int | None) -> StatusClass:
    first = status[0] if status else (str(code)[0] if code else "")
    if action == "delayed":
        return StatusClass.DELAYED
    if action in ("delivered", "relayed", "expanded"):
        return StatusClass.SUCCESS
    if first == "4":
        return StatusClass.TEMPORARY
    if first == "5" or action == "failed":
        return StatusClass.PERMANENT
    return StatusClass.UNKNOWN


def strip_type(value: str | None) -> str | None:
    """`dns; mx.example.net` -> `mx.example.net`; `rfc822; <a@b>` -> `a@b`."""
    if not value:
        return None
    text = value.split(";", 1)[-1].split("(", 1)[0].strip().strip("<>").strip()
    return text or None


def unfold(value: str) -> str:
    """Line breaks and the blanks around them become one space (each run of blanks is read
    once: a pattern of blanks around a line break retried a long run from each position)."""
    return _BLANKS.sub(_one_space, value).strip()


_BLANKS: Final = re.compile(r"\s+")


def _one_space(blanks: re.Match[str]) -> str:
    return " " if "\n" in blanks[0] else blanks[0]


# A reply code where replies start: a line's start, after `;` `:` `#` `(` `[` a quote, `<<<`
# (a transcript), `said` or `returned`; then a blank, `-`, `:` (Yahoo's `550:`), `,` (Zoho's
# `ERROR_CODE :550,`) or the end. A number elsewhere (a size, a port, a date) is not a reply, nor
# one whose second digit is above 5 (RFC 5321 4.2.1: `571 No PTR record` is no reply code).
_REPLY_AT: Final = re.compile(
    r"(?:^|[;:#(\['\"]|<<<|\bsaid|\breturned)[^\S\n]*([245][0-5]\d)(?=[ \t-]|:(?!\d)|,|\.?$)",
    re.M | re.I,
)
# `X-Unix; 255` is an exit status, not a reply.
_EXIT_STATUS: Final = re.compile(r"x-unix;[^\S\n]*$", re.I)


def smtp_code(diagnostic: str | None, *, success: bool = False) -> int | None:
    """The failure's reply code in a diagnostic or a notice: the first 4xx/5xx where a reply
    starts (a `220` banner or a `250` of the transcript is not the failure's), or a 2xx when
    `success` (a positive DSN)."""
    if not diagnostic:
        return None
    for match in _REPLY_AT.finditer(diagnostic):
        if _EXIT_STATUS.search(diagnostic, max(0, match.start(1) - 16), match.start(1)):
            continue
        code = int(match.group(1))
        if code >= 400 or success:
            return code
    return None


def enhanced_in(text: str | None, code: int | None) -> str | None:
    """The first enhanced status code in `text` whose class agrees with the reply `code`."""
    for match in ENHANCED.finditer(text or ""):
        if code is None or match.group(1)[0] == str(code)[0]:
            return match.group(1)
    return None


_LONE_CR: Final = re.compile(rb"\r(?!\n)")
# Three or more line breaks in a row: the stdlib parser makes a sub-message of each blank-line
# block of a delivery-status part, so a run of 30,000 empty lines cost seconds.
_BLANK_RUN: Final = re.compile(rb"(?:\r?\n){3,}")


def line_ends(raw: bytes) -> bytes:
    """CR-only line ends (old Mac mailers, some gateways) as LF, so lines and fields split; a
    run of empty lines as one."""
    if raw.count(b"\r") != raw.count(b"\r\n"):
        raw = _LONE_CR.sub(b"\n", raw)
    if b"\n\n\n" in raw or b"\n\r\n\r\n" in raw:
        raw = _BLANK_RUN.sub(b"\n\n", raw)
    return raw


def decoded(value: object) -> str:
    """A header value as one line of text, RFC 2047 words decoded."""
    return unfold(decode_words(str(value)))


def date_of(value: str | None) -> dt.datetime | None:
    """An RFC 5322 date in UTC (naive ones taken as UTC), or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # 31 Dec 9999 23:59:59 -0100
        return None
