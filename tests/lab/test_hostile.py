"""Hostile peers (plain asyncio servers): each ends within its timeout, classified, no exception."""

from __future__ import annotations

import asyncio
import time

import pytest

from probe.model.json import document, from_data
from probe.model.message import OutgoingMessage
from probe.model.smtp import Conversation, Outcome, Reply, Timeouts
from probe.send.converse import converse
from tests.lab.smtp_peers import Peer, options, raw_server, reset, scripted

SHORT = Timeouts(connect=1.0, banner=0.3, command=0.3, tls=0.5, data_block=0.5, final_reply=0.3)


def run(peer: Peer, msg: OutgoingMessage | None = None, **kw: object) -> tuple[Conversation, float]:
    async def go() -> Conversation:
        async with raw_server(peer) as port:
            kw.setdefault("timeouts", SHORT)
            return await converse("hostile", "127.0.0.1", options(port, **kw), msg)

    started = time.monotonic()
    conv = asyncio.run(go())
    return conv, time.monotonic() - started


async def no_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)


async def slow_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for byte in b"220 slow.test ESMTP\r\n":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.005)
    await scripted(reader, writer, {}, banner=b"")


async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 endless.test\r\n")
    await reader.readline()
    for _ in range(1_000):  # bounded, but far beyond any sane reply (200,000 lines)
        writer.write(b"250-x\r\n" * 200)
        await writer.drain()


async def huge_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 " + b"A" * 1_000_000 + b"\r\n")
    await writer.drain()
    await asyncio.sleep(1)


async def binary(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(bytes(range(256)) * 4 + b"\r\n")
    await writer.drain()
    await asyncio.sleep(1)


async def reset_on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    reset(writer)


async def reset_after_ehlo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 rst.test ESMTP\r\n")
    await writer.drain()
    await reader.readline()
    reset(writer)


async def close_after_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 eof.test ESMTP\r\n")
    await writer.drain()
    await reader.readline()


def banner_peer(banner: bytes) -> Peer:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {}, banner=banner)

    return peer


async def silent_after_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await scripted(reader, writer, {".": b""})
    await asyncio.sleep(2)


@pytest.mark.parametrize(
    ("peer", "outcome", "stage"),
    [
        (no_banner, Outcome.TIMEOUT, "banner"),
        (endless, Outcome.GARBAGE, "ehlo"),
        (huge_line, Outcome.GARBAGE, "banner"),
        (binary, Outcome.GARBAGE, "banner"),
        (reset_after_ehlo, Outcome.RESET, "ehlo"),
        (close_after_banner, Outcome.DISCONNECTED, "ehlo"),
        (banner_peer(b"2500 ok\r\n"), Outcome.GARBAGE, "banner"),
        (banner_peer(b"-220 x\r\n"), Outcome.GARBAGE, "banner"),
        (banner_peer(b"220-first\r\n221 second\r\n"), Outcome.GARBAGE, "banner"),
    ],
    ids=["no-banner", "endless", "1mb-line", "binary", "reset-mid", "eof", "2500", "-220", "mixed"],
)
def test_hostile_peer_is_classified(peer: Peer, outcome: Outcome, stage: str) -> None:
    conv, elapsed = run(peer)
    assert (conv.outcome, conv.stage) == (outcome, stage), conv.reason
    assert elapsed < 3.0
    assert conv.reason and "\n" not in conv.reason
    assert all(line.text.isprintable() for line in conv.transcript)
    assert all(len(line.text) < 5000 for line in conv.transcript)


def test_reset_on_connect() -> None:
    conv, _ = run(reset_on_connect)
    # the RST can arrive before or after the kernel finished the handshake
    assert conv.outcome in (Outcome.RESET, Outcome.DISCONNECTED)
    assert conv.stage in ("connect", "banner")


def test_banner_one_byte_at_a_time() -> None:
    conv, _ = run(slow_banner, timeouts=Timeouts.uniform(2.0))
    assert conv.outcome is Outcome.OK
    assert conv.banner is not None and conv.banner.text == "slow.test ESMTP"


def test_non_utf8_text_is_kept_printable() -> None:
    conv, _ = run(banner_peer(b"220 mx.test caf\xe9 \xff\xfe ready\r\n"))
    assert conv.outcome is Outcome.OK
    assert conv.banner is not None and "caf\ufffd" in conv.banner.text
    assert all(line.text.isprintable() for line in conv.transcript)


def test_final_reply_timeout_and_overall_deadline() -> None:
    msg = OutgoingMessage("a@x.test", ("b@y.test",), b"Subject: t\r\n\r\nbody\r\n")
    conv, elapsed = run(silent_after_data, msg)
    assert (conv.outcome, conv.stage) == (Outcome.TIMEOUT, "data-end")
    assert conv.data_reply is not None and conv.data_reply.text == "go ahead"
    assert elapsed < 2.0
    conv, elapsed = run(no_banner, timeouts=Timeouts.uniform(30.0), deadline=0.4)
    assert (conv.outcome, conv.stage) == (Outcome.TIMEOUT, "banner")
    assert "deadline" in conv.reason and elapsed < 2.0


@pytest.mark.parametrize(
    ("banner", "kept"),
    [
        (b"2500 ok\r\n", "2500 ok"),
        (b"-220 x\r\n", "-220 x"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "SSH-2.0-OpenSSH_9.6"),
        (b"\x00\x01 binary\r\n", "\\x00\\x01 binary"),
    ],
    ids=["2500", "-220", "ssh", "binary"],
)
def test_a_banner_that_is_no_smtp_reply_is_kept_as_garbage(banner: bytes, kept: str) -> None:
    conv, _ = run(banner_peer(banner))
    assert (conv.outcome, conv.stage) == (Outcome.GARBAGE, "banner"), conv.reason
    assert conv.banner == Reply(code=None, lines=(kept,), valid=False)
    data = document("probe.connect/1", conv)
    assert data["banner"] == {"code": None, "lines": [kept], "enhanced": None, "valid": False}
    assert from_data(Conversation, data).banner == conv.banner


def test_probes_own_bug_is_an_error_that_names_the_exception_and_where() -> None:
    broken = OutgoingMessage("a@x.test", ("b@y.test",), "not bytes")  # type: ignore[arg-type]
    conv, _ = run(banner_peer(b"220 ok.test ESMTP\r\n"), broken)
    assert (conv.outcome, conv.stage) == (Outcome.ERROR, "upload")
    assert conv.reason.startswith("internal error: TypeError: ")
    assert "(at envelope.py:" in conv.reason and "converse.py:" in conv.reason
    assert "\n" not in conv.reason
