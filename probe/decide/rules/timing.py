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

import datetime as dt
from collections.abc import Iterable

from probe.analyze import fingerprint
from probe.analyze.timing import TimingFit, TimingPoint, fit
from probe.decide.context import Context, Placed
from probe.decide.rules.common import human, is_middlebox, place
from probe.decide.rules.identity import (
    front_box_reasons,
    hop1_conversations,
    hop1_key,
    speaks_for_box,
    trace_products,
)
from probe.model.smtp import Conversation, Stage
from probe.model.trace import Hop
from probe.model.verdict import Action, Confidence, Evidence, HopKey, HopKind

MIN_SIZES = 3  # sizes with repeats the slope is fitted over
MIN_REPEATS = 2  # measurements of one size: one is no measure of the noise
MIN_SPAN_MB = 0.5  # between the smallest and the largest timed size
# Growth of the wait after the dot that means content inspection. An MTA that has read the whole
# message stores it in a few ms per MB (the embedded lab's Python servers in ~20, under load ~100).
SCAN_MS_PER_MB = 250.0  # the lower end of the slope's 95 % interval must reach it
MIN_GROWTH_MS = 250.0  # the largest size over the control, at the least ...
NOISE_FACTOR = 2.0  # ... and this many times the widest spread of repeats of one size
STAMP_SLACK = dt.timedelta(seconds=1)  # Received dates are whole seconds
CLOCK_SLACK = dt.timedelta(seconds=2)  # hop 1's stamp against probe's clock


def rule_scan_timing(ctx: Context) -> list[Placed]:
    """A wait after the held dot that grows with size: inline scanning, or an inline relay."""
    points = timing_points(ctx)
    stats = fit(points)
    key = hop1_key(ctx, in_front=bool(front_box_reasons(ctx)))
    front = key.kind is HopKind.FRONT
    relay = relay_evidence(ctx, front=front) if not front or box_answers(ctx) else []
    if relay:
        return [_relays(ctx, key, relay, stats, points)]
    if stats is None or not scans(stats):
        return []
    return [
        place(
            key,
            Action.SCANS,
            f"scans inline: once it has the whole message, its final reply takes "
            f"{stats.wait.per_mb:,.0f} ms more per MB ({_interval(stats)}), "
            f"{stats.growth_ms:,.0f} ms more at {human(stats.groups[-1].size)} bytes than for "
            f"{stats.groups[0].group}",
            condition="every message; the time grows with the size",
            evidence=timing_evidence(stats),
            confidence=Confidence.MEDIUM,
            rule="scan-timing",
            variants=sorted({p.variant for p in points}),
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


# --------------------------------------------------------------------------- inline relays


def relay_evidence(ctx: Context, *, front: bool) -> list[Evidence]:
    """Why hop 1 relays before it answers: its final reply names the queue id of a later hop's
    Received, or a later hop stamped the message before hop 1's reply came (whole seconds, and
    only when hop 1's own stamp agrees with probe's clock). `front`: hop 1 is a box in front of
    the first Received's host, so every stamp is a later hop's."""
    for send in ctx.sends:
        analysis = ctx.analyses.get(send.probe_id)
        conv = send.attempts[-1] if send.attempts and send.accepted else None
        if analysis is None or analysis.trace is None or conv is None:
            continue
        hops = analysis.trace.hops
        later = hops if front else hops[1:]
        found = _same_queue_id(conv, later) or _stamped_before(conv, hops, later, front)
        if found:
            return [Evidence("timing", found, send.variant)]
    return []


def box_answers(ctx: Context) -> bool:
    """The box in front answers the transaction itself (its MAIL, RCPT or 354 reply is not the
    wording of the MTA the trace names), as an SMTP proxy does; a TCP proxy passes the MTA's."""
    replies = tuple(
        (stage, code, text)
        for conv in hop1_conversations(ctx)
        for stage, code, text in fingerprint.observe_conversation(conv).replies
        if stage in ("mail", "rcpt", "data")
    )
    known = fingerprint.shipped_knowledge()
    traced = trace_products(ctx)
    matches = fingerprint.match_products(known, fingerprint.Observations(replies=replies))
    return any(is_middlebox(m) or speaks_for_box(m, traced) for m in matches)


def _same_queue_id(conv: Conversation, later: Iterable[Hop]) -> str:
    for hop in later:
        if conv.queue_id and hop.id and hop.id == conv.queue_id:
            return (
                f"its final reply names queue id {conv.queue_id}, which the Received by "
                f"{hop.by_host or 'the next hop'} carries: that hop had the message before "
                "hop 1 answered"
            )
    return ""


def _stamped_before(
    conv: Conversation, hops: tuple[Hop, ...], later: tuple[Hop, ...], front: bool
) -> str:
    replied = _final_reply_at(conv)
    if replied is None or front or not hops or hops[0].date is None:
        return ""
    sent = replied - dt.timedelta(milliseconds=conv.final_reply_ms or 0.0)
    if abs(hops[0].date - sent) > CLOCK_SLACK + dt.timedelta(milliseconds=conv.duration_ms):
        return ""  # hop 1's clock is not probe's: its stamps cannot be compared with the reply
    for hop in later:
        if hop.date is not None and hop.date + STAMP_SLACK <= replied:
            return (
                f"the Received by {hop.by_host or 'the next hop'} is dated {hop.date:%H:%M:%S}, "
                f"before hop 1's final reply at {replied:%H:%M:%S.%f}"[:-3]
            )
    return ""


def _final_reply_at(conv: Conversation) -> dt.datetime | None:
    for step in conv.steps:
        if step.name is Stage.DATA_END:
            return step.started_at + dt.timedelta(milliseconds=step.duration_ms)
    return None


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
