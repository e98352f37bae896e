"""Which product wrote this? A hop's observations against the knowledge -> products (pure).

The rule that shapes everything here: a product is named only on evidence *specific* to it.
Evidence that several products write byte for byte (AsyncOS's `250 sender <x> ok` / `354 go
ahead`, which a Check Point box in front of an IronPort passes through) yields a candidate *set*,
e.g. "Cisco IronPort/ESA (AsyncOS) or Check Point (shared evidence)", never one of them alone.
Each `ProductMatch` quotes its clues (what was observed, which signature, its source) so a
verdict can say which evidence points where.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from probe.analyze.fingerprint.signature import clues, observed_kinds
from probe.analyze.fingerprint.types import (
    Clue,
    Kind,
    Knowledge,
    Observations,
    ProductMatch,
    Specificity,
)
from probe.model.verdict import Confidence


def match_products(known: Knowledge, seen: Observations) -> tuple[ProductMatch, ...]:
    """Products named by specific evidence, then candidate sets from shared evidence.

    Shared evidence is never folded into a product's own match: a Check Point named by its 554
    text and X-CheckPoint header stays separate from the AsyncOS texts beside it, which remain
    "Cisco IronPort/ESA or Check Point".
    """
    own: dict[str, list[Clue]] = {}
    shared: list[tuple[tuple[str, ...], list[Clue]]] = []
    kinds = observed_kinds(seen)
    matched = [(sig, _unique(clues(sig, seen))) for sig in known.signatures if sig.kind in kinds]
    for sig, found in sorted(matched, key=lambda m: len(m[0].products)):
        if not found:
            continue
        if len(sig.products) == 1:
            own.setdefault(sig.products[0], []).extend(found)
            continue
        group = next((g for g in shared if set(g[0]) <= set(sig.products)), None)
        if group is None:
            shared.append((sig.products, list(found)))
        else:
            group[1].extend(found)
    result = [_match(known, (pid,), found, _confidence(found)) for pid, found in own.items()]
    result.sort(key=lambda m: (_RANK[m.confidence], -len(m.evidence), m.product))
    for ids, found in shared:
        level = Confidence.MEDIUM if _distinct(found) >= 3 else Confidence.LOW
        result.append(_match(known, ids, found, level))
    return tuple(result)


def id_format(known: Knowledge, text: str) -> str | None:
    """The name of the first known id format found in `text` (e.g. `checkpoint-session-id`)."""
    for sig in known.signatures:
        if sig.kind is Kind.ID_FORMAT and sig.pattern is not None and sig.pattern.search(text):
            return sig.id
    return None


def same_id_format(known: Knowledge, a: str, b: str) -> str | None:
    """Whether `a` and `b` both carry an id of one known format; the format's name, or None.

    The seed rule: the `554 ... Email Session ID: {4C209928-2-3A6A8C0-1FFFF}` reply and an
    `X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}` header share `checkpoint-session-id`.
    """
    for sig in known.signatures:
        if sig.kind is Kind.ID_FORMAT and sig.pattern is not None:
            if sig.pattern.search(a) and sig.pattern.search(b):
                return sig.id
    return None


_RANK = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}


def _distinct(found: Sequence[Clue]) -> int:
    """How many independent observations: one line matched by two signatures counts once."""
    if not found:
        return 0
    return min(len({c.observed for c in found}), len({c.signature for c in found}))


def _confidence(found: Sequence[Clue]) -> Confidence:
    specific = _distinct([c for c in found if c.specificity is Specificity.SPECIFIC])
    indicative = _distinct([c for c in found if c.specificity is Specificity.INDICATIVE])
    if specific >= 2 or (specific >= 1 and indicative >= 1):
        return Confidence.HIGH
    if specific == 1 or indicative >= 2:
        return Confidence.MEDIUM
    return Confidence.LOW


def _unique(found: Iterable[Clue]) -> list[Clue]:
    return list(dict.fromkeys(found))


def _match(
    known: Knowledge, ids: tuple[str, ...], found: list[Clue], level: Confidence
) -> ProductMatch:
    first = known.products[ids[0]]
    names = " or ".join(known.products[i].name for i in ids)
    return ProductMatch(
        product=first.id,
        name=first.name,
        role=first.role,
        confidence=level,
        evidence=tuple(_unique(found)),
        alternatives=ids[1:],
        summary=names + (" (shared evidence)" if len(ids) > 1 else ""),
    )
