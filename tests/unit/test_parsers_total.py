"""The parsers are total and linear: a value for every input, in time linear in its length.

Each parser gets long runs of one character (the shapes that made regexes backtrack: spaces,
dashes, digits, parentheses, semicolons, line breaks, NUL...), deep nesting and arbitrary
bytes, inside the context where it reads them. The time budget is generous (a second plus a
linear allowance, about 4 s for 100 KB) so that only super-linear code fails, not a busy
machine; the bounds a long input hits are named in the result.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.analyze.bounce.dsn import parse_bounce
from probe.analyze.headers import decode_words, header_block
from probe.analyze.received.lexer import MAX_VALUE
from probe.analyze.received.path import MAX_STAMPS, parse_received, trace
from probe.model.json import to_data

_CHARS = [
    *(" ", "-", "(", ")", "1", ";", "=", "\r", "\n", "\x00", "a", "<", ">", '"', "\\", "[", ":"),
    *(".", "@", "?", "\t", "5", ",", "=?", "(a", "1 ", "\r\n", "\r\n ", "\n\n", "- ", "\\(", '"\\'),
    *("550 ", "<a", "a@b ", "1:", "Jan ", "1 Jan ", "a: b\r\n", "--", "\n ", "#550 ", "host a ["),
]
_LONG = 100_000
T = TypeVar("T")
_SETTINGS = settings(max_examples=40, deadline=None)


def _run(size: int) -> st.SearchStrategy[str]:
    """A run of one of `_CHARS` (or of two alternating) of about `size` characters."""
    one = st.sampled_from(_CHARS)
    return st.builds(
        lambda unit, n: unit * max(1, n // len(unit)),
        one | st.builds(operator.add, one, one),
        st.sampled_from([size, size // 3]) | st.integers(1, size),
    )


def _timed(function: Callable[[], T], size: int) -> T:
    budget = 1.0 + size * 30e-6
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    assert elapsed < budget, f"{elapsed:.2f} s for {size:,} characters (budget {budget:.2f} s)"
    return result


# --------------------------------------------------------------------------- Received


@_SETTINGS
@given(
    prefix=st.sampled_from(["", "from a.example (a [192.0.2.1]) by b.example with ESMTP ", "(c) "]),
    run=_run(_LONG),
    suffix=st.sampled_from(["", "; Tue, 2 Jan 2024 10:00:00 +0000", ")", " 2023-09-05 14:36:02"]),
)
def test_parse_received_is_total_and_linear(prefix: str, run: str, suffix: str) -> None:
    value = prefix + run + suffix
    hop = _timed(lambda: parse_received(value), len(value))
    assert hop.raw == value
    assert not [w for w in hop.warnings if w.startswith("internal parse error")]
    if len(value) > MAX_VALUE:
        assert "truncated" in hop.flags
    to_data(hop)


@_SETTINGS
@given(depth=st.integers(1, 20_000), inner=st.sampled_from(["", "a", "\\", '"', "by x; 1 Jan"]))
def test_parse_received_takes_any_nesting(depth: int, inner: str) -> None:
    value = "from a " + "(" * depth + inner + ")" * depth + " by b; Tue, 2 Jan 2024 10:00:00 +0000"
    hop = _timed(lambda: parse_received(value), len(value))
    assert hop.raw == value


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_trace_of_any_bytes(data: bytes) -> None:
    result = trace(b"Received: " + data + b"\r\n\r\n")
    to_data(result)


@_SETTINGS
@given(run=_run(_LONG), received=st.booleans())
def test_trace_is_linear_in_one_long_field(run: str, received: bool) -> None:
    raw = ("Received: " if received else "X-Long: ") + run + "\r\nSubject: x\r\n\r\nbody"
    data = raw.encode("utf-8", "surrogateescape")
    _timed(lambda: to_data(trace(data)), len(data))


def test_trace_names_the_stamp_bound() -> None:
    stamp = b"Received: from a by b; Tue, 2 Jan 2024 10:00:00 +0000\r\n"
    result = _timed(lambda: trace(stamp * (MAX_STAMPS + 20) + b"\r\n"), 60 * MAX_STAMPS)
    assert len(result.hops) == MAX_STAMPS
    assert [a.code for a in result.anomalies][:1] == ["stamp-limit"]


def test_a_date_utc_cannot_hold_keeps_the_rest_of_the_stamp() -> None:
    hop = parse_received("from a.example by b.example with ESMTP; 1 Jan 0001 00:00:00 +0100")
    assert hop.by_host == "b.example" and hop.with_protocol == "ESMTP"
    assert hop.date is None and "date-unparsed" in hop.flags
    assert any("date not understood" in w for w in hop.warnings)


def test_a_long_run_without_semicolon_is_linear() -> None:
    value = "1 " * 8_000  # took 13-17 s
    _timed(lambda: parse_received(value), len(value))


# --------------------------------------------------------------------------- header block, RFC 2047


@_SETTINGS
@given(run=_run(_LONG))
def test_header_block_is_total_and_linear(run: str) -> None:
    data = ("X-A: " + run).encode("utf-8", "surrogateescape")
    _timed(lambda: header_block(data), len(data))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_header_block_of_any_bytes(data: bytes) -> None:
    header_block(data)


@_SETTINGS
@given(run=_run(_LONG), charset=st.sampled_from(["utf-8", "unknown-8bit", "\xe9", "x-none", ""]))
def test_decode_words_is_total_and_linear(run: str, charset: str) -> None:
    value = f"=?{charset}?q?{run}?= {run} =?{charset}?b?{run}"
    _timed(lambda: decode_words(value), len(value))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_decode_words_of_any_text(value: str) -> None:
    assert isinstance(decode_words(value), str)


# --------------------------------------------------------------------------- bounces

_BOUNCE_HEAD = "From: MAILER-DAEMON@example.org\r\nSubject: failure notice {run}\r\n"
_BOUNCE_BODIES = [
    "\r\nbody 550 {run}x\r\n",
    "\r\nHi. This is the qmail-send program at a.example.\r\n\r\n<a@b.example>:\r\n{run}\r\n",
    "\r\nThis message was created automatically by mail delivery software.\r\n{run}\r\n"
    "The following address(es) failed:\r\n\r\n  a@b.example\r\n    {run}\r\n",
    "\r\n----- The following addresses had permanent fatal errors -----\r\n{run}\r\n",
    "\r\nDelivery has failed to these recipients or groups:\r\n{run}\r\n"
    "Diagnostic information for administrators:\r\n{run}\r\n",
    # issue 14's readers: fields in text, a product's notice, an address on every line
    "\r\nReporting-MTA: dns; x\r\n{run}\r\nFinal-Recipient: rfc822; a@b\r\n"
    "Status: 5.1.1\r\n{run}\r\n",
    "\r\nWe're writing to let you know that the group you tried to contact {run}\r\n<a@b.x>\r\n",
    "\r\nSorry, we were unable to deliver your message to the following address.\r\n"
    "{run}: 550: {run}\r\n",
    # the last: an RFC 3464 report (test_a_dsn_date_utc_cannot_hold_is_no_date reads it)
    "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n"
    "Arrival-Date: Fri, 31 Dec 9999 23:59:59 -0100\r\n\r\nFinal-Recipient: rfc822; a@b\r\n"
    "Diagnostic-Code: smtp; 550 {run}\r\nStatus: 5.1.1\r\n\r\n--b--\r\n",
]


@_SETTINGS
@given(body=st.sampled_from(_BOUNCE_BODIES), run=_run(30_000), in_subject=st.booleans())
def test_parse_bounce_is_total_and_linear(body: str, run: str, in_subject: bool) -> None:
    text = _BOUNCE_HEAD.format(run=run if in_subject else "") + body.format(run=run)
    raw = text.encode("utf-8", "surrogateescape")
    bounce = _timed(lambda: parse_bounce(raw), len(raw))
    if bounce is not None:
        to_data(bounce)


@settings(max_examples=5, deadline=None)
@given(depth=st.sampled_from([1_000]) | st.integers(1, 1_000))
def test_parse_bounce_takes_any_nesting(depth: int) -> None:
    parts = "".join(
        f"--b{n}\r\nContent-Type: multipart/mixed; boundary=b{n + 1}\r\n\r\n" for n in range(depth)
    )
    head = "From: MAILER-DAEMON\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    raw = (head + parts).encode()
    _timed(lambda: parse_bounce(raw), len(raw))


def test_a_dsn_date_utc_cannot_hold_is_no_date() -> None:
    raw = _BOUNCE_BODIES[-1].format(run="x").encode()
    bounce = parse_bounce(b"From: MAILER-DAEMON\r\n" + raw)
    assert bounce is not None and bounce.arrival_date is None
    assert bounce.recipients[0].status == "5.1.1"


def test_a_subject_of_100k_spaces_or_dashes_is_linear() -> None:
    for run in (b" " * 100_000, b"-" * 100_000):  # took 32 s and 14 s
        raw = b"From: MAILER-DAEMON\r\nSubject: a" + run + b"x\r\n\r\nbody 550 x" + run + b"\r\n"
        _timed(lambda: parse_bounce(raw), len(raw))  # noqa: B023 - called at once
