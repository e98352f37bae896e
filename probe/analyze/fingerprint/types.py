"""The vocabulary of fingerprinting: products, signatures, observations, clues and matches.

A `Signature` (from `probe/data/fingerprints_*.toml`, see `knowledge`) names the products that
write a banner, an EHLO list, a reply text, a header or a Received stamp, and how specific that
is to them. `Observations` are what was seen of one hop; a `Clue` is one observation that matched
one signature, and a `ProductMatch` names a product (or a candidate set) with its clues.
"""

from __future__ import annotations

import dataclasses
import enum
import re

from probe.model.verdict import Confidence


class Kind(enum.StrEnum):
    BANNER = "banner"
    EHLO_KEYWORD = "ehlo-keyword"
    EHLO_EXACT = "ehlo-exact"
    EHLO_ORDER = "ehlo-order"
    REPLY = "reply"
    HEADER = "header"
    RECEIVED = "received"
    ID_FORMAT = "id-format"


class Specificity(enum.StrEnum):
    SPECIFIC = "specific"  # only this product writes it
    INDICATIVE = "indicative"  # typical of the product, but configurable or imitated
    SHARED = "shared"  # byte-identical in several products: never attributes alone


class Role(enum.StrEnum):
    MIDDLEBOX = "middlebox"
    MTA = "mta"
    SCANNER = "scanner"
    HOSTED_FILTER = "hosted-filter"


class ReplyStage(enum.StrEnum):
    """Where a reply was given, as reply signatures and reply habits name it."""

    BANNER = "banner"
    EHLO = "ehlo"  # EHLO or HELO, also after STARTTLS
    STARTTLS = "starttls"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the reply to the DATA command (354, or its refusal)
    FINAL = "final"  # the reply after end-of-data
    RSET = "rset"
    NOOP = "noop"
    HELP = "help"
    VRFY = "vrfy"
    QUIT = "quit"
    ANY = "any"  # not known


# Conversation stages (probe.model.smtp.Stage values) under the name their replies go by.
_STAGE_ALIASES = {
    "helo": ReplyStage.EHLO,
    "ehlo-tls": ReplyStage.EHLO,
    "tls": ReplyStage.STARTTLS,
    "upload": ReplyStage.FINAL,
    "data-end": ReplyStage.FINAL,
}


def reply_stage(name: str) -> ReplyStage:
    """A stage name as a conversation or a caller gives it -> the reply stage (ANY if unknown)."""
    key = name.strip().lower()
    if key in _STAGE_ALIASES:
        return _STAGE_ALIASES[key]
    return ReplyStage(key) if key in ReplyStage.__members__.values() else ReplyStage.ANY


@dataclasses.dataclass(frozen=True)
class ReplyHabits:
    """What a product's replies always look like, so a reply can be ruled out as its own.

    `enhanced`: every 2xx/4xx/5xx reply after the greeting and the EHLO reply starts with an
    RFC 3463 code. `closed`: (stage, code) pairs where the product writes only the wordings its
    reply signatures list (a fixed text in its source, not configurable).
    """

    enhanced: bool = False
    closed: frozenset[tuple[ReplyStage, int]] = frozenset()
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Product:
    id: str
    name: str
    role: Role
    source: str
    replies: ReplyHabits | None = None  # None: nothing known that rules a reply out


@dataclasses.dataclass(frozen=True)
class Signature:
    id: str
    kind: Kind
    products: tuple[str, ...]
    specificity: Specificity
    source: str
    file: str
    pattern: re.Pattern[str] | None = None  # banner, ehlo-keyword, reply, received, id-format
    name: re.Pattern[str] | None = None  # header: the field name (whole match)
    value: re.Pattern[str] | None = None  # header: the value (optional)
    code: int | None = None  # reply
    stage: ReplyStage | None = None  # reply
    exact: tuple[str, ...] = ()  # ehlo-exact
    order: tuple[str, ...] = ()  # ehlo-order
    min_match: int = 0  # ehlo-order
    first: str | None = None  # ehlo-order: the keyword that must come first
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Knowledge:
    """Every product and signature, validated (`knowledge.shipped_knowledge`)."""

    products: dict[str, Product]
    signatures: tuple[Signature, ...]


@dataclasses.dataclass(frozen=True)
class Observations:
    """What was seen of one hop, as plain text (built by `probe.analyze.fingerprint.observe`)."""

    banner: tuple[str, ...] = ()  # banner lines as on the wire: "220 mx.example.com ESMTP"
    ehlo: tuple[str, ...] = ()  # capability lines in order: "SIZE 10485760"
    replies: tuple[tuple[str, int | None, str], ...] = ()  # (stage, code, text without code)
    headers: tuple[tuple[str, str], ...] = ()  # (name, unfolded value), Received excluded
    received: tuple[str, ...] = ()  # unfolded Received values, top (newest) first


@dataclasses.dataclass(frozen=True)
class Clue:
    """One piece of evidence: what was observed, which signature it matched, and the source."""

    kind: Kind
    observed: str
    signature: str
    source: str
    specificity: Specificity


@dataclasses.dataclass(frozen=True)
class ProductMatch:
    """A product (or, for shared evidence, the products it is consistent with) and its clues.

    `product` is "unknown" for a banner that names a product probe does not know."""

    product: str  # product id; for shared evidence the first-listed candidate
    name: str
    role: Role
    confidence: Confidence
    evidence: tuple[Clue, ...]
    alternatives: tuple[str, ...] = ()  # other candidates the same evidence fits equally
    # "Check Point (also consistent with Cisco IronPort/ESA (AsyncOS))", "consistent with
    # Cisco IronPort/ESA (AsyncOS), Check Point (shared evidence)", "unknown (banner says X)"
    summary: str = ""
    also: tuple[str, ...] = ()  # products that shared evidence beside the own one also fits
