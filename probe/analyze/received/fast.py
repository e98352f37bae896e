"""One Received header -> one `Hop`, fast, for the shapes nearly every MTA writes (pure).

`parse_fast` answers a stamp in one regex match, or returns None and leaves it to the general
parser (`received_hop.parse_general`), which is the reference: wherever this answers, it answers
exactly what that one would (the tests compare both on every sample, a seeded generator and
hypothesis variants). What depends only on an MTA's configuration (its `by` comments, protocol,
product) is derived once per configuration and kept in bounded dicts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import re
from typing import Final

from probe.analyze.received.fields import (
    AUTH_PROTOCOLS,
    PLAIN_PROTOCOLS,
    TLS_PROTOCOLS,
    TlsInfo,
    first_ip,
    from_clause,
    protocol,
    strip_angle,
    tls_from_comment,
)
from probe.analyze.received.lexer import KEYWORDS, MAX_VALUE, fast_date, parse_date
from probe.analyze.received.parser import settle_kind, static_kind
from probe.analyze.received.types import Hop, HopKind, ParseStatus

# The stamps nearly every MTA writes, in RFC 5321 order: `[(c)] [from H (c)*] [by H (c)*]
# [with P (c)* [tls C (c)*]] [id I (c)*] [via V [W]] [for A (c)*]; [Dow, ]D Mon YYYY HH:MM:SS
# +hhmm [(ZONE)]`, one word per clause value (or `with Microsoft SMTP Server`), comments nested
# at most one level, no quotes or backslashes. One match yields the clauses `segment` would find
# and the date `parse_date` would read; `_direct` fills the `Hop` straight from the groups, as
# `received_hop` would from those clauses. Anything else (or a value word that is a keyword)
# takes the general path, `received_hop.parse_general`.
_CM = r'\s*+\(([^()\\"]*+(?:\([^()\\"]*+\)[^()\\"]*+)*+)\)'
_W = r'([^\s()";\\]++)'


def _comments(n: int) -> str:
    return f"(?:{_CM})?" * n


_FAST_RE: Final = re.compile(
    rf"{_comments(1)}\s*+(?:(?i:from)\s++{_W}{_comments(4)}\s*+)?"
    rf"(?:(?i:by)\s++{_W}{_comments(2)})?"
    rf"(?:\s*+(?i:with)\s++(?:(Microsoft\s++SMTP\s++Server)|{_W}){_comments(3)}"
    rf"(?:\s*+(?i:tls)\s++{_W}{_comments(3)})?)?"
    rf"(?:\s*+(?i:id)\s++{_W}{_comments(2)})?"
    rf"(?:\s*+(?i:via)\s++{_W}(?:\s++{_W})?)?"
    rf"(?:\s*+(?i:for)\s++{_W}{_comments(2)})?"
    r"(?:\s*+;\s*+((?:[A-Z][a-z]{2},\s++)?(\d{1,2})\s++([A-Za-z]{3})\s++(\d{4})\s++"
    r"(\d\d):(\d\d):(\d\d)\s++([+-][01]\d[0-5]\d))(?:\s*+\(([A-Za-z0-9+:-]{1,10})\))?"
    r'|\s++(\d{4}-\d\d-\d\d\s++\d\d:\d\d:\d\d[^();"\\]*+))\s*+\Z'
)


def parse_fast(value: str) -> Hop | None:
    """The common shapes in one match; None sends the value to the general path."""
    if len(value) > MAX_VALUE:
        return None
    m = _FAST_RE.match(value)
    if m is None:
        return None
    g = m.groups()
    for word in (g[10], g[14], g[21], g[22]):  # not right after from/by/id/for: keywords win
        if word is not None and word.lower() in KEYWORDS:
            return None
    if g[26] is None:
        return _no_semicolon(value, g)
    date = fast_date(*g[27:34])
    if date is None:
        return None
    date_raw = " ".join(g[26].split())
    if g[34] is not None:
        date_raw += f" ({g[34]})"
    return _direct(value, g, date, date_raw, [])


# (value group, its comment groups) of each clause, the last clause in RFC order first
_CLAUSE_TAILS: Final = (
    (23, (24, 25)),  # for
    (21, ()),  # via
    (18, (19, 20)),  # id
    (14, (15, 16, 17)),  # tls
    (10, (11, 12, 13)),  # with
    (6, (7, 8)),  # by
    (1, (2, 3, 4, 5)),  # from
)


def _no_semicolon(value: str, g: tuple[str | None, ...]) -> Hop | None:
    """No `;`, an ISO date after the last clause's one value (SendGrid's Go time format).

    Reads the date as `date_without_semicolon` would: from the words after that value, with the
    clause's comments for a missing zone. A two-word `via`/`with` (whose second word could
    begin a date) or a keyword among the date's words is left to it.
    """
    words = (g[35] or "").split()
    if g[22] is not None or g[9] is not None or any(w.lower() in KEYWORDS for w in words):
        return None
    for word_group, comment_groups in _CLAUSE_TAILS:
        if g[word_group] is not None:
            comments = [c for i in comment_groups if (c := g[i]) is not None]
            break
    else:
        return None  # no clause at all
    date, date_flags = parse_date(words, comments)
    if date is None:
        return None
    return _direct(value, g, date, " ".join(words), ["no-semicolon", *date_flags])


# What the general parser (`received_hop`) makes of a `_FAST_RE` match, without the clause
# dict: every clause has one value word (two for `via`, `Microsoft SMTP Server` for `with`), so
# nothing is left unparsed and no warning arises, and a comment matters only when it names TLS,
# an envelope sender, a product or (after `from`/`by`) an address. That parser stays the
# reference: the tests compare.
_TLS_HINTS: Final = ("tls", "cipher", "ssl", "google")
_NOT_PRODUCT: Final = ("authenticated", "from ")
_ENVELOPE: Final = ("envelope-from", "envelope-sender")
_FROM_COMMENTS: Final = operator.itemgetter(2, 3, 4, 5)


@functools.lru_cache(maxsize=1024)  # a handful of protocol words recur
def _protocol_of(words: tuple[str, ...]) -> tuple[str | None, TlsInfo | None]:
    return protocol((list(words), []))


@functools.lru_cache(maxsize=4096)  # product comments recur; address comments are cheap misses
def _by_comment(comment: str) -> tuple[str | None, str | None]:
    """(address, product candidate) of a `by` comment, as the general parser reads them."""
    return first_ip(comment.split()), comment.strip() if tls_from_comment(comment) is None else None


_PROTOCOL_TLS: Final = TlsInfo(source="protocol")  # frozen: one instance serves every hop


@functools.lru_cache(maxsize=1024)
def _clause_tls(version: str | None, cipher: str) -> TlsInfo:
    return TlsInfo(version=version, cipher=cipher, source="clause")


def _comment_tls(comment: str) -> TlsInfo | None:
    low = comment.lower()
    for hint in _TLS_HINTS:
        if hint in low:
            return tls_from_comment(comment)
    return None


# Facts of one comment outside `from`: (TLS it names, envelope sender, product candidate).
# Comments recur (products, TLS lines); the dict is cleared when full, so it stays bounded.
_Note = tuple[TlsInfo | None, str | None, bool]
_NOTES: Final[dict[str, _Note]] = {}
_NOTES_MAX: Final = 4096


def _note(comment: str) -> _Note:
    note = _NOTES.get(comment)
    if note is None:
        if len(_NOTES) >= _NOTES_MAX:
            _NOTES.clear()
        found = _comment_tls(comment)
        low = comment[:15].lower()
        if found is not None:
            note = (found, None, False)
        elif low.startswith(_ENVELOPE):
            note = (None, strip_angle(comment.split(None, 1)[-1]), False)
        else:
            note = (None, None, not low.startswith(_NOT_PRODUCT))
        _NOTES[comment] = note
    return note


_NO_FROM: Final = (None, None, None, False)

# The groups after `from` that carry no per-message value (comments, the protocol, the `tls`
# cipher), and what `_direct` derives from them alone: they recur with every message an MTA
# stamps, so the derivation runs once per MTA configuration. Bounded like `_NOTES`.
_STATIC_GROUPS: Final = operator.itemgetter(7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 24, 25)
_Static = tuple[
    TlsInfo | None,
    str | None,
    str | None,
    str | None,
    str | None,
    TlsInfo | None,
    bool,
    bool,
    "HopKind | None",
    "HopKind | None",
]
_STATICS: Final[dict[tuple[str | None, ...], _Static]] = {}


def _static(key: tuple[str | None, ...]) -> _Static:
    """(TLS named, envelope sender, by address, by product, protocol, the TLS the protocol
    implies, whether it is plain, whether authenticated, `static_kind` with and without
    `from` and no preamble)."""
    tls: TlsInfo | None = None
    envelope_from: str | None = None
    product: str | None = None
    comments = key[:2] + key[4:7] + key[8:]  # in clause order: by, with, tls, id, for
    for i, c in enumerate(comments):
        if c is None:
            continue
        found, envelope, product_like = _note(c)
        if found is not None:
            tls = tls or found
        elif envelope_from is None and envelope is not None:
            envelope_from = envelope
        elif product is None and product_like and 2 <= i < 8:  # `with` and `tls` comments
            product = c
    by_ip = by_product = None
    for c in key[:2]:
        if c is None:
            continue
        ip, named = _by_comment(c)
        if ip is not None and by_ip is None:
            by_ip = ip
        elif by_product is None and named is not None:
            by_product = named
    if by_product is None and product is not None:
        by_product = product.strip()
    with_protocol = with_tls = None
    if key[2] is not None:
        with_protocol, with_tls = _protocol_of(tuple(key[2].split()))
    elif key[3] is not None:
        with_protocol, with_tls = _protocol_of((key[3],))
    upper = with_protocol.upper() if with_protocol else ""
    if len(_STATICS) >= _NOTES_MAX:
        _STATICS.clear()
    static = _STATICS[key] = (
        tls or with_tls,
        envelope_from,
        by_ip,
        by_product,
        with_protocol,
        _PROTOCOL_TLS if upper in TLS_PROTOCOLS else None,
        upper in PLAIN_PROTOCOLS or upper.startswith("MICROSOFT SMTP SERVER"),
        upper in AUTH_PROTOCOLS,
        static_kind(with_protocol, by_product, True, ()),
        static_kind(with_protocol, by_product, False, ()),
    )
    return static


_new = object.__new__
_set = object.__setattr__


def _direct(
    value: str, g: tuple[str | None, ...], date: dt.datetime, date_raw: str, flags: list[str]
) -> Hop:
    """The `Hop` the general parser would make from the clauses of these groups (the tests compare);
    `flags` are the date's."""
    tls: TlsInfo | None = None
    envelope_from: str | None = None
    if g[0] is not None:  # the preamble comment comes first in clause order
        tls, envelope_from = _note(g[0])[:2]
    from_word = g[1]
    if from_word is not None:
        from_comments = [c for c in _FROM_COMMENTS(g) if c is not None]
        for c in from_comments:  # TLS and envelope notes may sit among the TCP-info
            found = _comment_tls(c)
            if found is not None:
                if tls is None:
                    tls = found
            elif envelope_from is None and c[:15].lower().startswith(_ENVELOPE):
                envelope_from = strip_angle(c.split(None, 1)[-1])
        from_helo, from_rdns, from_ip, authenticated = from_clause(
            ([from_word], from_comments), flags, []
        )
    else:
        from_comments = []
        from_helo, from_rdns, from_ip, authenticated = _NO_FROM
    key = _STATIC_GROUPS(g)
    (
        static_tls,
        static_envelope,
        by_ip,
        by_product,
        with_protocol,
        protocol_tls,
        plain,
        authenticated_protocol,
        kind_from,
        kind_no_from,
    ) = _STATICS.get(key) or _static(key)
    if tls is None:
        tls = static_tls
    if envelope_from is None:  # `<>` (a bounce) gives "": keep it
        envelope_from = static_envelope
    by_host = None if g[6] is None else g[6].rstrip(",")
    if g[14] is not None:
        tls = _clause_tls(tls.version if tls else None, g[14])
    if tls is None:
        tls = protocol_tls
    if g[0] is not None:
        kind = static_kind(with_protocol, by_product, from_word is not None, (g[0],))
    else:
        kind = kind_no_from if from_word is None else kind_from
    if kind is None or kind is _LOCAL:
        kind = settle_kind(kind, from_word is not None, from_ip, from_helo, by_host, from_comments)
    hop = _new(Hop)
    fields = _OK_FIELDS.copy()  # a fresh Hop's dict takes no item assignment cheaper than this
    fields["raw"] = value
    fields["kind"] = kind
    fields["from_helo"] = from_helo
    fields["from_rdns"] = from_rdns
    fields["from_ip"] = from_ip
    fields["by_host"] = by_host
    fields["by_ip"] = by_ip
    fields["by_product"] = by_product
    if g[21] is not None:
        fields["via"] = g[21] if g[22] is None else f"{g[21]} {g[22]}"
    fields["with_protocol"] = with_protocol
    if tls is not None or "over TLS secured channel" in value:
        fields["encrypted"] = True
        fields["tls"] = tls
    elif plain:
        fields["encrypted"] = False
    fields["authenticated"] = authenticated or authenticated_protocol
    if g[18] is not None:
        fields["id"] = strip_angle(g[18])
    if g[23] is not None:
        fields["for_addr"] = strip_angle(g[23])
    fields["envelope_from"] = envelope_from
    fields["date"] = date
    fields["date_raw"] = date_raw
    if flags:
        fields["flags"] = tuple(flags)
    _set(hop, "__dict__", fields)
    return hop


# Every field of a `Hop` the fast path makes, before it fills in the stamp's own
_OK_FIELDS: Final[dict[str, object]] = {
    field.name: field.default for field in dataclasses.fields(Hop)
} | {"status": ParseStatus.OK}  # a date was read, nothing left over
_LOCAL: Final = HopKind.LOCAL  # an enum member costs a metaclass lookup per access
