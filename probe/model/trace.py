"""Received traces as data: one stamp (`Hop`), the path of a message (`Trace`), header places.

What `probe.analyze.received` reads from a message's Received header fields and what a stored
run holds (`probe trace --json`, `VariantAnalysis.trace`). Hops are listed origin first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from probe.model.mx import Anomaly


@dataclasses.dataclass(frozen=True, slots=True)
class TlsInfo:
    """TLS details as the stamp states them (any field may be missing)."""

    version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    source: str = ""  # "protocol" (ESMTPS...), "comment", "clause" (RFC 8314 `tls`), "with"


class HopKind(enum.StrEnum):
    """What a stamp records; only `network` is a transfer between two hosts."""

    NETWORK = "network"  # host-to-host SMTP transfer
    LOCAL = "local-pickup"  # entered on this host: pickup, `with local`, qmail `invoked`
    FILTER = "loopback-filter"  # content-filter loop on loopback (amavis, spamassassin)
    LMTP = "lmtp-delivery"  # handed to the mailbox store over LMTP
    INTERNAL = "internal"  # provider-internal or API/webmail (Exchange mapi/HTTPS, HTTP)
    FETCH = "fetch"  # fetched from a mailbox (fetchmail POP3/IMAP)
    UNPARSED = "unparsed"  # neither from, by nor a date could be read


class ParseStatus(enum.StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # something was not understood; see `unparsed` and `warnings`
    RAW = "raw"  # nothing usable: only `raw` is meaningful


@dataclasses.dataclass(frozen=True)
class Hop:
    """One Received stamp. `raw` is always the header value as given."""

    raw: str
    kind: HopKind = HopKind.UNPARSED
    status: ParseStatus = ParseStatus.RAW
    from_helo: str | None = None
    from_rdns: str | None = None
    from_ip: str | None = None
    by_host: str | None = None
    by_ip: str | None = None
    by_product: str | None = None  # the comment after `by`: "Postfix", "8.15.2/8.15.2"...
    via: str | None = None
    with_protocol: str | None = None  # ESMTPS, LMTP, local, "Microsoft SMTP Server"...
    encrypted: bool | None = None  # None: the stamp does not say
    tls: TlsInfo | None = None
    authenticated: bool = False
    id: str | None = None
    for_addr: str | None = None
    envelope_from: str | None = None
    date: dt.datetime | None = None  # UTC
    date_raw: str | None = None
    flags: tuple[str, ...] = ()  # format facts: no-semicolon, two-digit-year, may-be-forged...
    warnings: tuple[str, ...] = ()
    unparsed: tuple[str, ...] = ()  # fragments kept as written


@dataclasses.dataclass(frozen=True, slots=True)
class HeaderPosition:
    """One header field and where it sits: `received_above` Received headers precede it."""

    name: str
    value: str  # unfolded
    index: int  # 0-based position in the header block
    received_above: int


@dataclasses.dataclass(frozen=True)
class Link:
    """From hop `index - 1` to hop `index` (1-based, origin first)."""

    index: int
    delay: float | None  # seconds, signed; None when either stamp has no date
    by_from_match: bool | None  # None: nothing to compare (local stamp, no names)
    tls_change: str | None = None  # "starts" or "stops" at this hop (network hops only)


@dataclasses.dataclass(frozen=True)
class Trace:
    """The delivery path of one message."""

    hops: tuple[Hop, ...]  # origin first
    links: tuple[Link, ...]
    total_delay: float | None  # newest dated stamp minus oldest dated stamp, seconds
    network_hops: int
    anomalies: tuple[Anomaly, ...] = ()  # warnings: clock skew, unparsable stamp, by/from mismatch
    notes: tuple[Anomaly, ...] = ()  # facts worth showing: TLS starts/stops, gaps, filter loops
    header_count: int = 0  # 0 means the input had no header block: not a message
