"""Received traces: the delivery path of one message, hop by hop (pure).

Received headers are prepended, so the top one is the newest; a `Trace` lists hops from the
origin to the mailbox (hop 1 = the bottom Received header, hop n = Received header number
`len(hops) - n + 1` counted from the top). Between consecutive hops it records the signed delay
(negative = clock skew, shown, never clamped), whether the `by` of one hop names the `from` of the
next, and where TLS starts or stops. Filter loops, local pickups and LMTP delivery are labelled
and not counted as network hops. At most `MAX_STAMPS` stamps are parsed, the newest; a bound hit
here or in the header block is an anomaly of the trace.
"""

from __future__ import annotations

import dataclasses
from email.message import Message
from typing import Final

from probe.analyze.headers import MAX_FIELD_LENGTH, MAX_FIELDS, header_block
from probe.analyze.received.parser import parse_general, static_kind
from probe.model.mx import Anomaly
from probe.model.trace import Hop, HopKind, Link, ParseStatus, Trace

MAX_STAMPS: Final = 500  # a real path has a few dozen; the newest are the trustworthy ones
_GAP_SECONDS: Final = 3600.0


def parse_received(value: str) -> Hop:
    """Parse one Received header value (folded or not). Never raises; `raw` is always kept."""
    try:
        return parse_general(value)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the header
        return Hop(raw=value, warnings=(f"internal parse error: {type(exc).__name__}",))


def trace(message: bytes | Message) -> Trace:
    """The delivery path of a message from its Received headers."""
    block = header_block(message)
    values = [value for name, value in block.fields if name.lower() == "received"]
    limits: list[Anomaly] = []
    if "header-count" in block.truncated:
        limits.append(
            Anomaly("header-limit", "header block", f"only the first {MAX_FIELDS:,} fields read")
        )
    if "field-length" in block.truncated:
        detail = f"a field cut at {MAX_FIELD_LENGTH:,} characters"
        limits.append(Anomaly("header-limit", "header block", detail))
    if len(values) > MAX_STAMPS:
        detail = f"only the newest {MAX_STAMPS} of {len(values)} Received fields parsed"
        limits.append(Anomaly("stamp-limit", "Received", detail))
        values = values[:MAX_STAMPS]
    hops = settle_loops(tuple([parse_received(value) for value in reversed(values)]))
    return build_trace(hops, header_count=len(block.fields), limits=tuple(limits))


def settle_loops(hops: tuple[Hop, ...]) -> tuple[Hop, ...]:
    """A stamp from a loopback sender is a filter loop only where a hop hands to itself: its
    `by` host stamped the message before, or the stamp before it is a content filter's. Else
    (the first hop, reached by a client on the same machine) it is a network hop. Stamps a
    content filter names as its own (amavis, SpamAssassin) stay filter loops."""
    out: list[Hop] = []
    seen: set[str] = set()
    for hop in hops:
        by = (hop.by_host or "").rstrip(".").lower()
        named = static_kind(hop.with_protocol, hop.by_product, True, ()) is HopKind.FILTER
        if hop.kind is HopKind.FILTER and not named:
            after_filter = bool(out) and out[-1].kind is HopKind.FILTER
            if not (by and by in seen) and not after_filter:
                hop = dataclasses.replace(hop, kind=HopKind.NETWORK)
        seen.add(by)
        out.append(hop)
    return tuple(out)


def build_trace(
    hops: tuple[Hop, ...], *, header_count: int = 0, limits: tuple[Anomaly, ...] = ()
) -> Trace:
    """Links, delays and anomalies over hops already in origin-first order.

    One pass; findings go to separate lists so the order stays: the bounds hit (`limits`), then
    per-hop findings, then per-link ones, then TLS notes last.
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
        anomalies=limits + tuple(hop_anomalies + link_anomalies),
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
