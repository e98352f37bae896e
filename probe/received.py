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

import dataclasses
import functools
import re
from email.message import Message
from typing import Final

from probe.model import Anomaly
from probe.received_fields import TlsInfo
from probe.received_hop import Hop as Hop
from probe.received_hop import HopKind, ParseStatus, parse_received

__all__ = [
    "HeaderPosition",
    "Hop",
    "HopKind",
    "Link",
    "ParseStatus",
    "TlsInfo",
    "Trace",
    "header_fields",
    "header_positions",
    "parse_received",
    "trace",
]


@dataclasses.dataclass(frozen=True, slots=True)
class HeaderPosition:
    """One header field and where it sits: `received_above` Received headers precede it."""

    name: str
    value: str  # unfolded
    index: int  # 0-based position in the header block
    received_above: int


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """From hop `index - 1` to hop `index` (1-based, origin first)."""

    index: int
    delay: float | None  # seconds, signed; None when either stamp has no date
    by_from_match: bool | None  # None: nothing to compare (local stamp, no names)
    tls_change: str | None = None  # "starts" or "stops" at this hop (network hops only)


@dataclasses.dataclass(frozen=True, slots=True)
class Trace:
    hops: tuple[Hop, ...]  # origin first
    links: tuple[Link, ...]
    total_delay: float | None  # newest dated stamp minus oldest dated stamp, seconds
    network_hops: int
    anomalies: tuple[Anomaly, ...] = ()  # warnings: clock skew, unparsable stamp, by/from mismatch
    notes: tuple[Anomaly, ...] = ()  # facts worth showing: TLS starts/stops, gaps, filter loops
    header_count: int = 0  # 0 means the input had no header block: not a message


_FIELD_RE: Final = re.compile(r"^([!-9;-~]+)[ \t]*:(.*(?:\n[ \t].*)*)", re.M)
_RECEIVED_OR_FIELD_RE: Final = re.compile(
    r"^(?:((?i:received))[ \t]*:(.*(?:\n[ \t].*)*)|[!-9;-~]+[ \t]*:)", re.M
)
_UNFOLD_RE: Final = re.compile(r"\r?\n(?=[ \t])")
_GAP_SECONDS: Final = 3600.0


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

    For bytes: one scan that names only Received fields; the same fields `header_fields` finds,
    since both regexes start a field at the same lines and end it at the same place.
    """
    if isinstance(message, Message):
        fields = header_fields(message)
        return [value for name, value in fields if name.lower() == "received"], len(fields)
    found = _RECEIVED_OR_FIELD_RE.findall(_head(message))
    return [value.replace("\n", "").strip() for name, value in found if name], len(found)


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
    """Links, delays and anomalies over hops already in origin-first order."""
    anomalies: list[Anomaly] = []
    notes: list[Anomaly] = []
    # per hop: parse problems, filter loops, and TLS along the path over network hops that say
    changes: dict[int, str] = {}
    tls_notes: list[Anomaly] = []
    last_tls: bool | None = None
    for n, hop in enumerate(hops, 1):
        if hop.status is ParseStatus.RAW:
            anomalies.append(Anomaly("unparsable-hop", f"hop {n}", hop.raw))
        elif hop.date is None and hop.date_raw:
            anomalies.append(Anomaly("unparsable-date", f"hop {n}", hop.date_raw))
        elif hop.date is None:
            notes.append(Anomaly("no-date", f"hop {n}", "the stamp carries no date"))
        kind = hop.kind
        if kind is HopKind.FILTER:
            notes.append(Anomaly("filter-loop", f"hop {n}", f"re-injection by {hop.by_host}"))
        elif kind is HopKind.NETWORK and hop.encrypted is not None:
            if last_tls is not None and hop.encrypted != last_tls:
                change = "starts" if hop.encrypted else "stops"
                changes[n] = change
                tls_notes.append(Anomaly(f"tls-{change}", f"hop {n}", f"with {hop.with_protocol}"))
            last_tls = hop.encrypted

    links = []
    for n in range(1, len(hops)):
        before, after = hops[n - 1], hops[n]
        delay = None
        if before.date is not None and after.date is not None:
            delay = (after.date - before.date).total_seconds()
            if delay < 0:
                anomalies.append(Anomaly("clock-skew", f"hop {n} -> {n + 1}", f"delay {delay:g} s"))
            elif delay > _GAP_SECONDS:
                notes.append(Anomaly("long-delay", f"hop {n} -> {n + 1}", f"delay {delay:g} s"))
        match = _by_from_match(before, after)
        if match is False:
            subject = f"hop {n} -> {n + 1}"
            detail = f"by {before.by_host} but from {_from_text(after)}"
            if before.kind is HopKind.NETWORK and after.kind in (HopKind.NETWORK, HopKind.INTERNAL):
                anomalies.append(Anomaly("by-from-mismatch", subject, detail))
            else:
                notes.append(Anomaly("by-from-mismatch", subject, detail))
        if before.raw == after.raw:
            notes.append(
                Anomaly("duplicate-stamp", f"hop {n} -> {n + 1}", "identical Received headers")
            )
        links.append(Link(n + 1, delay, match, changes.get(n + 1)))
    notes.extend(tls_notes)

    dated = [hop.date for hop in hops if hop.date is not None]
    total = (dated[-1] - dated[0]).total_seconds() if len(dated) >= 2 else None
    return Trace(
        hops=hops,
        links=tuple(links),
        total_delay=total,
        network_hops=sum(1 for hop in hops if hop.kind is HopKind.NETWORK),
        anomalies=tuple(anomalies),
        notes=tuple(notes),
        header_count=header_count,
    )


def _norm_text(name: str) -> str:
    name = name.strip("[]").rstrip(".").lower()
    return name[5:] if name.startswith("ipv6:") else name


# Host names recur across the messages of one mailbox; addresses mostly do not, so they are
# normalized without the cache (they would only evict the names).
_norm_name: Final = functools.lru_cache(maxsize=8192)(_norm_text)
_NO_KEYS: Final[frozenset[str]] = frozenset()


@functools.lru_cache(maxsize=8192)
def _name_key_set(name: str) -> frozenset[str]:
    return frozenset(_name_keys(name))


def _keys(name: str) -> frozenset[str]:
    """Comparison keys of a normalized name: its first label and domain (none for addresses)."""
    return _name_key_set(name) if _is_name(name) else _NO_KEYS


_UNCOMPARED: Final = (HopKind.LOCAL, HopKind.FETCH, HopKind.UNPARSED)


def _by_from_match(before: Hop, after: Hop) -> bool | None:
    """Does hop `before`'s `by` name the host that hop `after` says it came from?"""
    if after.kind in _UNCOMPARED:
        return None
    by_names = {_norm_name(n) for n in (before.by_host,) if n}
    if before.by_ip:
        by_names.add(_norm_text(before.by_ip))
    by_names.discard("")
    if not by_names:
        return None
    from_names = {_norm_name(n) for n in (after.from_helo, after.from_rdns) if n}
    if after.from_ip:
        from_names.add(_norm_text(after.from_ip))
    from_names.discard("")
    if not from_names:
        return None
    if not by_names.isdisjoint(from_names):
        return True
    # the same box under two names (EOP: X.mail.protection... vs X.eop-nam02...), or two boxes
    # of one cluster in one domain (mx07 vs mx08.pphosted.com)
    by_keys = frozenset().union(*map(_keys, by_names))
    return not by_keys.isdisjoint(frozenset().union(*map(_keys, from_names)))


def _from_text(hop: Hop) -> str:
    parts = [p for p in (hop.from_helo, hop.from_rdns, hop.from_ip) if p]
    return " / ".join(dict.fromkeys(parts)) or "?"


def _is_name(text: str) -> bool:
    """A host name rather than an address (for first-label comparison)."""
    return ":" not in text and not text.replace(".", "").isdigit()


def _name_keys(name: str) -> tuple[str, ...]:
    """The first label, and the domain (last two labels) when the name has three or more."""
    labels = name.split(".")
    if len(labels) >= 3:
        return ("label:" + labels[0], "domain:" + ".".join(labels[-2:]))
    return ("label:" + labels[0],)
