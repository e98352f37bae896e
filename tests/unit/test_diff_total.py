"""The diff is total and linear: every pair of inputs gives a `DiffResult`, in time linear in
their size, and a bound reached is named by a `not-compared` change, never passed over.

The hostile copies are built from what broke it before (issue 15): deep nesting, long runs of
one character, charsets that are unknown or no MIME charset, address groups, repeated lines and
thousands of added header fields. Each comparison gets a wall-time budget measured here: generous
(`BASE` seconds plus `PER_100K` per 100 kB), so that it fails on super-linear behaviour, not on a
busy machine.
"""

from __future__ import annotations

import email.message
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.analyze.diff.compare import MAX_HEADER_CHANGES, compare
from probe.analyze.diff.mime_parser import MAX_CONTAINERS, split_params
from probe.analyze.diff.parts import MAX_DEPTH, MAX_PARTS, parse_tree
from probe.model.diff import ChangeKind, DiffResult
from probe.model.json import from_data, to_data

BASE = 2.0
PER_100K = 2.0
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEAD = b"From: Probe <sender@example.org>\r\nTo: rcpt@example.net\r\nSubject: hello\r\n"
CHARSETS = (
    "utf-8", "us-ascii", "iso-8859-1", "\xe9", "unknown-8bit", "punycode", "idna", "utf-7",
    "utf-16", "x-unknown", "", "base64", "unicode_escape", "utf-8\x00",
)  # fmt: skip
ENCODINGS = ("7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "garbage", "")
TYPES = (
    "text/plain", "text/html", "application/octet-stream", "message/rfc822", "image/png",
    "text/plain; name*=punycode''%e9", "message/delivery-status",
)  # fmt: skip
RUNS = (*";\"():<>-\n =a\\?*%'\t.@,{", "=?", "--", "\r\n", "\r\n ", "<a", "(a", "g:", "\xe9")


def timed(sent: bytes, delivered: bytes) -> DiffResult:
    """compare(), within its time budget, and its result round-trips through JSON."""
    start = time.perf_counter()
    result = compare(sent, delivered)
    elapsed = time.perf_counter() - start
    size = len(sent) + len(delivered)
    assert elapsed < BASE + PER_100K * size / 100_000, f"{elapsed:.1f} s for {size:,} bytes"
    assert from_data(DiffResult, to_data(result)) == result
    return result


def not_compared(result: DiffResult) -> list[str]:
    return [c.detail for c in result.changes if c.kind is ChangeKind.NOT_COMPARED]


def text() -> st.SearchStrategy[str]:
    return st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


def header_block() -> st.SearchStrategy[str]:
    word = st.sampled_from(
        ["x", "=?utf-8?q?caf=C3=A9?=", "=?unknown-8bit?q?a=FF?=", "=?punycode?q?abc?=",
         "=?\xe9?q?x?=", "<a@b.example>", "g:", ";", "(c)", '"q"', "a@b.example"]
    )  # fmt: skip
    value = st.lists(word | text(), max_size=6).map(" ".join)
    name = st.sampled_from(
        ["Subject", "To", "From", "Cc", "Message-ID", "Received", "X-Added", "Reply-To"]
    )
    return st.lists(st.tuples(name, value), max_size=8).map(
        lambda fields: "".join(f"{n}: {v}\r\n" for n, v in fields)
    )


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> str:
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "=_x", "a" * 80, '"q"', ""])) + str(depth)
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        body = "".join(f"--{boundary}\r\n{c}\r\n" for c in children) + f"--{boundary}--\r\n"
        sub = draw(st.sampled_from(["mixed", "alternative", "digest", "related"]))
        return f'Content-Type: multipart/{sub}; boundary="{boundary}"\r\n\r\n{body}'
    ctype, charset = draw(st.sampled_from(TYPES)), draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    return (
        f'Content-Type: {ctype}; charset="{charset}"\r\nContent-Transfer-Encoding: {cte}\r\n'
        f"\r\n{draw(text())}\r\n"
    )


@st.composite
def message(draw: st.DrawFn) -> bytes:
    raw = draw(header_block()) + "MIME-Version: 1.0\r\n" + draw(mime_part())
    return raw.encode("utf-8", "surrogateescape")


@st.composite
def with_run(draw: st.DrawFn) -> bytes:
    """A message with a long run of one character (or a short sequence) somewhere in it."""
    raw = draw(message())
    piece = draw(st.sampled_from(RUNS)).encode("latin-1")
    count = draw(st.integers(1, 40_000)) // len(piece) + 1
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + piece * count + raw[at:]


def nested(depth: int, kind: bytes = b"mixed") -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/%s; boundary="b%d"\r\n\r\n--b%d\r\n' % (kind, i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD + b"MIME-Version: 1.0\r\n" + opening + b"\r\nhello\r\n" + closing


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(message(), st.one_of(message(), with_run(), st.binary(max_size=3000)))
def test_any_copy_of_any_message_is_compared_in_linear_time(sent: bytes, other: bytes) -> None:
    timed(sent, other)
    timed(other, sent)


@SETTINGS
@given(st.integers(0, 1_500), st.sampled_from([b"mixed", b"digest", b"alternative"]))
def test_any_nesting_is_compared_and_named_beyond_the_bounds(depth: int, kind: bytes) -> None:
    result = timed(nested(1), nested(depth, kind))
    notes = " ".join(not_compared(result))
    levels = depth + (kind == b"digest" and depth > 0)  # a digest's leaf is a message/rfc822
    if depth > MAX_CONTAINERS:
        assert f"more than {MAX_CONTAINERS} multipart or message parts" in notes
    elif levels > MAX_DEPTH:
        assert f"deeper than {MAX_DEPTH} levels" in notes
    else:
        assert notes == ""


@SETTINGS
@given(st.sampled_from(RUNS), st.integers(1_000, 100_000), st.sampled_from(["header", "body"]))
def test_long_runs_of_one_character_are_linear(piece: str, length: int, where: str) -> None:
    run = piece.encode("latin-1") * (length // len(piece))
    body = b"\r\nline one\r\nline two\r\n"
    sent = HEAD + body
    delivered = HEAD + b"X-Run: " + run + b"\r\n" + body if where == "header" else HEAD + run + body
    timed(sent, delivered)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='";=\\ a*', max_size=30), st.integers(0, 40))
def test_the_parameter_split_is_the_stdlib_one(value: str, limit: int) -> None:
    expected = email.message._parseparam(value)  # the stdlib function split_params replaces
    assert split_params(value) == expected
    assert split_params(value, limit) == expected[: limit + 1]


# --------------------------------------------------------------------------- the reported cases


def test_a_thousand_nested_multiparts_are_not_a_recursion_error() -> None:
    result = timed(nested(1), nested(1_000))
    assert any(f"more than {MAX_CONTAINERS}" in note for note in not_compared(result))
    assert any(c.kind is ChangeKind.STRUCTURE_CHANGED for c in result.changes)


def test_a_part_with_an_unknown_or_non_ascii_charset_is_compared() -> None:
    sent = HEAD + b'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\nhi\r\n'
    for charset in (b"\xe9", b"unknown-8bit", b"punycode", b"utf-8\x00"):
        delivered = sent.replace(b"utf-8", charset) + b"\xc3\xa9 added\r\n"
        kinds = {c.kind for c in timed(sent, delivered).changes}
        assert kinds & {ChangeKind.CHARSET_CHANGED, ChangeKind.BODY_APPENDED}, charset


def test_encoded_words_in_unknown_or_non_ascii_charsets_are_compared() -> None:
    for subject in (b"=?unknown-8bit?q?hello_=FF?=", b"=?\xe9?q?x?=", b"=?\xc3\xa9?q?x?="):
        delivered = HEAD.replace(b"Subject: hello", b"Subject: " + subject)
        (change,) = timed(HEAD, delivered).findings
        assert change.where == "Subject", subject


def test_deeply_grouped_addresses_are_compared_as_text() -> None:
    delivered = HEAD.replace(b"To: rcpt@example.net", b"To: " + b"g:" * 5_000 + b"g")
    (change,) = timed(HEAD, delivered).findings
    assert change.kind is ChangeKind.HEADER_MODIFIED
    assert "compared as text: over 100 groups and comments" in change.detail


def test_eight_thousand_repeated_lines_with_one_inserted() -> None:
    lines = b"line\r\n" * 8_000
    sent = HEAD + b"\r\n" + lines
    delivered = HEAD + b"\r\n" + lines[:24_000] + b"inserted by a hop\r\n" + lines[24_000:]
    (change,) = timed(sent, delivered).findings
    assert change.kind is ChangeKind.BODY_INSERTED
    assert change.inserted == "inserted by a hop\n"


def test_three_thousand_added_header_fields_are_listed_up_to_the_bound() -> None:
    added = b"".join(b"X-Added-%d: value %d\r\n" % (i, i) for i in range(3_000))
    result = timed(HEAD + b"\r\nhi\r\n", added + HEAD + b"\r\nhi\r\n")
    added_changes = [c for c in result.changes if c.kind is ChangeKind.HEADER_ADDED]
    assert len(added_changes) == MAX_HEADER_CHANGES
    (note,) = not_compared(result)
    assert note.startswith("3000 header fields added or modified: not compared beyond")


def test_a_forty_kilobyte_content_type_is_read_in_linear_time() -> None:
    sent = HEAD + b'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\nhi\r\n'
    for run in (b'; x="' + b";" * 40_000 + b'"', b";" * 40_000, b"; a=b" * 8_000):
        delivered = sent.replace(b'charset="utf-8"', b'charset="utf-8"' + run)
        timed(sent, delivered)


def test_more_parts_than_the_bound_are_named() -> None:
    parts = b"".join(b"--b\r\n\r\npart %d\r\n" % i for i in range(MAX_PARTS + 10))
    raw = HEAD + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    tree = parse_tree(raw + parts + b"--b--\r\n")
    assert len(tree.leaves) == MAX_PARTS
    assert tree.limits == (f"MIME parts beyond the first {MAX_PARTS} not compared",)
