"""What the reply behind a rejection or a bounce means, from the codes knowledge
(`probe.analyze.codes.explain`), as the `ReplyMeaning` a verdict carries (pure)."""

from __future__ import annotations

import re

from probe.analyze import codes
from probe.errors import UsageError
from probe.model.verdict import ReplyMeaning

_DIAGNOSTIC_CODE = re.compile(r"^\s*(?:[\w-]+;\s*)?([245]\d\d)[ -](.*)$", re.S)


def reply_meaning(code: int | None, text: str, enhanced: str | None = None) -> ReplyMeaning | None:
    """`451 Message ended early` -> temporary, its meaning, cause and remedy, and the vendor
    the text points to; None when there is nothing to explain."""
    try:
        found = codes.explain(code, text, enhanced)
    except UsageError:
        return None
    detail = next((p for p in found.parts if p.part == "detail" and p.known), None)
    vendor = found.vendors[0] if found.vendors else None
    meaning = vendor.meaning if vendor else detail.meaning if detail else found.meaning
    shown = " ".join(x for x in (str(code) if code is not None else "", found.text) if x)
    return ReplyMeaning(
        reply=shown or (enhanced or ""),
        temporary=found.reply_class is codes.ReplyClass.TEMPORARY,
        meaning=meaning or found.summary,
        cause=found.cause,
        remedy=found.remedies[0] if found.remedies else "",
        vendors=vendor.names if vendor else (),
        sources=found.sources,
    )


def diagnostic_meaning(diagnostic: str, status: str) -> ReplyMeaning | None:
    """A DSN's Diagnostic-Code (`smtp; 552 5.3.4 Message size exceeds fixed limit`) or, without
    one, its Status (`5.1.1`), explained."""
    match = _DIAGNOSTIC_CODE.match(diagnostic or "")
    if match is not None:
        return reply_meaning(int(match.group(1)), match.group(2).strip())
    text = (diagnostic or "").partition(";")[2].strip() or diagnostic or ""
    if status:
        return reply_meaning(None, text, status)
    return reply_meaning(None, text) if text else None
