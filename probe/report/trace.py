"""A `Trace` for people and machines: the hop table, anomalies and notes, total delay (pure).

What a message says is echoed, but bounded: a detail line is cut to `DETAIL` characters in the
text, and every string of the JSON document to `FIELD` characters, so a 50 MB header does not
come back whole."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tabulate import tabulate

from probe.model.json import to_data
from probe.model.trace import Hop, Trace

SCHEMA = "probe.trace/1"
DETAIL = 200  # characters of an anomaly's or a note's detail in the text
FIELD = 8192  # characters of any string in the JSON document


def trace_document(trace: Trace) -> dict[str, Any]:
    """The body of the `probe.trace/1` document, every string cut to `FIELD` characters (said
    where cut)."""
    data: dict[str, Any] = _bounded(to_data(trace))
    return data


def _bounded(data: Any) -> Any:
    if isinstance(data, str) and len(data) > FIELD:
        return data[:FIELD] + f"... [cut: {len(data):,} characters]"
    if isinstance(data, dict):
        return {k: _bounded(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_bounded(v) for v in data]
    return data


def render_trace(trace: Trace) -> str:
    """A header-analyzer style report; times in local time, delays signed."""
    if not trace.hops:
        return "no Received headers"
    rows = []
    delays = {link.index: link.delay for link in trace.links}
    for n, hop in enumerate(trace.hops, 1):
        rows.append(
            [
                n,
                _cut(_from(hop)),
                _cut(hop.by_host or ""),
                _cut(hop.with_protocol or "", 24),
                _tls(hop),
                _delay(delays.get(n)),
                _time(hop.date),
                hop.kind.value,
            ]
        )
    headers = ["#", "from", "by", "with", "TLS", "delay", "time", "kind"]
    lines = [tabulate(rows, headers=headers, disable_numparse=True)]
    lines.append("")
    total = _delay(trace.total_delay) if trace.total_delay is not None else "unknown"
    lines.append(f"total delay: {total}; network hops: {trace.network_hops}")
    for title, items in (("anomalies", trace.anomalies), ("notes", trace.notes)):
        if items:
            lines.append(f"{title}:")
            lines.extend(
                f"  {_cut(a.subject, DETAIL)}: {a.code}: {_cut(a.detail, DETAIL)}" for a in items
            )
    return "\n".join(lines)


def _from(hop: Hop) -> str:
    name = hop.from_helo or hop.from_rdns or ""
    if hop.from_ip and hop.from_ip not in name:
        return f"{name} [{hop.from_ip}]".strip()
    return name


def _tls(hop: Hop) -> str:
    if hop.encrypted is None:
        return "?"
    if not hop.encrypted:
        return "no"
    if hop.tls is not None and (hop.tls.version or hop.tls.cipher):
        return hop.tls.version or "yes"
    return "yes"


def _delay(seconds: float | None) -> str:
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    value = abs(seconds)
    if value < 60:
        return f"{sign}{value:g}s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{sign}{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h{minutes:02d}m"


def _time(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when else "?"


def _cut(text: str, width: int = 36) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
