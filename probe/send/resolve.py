"""The resolve stage: a domain's mail exchangers and their addresses, as a sender would find them.

dnspython's async resolver does the queries; every DNS outcome (NXDOMAIN, SERVFAIL, timeout, no
data, a CNAME where none belongs) becomes a value in `MxResult`, never an exception, and one
broken exchange never hides the others. Only what stops the command raises: a domain that is not
a domain name (`UsageError`), a resolver that cannot even be set up (`DnsError`).

`resolve_mx` is the one way every command (`mx`, `connect`, `run`) finds where to deliver;
`resolve_target` adds the "this is a host, or an address" cases and `delivery_order` flattens
a result into (exchange, address) pairs in the order a sender tries them. The results are facts:
judging them (anomalies, a status) is `probe.analyze.mx`, called by the command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import random
import socket
import time
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from probe.errors import DnsError, error_line
from probe.model.mx import (
    NULL_EXCHANGE,
    AddressLookup,
    LookupOutcome,
    MxHost,
    MxResult,
    MxSource,
    failed_lookups,
    usable,
)
from probe.smtp.hosts import ip_literal, normalize_domain

Nameservers = Sequence[tuple[str, int]]

LOOKUP_CONCURRENCY = 8  # address lookups in flight at once, per resolution
MAX_ATTEMPT_TIMEOUT = 2.0  # per query to one nameserver; `timeout` is the whole lookup's lifetime


# ----------------------------------------------------------------------------- the resolver


DnsCache = dns.resolver.LRUCache

DNS_CACHE_SIZE = 50_000  # answers; one `probe check` of thousands of targets shares one cache


def new_dns_cache() -> DnsCache:
    """A cache of answers (kept for their TTL) that the lookups of many targets share: a check
    of a thousand domains whose MX are a few hosts asks for those hosts' addresses once."""
    return dns.resolver.LRUCache(DNS_CACHE_SIZE)


async def make_resolver(
    nameservers: Nameservers, timeout: float, cache: DnsCache | None = None
) -> dns.asyncresolver.Resolver:
    """A resolver for the given (address or name, port) pairs, or the system's when empty."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port)
            for host, port in nameservers
            for address in await _nameserver_addresses(host)
        ]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            raise DnsError(f"no system resolver configured: {error_line(exc)}") from None
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, MAX_ATTEMPT_TIMEOUT)
    if cache is not None:
        resolver.cache = cache
    return resolver


async def _nameserver_addresses(host: str) -> list[str]:
    address = ip_literal(host)
    if address is not None:
        return [address]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise DnsError(f"cannot resolve nameserver {host!r}: {error_line(exc)}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _server_names(resolver: dns.asyncresolver.Resolver) -> tuple[str, ...]:
    names = []
    for server in resolver.nameservers:
        if isinstance(server, dns.nameserver.Do53Nameserver):
            names.append(_server_text(server.address, server.port))
        else:
            names.append(str(server))
    return tuple(names)


def _server_text(address: str, port: int) -> str:
    shown = f"[{address}]" if ":" in address else address
    return shown if port == 53 else f"{shown}:{port}"


# ----------------------------------------------------------------------------- one lookup


@dataclasses.dataclass(frozen=True)
class _Answer:
    outcome: LookupOutcome
    records: tuple[str, ...] = ()  # rdata text
    detail: str = ""
    canonical: str | None = None  # set when the name was a CNAME


async def _query(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> _Answer:
    """One lookup, with every DNS outcome as a value."""
    qname = dns.name.from_text(name)
    try:
        answer = await resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN as exc:
        return _Answer(
            LookupOutcome.NXDOMAIN,
            detail="does not exist (NXDOMAIN)",
            canonical=_cname(qname, exc.canonical_name),
        )
    except dns.resolver.LifetimeTimeout as exc:
        servers = _servers_said(exc, with_reason=False) or ", ".join(_server_names(resolver))
        return _Answer(
            LookupOutcome.TIMEOUT, detail=f"no answer within {resolver.lifetime:g} s from {servers}"
        )
    except dns.resolver.NoNameservers as exc:
        said = _servers_said(exc, with_reason=True)
        return _Answer(LookupOutcome.SERVFAIL, detail=f"no nameserver could answer: {said}")
    except dns.exception.DNSException as exc:
        return _Answer(LookupOutcome.ERROR, detail=error_line(exc))
    canonical = _cname(qname, answer.canonical_name)
    if answer.rrset is None:
        return _Answer(LookupOutcome.NO_ANSWER, detail=f"no {rdtype} record", canonical=canonical)
    return _Answer(LookupOutcome.OK, tuple(r.to_text() for r in answer.rrset), canonical=canonical)


def _cname(qname: dns.name.Name, canonical: dns.name.Name) -> str | None:
    return None if canonical == qname else canonical.to_text(omit_final_dot=True)


def _servers_said(exc: dns.exception.DNSException, *, with_reason: bool) -> str:
    """`127.0.0.1:53 SERVFAIL, ...` from dnspython's error list, deduplicated."""
    said: dict[str, None] = {}
    for error in exc.kwargs.get("errors") or []:
        server, port, reason = str(error[0]), int(error[2]), error[3]
        # dnspython names a server "Do53:127.0.0.1@5353"
        address = server.removeprefix("Do53:").rpartition("@")[0] or server
        shown = _server_text(address, port)
        said[f"{shown} {_reason(reason)}" if with_reason else shown] = None
    return ", ".join(said)


def _reason(reason: object) -> str:
    if isinstance(reason, dns.exception.Timeout):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    if isinstance(reason, BaseException):
        return error_line(reason)
    return str(reason)


# ----------------------------------------------------------------------------- hosts


async def lookup_host(
    resolver: dns.asyncresolver.Resolver,
    name: str,
    preference: int = 0,
    *,
    limit: asyncio.Semaphore | None = None,
) -> MxHost:
    """A and AAAA of one name, concurrently; each with its own outcome. Never raises."""
    limit = limit or asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def one(rdtype: str) -> _Answer:
        async with limit:
            return await _query(resolver, name, rdtype)

    answers = await asyncio.gather(one("A"), one("AAAA"))
    lookups = tuple(
        AddressLookup(rdtype, a.outcome, _sorted_addresses(a.records), a.detail)
        for rdtype, a in zip(("A", "AAAA"), answers, strict=True)
    )
    cname = next((a.canonical for a in answers if a.canonical), None)
    addresses = tuple(address for lookup in lookups for address in lookup.addresses)
    return MxHost(preference, name, addresses, lookups, cname)


def _sorted_addresses(records: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(dict.fromkeys(records), key=ipaddress.ip_address))


def _literal_host(address: str) -> MxHost:
    return MxHost(0, address, (address,), ())


# ----------------------------------------------------------------------------- MX


async def resolve_mx(
    domain: str,
    *,
    nameservers: Nameservers = (),
    timeout: float = 5.0,
    shuffle_equal: bool = False,
    cache: DnsCache | None = None,
) -> MxResult:
    """The domain's exchangers in preference order with every address; DNS outcomes are values.

    `timeout` is the lifetime of each lookup (the MX query, then each A/AAAA query).
    Equal preferences are ordered by name unless `shuffle_equal` asks for RFC 5321's shuffle.
    """
    address = ip_literal(domain)
    if address is not None:
        return MxResult(address, MxSource.LITERAL, (_literal_host(address),), detail="IP address")
    name = normalize_domain(domain)
    started = time.monotonic()
    resolver = await make_resolver(nameservers, timeout, cache)
    result = await _resolve(resolver, name, shuffle_equal)
    return dataclasses.replace(
        result,
        nameservers=_server_names(resolver),
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


_FAILURE_SOURCE = {
    LookupOutcome.NXDOMAIN: MxSource.NXDOMAIN,
    LookupOutcome.TIMEOUT: MxSource.TIMEOUT,
    LookupOutcome.SERVFAIL: MxSource.SERVFAIL,
    LookupOutcome.ERROR: MxSource.SERVFAIL,
}


async def _resolve(resolver: dns.asyncresolver.Resolver, domain: str, shuffle: bool) -> MxResult:
    mx = await _query(resolver, domain, "MX")
    if mx.outcome is LookupOutcome.NXDOMAIN:
        return MxResult(domain, MxSource.NXDOMAIN, detail=mx.detail)
    if mx.outcome in _FAILURE_SOURCE:
        return MxResult(domain, _FAILURE_SOURCE[mx.outcome], detail=f"MX lookup: {mx.detail}")
    if mx.outcome is LookupOutcome.NO_ANSWER:
        return await _implicit(resolver, domain)
    records = [_parse_mx(text) for text in mx.records]
    if all(exchange == NULL_EXCHANGE for _, exchange in records):
        null = MxHost(0, NULL_EXCHANGE)
        return MxResult(domain, MxSource.NULL_MX, (null,), detail="null MX: accepts no mail")
    limit = asyncio.Semaphore(LOOKUP_CONCURRENCY)
    names = list(dict.fromkeys(e.lower() for _, e in records if e != NULL_EXCHANGE))
    looked_up = await asyncio.gather(*(lookup_host(resolver, n, limit=limit) for n in names))
    by_name = dict(zip(names, looked_up, strict=True))
    hosts = [
        dataclasses.replace(by_name[exchange.lower()], preference=pref, exchange=exchange)
        if exchange != NULL_EXCHANGE
        else MxHost(pref, exchange)
        for pref, exchange in _order(records, shuffle)
    ]
    detail = f"{len(records)} MX record(s)" + (f" via CNAME {mx.canonical}" if mx.canonical else "")
    return MxResult(domain, MxSource.MX, tuple(hosts), detail=detail)


def _parse_mx(text: str) -> tuple[int, str]:
    preference, _, exchange = text.partition(" ")
    exchange = exchange.strip()
    if exchange != NULL_EXCHANGE:
        exchange = exchange.rstrip(".")
    return int(preference), exchange


def _order(records: list[tuple[int, str]], shuffle: bool) -> list[tuple[int, str]]:
    """Preference order; equal preferences by name, or shuffled when asked (RFC 5321 5.1)."""
    ordered = sorted(records, key=lambda r: (r[0], r[1].lower()))
    if not shuffle:
        return ordered
    groups: dict[int, list[tuple[int, str]]] = {}
    for record in ordered:
        groups.setdefault(record[0], []).append(record)
    for group in groups.values():
        random.shuffle(group)
    return [record for pref in sorted(groups) for record in groups[pref]]


async def _implicit(resolver: dns.asyncresolver.Resolver, domain: str) -> MxResult:
    """RFC 5321 5.1: no MX, so the domain itself is the exchanger if it has an address."""
    host = await lookup_host(resolver, domain)
    if host.addresses:
        return MxResult(domain, MxSource.IMPLICIT, (host,), detail="no MX; implicit MX (RFC 5321)")
    failed = failed_lookups(host)
    if failed:
        source = _FAILURE_SOURCE[failed[0].outcome]
        what = f"no MX; {failed[0].rdtype} lookup: {failed[0].detail}"
        return MxResult(domain, source, detail=what)
    if all(lookup.outcome is LookupOutcome.NXDOMAIN for lookup in host.lookups):
        return MxResult(domain, MxSource.NXDOMAIN, detail="does not exist (NXDOMAIN)")
    return MxResult(domain, MxSource.NO_MAIL_HOST, detail="exists but has no MX and no address")


# ----------------------------------------------------------------------------- other targets


async def resolve_addresses(
    host: str, *, nameservers: Nameservers = (), timeout: float = 5.0
) -> tuple[str, ...]:
    """Every A and AAAA address of a host (an IP literal is its own address).

    Raises `DnsError` (one line) when the host has no address at all, naming why.
    """
    address = ip_literal(host)
    if address is not None:
        return (address,)
    name = normalize_domain(host)
    resolver = await make_resolver(nameservers, timeout)
    found = await lookup_host(resolver, name)
    if not found.addresses:
        raise DnsError(f"{name} has no address: {_lookups_text(found)}")
    return found.addresses


async def resolve_target(
    target: str,
    *,
    nameservers: Nameservers = (),
    timeout: float = 5.0,
    as_host: bool = False,
    shuffle_equal: bool = False,
    cache: DnsCache | None = None,
) -> MxResult:
    """Where to deliver for a command's TARGET: an address as is, a host (`as_host`, e.g. when a
    port was given) by its own addresses, otherwise the domain's MX. Never raises for DNS
    outcomes; the caller judges the result (`probe.analyze.mx`).
    """
    if not as_host or ip_literal(target) is not None:
        return await resolve_mx(
            target,
            nameservers=nameservers,
            timeout=timeout,
            shuffle_equal=shuffle_equal,
            cache=cache,
        )
    name = normalize_domain(target)
    started = time.monotonic()
    resolver = await make_resolver(nameservers, timeout, cache)
    host = await lookup_host(resolver, name)
    result = MxResult(name, MxSource.LITERAL, (host,), detail="host given directly")
    if not host.addresses:
        failed = failed_lookups(host)
        source = _FAILURE_SOURCE[failed[0].outcome] if failed else MxSource.NXDOMAIN
        if not failed and any(lk.outcome is LookupOutcome.NO_ANSWER for lk in host.lookups):
            source = MxSource.NO_MAIL_HOST
        result = MxResult(name, source, detail=f"no address: {_lookups_text(host)}")
    return dataclasses.replace(
        result,
        nameservers=_server_names(resolver),
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


def _lookups_text(host: MxHost) -> str:
    """Why a host has no address, in one line: `does not exist (NXDOMAIN)`, `no A or AAAA
    record`, or each lookup's own reason when they differ."""
    outcomes = {lookup.outcome for lookup in host.lookups}
    if outcomes == {LookupOutcome.NO_ANSWER}:
        return "no A or AAAA record"
    details = {lookup.detail for lookup in host.lookups}
    if len(details) == 1:
        return details.pop()
    return "; ".join(f"{lookup.rdtype}: {lookup.detail}" for lookup in host.lookups)


def delivery_order(result: MxResult) -> tuple[tuple[MxHost, str], ...]:
    """(exchange, address) pairs in the order a sender tries them; duplicates tried once."""
    seen: set[str] = set()
    pairs = []
    for host in usable(result):
        for address in host.addresses:
            if address not in seen:
                seen.add(address)
                pairs.append((host, address))
    return tuple(pairs)
