"""The fingerprint knowledge: `probe/data/fingerprints_*.toml` loaded and validated.

One file per product family; every product and signature names its `source`. A mistake in the
data is a `ConfigError` naming the file and the entry, found when the knowledge is first loaded,
not a wrong match later: unknown kinds, roles and product ids, bad regexes, `shared` signatures
with one product (or specific ones with several), and a signature that does not match its own
documented `sample`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from probe.analyze.fingerprint.signature import capability_lines, clues
from probe.analyze.fingerprint.types import (
    Kind,
    Knowledge,
    Observations,
    Product,
    ReplyHabits,
    ReplyStage,
    Role,
    Signature,
    Specificity,
)
from probe.errors import ConfigError

DATA_PACKAGE = "probe.data"
FILE_PREFIX = "fingerprints"


@functools.cache
def shipped_knowledge() -> Knowledge:
    """Every fingerprints_*.toml file of probe/data, validated; loaded once per process."""
    files = sorted(
        (
            entry
            for entry in resources.files(DATA_PACKAGE).iterdir()
            if entry.name.startswith(FILE_PREFIX) and entry.name.endswith(".toml")
        ),
        key=lambda entry: entry.name,
    )
    return parse_knowledge([(f"probe/data/{e.name}", e.read_text(encoding="utf-8")) for e in files])


def parse_knowledge(files: Sequence[tuple[str, str]]) -> Knowledge:
    """(where, TOML text) of each file -> the validated knowledge; ConfigError on a mistake."""
    raw: list[tuple[str, dict[str, Any]]] = []
    for where, text in files:
        try:
            raw.append((where, tomllib.loads(text)))
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
            sig = parse_signature(item, where, products)
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
        replies=_habits(item, where, key),
    )


def _stage(text: str, where: str, key: str) -> ReplyStage:
    if text not in ReplyStage.__members__.values():
        raise ConfigError(f"unknown reply stage {text!r}", path=where, key=key)
    return ReplyStage(text)


def _habits(item: dict[str, Any], where: str, key: str) -> ReplyHabits | None:
    """`reply_enhanced`, `reply_closed` ("stage code" pairs) and `reply_source` of a product."""
    if not {"reply_enhanced", "reply_closed"} & item.keys():
        return None
    enhanced = item.get("reply_enhanced", False)
    if not isinstance(enhanced, bool):
        raise ConfigError("`reply_enhanced` must be true or false", path=where, key=key)
    closed: set[tuple[ReplyStage, int]] = set()
    pairs = _list(item, "reply_closed", where, key) if "reply_closed" in item else []
    for pair in pairs:
        stage, _, code = pair.partition(" ")
        if not code.isdigit() or not 200 <= int(code) <= 599:
            raise ConfigError(f"bad `reply_closed` entry {pair!r}", path=where, key=key)
        closed.add((_stage(stage, where, key), int(code)))
    return ReplyHabits(enhanced, frozenset(closed), _text(item, "reply_source", where, key))


def parse_signature(item: dict[str, Any], where: str, products: dict[str, Product]) -> Signature:
    """One `[[signature]]` table of file `where`, validated against the known products."""
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
        fields["exact"] = tuple(capability_lines(_list(item, "exact", where, key)))
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
            fields["stage"] = _stage(_text(item, "stage", where, key), where, key)
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
    return any(True for _ in clues(sig, _sample_observations(sig, sample)))


def _sample_observations(sig: Signature, sample: str) -> Observations:
    if sig.kind is Kind.HEADER:
        name, _, value = sample.partition(":")
        return Observations(headers=((name.strip(), value.strip()),))
    if sig.kind is Kind.REPLY:
        return Observations(replies=((sig.stage or ReplyStage.ANY, sig.code, sample),))
    if sig.kind is Kind.BANNER:
        return Observations(banner=(sample,))
    if sig.kind is Kind.EHLO_KEYWORD:
        return Observations(ehlo=(sample,))
    if sig.kind is Kind.RECEIVED:
        return Observations(received=(sample,))
    return Observations(headers=(("X-Sample", sample),))  # id-format
