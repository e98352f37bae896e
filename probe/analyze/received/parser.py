"""One Received header -> one `Hop`, for any stamp (pure).

Clauses are found on the top-level tokens of `received_tokens.tokenize`: `from`, `by`, `via`,
`with`, `id`, `for` (and `tls`, RFC 8314; `envelope-from`, Haraka/ecelerity) are keywords only as
whole words outside comments, in any order; the first `from` wins. The date is what follows the
last top-level `;` (or, with no `;`, a date-like run at the end). The TCP-info comment of `from`
gives the reverse name and the address, in the shapes Postfix, Sendmail, Exim, qmail and Exchange
write. TLS details come from wherever the MTA put them (docs/research/received.md, section 2.5).
Anything not understood is kept in `unparsed` and flagged, never dropped. What kind of hop a
stamp records is decided in `static_kind` (what the MTA's configuration says) and `settle_kind`
(the sender).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Final

from probe.analyze.received.dates import parse_date
from probe.analyze.received.fields import (
    AUTH_PROTOCOLS,
    INTERNAL_PROTOCOLS,
    LMTP_PROTOCOLS,
    PLAIN_PROTOCOLS,
    TLS_PROTOCOLS,
    date_without_semicolon,
    envelope_sender,
    first_ip,
    from_clause,
    ip_of,
    is_loopback,
    names_rdns_hint,
    protocol,
    strip_angle,
    tls_from_comment,
)
from probe.analyze.received.lexer import COMMENT, WORD, Clause, Token, parsed_length, segment
from probe.model.trace import Hop, HopKind, ParseStatus, TlsInfo

_OVER_TLS: Final = ["over", "tls", "secured", "channel"]


def parse_general(value: str) -> Hop:
    """Any stamp: clauses from the tokens, the date after the last `;` (or at the end)."""
    warnings: list[str] = []
    raw = value
    read = parsed_length(raw)
    if "\x00" in value:  # read as if absent, as mail readers show it, and said so
        value = raw[:read].replace("\x00", "")
        warnings.append("NUL bytes in the value, read without them")
    clauses, tail, semis, unclosed, repeated = segment(value)
    _from_in_preamble(clauses)
    flags: list[str] = []
    warnings += [f"repeated '{word}' clause" for word in repeated]
    unparsed: list[str] = []
    if unclosed and read == len(raw):  # a comment the cut left open is the cut's doing
        warnings.append("unclosed comment")
    if semis > 1:
        flags.append("several-semicolons")
    if read < len(raw):
        flags.append("truncated")
        warnings.append(f"only the first {read:,} of {len(raw):,} characters read")

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
    _after_date(clauses, [t for k, t in tail or () if k == WORD])
    hop = _build(value, clauses, tail_comments, date, date_raw, flags, warnings, unparsed)
    return hop if raw is value else dataclasses.replace(hop, raw=raw)


def _from_in_preamble(clauses: dict[str, Clause]) -> None:
    """Symantec NAVGW's `(from KRYPTIK [70.20.57.51]) by ...`: the sender in a comment before
    any keyword is the `from` clause (not a local pickup, and its address kept)."""
    if "from" in clauses or "" not in clauses:
        return
    comments = clauses[""][1]
    for i, comment in enumerate(comments):
        words = comment.split()
        # a host and its address; Sendmail's `(from user@localhost)` names a local user
        if (
            len(words) >= 3
            and words[0].lower() == "from"
            and "@" not in words[1]
            and first_ip(words[2:]) is not None
        ):
            del comments[i]
            found: dict[str, Clause] = {"from": ([words[1]], [" ".join(words[2:])])}
            rest = {k: v for k, v in clauses.items() if k != ""}
            preamble = clauses[""]
            clauses.clear()
            clauses.update({"": preamble, **found, **rest})
            return


def _after_date(clauses: dict[str, Clause], words: list[str]) -> None:
    """`id` and `for` written after the date (`...; Fri, 14 Sep 2018 14:36:56 +0200 id 123 for
    <b@example.org>`, some Lotus Domino and in-house MTAs): taken where the stamp has none."""
    if len(words) <= 6:  # a date alone: `Fri, 14 Sep 2018 14:36:56 +0200`
        return
    for i, word in enumerate(words[:-1]):
        key = word.lower()
        if key in ("id", "for") and key not in clauses:
            clauses[key] = ([words[i + 1].rstrip(";,")], [])


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
    """Every field but the date, from the clauses."""
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
            sender = envelope_sender(comment)
            if sender is not None:
                envelope_from = envelope_from or sender
            elif name in ("with", "tls") and not low.startswith(("authenticated", "from ")):
                products.append(comment)
        if cwords and (name == "" or name.endswith("#")):
            unparsed.extend(cwords)
    for comment in tail_comments:
        envelope_from = envelope_from or envelope_sender(comment)

    by = clauses.get("by")
    with_clause = clauses.get("with")
    hint = names_rdns_hint(
        value,
        clauses.get("from"),
        by[1] if by is not None else [],
        with_clause[0][0] if with_clause and with_clause[0] else None,
    )
    from_helo, from_rdns, from_ip, authenticated = from_clause(
        clauses.get("from"), flags, unparsed, names_rdns=hint
    )
    by_host = by_ip = by_product = None
    if by is not None:
        by_words, by_comments = by
        by_host = by_words[0].rstrip(",") if by_words else None
        if len(by_words) > 1 and [w.lower() for w in by_words[1:]] != _OVER_TLS:
            unparsed.extend(by_words[1:])
        for comment in by_comments:
            ip = first_ip(comment.split())
            if comment.lower().startswith("authenticated"):
                authenticated = True  # Courier, Postfix smtpd_sasl_authenticated_header...
            elif ip is not None and by_ip is None:
                by_ip = ip
            elif (
                by_product is None
                and tls_from_comment(comment) is None
                and envelope_sender(comment) is None
                and not comment.lower().startswith("over ")
            ):
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
    if "(over plain text" in value:  # chasquid says so when there was no TLS
        encrypted = False
    elif tls is not None or "over TLS secured channel" in value:
        encrypted = True
    elif upper in PLAIN_PROTOCOLS or upper.startswith("MICROSOFT SMTP SERVER"):
        encrypted = False
    else:
        encrypted = None
    authenticated = authenticated or upper in AUTH_PROTOCOLS

    ident = None
    id_clause = clauses.get("id")
    if id_clause is not None and id_clause[0]:
        ident = strip_angle(id_clause[0][0])
        unparsed.extend(id_clause[0][1:])
    for_clause = clauses.get("for")
    for_addr = strip_angle(" ".join(for_clause[0])) if for_clause and for_clause[0] else None
    via_clause = clauses.get("via")
    via = " ".join(via_clause[0]) if via_clause and via_clause[0] else None
    if "envelope-from" in clauses or "envelope-sender" in clauses:
        env = clauses.get("envelope-from") or clauses["envelope-sender"]
        if env[0]:
            envelope_from = envelope_from or strip_angle(env[0][0])

    if with_protocol is None and via is not None and via.upper() in ("HTTP", "HTTPS"):
        with_protocol = via.upper()  # Yahoo webmail: `from [ip] by web28416... via HTTP`
    kind = _kind(clauses, with_protocol, from_ip, from_helo, by_host, by_product, date)
    if kind is HopKind.UNPARSED:
        status = ParseStatus.RAW
    elif unparsed or warnings:
        status = ParseStatus.PARTIAL
    else:
        status = ParseStatus.OK
    if unparsed:
        warnings.append("text not understood: " + " ".join(unparsed))
    return Hop(
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
    by_host: str | None,
    by_product: str | None,
    date: dt.datetime | None,
) -> HopKind:
    has_from = "from" in clauses
    if not has_from and by_host is None and date is None:
        return HopKind.UNPARSED
    preamble = tuple(clauses[""][1]) if "" in clauses else ()
    return settle_kind(
        static_kind(protocol, by_product, has_from, preamble),
        has_from,
        from_ip,
        from_helo,
        by_host,
        clauses["from"][1] if has_from else (),
    )


@functools.lru_cache(maxsize=1024)  # protocols and products recur: a handful per mailbox
def static_kind(
    protocol: str | None, by_product: str | None, has_from: bool, preamble: tuple[str, ...]
) -> HopKind | None:
    """What the kind is before looking at the sender's address and HELO name.

    LOCAL and None still depend on them (`settle_kind`): a loopback sender makes a filter loop,
    and LOCAL turns INTERNAL for Google's address-named `by`; None is NETWORK unless the sender
    is local.
    """
    product = (by_product or "").lower()
    upper = (protocol or "").upper()
    if upper in ("POP3", "IMAP"):
        return HopKind.FETCH
    if "amavis" in product or "spamassassin" in product or "spamd" in product:
        return HopKind.FILTER
    if upper == "SPAM-SCANNED" or upper.startswith("QMAIL-SCANNER"):
        return HopKind.FILTER  # a content filter handing the message on, on the same host
    if upper in LMTP_PROTOCOLS:
        return HopKind.LMTP
    if protocol in INTERNAL_PROTOCOLS:
        return HopKind.INTERNAL
    if (
        not has_from
        or "from userid" in product
        or product.endswith("/submit")
        or upper.startswith("LOCAL")
        or any("invoked" in comment.lower() for comment in preamble)
    ):
        return HopKind.LOCAL
    return None


def settle_kind(
    kind: HopKind | None,
    has_from: bool,
    from_ip: str | None,
    from_helo: str | None,
    by_host: str | None,
    from_comments: list[str] | tuple[str, ...],
) -> HopKind:
    """The kind, given `static_kind` and what the stamp says of its sender."""
    if kind is not None and kind is not HopKind.LOCAL:
        return kind
    if from_ip is not None and is_loopback(from_ip):
        return HopKind.FILTER
    if kind is HopKind.LOCAL:
        if not has_from and by_host is not None and ip_of(by_host) is not None:
            return HopKind.INTERNAL  # Google: `by 2002:a05:... with SMTP id ...`
        return HopKind.LOCAL
    if from_ip is None and (
        (from_helo or "").lower() == "localhost"
        or any("[local]" in comment.lower() for comment in from_comments)
    ):
        return HopKind.LOCAL
    return HopKind.NETWORK


def _join(tokens: list[Token]) -> str:
    return " ".join(f"({t})" if k == COMMENT else t for k, t in tokens)
