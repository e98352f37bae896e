"""Who wrote each reply of hop 1's conversations (issue 10 item 1): the MTA the trace or the
banner names, or a box in front of it that passes the banner through and answers the rest
itself. Each reply is judged on its own against the MTA's wordings and habits
(`probe.analyze.fingerprint.could_write`), in a fixed order, so the same run gives the same
verdict (pure).
"""

from __future__ import annotations

import dataclasses

from probe.analyze import fingerprint
from probe.decide.context import Context
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome


@dataclasses.dataclass(frozen=True)
class SeenReply:
    stage: str  # as the fingerprint knowledge names stages: banner, ehlo, mail, rcpt, data, final
    code: int | None
    text: str  # without its code
    variant: str = ""

    @property
    def line(self) -> str:
        return f"{'' if self.code is None else self.code} {self.text}".strip()


def conversations(ctx: Context) -> list[tuple[str, Conversation]]:
    """The capability probe, then every variant's last attempt, by variant id."""
    found = [("", ctx.run.hop1)] if ctx.run.hop1 is not None else []
    for send in sorted(ctx.sends, key=lambda s: (s.variant != "control", s.variant)):
        if send.attempts:
            found.append((send.variant, send.attempts[-1]))
    return found


def replies_of(variant: str, conv: Conversation) -> list[SeenReply]:
    """The banner, then every reply by stage, as fingerprinting observes them."""
    banner = conv.greeting
    found = [SeenReply("banner", banner.code, banner.text, variant)] if banner else []
    observed = fingerprint.observe_conversation(conv).replies
    return found + [SeenReply(stage, code, text, variant) for stage, code, text in observed]


def hop1_replies(ctx: Context) -> list[SeenReply]:
    """Every distinct reply line hop 1 gave, per stage, first sighting first."""
    seen: dict[tuple[str, str], SeenReply] = {}
    for variant, conv in conversations(ctx):
        for reply in replies_of(variant, conv):
            seen.setdefault((reply.stage, reply.line), reply)
    return list(seen.values())


def mta_behind(ctx: Context) -> fingerprint.ProductMatch | None:
    """The one product the first Received (written by the MTA at hop 1) names, else the banner;
    None when neither names exactly one product."""
    known = fingerprint.shipped_knowledge()
    sources = []
    if ctx.first_received:
        sources.append(fingerprint.Observations(received=(ctx.first_received,)))
    banners = [r.line for r in hop1_replies(ctx) if r.stage == "banner"]
    if banners:
        sources.append(fingerprint.Observations(banner=tuple(banners[:1])))
    for observed in sources:
        named = sorted(
            (m for m in fingerprint.match_products(known, observed) if not m.alternatives),
            key=lambda m: m.product,
        )
        if len(named) == 1:
            return named[0]
    return None


def authorship(ctx: Context, reply: SeenReply) -> fingerprint.Authorship:
    """Whether the MTA behind hop 1 can have written this reply."""
    mta = mta_behind(ctx)
    if mta is None:
        return fingerprint.Authorship.UNKNOWN
    known = fingerprint.shipped_knowledge()
    return fingerprint.could_write(known, mta.product, reply.stage, reply.code, reply.text)


def foreign_replies(ctx: Context) -> list[SeenReply]:
    """The replies after the banner the MTA behind hop 1 never writes: a box in front wrote
    them (it may pass the banner through)."""
    return [
        r
        for r in hop1_replies(ctx)
        if r.stage != "banner" and authorship(ctx, r) is fingerprint.Authorship.CANNOT
    ]


def refusal_of(send: VariantSend) -> SeenReply | None:
    """The reply that refused a variant, as a judged reply."""
    if send.reply is None or send.outcome is Outcome.ACCEPTED:
        return None
    stage = "final" if str(send.stage) == "data-end" else str(send.stage)
    return SeenReply(stage, send.reply.code, send.reply.text, send.variant)
