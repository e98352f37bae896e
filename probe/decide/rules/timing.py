"""Scanning seen in the final-reply time, and relays that answer only once the next hop has the
message (pure).

The evidence is the profile's timed variants (`probe.plan.timing`): several measurements per
size, each with its final dot held until the hop had every byte, so the wait after the dot is
the hop's work on the whole message, not the time it took to read it (which a busy machine or a
slow link stretches in proportion to the size as well). A hop "scans" when that wait grows with
the size beyond the noise of the repeats and the control, faster than the path carries the
bytes, and with a slope whose 95 % interval stays clear of zero (`probe.analyze.timing`). A hop
whose final reply is the next hop's (its queue id in the next hop's Received, or the next hop's
stamp older than the reply) relays before it answers: its wait is the relay's, and it is named
so, never a scanner for it.
"""

from __future__ import annotations

from probe.analyze.timing import TimingFit, TimingPoint, fit
from probe.decide.context import Context, Placed
from probe.decide.rules.answering import answering, relay_evidence
from probe.decide.rules.common import human, place
from probe.model.smtp import Conversation
from probe.model.verdict import Action, Confidence, Evidence, HopKey, HopKind

MIN_SIZES = 3  # sizes with repeats the slope is fitted over
MIN_REPEATS = 2  # measurements of one size: one is no measure of the noise
MIN_SPAN_MB = 0.5  # between the smallest and the largest timed size
# Growth of the wait after the dot that means content inspection. An MTA that has read the whole
# message stores it in a few ms per MB (the embedded lab's Python servers in ~20, under load ~100).
SCAN_MS_PER_MB = 250.0  # the lower end of the slope's 95 % interval must reach it
MIN_GROWTH_MS = 250.0  # the largest size over the control, at the least ...
NOISE_FACTOR = 2.0  # ... and this many times the widest spread of repeats of one size


def rule_scan_timing(ctx: Context) -> list[Placed]:
    """A wait after the held dot that grows with size: inline scanning, or an inline relay."""
    points = timing_points(ctx)
    stats = fit(points)
    key, whose = answering(ctx)
    relay = relay_evidence(ctx, front=key.kind is HopKind.FRONT)
    if relay:
        return [_relays(ctx, key, relay, stats, points)]
    if stats is None or not scans(stats):
        return []
    # the first MTA, chosen for want of other evidence: a box in front that passes its every
    # reply (banner, texts, queue id) and holds the final one would look the same
    unseen_box = key == HopKey.at(ctx.hop1) and not whose
    return [
        place(
            key,
            Action.SCANS,
            f"scans inline: once it has the whole message, its final reply takes "
            f"{stats.wait.per_mb:,.0f} ms more per MB ({_interval(stats)}), "
            f"{stats.growth_ms:,.0f} ms more at {human(stats.groups[-1].size)} bytes than for "
            f"{stats.groups[0].group}",
            condition="every message; the time grows with the size",
            evidence=[*whose, *timing_evidence(stats)],
            confidence=Confidence.MEDIUM,
            rule="scan-timing",
            variants=sorted({p.variant for p in points}),
            alternatives=(HopKey.front(ctx.hop1),) if unseen_box else (),
            ambiguous=(
                "the timing alone cannot tell this MTA from a box in front of it that passes "
                "its replies unchanged"
            )
            if unseen_box
            else "",
        )
    ]


def timing_points(ctx: Context) -> list[TimingPoint]:
    """Every accepted attempt of a timed variant whose dot was held, grouped by the variant it
    repeats; sizes measured fewer than MIN_REPEATS times are left out."""
    points = []
    for send in ctx.sends:
        spec = ctx.specs.get(send.variant)
        group = (spec.repeat_of if spec else None) or send.variant
        for conv in send.attempts:
            if _held(conv) and send.size and conv.final_reply_ms is not None:
                upload = (conv.upload_ms or 0.0) + (conv.acked_ms or 0.0)
                points.append(
                    TimingPoint(group, send.variant, send.size, upload, conv.final_reply_ms)
                )
    counts: dict[str, int] = {}
    for point in points:
        counts[point.group] = counts.get(point.group, 0) + 1
    return [p for p in points if counts[p.group] >= MIN_REPEATS]


def scans(stats: TimingFit) -> bool:
    """The wait after the dot grows with the size by more than noise, the control and the upload
    rate explain, on a slope that stays steep across its interval."""
    return (
        len(stats.groups) >= MIN_SIZES
        and stats.span_mb >= MIN_SPAN_MB
        and stats.wait.low >= SCAN_MS_PER_MB
        and stats.wait.per_mb >= stats.upload.per_mb
        and stats.growth_ms >= max(MIN_GROWTH_MS, NOISE_FACTOR * stats.noise_ms)
        and stats.monotone
    )


def timing_evidence(stats: TimingFit) -> list[Evidence]:
    out = [
        Evidence(
            "timing",
            f"{g.group} ({human(g.size)} bytes) x{g.count}: final reply {g.median_ms:,.0f} ms "
            f"after the held dot (median; repeats {g.spread_ms:,.0f} ms apart), "
            f"upload {g.median_upload_ms:,.0f} ms",
            g.group,
        )
        for g in stats.groups
    ]
    out.append(
        Evidence(
            "timing",
            f"wait after the dot: Theil-Sen slope {stats.wait.per_mb:,.0f} ms per MB "
            f"({_interval(stats)}); upload {stats.upload.per_mb:,.0f} ms per MB; "
            f"{stats.growth_ms:,.0f} ms over {stats.groups[0].group}, "
            f"repeats at most {stats.noise_ms:,.0f} ms apart",
        )
    )
    return out


def _interval(stats: TimingFit) -> str:
    return f"95 % interval {stats.wait.low:,.0f} .. {stats.wait.high:,.0f} ms/MB"


def _held(conv: Conversation) -> bool:
    return (
        conv.held_ms is not None and conv.final_reply is not None and conv.final_reply.is_positive
    )


def _relays(
    ctx: Context,
    key: HopKey,
    relay: list[Evidence],
    stats: TimingFit | None,
    points: list[TimingPoint],
) -> Placed:
    grows = stats is not None and stats.growth_ms > 0 and len(stats.groups) >= 2
    detail = (
        f": its wait grows by {stats.wait.per_mb:,.0f} ms per MB with the relay"
        if grows and stats is not None
        else ""
    )
    return place(
        key,
        Action.RELAYS_INLINE,
        f"relays before it answers (store-and-forward held inline): its final reply waits for "
        f"the next hop's{detail}",
        condition="every message it accepts",
        evidence=[*relay, *(timing_evidence(stats) if grows and stats is not None else ())],
        confidence=Confidence.MEDIUM,
        rule="relay-timing",
        variants=sorted({p.variant for p in points} or {e.variant for e in relay if e.variant}),
    )
