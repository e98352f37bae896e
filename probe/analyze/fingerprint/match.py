"""Which product wrote this? A hop's observations against the knowledge -> products (pure).

The rule that shapes everything here: a product is named only on evidence *specific* to it, and
a specific marker outranks shared evidence. Evidence that several products write byte for byte
(AsyncOS's `250 sender <x> ok` / `354 go ahead`, which a Check Point box writes too) never names
one of them: a product named on its own evidence is "also consistent with" the others, and
shared evidence alone is "consistent with" its products, never a closed list of candidates. A
banner that names a product probe does not know is "unknown (banner says X)", not the nearest
known one. Each `ProductMatch` quotes its clues (what was observed, which signature, its
source) so a verdict can say which evidence points where.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from probe.analyze.fingerprint.signature import clues, observed_kinds
from probe.analyze.fingerprint.types import (
    Clue,
    Kind,
    Knowledge,
    Observations,
    ProductMatch,
    Role,
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
    result = [
        _match(known, (pid,), found, _confidence(found), also=_also(pid, shared))
        for pid, found in own.items()
    ]
    result.sort(key=lambda m: (_RANK[m.confidence], -len(m.evidence), m.product))
    for ids, found in shared:
        level = Confidence.MEDIUM if _distinct(found) >= 3 else Confidence.LOW
        result.append(_match(known, ids, found, level))
    unknown = unknown_banner(known, seen)
    return (*result, unknown) if unknown is not None else tuple(result)


UNKNOWN = "unknown"  # the product id of a banner naming a product probe does not know


def unknown_banner(known: Knowledge, seen: Observations) -> ProductMatch | None:
    """A banner that names a product no banner signature knows: "unknown (banner says X)"."""
    banner_sigs = [s for s in known.signatures if s.kind is Kind.BANNER]
    for line in seen.banner:
        says = banner_product(line)
        if not says or any(s.pattern is not None and s.pattern.search(line) for s in banner_sigs):
            continue
        clue = Clue(
            Kind.BANNER, line, "banner-product", "the banner's own words", Specificity.INDICATIVE
        )
        return ProductMatch(
            product=UNKNOWN,
            name=f"unknown (banner says {says})",
            role=Role.MTA,
            confidence=Confidence.LOW,
            evidence=(clue,),
            summary=f"unknown (banner says {says})",
        )
    return None


# Words of a greeting that name no product (RFC 5321 4.2: `220 domain [textstring]`).
_NOT_A_PRODUCT = frozenset(
    "esmtp smtp lmtp mail mailer server service services ready at on for the and is welcome "
    "hello hi relay mta gateway host system spam no ubce uce unsolicited commercial email to of "
    "this your our you we please".split()
)


_HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")


def banner_product(line: str) -> str:
    """The product a greeting line names, in its own words (`chasquid`, `qpsmtpd 0.94`), or ""."""
    words = line.split()
    if len(words) < 3 or not words[0][:3].isdigit():
        return ""
    rest = words[2:]  # after the code and the host name
    for i, word in enumerate(rest):
        bare = word.strip(";,.:()[]").lower()
        if not bare or bare in _NOT_A_PRODUCT or not bare[0].isalpha() or "@" in bare:
            continue
        if _HOST_NAME.fullmatch(bare):
            continue  # another host name
        name = word.strip(";,.:()[]")
        version = rest[i + 1].strip(";,()[]") if i + 1 < len(rest) else ""
        return f"{name} {version}" if version[:1].isdigit() else name
    return ""


def _also(pid: str, shared: Sequence[tuple[tuple[str, ...], list[Clue]]]) -> tuple[str, ...]:
    """The other products of the shared evidence that fits `pid` too, in the data's order."""
    others = [p for ids, _ in shared if pid in ids for p in ids if p != pid]
    return tuple(dict.fromkeys(others))


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
    known: Knowledge,
    ids: tuple[str, ...],
    found: list[Clue],
    level: Confidence,
    *,
    also: tuple[str, ...] = (),
) -> ProductMatch:
    first = known.products[ids[0]]
    if len(ids) > 1:
        summary = f"consistent with {_names(known, ids)} (shared evidence)"
    elif also and (first.role is Role.MIDDLEBOX or level is not Confidence.HIGH):
        # a box passes its backend's texts through, and a product named on little evidence may
        # be another: then the shared texts beside its own say whom else they fit
        summary = f"{first.name} (also consistent with {_names(known, also)})"
    else:
        summary = first.name
    return ProductMatch(
        product=first.id,
        name=first.name,
        role=first.role,
        confidence=level,
        evidence=tuple(_unique(found)),
        alternatives=ids[1:],
        summary=summary,
        also=also,
    )


def _names(known: Knowledge, ids: Sequence[str]) -> str:
    return ", ".join(known.products[i].name for i in ids)
