"""Rules over the SMTP dialogue at hop 1: identity, masking and STARTTLS withheld (with what it
causes behind), broken or deferred conversations, greylisting (pure). Rejections are
`refusals`'.
"""

from __future__ import annotations

import re

from probe.decide.context import Context, Placed
from probe.decide.rules.causes import CauseKind, cause_of, refused_for
from probe.decide.rules.common import BROKEN, GREYLIST, place, reply_line
from probe.decide.rules.conditions import separate
from probe.decide.rules.identity import (
    foreign_evidence,
    front_box_reasons,
    hop1_conversation,
    hop1_key,
    hop1_matches,
    mta_products,
    product_evidence,
    rejection_host,
    seen,
    speaks_for_box,
    tls_offer,
)
from probe.decide.rules.meaning import reply_meaning
from probe.decide.rules.refusals import refusal_groups
from probe.model.send import VariantSend
from probe.model.smtp import Outcome
from probe.model.verdict import Action, Confidence, Evidence, HopKey
from probe.smtp.replies import deciding_reply


def rule_identity(ctx: Context) -> list[Placed]:
    """Products at hop 1 from banner, EHLO and replies; masking and STARTTLS tampering."""
    conv = hop1_conversation(ctx)
    if conv is None:
        return []
    placed: list[Placed] = []
    traced = mta_products(ctx)
    box = bool(front_box_reasons(ctx))
    matches = hop1_matches(ctx)
    named = {m.product for m in matches if not m.alternatives}
    for match in matches:
        if match.alternatives and named & {match.product, *match.alternatives}:
            continue  # a product already named on its own evidence covers this shared set
        key = hop1_key(ctx, in_front=box and speaks_for_box(match, traced))
        placed.append(
            Placed(key, products=(seen(match),), product_evidence=product_evidence(match))
        )
    foreign = foreign_evidence(ctx)
    if foreign:  # shown as what identifies the box in front
        placed.append(Placed(HopKey.front(ctx.hop1), product_evidence=tuple(foreign)))
    banner = conv.greeting.text if conv.greeting else ""
    caps = conv.capabilities
    offered, masked_caps = tls_offer(conv)
    required = refused_for(ctx, CauseKind.TLS_REQUIRED)
    consequence = ""
    if required:
        passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
        reply = required[0].reply
        refused = separate(required, passed, ctx).phrase
        said = f" (`{reply.code} {reply.text}`)" if reply else ""
        consequence = f": the MTA behind it requires TLS and so refuses {refused}{said}"
    if conv.greeting is not None and "*" in banner and re.fullmatch(r"[*\s\d]+", banner):
        placed.append(
            place(
                HopKey.front(ctx.hop1),
                Action.MASKS,
                "masks the SMTP banner with '*'",
                condition="always",
                evidence=(Evidence("transcript", f"< 220 {banner}"),),
                confidence=Confidence.HIGH,
                rule="banner-masked",
                check="banner-masked",
            )
        )
    if caps and not masked_caps and not offered and required:
        placed.append(
            place(
                HopKey.front(ctx.hop1),
                Action.STRIPS_TLS,
                f"strips STARTTLS from the EHLO reply{consequence}",
                condition="always",
                evidence=(
                    Evidence("transcript", "< 250 " + ", ".join(caps)),
                    *(
                        Evidence("transcript", reply_line(s.reply, s.stage), s.variant)
                        for s in required[:2]
                    ),
                ),
                confidence=Confidence.MEDIUM,
                rule="starttls-stripped",
                check="starttls-stripped",
            )
        )
    elif caps and not masked_caps and not offered:
        placed.append(
            place(
                hop1_key(ctx, in_front=box),
                Action.NO_TLS,
                "offers no STARTTLS: mail reaches it in plaintext",
                condition="always",
                evidence=(Evidence("transcript", "< 250 " + ", ".join(caps)),),
                confidence=Confidence.HIGH,
                rule="starttls-missing",
            )
        )
    if masked_caps:
        placed.append(
            place(
                HopKey.front(ctx.hop1),
                Action.STRIPS_TLS,
                f"replaces STARTTLS by {masked_caps[0]} in the EHLO reply, so no TLS is possible"
                + consequence,
                condition="always",
                evidence=(Evidence("transcript", f"< 250 {c}") for c in masked_caps),
                confidence=Confidence.HIGH,
                rule="starttls-masked",
                check="starttls-stripped",
            )
        )
    return placed


def rule_failures(ctx: Context) -> list[Placed]:
    """Variants that broke the conversation (cut, hang, garbage) or stayed deferred, while
    others got through: the condition is what they share."""
    passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    key = hop1_key(ctx, in_front=bool(front_box_reasons(ctx)))
    placed = []
    # with nothing passed a broken conversation has nothing to compare with, unless every
    # variant broke the same way (every STARTTLS handshake failed): that is the hop's doing for
    # every message; a deferral every variant got is still a deferral, with its reason
    broken = [s for s in ctx.sends if s.outcome in BROKEN]
    if not passed and not _all_alike(broken, [s for s in ctx.sends if s.measured]):
        broken = []
    groups: dict[tuple[Outcome, str], list[VariantSend]] = {}
    for send in broken:
        groups.setdefault((send.outcome, send.stage), []).append(send)
    for (outcome, stage), sends in groups.items():
        condition = separate(sends, passed, ctx)
        placed.append(
            place(
                key,
                Action.REJECTS,
                f"breaks off the conversation ({outcome} at {stage}) for {condition.phrase}",
                condition=condition.text,
                evidence=(
                    Evidence("transcript", f"{s.outcome} at {s.stage}: {s.reason}", s.variant)
                    for s in sends[:4]
                ),
                confidence=Confidence.MEDIUM,
                rule="conversation-broken",
                variants=(s.variant for s in sends),
            )
        )
    deferred = [s for s in ctx.sends if s.outcome is Outcome.TEMP_FAILED]
    for group in refusal_groups(deferred):
        reply = group[0].reply
        cause = cause_of(reply)
        condition = separate(group, passed, ctx, cause.trait if cause else None)
        said = f"`{reply.code} {reply.text}`" if reply else "(no reply)"
        summary = f"keeps deferring {condition.phrase} with {said}"
        placed.append(
            place(
                rejection_host(ctx, group)[0],
                Action.DELAYS,
                f"{cause.names}: {summary} ({cause.because})" if cause else summary,
                condition=condition.text,
                evidence=(
                    Evidence(
                        "transcript",
                        reply_line(s.reply, s.stage) + f" after {len(s.attempts)} attempts",
                        s.variant,
                    )
                    for s in group[:4]
                ),
                confidence=condition.confidence(Confidence.MEDIUM),
                rule="deferred",
                variants=(s.variant for s in group),
                reply=reply_meaning(reply.code, reply.text) if reply else None,
            )
        )
    return placed


def rule_greylisting(ctx: Context) -> list[Placed]:
    evidence = []
    for send in ctx.sends:
        temp = [a for a in send.attempts if a.outcome is Outcome.TEMP_FAILED]
        if temp and send.outcome is Outcome.ACCEPTED:
            reply = deciding_reply(temp[0])
            evidence.append(
                Evidence(
                    "transcript",
                    f"{reply_line(reply, temp[0].stage)}; accepted on attempt {len(send.attempts)}",
                    send.variant,
                )
            )
    if not evidence:
        return []
    texts = " ".join(e.text for e in evidence)
    return [
        place(
            HopKey.at(ctx.hop1),
            Action.GREYLISTS,
            "greylists: defers the first attempt, accepts a retry",
            condition="first attempt per sender and recipient",
            evidence=evidence[:3],
            confidence=Confidence.HIGH if GREYLIST.search(texts) else Confidence.MEDIUM,
            rule="greylisting",
            variants=(e.variant for e in evidence),
        )
    ]


def _all_alike(broken: list[VariantSend], measured: list[VariantSend]) -> bool:
    """Every measured variant broke off at one stage with one outcome."""
    return bool(measured) and len(broken) == len(measured) and (
        len({(s.outcome, s.stage) for s in broken}) == 1
    )
