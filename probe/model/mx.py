"""Resolve stage results: the MX set of a domain with every address lookup, and the plain facts
read from it (which exchange is the null MX, which lookups failed, which exchanges are usable)
that the resolver and the MX judge (`probe.analyze.mx`) both need."""

from __future__ import annotations

import dataclasses
import enum

NULL_EXCHANGE = "."  # how a null MX ("0 .") appears in MxResult.hosts


class MxSource(enum.StrEnum):
    """How the list of exchanges was obtained, or why there is none."""

    MX = "mx"  # published MX records
    IMPLICIT = "implicit"  # RFC 5321 5.1: no MX, the domain's own A/AAAA
    NULL_MX = "null-mx"  # RFC 7505: "0 ." -- the domain accepts no mail
    NXDOMAIN = "nxdomain"  # the domain does not exist
    NO_MAIL_HOST = "no-mail-host"  # the domain exists but has no MX and no address
    SERVFAIL = "servfail"  # every nameserver failed to answer
    TIMEOUT = "timeout"  # no answer within the lifetime
    LITERAL = "literal"  # the target was an address or host given directly


class LookupOutcome(enum.StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    NO_ANSWER = "no-answer"
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """Something unusual but not fatal, named by a stable code."""

    code: str
    subject: str
    detail: str


@dataclasses.dataclass(frozen=True)
class AddressLookup:
    rdtype: str  # "A" or "AAAA"
    outcome: LookupOutcome
    addresses: tuple[str, ...] = ()
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class MxHost:
    preference: int
    exchange: str  # without the trailing dot
    addresses: tuple[str, ...] = ()
    lookups: tuple[AddressLookup, ...] = ()
    cname_target: str | None = None


@dataclasses.dataclass(frozen=True)
class MxResult:
    domain: str
    source: MxSource
    hosts: tuple[MxHost, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    detail: str = ""
    nameservers: tuple[str, ...] = ()
    duration_ms: float = 0.0


_FAILED = frozenset({LookupOutcome.SERVFAIL, LookupOutcome.TIMEOUT, LookupOutcome.ERROR})


def is_null(host: MxHost) -> bool:
    return host.exchange == NULL_EXCHANGE


def failed_lookups(host: MxHost) -> tuple[AddressLookup, ...]:
    """The lookups that got no answer at all (not NXDOMAIN or no data: those are answers)."""
    return tuple(lookup for lookup in host.lookups if lookup.outcome in _FAILED)


def usable(result: MxResult) -> tuple[MxHost, ...]:
    """The exchanges a sender could deliver to: not null, at least one address."""
    return tuple(h for h in result.hosts if not is_null(h) and h.addresses)
