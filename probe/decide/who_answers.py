"""Who answers at one address (`probe connect`): the product, its evidence and confidence, and a
box in front when the replies disagree with the banner (pure).

Each reply is judged on its own (`fingerprint.could_write`): a proxy can pass the backend's
banner through and answer MAIL, RCPT, NOOP and RSET itself, so replies the product the banner
names cannot have written are the box's. The box is named by what those replies are (its own
wording, or the products its shared wording is consistent with), never by the nearest match.
"""

from __future__ import annotations

import dataclasses

from probe.analyze import fingerprint
from probe.model.smtp import Conversation, endpoint
from probe.model.verdict import Confidence

UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class FrontBox:
    """What a box in front of the banner's product answered itself, and what it may be."""

    product: str  # "Check Point", "unknown, consistent with ... (shared evidence)", "unknown"
    confidence: Confidence
    replies: tuple[str, ...]  # "250 sender <> ok: Postfix's 250 reply to MAIL is always ..."


@dataclasses.dataclass(frozen=True)
class Answerer:
    """The product that answers at one address (behind the box, when there is one)."""

    address: str  # "mx.example.com 192.0.2.1:25" or "192.0.2.1:25"
    product: str  # "Postfix", "unknown (banner says X)", "unknown, consistent with ...", "unknown"
    product_id: str  # the knowledge's id, or "unknown"
    confidence: Confidence
    evidence: tuple[str, ...] = ()  # "banner: 220 mx ESMTP Postfix (postfix-banner)"
    box: FrontBox | None = None


def who_answers(conv: Conversation) -> Answerer:
    known = fingerprint.shipped_knowledge()
    seen = fingerprint.observe_conversation(conv)
    matches = fingerprint.match_products(known, seen)
    own = [m for m in matches if not m.alternatives and m.product != fingerprint.UNKNOWN]
    banner = next((m for m in own if _from_banner(m)), None)
    box = _front_box(known, seen, banner.product) if banner is not None else None
    where = endpoint(conv) if conv.host == conv.address else f"{conv.host} {endpoint(conv)}"
    best = banner if box is not None else next(iter(own), None)
    if best is None:
        best = next((m for m in matches if m.product == fingerprint.UNKNOWN), None)
    if best is None:
        shared = next((m for m in matches if m.alternatives), None)
        if shared is None:
            return Answerer(where, UNKNOWN, UNKNOWN, Confidence.LOW, box=box)
        return Answerer(
            where, f"unknown, {shared.summary}", UNKNOWN, Confidence.LOW, _evidence(shared)
        )
    return Answerer(
        where, best.summary or best.name, best.product, best.confidence, _evidence(best), box
    )


def _from_banner(match: fingerprint.ProductMatch) -> bool:
    return any(c.kind is fingerprint.Kind.BANNER for c in match.evidence)


def _evidence(match: fingerprint.ProductMatch) -> tuple[str, ...]:
    return tuple(f"{c.kind}: {c.observed} ({c.signature})" for c in match.evidence)


def _front_box(
    known: fingerprint.Knowledge, seen: fingerprint.Observations, behind: str
) -> FrontBox | None:
    """The replies `behind` cannot have written, and what wrote them; None if there are none."""
    answered = [
        (stage, code, text)
        for stage, code, text in seen.replies
        if fingerprint.could_write(known, behind, stage, code, text)
        is fingerprint.Authorship.CANNOT
    ]
    if not answered:
        return None
    lines = tuple(
        f"{code} {text}: {fingerprint.why_not(known, behind, stage, code, text)}"
        for stage, code, text in answered
    )
    writers = [w for reply in answered for w in fingerprint.reply_writers(known, *reply)]
    named = next((w for w in writers if not w.alternatives), None)
    if named is not None:
        return FrontBox(named.name, named.confidence, lines)
    shared = next(iter(writers), None)
    if shared is None:
        return FrontBox(UNKNOWN, Confidence.LOW, lines)
    sig = next(s for s in known.signatures if s.id == shared.evidence[0].signature)
    names = ", ".join(known.products[p].name for p in sig.products)  # in the data's order
    label = f"unknown, consistent with {names} (shared evidence)"
    return FrontBox(label, Confidence.LOW, lines)
