"""`probe firewall` for people: one verdict table (each check, what was sent, what arrived,
what the box did) and the summary line (pure)."""

from __future__ import annotations

from tabulate import tabulate

from probe.model.firewall import FirewallResult
from probe.smtp.replies import printable
from probe.smtp.text import one_line

CELL = 50  # characters of a table cell; the JSON document has everything


def _cell(text: str) -> str:
    text = one_line(printable(text.encode("utf-8", "surrogateescape")))  # no control codes
    return text if len(text) <= CELL else text[: CELL - 3] + "..."


def render_firewall(result: FirewallResult) -> str:
    rows = [
        (c.session, c.check, _cell(c.sent), _cell(c.arrived), c.effect.value, _cell(c.detail))
        for c in result.checks
    ]
    headers = ("session", "check", "sent", "arrived", "the box", "detail")
    if result.error:
        return f"{result.status.name}: {result.error}"
    lines = [f"probe firewall {result.target} (token {result.token})", ""]
    lines.append(tabulate(rows, headers=headers))
    if result.unjoined:
        lines += ["", "no listener record for: " + ", ".join(result.unjoined)]
    lines += ["", f"{result.status.name}: " + "; ".join(result.summary)]
    return "\n".join(lines)
