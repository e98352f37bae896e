"""Variant specs checked before anything is crafted: the limits, every problem of a spec by key,
a relative size made exact, and the recipients of a many-recipient variant (pure).

`craft` refuses a spec that `spec_problems` finds fault with; the profile parser reports the
same problems with the file and key named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence

from probe.errors import ConfigError
from probe.model.variant import AttachmentKind, AttachmentSpec, Encoding, VariantSpec
from probe.plan.parts import KINDS, content_for
from probe.plan.values import key_shown, shown

MAX_SIZE = 200_000_000  # bytes; a larger message is a config mistake, not a probe
MAX_LINE = 998  # RFC 5322 2.1.1, without CRLF
MAX_RECIPIENTS = 1000
MAX_RECEIVED = 500
MAX_ID = 64  # characters of a variant id (it goes into Message-ID, Subject, the probe id)
MAX_ATTACHMENTS = 100
MAX_HEADERS = 100
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
CHARSETS = ("us-ascii", "utf-8", "iso-8859-1")
FILL_HEADER = "X-Probe-Padding"  # carries the last bytes of an exact size (craft writes it)
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Message-ID", "Date", "From", "To", "Subject", "X-Probe-Id", "X-Probe", FILL_HEADER,
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
        "Received",
    )
)  # fmt: skip


def spec_problems(spec: VariantSpec) -> tuple[tuple[str, str], ...]:
    """Everything wrong with a spec as (key, message) pairs; empty when it can be crafted."""
    out: list[tuple[str, str]] = []
    if len(spec.id) > MAX_ID:
        out.append(("id", f"a variant id of {len(spec.id):,} characters (at most {MAX_ID})"))
    elif not ID_RE.fullmatch(spec.id):
        out.append(("id", f"bad variant id {shown(spec.id)} (lowercase letters, digits, '-')"))
    if len(spec.description) > 200 or _has_control(spec.description):
        out.append(("description", "must be one line of at most 200 characters"))
    if spec.size is not None and spec.size_relative is not None:
        out.append(("size", "give an exact size or a relative one, not both"))
    if spec.size is not None and not 0 < spec.size <= MAX_SIZE:
        out.append(("size", f"impossible size {spec.size} (1 .. {MAX_SIZE:,} bytes)"))
    if not isinstance(spec.encoding, Encoding):  # an API caller's plain string
        known = ", ".join(Encoding)
        out.append(("encoding", f"encoding {shown(spec.encoding)} is not an Encoding ({known})"))
        return tuple(out)
    charset = spec.body_charset
    if charset not in CHARSETS:
        known = ", ".join(CHARSETS)
        out.append(("charset", f"unsupported charset {shown(charset)} (known: {known})"))
    elif spec.encoding is Encoding.EIGHT_BIT and charset == "us-ascii":
        out.append(("charset", "an 8bit body needs a non-ASCII charset (utf-8, iso-8859-1)"))
    if spec.line_length is not None:
        if not 1 <= spec.line_length <= 1_000_000:
            out.append(("line_length", f"impossible line length {spec.line_length}"))
        elif spec.line_length > MAX_LINE and not spec.allow_long_lines:
            out.append(("line_length", f"lines over {MAX_LINE} octets need allow_long_lines"))
        if spec.encoding in (Encoding.QUOTED_PRINTABLE, Encoding.BASE64):
            out.append(("line_length", f"a long line cannot survive {spec.encoding} encoding"))
    if not 1 <= spec.recipients <= MAX_RECIPIENTS:
        out.append(("recipients", f"must be 1 .. {MAX_RECIPIENTS}"))
    if not 0 <= spec.received_headers <= MAX_RECEIVED:
        out.append(("received_headers", f"must be 0 .. {MAX_RECEIVED}"))
    if len(spec.headers) > MAX_HEADERS:
        out.append(("headers", f"{len(spec.headers):,} headers (at most {MAX_HEADERS})"))
    if len(spec.attachments) > MAX_ATTACHMENTS:
        many = len(spec.attachments)
        out.append(("attachments", f"{many:,} attachments (at most {MAX_ATTACHMENTS})"))
    if out and out[-1][0] in ("headers", "attachments"):
        return tuple(out)  # not one problem per item of a list that is too long anyway
    for name, value in spec.headers:
        key = f"headers.{key_shown(name)}"
        if not re.fullmatch(r"[!-9;-~]{1,76}", name):
            out.append((key, "not a valid header name"))
        elif name.lower() in _RESERVED_HEADERS:
            out.append((key, "probe writes this header itself"))
        if _has_control(value) or len(value) > 900:
            out.append((key, "value must be one line of at most 900 characters"))
        elif not value.isascii() and not spec.smtputf8:
            out.append((key, "non-ASCII header values need smtputf8 = true"))
    for i, att in enumerate(spec.attachments):
        out.extend((f"attachments[{i}].{k}", m) for k, m in _attachment_problems(att))
    return tuple(out)


def _attachment_problems(att: AttachmentSpec) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    kind = KINDS.get(att.kind)
    if kind is None:
        return [("kind", f"unknown attachment kind {shown(att.kind)}")]
    if att.encoding is not None and att.encoding not in kind.encodings:
        allowed = ", ".join(kind.encodings)
        out.append(("encoding", f"{att.kind} attachments use {allowed}, not {att.encoding}"))
    if att.size is not None:
        floor = content_for(att, b"", "", dt.datetime(2000, 1, 1)).length(0)
        if att.kind is AttachmentKind.EICAR:
            out.append(("size", "the EICAR file has a fixed size"))
        elif not floor <= att.size <= MAX_SIZE:
            out.append(("size", f"impossible size {att.size} ({floor} .. {MAX_SIZE:,} bytes)"))
    if att.filename is not None and (
        not att.filename or len(att.filename) > 1000 or _has_control(att.filename)
    ):
        out.append(("filename", "must be one line of 1 .. 1000 characters"))
    return out


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check(spec: VariantSpec) -> None:
    """Raise the first problem of the spec as a ConfigError naming the variant and key."""
    for key, message in spec_problems(spec):
        raise ConfigError(message, key=f"variant {spec.id!r}: {key}")


def resolve_size(spec: VariantSpec, advertised: int | None) -> VariantSpec:
    """The spec with a relative size made exact against the SIZE the server advertised.

    Raises ConfigError when that is impossible (no SIZE limit advertised, or out of range); the
    run stage records the variant as skipped with that message.
    """
    if spec.size_relative is None:
        return spec
    if not advertised:
        raise ConfigError("the server advertises no SIZE limit", key=f"variant {spec.id!r}")
    size = advertised + spec.size_offset
    if not 0 < size <= MAX_SIZE:
        raise ConfigError(
            f"advertised SIZE {advertised:,} {spec.size_offset:+d} is outside 1 .. {MAX_SIZE:,}",
            key=f"variant {spec.id!r}",
        )
    return dataclasses.replace(spec, size=size, size_relative=None, size_offset=0)


def expand_recipients(rcpt_to: Sequence[str], count: int) -> tuple[str, ...]:
    """`count` envelope recipients: the given ones, then `local+N@domain` of the first."""
    out = list(rcpt_to[:count])
    local, _, domain = rcpt_to[0].rpartition("@")
    number = 1
    while len(out) < count:
        candidate = f"{local}+{number}@{domain}"
        if candidate not in out:
            out.append(candidate)
        number += 1
    return tuple(out)
