"""Which product wrote this? Banner, EHLO, reply, header and Received signatures -> products. Pure.

The knowledge lives in `probe/data/fingerprints_*.toml` (one file per product family, every
signature with its `source`); this module only loads, validates and applies it. The rule that
shapes everything here: a product is named only on evidence *specific* to it. Evidence that
several products write byte for byte (AsyncOS's `250 sender <x> ok` / `354 go ahead`, which a
Check Point box in front of an IronPort passes through) yields a candidate *set*, e.g.
"Cisco IronPort/ESA (AsyncOS) or Check Point (shared evidence)", never one of them alone. Each
`ProductMatch` quotes its clues (what was observed, which signature, its source) so a verdict
can say which evidence points where.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import Any

from probe.errors import ConfigError
from probe.model.smtp import Conversation, Reply
from probe.smtp.replies import wire_lines

DATA_PACKAGE = "probe.data"
FILE_PREFIX = "fingerprints"


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


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclasses.dataclass(frozen=True)
class Product:
    id: str
    name: str
    role: Role
    source: str


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
    stage: str | None = None  # reply
    exact: tuple[str, ...] = ()  # ehlo-exact
    order: tuple[str, ...] = ()  # ehlo-order
    min_match: int = 0  # ehlo-order
    first: str | None = None  # ehlo-order: the keyword that must come first
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Plain observations to identify from; build with the `evidence_from_*` helpers."""

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
    """A product (or, for shared evidence, a set of candidates) and the clues for it."""

    product: str  # product id; for shared evidence the first-listed candidate
    name: str
    role: Role
    confidence: Confidence
    evidence: tuple[Clue, ...]
    alternatives: tuple[str, ...] = ()  # other candidates the same evidence fits equally
    summary: str = (
        ""  # "Check Point" or "Cisco IronPort/ESA (AsyncOS) or Check Point (shared evidence)"
    )


@dataclasses.dataclass(frozen=True)
class Knowledge:
    products: dict[str, Product]
    signatures: tuple[Signature, ...]


# --------------------------------------------------------------------------- loading


@functools.cache
def knowledge() -> Knowledge:
    """Every fingerprints_*.toml file, validated; loaded once per process."""
    files = sorted(
        (
            entry
            for entry in resources.files(DATA_PACKAGE).iterdir()
            if entry.name.startswith(FILE_PREFIX) and entry.name.endswith(".toml")
        ),
        key=lambda entry: entry.name,
    )
    raw: list[tuple[str, dict[str, Any]]] = []
    for entry in files:
        where = f"probe/data/{entry.name}"
        try:
            raw.append((where, tomllib.loads(entry.read_text(encoding="utf-8"))))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    products: dict[str, Product] = {}
    for where, doc in raw:
        for item in doc.get("product", []):
            product = _product(item, where)
            if product.id in products:
                raise ConfigError("duplicate product id", path=where, key=f"product {product.id}")
            products[product.id] = product
    signatures: list[Signature] = []
    seen: set[str] = set()
    for where, doc in raw:
        for item in doc.get("signature", []):
            sig = _signature(item, where, products)
            if sig.id in seen:
                raise ConfigError("duplicate signature id", path=where, key=f"signature {sig.id}")
            seen.add(sig.id)
            signatures.append(sig)
    return Knowledge(products=products, signatures=tuple(signatures))


def _text(item: dict[str, Any], field: str, where: str, key: str, *, required: bool = True) -> str:
    value = item.get(field, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"`{field}` must be a non-empty string", path=where, key=key)
    return value


def _regex(text: str, where: str, key: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise ConfigError(f"bad regex {text!r}: {exc}", path=where, key=key) from None


def _product(item: dict[str, Any], where: str) -> Product:
    key = f"product {item.get('id', '?')}"
    role = _text(item, "role", where, key)
    if role not in Role.__members__.values():
        raise ConfigError(f"unknown role {role!r}", path=where, key=key)
    return Product(
        id=_text(item, "id", where, key),
        name=_text(item, "name", where, key),
        role=Role(role),
        source=_text(item, "source", where, key),
    )


def _signature(item: dict[str, Any], where: str, products: dict[str, Product]) -> Signature:
    key = f"signature {item.get('id', '?')}"
    kind_text = _text(item, "kind", where, key)
    if kind_text not in Kind.__members__.values():
        raise ConfigError(f"unknown kind {kind_text!r}", path=where, key=key)
    kind = Kind(kind_text)
    spec_text = _text(item, "specificity", where, key)
    if spec_text not in Specificity.__members__.values():
        raise ConfigError(f"unknown specificity {spec_text!r}", path=where, key=key)
    specificity = Specificity(spec_text)
    names = item.get("products")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError("`products` must be a non-empty list of product ids", path=where, key=key)
    for name in names:
        if name not in products:
            raise ConfigError(f"unknown product {name!r}", path=where, key=key)
    if (specificity is Specificity.SHARED) != (len(names) > 1):
        raise ConfigError(
            "`shared` signatures need several products, the others exactly one",
            path=where,
            key=key,
        )
    fields: dict[str, Any] = {}
    if kind is Kind.HEADER:
        # header names are case-insensitive (RFC 5322 1.2.2)
        fields["name"] = _regex(_text(item, "name", where, key), where, key, re.IGNORECASE)
        if "value" in item:
            fields["value"] = _regex(_text(item, "value", where, key, required=False), where, key)
    elif kind is Kind.EHLO_EXACT:
        fields["exact"] = tuple(_caps(_list(item, "exact", where, key)))
    elif kind is Kind.EHLO_ORDER:
        fields["order"] = tuple(k.upper() for k in _list(item, "order", where, key))
        fields["min_match"] = item.get("min_match", len(fields["order"]))
        if not isinstance(fields["min_match"], int) or fields["min_match"] < 2:
            raise ConfigError("`min_match` must be an integer >= 2", path=where, key=key)
        if "first" in item:
            fields["first"] = _text(item, "first", where, key).upper()
    else:
        fields["pattern"] = _regex(_text(item, "pattern", where, key), where, key)
    if kind is Kind.REPLY:
        code = item.get("code")
        if code is not None and (not isinstance(code, int) or not 200 <= code <= 599):
            raise ConfigError(f"bad reply code {code!r}", path=where, key=key)
        fields["code"] = code
        if "stage" in item:
            fields["stage"] = _text(item, "stage", where, key)
    sig = Signature(
        id=_text(item, "id", where, key),
        kind=kind,
        products=tuple(names),
        specificity=specificity,
        source=_text(item, "source", where, key),
        file=where,
        note=str(item.get("note", "")),
        **fields,
    )
    sample = item.get("sample")
    if sample is not None and not _sample_matches(sig, str(sample)):
        raise ConfigError(f"does not match its own sample {sample!r}", path=where, key=key)
    return sig


def _list(item: dict[str, Any], field: str, where: str, key: str) -> list[str]:
    value = item.get(field)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{field}` must be a non-empty list of strings", path=where, key=key)
    return value


def _sample_matches(sig: Signature, sample: str) -> bool:
    """Whether a signature matches its documented sample (header samples are `Name: value`)."""
    if sig.kind is Kind.HEADER:
        name, _, value = sample.partition(":")
        evidence = Evidence(headers=((name.strip(), value.strip()),))
    elif sig.kind is Kind.REPLY:
        evidence = Evidence(replies=(("any", sig.code, sample),))
    else:
        evidence = _evidence_for_kind(sig.kind, sample)
    return any(True for _ in _clues(sig, evidence))


def _evidence_for_kind(kind: Kind, sample: str) -> Evidence:
    if kind is Kind.BANNER:
        return Evidence(banner=(sample,))
    if kind is Kind.EHLO_KEYWORD:
        return Evidence(ehlo=(sample,))
    if kind is Kind.RECEIVED:
        return Evidence(received=(sample,))
    return Evidence(headers=(("X-Sample", sample),))  # id-format


# --------------------------------------------------------------------------- evidence


def _caps(lines: Iterable[str]) -> list[str]:
    return [" ".join(line.split()).upper() for line in lines if line.strip()]


def unfold(value: str) -> str:
    """A header value on one line (RFC 5322 unfolding, runs of white space kept as one)."""
    return " ".join(value.split())


def evidence_from_headers(pairs: Iterable[tuple[str, str]]) -> Evidence:
    """Header (name, value) pairs in message order; Received values go to `received`."""
    headers: list[tuple[str, str]] = []
    received: list[str] = []
    for name, value in pairs:
        if name.strip().lower() == "received":
            received.append(unfold(value))
        else:
            headers.append((name.strip(), unfold(value)))
    return Evidence(headers=tuple(headers), received=tuple(received))


def evidence_from_conversation(conv: Conversation) -> Evidence:
    """Banner, EHLO capabilities and every reply of one SMTP conversation, by stage."""
    named: list[tuple[str, Reply | None]] = [
        ("ehlo", conv.ehlo),
        ("mail", conv.mail_reply),
        *(("rcpt", r.reply) for r in conv.rcpt_results),
        ("data", conv.data_reply),
        ("final", conv.final_reply),
        ("ehlo", conv.ehlo_after_tls),
    ]
    seen = {id(reply) for _, reply in named if reply is not None}
    if conv.banner is not None:
        seen.add(id(conv.banner))
    others = [
        (s.name, s.reply) for s in conv.steps if s.reply is not None and id(s.reply) not in seen
    ]
    replies = tuple(
        (stage, reply.code, reply.text)
        for stage, reply in [*named, *others]
        if reply is not None and reply.valid
    )
    banner = wire_lines(conv.banner) if conv.banner is not None else ()
    return Evidence(
        banner=banner,
        ehlo=conv.capabilities or conv.capabilities_after_tls,
        replies=replies,
    )


def combine(*parts: Evidence) -> Evidence:
    """Several observations of the same hop (a conversation and the delivered copy's headers)."""
    return Evidence(
        banner=tuple(line for p in parts for line in p.banner),
        ehlo=next((p.ehlo for p in parts if p.ehlo), ()),
        replies=tuple(r for p in parts for r in p.replies),
        headers=tuple(h for p in parts for h in p.headers),
        received=tuple(r for p in parts for r in p.received),
    )


# --------------------------------------------------------------------------- matching


def _clue(sig: Signature, observed: str) -> Clue:
    return Clue(sig.kind, observed, sig.id, sig.source, sig.specificity)


def _reply_line(code: int | None, text: str) -> str:
    return f"{code} {text}" if code is not None else text


def _clues(sig: Signature, ev: Evidence) -> Iterator[Clue]:
    if sig.kind is Kind.BANNER:
        assert sig.pattern is not None
        yield from (_clue(sig, line) for line in ev.banner if sig.pattern.search(line))
    elif sig.kind is Kind.EHLO_KEYWORD:
        assert sig.pattern is not None
        yield from (_clue(sig, cap) for cap in ev.ehlo if sig.pattern.search(cap.strip()))
    elif sig.kind is Kind.EHLO_EXACT:
        if ev.ehlo and tuple(_caps(ev.ehlo)) == sig.exact:
            yield _clue(sig, ", ".join(ev.ehlo))
    elif sig.kind is Kind.EHLO_ORDER:
        if _in_order(sig, ev.ehlo):
            yield _clue(sig, ", ".join(ev.ehlo))
    elif sig.kind is Kind.REPLY:
        assert sig.pattern is not None
        for stage, code, text in ev.replies:
            if sig.code is not None and code != sig.code:
                continue
            if sig.stage and stage not in ("", "any") and stage != sig.stage:
                continue
            if sig.pattern.search(text):
                yield _clue(sig, _reply_line(code, text))
    elif sig.kind is Kind.HEADER:
        assert sig.name is not None
        for name, value in ev.headers:
            if sig.name.fullmatch(name.strip()) is None:
                continue
            if sig.value is None or sig.value.search(value):
                yield _clue(sig, f"{name}: {value}")
    elif sig.kind is Kind.RECEIVED:
        assert sig.pattern is not None
        yield from (_clue(sig, f"Received: {v}") for v in ev.received if sig.pattern.search(v))
    else:  # id-format: in reply texts, header values and banner lines
        assert sig.pattern is not None
        texts = [_reply_line(code, text) for _, code, text in ev.replies]
        texts += [f"{name}: {value}" for name, value in ev.headers]
        texts += list(ev.banner)
        yield from (_clue(sig, t) for t in texts if sig.pattern.search(t))


def _in_order(sig: Signature, ehlo: Sequence[str]) -> bool:
    names = [cap.split()[0].upper() for cap in ehlo if cap.strip()]
    if not names or (sig.first is not None and names[0] != sig.first):
        return False
    rank = {keyword: i for i, keyword in enumerate(sig.order)}
    known = [rank[n] for n in names if n in rank]
    return len(set(known)) >= sig.min_match and known == sorted(known)


def _distinct(clues: Sequence[Clue]) -> int:
    """How many independent observations: one line matched by two signatures counts once."""
    if not clues:
        return 0
    return min(len({c.observed for c in clues}), len({c.signature for c in clues}))


def _confidence(clues: Sequence[Clue]) -> Confidence:
    specific = _distinct([c for c in clues if c.specificity is Specificity.SPECIFIC])
    indicative = _distinct([c for c in clues if c.specificity is Specificity.INDICATIVE])
    if specific >= 2 or (specific >= 1 and indicative >= 1):
        return Confidence.HIGH
    if specific == 1 or indicative >= 2:
        return Confidence.MEDIUM
    return Confidence.LOW


def identify(evidence: Evidence) -> tuple[ProductMatch, ...]:
    """Products named by specific evidence, then candidate sets from shared evidence.

    Shared evidence is never folded into a product's own match: a Check Point named by its 554
    text and X-CheckPoint header stays separate from the AsyncOS texts beside it, which remain
    "Cisco IronPort/ESA or Check Point".
    """
    known = knowledge()
    own: dict[str, list[Clue]] = {}
    shared: list[tuple[tuple[str, ...], list[Clue]]] = []
    matched = [(sig, _unique(_clues(sig, evidence))) for sig in known.signatures]
    for sig, clues in sorted(matched, key=lambda m: len(m[0].products)):
        if not clues:
            continue
        if len(sig.products) == 1:
            own.setdefault(sig.products[0], []).extend(clues)
            continue
        group = next((g for g in shared if set(g[0]) <= set(sig.products)), None)
        if group is None:
            shared.append((sig.products, list(clues)))
        else:
            group[1].extend(clues)
    result = [_match(known, (pid,), clues, _confidence(clues)) for pid, clues in own.items()]
    result.sort(key=lambda m: (_RANK[m.confidence], -len(m.evidence), m.product))
    for ids, clues in shared:
        level = Confidence.MEDIUM if _distinct(clues) >= 3 else Confidence.LOW
        result.append(_match(known, ids, clues, level))
    return tuple(result)


_RANK = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}


def _unique(clues: Iterable[Clue]) -> list[Clue]:
    return list(dict.fromkeys(clues))


def _match(
    known: Knowledge, ids: tuple[str, ...], clues: list[Clue], level: Confidence
) -> ProductMatch:
    first = known.products[ids[0]]
    names = " or ".join(known.products[i].name for i in ids)
    return ProductMatch(
        product=first.id,
        name=first.name,
        role=first.role,
        confidence=level,
        evidence=tuple(_unique(clues)),
        alternatives=ids[1:],
        summary=names + (" (shared evidence)" if len(ids) > 1 else ""),
    )


def id_format(text: str) -> str | None:
    """The name of the first known id format found in `text` (e.g. `checkpoint-session-id`)."""
    for sig in knowledge().signatures:
        if sig.kind is Kind.ID_FORMAT and sig.pattern is not None and sig.pattern.search(text):
            return sig.id
    return None


def same_id_format(a: str, b: str) -> str | None:
    """Whether `a` and `b` both carry an id of one known format; the format's name, or None.

    The seed rule: the `554 ... Email Session ID: {4C209928-2-3A6A8C0-1FFFF}` reply and an
    `X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}` header share `checkpoint-session-id`.
    """
    for sig in knowledge().signatures:
        if sig.kind is Kind.ID_FORMAT and sig.pattern is not None:
            if sig.pattern.search(a) and sig.pattern.search(b):
                return sig.id
    return None


def product(product_id: str) -> Product:
    """A product by id (KeyError for an unknown id)."""
    return knowledge().products[product_id]
