"""Field extraction for Received stamps: TCP-info, TLS details, protocol names (pure).

The shapes handled are the ones docs/research/received.md (sections 2.1-2.5) documents: Postfix
`from HELO (rdns [ip])`, Exim `(... helo=x)`, qmail `(HELO x) (ident@ip)`, Exchange `(ip)`
without brackets; TLS in Postfix/Sendmail/Google/Exchange/Exim comments, the RFC 8314 `tls`
clause, IronPort's `ESMTP/TLS/cipher` and MessageLabs' `cipher encrypted SMTP`.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from typing import Final

from probe.analyze.received.dates import first_date
from probe.analyze.received.lexer import Clause
from probe.model.trace import TlsInfo

TLS_PROTOCOLS: Final = frozenset(
    "ESMTPS ESMTPSA LMTPS LMTPSA UTF8SMTPS UTF8SMTPSA UTF8LMTPS UTF8LMTPSA SMTPS HTTPS".split()
)
PLAIN_PROTOCOLS: Final = frozenset(
    "SMTP ESMTP ESMTPA LMTP LMTPA UTF8SMTP UTF8SMTPA UTF8LMTP UTF8LMTPA ASMTP HTTP".split()
)
AUTH_PROTOCOLS: Final = frozenset(
    "ESMTPA ESMTPSA LMTPA LMTPSA UTF8SMTPA UTF8SMTPSA UTF8LMTPA UTF8LMTPSA ASMTP".split()
)
_OTHER_PROTOCOLS: Final = {
    p.upper(): p for p in "HTTPREST IMAP POP3 QMQP NNFMP UUCP local mapi".split()
}
LMTP_PROTOCOLS: Final = frozenset(p for p in TLS_PROTOCOLS | PLAIN_PROTOCOLS if "LMTP" in p)
INTERNAL_PROTOCOLS: Final = frozenset(("HTTP", "HTTPS", "HTTPREST", "mapi", "NNFMP"))

_IPV4_RE: Final = re.compile(
    r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
)
_IPV6_CHARS_RE: Final = re.compile(r"^[0-9A-Fa-f:.]+$")
# 1-4 hex digits per group, at most one `::`, no embedded IPv4 (group count checked apart)
_IPV6_PLAIN_RE: Final = re.compile(
    r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?:::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?)?\Z"
)
_POSTFIX_TLS_RE: Final = re.compile(r"using (\S+) with cipher (\S+)(?: \((\d+)/\d+ bits\))?")
_KV_VERSION_RE: Final = re.compile(r"version=([^\s,;)]+)")
_KV_CIPHER_RE: Final = re.compile(r"cipher=([^\s,;)]+)")
_KV_BITS_RE: Final = re.compile(r"bits=(\d+)")
_COURIER_TLS_RE: Final = re.compile(
    r"\bTLS: ((?:TLS|SSL)v?[\d.]+(?:/SSLv\d)?), ?(\d+)bits, ?([\w-]+)"
)
_CHASQUID_TLS_RE: Final = re.compile(r"\bTLS-(1\.\d)(?:-([A-Z0-9_]+))?")
_ENCRYPTED_RE: Final = re.compile(r"^([A-Z0-9][A-Z0-9_-]+) encrypted$")
# Exim: (TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256) with OpenSSL, (TLS-1.0:DHE_RSA_AES_256:32) or
# (tls_cipher TLS-1.0:...) with GnuTLS
_EXIM_TLS_RE: Final = re.compile(
    r"^(?:Cipher |tls_cipher )?((?:TLS|SSL)[-v]?[\d._]*)(?::([\w-]+)(?::(\d+))?)?$"
)
_HELO_WORDS: Final = frozenset(("helo", "ehlo", "lhlo", "hello"))
# Words MTAs write where a reverse name would stand, which name no host: Sendmail's `may be
# forged`, MDaemon/Merak's `softdnserr`, CommuniGate's `verified`/`unverified`, `unknown`
_NOT_NAMES: Final = frozenset(
    ("unknown", "softdnserr", "verified", "unverified", "may", "be", "forged", "not", "dns")
)
_HOST_NAME_RE: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")
_IP_START: Final = frozenset("[:0123456789abcdefABCDEF")


def date_without_semicolon(
    clauses: dict[str, Clause], flags: list[str]
) -> tuple[dt.datetime | None, str | None]:
    """No top-level `;`: look for a date at the end of the last clause (SendGrid, PowerMTA)."""
    if not clauses:
        return None, None
    name = next(reversed(clauses))
    words, comments = clauses[name]
    found = first_date(words, 0 if name == "" else 1, comments)
    if found is None:
        flags.append("no-date")
        return None, None
    i, date, date_flags = found
    raw = " ".join(words[i:])
    del words[i:]
    flags.append("no-semicolon")
    flags.extend(date_flags)
    return date, raw


def from_clause(
    clause: Clause | None, flags: list[str], unparsed: list[str], *, names_rdns: bool = False
) -> tuple[str | None, str | None, str | None, bool]:
    """(helo, rdns, ip, authenticated) from the `from` clause and its TCP-info comments.

    `names_rdns`: the stamp is Exim's or qmail's (`names_rdns_hint`), whose `from NAME ([ip])`
    and `from NAME (ip)` name the reverse name and leave out the HELO name when it is the same
    (Sendmail's `from NAME ([ip])` is a HELO with no reverse name, chasquid's `from NAME (ip)`
    too); CommuniGate's `from NAME ([ip] verified)` says so itself.
    """
    if clause is None:
        return None, None, None, False
    words, comments = clause
    first = words[0] if words else None
    bare_first_ip = first is not None and not first.startswith("[") and ip_of(first) is not None
    ip: str | None = None
    for word in words[1:]:
        if ip_of(word) is None:
            unparsed.append(word)
    rdns: str | None = None
    helo: str | None = None
    authenticated = False
    same_as_rdns = False  # the comment says the name is the verified reverse name
    for comment in comments:
        low = comment.lower()
        if low.startswith(("authenticated", "auth:", "account ")):
            authenticated = True
            if not low.startswith("account "):  # CommuniGate: `(account u HELO [x])`
                continue
        if low.startswith(("using ", "no client", "client ", "version=", "envelope-")):
            continue
        if "may be forged" in low:
            flags.append("may-be-forged")
        cwords = [
            part
            for w in comment.replace("[", " [").split()
            if not w.startswith("(") and (part := w.strip('"?,'))
        ]
        got_ip, got_rdns, got_helo = _tcp_info(cwords)
        if got_helo is not None and helo is None:
            helo = got_helo
        if got_ip is not None and ip is None:
            ip = got_ip
            if got_rdns is not None:
                rdns = got_rdns
            lone = [w for w in cwords if w.lower() != "verified"]
            verified = len(lone) < len(cwords)
            same_as_rdns = len(lone) == 1 and (names_rdns or verified)
    if ip is None:  # no TCP-info: `from [192.0.2.1] by`, Exim `from host [192.0.2.1]`
        ip = first_ip(words)
    named = first is not None and ip_of(first) is None
    if (
        ip is None and rdns is None
    ):  # `from HELO (rdns)` (LSMTP, SMTPRS), OpenSMTPD `(rdns [local])`
        rdns = _name_only(comments)
    if helo is None and named and same_as_rdns and rdns is None:
        helo = rdns = first  # Exim `from rdns ([ip])`, qmail `from rdns (ip)`: HELO the same
    elif helo is None:  # Postfix/Sendmail/Exchange: `from HELO (rdns [ip])`
        # a bare address as the first word is where the client came from, not a HELO name
        # (webmail `from 37.5.238.154 by www with HTTP`, qmail-scanner `from 1.2.3.4 by`)
        helo = None if bare_first_ip else first
    elif named and rdns is None:
        rdns = first  # Exim/qmail: `from rdns ([ip] helo=x)`, `from rdns (HELO x) (ip)`
    if rdns is not None:
        rdns = rdns.rstrip(".")
        if rdns.lower() in _NOT_NAMES or not _HOST_NAME_RE.fullmatch(rdns):
            rdns = None
    return helo, rdns, ip, authenticated


def _tcp_info(words: list[str]) -> tuple[str | None, str | None, str | None]:
    """(ip, rdns, helo) from the words of one comment."""
    ip = rdns = helo = None
    previous: str | None = None
    skip = False
    for k, word in enumerate(words):
        if skip:
            skip = False
            continue
        low = word.lower()
        if low.startswith("helo="):
            helo = word[5:] or None
        elif low in _HELO_WORDS:
            if k + 1 < len(words):
                helo = words[k + 1] or None
                skip = True
        elif "=" in word:
            pass
        else:
            candidate = ip_of(word.rpartition("@")[2])
            if candidate is not None:
                if ip is None:
                    ip = candidate
                    rdns = previous
            elif word.endswith("@"):
                pass  # qmail's ident before the address: `(kgbxn@[211.244.147.115])`
            elif low in _NOT_NAMES:
                previous = None
            else:
                previous = word.rpartition("@")[2] if low.startswith("ident:") else word
    return ip, rdns, helo


def first_ip(words: list[str]) -> str | None:
    for word in words:
        ip = ip_of(word)
        if ip is not None:
            return ip
    return None


def ip_of(word: str) -> str | None:
    """The address in `[1.2.3.4]`, `[IPv6:x]`, `[x%6]`, `1.2.3.4:25`, `2001:db8::1`, or None."""
    if word[:1] not in _IP_START:  # a host name: no address starts with another character
        return None
    if word.startswith("["):
        inner = word[1:].partition("]")[0]
        if inner[:5].lower() == "ipv6:":
            inner = inner[5:]
    else:
        inner = word.rstrip(",;")
    if inner.count(":") == 1:  # 192.0.2.1:25
        inner = inner.partition(":")[0]
    elif word.startswith("[") and inner.count(".") == 4 and ":" not in inner:
        inner = inner.rpartition(".")[0]  # Exim 3 wrote the port after the address: [a.b.c.d.port]
    inner = inner.partition("%")[0]
    if _IPV4_RE.match(inner):
        return inner
    if ":" in inner and _IPV6_CHARS_RE.match(inner):
        if _IPV6_PLAIN_RE.match(inner):  # hex groups, at most one `::`: count them
            groups = inner.split(":")
            if len(groups) == 8 if "::" not in inner else len(groups) - groups.count("") < 8:
                return inner.lower()
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            return None
        return inner.lower()
    return None


@functools.lru_cache(maxsize=4096)  # the same TLS comments recur from the same MTAs
def tls_from_comment(comment: str) -> TlsInfo | None:
    low = comment.lower()
    if "tls" not in low and "cipher" not in low and "ssl" not in low:
        if low.strip() == "google transport security":
            return TlsInfo(source="comment")
        if low.rstrip().endswith(" encrypted"):
            m = _ENCRYPTED_RE.match(comment.strip())
            return TlsInfo(cipher=m.group(1), source="comment") if m else None
        return None
    m = _POSTFIX_TLS_RE.search(comment)
    if m is not None:
        bits = int(m.group(3)) if m.group(3) else None
        return TlsInfo(version=m.group(1), cipher=m.group(2), bits=bits, source="comment")
    version = _KV_VERSION_RE.search(comment)
    cipher = _KV_CIPHER_RE.search(comment)
    if version is not None or cipher is not None:
        bits_m = _KV_BITS_RE.search(comment)
        return TlsInfo(
            version=version.group(1) if version else None,
            cipher=cipher.group(1) if cipher else None,
            bits=int(bits_m.group(1)) if bits_m else None,
            source="comment",
        )
    m = _COURIER_TLS_RE.search(comment)  # Courier: (TLS: TLSv1.3,256bits,CIPHER), (AUTH: .., TLS:
    if m is not None:
        return TlsInfo(
            version=m.group(1), cipher=m.group(3), bits=int(m.group(2)), source="comment"
        )
    m = _CHASQUID_TLS_RE.search(comment)  # chasquid: (over TLS-1.3-CIPHER), (over SMTP, TLS-1.3,
    if m is not None and low.startswith("over "):
        return TlsInfo(version="TLSv" + m.group(1), cipher=m.group(2), source="comment")
    m = _ENCRYPTED_RE.match(comment.strip())  # qpsmtpd: with (CIPHER encrypted) ESMTPS
    if m is not None:
        return TlsInfo(cipher=m.group(1), source="comment")
    m = _EXIM_TLS_RE.match(comment.strip())
    if m is not None:
        return TlsInfo(
            version=m.group(1),
            cipher=m.group(2),
            bits=int(m.group(3)) if m.group(3) else None,
            source="comment",
        )
    return None


def protocol(clause: Clause | None) -> tuple[str | None, TlsInfo | None]:
    """Normalized `with` protocol, and TLS named inside it (IronPort, MessageLabs)."""
    if clause is None or not clause[0]:
        return None, None
    words = [w.rstrip(",") for w in clause[0] if w.strip(",")]
    if not words:
        return None, None
    first = words[0]
    if "/" in first:  # IronPort: ESMTP/TLS/ECDHE-RSA-AES128-GCM-SHA256
        parts = first.split("/")
        if len(parts) >= 3 and parts[1].upper() == "TLS":
            return _canonical(parts[0]), TlsInfo(cipher=parts[2], source="with")
    if len(words) >= 3 and words[1].lower() == "encrypted":  # MessageLabs: CIPHER encrypted SMTP
        return _canonical(words[2]), TlsInfo(cipher=first, source="with")
    if len(words) == 1:
        return _canonical(first), None
    return " ".join(words), None


def _canonical(name: str) -> str:
    upper = name.upper()
    if upper in TLS_PROTOCOLS or upper in PLAIN_PROTOCOLS:
        return upper
    return _OTHER_PROTOCOLS.get(upper, name)


def strip_angle(text: str) -> str:
    """`<a@b>` -> `a@b`; anything else stripped of blanks only."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    return text


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1" or ip.startswith("::ffff:127.")


def names_rdns_hint(
    value: str, clause: Clause | None, by_comments: list[str], protocol_word: str | None
) -> bool:
    """Whether the stamp's MTA writes the reverse name first: Exim (its product comment, or its
    lower-case `with esmtp`), or qmail (the address without brackets, no comment after `by`,
    and qmail's date, which always ends in `-0000`; Exchange's `(ip)` comes with `Microsoft SMTP
    Server`)."""
    if any(c.strip().lower().startswith("exim") for c in by_comments):
        return True
    if protocol_word is not None and protocol_word.islower() and "smtp" in protocol_word:
        return True
    if clause is None or by_comments or not value.rstrip().endswith("-0000"):
        return False
    return any(ip_of(c.strip()) is not None and not c.strip().startswith("[") for c in clause[1])


_ANGLE_ADDR_RE: Final = re.compile(r"<([^<>\s]*)>")
_QUOTED_SENDER_RE: Final = re.compile(r'envelope from "([^"]*)"', re.I)


def envelope_sender(comment: str) -> str | None:
    """The envelope sender a comment names: Exim `(envelope-from <a@b>)`, qmail-scanner
    `(envelope-from <a@b>, uid 502)`, qmail-ldap `(envelope-sender <a@b>)`, chasquid
    `(envelope from "a@b")`; None when it names none."""
    if "nvelope" not in comment:  # most comments: no sender at all, decided at C speed
        return None
    low = comment.lstrip().lower()
    if low.startswith(("envelope-from", "envelope-sender")):
        rest = comment.split(None, 1)[-1] if " " in comment.strip() else ""
        angle = _ANGLE_ADDR_RE.search(rest)
        return angle.group(1) if angle else strip_angle(rest.split(",")[0])
    quoted = _QUOTED_SENDER_RE.search(comment)
    return quoted.group(1) if quoted else None


def _name_only(comments: list[str]) -> str | None:
    """The reverse name of a TCP-info comment that holds a host name and no address."""
    for comment in comments:
        words = [w for w in comment.split() if w.lower() != "[local]"]
        if len(words) == 1 and "." in words[0] and "@" not in words[0]:
            word = words[0].strip("<>")
            if _HOST_NAME_RE.fullmatch(word) and ip_of(word) is None:
                return word
    return None
