"""Drift between two snapshots of one path: every change an admin would want to hear about.

Only what both measurements measured is compared (a `capabilities` check has no hop chain, so a
hop chain never "vanishes" against it). Changes that carry no meaning are not drift: the order
of a capability list, a banner's timestamp or queue id, a hop's delay moving within noise.
"""

from __future__ import annotations

import re

from probe.model.drift import DriftItem, DriftKind
from probe.model.snapshot import AddressSnapshot, HopSnapshot, PathSnapshot

# A hop's delay is drift only when it grew by both this factor and this many seconds: Received
# clocks have one-second resolution and queues breathe.
DELAY_FACTOR = 2.0
DELAY_MIN_GROWTH_S = 10.0

# Parts of a banner that change on every connection: dates, times, ids, counters.
_VOLATILE = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)\b,?|\b\d{1,2}\s+[a-z]{3}\s+\d{2,4}\b"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?|[+-]\d{4}\b|\([^)]*\)|\b[0-9a-f]{8,}\b|\b\d+\b",
    re.IGNORECASE,
)


def _stable_banner(text: str | None) -> str:
    return " ".join(_VOLATILE.sub(" ", text or "").split()).lower()


def _extension(capability: str) -> str:
    return capability.split(" ", 1)[0].upper()


def _address_changes(before: AddressSnapshot, after: AddressSnapshot) -> list[DriftItem]:
    where = f"{after.exchange} ({after.address})"
    items: list[DriftItem] = []
    if not (before.reached and after.reached):
        return items
    if _stable_banner(before.banner) != _stable_banner(after.banner):
        items.append(
            DriftItem(
                DriftKind.BANNER,
                where,
                before.banner or "",
                after.banner or "",
                f"{where}: the banner changed",
            )
        )
    old = {_extension(c) for c in before.capabilities}
    new = {_extension(c) for c in after.capabilities}
    if before.starttls_offered and not after.starttls_offered:
        items.append(
            DriftItem(
                DriftKind.STARTTLS_VANISHED,
                where,
                "STARTTLS",
                "",
                f"{where}: STARTTLS is no longer offered",
            )
        )
    gone, came = sorted(old - new - {"STARTTLS"}), sorted(new - old - {"STARTTLS"})
    if gone or came:
        parts = ([f"without {', '.join(gone)}"] if gone else []) + (
            [f"now with {', '.join(came)}"] if came else []
        )
        items.append(
            DriftItem(
                DriftKind.CAPABILITIES,
                where,
                " ".join(sorted(old)),
                " ".join(sorted(new)),
                f"{where}: EHLO {'; '.join(parts)}",
            )
        )
    if (
        before.certificate_sha256
        and after.certificate_sha256
        and (before.certificate_sha256 != after.certificate_sha256)
    ):
        issuer = ""
        if before.certificate_issuer != after.certificate_issuer:
            issuer = f" (issuer {before.certificate_issuer} -> {after.certificate_issuer})"
        expiry = ""
        if before.certificate_not_after and after.certificate_not_after:
            expiry = (
                f", expires {after.certificate_not_after:%Y-%m-%d}"
                f" (was {before.certificate_not_after:%Y-%m-%d})"
            )
        items.append(
            DriftItem(
                DriftKind.CERTIFICATE,
                where,
                before.certificate_sha256,
                after.certificate_sha256,
                f"{where}: a different certificate{issuer}{expiry}",
            )
        )
    return items


def _hop_changes(
    before: tuple[HopSnapshot, ...], after: tuple[HopSnapshot, ...]
) -> list[DriftItem]:
    items: list[DriftItem] = []
    old = {h.by_host.lower(): h for h in before}
    new = {h.by_host.lower(): h for h in after}
    for name in [h.by_host for h in after if h.by_host.lower() not in old]:
        items.append(
            DriftItem(DriftKind.HOP_ADDED, name, "", name, f"a new hop in the path: {name}")
        )
    for name in [h.by_host for h in before if h.by_host.lower() not in new]:
        items.append(
            DriftItem(DriftKind.HOP_REMOVED, name, name, "", f"a hop left the path: {name}")
        )
    for key, hop in new.items():
        was = old.get(key)
        if was is None:
            continue
        if was.product and hop.product and was.product != hop.product:
            items.append(
                DriftItem(
                    DriftKind.HOP_SOFTWARE,
                    hop.by_host,
                    was.product,
                    hop.product,
                    f"{hop.by_host} now runs {hop.product} (was {was.product})",
                )
            )
        if was.delay_p95_s is not None and hop.delay_p95_s is not None:
            grew = hop.delay_p95_s - was.delay_p95_s
            if grew >= DELAY_MIN_GROWTH_S and hop.delay_p95_s >= DELAY_FACTOR * max(
                was.delay_p95_s, 1.0
            ):
                items.append(
                    DriftItem(
                        DriftKind.HOP_DELAY,
                        hop.by_host,
                        f"{was.delay_p95_s:.0f} s",
                        f"{hop.delay_p95_s:.0f} s",
                        f"{hop.by_host} holds mail longer: p95 {hop.delay_p95_s:.0f} s"
                        f" (was {was.delay_p95_s:.0f} s)",
                    )
                )
    return items


def _set_change(
    kind: DriftKind, subject: str, before: tuple[str, ...], after: tuple[str, ...], what: str
) -> list[DriftItem]:
    gone = sorted(set(before) - set(after))
    came = sorted(set(after) - set(before))
    if not gone and not came:
        return []
    parts = ([f"new: {', '.join(came)}"] if came else []) + (
        [f"gone: {', '.join(gone)}"] if gone else []
    )
    return [
        DriftItem(
            kind,
            subject,
            ", ".join(sorted(before)),
            ", ".join(sorted(after)),
            f"{what} changed ({'; '.join(parts)})",
        )
    ]


def compare(before: PathSnapshot, after: PathSnapshot) -> tuple[DriftItem, ...]:
    """Every meaningful change from `before` to `after`, in a stable order."""
    items: list[DriftItem] = []
    if (
        before.mx_hosts
        and after.mx_hosts
        and ([h.lower() for h in before.mx_hosts] != [h.lower() for h in after.mx_hosts])
    ):
        items.append(
            DriftItem(
                DriftKind.MX_SET,
                after.target,
                " ".join(before.mx_hosts),
                " ".join(after.mx_hosts),
                f"the MX set changed: {' '.join(after.mx_hosts) or 'none'}"
                f" (was {' '.join(before.mx_hosts)})",
            )
        )
    old = {(a.exchange.lower(), a.address): a for a in before.addresses}
    for addr in after.addresses:
        was = old.get((addr.exchange.lower(), addr.address))
        if was is not None:
            items += _address_changes(was, addr)
    if before.hops is not None and after.hops is not None:
        items += _hop_changes(before.hops, after.hops)
    if before.injected_headers is not None and after.injected_headers is not None:
        items += _set_change(
            DriftKind.INJECTED_HEADERS,
            after.target,
            before.injected_headers,
            after.injected_headers,
            "the headers added on the way",
        )
    if (
        before.size_limit is not None
        and after.size_limit is not None
        and (before.size_limit != after.size_limit)
    ):
        items.append(
            DriftItem(
                DriftKind.SIZE_LIMIT,
                after.target,
                str(before.size_limit),
                str(after.size_limit),
                f"the size limit moved: {after.size_limit:,} bytes rejected"
                f" (was {before.size_limit:,})",
            )
        )
    if before.verdicts is not None and after.verdicts is not None:
        items += _set_change(
            DriftKind.VERDICTS, after.target, before.verdicts, after.verdicts, "what the hops do"
        )
    return tuple(items)
