"""The listener's bounds as data and pure functions: session caps, the bounded DATA reader, what a
client's words become in headers and logs."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from probe.server.data import DataEnd, read_data
from probe.server.limits import LISTEN_LIMITS, NO_LIMITS, Limits, session_refusal
from probe.server.logs import LINE_MAX, OneLine, printable
from probe.server.stamps import header_text


def test_session_refusal_counts_all_and_per_client() -> None:
    limits = Limits(max_sessions=3, max_sessions_per_client=2)
    assert session_refusal(limits, "mx", "10.0.0.1", ["10.0.0.1", "10.0.0.2"]) is None
    assert session_refusal(limits, "mx", "10.0.0.1", ["10.0.0.1", "10.0.0.1"]) == (
        "421 4.7.0 mx Error: too many connections from 10.0.0.1"
    )
    assert session_refusal(limits, "mx", "10.0.0.9", ["a", "b", "c"]) == (
        "421 4.7.0 mx Error: too many connections"
    )
    assert session_refusal(NO_LIMITS, "mx", "a", ["a"] * 1000) is None


def test_probe_listen_has_every_bound() -> None:
    assert all(value is not None for value in vars(LISTEN_LIMITS).values())
    assert all(value is None for value in vars(NO_LIMITS).values())


def _read(data: bytes, max_size: int | None, limit: int = 1 << 16) -> tuple[bytes, int, DataEnd]:
    """What `read_data` makes of `data`; what follows the final dot stays unread."""

    async def go() -> tuple[bytes, int, DataEnd]:
        reader = asyncio.StreamReader(limit=limit)
        reader.feed_data(data + b"NOOP\r\n")
        reader.feed_eof()
        read = await read_data(reader, max_size)
        assert await reader.read() == b"NOOP\r\n"
        return read.content, read.size, read.end

    return asyncio.run(go())


def test_read_data_unstuffs_and_stops_at_the_lone_dot() -> None:
    wire = b"Subject: x\r\n\r\n..leading dot\r\n.\r\n"
    assert _read(wire, None) == (b"Subject: x\r\n\r\n.leading dot\r\n", 28, DataEnd.COMPLETE)
    assert _read(b".\r\n", 10) == (b"", 0, DataEnd.COMPLETE)


def test_read_data_keeps_nothing_past_the_limit_but_reads_to_the_end() -> None:
    assert _read(b"12345\r\n.\r\n", 7) == (b"12345\r\n", 7, DataEnd.COMPLETE)
    content, size, end = _read(b"x\r\n" * 10_000 + b".\r\n", 100)
    assert (content, size, end) == (b"", 30_000, DataEnd.TOO_BIG)


def test_read_data_refuses_a_line_longer_than_the_reader_holds() -> None:
    content, size, end = _read(b"y" * 5000 + b"\r\n.\r\n", None, limit=1024)
    assert (content, size, end) == (b"", 5002, DataEnd.LINE_TOO_LONG)
    # the ".\r\n" that ends a long line is not the end of the message
    assert _read(b"z" * 1500 + b".\r\nok\r\n.\r\n", None, limit=1024)[2:] == (
        DataEnd.LINE_TOO_LONG,
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name", "plain name"),
        ("evil\x1b[2J\x00", "evil\\x1b[2J\\x00"),
        ("bad\udcffutf8", "bad\\udcffutf8"),
        ("two\r\nlines", "two\\r\\nlines"),
        ("Grüße", "Grüße"),
    ],
)
def test_printable_escapes_what_would_drive_a_terminal(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_header_text_cannot_end_a_header_line() -> None:
    assert header_text("a\rX-Injected: 1\n\x00") == "a?X-Injected: 1??"
    assert header_text("grüße@example.org") == "grüße@example.org"


def _log_line(message: str, *args: object, error: Exception | None = None) -> str:
    record = logging.LogRecord("mail.log", logging.ERROR, "f", 1, message, args, None)
    if error is not None:
        try:
            raise error
        except Exception:
            record.exc_info = sys.exc_info()
    return OneLine().format(record)


def test_a_log_line_is_one_escaped_line_without_traceback() -> None:
    line = _log_line("%s: %s", "peer", "\x1b[31mred", error=ValueError("boom\nsecond line"))
    assert line == "mail.log: peer: \\x1b[31mred (ValueError: boom\\nsecond line)"
    long = _log_line("unrecognised: %s", "x" * 5000)
    assert len(long) == LINE_MAX and long.endswith("...")
