"""Prometheus metrics of a check: a registry built from the result, written by prometheus_client.

Names follow the Prometheus conventions (`probe_` prefix, base units in the name: `_seconds`,
`_bytes`, `_timestamp_seconds`; 0/1 gauges for booleans). Every series carries `target` and
`vantage`; per-address series add `mx` and `address`, per-hop series `hop`. The exposition
text comes from prometheus_client (`generate_latest`); writing the node_exporter textfile
atomically (`write_to_textfile`) happens at the CLI edge.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest

from probe.model.check import CheckResult, TargetCheck


class _Gauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        base = ["target", "vantage"]
        address = [*base, "mx", "address"]

        def gauge(name: str, text: str, labels: list[str]) -> Gauge:
            return Gauge(name, text, labels, registry=registry)

        self.status = gauge("probe_check_status",
                            "Status of the target's check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
                            [*base, "profile"])
        self.success = gauge("probe_check_success", "1 when the target's check is OK", base)
        self.duration = gauge("probe_check_duration_seconds", "How long the target's check took",
                              base)
        self.last = gauge("probe_check_last_run_timestamp_seconds",
                          "When the target's check finished (Unix time)", base)
        self.finding = gauge("probe_check_finding_status",
                             "Status of one expectation: 0 met, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
                             [*base, "expectation"])
        self.drift = gauge("probe_drift_changes", "Changes against the previous run or baseline",
                           [*base, "kind"])
        self.reached = gauge("probe_mx_reachable", "1 when the MX address answered with a banner",
                             address)
        self.starttls = gauge("probe_starttls_offered", "1 when the MX address offers STARTTLS",
                              address)
        self.expiry = gauge("probe_certificate_expiry_timestamp_seconds",
                            "When the MX address's certificate expires (Unix time)", address)
        self.delivery = gauge("probe_delivery_seconds",
                              "From the control's acceptance to its arrival in the mailbox",
                              [*base, "mx"])
        self.size = gauge("probe_size_limit_bytes",
                          "The smallest message size a hop rejects (threshold search)",
                          [*base, "mx"])
        self.hop_delay = gauge("probe_hop_delay_seconds",
                               "A hop's delay by its Received stamps (quantile over variants)",
                               [*base, "hop", "quantile"])
        self.interrupted = gauge("probe_check_interrupted",
                                 "1 when the check was stopped before it finished", ["vantage"])


def _target(g: _Gauges, t: TargetCheck) -> None:
    base = {"target": t.target, "vantage": t.vantage}
    g.status.labels(**base, profile=t.profile).set(int(t.status))
    g.success.labels(**base).set(1 if t.status.name == "OK" else 0)
    if t.duration_s is not None:
        g.duration.labels(**base).set(t.duration_s)
    if t.finished_at is not None:
        g.last.labels(**base).set(t.finished_at.timestamp())
    for finding in t.findings:
        g.finding.labels(**base, expectation=finding.expectation.value).set(int(finding.status))
    if t.drift is not None:
        kinds: dict[str, int] = {}
        for item in t.drift.items:
            kinds[item.kind.value] = kinds.get(item.kind.value, 0) + 1
        for kind, count in sorted(kinds.items()):
            g.drift.labels(**base, kind=kind).set(count)
    snap = t.snapshot
    if snap is None:
        return
    first_mx = snap.mx_hosts[0] if snap.mx_hosts else ""
    for a in snap.addresses:
        labels = {**base, "mx": a.exchange, "address": a.address}
        g.reached.labels(**labels).set(1 if a.reached else 0)
        if a.reached:
            g.starttls.labels(**labels).set(1 if a.starttls_offered else 0)
        if a.certificate_not_after is not None:
            g.expiry.labels(**labels).set(a.certificate_not_after.timestamp())
    if snap.delivery_seconds is not None:
        g.delivery.labels(**base, mx=first_mx).set(snap.delivery_seconds)
    if snap.size_limit is not None:
        g.size.labels(**base, mx=first_mx).set(snap.size_limit)
    for hop in snap.hops or ():
        for quantile, value in (("0.5", hop.delay_p50_s), ("0.95", hop.delay_p95_s)):
            if value is not None:
                g.hop_delay.labels(**base, hop=hop.by_host, quantile=quantile).set(value)


def registry_of(result: CheckResult) -> CollectorRegistry:
    registry = CollectorRegistry()
    gauges = _Gauges(registry)
    for target in result.targets:
        _target(gauges, target)
    gauges.interrupted.labels(vantage=result.vantage).set(1 if result.interrupted else 0)
    return registry


def render_prometheus(result: CheckResult) -> str:
    return generate_latest(registry_of(result)).decode("utf-8")
