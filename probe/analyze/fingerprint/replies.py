"""Who can have written one reply line: a product's own wordings and habits, judged (pure).

A proxy can pass the backend's banner through and answer MAIL, RCPT and DATA itself, so each
reply is judged on its own. The knowledge is data (`probe/data/fingerprints_*.toml`): a
product's reply signatures are the wordings it writes, each at its stage; its `ReplyHabits` say
what it never writes: a reply without an RFC 3463 code when it always writes one (Postfix,
Sendmail, OpenSMTPD), or any other text where its text is fixed (Postfix's `250 2.1.0 Ok` at
MAIL). So `250 sender <x> ok` or `554 Permanent scan failure` is CANNOT for Postfix, while a
configurable rejection text with an enhanced code stays UNKNOWN: probe does not guess.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from probe.analyze.fingerprint.signature import stage_fits
from probe.analyze.fingerprint.types import (
    Clue,
    Kind,
    Knowledge,
    ProductMatch,
    ReplyHabits,
    ReplyStage,
    Signature,
    Specificity,
    reply_stage,
)
from probe.model.verdict import Confidence
from probe.smtp.replies import enhanced_status

# Replies that carry no enhanced code in any product: the greeting and the EHLO/HELO reply
# (RFC 2034 3: the codes start after EHLO) and intermediate 3xx replies (RFC 3463 has classes
# 2, 4 and 5 only).
_PLAIN_STAGES = frozenset({ReplyStage.BANNER, ReplyStage.EHLO})


class Authorship(enum.StrEnum):
    WRITES = "writes"  # one of the product's own wordings
    CANNOT = "cannot"  # the product never writes this reply
    UNKNOWN = "unknown"  # nothing known either way (a configurable text, an unknown product)


def could_write(
    known: Knowledge, product_id: str, stage: str, code: int | None, text: str
) -> Authorship:
    """Whether product `product_id` can have written reply `code text` at `stage`.

    `text` is the reply without its code (`2.1.0 Ok`), `stage` a conversation stage (`mail`,
    `rcpt`, `data`, `final`/`data-end`, ...; unknown names are `any`). The replies are those of
    an EHLO session: a product that always writes enhanced codes writes them there.
    """
    product = known.products.get(product_id)
    if product is None:
        return Authorship.UNKNOWN
    if any(product_id in sig.products for sig in _wordings(known, stage, code, text)):
        return Authorship.WRITES
    if product.replies is not None and _ruled_out(product.replies, reply_stage(stage), code, text):
        return Authorship.CANNOT
    return Authorship.UNKNOWN


def why_not(known: Knowledge, product_id: str, stage: str, code: int | None, text: str) -> str:
    """Why `product_id` cannot have written this reply, in words ("" unless CANNOT)."""
    if could_write(known, product_id, stage, code, text) is not Authorship.CANNOT:
        return ""
    product = known.products[product_id]
    assert product.replies is not None and code is not None  # could_write said CANNOT
    where = reply_stage(stage)
    if (
        product.replies.enhanced
        and _needs_enhanced(where, code)
        and not enhanced_status(code, text)
    ):
        return f"{product.name} always writes an enhanced status code here"
    return f"{product.name}'s {code} reply to {where.upper()} is always its own fixed text"


def reply_writers(
    known: Knowledge, stage: str, code: int | None, text: str
) -> tuple[ProductMatch, ...]:
    """Every product whose own wording this reply is, most specific first.

    A wording only one product writes gives MEDIUM confidence (one line is one observation); a
    wording several products write byte for byte gives each of them LOW, the others named as
    `alternatives`: one reply line never names a product alone when it is shared.
    """
    found: dict[str, list[Clue]] = {}
    others: dict[str, set[str]] = {}
    line = f"{code} {text}" if code is not None else text
    for sig in _wordings(known, stage, code, text):
        for pid in sig.products:
            found.setdefault(pid, []).append(
                Clue(Kind.REPLY, line, sig.id, sig.source, sig.specificity)
            )
            others.setdefault(pid, set()).update(p for p in sig.products if p != pid)
    matches = []
    for pid, clues in found.items():
        shared = all(c.specificity is Specificity.SHARED for c in clues)
        product = known.products[pid]
        matches.append(
            ProductMatch(
                product=pid,
                name=product.name,
                role=product.role,
                confidence=Confidence.LOW if shared else Confidence.MEDIUM,
                evidence=tuple(dict.fromkeys(clues)),
                alternatives=tuple(sorted(others[pid])) if shared else (),
                summary=product.name,
            )
        )
    matches.sort(key=lambda m: (m.confidence is Confidence.LOW, m.product))
    return tuple(matches)


def _wordings(known: Knowledge, stage: str, code: int | None, text: str) -> Iterator[Signature]:
    """The reply signatures this reply matches (its code and stage permitting)."""
    for sig in known.signatures:
        if sig.kind is not Kind.REPLY or sig.pattern is None:
            continue
        if sig.code is not None and code != sig.code:
            continue
        if stage_fits(sig.stage, stage) and sig.pattern.search(text):
            yield sig


def _ruled_out(habits: ReplyHabits, stage: ReplyStage, code: int | None, text: str) -> bool:
    if code is None:
        return False
    if habits.enhanced and _needs_enhanced(stage, code) and enhanced_status(code, text) is None:
        return True
    return (stage, code) in habits.closed


def _needs_enhanced(stage: ReplyStage, code: int) -> bool:
    if code // 100 not in (2, 4, 5) or stage in _PLAIN_STAGES:
        return False
    # At an unknown stage a 2xx may be the EHLO reply; a 4xx/5xx never goes without a code
    # (a product's own plain rejections, like Postfix's `501 Syntax: EHLO hostname`, are
    # listed as its wordings and matched before this).
    return stage is not ReplyStage.ANY or code // 100 != 2
