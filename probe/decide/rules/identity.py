"""Who hop 1 is: the products its dialogue shows, whether it is a box in front of the MTA the
trace names, and where an in-protocol rejection comes from (pure)."""

from __future__ import annotations

import re

from probe.analyze import fingerprint
from probe.decide.context import Context, SeenProduct
from probe.decide.rules import ownership
from probe.decide.rules.common import is_middlebox
from probe.decide.rules.headers import injected_headers
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome
from probe.model.verdict import Confidence, Evidence, HopKey

_FOREIGN_SHOWN = 4  # replies the MTA never writes, shown as evidence of the box at most


def hop1_conversation(ctx: Context) -> Conversation | None:
    """The capability probe, else the control's or the first variant's (by id) last attempt."""
    if ctx.run.hop1 is not None:
        return ctx.run.hop1
    for send in sorted(ctx.sends, key=lambda s: (s.variant != "control", s.variant)):
        if send.attempts:
            return send.attempts[-1]
    return None


def tls_offer(conv: Conversation) -> tuple[bool, list[str]]:
    """Whether hop 1's EHLO reply offers STARTTLS, and the keywords that mask it (XXXXXXXA)."""
    caps = conv.capabilities
    masked = [c for c in caps if re.fullmatch(r"X{2,}[A-Z]", c)]
    offered = any(c.split(" ", 1)[0].upper() == "STARTTLS" for c in caps) or conv.tls.offered
    return offered, masked


def starttls_withheld(ctx: Context) -> str:
    """How STARTTLS fails to reach probe at hop 1, in words ("": it is offered, or no EHLO
    reply was seen): masked by a box in front, or missing from the EHLO reply."""
    conv = hop1_conversation(ctx)
    if conv is None or not conv.capabilities:
        return ""
    offered, masked = tls_offer(conv)
    if masked:
        return f"the box in front masks it as {masked[0]} in the EHLO reply"
    if offered:
        return ""
    return "the box in front strips it from the EHLO reply, which offers no STARTTLS"


def hop1_key(ctx: Context, *, in_front: bool) -> HopKey:
    """Hop 1: the box in front of the first MTA the trace names, or that MTA."""
    return HopKey.front(ctx.hop1) if in_front else HopKey.at(ctx.hop1)


def hop1_conversations(ctx: Context) -> list[Conversation]:
    """The capability probe plus the control's and every rejected variant's last attempt, so
    banner, EHLO, the MAIL/RCPT/354 texts and the rejection texts are all seen."""
    convs = [ctx.run.hop1] if ctx.run.hop1 is not None else []
    for send in ctx.sends:
        if send.attempts and (send.variant == "control" or send.outcome is Outcome.REJECTED):
            convs.append(send.attempts[-1])
    return convs


def hop1_matches(ctx: Context) -> list[fingerprint.ProductMatch]:
    parts = [fingerprint.observe_conversation(c) for c in hop1_conversations(ctx)]
    known = fingerprint.shipped_knowledge()
    return list(fingerprint.match_products(known, fingerprint.combine(*parts))) if parts else []


def trace_products(ctx: Context) -> set[str]:
    """Products the first Received header (written by the MTA behind hop 1) names."""
    if not ctx.first_received:
        return set()
    observed = fingerprint.Observations(received=(ctx.first_received,))
    matches = fingerprint.match_products(fingerprint.shipped_knowledge(), observed)
    return {m.product for m in matches} | {alt for m in matches for alt in m.alternatives}


def label(match: fingerprint.ProductMatch) -> str:
    return match.summary or match.name


def seen(match: fingerprint.ProductMatch) -> SeenProduct:
    """The match as a hop's product; a product named on its own evidence is its brand, without
    the qualifier some names carry ("Sophos (Central Email / UTM)"); shared evidence and an
    unknown product's banner name no brand."""
    named = not match.alternatives and match.product != fingerprint.UNKNOWN
    brand = match.name.partition(" (")[0] if named else ""
    return SeenProduct(label(match), brand, _RANKS[match.confidence])


_RANKS = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}


def speaks_for_box(match: fingerprint.ProductMatch, traced: set[str]) -> bool:
    """A product seen at hop 1 that is not the MTA the trace names: the box in front speaks.
    A banner naming an unknown product proves nothing (banners are configurable)."""
    if is_middlebox(match):
        return True
    if match.product == fingerprint.UNKNOWN:
        return False
    if not traced:
        return False
    return not ({match.product, *match.alternatives} & traced)


def product_evidence(match: fingerprint.ProductMatch) -> tuple[Evidence, ...]:
    return tuple(
        Evidence("fingerprint", f"{e.kind}: {e.observed} -> {match.name} ({e.signature})")
        for e in match.evidence
    )


def front_box_reasons(ctx: Context) -> list[Evidence]:
    """Why hop 1 is a box in front of the first MTA the trace names (empty: it is not)."""
    reasons: list[Evidence] = []
    traced = trace_products(ctx)
    for match in hop1_matches(ctx):
        if is_middlebox(match):
            reasons.extend(product_evidence(match))
        elif speaks_for_box(match, traced):
            reasons.append(
                Evidence(
                    "fingerprint",
                    f"hop 1 answers like {label(match)}, but the Received header of "
                    f"{ctx.hop1} names {', '.join(sorted(traced))}",
                )
            )
    reasons.extend(foreign_evidence(ctx))
    for key, header, _variant in injected_headers(ctx):
        if key == HopKey.front(ctx.hop1):
            reasons.append(Evidence("header", f"{header} sits below every Received header"))
    return reasons


def foreign_evidence(ctx: Context) -> list[Evidence]:
    """The replies of hop 1 the MTA behind it never writes, as evidence of a box in front."""
    mta = ownership.mta_behind(ctx)
    return [
        Evidence("transcript", _not_written(reply, mta), reply.variant)
        for reply in ownership.foreign_replies(ctx)[:_FOREIGN_SHOWN]
    ]


def _not_written(reply: ownership.SeenReply, mta: fingerprint.ProductMatch | None) -> str:
    name = mta.name if mta else "the MTA"
    return f"{name} never writes `{reply.line}` ({reply.stage}): a box in front answers"


def mta_products(ctx: Context) -> set[str]:
    """The products of the MTA at hop 1: those the trace names, else the one its banner names
    when replies after the banner are not its own (a box passes the banner through)."""
    traced = trace_products(ctx)
    mta = ownership.mta_behind(ctx)
    if traced or mta is None or not ownership.foreign_replies(ctx):
        return traced
    return {mta.product, *mta.alternatives}


def rejection_host(ctx: Context, sends: list[VariantSend]) -> tuple[HopKey, str]:
    """Where an in-protocol rejection comes from, judged on its own reply: the box whose injected
    header shares the reply's id format; else the MTA behind hop 1 when the reply is its own
    wording, the box in front when that MTA never writes it; else the box in front when hop 1
    is one, or hop 1's MTA."""
    texts = [s.reply.text for s in sends if s.reply]
    for key, header, _ in injected_headers(ctx):
        value = header.partition(":")[2].strip()
        for text in texts:
            fmt = fingerprint.same_id_format(fingerprint.shipped_knowledge(), text, value)
            if fmt:
                return (
                    key,
                    f"the reply's id and the injected {header.split(':')[0]} header "
                    f"share one format ({fmt})",
                )
    refusal = ownership.refusal_of(sends[0]) if sends else None
    mta = ownership.mta_behind(ctx)
    if refusal is not None and mta is not None:
        judged = ownership.authorship(ctx, refusal)
        if judged is fingerprint.Authorship.WRITES:
            return HopKey.at(ctx.hop1), f"`{refusal.line}` is {mta.name}'s own wording"
        if judged is fingerprint.Authorship.CANNOT:
            return HopKey.front(ctx.hop1), _not_written(refusal, mta)
    if front_box_reasons(ctx):
        return HopKey.front(ctx.hop1), "hop 1 is not the MTA the trace names"
    return HopKey.at(ctx.hop1), ""
