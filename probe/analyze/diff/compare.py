"""Sent vs delivered: what a delivery path changed in a probe message (pure).

`compare(sent, delivered, manifest)` lists every difference as a `Change` (`probe.model.diff`)
with its evidence: header fields added (with their exact place among the Received headers, which
is what lets the next stage attribute them to a hop), removed or modified (Subject tagged,
addresses rewritten, Message-ID replaced), and per MIME part (see `probe.analyze.diff.mime`)
footers and banners, encoding, charset, re-wrapping, parts removed, added or replaced, structure
and URL rewrites.

Headers are split by `analyze.received.path.header_fields` rather than by `email`, because
`email` stops at the first malformed line. Trace fields that every hop adds (Received, Return-Path,
Delivered-To, X-Original-To) are reported as `trace-added` so they are listed but do not drown
the findings. Nothing here raises on bad input: a malformed copy is a `malformed` change.
"""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import re
from typing import Final

from probe.analyze.diff.mime import part_changes
from probe.analyze.received.path import header_fields, header_positions, parse_received
from probe.model.diff import EXACT, Change, ChangeKind, DiffResult, Placement, excerpt
from probe.model.message import Manifest

TRACE_HEADERS: Final = frozenset({"received", "return-path", "delivered-to", "x-original-to"})
# Compared per MIME part by probe.analyze.diff.mime, so not twice as headers.
MIME_HEADERS: Final = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition"}
)
ADDRESS_HEADERS: Final = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "resent-from", "resent-sender"}
)
_SPACE: Final = re.compile(r"\s+")


def compare(sent: bytes, delivered: bytes, manifest: Manifest | None = None) -> DiffResult:
    """Every difference between the message as sent and the copy as delivered, in order."""
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
    changes.extend(part_changes(sent, delivered, manifest))
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
            kind = ChangeKind.ADDRESS_REWRITTEN
            detail = f"address {', '.join(old_addrs) or '?'} -> {', '.join(new_addrs) or '?'}"
        else:
            kind, detail = ChangeKind.HEADER_MODIFIED, "display name changed, address kept"
    else:
        kind, detail = ChangeKind.HEADER_MODIFIED, f"{name} modified"
    return Change(kind, name, excerpt(old), excerpt(new), detail, placement=placement)


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
