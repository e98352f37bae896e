"""Dates of Received stamps, read leniently (pure).

What follows the last `;` of a stamp, or with no `;` a date-like run at the end of its last
clause: RFC 5322 dates and what MTAs write instead (no seconds, two-digit years, named or
missing zones, ISO and Go time formats, asctime). One reading per text, linear in it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

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
# asctime, with the zone date(1) and old MTAs write before the year (`Fri Sep 14 14:36:56 EDT
# 2018`) or after it (`Fri Feb 07 10:18:12 2003 -0800`): a zone left unread is hours off
_ZONE = r"[+-]\d\d:?\d\d|[A-Za-z]{1,5}(?![A-Za-z])"
_ASCTIME_RE = re.compile(
    r"([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?: +(" + _ZONE + r"))? (\d{4})"
    r"(?: +(" + _ZONE + r"))?"
)
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
    before the date. Impossible values (or dates UTC cannot hold, as 1 Jan 0001 +0100) give
    None and the flag `date-unparsed` instead of a made-up date.
    """
    text = " ".join(words)
    fast = _FAST_DATE_RE.match(text)  # the common shape, without the searches' bookkeeping
    if fast is not None:
        date = fast_date(*fast.groups())
        if date is not None:
            return date, ()
    return _Dates(text).parse(0, comments)


def first_date(
    words: list[str], first: int, comments: list[str]
) -> tuple[int, dt.datetime, tuple[str, ...]] | None:
    """The first word at or after `first` that begins a date `parse_date` reads from there on,
    with that date and its flags; None when there is none.

    `parse_date(words[i:])` for each candidate i, in one pass: each search of a date shape
    continues from where the last one found it, so the whole is linear in the words.
    """
    dates = _Dates(" ".join(words[first:]))
    at = 0
    for i in range(first, len(words)):
        if date_start(words[i]):
            date, flags = dates.parse(at, comments)
            if date is not None:
                return i, date, flags
        at += len(words[i]) + 1
    return None


class _Dates:
    """`parse_date` of every suffix of one text that starts at a word, sharing the searches."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._found: dict[re.Pattern[str], tuple[int, re.Match[str] | None]] = {}

    def _search(self, pattern: re.Pattern[str], pos: int) -> re.Match[str] | None:
        """The leftmost match at or after `pos`; a search from an earlier position answers
        while its match (or its finding none) still lies at or after `pos`."""
        known = self._found.get(pattern)
        if known is not None:
            since, match = known
            if since <= pos and (match is None or match.start() >= pos):
                return match
        match = pattern.search(self.text, pos)
        self._found[pattern] = (pos, match)
        return match

    def parse(self, pos: int, comments: list[str]) -> tuple[dt.datetime | None, tuple[str, ...]]:
        """`parse_date` of the text from `pos` (a word start)."""
        text = self.text
        fast = _FAST_DATE_RE.match(text, pos)
        if fast is not None:
            date = fast_date(*fast.groups())
            if date is not None:
                return date, ()
        flags: list[str] = []
        m = self._search(_RFC_DATE_RE, pos)
        if m is not None:
            day_s, mon_s, year_s, hh, mm, ss, frac, zone = m.groups()
            month = _MONTHS.get(mon_s.lower())
            if month is None:
                return None, ("date-unparsed",)
            year = int(year_s)
            if len(year_s) < 4:
                flags.append("two-digit-year")
                year += 1900 if len(year_s) == 3 or year >= 50 else 2000
        elif (m := self._search(_ISO_DATE_RE, pos)) is not None:
            year_s, mon_s, day_s, hh, mm, ss, frac, zone = m.groups()
            month = int(mon_s)
            year = int(year_s)
            flags.append("iso-date")
        elif (m := self._search(_ASCTIME_RE, pos)) is not None:  # Sun Nov 13 14:50:12 2005
            mon_s, day_s, hh, mm, ss, zone_before, year_s, zone_after = m.groups()
            month = _MONTHS.get(mon_s.lower(), 0)
            year = int(year_s)
            frac, zone = None, zone_before or zone_after
            flags.append("asctime-date")
        else:
            return None, ("date-unparsed",)
        if m.start() > pos and not text[pos : m.start()].rstrip(" ,").isalpha():
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
            micro = int((frac[:6] + "000000")[:6])
        offset = _zone_offset(zone, comments, flags)
        try:
            local = dt.datetime(year, month, int(day_s), int(hh), int(mm), second, micro, _UTC)
            return local - dt.timedelta(minutes=offset), tuple(flags)
        except (ValueError, OverflowError):
            return None, ("date-unparsed",)


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
    except (ValueError, OverflowError):
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
