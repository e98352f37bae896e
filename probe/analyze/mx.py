"""Judge a resolved MX set: named anomalies and a monitoring status (pure: data in, data out).

Each anomaly has a stable code (scripts match on it) and a weight: WARNING when it can break or
slow delivery, OK when it is only worth knowing (the lab's loopback exchanges are legitimate).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import Counter

from probe.model.mx import (
    Anomaly,
    MxHost,
    MxResult,
    MxSource,
    failed_lookups,
    is_null,
    usable,
)
from probe.model.status import Status
from probe.smtp.hosts import is_ip_literal

LONG_LIST = 10  # more exchanges than this is unusual enough to name

# code -> (status it contributes, what it means). The meaning is the first part of the detail.
ANOMALIES: dict[str, tuple[Status, str]] = {
    "mx-cname": (Status.WARNING, "exchange is a CNAME (RFC 2181 10.3 forbids it)"),
    "mx-ip-literal": (
        Status.WARNING,
        "exchange is an IP address; MTAs look it up as a host name and fail",
    ),
    "mx-no-address": (Status.WARNING, "exchange has no A or AAAA record"),
    "mx-duplicate": (Status.WARNING, "exchange listed more than once"),
    "mx-long-list": (Status.WARNING, f"more than {LONG_LIST} exchanges"),
    "mx-partial-failure": (Status.WARNING, "address lookup failed"),
    "mx-localhost": (Status.OK, "exchange resolves to a loopback address"),
    "null-mx-mixed": (Status.WARNING, "null MX beside other MX records (RFC 7505: invalid)"),
}

_NOT_MEASURED = {MxSource.NXDOMAIN, MxSource.SERVFAIL, MxSource.TIMEOUT, MxSource.NO_MAIL_HOST}


def _anomaly(code: str, subject: str, extra: str = "") -> Anomaly:
    meaning = ANOMALIES[code][1]
    return Anomaly(code, subject, f"{meaning}: {extra}" if extra else meaning)


def with_anomalies(result: MxResult) -> MxResult:
    """The resolver's result with its anomalies. An address given as the target was not looked
    up, so there is nothing to judge in it."""
    if result.source is MxSource.LITERAL and not any(h.lookups for h in result.hosts):
        return result
    return dataclasses.replace(result, anomalies=find_anomalies(result))


def find_anomalies(result: MxResult) -> tuple[Anomaly, ...]:
    """Every anomaly of a result, in a stable order (list-level first, then host by host)."""
    found: list[Anomaly] = []
    real = [h for h in result.hosts if not is_null(h)]
    if real and len(real) < len(result.hosts):
        found.append(_anomaly("null-mx-mixed", result.domain, f"{len(real)} other exchange(s)"))
    if len(real) > LONG_LIST:
        found.append(_anomaly("mx-long-list", result.domain, f"{len(real)} exchanges"))
    counts = Counter(h.exchange.lower() for h in real)
    seen: set[str] = set()
    for host in real:
        key = host.exchange.lower()
        if counts[key] > 1 and key not in seen:
            seen.add(key)
            found.append(_anomaly("mx-duplicate", host.exchange, f"{counts[key]} times"))
    for host in _unique(real):
        found.extend(_host_anomalies(host, given=result.source is MxSource.LITERAL))
    return tuple(found)


def _unique(hosts: list[MxHost]) -> list[MxHost]:
    seen: set[str] = set()
    unique = []
    for host in hosts:
        if host.exchange.lower() not in seen:
            seen.add(host.exchange.lower())
            unique.append(host)
    return unique


def _host_anomalies(host: MxHost, *, given: bool) -> list[Anomaly]:
    """`given`: the user named this host or address (no MX), so a literal is no anomaly."""
    found = []
    name = host.exchange
    if host.cname_target:
        found.append(_anomaly("mx-cname", name, f"points to {host.cname_target}"))
    if is_ip_literal(name) and not given:
        found.append(_anomaly("mx-ip-literal", name))
    failed = failed_lookups(host)
    if failed:
        what = ", ".join(f"{lookup.rdtype} {lookup.outcome.value}" for lookup in failed)
        found.append(_anomaly("mx-partial-failure", name, what))
    elif not host.addresses:
        found.append(_anomaly("mx-no-address", name))
    loopback = [a for a in host.addresses if _is_loopback(a)]
    if loopback:
        found.append(_anomaly("mx-localhost", name, ", ".join(loopback)))
    return found


def _is_loopback(address: str) -> bool:
    """A loopback address; False for anything that is no address (a hand-edited saved run)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def assess(result: MxResult) -> tuple[Status, str]:
    """The status and a one-line verdict for a resolved MX set."""
    domain = result.domain
    if result.source is MxSource.NULL_MX:
        return Status.CRITICAL, f"{domain} publishes a null MX (RFC 7505): domain accepts no mail"
    if result.source in _NOT_MEASURED:
        return Status.UNKNOWN, f"{domain}: {result.detail or result.source.value}"
    hosts = usable(result)
    if not hosts:
        if any(failed_lookups(h) for h in result.hosts):
            return Status.UNKNOWN, f"{domain}: no exchange address could be resolved"
        return Status.CRITICAL, f"{domain}: no exchange has an address; mail cannot be delivered"
    addresses = sum(len(h.addresses) for h in hosts)
    what = (
        "implicit MX (the domain's own address)"
        if result.source is MxSource.IMPLICIT
        else (f"{len(hosts)} usable exchange(s), {addresses} address(es)")
    )
    warnings = [a.code for a in result.anomalies if ANOMALIES.get(a.code, (Status.WARNING,))[0]]
    if warnings:
        codes = ", ".join(dict.fromkeys(warnings))
        return Status.WARNING, f"{domain}: {what}; anomalies: {codes}"
    return Status.OK, f"{domain}: {what}"


def mx_status(result: MxResult) -> Status:
    """NULL_MX -> CRITICAL; nothing measured -> UNKNOWN; anomalies that matter -> WARNING."""
    return assess(result)[0]
