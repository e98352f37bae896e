"""The stdlib MIME parser, bounded: total and linear on any input (pure).

`email` with `compat32` accepts anything, but not in bounded time or depth. Three things are
changed or guarded here, and nothing else (each bound reached is named, see `Message.not_read`):

- Nesting: the parser recurses once per multipart or message part. A message that declares more
  than `MAX_CONTAINERS` of them (counted over the raw bytes, an upper bound of the depth) is read
  by its headers alone, its body one part, so 1,000 nested levels are no RecursionError.
- Parameters: `email.message._parseparam` copies the rest of the field at every `;` and counts
  the quotes before it again, so a 40 kB Content-Type took 13 s. `Message` splits the
  parameters in one pass, with the same result; it reads at most `MAX_PARAMS` of a field, and
  boundaries (which the parser compiles into a regex) of at most `MAX_BOUNDARY` characters.
- Charsets: a part may name any Python codec as its charset; `punycode` decodes in quadratic
  time. `safe_charset` and `slow_codec` keep it out.
"""

from __future__ import annotations

import codecs
import email.message
import email.parser
import email.policy
import email.utils
import itertools
import re
from typing import Any, Final

MAX_CONTAINERS: Final = 64  # multipart and message parts read as a tree
MAX_PARAMS: Final = 256  # parameters read per field (Content-Type, Content-Disposition)
MAX_BOUNDARY: Final = 1000  # characters of a multipart boundary (RFC 2046: at most 70)
MAX_CHARSET_NAME: Final = 64  # longer names are no charset (and are not looked up)
SLOW_CODECS: Final = frozenset({"punycode", "idna"})  # text codecs that are no MIME charset

_CONTAINER: Final = re.compile(rb"(?i)content-type[ \t]*:\s*(?:multipart|message)/")
_QUOTE_OR_SEMICOLON: Final = re.compile(r'[";]')


class Message(email.message.Message):
    """`email.message.Message` with the parameters of a field split in linear time, at most
    `MAX_PARAMS` of them, and boundaries of at most `MAX_BOUNDARY` characters; `not_read`
    names what these bounds left out."""

    not_read: list[str]

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        # Message.get_param, get_params, get_boundary, get_filename and get_content_charset
        # all come here; this is the stdlib method with the split replaced.
        missing = object()
        value = self.get(header, missing)
        if value is missing:
            return failobj
        pieces = split_params(str(value), MAX_PARAMS)
        if len(pieces) > MAX_PARAMS:
            self._not_read(f"{header} parameters beyond the first {MAX_PARAMS} not read")
            del pieces[MAX_PARAMS:]
        params = []
        for p in pieces:
            name, sep, val = p.partition("=")
            params.append((name.strip(), val.strip()) if sep else (p.strip(), ""))
        return [(name, _safe_rfc2231(val)) for name, val in email.utils.decode_params(params)]

    def get_boundary(self, failobj: Any = None) -> Any:
        boundary = super().get_boundary(failobj)
        if isinstance(boundary, str) and len(boundary) > MAX_BOUNDARY:
            self._not_read(f"a boundary of over {MAX_BOUNDARY} characters: its parts not read")
            return failobj
        return boundary

    def _not_read(self, note: str) -> None:
        if not hasattr(self, "not_read"):
            self.not_read = []
        if note not in self.not_read:
            self.not_read.append(note)


def split_params(value: str, limit: int | None = None) -> list[str]:
    """`email.message._parseparam` in one pass: fields split at each `;` outside quotes (a
    quote counts unless a backslash precedes it), names lower-cased before their `=`. With a
    `limit`, the split stops after limit + 1 fields (so the caller can tell there were more)."""
    pieces: list[str] = []
    start = 0
    quoted = False
    for match in _QUOTE_OR_SEMICOLON.finditer(value):
        i = match.start()
        char = value[i]
        if char == '"':
            quoted = quoted != (i == start or value[i - 1] != "\\")
        elif char == ";" and (not quoted or i == start):
            pieces.append(value[start:i])
            start = i + 1
            quoted = False
            if limit is not None and len(pieces) > limit:
                return [_param(piece) for piece in pieces]
    pieces.append(value[start:])
    return [_param(piece) for piece in pieces]


def _param(piece: str) -> str:
    name, sep, val = piece.partition("=")
    return (name.strip().lower() + "=" + val.strip()).strip() if sep else piece.strip()


def _safe_rfc2231(value: Any) -> Any:
    """An RFC 2231 value (charset, language, text) in a slow codec gets no charset (the stdlib
    then reads the text as US-ASCII) instead of being decoded in quadratic time."""
    if isinstance(value, tuple) and len(value) == 3 and slow_codec(value[0]):
        return (None, value[1], value[2])
    return value


def slow_codec(name: object) -> bool:
    """Whether a declared charset names a slow codec that is no MIME charset (punycode)."""
    if not isinstance(name, str) or not name or len(name) > MAX_CHARSET_NAME:
        return False
    try:
        return codecs.lookup(name).name in SLOW_CODECS
    except (LookupError, ValueError, TypeError):
        return False


def safe_charset(name: str | None) -> str | None:
    """The codec for a declared charset, or None: unknown, absurdly long, or no MIME charset."""
    if not name or len(name) > MAX_CHARSET_NAME:
        return None
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    return None if codec.name in SLOW_CODECS else name


_PARSER: Final = email.parser.BytesParser(_class=Message, policy=email.policy.compat32)


def parse(raw: bytes) -> tuple[email.message.Message, str | None]:
    """The message, and what was not read when it nests too many parts (None: all of it)."""
    containers = sum(1 for _ in itertools.islice(_CONTAINER.finditer(raw), MAX_CONTAINERS + 1))
    if containers <= MAX_CONTAINERS:
        return _PARSER.parsebytes(raw), None
    note = (
        f"MIME structure not read: more than {MAX_CONTAINERS} multipart or message parts; "
        "the body compared as one part"
    )
    return _PARSER.parsebytes(raw, headersonly=True), note
