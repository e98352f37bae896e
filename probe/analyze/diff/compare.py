"""Sent vs delivered: what a delivery path changed in a probe message (pure).

`compare(sent, delivered, manifest)` lists every difference as a `Change` with its evidence:
header fields added (with their exact place among the Received headers, which is what lets the
next stage attribute them to a hop), removed or modified (Subject tagged, addresses rewritten,
Message-ID replaced), and per MIME part (see `analyze.diff.mime`) footers and banners, encoding,
charset, re-wrapping, parts removed, added or replaced, structure and URL rewrites.

Headers are split by `analyze.received.path.header_fields` rather than by `email`, because
`email` stops at the first malformed line. Trace fields that every hop adds (Received, Return-Path,
Delivered-To, X-Original-To) are reported as `trace-added` so they are listed but do not drown
the findings. Nothing here raises on bad input: a malformed copy is a `malformed` change.
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.header
import email.utils
import enum
import re
from typing import Final

from probe.analyze.received.path import header_fields, header_positions, parse_received
from probe.model.message import Manifest

EXCERPT: Final = 200  # bound of a before/after excerpt
EXACT: Final = 4000  # bound of text quoted exactly (footers, banners, tags)


class ChangeKind(enum.StrEnum):
    TRACE_ADDED = "trace-added"
    HEADER_ADDED = "header-added"
    HEADER_REMOVED = "header-removed"
    HEADER_MODIFIED = "header-modified"
    SUBJECT_TAGGED = "subject-tagged"
    ADDRESS_REWRITTEN = "address-rewritten"
    MESSAGE_ID_REPLACED = "message-id-replaced"
    BODY_APPENDED = "body-appended"
    BODY_PREPENDED = "body-prepended"
    BODY_INSERTED = "body-inserted"  # text inserted in the middle of a part
    BODY_CHANGED = "body-changed"
    ENCODING_CHANGED = "encoding-changed"
    CHARSET_CHANGED = "charset-changed"
    CONTENT_TYPE_CHANGED = "content-type-changed"
    LINE_REWRAPPED = "line-rewrapped"
    LINE_ENDINGS_CHANGED = "line-endings-changed"  # CRLF stored as LF: a mailbox artifact
    PART_REMOVED = "part-removed"
    PART_ADDED = "part-added"
    ATTACHMENT_REPLACED = "attachment-replaced"
    ATTACHMENT_RENAMED = "attachment-renamed"
    STRUCTURE_CHANGED = "structure-changed"
    URL_REWRITTEN = "url-rewritten"
    MALFORMED = "malformed"  # the delivered copy has MIME defects the sent one did not


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a header sits in the delivered header block.

    Headers are prepended, so one found below the Received header of hop k (and above that of
    hop k-1) was added by hop k or by an invisible hop between them. `received_above_by` and
    `received_below_by` name those Received headers by their `by` host.
    """

    index: int  # 0-based index in the delivered header block
    received_above: int  # Received headers above it
    received_total: int  # Received headers in the whole block
    received_above_by: str | None = None  # `by` of the Received header directly above
    received_below_by: str | None = None  # `by` of the Received header directly below


@dataclasses.dataclass(frozen=True)
class Change:
    kind: ChangeKind
    where: str  # header name, or MIME part path ("0" root, "1", "1.2"; "1->2" when it moved)
    before: str = ""
    after: str = ""
    detail: str = ""  # one line
    inserted: str = ""  # exact text a hop added: footer, banner, subject tag
    placement: Placement | None = None  # header additions and modifications
    trace: bool = False  # expected hop bookkeeping, listed but not a finding


@dataclasses.dataclass(frozen=True)
class DiffResult:
    changes: tuple[Change, ...]
    size_sent: int
    size_delivered: int
    size_delta: int

    @property
    def findings(self) -> tuple[Change, ...]:
        """The changes that are not trace bookkeeping."""
        return tuple(c for c in self.changes if not c.trace)


TRACE_HEADERS: Final = frozenset({"received", "return-path", "delivered-to", "x-original-to"})
# Compared per MIME part by probe.analyze.diff.mime, so not twice as headers.
MIME_HEADERS: Final = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition"}
)
ADDRESS_HEADERS: Final = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "resent-from", "resent-sender"}
)
_SPACE: Final = re.compile(r"\s+")


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """`text` cut to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare(sent: bytes, delivered: bytes, manifest: Manifest | None = None) -> DiffResult:
    """Every difference between the message as sent and the copy as delivered, in order."""
    from probe.analyze.diff import mime as mimediff  # mimediff builds on the types above

    changes = list(header_changes(sent, delivered))
    if b"\r\n" in sent and b"\r\n" not in delivered and b"\n" in delivered:
        changes.append(
            Change(
                ChangeKind.LINE_ENDINGS_CHANGED,
                "message",
                "CRLF",
                "LF",
                "stored with bare LF line endings (mailbox format, not a hop)",
                trace=True,
            )
        )
    changes.extend(mimediff.part_changes(sent, delivered, manifest))
    return DiffResult(tuple(changes), len(sent), len(delivered), len(delivered) - len(sent))


# --------------------------------------------------------------------------- headers


def header_changes(sent: bytes, delivered: bytes) -> tuple[Change, ...]:
    """Header fields added, removed and modified; in delivered order, removals last."""
    sent_fields = [(n, v) for n, v in header_fields(sent) if n.lower() not in MIME_HEADERS]
    positions = [p for p in header_positions(delivered) if p.name.lower() not in MIME_HEADERS]
    received = [p for p in header_positions(delivered) if p.name.lower() == "received"]
    by_hosts = [_by_host(p.value) for p in received]

    unmatched_sent: dict[str, list[str]] = {}
    for name, value in sent_fields:
        unmatched_sent.setdefault(name.lower(), []).append(value)
    extra: list[int] = []  # indexes into positions without an equal sent field
    for i, pos in enumerate(positions):
        values = unmatched_sent.get(pos.name.lower(), [])
        key = _norm(pos.value)
        hit = next((j for j, v in enumerate(values) if _norm(v) == key), None)
        if hit is None:
            extra.append(i)
        else:
            del values[hit]

    changes: list[Change] = []
    for i in extra:
        pos = positions[i]
        lname = pos.name.lower()
        placement = Placement(
            index=pos.index,
            received_above=pos.received_above,
            received_total=len(received),
            received_above_by=by_hosts[pos.received_above - 1] if pos.received_above else None,
            received_below_by=(
                by_hosts[pos.received_above + (lname == "received")]
                if pos.received_above + (lname == "received") < len(received)
                else None
            ),
        )
        values = unmatched_sent.get(lname, [])
        if lname in TRACE_HEADERS:
            changes.append(
                Change(
                    ChangeKind.TRACE_ADDED,
                    pos.name,
                    after=excerpt(pos.value),
                    detail=f"trace field at index {pos.index}",
                    placement=placement,
                    trace=True,
                )
            )
        elif values:
            changes.append(_modified(pos.name, values.pop(0), pos.value, placement))
        else:
            changes.append(
                Change(
                    ChangeKind.HEADER_ADDED,
                    pos.name,
                    after=excerpt(pos.value, EXACT),
                    detail=(
                        f"added at index {pos.index}, below {pos.received_above} of "
                        f"{len(received)} Received headers"
                    ),
                    placement=placement,
                )
            )
    for name, value in sent_fields:
        values = unmatched_sent.get(name.lower(), [])
        if value in values:
            values.remove(value)
            changes.append(
                Change(
                    ChangeKind.HEADER_REMOVED,
                    name,
                    before=excerpt(value),
                    detail=f"{name} removed",
                )
            )
    return tuple(changes)


def _modified(name: str, before: str, after: str, placement: Placement) -> Change:
    lname = name.lower()
    old, new = _decoded(before), _decoded(after)
    if lname == "subject" and old and old in new and old != new:
        start = new.index(old)
        tag = new[:start] + new[start + len(old) :]
        where_tag = "prepended" if start > 0 else "appended"
        if start > 0 and start + len(old) < len(new):
            where_tag = "wrapped around"
        return Change(
            ChangeKind.SUBJECT_TAGGED,
            name,
            excerpt(old, EXACT),
            excerpt(new, EXACT),
            f"tag {tag.strip()!r} {where_tag}",
            inserted=tag,
            placement=placement,
        )
    if lname == "message-id":
        return Change(
            ChangeKind.MESSAGE_ID_REPLACED,
            name,
            excerpt(before),
            excerpt(after),
            "Message-ID replaced",
            placement=placement,
        )
    if lname in ADDRESS_HEADERS:
        old_addrs = _addresses(before)
        new_addrs = _addresses(after)
        if old_addrs != new_addrs:
            return Change(
                ChangeKind.ADDRESS_REWRITTEN,
                name,
                excerpt(old),
                excerpt(new),
                f"address {', '.join(old_addrs) or '?'} -> {', '.join(new_addrs) or '?'}",
                placement=placement,
            )
        return Change(
            ChangeKind.HEADER_MODIFIED,
            name,
            excerpt(old),
            excerpt(new),
            "display name changed, address kept",
            placement=placement,
        )
    return Change(
        ChangeKind.HEADER_MODIFIED,
        name,
        excerpt(old),
        excerpt(new),
        f"{name} modified",
        placement=placement,
    )


def _norm(value: str) -> str:
    """Header value for equality: refolding and whitespace runs do not count."""
    return _SPACE.sub(" ", value).strip()


def _decoded(value: str) -> str:
    """RFC 2047 encoded words decoded; the raw value when they are broken."""
    try:
        return _norm(str(email.header.make_header(email.header.decode_header(value))))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return _norm(value)


def _addresses(value: str) -> tuple[str, ...]:
    try:
        pairs = email.utils.getaddresses([value])
    except (ValueError, IndexError, TypeError):
        return ()
    return tuple(addr.lower() for _, addr in pairs if addr)


def _by_host(value: str) -> str | None:
    hop = parse_received(value)
    return hop.by_host or hop.by_ip
