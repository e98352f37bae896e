"""The header block of a message: its fields in order, where each sits, RFC 2047 text (pure).

The block of raw bytes is split here rather than by `email`: Python's parser stops at a
malformed line between two Received headers and drops the rest. `header_fields` gives every
well-formed field (linear in the block); `header_block` keeps at most `MAX_FIELDS` fields and
each value up to `MAX_FIELD_LENGTH`, and names the bound it hits (`HeaderBlock.truncated`), for
a reader whose own work grows with them (a trace parses each Received value). `decode_words`
is the one RFC 2047 decoder: total and linear, whatever the charset names and encoded words say.
"""

from __future__ import annotations

import binascii
import bisect
import dataclasses
import email.charset
import email.quoprimime
import re
from collections.abc import Iterator
from email.message import Message
from typing import Final

from probe.model.trace import HeaderPosition

MAX_FIELDS: Final = 10_000  # a real block holds a few dozen; a hostile one is cut here
MAX_FIELD_LENGTH: Final = 65_536  # characters of one unfolded value

_FIELD_RE: Final = re.compile(r"^([!-9;-~]+)[ \t]*:(.*(?:\n[ \t].*)*)", re.M)
_UNFOLD_RE: Final = re.compile(r"\r?\n(?=[ \t])")


@dataclasses.dataclass(frozen=True)
class HeaderBlock:
    """The fields of a header block, and which bounds cut it (empty: none)."""

    fields: tuple[tuple[str, str], ...]
    truncated: tuple[str, ...] = ()  # "header-count", "field-length"


def header_block(message: bytes | Message) -> HeaderBlock:
    """The header fields within the bounds, and the bounds hit."""
    fields: list[tuple[str, str]] = []
    truncated: list[str] = []
    for name, value in _fields(message):
        if len(fields) == MAX_FIELDS:
            truncated.append("header-count")
            break
        if len(value) > MAX_FIELD_LENGTH:
            value = value[:MAX_FIELD_LENGTH]
            if "field-length" not in truncated:
                truncated.append("field-length")
        fields.append((name, value))
    return HeaderBlock(tuple(fields), tuple(truncated))


def header_fields(message: bytes | Message) -> tuple[tuple[str, str], ...]:
    """(name, unfolded value) of every header field, in order; malformed lines are skipped."""
    return tuple(_fields(message))


def _fields(message: bytes | Message) -> Iterator[tuple[str, str]]:
    if isinstance(message, Message):
        for name, value in message.items():
            yield name, _UNFOLD_RE.sub("", str(value)).strip()
    else:
        for match in _FIELD_RE.finditer(_head(message)):  # lazily: a bound may end the scan
            yield match[1], match[2].replace("\n", "").strip()


def header_positions(message: bytes | Message) -> tuple[HeaderPosition, ...]:
    """Every header field with its index and the number of Received headers above it."""
    result = []
    above = 0
    for index, (name, value) in enumerate(header_fields(message)):
        result.append(HeaderPosition(name, value, index, above))
        if name.lower() == "received":
            above += 1
    return tuple(result)


def _head(message: bytes) -> str:
    """The header block as text with LF line ends."""
    head = message[: header_end(message)]
    text = head.decode("utf-8", "replace")
    return text.replace("\r\n", "\n") if "\r" in text else text


def header_end(message: bytes) -> int:
    """Where the first empty line (`\r?\n\r?\n`) starts, or the length: two C-level finds."""
    end = message.find(b"\n\r\n")
    bare = message.find(b"\n\n", 0, len(message) if end < 0 else end + 1)
    if bare >= 0:
        end = bare
    if end < 0:
        return len(message)
    return end - 1 if end and message[end - 1] == 13 else end


# --------------------------------------------------------------------------- RFC 2047

# What `email.header.decode_header` + `make_header` answer for well-formed input, in one linear
# scan (their `=?cs?e?text?=` regex backtracks quadratically on a line of unclosed words) and
# without raising: an unknown or non-ASCII charset name, or bytes its charset cannot decode,
# give the text with U+FFFD for each byte it cannot read; broken base64 leaves the value as
# written.
_ENCODED_START: Final = re.compile(r"=\?([^?]*)\?([qQbB])\?")
_Word = tuple[str, str | None, str | None]  # text, encoding ("q"/"b"/None), charset


def decode_words(value: str) -> str:
    """An RFC 2047 header value as text. Never raises; linear in the length of `value`."""
    if "=?" not in value or not _encoded_words(value):
        return value
    words: list[_Word] = []
    for line in value.splitlines():
        _scan_line(line, words)
    # whitespace between two encoded words is not part of the text
    drop = {
        n - 1
        for n in range(2, len(words))
        if words[n][1] and words[n - 2][1] and words[n - 1][0].isspace()
    }
    # runs collapsed as `decode_header` does: plain words joined by a space, the bytes of
    # consecutive encoded words of one charset joined before they are decoded
    runs: list[tuple[str | bytearray, str | None]] = []
    for n, (text, encoding, charset) in enumerate(words):
        if n in drop:
            continue
        if encoding is None:
            last = runs[-1][0] if runs and runs[-1][1] is None else None
            if isinstance(last, str):
                runs[-1] = (last + " " + text, None)
            else:
                runs.append((text, None))
            continue
        data = _decoded_bytes(text, encoding)
        if data is None:
            return value  # broken base64: as written
        last = runs[-1][0] if runs and runs[-1][1] == charset else None
        if isinstance(last, bytearray):
            last += data
        else:
            runs.append((bytearray(data), charset))
    return _joined(
        [
            (text, None) if isinstance(text, str) else (_decode(text, charset), _canonical(charset))
            for text, charset in runs
        ]
    )


def _scan_line(line: str, words: list[_Word]) -> None:
    """The words of one line as `decode_header` splits it, the encoded ones left encoded."""
    pos = 0
    for start, text_start, end, encoding, charset in _encoded_words(line):
        text = line[pos:start]
        if not pos:
            text = text.lstrip()
        if text:
            words.append((text, None, None))
        words.append((line[text_start:end], encoding, charset))
        pos = end + 2
    text = line[pos:] if pos else line[pos:].lstrip()
    if text:
        words.append((text, None, None))


def _encoded_words(text: str) -> list[tuple[int, int, int, str, str]]:
    """(start, text start, end, encoding, charset) of each `=?cs?e?text?=`, left to right, as
    `email.header.ecre` finds them (the charset may span lines, the text may not)."""
    found: list[tuple[int, int, int, str, str]] = []
    closes = newlines = None
    search = 0
    while (start := text.find("=?", search)) >= 0:
        match = _ENCODED_START.match(text, start)
        search = start + 1
        if match is None:
            continue
        if closes is None or newlines is None:
            closes, newlines = _all(text, "?="), _all(text, "\n")
        k = bisect.bisect_left(closes, match.end())
        if k == len(closes):
            continue
        end = closes[k]
        j = bisect.bisect_left(newlines, match.end())
        if j < len(newlines) and newlines[j] < end:
            continue
        found.append((start, match.end(), end, match[2].lower(), match[1].lower()))
        search = end + 2
    return found


def _all(text: str, needle: str) -> list[int]:
    """Every index where `needle` starts, overlaps included."""
    found = []
    at = text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def _decoded_bytes(text: str, encoding: str) -> bytes | None:
    if encoding == "q":
        return bytes(email.quoprimime.header_decode(text), "raw-unicode-escape")
    text += "==="[: (4 - len(text) % 4) % 4]
    try:
        return binascii.a2b_base64(bytes(text, "raw-unicode-escape"))
    except binascii.Error:
        return None


def _canonical(charset: str | None) -> str | None:
    """The name `email.charset.Charset` gives a charset (None for US-ASCII and plain text)."""
    if charset is None:
        return None
    name = email.charset.ALIASES.get(charset, charset)
    return None if name == "us-ascii" else name


def _decode(data: bytes | bytearray, charset: str | None) -> str:
    name = email.charset.ALIASES.get(charset or "", charset or "us-ascii").partition("*")[0]
    try:  # `*` starts an RFC 2231 language suffix
        return data.decode(email.charset.CODEC_MAP.get(name) or name, "replace")
    except (LookupError, UnicodeError, ValueError):  # unknown-8bit, `=?\xe9?q?x?=`, ...
        return data.decode("ascii", "replace")


def _nonctext(text: str) -> bool:
    return text.isspace() or text in ("(", ")", "\\")


def _joined(chunks: list[tuple[str, str | None]]) -> str:
    """`str(make_header(...))`: runs of one charset joined by a space, and a space wherever
    encoded text meets plain text without one."""
    merged: list[tuple[str, str | None]] = []
    for text, charset in chunks:
        if merged and merged[-1][1] == charset:
            merged[-1] = (merged[-1][0] + " " + text, charset)
        else:
            merged.append((text, charset))
    out: list[str] = []
    last: str | None = None
    last_space = False
    for text, charset in merged:
        current: str | None = charset
        if out:
            has_space = bool(text) and _nonctext(text[0])
            if last is not None:
                if current is None and not has_space:
                    out.append(" ")
                    current = None
            elif current is not None and not last_space:
                out.append(" ")
        last_space = bool(text) and _nonctext(text[-1])
        last = current
        out.append(text)
    return "".join(out)
