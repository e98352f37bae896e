"""One Received header -> one `Hop` (pure).

Clauses are found on the top-level tokens of `received_tokens.tokenize`: `from`, `by`, `via`,
`with`, `id`, `for` (and `tls`, RFC 8314; `envelope-from`, Haraka/ecelerity) are keywords only as
whole words outside comments, in any order; the first `from` wins. The date is what follows the
last top-level `;` (or, with no `;`, a date-like run at the end). The TCP-info comment of `from`
gives the reverse name and the address, in the shapes Postfix, Sendmail, Exim, qmail and Exchange
write. TLS details come from wherever the MTA put them (research/received.md, section 2.5).
Anything not understood is kept in `unparsed` and flagged, never dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import operator
import re
from typing import Any, Final

from probe.received_fields import (
    AUTH_PROTOCOLS,
    INTERNAL_PROTOCOLS,
    LMTP_PROTOCOLS,
    PLAIN_PROTOCOLS,
    TLS_PROTOCOLS,
    TlsInfo,
    date_without_semicolon,
    first_ip,
    from_clause,
    ip_of,
    protocol,
    tls_from_comment,
)
from probe.received_tokens import (
    COMMENT,
    KEYWORDS,
    MAX_VALUE,
    WORD,
    Clause,
    Token,
    fast_date,
    parse_date,
    segment,
)

_OVER_TLS: Final = ["over", "tls", "secured", "channel"]


class HopKind(enum.StrEnum):
    """What a stamp records; only `network` is a transfer between two hosts."""

    NETWORK = "network"  # host-to-host SMTP transfer
    LOCAL = "local-pickup"  # entered on this host: pickup, `with local`, qmail `invoked`
    FILTER = "loopback-filter"  # content-filter loop on loopback (amavis, spamassassin)
    LMTP = "lmtp-delivery"  # handed to the mailbox store over LMTP
    INTERNAL = "internal"  # provider-internal or API/webmail (Exchange mapi/HTTPS, HTTP)
    FETCH = "fetch"  # fetched from a mailbox (fetchmail POP3/IMAP)
    UNPARSED = "unparsed"  # neither from, by nor a date could be read


class ParseStatus(enum.StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # something was not understood; see `unparsed` and `warnings`
    RAW = "raw"  # nothing usable: only `raw` is meaningful


@dataclasses.dataclass(frozen=True)
class Hop:
    """One Received stamp. `raw` is always the header value as given."""

    raw: str
    kind: HopKind = HopKind.UNPARSED
    status: ParseStatus = ParseStatus.RAW
    from_helo: str | None = None
    from_rdns: str | None = None
    from_ip: str | None = None
    by_host: str | None = None
    by_ip: str | None = None
    by_product: str | None = None  # the comment after `by`: "Postfix", "8.15.2/8.15.2"...
    via: str | None = None
    with_protocol: str | None = None  # ESMTPS, LMTP, local, "Microsoft SMTP Server"...
    encrypted: bool | None = None  # None: the stamp does not say
    tls: TlsInfo | None = None
    authenticated: bool = False
    id: str | None = None
    for_addr: str | None = None
    envelope_from: str | None = None
    date: dt.datetime | None = None  # UTC
    date_raw: str | None = None
    flags: tuple[str, ...] = ()  # format facts: no-semicolon, two-digit-year, may-be-forged...
    warnings: tuple[str, ...] = ()
    unparsed: tuple[str, ...] = ()  # fragments kept as written


def _new_hop(**fields: Any) -> Hop:
    """A Hop without the frozen __init__ (one object.__setattr__ per field costs a third of the
    parse time): the one place both builders below construct a Hop."""
    hop = object.__new__(Hop)
    hop.__dict__.update(fields)
    return hop


def parse_received(value: str) -> Hop:
    """Parse one Received header value (folded or not). Never raises; `raw` is always kept."""
    try:
        return _parse_fast(value) or _parse(value)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the header
        return Hop(raw=value, warnings=(f"internal parse error: {type(exc).__name__}",))


def _parse(value: str) -> Hop:
    clauses, tail, semis, unclosed, repeated = segment(value)
    flags: list[str] = []
    warnings: list[str] = [f"repeated '{word}' clause" for word in repeated]
    unparsed: list[str] = []
    if unclosed:
        warnings.append("unclosed comment")
    if semis > 1:
        flags.append("several-semicolons")

    # ---- date
    date: dt.datetime | None = None
    date_raw: str | None = None
    if tail is not None:
        date_raw = _join(tail) or None
        words = [t for k, t in tail if k == WORD]
        comments = [t for k, t in tail if k == COMMENT]
        if words:
            date, dflags = parse_date(words, comments)
            flags.extend(dflags)
        else:
            flags.append("no-date")
    else:
        date, date_raw = date_without_semicolon(clauses, flags)
    if date_raw and date is None and "no-date" not in flags:
        warnings.append(f"date not understood: {date_raw}")
    tail_comments = [t for k, t in tail or () if k == COMMENT]
    return _build(value, clauses, tail_comments, date, date_raw, flags, warnings, unparsed)


def _build(
    value: str,
    clauses: dict[str, Clause],
    tail_comments: list[str],
    date: dt.datetime | None,
    date_raw: str | None,
    flags: list[str],
    warnings: list[str],
    unparsed: list[str],
) -> Hop:
    """Every field but the date, from the clauses: shared by the general and the fast path."""
    # ---- clauses
    tls: TlsInfo | None = None
    envelope_from: str | None = None
    products: list[str] = []
    for name, (cwords, comments) in clauses.items():
        for comment in comments:
            found = tls_from_comment(comment)
            if found is not None:
                tls = tls or found
                continue
            low = comment[:15].lower()
            if low.startswith(("envelope-from", "envelope-sender")):
                envelope_from = envelope_from or _strip_angle(comment.split(None, 1)[-1])
            elif name in ("with", "tls") and not low.startswith(("authenticated", "from ")):
                products.append(comment)
        if cwords and (name == "" or name.endswith("#")):
            unparsed.extend(cwords)
    for comment in tail_comments:
        if comment.lower().startswith("envelope-from"):
            envelope_from = envelope_from or _strip_angle(comment.split(None, 1)[-1])

    from_helo, from_rdns, from_ip, authenticated = from_clause(clauses.get("from"), flags, unparsed)
    by_host = by_ip = by_product = None
    by = clauses.get("by")
    if by is not None:
        by_words, by_comments = by
        by_host = by_words[0].rstrip(",") if by_words else None
        if len(by_words) > 1 and [w.lower() for w in by_words[1:]] != _OVER_TLS:
            unparsed.extend(by_words[1:])
        for comment in by_comments:
            ip = first_ip(comment.split())
            if ip is not None and by_ip is None:
                by_ip = ip
            elif by_product is None and tls_from_comment(comment) is None:
                by_product = comment.strip()
    if by_product is None and products:
        by_product = products[0].strip()

    with_protocol, with_tls = protocol(clauses.get("with"))
    tls = tls or with_tls
    tls_clause = clauses.get("tls")
    if tls_clause is not None and tls_clause[0]:
        version = tls.version if tls else None
        tls = TlsInfo(version=version, cipher=tls_clause[0][0], source="clause")
    upper = with_protocol.upper() if with_protocol else ""
    if tls is None and upper in TLS_PROTOCOLS:
        tls = TlsInfo(source="protocol")
    encrypted: bool | None
    if tls is not None or "over TLS secured channel" in value:
        encrypted = True
    elif upper in PLAIN_PROTOCOLS or upper.startswith("MICROSOFT SMTP SERVER"):
        encrypted = False
    else:
        encrypted = None
    authenticated = authenticated or upper in AUTH_PROTOCOLS

    ident = None
    id_clause = clauses.get("id")
    if id_clause is not None and id_clause[0]:
        ident = _strip_angle(id_clause[0][0])
        unparsed.extend(id_clause[0][1:])
    for_clause = clauses.get("for")
    for_addr = _strip_angle(" ".join(for_clause[0])) if for_clause and for_clause[0] else None
    via_clause = clauses.get("via")
    via = " ".join(via_clause[0]) if via_clause and via_clause[0] else None
    if "envelope-from" in clauses or "envelope-sender" in clauses:
        env = clauses.get("envelope-from") or clauses["envelope-sender"]
        if env[0]:
            envelope_from = envelope_from or _strip_angle(env[0][0])

    kind = _kind(clauses, with_protocol, from_ip, from_helo, by_ip, by_host, by_product, date)
    if kind is HopKind.UNPARSED:
        status = ParseStatus.RAW
    elif unparsed or warnings:
        status = ParseStatus.PARTIAL
    else:
        status = ParseStatus.OK
    if unparsed:
        warnings.append("text not understood: " + " ".join(unparsed))
    return _new_hop(
        raw=value,
        kind=kind,
        status=status,
        from_helo=from_helo,
        from_rdns=from_rdns,
        from_ip=from_ip,
        by_host=by_host,
        by_ip=by_ip,
        by_product=by_product,
        via=via,
        with_protocol=with_protocol,
        encrypted=encrypted,
        tls=tls,
        authenticated=authenticated,
        id=ident,
        for_addr=for_addr,
        envelope_from=envelope_from,
        date=date,
        date_raw=date_raw,
        flags=tuple(flags),
        warnings=tuple(warnings),
        unparsed=tuple(unparsed),
    )


def _kind(
    clauses: dict[str, Clause],
    protocol: str | None,
    from_ip: str | None,
    from_helo: str | None,
    by_ip: str | None,
    by_host: str | None,
    by_product: str | None,
    date: dt.datetime | None,
) -> HopKind:
    has_from = "from" in clauses
    if not has_from and by_host is None and date is None:
        return HopKind.UNPARSED
    product = (by_product or "").lower()
    upper = (protocol or "").upper()
    filter_product = "amavis" in product or "spamassassin" in product or "spamd" in product
    loopback = _loopback(from_ip)
    if upper in ("POP3", "IMAP"):
        return HopKind.FETCH
    if filter_product or upper == "SPAM-SCANNED":
        return HopKind.FILTER
    if upper in LMTP_PROTOCOLS:
        return HopKind.LMTP
    if protocol in INTERNAL_PROTOCOLS:
        return HopKind.INTERNAL
    if loopback:
        return HopKind.FILTER
    preamble = clauses[""][1] if "" in clauses else ()
    if (
        not has_from
        or "from userid" in product
        or product.endswith("/submit")
        or upper.startswith("LOCAL")
        or any("invoked" in comment.lower() for comment in preamble)
        or (from_ip is None and (from_helo or "").lower() == "localhost")
        or (from_ip is None and any("[local]" in c.lower() for c in clauses["from"][1]))
    ):
        if not has_from and by_host is not None and ip_of(by_host) is not None:
            return HopKind.INTERNAL  # Google: `by 2002:a05:... with SMTP id ...`
        return HopKind.LOCAL
    if by_ip is not None and _loopback(by_ip) and "amavis" in product:
        return HopKind.FILTER
    return HopKind.NETWORK


def _loopback(ip: str | None) -> bool:
    if ip is None:
        return False
    return ip.startswith("127.") or ip == "::1" or ip.startswith("::ffff:127.")


def _strip_angle(text: str) -> str:
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    return text


def _join(tokens: list[Token]) -> str:
    return " ".join(f"({t})" if k == COMMENT else t for k, t in tokens)


# --------------------------------------------------------------------------- fast path
# The stamps nearly every MTA writes, in RFC 5321 order: `[(c)] [from H (c)*] [by H (c)*]
# [with P (c)* [tls C (c)*]] [id I (c)*] [via V [W]] [for A (c)*]; [Dow, ]D Mon YYYY HH:MM:SS
# +hhmm [(ZONE)]`, one word per clause value (or `with Microsoft SMTP Server`), comments nested
# at most one level, no quotes or backslashes. One match yields the clauses `segment` would find
# and the date `parse_date` would read; `_direct` fills the `Hop` straight from the groups, as
# `_build` would from those clauses. Anything else (or a value word that is a keyword) takes the
# general path `_parse`.
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


def _parse_fast(value: str) -> Hop | None:
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


# What `_build` makes of a `_FAST_RE` match, without the clause dict: every clause has one value
# word (two for `via`, `Microsoft SMTP Server` for `with`), so nothing is left unparsed and no
# warning arises, and a comment matters only when it names TLS, an envelope sender, a product or
# (after `from`/`by`) an address. The general `_build` stays the reference: the tests compare.
_TLS_HINTS: Final = ("tls", "cipher", "ssl", "google")
_NOT_PRODUCT: Final = ("authenticated", "from ")
_ENVELOPE: Final = ("envelope-from", "envelope-sender")
_FROM_COMMENTS: Final = operator.itemgetter(2, 3, 4, 5)


@functools.lru_cache(maxsize=1024)  # a handful of protocol words recur
def _protocol_of(words: tuple[str, ...]) -> tuple[str | None, TlsInfo | None]:
    return protocol((list(words), []))


@functools.lru_cache(maxsize=4096)  # product comments recur; address comments are cheap misses
def _by_comment(comment: str) -> tuple[str | None, str | None]:
    """(address, product candidate) of a `by` comment, as `_build` reads them."""
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
            note = (None, _strip_angle(comment.split(None, 1)[-1]), False)
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
    implies, whether it is plain, whether authenticated, `_static_kind` with and without
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
        _static_kind(with_protocol, by_product, True, None),
        _static_kind(with_protocol, by_product, False, None),
    )
    return static


_new = object.__new__
_set = object.__setattr__


def _direct(
    value: str, g: tuple[str | None, ...], date: dt.datetime, date_raw: str, flags: list[str]
) -> Hop:
    """The `Hop` `_build` would make from the clauses of these groups (the tests compare);
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
                envelope_from = _strip_angle(c.split(None, 1)[-1])
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
        kind = _static_kind(with_protocol, by_product, from_word is not None, g[0])
    else:
        kind = kind_no_from if from_word is None else kind_from
    if kind is None or kind is _LOCAL:
        if from_ip is not None and _loopback(from_ip):
            kind = _FILTER
        elif kind is _LOCAL:
            if from_word is None and by_host is not None and ip_of(by_host) is not None:
                kind = _INTERNAL  # Google: `by 2002:a05:... with SMTP id ...`
        elif from_ip is None and (
            (from_helo or "").lower() == "localhost"
            or any("[local]" in c.lower() for c in from_comments)
        ):
            kind = _LOCAL
        else:
            kind = _NETWORK
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
        fields["id"] = _strip_angle(g[18])
    if g[23] is not None:
        fields["for_addr"] = _strip_angle(g[23])
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
_FILTER: Final = HopKind.FILTER
_INTERNAL: Final = HopKind.INTERNAL
_NETWORK: Final = HopKind.NETWORK


@functools.lru_cache(maxsize=1024)  # protocols and products recur: a handful per mailbox
def _static_kind(
    protocol: str | None, by_product: str | None, has_from: bool, preamble: str | None
) -> HopKind | None:
    """What `_kind` decides before looking at the sender's address and HELO name.

    LOCAL and None still depend on them: a loopback sender makes a filter loop, and LOCAL turns
    INTERNAL for Google's address-named `by`; None is NETWORK unless the sender is local.
    """
    product = (by_product or "").lower()
    upper = (protocol or "").upper()
    if upper in ("POP3", "IMAP"):
        return HopKind.FETCH
    if "amavis" in product or "spamassassin" in product or "spamd" in product:
        return HopKind.FILTER
    if upper == "SPAM-SCANNED":
        return HopKind.FILTER
    if upper in LMTP_PROTOCOLS:
        return HopKind.LMTP
    if protocol in INTERNAL_PROTOCOLS:
        return HopKind.INTERNAL
    if (
        not has_from
        or "from userid" in product
        or product.endswith("/submit")
        or upper.startswith("LOCAL")
        or (preamble is not None and "invoked" in preamble.lower())
    ):
        return HopKind.LOCAL
    return None
