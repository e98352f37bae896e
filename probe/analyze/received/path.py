"""Received traces: the delivery path of one message, hop by hop (pure).

Received headers are prepended, so the top one is the newest; a `Trace` lists hops from the
origin to the mailbox (hop 1 = the bottom Received header, hop n = Received header number
`len(hops) - n + 1` counted from the top). Between consecutive hops it records the signed delay
(negative = clock skew, shown, never clamped), whether the `by` of one hop names the `from` of the
next, and where TLS starts or stops. Filter loops, local pickups and LMTP delivery are labelled
and not counted as network hops. `header_positions` places every other header relative to the
Received headers, which is what attributes an added header to a hop.

The header block of raw bytes is split here rather than by `email`: Python's parser stops at a
malformed line between two Received headers and drops the rest (research/received.md, 2.6).
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from probe.analyze.received.parser import parse_general
from probe.model.mx import Anomaly
from probe.model.trace import HeaderPosition, Hop, HopKind, Link, ParseStatus, Trace

_FIELD_RE: Final = re.compile(r"^([!-9;-~]+)[ \t]*:(.*(?:\n[ \t].*)*)", re.M)
# Header fields of raw bytes for `trace`, found without decoding the block: a Received field
# (name, value) or any other field (name only). The i of `received` also matches U+0130/U+0131
# in UTF-8, as it does in a case-insensitive str pattern. `_LINE_FIELD_RE` starts at a line's LF,
# a literal prefix the engine skips to fast; its last branch is the empty line ending the header
# block, which swallows the body. The first line has no LF before it: `_FIRST_FIELD_RE`.
_BYTES_FIELD: Final = (
    rb"(?:((?i:rece(?:i|\xc4[\xb0\xb1])ved))[ \t]*:(.*(?:\n[ \t].*)*)|[!-9;-~]+[ \t]*:"
)
_FIRST_FIELD_RE: Final = re.compile(_BYTES_FIELD + rb")")
_LINE_FIELD_RE: Final = re.compile(rb"\n" + _BYTES_FIELD + rb"|(\r?\n)(?s:.*))")
_UNFOLD_RE: Final = re.compile(r"\r?\n(?=[ \t])")
_GAP_SECONDS: Final = 3600.0


def parse_received(value: str) -> Hop:
    """Parse one Received header value (folded or not). Never raises; `raw` is always kept."""
    try:
        return parse_general(value)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the header
        return Hop(raw=value, warnings=(f"internal parse error: {type(exc).__name__}",))


def header_fields(message: bytes | Message) -> tuple[tuple[str, str], ...]:
    """(name, unfolded value) of every header field, in order. Malformed lines are skipped."""
    if isinstance(message, Message):
        return tuple(
            (name, _UNFOLD_RE.sub("", str(value)).strip()) for name, value in message.items()
        )
    return tuple(
        (name, value.replace("\n", "").strip()) for name, value in _FIELD_RE.findall(_head(message))
    )


def _head(message: bytes) -> str:
    """The header block as text with LF line ends."""
    head = message[: _header_end(message)]
    text = head.decode("utf-8", "replace")
    return text.replace("\r\n", "\n") if "\r" in text else text


def _header_end(message: bytes) -> int:
    """Where the first empty line (`\r?\n\r?\n`) starts, or the length: two C-level finds."""
    end = message.find(b"\n\r\n")
    bare = message.find(b"\n\n", 0, len(message) if end < 0 else end + 1)
    if bare >= 0:
        end = bare
    if end < 0:
        return len(message)
    return end - 1 if end and message[end - 1] == 13 else end


def _received_values(message: bytes | Message) -> tuple[list[str], int]:
    """The unfolded Received values, top first, and the number of header fields.

    For bytes: the fields `header_fields` finds in `_head`, in one scan that also finds the end
    of the block, decoding only Received values (UTF-8 decodes alike in pieces cut at ASCII
    bytes, so each value reads as in the decoded block).
    """
    if isinstance(message, Message):
        fields = header_fields(message)
        return [value for name, value in fields if name.lower() == "received"], len(fields)
    first = _FIRST_FIELD_RE.match(message)
    found = _LINE_FIELD_RE.findall(message, first.end() if first else 0)
    if found and found[-1][2]:
        found.pop()  # the empty line ending the header block
    if first:
        found.insert(0, (*first.groups(), b""))
    return [_unfold(value) for name, value, _ in found if name], len(found)


def _unfold(value: bytes) -> str:
    """As `header_fields` unfolds a value of the LF-normalized block (decode first: dropping line
    breaks from bytes could join an invalid byte into a valid character)."""
    return value.decode("utf-8", "replace").replace("\r\n", "").replace("\n", "").strip()


def header_positions(message: bytes | Message) -> tuple[HeaderPosition, ...]:
    """Every header field with its index and the number of Received headers above it."""
    result = []
    above = 0
    for index, (name, value) in enumerate(header_fields(message)):
        result.append(HeaderPosition(name, value, index, above))
        if name.lower() == "received":
            above += 1
    return tuple(result)


def trace(message: bytes | Message) -> Trace:
    """The delivery path of a message from its Received headers."""
    values, count = _received_values(message)
    hops = tuple([parse_received(value) for value in reversed(values)])
    return build_trace(hops, header_count=count)


def build_trace(hops: tuple[Hop, ...], *, header_count: int = 0) -> Trace:
    """Links, delays and anomalies over hops already in origin-first order.

    One pass; findings go to separate lists so the order stays: per-hop findings, then per-link
    ones, then TLS notes last.
    """
    hop_anomalies: list[Anomaly] = []  # unparsable stamp or date
    hop_notes: list[Anomaly] = []  # no date, filter loop
    link_anomalies: list[Anomaly] = []
    link_notes: list[Anomaly] = []
    tls_notes: list[Anomaly] = []
    links: list[Link] = []
    last_tls: bool | None = None
    network = 0
    first_date = last_date = None
    dated = 0
    before: Hop | None = None
    for n, hop in enumerate(hops, 1):
        date = hop.date
        if hop.status is ParseStatus.RAW:
            hop_anomalies.append(Anomaly("unparsable-hop", f"hop {n}", hop.raw))
        elif date is None:
            if hop.date_raw:
                hop_anomalies.append(Anomaly("unparsable-date", f"hop {n}", hop.date_raw))
            else:
                hop_notes.append(Anomaly("no-date", f"hop {n}", "the stamp carries no date"))
        kind = hop.kind
        change = None
        if kind is HopKind.NETWORK:
            network += 1
            encrypted = hop.encrypted
            if encrypted is not None:
                if last_tls is not None and encrypted != last_tls:
                    change = "starts" if encrypted else "stops"
                    tls_notes.append(
                        Anomaly(f"tls-{change}", f"hop {n}", f"with {hop.with_protocol}")
                    )
                last_tls = encrypted
        elif kind is HopKind.FILTER:
            hop_notes.append(Anomaly("filter-loop", f"hop {n}", f"re-injection by {hop.by_host}"))
        if date is not None:
            if first_date is None:
                first_date = date
            last_date = date
            dated += 1

        if before is not None:
            delay = None
            before_date = before.date
            if before_date is not None and date is not None:
                delay = (date - before_date).total_seconds()
                if delay < 0:
                    link_anomalies.append(
                        Anomaly("clock-skew", f"hop {n - 1} -> {n}", f"delay {delay:g} s")
                    )
                elif delay > _GAP_SECONDS:
                    link_notes.append(
                        Anomaly("long-delay", f"hop {n - 1} -> {n}", f"delay {delay:g} s")
                    )
            match = _by_from_match(before, hop)
            if match is False:
                finding = Anomaly(
                    "by-from-mismatch",
                    f"hop {n - 1} -> {n}",
                    f"by {before.by_host} but from {_from_text(hop)}",
                )
                if before.kind is HopKind.NETWORK and kind in _MISMATCH_WARNS:
                    link_anomalies.append(finding)
                else:
                    link_notes.append(finding)
            if before.raw == hop.raw:
                link_notes.append(
                    Anomaly("duplicate-stamp", f"hop {n - 1} -> {n}", "identical Received headers")
                )
            links.append(Link(n, delay, match, change))
        before = hop

    total = None
    if dated >= 2 and first_date is not None and last_date is not None:
        total = (last_date - first_date).total_seconds()
    return Trace(
        hops=hops,
        links=tuple(links),
        total_delay=total,
        network_hops=network,
        anomalies=tuple(hop_anomalies + link_anomalies),
        notes=tuple(hop_notes + link_notes + tls_notes),
        header_count=header_count,
    )


_MISMATCH_WARNS: Final = (HopKind.NETWORK, HopKind.INTERNAL)


def _norm_text(name: str) -> str:
    name = name.strip("[]").rstrip(".").lower()
    return name[5:] if name.startswith("ipv6:") else name


def _tokens(name: str) -> frozenset[str]:
    """What a raw name can match on: `=` + its normalized form, and its `_name_keys` when it is
    a host name; empty when it normalizes to nothing.

    A by/from match is a shared normalized name or, failing that, a shared key; the prefixes
    (`=`, `label:`, `domain:`) keep the kinds apart, so one set intersection answers both.
    """
    norm = _norm_text(name)
    if not norm:
        return _NO_TOKENS
    if _is_name(norm):
        return frozenset(("=" + norm, *_name_keys(norm)))
    return frozenset(("=" + norm,))


_NO_TOKENS: Final[frozenset[str]] = frozenset()
# Host names recur across the messages of one mailbox; addresses mostly do not, so only names
# are cached (addresses would only evict them). Cleared when full rather than LRU: cheaper on
# the hit path, which is most calls.
_NAME_TOKENS: Final[dict[str, frozenset[str]]] = {}
_NAME_CACHE_SIZE: Final = 8192


def _name_tokens(name: str) -> frozenset[str]:
    tokens = _NAME_TOKENS.get(name)
    if tokens is None:
        if len(_NAME_TOKENS) >= _NAME_CACHE_SIZE:
            _NAME_TOKENS.clear()
        tokens = _NAME_TOKENS[name] = _tokens(name)
    return tokens


_UNCOMPARED: Final = (HopKind.LOCAL, HopKind.FETCH, HopKind.UNPARSED)


def _by_from_match(before: Hop, after: Hop) -> bool | None:
    """Does hop `before`'s `by` name the host that hop `after` says it came from?

    A shared name, or else a shared first label or domain: the same box under two names (EOP:
    X.mail.protection... vs X.eop-nam02...), or two boxes of one cluster in one domain (mx07 vs
    mx08.pphosted.com). None when there is nothing to compare.
    """
    if after.kind in _UNCOMPARED:
        return None
    name = before.by_host
    by = (_NAME_TOKENS.get(name) or _name_tokens(name)) if name else _NO_TOKENS
    by_ip = before.by_ip
    if by_ip:
        by = by | _tokens(by_ip)
    if not by:
        return None
    found = match = False
    for name in (after.from_helo, after.from_rdns):
        if name and not match:
            tokens = _NAME_TOKENS.get(name) or _name_tokens(name)
            if tokens:
                found = True
                match = not by.isdisjoint(tokens)
    name = after.from_ip
    if name and not match:
        if name.replace(".", "").isdigit():
            # dotted digits: normal form without trailing dots, never a host name, so only an
            # address on the `by` side can match it (a name's tokens include a "label:" key)
            found = True
            if by_ip or len(by) == 1:
                match = "=" + name.rstrip(".") in by
        else:
            tokens = _tokens(name)
            if tokens:
                found = True
                match = not by.isdisjoint(tokens)
    return match if found else None


def _from_text(hop: Hop) -> str:
    parts: list[str] = []
    for part in (hop.from_helo, hop.from_rdns, hop.from_ip):
        if part and part not in parts:
            parts.append(part)
    return " / ".join(parts) or "?"


def _is_name(text: str) -> bool:
    """A host name rather than an address (for first-label comparison)."""
    return ":" not in text and not text.replace(".", "").isdigit()


def _name_keys(name: str) -> tuple[str, ...]:
    """The first label, and the domain (last two labels) when the name has three or more."""
    labels = name.split(".")
    if len(labels) >= 3:
        return ("label:" + labels[0], "domain:" + ".".join(labels[-2:]))
    return ("label:" + labels[0],)
