"""Which hop gave the final reply, and whether it relayed the message before answering (pure).

The timing of a final reply belongs to whoever wrote it. A box in front of the MTA the trace
names may pass that MTA's replies (a TCP proxy: the reply's queue id is in the MTA's Received)
or answer itself (its queue id is in no Received); an SMTP proxy that answers the transaction
itself but passes the MTA's final reply, or a relay whose final reply names a later hop's queue
id or came after the later hop stamped the message, relays before it answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from probe.analyze import fingerprint
from probe.decide.context import Context
from probe.decide.rules import ownership
from probe.decide.rules.common import is_middlebox
from probe.decide.rules.identity import (
    front_box_reasons,
    hop1_conversations,
    hop1_key,
    speaks_for_box,
    trace_products,
)
from probe.model.smtp import Conversation, Stage
from probe.model.trace import Hop
from probe.model.verdict import Evidence, HopKey

STAMP_SLACK = dt.timedelta(seconds=1)  # Received dates are whole seconds
CLOCK_SLACK = dt.timedelta(seconds=2)  # hop 1's stamp against probe's clock


def answering(ctx: Context) -> tuple[HopKey, list[Evidence]]:
    """The hop that gave the final replies, and why when it is not the plain hop-1 guess: the
    MTA behind a box that passes its final reply (its queue id in the MTA's Received), or a box
    in front whose final reply names a queue id no Received carries."""
    front = bool(front_box_reasons(ctx))
    for variant, conv, hops in _accepted(ctx):
        first = hops[0] if hops else None
        if not conv.queue_id or first is None or not first.id:
            continue
        where = first.by_host or ctx.hop1
        if conv.queue_id == first.id:
            if front and not box_answers(ctx):
                why = (
                    f"the final reply names queue id {conv.queue_id} of the Received by {where}: "
                    "that MTA answers, the box in front passes its replies"
                )
                return HopKey.at(ctx.hop1), [Evidence("timing", why, variant)]
            break
        if all(hop.id != conv.queue_id for hop in hops):
            why = (
                f"the final reply names queue id {conv.queue_id}, which no Received carries "
                f"(the one by {where} says id {first.id}): a box in front of it answers"
            )
            return HopKey.front(ctx.hop1), [Evidence("timing", why, variant)]
        break
    return hop1_key(ctx, in_front=front), []


def _accepted(ctx: Context) -> Iterable[tuple[str, Conversation, tuple[Hop, ...]]]:
    """(variant, its last accepted conversation, its copy's Received hops) in variant order."""
    for send in sorted(ctx.sends, key=lambda s: (s.variant != "control", s.variant)):
        analysis = ctx.analyses.get(send.probe_id)
        if send.attempts and send.accepted and analysis is not None and analysis.trace:
            yield send.variant, send.attempts[-1], analysis.trace.hops


def relay_evidence(ctx: Context, *, front: bool) -> list[Evidence]:
    """Why hop 1 relays before it answers: its final reply names the queue id of a later hop's
    Received, or a later hop stamped the message before hop 1's reply came (whole seconds, and
    only when hop 1's own stamp agrees with probe's clock). `front`: hop 1 is a box in front of
    the first Received's host, so every stamp is a later hop's."""
    if front and not box_answers(ctx):
        return []  # a TCP proxy: the MTA behind answers, nobody relays before answering
    for variant, conv, hops in _accepted(ctx):
        later = hops if front else hops[1:]
        found = _same_queue_id(conv, later) or _stamped_before(conv, hops, later, front)
        if found:
            return [Evidence("timing", found, variant)]
    return []


def box_answers(ctx: Context) -> bool:
    """The box in front answers the transaction itself (its MAIL, RCPT or 354 reply is one the
    MTA behind never writes, `ownership.foreign_replies`, or another product's wording), as an
    SMTP proxy does; a TCP proxy passes the MTA's."""
    if any(r.stage in ("mail", "rcpt", "data") for r in ownership.foreign_replies(ctx)):
        return True
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
