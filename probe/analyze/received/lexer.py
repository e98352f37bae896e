"""Lexer and lenient date parser for Received header values (pure).

Real stamps break the RFC 5321 grammar (see research/received.md): keywords appear inside
comments (`with cipher`, `(from user@localhost)`), semicolons inside comments
(`(ORCPT <rfc822;x@y>)`), dates with fractional seconds, Go time format or no `;` at all. So the
value is tokenized once into top-level words, comments and semicolons; only top-level words can be
keywords, and the date is what follows the last top-level `;`.

The fast path is one precompiled regex (comments nested up to three levels, possessive
quantifiers, so no backtracking blow-up); anything it cannot take (deeper nesting, an unclosed
comment, a stray backslash) goes through a character loop that accepts every input.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

# Token kinds. A token is (kind, text); comment text is the inner content without the outer
# parentheses, nested comments kept as written.
WORD: Final = "w"
COMMENT: Final = "c"
SEMI: Final = ";"

Token = tuple[str, str]

MAX_VALUE = 16_384  # longer values are parsed up to here; the raw value is kept whole

_Q = r'"(?:[^"\\]++|\\.)*+"'
_C1 = r"\((?:[^()\\]++|\\.)*+\)"
_C2 = rf'\((?:[^()\\"]++|\\.|{_Q}|"|{_C1})*+\)'
_C3 = rf'\((?:[^()\\"]++|\\.|{_Q}|"|{_C2})*+\)'
_ANGLE = r"<(?:[^<>;()]++|<[^<>;()]*+>)*+>"
_TOKEN_RE = re.compile(
    rf'[ \t\r\n]*+(?:({_C3})|(;)|((?:{_Q}|{_ANGLE}|[^\s();"<]++|["<])++)|([()]))',
    re.S,
)


Clause = tuple[list[str], list[str]]  # words, comments (inner text)

KEYWORDS: Final = frozenset(
    ("from", "by", "via", "with", "id", "for", "tls", "envelope-from", "envelope-sender")
)
_NEEDS_VALUE: Final = frozenset(("from", "by", "id", "for"))
_SPLIT_RE = re.compile(f"({_C3})", re.S)


def segment(value: str) -> tuple[dict[str, Clause], list[Token] | None, int, bool, list[str]]:
    """Clauses of a Received value, keyed by keyword ("" for text before any keyword).

    Returns (clauses, tokens after the last top-level `;` or None without one, number of
    top-level `;`, whether a comment was unclosed, repeated keywords). Keywords count only as
    whole words outside comments; the first occurrence wins and a repeated one opens a clause
    keyed `<keyword>#` (IBM's `for <x> from <y>`), except `with` inside `with` (free text).

    The common case is one C-level split on comments plus one keyword scan per text piece;
    quoted strings, deep nesting or unclosed comments go through `tokenize` instead.
    """
    if len(value) > MAX_VALUE:
        value = value[:MAX_VALUE]
    pieces = _SPLIT_RE.split(value)
    unclosed = False
    text = "".join(pieces[::2])  # outside comments
    if '"' in value or "(" in text:
        pieces, unclosed = _pieces_from_tokens(value)
        text = "".join(pieces[::2])
    semis = text.count(";")
    tail: list[Token] | None = None
    if semis:
        i = len(pieces) - 1 if len(pieces) % 2 else len(pieces) - 2
        while ";" not in pieces[i]:
            i -= 2
        cut = pieces[i].rfind(";")
        tail = [(WORD, w) for w in pieces[i][cut + 1 :].split()]
        for j in range(i + 1, len(pieces)):
            if j % 2:
                tail.append((COMMENT, pieces[j][1:-1]))
            else:
                tail.extend((WORD, w) for w in pieces[j].split())
        pieces = pieces[:i] + [pieces[i][:cut]]
        if semis > 1:
            pieces = [p if j % 2 else p.replace(";", " ") for j, p in enumerate(pieces)]
    clauses, repeated = _clauses(pieces)
    return clauses, tail, semis, unclosed, repeated


def _clauses(pieces: list[str]) -> tuple[dict[str, Clause], list[str]]:
    current: Clause = ([], [])
    clauses: dict[str, Clause] = {"": current}
    repeated: list[str] = []
    name = ""
    for j, piece in enumerate(pieces):
        if j % 2:
            current[1].append(piece[1:-1])
            continue
        words = current[0]
        for word in piece.split():
            low = word.lower()
            if low not in KEYWORDS or (name in _NEEDS_VALUE and not words and not current[1]):
                words.append(word)  # `by id.example`: right after a keyword, a value
            elif low not in clauses:
                name = low
                current = ([], [])
                words = current[0]
                clauses[name] = current
            elif low == name == "with":
                words.append(word)
            else:
                repeated.append(low)
                name = low + "#"
                current = clauses.setdefault(name, ([], []))
                words = current[0]
                words.append(word)
    return clauses, repeated


def _pieces_from_tokens(value: str) -> tuple[list[str], bool]:
    """The slow path: tokens regrouped as alternating text and "(comment)" pieces."""
    tokens, unclosed = tokenize(value)
    pieces: list[str] = []
    text: list[str] = []
    for kind, token in tokens:
        if kind == COMMENT:
            pieces.append(" ".join(text))
            pieces.append(f"({token})")
            text = []
        else:
            text.append(token)
    pieces.append(" ".join(text))
    return pieces, unclosed


def tokenize(value: str) -> tuple[list[Token], bool]:
    """Top-level tokens of a (folded or unfolded) header value, and whether a comment was unclosed.

    Never raises; every character of the input ends up in some token (whitespace aside).
    """
    if len(value) > MAX_VALUE:
        value = value[:MAX_VALUE]
    tokens: list[Token] = []
    append = tokens.append
    for comment, semi, word, _stray in _TOKEN_RE.findall(value):
        if comment:
            append((COMMENT, comment[1:-1]))
        elif word:
            append((WORD, word))
        elif semi:
            append((SEMI, ";"))
        else:
            return _tokenize_slow(value)
    return tokens, False


def _tokenize_slow(value: str) -> tuple[list[Token], bool]:
    """Character loop for what the regex cannot take: any nesting depth, unclosed comments."""
    tokens: list[Token] = []
    buf: list[str] = []
    i, n = 0, len(value)

    def flush() -> None:
        if buf:
            tokens.append((WORD, "".join(buf)))
            buf.clear()

    while i < n:
        ch = value[i]
        if ch in " \t\r\n":
            flush()
            i += 1
        elif ch == ";":
            flush()
            tokens.append((SEMI, ";"))
            i += 1
        elif ch == "(":
            flush()
            depth, j = 1, i + 1
            while j < n and depth:
                cj = value[j]
                if cj == "\\":
                    j += 1
                elif cj == "(":
                    depth += 1
                elif cj == ")":
                    depth -= 1
                j += 1
            if depth:  # unclosed: the rest is the comment, and the caller flags it
                tokens.append((COMMENT, value[i + 1 :]))
                return tokens, True
            tokens.append((COMMENT, value[i + 1 : j - 1]))
            i = j
        elif ch == '"':
            end = _closing_quote(value, i)
            buf.append(value[i:end])
            i = end
        else:  # a stray ")" is kept as (part of) a word
            buf.append(ch)
            i += 1
    flush()
    return tokens, False


def _closing_quote(value: str, start: int) -> int:
    """Index after the quoted string opening at `start`, or start+1 when it never closes."""
    j, n = start + 1, len(value)
    while j < n:
        if value[j] == "\\":
            j += 2
            continue
        if value[j] == '"':
            return j + 1
        j += 1
    return start + 1


# --------------------------------------------------------------------------- dates

_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# RFC 5322 4.3 obsolete zones, in minutes east of UTC.
_NAMED_ZONES: Final = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
}
_RFC_DATE_RE = re.compile(
    r"(?<![\d:])0?(\d{1,2})[ -]?([A-Za-z]{3})[A-Za-z]*\.?[ -]?(\d{2,4}),? +"
    r"(\d{1,2}):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
    r"(?: *([+-]\d\d:?\d\d|[A-Za-z]{1,5}(?![A-Za-z])))?"
)
_ISO_DATE_RE = re.compile(
    r"(?<!\d)(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?"
    r"(?: *([+-]\d\d:?\d\d|Z\b|UTC\b|GMT\b))?"
)
# The shape nearly every modern MTA writes: [Day, ]DD Mon YYYY HH:MM:SS +hhmm
_FAST_DATE_RE = re.compile(
    r"(?:[A-Z][a-z]{2}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-][01]\d[0-5]\d)$"
)
_FAST_OFFSETS: dict[str, dt.timedelta] = {}
_ASCTIME_RE = re.compile(r"([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})")
_ZONE_COMMENT_RE = re.compile(r"^\s*([A-Za-z]{1,5}|[+-]\d\d:?\d\d)\s*$")
_DAY_START_RE = re.compile(r"^(?:[A-Za-z]{3},?|\d{1,2}|\d{4}-\d\d-\d\d)$")

_UTC = dt.UTC


def date_start(word: str) -> bool:
    """Whether a word can begin a date (a weekday, a day number, an ISO date)."""
    return _DAY_START_RE.match(word) is not None


def parse_date(words: list[str], comments: list[str]) -> tuple[dt.datetime | None, tuple[str, ...]]:
    """A lenient date: (UTC datetime or None, flags describing what was odd about it).

    Accepts RFC 5322 dates with or without weekday and seconds, fractional seconds, 2- and
    3-digit years, numeric and obsolete named zones, a zone given only as a comment (`(PST)`),
    ISO and Go `time.String()` forms (`2023-09-05 11:09:38.19 +0000 UTC m=+1.2`), and junk
    before the date. Impossible values give None instead of a made-up date.
    """
    text = " ".join(words)
    fast = _FAST_DATE_RE.match(text)
    if fast is not None:
        date = fast_date(*fast.groups())
        if date is not None:
            return date, ()
    flags: list[str] = []
    m = _RFC_DATE_RE.search(text)
    if m is not None:
        day_s, mon_s, year_s, hh, mm, ss, frac, zone = m.groups()
        month = _MONTHS.get(mon_s.lower())
        if month is None:
            return None, ("date-unparsed",)
        year = int(year_s)
        if len(year_s) < 4:
            flags.append("two-digit-year")
            year += 1900 if len(year_s) == 3 or year >= 50 else 2000
    elif (m := _ISO_DATE_RE.search(text)) is not None:
        year_s, mon_s, day_s, hh, mm, ss, frac, zone = m.groups()
        month = int(mon_s)
        year = int(year_s)
        flags.append("iso-date")
    elif (m := _ASCTIME_RE.search(text)) is not None:  # Sun Nov 13 14:50:12 2005
        mon_s, day_s, hh, mm, ss, year_s = m.groups()
        month = _MONTHS.get(mon_s.lower(), 0)
        year = int(year_s)
        frac = zone = None
        flags.append("asctime-date")
    else:
        return None, ("date-unparsed",)
    if m.start() and not text[: m.start()].rstrip(" ,").isalpha():
        flags.append("junk-before-date")
    if ss is None:
        flags.append("no-seconds")
        second = 0
    else:
        second = int(ss)
        if second == 60:  # a leap second
            second = 59
    micro = 0
    if frac:
        flags.append("fractional-seconds")
        micro = int((frac + "000000")[:6])
    offset = _zone_offset(zone, comments, flags)
    try:
        local = dt.datetime(year, month, int(day_s), int(hh), int(mm), second, micro, _UTC)
    except ValueError:
        return None, ("date-unparsed",)
    return local - dt.timedelta(minutes=offset), tuple(flags)


def fast_date(
    day: str, month: str, year: str, hh: str, mm: str, ss: str, zone: str
) -> dt.datetime | None:
    """`D Mon YYYY HH:MM:SS +hhmm` in UTC without flags, or None: let `parse_date` look closer."""
    number = _MONTHS.get(month.lower())
    if number is None or zone == "-0000":
        return None
    delta = _FAST_OFFSETS.get(zone)
    if delta is None:
        delta = _FAST_OFFSETS[zone] = dt.timedelta(minutes=_zone_offset(zone, [], []))
    try:
        return dt.datetime(int(year), number, int(day), int(hh), int(mm), int(ss), 0, _UTC) - delta
    except ValueError:
        return None


def _zone_offset(zone: str | None, comments: list[str], flags: list[str]) -> int:
    """Minutes east of UTC; unknown zones count as UTC and are flagged."""
    if zone is None:
        for comment in comments:
            cm = _ZONE_COMMENT_RE.match(comment)
            if cm is not None:
                zone = cm.group(1)
                flags.append("zone-from-comment")
                break
        else:
            flags.append("no-zone")
            return 0
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 14 or minutes > 59:
            flags.append("bad-zone")
            return 0
        if zone == "-0000":
            flags.append("zone-unknown")
        sign = -1 if zone[0] == "-" else 1
        return sign * (hours * 60 + minutes)
    upper = zone.upper()
    if upper in _NAMED_ZONES:
        if upper not in ("UTC", "GMT", "UT", "Z"):
            flags.append("named-zone")
        return _NAMED_ZONES[upper]
    flags.append("zone-unknown")
    return 0
