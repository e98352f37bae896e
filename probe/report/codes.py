"""`probe codes` for humans: what a reply means, the likely product, cause and remedy (pure)."""

from __future__ import annotations

from probe.analyze.codes import Explanation


def render_explanation(e: Explanation) -> str:
    """A readable block: summary first, then the parts, the product evidence and the remedies."""
    out = [e.summary]
    if e.text:
        out.append(f"  text:      {e.text}")
    if e.code is not None:
        out.append(f"  code:      {e.code} {e.meaning or '(not registered)'} [{e.reply_class}]")
    for part in e.parts:
        out.append(f"  {part.part + ':':<10} {part.code} {part.meaning}")
    for vendor in e.vendors:
        who = " or ".join(vendor.names) or "generic (many products)"
        out.append(f"  vendor:    {who}: {vendor.meaning}")
    for match in e.products:
        out.append(f"  product:   {match.summary} ({match.role}, {match.confidence} confidence)")
        for clue in match.evidence:
            out.append(
                f"             {clue.kind} {clue.specificity}: {clue.observed} [{clue.signature}]"
            )
    if e.id_format:
        out.append(f"  id format: {e.id_format}")
    if e.refusal:
        out.append(f"  refusal:   {e.refusal} (refused for what the message is, not who sent it)")
    if e.cause:
        out.append(f"  cause:     {e.cause}")
    for i, remedy in enumerate(e.remedies):
        out.append(f"  {'remedy:' if i == 0 else '':<10} - {remedy}")
    for note in e.notes:
        out.append(f"  note:      {note}")
    return "\n".join(out)
