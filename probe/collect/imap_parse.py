"""IMAP replies as imaplib hands them over, read into plain values (pure, total).

imaplib splits a server's reply into `data` items: bytes lines without the `* TYPE ` prefix,
and `(prefix, literal)` tuples where the line announced a `{size}` literal. Each function here
takes such items (or one raw line) and returns a value for any input: a hostile or broken
server gives an empty result, a replacement character or a skipped row, never an exception.
Numbers are read only when they are short enough to be UIDs (RFC 3501: 32-bit), so a reply of
thousands of digits cannot reach `int()`. The tests replay a real Dovecot session
(tests/data/imap/dovecot.json) through imaplib.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable

UID_MAX = 2**32 - 1
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) ?(?P<name>.*)$')
_FETCH_UID = re.compile(rb"\bUID (\d{1,10})(?!\d)")
_CHANGE = re.compile(rb"^\* \d{1,10} (?:EXISTS|RECENT)\b")
_UID_TOKEN = re.compile(rb"^\d{1,10}$")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclasses.dataclass(frozen=True)
class ListRow:
    """One `* LIST` reply: flags lower-cased, the hierarchy delimiter, the name as spelled."""

    flags: frozenset[str]
    delimiter: str | None
    name: str  # as the server spells it (modified UTF-7): what SELECT must send back


def list_rows(data: Iterable[object]) -> list[ListRow]:
    """The folders of a LIST reply; rows that are malformed or not ASCII are left out.

    A name the server sent as a literal arrives as `(prefix, name)`. A name outside ASCII breaks
    RFC 3501 (names are modified UTF-7 unless UTF8=ACCEPT was enabled, which probe never does)
    and could not be sent back in SELECT, so such a folder is not searched.
    """
    rows = []
    for item in data:
        literal: bytes | None = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes):
            line = item[0]
            literal = item[1] if isinstance(item[1], bytes) else None
        elif isinstance(item, bytes):
            line = item
        else:
            continue
        m = _LIST_LINE.match(line)
        if not m:
            continue
        name = (
            literal.decode("ascii", "replace") if literal is not None else unquote(m.group("name"))
        )
        if not name or not name.isascii():
            continue
        flags = frozenset(f.lower() for f in m.group("flags").decode("ascii", "replace").split())
        delim = None if m.group("delim") == b"NIL" else unquote(m.group("delim"))
        rows.append(ListRow(flags, delim, name))
    return rows


def capabilities(data: Iterable[object]) -> frozenset[str]:
    """The capability atoms of the last line of a CAPABILITY reply (bytes outside ASCII become
    U+FFFD: such an atom matches nothing probe looks for)."""
    lines = [item for item in data if isinstance(item, bytes)]
    if not lines:
        return frozenset()
    return frozenset(lines[-1].decode("ascii", "replace").upper().split())


def search_uids(data: Iterable[object]) -> set[int]:
    """The UIDs of a `UID SEARCH` reply (tokens that are not 32-bit numbers are ignored)."""
    uids: set[int] = set()
    for chunk in data:
        if not isinstance(chunk, bytes):
            continue
        for token in chunk.split():
            if _UID_TOKEN.match(token) and 0 < (uid := int(token)) <= UID_MAX:
                uids.add(uid)
    return uids


def fetched(data: Iterable[object]) -> list[tuple[int, bytes]]:
    """(uid, raw) pairs from a FETCH reply, wherever the server put the UID item.

    Dovecot sends `* 1 FETCH (UID 7 BODY[] {n}`, the literal, then `)`; other servers put the
    UID after the literal (`BODY[] {n}`, literal, ` UID 7)`), which imaplib gives as the next
    bytes item.
    """
    out: list[tuple[int, bytes]] = []
    pending: bytes | None = None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            prefix, raw = item
            uid = _uid_in(prefix)
            if uid is not None and isinstance(raw, bytes):
                out.append((uid, raw))
                pending = None
            else:
                pending = raw if isinstance(raw, bytes) else None
        elif isinstance(item, bytes) and pending is not None:
            uid = _uid_in(item)
            if uid is not None:
                out.append((uid, pending))
            pending = None
    return out


def _uid_in(text: object) -> int | None:
    m = _FETCH_UID.search(text) if isinstance(text, bytes) else None
    if m is None:
        return None
    uid = int(m.group(1))
    return uid if 0 < uid <= UID_MAX else None


def uidvalidity(data: Iterable[object]) -> str:
    """The UIDVALIDITY of a SELECT/EXAMINE (imaplib's `response("UIDVALIDITY")`), "0" if none."""
    for item in data:
        if isinstance(item, bytes) and _UID_TOKEN.match(item.strip()):
            return item.strip().decode("ascii")
    return "0"


def is_change(line: bytes) -> bool:
    """An untagged EXISTS or RECENT line: the folder changed while probe was IDLE."""
    return _CHANGE.match(line) is not None


def announced_literal(line: bytes) -> int | None:
    """The size a reply line announces for the literal that follows (`... {485}`), else None.

    Read as imaplib reads it (digits in braces at the end of the line); a size of more than
    20 digits comes back as 10**20, so the caller refuses it without converting the digits.
    """
    body = line.rstrip(b"\r\n")
    start = body.rfind(b"{") if body.endswith(b"}") else -1
    digits = body[start + 1 : -1]
    if start < 0 or not digits.isdigit():
        return None
    return int(digits) if len(digits) <= 20 else 10**20


def quote(name: str) -> str:
    """A folder name as an IMAP quoted string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(token: bytes) -> str:
    """A quoted string or atom from a reply, as text (invalid UTF-8 becomes U+FFFD)."""
    text = token.decode("utf-8", "replace").strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def decode_mutf7(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 5.1.3) folder names, for display; broken parts stay."""

    def piece(m: re.Match[str]) -> str:
        body = m.group(1)
        if not body:
            return "&"
        b64 = body.replace(",", "/")
        b64 += "=" * (-len(b64) % 4)
        try:
            return base64.b64decode(b64).decode("utf-16-be")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return m.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", piece, name)


def imap_date(when: dt.datetime) -> str:
    """A date as SEARCH SINCE wants it (`1-Dec-2026`)."""
    return f"{when.day}-{_MONTHS[when.month - 1]}-{when.year}"


def reply_text(value: object) -> str:
    """One line of text from an imaplib exception or a reply datum (bytes, str or a list)."""
    if isinstance(value, BaseException):
        args = value.args
        value = args[0] if len(args) == 1 else (str(value) or type(value).__name__)
    if isinstance(value, list | tuple) and value:
        value = value[-1]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())
