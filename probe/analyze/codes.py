"""What a reply code means, why it happens and what to do. Pure.

Three tables under `probe/data/`: `codes.toml` (RFC 5321 basic codes and the RFC 3463 / IANA
enhanced status codes, by class, subject and detail) and `vendor_replies.toml` (texts that
products write, e.g. Check Point's `554 Permanent scan failure`, Mimecast's greylisting `451
Internal resource temporarily unavailable`). `explain` combines them with the fingerprints (the
text's id format and reply signatures), so `554 Permanent scan failure. Email Session ID:
{4C209928-2-3A6A8C0-1FFFF}` comes back as a Check Point scan verdict with its cause and remedy.
Works for DSN `Status:` values (`5.1.1`) too.
"""

from __future__ import annotations

import dataclasses
import re

from probe.analyze import fingerprint
from probe.analyze.code_tables import (
    CLASS_BY_DIGIT,
    Entry,
    Refusal,
    ReplyClass,
    Tables,
    VendorText,
    tables,
    words,
)
from probe.errors import UsageError
from probe.smtp.replies import enhanced_status

_ENHANCED_ANYWHERE = re.compile(r"(?<![\w.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\w.]|\.\d)")
_ENHANCED_ARG = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_LEADING_CODE = re.compile(r"^(\d{3})[ -]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # CR and LF split lines


@dataclasses.dataclass(frozen=True)
class CodePart:
    """One part of an enhanced status code: `5` (class), `X.7` (subject), `X.7.1` (detail)."""

    part: str  # "class" | "subject" | "detail"
    code: str
    meaning: str
    known: bool = True


@dataclasses.dataclass(frozen=True)
class VendorMatch:
    """A vendor text that matched; several products = a text they share."""

    id: str
    products: tuple[str, ...]
    names: tuple[str, ...]
    meaning: str
    cause: str
    remedy: str
    source: str


@dataclasses.dataclass(frozen=True)
class Explanation:
    code: int | None
    enhanced: str | None
    text: str
    reply_class: ReplyClass
    meaning: str  # of the basic code ("" when none was given or it is unregistered)
    parts: tuple[CodePart, ...]  # class, subject, detail of the enhanced code
    vendors: tuple[VendorMatch, ...]
    products: tuple[fingerprint.ProductMatch, ...]  # from the text's reply signatures / id format
    id_format: str | None  # a known id format in the text (e.g. checkpoint-session-id)
    cause: str
    summary: str
    remedies: tuple[str, ...]
    notes: tuple[str, ...] = ()  # inconsistencies (e.g. 550 with a 4.x.x enhanced code)
    known: bool = True  # False: well-formed but neither code is registered
    sources: tuple[str, ...] = ()
    refusal: Refusal | None = None  # what the refusal is about (a size refusal), when known


# --------------------------------------------------------------------------- parsing


def parse_query(value: str) -> tuple[int | None, str | None]:
    """`554` -> (554, None); `5.7.1` -> (None, "5.7.1"); anything else is a UsageError."""
    value = value.strip()
    if re.fullmatch(r"\d{3}", value):
        code = int(value)
        if not 200 <= code <= 599:
            raise UsageError(f"reply code {value} is out of range (200..599)")
        return code, None
    if _ENHANCED_ARG.match(value):
        return None, value
    raise UsageError(f"not a reply code (e.g. 554) or enhanced status code (e.g. 5.7.1): {value!r}")


def extract_enhanced(code: int | None, text: str) -> str | None:
    """The enhanced status code in a reply text: at its start (RFC 3463) or, as some MTAs write
    it (`#5.5.1`, `(#5.3.4)`), later in the text; its class must agree with `code`."""
    text = _LEADING_CODE.sub("", text.strip())
    found = enhanced_status(code, text)
    if found is not None:
        return found
    for match in _ENHANCED_ANYWHERE.finditer(text):
        if code is None or str(code)[0] == match.group(1):
            return ".".join(match.groups())
    return None


def normalize_text(text: str) -> str:
    """A pasted multi-line reply on one line, codes dropped from each line (the enhanced code
    only where it repeats the first line's): `550-5.7.26 a\n550 5.7.26 b` -> `5.7.26 a b`."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\t", " "))
    lines = [_LEADING_CODE.sub("", line.strip()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    first = _ENHANCED_ARG.match(lines[0].split(" ", 1)[0])
    if first is not None:
        repeat = first.group(0) + " "
        lines[1:] = [line.removeprefix(repeat) for line in lines[1:]]
    return " ".join(lines)


# --------------------------------------------------------------------------- explaining


def explain(code: int | None, text: str = "", enhanced: str | None = None) -> Explanation:
    """Explain a reply (basic code, enhanced code, vendor text); UsageError when malformed."""
    if code is not None and not 200 <= code <= 599:
        raise UsageError(f"reply code {code} is out of range (200..599)")
    text = normalize_text(text)
    if enhanced is not None and not _ENHANCED_ARG.match(enhanced):
        raise UsageError(f"not an enhanced status code (e.g. 5.7.1): {enhanced!r}")
    if code is None and enhanced is None:
        enhanced = extract_enhanced(None, text)
        if enhanced is None:
            raise UsageError("nothing to explain: give a reply code or an enhanced status code")
    notes: list[str] = []
    if enhanced is None:
        enhanced = extract_enhanced(code, text)
    elif (specific := _specific(enhanced, text)) is not None:
        notes.append(f"{enhanced} is generic: the text's {specific} is explained")
        enhanced = specific
    t = tables()
    digit = str(code)[0] if code is not None else str(enhanced)[0]
    if code is not None and enhanced is not None and enhanced[0] != digit:
        notes.append(f"enhanced code {enhanced} disagrees with reply code {code} (RFC 3463 2)")
    basic = t.basic.get(code) if code is not None else None
    parts, detail, subject = _parts(t, enhanced)
    vendors = _vendor_matches(t, code, text)
    products: tuple[fingerprint.ProductMatch, ...] = ()
    knowledge = fingerprint.shipped_knowledge()
    found_format = fingerprint.id_format(knowledge, text) if text else None
    if text:
        reply = fingerprint.Observations(replies=(("any", code, text),))
        products = fingerprint.match_products(knowledge, reply)
    known_entries = [v.entry for v in vendors] + [e for e in (detail, subject, basic) if e]
    cause = next((e.cause for e in known_entries if e.cause), "")
    remedies = tuple(
        dict.fromkeys(e.remedy for e in _remedy_order(vendors, detail, subject, basic))
    )
    reply_class = CLASS_BY_DIGIT[digit]
    known = basic is not None or detail is not None or bool(vendors)
    if code is not None and basic is None:
        notes.append(f"{code} is not a registered reply code; only its class is known")
    matches = tuple(_vendor_match(v) for v in vendors)
    refusal = next((e.refusal for e in known_entries if e.refusal), None)
    return Explanation(
        code=code,
        enhanced=enhanced,
        text=text,
        reply_class=reply_class,
        meaning=basic.meaning if basic else "",
        parts=parts,
        vendors=matches,
        products=products,
        id_format=found_format,
        cause=cause,
        summary=_summary(code, enhanced, reply_class, basic, detail, matches, products, refusal),
        remedies=remedies,
        notes=tuple(notes),
        known=known,
        sources=tuple(dict.fromkeys(e.source for e in known_entries)),
        refusal=refusal,
    )


def _specific(enhanced: str, text: str) -> str | None:
    """A DSN's generic `Status: 5.0.0` beside a diagnostic that says `550 5.7.26 ...`: the
    text's enhanced code of the same class when the given one has no subject (X.0.x)."""
    klass, subject, _ = enhanced.split(".")
    if subject != "0":
        return None
    for match in _ENHANCED_ANYWHERE.finditer(text):
        if match.group(1) == klass and match.group(2) != "0":
            return ".".join(match.groups())
    return None


def _parts(
    t: Tables, enhanced: str | None
) -> tuple[tuple[CodePart, ...], Entry | None, Entry | None]:
    if enhanced is None:
        return (), None, None
    klass, subj, det = (int(x) for x in enhanced.split("."))
    subject = t.subjects.get(subj)
    detail = t.details.get((subj, det))
    parts = (
        CodePart("class", str(klass), t.classes[klass][1].meaning),
        _part("subject", f"X.{subj}", subject),
        _part("detail", f"X.{subj}.{det}", detail),
    )
    return parts, detail, subject


def _part(part: str, code: str, entry: Entry | None) -> CodePart:
    return CodePart(part, code, entry.meaning if entry else "not registered", entry is not None)


def _vendor_matches(t: Tables, code: int | None, text: str) -> list[VendorText]:
    """The vendor texts that match, the most specific (longest match) first."""
    if not text:
        return []
    body = _LEADING_CODE.sub("", text.strip())
    text_words = words(body)
    scored = [
        (v.match_length(body, text_words), v)
        for v in t.vendors
        if not v.codes or code is None or code in v.codes
    ]
    return [v for n, v in sorted(scored, key=lambda nv: -nv[0]) if n]


def _vendor_match(v: VendorText) -> VendorMatch:
    products = fingerprint.shipped_knowledge().products
    names = tuple(products[p].name for p in v.products)
    e = v.entry
    return VendorMatch(v.id, v.products, names, e.meaning, e.cause, e.remedy, e.source)


def _remedy_order(
    vendors: list[VendorText], detail: Entry | None, subject: Entry | None, basic: Entry | None
) -> list[Entry]:
    # vendor advice first; a specific detail beats its subject's generic advice; basic code last
    order = [v.entry for v in vendors]
    order += [e for e in (detail if detail and detail.remedy else subject, basic) if e is not None]
    return [e for e in order if e.remedy]


def _summary(
    code: int | None,
    enhanced: str | None,
    reply_class: ReplyClass,
    basic: Entry | None,
    detail: Entry | None,
    vendors: tuple[VendorMatch, ...],
    products: tuple[fingerprint.ProductMatch, ...],
    refusal: Refusal | None,
) -> str:
    label = " ".join(x for x in (str(code) if code is not None else "", enhanced or "") if x)
    what = (
        vendors[0].meaning
        if vendors
        else detail.meaning
        if detail
        else basic.meaning
        if basic
        else "unregistered code"
    )
    who = ""
    named = [m for m in products if not m.alternatives]
    if vendors and vendors[0].names:
        who = " or ".join(vendors[0].names)
    elif named:
        who = named[0].name
    elif products:
        who = products[0].summary
    about = f"{refusal} refusal: " if refusal else ""
    return f"{label} ({reply_class}): {about}{what}" + (f" [likely {who}]" if who else "")


__all__ = [
    "CodePart",
    "Explanation",
    "Refusal",
    "ReplyClass",
    "VendorMatch",
    "explain",
    "tables",
]
