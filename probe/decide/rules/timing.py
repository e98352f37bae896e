"""Scanning seen in the final-reply time: a final reply that grows with the message size beyond
what storing it costs (pure)."""

from __future__ import annotations

import statistics

from probe.decide.context import Context, Placed
from probe.decide.rules.common import MB, human, place
from probe.decide.rules.identity import front_box_reasons, hop1_key
from probe.model.verdict import Action, Confidence, Evidence

# Final-reply growth that means content inspection rather than writing to a queue: 500 ms per
# MB is slower than any MTA stores mail, even the embedded lab's Python servers (~75 ms/MB).
SCAN_MS_PER_MB = 500.0


def rule_scan_timing(ctx: Context) -> list[Placed]:
    """Final-reply latency that grows with size beyond the upload: inline scanning."""
    points = []
    for send in ctx.sends:
        for conv in send.attempts:
            if conv.final_reply_ms is not None and conv.final_reply is not None and send.size:
                points.append((send.size, conv.final_reply_ms, send.variant))
    if len({p[0] for p in points}) < 3:
        return []
    sizes = [p[0] / MB for p in points]
    if max(sizes) - min(sizes) < 0.5:
        return []
    slope, _ = statistics.linear_regression(sizes, [p[1] for p in points])
    if slope < SCAN_MS_PER_MB:  # also every time alike, which has no correlation
        return []
    corr = statistics.correlation(sizes, [p[1] for p in points])
    if corr < 0.9:
        return []
    key = hop1_key(ctx, in_front=bool(front_box_reasons(ctx)))
    return [
        place(
            key,
            Action.SCANS,
            f"scans inline: its final reply takes {slope:.0f} ms more per MB (r = {corr:.2f})",
            condition="every message; time grows with size",
            evidence=(
                Evidence("timing", f"{human(size)} bytes: final reply after {ms:.0f} ms", variant)
                for size, ms, variant in (min(points), max(points))
            ),
            confidence=Confidence.MEDIUM,
            rule="scan-timing",
            variants=sorted({p[2] for p in points}),
        )
    ]
