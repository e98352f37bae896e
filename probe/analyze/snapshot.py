"""A path's snapshot from what was measured: a run, or the conversations of a capability check."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from probe.model.diff import ChangeKind
from probe.model.mx import MxResult
from probe.model.run import RunResult
from probe.model.smtp import Conversation
from probe.model.snapshot import AddressSnapshot, HopSnapshot, PathSnapshot


def address_snapshot(conv: Conversation) -> AddressSnapshot:
    reached = conv.greeting is not None
    cert = conv.tls.certificate
    return AddressSnapshot(
        exchange=conv.host,
        address=conv.address,
        reached=reached,
        banner=conv.greeting.text if conv.greeting is not None else None,
        capabilities=tuple(conv.capabilities),
        starttls_offered=conv.tls.offered,
        certificate_sha256=cert.sha256 or None if cert is not None else None,
        certificate_issuer=cert.issuer if cert is not None else None,
        certificate_not_after=cert.not_after if cert is not None else None,
        certificate_valid_for_host=cert.valid_for_host if cert is not None else None,
    )


def _mx_hosts(mx: MxResult | None) -> tuple[str, ...]:
    return tuple(h.exchange for h in mx.hosts) if mx is not None else ()


def capability_snapshot(
    target: str, mx: MxResult | None, conversations: Sequence[Conversation]
) -> PathSnapshot:
    """A check that sends no message: the MX set and what every address presented."""
    return PathSnapshot(
        target=target,
        mx_hosts=_mx_hosts(mx),
        addresses=tuple(address_snapshot(c) for c in conversations),
    )


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(sorted(values), n=100, method="inclusive")
    return cuts[min(98, max(0, round(q * 100) - 1))]


def _hops(run: RunResult) -> tuple[HopSnapshot, ...] | None:
    traces = [a.trace for a in run.analyses if a.trace is not None and a.trace.hops]
    if not traces:
        return None
    longest = max(traces, key=lambda t: len(t.hops))
    names = [h.by_host for h in longest.hops if h.by_host]
    delays: dict[str, list[float]] = {n.lower(): [] for n in names}
    products: dict[str, str | None] = {}
    for trace in traces:
        for link in trace.links:
            hop = trace.hops[link.index] if link.index < len(trace.hops) else None
            if hop is None or not hop.by_host:
                continue
            key = hop.by_host.lower()
            products.setdefault(key, hop.by_product)
            if link.delay is not None and key in delays:
                delays[key].append(link.delay)
        for hop in trace.hops:
            if hop.by_host:
                products.setdefault(hop.by_host.lower(), hop.by_product)
    return tuple(
        HopSnapshot(
            by_host=name,
            product=products.get(name.lower()),
            delay_p50_s=_percentile(delays[name.lower()], 0.5),
            delay_p95_s=_percentile(delays[name.lower()], 0.95),
        )
        for name in _unique(names)
    )


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _injected(run: RunResult) -> tuple[str, ...] | None:
    diffs = [a.diff for a in run.analyses if a.diff is not None]
    if not diffs:
        return None
    return tuple(
        sorted(
            {
                c.where.lower()
                for d in diffs
                for c in d.changes
                if c.kind is ChangeKind.HEADER_ADDED and not c.trace
            }
        )
    )


def _delivery_seconds(run: RunResult) -> float | None:
    if run.collect is None:
        return None
    accepted = {v.probe_id: v for v in run.variants if v.accepted and v.attempts}
    for copy in run.collect.delivered:
        send = accepted.get(copy.probe_id)
        if send is None or copy.found_at is None:
            continue
        last = send.attempts[-1]
        ended = last.started_at.timestamp() + last.duration_ms / 1000
        return max(0.0, copy.found_at.timestamp() - ended)
    return None


def run_snapshot(run: RunResult) -> PathSnapshot:
    """A run's snapshot: capabilities of hop 1, the hop chain, injected headers, the limit."""
    verdicts = None
    if run.decision is not None:
        verdicts = tuple(
            sorted(
                {
                    f"{hop.key} {action.action.value}"
                    for hop in run.decision.hops
                    for action in hop.actions
                }
            )
        )
    limit = None
    if run.threshold is not None:
        limit = run.threshold.search.threshold
    return PathSnapshot(
        target=run.domain,
        mx_hosts=_mx_hosts(run.mx),
        addresses=(address_snapshot(run.hop1),) if run.hop1 is not None else (),
        hops=_hops(run),
        injected_headers=_injected(run),
        size_limit=limit,
        verdicts=verdicts,
        delivery_seconds=_delivery_seconds(run),
    )
