"""What one Received stamp says, as data (pure): the `Hop` the parser builds, and its kinds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from probe.analyze.received.fields import TlsInfo


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

