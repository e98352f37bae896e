"""probe listen speaks CHUNKING (RFC 3030) as the issue's full personality wants: BDAT chunks
are read exactly (whatever the reply), joined, bounded by the size limit, and the LAST one
hands the message over as DATA would; the session record says it came chunked."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.server.limits import Limits
from probe.server.session_files import load_sessions
from tests.lab.raw_smtp import Client, Served

LIMITS = Limits(max_size=1000, max_line_length=512, idle_timeout=10.0, disk_budget=10_000_000)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with Served(tmp_path, LIMITS) as running:
        yield running


def _envelope(c: Client) -> None:
    assert c.cmd("MAIL FROM:<a@client.test>").startswith("250")
    assert c.cmd("RCPT TO:<b@sink.test>").startswith("250")


def test_bdat_chunks_make_one_message(served: Served) -> None:
    with Client(served.port) as c:
        c.reply()
        assert "250-CHUNKING" in c.cmd("EHLO client.test")
        c.send(b"BDAT 5\r\nhello")  # a chunk before MAIL: read, then refused
        assert c.reply().startswith("503")
        assert c.cmd("NOOP").startswith("250")  # the five octets were not taken as a command
        _envelope(c)
        c.send(b"BDAT 12\r\nSubject: x\r\n")
        assert c.reply() == "250 2.0.0 12 octets received"
        c.send(b"BDAT 16 LAST\r\n\r\n.dot\r\nQUIT\r\n\r\n")  # no dot-stuffing in BDAT
        assert c.reply().startswith("250")
        assert c.cmd("BDAT x").startswith("501")
        assert c.cmd("QUIT").startswith("221")
    content = b"Subject: x\r\n\r\n.dot\r\nQUIT\r\n\r\n"
    for _ in range(200):
        records = load_sessions(served.maildir)
        if records:
            break
        time.sleep(0.02)
    (message,) = records[-1].messages
    assert message.chunked and message.sha256 == hashlib.sha256(content).hexdigest()
    assert message.headers == ("Subject: x",)
    stored = list((served.maildir / "new").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes().endswith(content)


def test_bdat_over_the_size_limit_is_read_and_refused(served: Served) -> None:
    with Client(served.port) as c:
        c.reply()
        c.cmd("EHLO client.test")
        _envelope(c)
        c.send(b"BDAT 800\r\n" + b"a" * 800)
        assert c.reply().startswith("250")
        c.send(b"BDAT 800 LAST\r\n" + b"b" * 800)  # 1,600 octets in all: over 1,000
        assert c.reply().startswith("552")
        assert c.cmd("NOOP").startswith("250")  # in step: every octet was read
    assert not list((served.maildir / "new").iterdir())
