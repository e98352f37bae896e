"""Render a resolved MX set: a table for humans, a document for machines (pure)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from probe.analyze import mx as mxcheck
from probe.model.json import to_data
from probe.model.mx import Anomaly, MxHost, MxResult, failed_lookups, is_null
from probe.model.status import Status

SCHEMA = "probe.mx/1"


def mx_document(result: MxResult) -> dict[str, Any]:
    """The JSON body: status and verdict first, then the result's own fields (loadable with
    `from_data(MxResult, doc)`, which ignores the extra keys)."""
    status, verdict = mxcheck.assess(result)
    return {"status": status.name, "verdict": verdict, **to_data(result)}


def render_mx(result: MxResult) -> str:
    """Header, table (preference, exchange, addresses, notes), anomalies, one-line verdict.

    When nothing could be listed (NXDOMAIN, timeout...), only the verdict line.
    """
    status, verdict = mxcheck.assess(result)
    last = f"{status.name}: {verdict}"
    if not result.hosts:
        return last
    rows = [
        (
            host.preference,
            host.exchange,
            "\n".join(host.addresses) or "-",
            "\n".join(_notes(host, result.anomalies)),
        )
        for host in result.hosts
    ]
    table = tabulate(rows, headers=("pref", "exchange", "addresses", "notes"), tablefmt="simple")
    lines = [_header(result), "", table]
    if result.anomalies:
        lines += ["", "anomalies:"]
        lines += [f"  {_weight(a)} {a.code} {a.subject}: {a.detail}" for a in result.anomalies]
    lines += ["", last]
    return "\n".join(lines)


def _header(result: MxResult) -> str:
    via = f" via {', '.join(result.nameservers)}" if result.nameservers else ""
    took = f" in {result.duration_ms:.0f} ms" if result.duration_ms else ""
    return f"{result.domain}: {result.detail}{via}{took}"


def _weight(anomaly: Anomaly) -> str:
    status = mxcheck.ANOMALIES.get(anomaly.code, (Status.WARNING, ""))[0]
    return "[warning]" if status is Status.WARNING else "[info]   "


def _notes(host: MxHost, anomalies: tuple[Anomaly, ...]) -> list[str]:
    if is_null(host):
        return ["null MX (accepts no mail)"]
    notes = []
    for anomaly in anomalies:
        if anomaly.subject.lower() != host.exchange.lower():
            continue
        if anomaly.code == "mx-cname":
            notes.append(f"CNAME -> {host.cname_target}")
        elif anomaly.code == "mx-partial-failure":
            notes += [f"{lk.rdtype} {lk.outcome.value}" for lk in failed_lookups(host)]
        else:
            notes.append(anomaly.code.removeprefix("mx-"))
    return notes
