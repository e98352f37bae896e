"""Sent vs delivered: what a delivery path changed in a probe message (pure).

`compare(sent, delivered, manifest)` lists every difference as a `Change` (`probe.model.diff`)
with its evidence: header fields added (with their exact place among the Received headers, which
is what lets the next stage attribute them to a hop), removed or modified (Subject tagged,
addresses rewritten, Message-ID replaced), and per MIME part (see `probe.analyze.diff.mime`)
footers and banners, encoding, charset, re-wrapping, parts removed, added or replaced, structure
and URL rewrites.

Headers are split by `analyze.received.path.header_fields` rather than by `email`, because
`email` stops at the first malformed line. Trace fields that every hop adds (Received) and the
bookkeeping a delivery agent or mailbox store writes (Return-Path, Delivered-To, X-Original-To,
an mbox's Content-Length, Status, X-UID ...: `analyze.authorship.delivery_bookkeeping`) are
reported as `trace-added` so they are listed but do not drown the findings. A change that keeps
the meaning (`To: <a>` -> `To: a`, an address field re-encoded or refolded) is listed as a trace
change, not a finding. Nothing here raises on bad input: a malformed copy is a `malformed` change.
"""

from __future__ import annotations

import email.utils
import re
from collections import Counter, deque
from typing import Final

from probe.analyze.authorship import delivery_bookkeeping
from probe.analyze.diff.mime import part_changes
from probe.analyze.headers import decode_words, header_fields, header_positions
from probe.analyze.received.path import parse_received
from probe.model.diff import EXACT, Change, ChangeKind, DiffResult, Placement, excerpt
from probe.model.message import Manifest

TRACE_HEADERS: Final = frozenset({"received"})
# Compared per MIME part by probe.analyze.diff.mime, so not twice as headers.
MIME_HEADERS: Final = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition"}
)
ADDRESS_HEADERS: Final = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "resent-from", "resent-sender"}
)
_SPACE: Final = re.compile(r"\s+")
MAX_HEADER_CHANGES: Final = 500  # header fields added or modified that are listed
MAX_ADDRESS_FIELD: Final = 65_536  # characters of an address field parsed (1,000 recipients fit)
MAX_ADDRESS_NESTING: Final = 100  # groups (`:`) and comments (`(`) in an address field parsed
MAX_GROUP_FIELD: Final = 8_192  # characters of an address field with a group parsed


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
    """Header fields added, removed and modified; in delivered order, removals last.

    Each delivered field is matched to the first unmatched sent field of its name and value
    (refolding aside), by a dictionary, so 3,000 added fields cost no more than 3,000 lookups.
    At most `MAX_HEADER_CHANGES` additions and modifications are listed, then how many more.
    """
    sent_fields = [(n, v) for n, v in header_fields(sent) if n.lower() not in MIME_HEADERS]
    positions = [p for p in header_positions(delivered) if p.name.lower() not in MIME_HEADERS]
    received = [p for p in header_positions(delivered) if p.name.lower() == "received"]
    by_hosts = [_by_host(p.value) for p in received]
    unmatched = _Unmatched(sent_fields)
    extra = [i for i, pos in enumerate(positions) if not unmatched.take(pos.name, pos.value)]

    changes: list[Change] = []
    for n, i in enumerate(extra):
        pos = positions[i]
        lname = pos.name.lower()
        trace_field = lname in TRACE_HEADERS or delivery_bookkeeping(pos.name)
        before = None if trace_field else unmatched.first(pos.name)
        if n >= MAX_HEADER_CHANGES:
            continue  # still matched, so that what is left of the sent fields was removed
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
        if trace_field:
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
        elif before is not None:
            changes.append(_modified(pos.name, before, pos.value, placement))
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
    if len(extra) > MAX_HEADER_CHANGES:
        changes.append(
            Change(
                ChangeKind.NOT_COMPARED,
                "headers",
                detail=(
                    f"{len(extra)} header fields added or modified: not compared beyond the "
                    f"first {MAX_HEADER_CHANGES}"
                ),
            )
        )
    for name, value in unmatched.removed():
        changes.append(
            Change(ChangeKind.HEADER_REMOVED, name, before=excerpt(value), detail=f"{name} removed")
        )
    return tuple(changes)


class _Unmatched:
    """The sent fields no delivered field has matched yet, by name (lower case) and value."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._left = [True] * len(fields)
        self._by_value: dict[tuple[str, str], deque[int]] = {}
        self._by_name: dict[str, deque[int]] = {}
        for i, (name, value) in enumerate(fields):
            self._by_value.setdefault((name.lower(), _norm(value)), deque()).append(i)
            self._by_name.setdefault(name.lower(), deque()).append(i)

    def take(self, name: str, value: str) -> bool:
        """Match the first unmatched sent field equal to this one; whether there was one."""
        found = self._by_value.get((name.lower(), _norm(value)))
        while found and not self._left[found[0]]:
            found.popleft()
        if not found:
            return False
        self._left[found.popleft()] = False
        return True

    def first(self, name: str) -> str | None:
        """Match the first unmatched sent field of this name, whatever its value; its value."""
        found = self._by_name.get(name.lower())
        while found and not self._left[found[0]]:
            found.popleft()
        if not found:
            return None
        i = found.popleft()
        self._left[i] = False
        return self._fields[i][1]

    def removed(self) -> list[tuple[str, str]]:
        """Each sent field still unmatched, as (name, value), in sent order: the removals.

        Names as the first sent field of that value wrote them (as before: one removal per
        unmatched value, listed at the first field carrying it)."""
        left: dict[str, Counter[str]] = {}
        for i, (name, value) in enumerate(self._fields):
            if self._left[i]:
                left.setdefault(name.lower(), Counter())[value] += 1
        out = []
        for name, value in self._fields:
            counts = left.get(name.lower())
            if counts is not None and counts[value] > 0:
                counts[value] -= 1
                out.append((name, value))
        return out


def _modified(name: str, before: str, after: str, placement: Placement) -> Change:
    lname = name.lower()
    old, new = _norm(decode_words(before)), _norm(decode_words(after))
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
        unparsed = _beyond_address_bounds(before) or _beyond_address_bounds(after)
        if unparsed:
            kind = ChangeKind.HEADER_MODIFIED
            detail = f"{name} modified, compared as text: {unparsed}, not parsed as addresses"
        elif old_addrs != new_addrs:
            kind = ChangeKind.ADDRESS_REWRITTEN
            detail = f"address {', '.join(old_addrs) or '?'} -> {', '.join(new_addrs) or '?'}"
        elif _display_names(before) == _display_names(after):
            detail = f"{name} rewritten in another form, same addresses and names (normalised)"
            return Change(
                ChangeKind.HEADER_MODIFIED,
                name,
                excerpt(old),
                excerpt(new),
                detail,
                placement=placement,
                trace=True,
            )
        else:
            kind, detail = ChangeKind.HEADER_MODIFIED, "display name changed, address kept"
    else:
        kind, detail = ChangeKind.HEADER_MODIFIED, f"{name} modified"
    return Change(kind, name, excerpt(old), excerpt(new), detail, placement=placement)


def _norm(value: str) -> str:
    """Header value for equality: refolding and whitespace runs do not count."""
    return _SPACE.sub(" ", value).strip()


def _addresses(value: str) -> tuple[str, ...]:
    """The addresses of an address field, lower case; () beyond `_beyond_address_bounds`."""
    if _beyond_address_bounds(value):
        return ()
    try:
        pairs = email.utils.getaddresses([value])
    except (ValueError, IndexError, TypeError, RecursionError):
        return ()
    return tuple(addr.lower() for _, addr in pairs if addr)


def _display_names(value: str) -> tuple[str, ...]:
    """The display names of an address field, decoded, with whitespace and quotes folded."""
    try:
        pairs = email.utils.getaddresses([value])
    except (ValueError, IndexError, TypeError, RecursionError):
        return ()
    return tuple(_norm(decode_words(n)).strip('"') for n, _ in pairs)


def _beyond_address_bounds(value: str) -> str:
    """Why an address field is too much for the stdlib parser, which recurses once per group
    and comment and copies a group's list at each address in it ("" when it is not)."""
    if len(value) > MAX_ADDRESS_FIELD:
        return f"over {MAX_ADDRESS_FIELD:,} characters"
    if value.count(":") + value.count("(") > MAX_ADDRESS_NESTING:
        return f"over {MAX_ADDRESS_NESTING} groups and comments"
    if ":" in value and len(value) > MAX_GROUP_FIELD:
        return f"a group over {MAX_GROUP_FIELD:,} characters"
    return ""


def _by_host(value: str) -> str | None:
    hop = parse_received(value)
    return hop.by_host or hop.by_ip
