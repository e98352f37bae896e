"""The header block and the one RFC 2047 decoder (probe.analyze.headers)."""

from __future__ import annotations

import email.errors
import email.header

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.analyze.headers import (
    MAX_FIELD_LENGTH,
    MAX_FIELDS,
    decode_words,
    header_block,
    header_fields,
)


def _stdlib(value: str) -> str | None:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.MessageError):
        return None


_PIECES = [
    *("=?", "?=", "?q?", "?Q?", "?b?", "?B?", "utf-8", "iso-8859-1", "latin-1", "us-ascii"),
    *("unknown-8bit", "x-foo", "=41", "=C3=A9", "_", " ", "  ", "\t", "\n", "\r\n", "a", "Zm9v"),
    *("w6k=", "==", "(", ")", "\\", "koi8-r", "=E9", "=?utf-8?q?=C3=A9?=", "=?utf-8?b?w6k=?="),
    *("=?iso-8859-1?q?=E9?=", "=?us-ascii?q?x?=", "=?utf-8?q?=C3?=", "=?utf-8?q?=A9?="),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=20))
def test_decode_words_answers_as_the_stdlib_wherever_it_answers(pieces: list[str]) -> None:
    value = "".join(pieces)
    expected = _stdlib(value)
    if expected is not None:
        assert decode_words(value) == expected


def test_decode_words_joins_encoded_words_and_keeps_spaces_to_plain_text() -> None:
    assert decode_words("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?= au lait") == "café au lait"
    assert decode_words("Re: =?iso-8859-1?q?=E9t=E9?=") == "Re: été"
    assert decode_words("no words here") == "no words here"


def test_decode_words_reads_what_the_stdlib_refuses_with_replacement() -> None:
    assert decode_words("=?unknown-8bit?q?caf=E9?=") == "caf\ufffd"
    assert decode_words("=?\xe9?q?x?=") == "x"  # a non-ASCII charset name
    assert decode_words("=?x-no-such?q?a=E9?= b") == "a\ufffd b"
    assert decode_words("=?utf-8?q?=FF?=") == "\ufffd"  # bytes the charset cannot decode
    assert decode_words("=?utf-8*en?q?x?=") == "x"  # RFC 2231 language suffix
    assert decode_words("h\xe9llo =?utf-8?q?x?=") == "h\xe9llo x"
    assert decode_words("=?utf-8?b?w?=") == "=?utf-8?b?w?="  # broken base64: as written


def test_header_block_names_the_bounds_it_hits() -> None:
    many = b"".join(b"X-%d: v\r\n" % n for n in range(MAX_FIELDS + 5)) + b"\r\nbody"
    block = header_block(many)
    assert len(block.fields) == MAX_FIELDS and block.truncated == ("header-count",)
    long = b"Subject: " + b"a" * (MAX_FIELD_LENGTH + 10) + b"\r\n\r\n"
    block = header_block(long)
    assert len(block.fields[0][1]) == MAX_FIELD_LENGTH and block.truncated == ("field-length",)
    assert header_block(b"Subject: x\r\n\r\n").truncated == ()
    assert len(header_fields(many)) == MAX_FIELDS + 5  # header_fields gives them all
    assert header_fields(b"Subject: x\r\n folded\r\n\r\nbody") == (("Subject", "x folded"),)


def test_the_callers_of_the_decoder_survive_any_charset() -> None:
    from probe.analyze.diff.compare import compare
    from probe.collect.match import identify, looks_like_bounce

    sent = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"
    for subject in (b"=?unknown-8bit?q?caf=E9?=", "=?\xe9?q?x?=".encode(), b"=?x-no?b?w6k=?="):
        delivered = sent.replace(b"hello", subject)
        assert not looks_like_bounce(delivered)
        assert identify(delivered, ["20250301T101500-a1b2c3.v1"]) is None
        assert any(c.where.lower() == "subject" for c in compare(sent, delivered, None).changes)
