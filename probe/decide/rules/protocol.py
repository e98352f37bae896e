"""Rules over the SMTP dialogue at hop 1: identity and masking, rejections and their condition,
broken or deferred conversations, greylisting, scanning seen in the final-reply time (pure).
"""

from __future__ import annotations

import re

from probe.decide.context import Context, Placed
from probe.decide.rules.common import BROKEN, GREYLIST, VIRUS, first_sentence, place, reply_line
from probe.decide.rules.conditions import Condition, expected_rejection, separate
from probe.decide.rules.identity import (
    front_box_reasons,
    hop1_conversation,
    hop1_key,
    hop1_matches,
    product_evidence,
    rejection_host,
    seen,
    speaks_for_box,
    trace_products,
)
from probe.decide.rules.traits import Trait
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
    traced = trace_products(ctx)
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
    banner = conv.greeting.text if conv.greeting else ""
    caps = conv.capabilities
    masked_caps = [c for c in caps if re.fullmatch(r"X{2,}[A-Z]", c)]
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
    offered = any(c.split(" ", 1)[0].upper() == "STARTTLS" for c in caps) or conv.tls.offered
    if caps and not masked_caps and not offered:
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
                f"replaces STARTTLS by {masked_caps[0]} in the EHLO reply, so no TLS is possible",
                condition="always",
                evidence=(Evidence("transcript", f"< 250 {c}") for c in masked_caps),
                confidence=Confidence.HIGH,
                rule="starttls-masked",
                check="starttls-stripped",
            )
        )
    return placed


def rule_rejections(ctx: Context) -> list[Placed]:
    """In-protocol rejections, grouped by stage and code, with their condition."""
    rejected = [s for s in ctx.sends if s.outcome is Outcome.REJECTED]
    passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    groups: dict[tuple[str, int | None], list[VariantSend]] = {}
    for send in rejected:
        groups.setdefault((send.stage, send.reply.code if send.reply else None), []).append(send)
    placed: list[Placed] = []
    for (_stage, code), sends in groups.items():
        eicar = [s for s in sends if (spec := ctx.specs.get(s.variant)) and spec.eicar]
        if eicar and len(eicar) == len(sends):
            continue  # rule_av speaks of these
        texts = [s.reply.text for s in sends if s.reply]
        key, why = rejection_host(ctx, texts)
        reply = sends[0].reply
        evidence = [
            Evidence("transcript", reply_line(s.reply, s.stage), s.variant) for s in sends[:4]
        ]
        if why:
            evidence.append(Evidence("fingerprint", why))
        expected = all(expected_rejection(ctx, s) for s in sends)
        condition = separate(sends, passed, ctx)
        text = first_sentence(reply.text) if reply else ""
        summary, check = size_judgement(
            ctx, sends, condition, f"rejects {condition.phrase} with `{code} {text}`"
        )
        if VIRUS.search(text):
            placed.append(
                place(
                    key,
                    Action.SCANS,
                    f"scans content: its rejection says `{text}`",
                    condition=condition.text,
                    evidence=evidence[:1],
                    confidence=Confidence.HIGH,
                    rule="scan-rejection",
                    variants=(s.variant for s in sends),
                )
            )
        if expected:
            continue  # a rejection the profile allows (SIZE+1, 101 recipients, ...)
        placed.append(
            place(
                key,
                Action.REJECTS,
                summary,
                condition=condition.text,
                evidence=evidence,
                confidence=condition.confidence(Confidence.HIGH),
                rule="in-protocol-rejection",
                check=check,
                variants=(s.variant for s in sends),
            )
        )
    return placed


def size_judgement(
    ctx: Context, sends: list[VariantSend], condition: Condition, summary: str
) -> tuple[str, str]:
    """Set a size rejection beside the SIZE hop 1 advertises: above it is the hop keeping its
    word (check `size-above-advertised`), below it breaks its word (`size-below-advertised`).
    Only a rejection whose condition is size is a size rejection."""
    advertised = ctx.run.advertised_size
    sizes = [s.size for s in sends if s.size]
    if not advertised or len(sizes) != len(sends) or Trait.SIZE not in condition.traits:
        return summary, ""
    threshold = ctx.run.threshold.search.threshold if ctx.run.threshold else None
    smallest = threshold or min(sizes)
    if smallest > advertised:
        return f"{summary}: it enforces its advertised SIZE {advertised:,}", "size-above-advertised"
    return f"{summary}, below its advertised SIZE {advertised:,}", "size-below-advertised"


def rule_failures(ctx: Context) -> list[Placed]:
    """Variants that broke the conversation (cut, hang, garbage) or stayed deferred, while
    others got through: the condition is what they share."""
    passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    if not passed:
        return []  # nothing to compare with: `decide` reports it as not measured
    key = hop1_key(ctx, in_front=bool(front_box_reasons(ctx)))
    placed = []
    broken = [s for s in ctx.sends if s.outcome in BROKEN]
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
    if deferred:
        reply = deferred[0].reply
        condition = separate(deferred, passed, ctx)
        placed.append(
            place(
                key,
                Action.DELAYS,
                f"keeps deferring {condition.phrase} "
                f"with `{reply.code if reply else ''} {reply.text if reply else ''}`".strip(),
                condition=condition.text,
                evidence=(
                    Evidence(
                        "transcript",
                        reply_line(s.reply, s.stage) + f" after {len(s.attempts)} attempts",
                        s.variant,
                    )
                    for s in deferred[:4]
                ),
                confidence=Confidence.MEDIUM,
                rule="deferred",
                variants=(s.variant for s in deferred),
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
