"""The reply-code knowledge, loaded and validated: `probe/data/codes.toml` (RFC 5321 basic codes,
RFC 3463 / IANA enhanced codes by class, subject and detail) and `vendor_replies.toml` (texts
products write, matched by regex or by phrases). Pure; `probe.analyze.codes` explains with it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import tomllib
from importlib import resources
from typing import Any

from probe.analyze import fingerprint
from probe.errors import ConfigError

_DETAIL_KEY = re.compile(r"^X\.(\d{1,3})\.(\d{1,3})$")


class ReplyClass(enum.StrEnum):
    SUCCESS = "success"  # 2yz / 2.x.x
    INTERMEDIATE = "intermediate"  # 3yz: the server waits for more (354, 334)
    TEMPORARY = "temporary"  # 4yz / 4.x.x: try again later
    PERMANENT = "permanent"  # 5yz / 5.x.x: do not retry unchanged


class Refusal(enum.StrEnum):
    """What a refusal is about, where the knowledge names it (`refusal = "size"` in the TOML)."""

    SIZE = "size"  # the message is too big: a size limit of the server, the route or the mailbox


CLASS_BY_DIGIT = {
    "2": ReplyClass.SUCCESS,
    "3": ReplyClass.INTERMEDIATE,
    "4": ReplyClass.TEMPORARY,
    "5": ReplyClass.PERMANENT,
}


@dataclasses.dataclass(frozen=True)
class Entry:
    meaning: str
    cause: str
    remedy: str
    source: str
    refusal: Refusal | None = None


@dataclasses.dataclass(frozen=True)
class VendorText:
    id: str
    codes: tuple[int, ...]  # empty: any code
    pattern: re.Pattern[str] | None
    phrases: tuple[str, ...]  # word sequences, compared as words() of the text
    products: tuple[str, ...]
    entry: Entry

    def match_length(self, body: str, body_words: str) -> int:
        """How much of the text this entry explains (0: no match); the longest match wins."""
        found = [len(p) for p in self.phrases if f" {p} " in body_words]
        if self.pattern is not None and (m := self.pattern.search(body)):
            found.append(len(m.group()) or 1)
        return max(found, default=0)


_WORD = re.compile(r"[^\W_]+")
_FILLER = frozenset({"a", "an", "the", "is", "are"})


def words(text: str) -> str:
    """Text as words for phrase matching: case, punctuation, dashes and filler words ignored, and
    every word holding a digit dropped (ids, numbers, enhanced codes): `5.7.1 Envelope blocked –
    User Entry [id 7Xa2]` -> ` envelope blocked user entry `."""
    kept = (w for w in _WORD.findall(text.casefold()) if not any(c.isdigit() for c in w))
    return " " + " ".join(w for w in kept if w not in _FILLER) + " "


@dataclasses.dataclass(frozen=True)
class Tables:
    basic: dict[int, Entry]
    classes: dict[int, tuple[ReplyClass, Entry]]
    subjects: dict[int, Entry]
    details: dict[tuple[int, int], Entry]
    vendors: tuple[VendorText, ...]


def _read(name: str) -> dict[str, Any]:
    where = f"probe/data/{name}"
    try:
        text = resources.files("probe.data").joinpath(name).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load: {exc}", path=where) from None


def _entry(item: dict[str, Any], where: str, key: str, *, need: tuple[str, ...]) -> Entry:
    for field in ("meaning", "source", *need):
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise ConfigError(f"`{field}` must be a non-empty string", path=where, key=key)
    refusal = item.get("refusal")
    if refusal is not None and refusal not in set(Refusal):
        allowed = ", ".join(Refusal)
        raise ConfigError(f"`refusal` must be one of {allowed}", path=where, key=key)
    return Entry(
        item["meaning"],
        item.get("cause", ""),
        item.get("remedy", ""),
        item["source"],
        Refusal(refusal) if refusal is not None else None,
    )


def _int(item: dict[str, Any], field: str, lo: int, hi: int, where: str, key: str) -> int:
    value = item.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"`{field}` must be an integer {lo}..{hi}", path=where, key=key)
    return value


@functools.cache
def tables() -> Tables:
    """codes.toml and vendor_replies.toml, validated; loaded once per process."""
    where = "probe/data/codes.toml"
    doc = _read("codes.toml")
    basic: dict[int, Entry] = {}
    for item in doc.get("basic", []):
        key = f"basic {item.get('code', '?')}"
        code = _int(item, "code", 200, 599, where, key)
        if code in basic:
            raise ConfigError("duplicate code", path=where, key=key)
        basic[code] = _entry(item, where, key, need=())
    classes: dict[int, tuple[ReplyClass, Entry]] = {}
    for item in doc.get("class", []):
        key = f"class {item.get('class', '?')}"
        digit = _int(item, "class", 2, 5, where, key)
        classes[digit] = (CLASS_BY_DIGIT[str(digit)], _entry(item, where, key, need=()))
    subjects = {
        _int(item, "subject", 0, 7, where, f"subject {item.get('subject')}"): _entry(
            item, where, f"subject {item.get('subject')}", need=("cause", "remedy")
        )
        for item in doc.get("subject", [])
    }
    details: dict[tuple[int, int], Entry] = {}
    for item in doc.get("detail", []):
        key = f"detail {item.get('code', '?')}"
        match = _DETAIL_KEY.match(str(item.get("code", "")))
        if match is None:
            raise ConfigError("`code` must look like X.7.1", path=where, key=key)
        pair = (int(match.group(1)), int(match.group(2)))
        if pair in details or pair[0] not in subjects:
            raise ConfigError("duplicate detail or unknown subject", path=where, key=key)
        details[pair] = _entry(item, where, key, need=())
    if sorted(classes) != [2, 4, 5] or sorted(subjects) != list(range(8)):
        raise ConfigError("classes 2, 4, 5 and subjects 0..7 must all be present", path=where)
    return Tables(basic, classes, subjects, details, _vendors())


def _vendors() -> tuple[VendorText, ...]:
    where = "probe/data/vendor_replies.toml"
    known = fingerprint.shipped_knowledge().products
    result = []
    for item in _read("vendor_replies.toml").get("reply", []):
        key = f"reply {item.get('id', '?')}"
        entry = _entry(item, where, key, need=("cause", "remedy"))
        raw_codes = item.get("code", [])
        raw_codes = raw_codes if isinstance(raw_codes, list) else [raw_codes]
        codes = tuple(_int({"code": c}, "code", 200, 599, where, key) for c in raw_codes)
        try:
            pattern = re.compile(item["pattern"]) if "pattern" in item else None
        except (re.error, TypeError) as exc:
            raise ConfigError(f"bad regex: {exc}", path=where, key=key) from None
        phrases = item.get("phrases", [])
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise ConfigError("`phrases` must be a list of strings", path=where, key=key)
        products = item.get("products", [])
        if not isinstance(products, list) or any(p not in known for p in products):
            raise ConfigError(f"unknown product in {products!r}", path=where, key=key)
        said = tuple(words(p).strip() for p in phrases)
        vendor = VendorText(str(item.get("id", "")), codes, pattern, said, tuple(products), entry)
        samples = item.get("samples", [item["sample"]] if "sample" in item else [])
        matches = [vendor.match_length(str(s), words(str(s))) for s in samples]
        if not vendor.id or (pattern is None and not said) or not matches or not all(matches):
            raise ConfigError(
                "needs an id, a pattern or phrases, and samples they match", path=where, key=key
            )
        result.append(vendor)
    ids = [v.id for v in result]
    if len(set(ids)) != len(ids):
        raise ConfigError("duplicate reply id", path=where)
    return tuple(result)
