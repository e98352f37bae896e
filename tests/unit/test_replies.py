"""Reply-line validation, enhanced codes, capabilities and queue ids (pure, with real samples)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.model.smtp import Reply
from probe.smtp import replies


@pytest.mark.parametrize(
    ("raw", "code", "last", "text"),
    [
        (b"220 mx.example.com ESMTP Postfix\r\n", 220, True, "mx.example.com ESMTP Postfix"),
        (b"250-PIPELINING\r\n", 250, False, "PIPELINING"),
        (b"250\r\n", 250, True, ""),
        (b"354 go ahead\n", 354, True, "go ahead"),
    ],
)
def test_valid_lines(raw: bytes, code: int, last: bool, text: str) -> None:
    line = replies.parse_line(raw)
    assert line == replies.ReplyLine(code, last, text)


@pytest.mark.parametrize(
    "raw",
    [
        b"2500 ok\r\n",
        b"-220 x\r\n",
        b"22 short\r\n",
        b"abc def\r\n",
        b"\x00\xff\r\n",
        b"999 nine\r\n",
        b"120 one\r\n",
        b"250_x\r\n",
        b"",
    ],
)
def test_garbage_lines(raw: bytes) -> None:
    assert replies.parse_line(raw) is None


def test_printable_replaces_bad_bytes_and_controls() -> None:
    assert replies.printable(b"220 caf\xe9 \x1b[31m\r\n") == "220 caf\ufffd \\x1b[31m"


@given(st.binary(max_size=300))
def test_parse_line_never_raises_and_text_is_printable(raw: bytes) -> None:
    line = replies.parse_line(raw)
    if line is not None:
        assert 200 <= line.code <= 599
        assert line.text.isprintable() or "\ufffd" in line.text


def test_builder_assembles_multiline() -> None:
    b = replies.ReplyBuilder()
    assert b.add(b"250-mx.test\r\n") is False
    assert b.add(b"250-SIZE 10485760\r\n") is False
    assert b.add(b"250 STARTTLS\r\n") is True
    reply = b.reply()
    assert reply == Reply(250, ("mx.test", "SIZE 10485760", "STARTTLS"))
    assert replies.capabilities(reply) == ("SIZE 10485760", "STARTTLS")
    assert replies.wire_lines(reply) == ("250-mx.test", "250-SIZE 10485760", "250 STARTTLS")


def test_builder_rejects_code_change_and_endless_reply() -> None:
    b = replies.ReplyBuilder()
    b.add(b"250-a\r\n")
    with pytest.raises(ValueError, match="changed"):
        b.add(b"251 b\r\n")
    b = replies.ReplyBuilder()
    with pytest.raises(ValueError, match="lines"):
        for _ in range(replies.MAX_LINES + 1):
            b.add(b"250-x\r\n")


@pytest.mark.parametrize(
    ("code", "text", "enhanced"),
    [
        (550, "5.1.1 <x@y>: Recipient address rejected: User unknown", "5.1.1"),
        (250, "2.6.0 <id@host> Queued mail for delivery", "2.6.0"),
        (451, "4.7.1 Please try again later", "4.7.1"),
        (550, "4.7.1 mismatched class", None),  # class must match the reply code
        (554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}", None),
        (250, "2.0.0.1 not a code", None),
    ],
)
def test_enhanced_status(code: int, text: str, enhanced: str | None) -> None:
    assert replies.enhanced_status(code, text) == enhanced


def test_capability_lookup_and_size() -> None:
    caps = ("PIPELINING", "SIZE 10485760", "8BITMIME", "DSN", "AUTH PLAIN LOGIN")
    assert replies.capability(caps, "size") == "10485760"
    assert replies.capability(caps, "DSN") == ""
    assert replies.capability(caps, "STARTTLS") is None
    assert replies.size_limit(caps) == 10485760
    assert replies.size_limit(("SIZE",)) is None
    assert replies.size_limit(("SIZE 0",)) == 0


# Final replies as real MTAs write them (sources: Postfix smtpd.c, Exim smtp_in.c, Exchange
# protocol logs, Sendmail srvrsmtp.c, Haraka, AsyncOS, Gmail, qmail;
# see docs/research/fingerprints.md).
@pytest.mark.parametrize(
    ("line", "mta", "qid"),
    [
        ("250 2.0.0 Ok: queued as 4XyZ1a2b3cD4", "postfix", "4XyZ1a2b3cD4"),
        ("250 2.0.0 Ok: queued as A96E18BD97", "postfix", "A96E18BD97"),
        ("250 OK id=1rWR9Q-00000006OnN-00lz", "exim", "1rWR9Q-00000006OnN-00lz"),
        ("250 OK id=1abcDE-000123-AB", "exim", "1abcDE-000123-AB"),
        (
            "250 2.6.0 <c89b4fcc-1@mail1.fabrikam.com> [InternalId=5111011082268, "
            "Hostname=mail1.fabrikam.com] Queued mail for delivery",
            "exchange",
            "<c89b4fcc-1@mail1.fabrikam.com>",
        ),
        ("250 2.6.0 <abc@host> Queued mail for delivery", "exchange", "<abc@host>"),
        ("250 2.0.0 s2ACkjwS025479 Message accepted for delivery", "sendmail", "s2ACkjwS025479"),
        ("250 2.0.0 x1234abcd Message accepted for delivery", "sendmail", "x1234abcd"),
        (
            "250 Message Queued (EE8D66D9-E976-47DF-A6D7-83BEFD06DD9D.1)",
            "haraka",
            "EE8D66D9-E976-47DF-A6D7-83BEFD06DD9D.1",
        ),
        ("250 ok:  Message 1234567 accepted", "asyncos", "1234567"),
        ("250 2.0.0 OK  1612345678 a1si123456qkn.12 - gsmtp", "gmail", "a1si123456qkn.12"),
        ("250 ok 1612345678 qp 12345", "qmail", "12345"),
    ],
)
def test_queue_ids(line: str, mta: str, qid: str) -> None:
    parsed = replies.parse_line(line.encode())
    assert parsed is not None
    assert replies.queue_id(replies.build_reply([parsed])) == (mta, qid)


@pytest.mark.parametrize("line", ["250 OK", "250 2.0.0 Ok", "554 5.7.1 queued as NOPE"])
def test_no_queue_id(line: str) -> None:
    parsed = replies.parse_line(line.encode())
    assert parsed is not None
    assert replies.queue_id(replies.build_reply([parsed])) is None
