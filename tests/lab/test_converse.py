"""Conversations against real aiosmtpd servers and scripted peers on loopback."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.model.message import OutgoingMessage
from probe.model.smtp import Conversation, Direction, Outcome
from probe.send.converse import converse
from probe.smtp.envelope import dot_stuffed, xtext
from tests.lab.smtp_peers import Recorder, Stall, aiosmtpd_server, options, raw_server, scripted

BODY = (
    b"From: a@sender.test\r\nTo: b@rcpt.test\r\nSubject: dots\r\n\r\n"
    b".leading dot\r\n..two dots\r\n.\r\nnot the end\r\n. space\r\nlast line\r\n"
)


def message(data: bytes = BODY, **kw: object) -> OutgoingMessage:
    return OutgoingMessage("a@sender.test", ("b@rcpt.test",), data, **kw)  # type: ignore[arg-type]


def talk(handler: Recorder, msg: OutgoingMessage | None = None, **smtp_kw: object) -> Conversation:
    async def go() -> Conversation:
        async with aiosmtpd_server(handler, **smtp_kw) as port:
            return await converse("localhost", "127.0.0.1", options(port), msg)

    return asyncio.run(go())


def reference_stuff(data: bytes) -> bytes:
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", data) + b".\r\n"


@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b".")), st.integers(1, 8))
def test_dot_stuffing_matches_reference_across_block_borders(data: bytes, chunk: int) -> None:
    assert b"".join(dot_stuffed(data, chunk)) == reference_stuff(data)


def test_xtext() -> None:
    assert xtext("20250101T000000-abcdef.control") == "20250101T000000-abcdef.control"
    assert xtext("a+b=c d") == "a+2Bb+3Dc+20d"


def test_connect_only_clean_server() -> None:
    conv = talk(Recorder())
    assert conv.outcome is Outcome.OK and conv.stage == "quit"
    assert [s.name for s in conv.steps] == ["connect", "banner", "ehlo", "quit"]
    assert conv.banner is not None and conv.banner.code == 220
    assert "8BITMIME" in conv.capabilities
    assert not conv.tls.offered and not conv.used_helo
    assert conv.transcript[0].direction is Direction.INFO
    assert all(s.duration_ms >= 0 for s in conv.steps)
    assert conv.steps[0].started_at.tzinfo is not None


def test_message_accepted_with_exact_bytes_and_354_text() -> None:
    handler = Recorder()
    conv = talk(handler, message())
    assert conv.outcome is Outcome.ACCEPTED, conv.reason
    assert handler.envelopes[0].original_content == BODY  # dot-stuffing undone byte for byte
    assert conv.data_reply is not None and conv.data_reply.code == 354
    assert conv.data_reply.text == "End data with <CR><LF>.<CR><LF>"
    assert conv.final_reply is not None and conv.final_reply.enhanced == "2.0.0"
    assert conv.queue_id == "4XyZ1a2b3cD4"
    assert conv.envelope is not None and conv.envelope.mail_params == (f"SIZE={len(BODY)}",)
    assert handler.envelopes[0].mail_options == [f"SIZE={len(BODY)}"]
    assert conv.bytes_sent == len(reference_stuff(BODY))
    assert conv.upload_ms is not None and conv.final_reply_ms is not None
    assert f"[{len(BODY)} bytes of message data]" in [t.text for t in conv.transcript]
    assert not any("leading dot" in t.text for t in conv.transcript)  # body never logged


def test_message_without_final_crlf_gets_one() -> None:
    handler = Recorder()
    conv = talk(handler, message(b"Subject: x\r\n\r\nno newline"))
    assert conv.outcome is Outcome.ACCEPTED
    assert handler.envelopes[0].original_content == b"Subject: x\r\n\r\nno newline\r\n"


def test_no_size_parameter_when_not_declared() -> None:
    handler = Recorder()
    conv = talk(handler, message(declare_size=False))
    assert conv.outcome is Outcome.ACCEPTED
    assert handler.envelopes[0].mail_options == []


def test_8bit_message_skipped_without_8bitmime() -> None:
    conv = talk(Recorder(), message(needs_8bit=True), enable_SMTPUTF8=False)
    # aiosmtpd always offers 8BITMIME; a scripted peer without it:

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {"EHLO": b"250-raw.test\r\n250 SIZE 1000\r\n"})

    async def go() -> Conversation:
        async with raw_server(peer) as port:
            return await converse("raw", "127.0.0.1", options(port), message(needs_8bit=True))

    assert conv.outcome is Outcome.ACCEPTED  # offered by aiosmtpd: sent with BODY=8BITMIME
    assert conv.envelope is not None and "BODY=8BITMIME" in conv.envelope.mail_params
    skipped = asyncio.run(go())
    assert skipped.outcome is Outcome.SKIPPED and skipped.stage == "mail"
    assert "8BITMIME" in skipped.reason
    assert skipped.steps[-1].name == "quit"  # ended politely


def test_smtputf8_skipped_when_not_offered() -> None:
    conv = talk(Recorder(), message(needs_smtputf8=True))
    assert conv.outcome is Outcome.SKIPPED and "SMTPUTF8" in conv.reason


def test_dsn_parameters_when_dsn_offered() -> None:
    seen: list[bytes] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ehlo = b"250-raw.test\r\n250-SIZE 1000000\r\n250-DSN\r\n250 8BITMIME\r\n"
        seen.extend(await scripted(reader, writer, {"EHLO": ehlo}))

    async def go() -> Conversation:
        async with raw_server(peer) as port:
            msg = message(dsn_envid="20250101T000000-abcdef.control")
            return await converse("raw", "127.0.0.1", options(port), msg)

    conv = asyncio.run(go())
    assert conv.outcome is Outcome.ACCEPTED
    mail = next(line for line in seen if line.startswith(b"MAIL"))
    rcpt = next(line for line in seen if line.startswith(b"RCPT"))
    assert mail == (
        f"MAIL FROM:<a@sender.test> SIZE={len(BODY)} RET=HDRS "
        "ENVID=20250101T000000-abcdef.control\r\n".encode()
    )
    assert rcpt == b"RCPT TO:<b@rcpt.test> NOTIFY=FAILURE,DELAY\r\n"
    assert conv.data_reply is not None and conv.data_reply.text == "go ahead"
    assert conv.queue_id is None  # "250 ok" names no queue id


def test_rcpt_rejection_one_of_two_continues() -> None:
    handler = Recorder()
    handler.reject_rcpt = {"nobody@rcpt.test"}
    msg = OutgoingMessage("a@sender.test", ("nobody@rcpt.test", "b@rcpt.test"), BODY)
    conv = talk(handler, msg)
    assert conv.outcome is Outcome.ACCEPTED
    assert [r.accepted for r in conv.rcpt_results] == [False, True]
    assert conv.rcpt_results[0].reply is not None
    assert conv.rcpt_results[0].reply.enhanced == "5.1.1"


def test_rcpt_rejection_all() -> None:
    handler = Recorder()
    handler.reject_rcpt = {"b@rcpt.test"}
    conv = talk(handler, message())
    assert conv.outcome is Outcome.REJECTED and conv.stage == "rcpt"
    assert "550" in conv.reason
    assert conv.steps[-1].name == "quit"
    assert not handler.envelopes


def test_final_5xx_after_data() -> None:
    final = "554 Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}"
    conv = talk(Recorder(final=final), message())
    assert conv.outcome is Outcome.REJECTED and conv.stage == "data-end"
    assert conv.final_reply is not None and conv.final_reply.code == 554
    assert "{4C209928-2-3A6A8C0-1FFFF}" in conv.reason
    assert conv.final_reply_ms is not None


def test_final_4xx_after_data() -> None:
    conv = talk(Recorder(final="451 4.7.1 Try again later"), message())
    assert conv.outcome is Outcome.TEMP_FAILED and conv.stage == "data-end"


def test_mail_rejected_and_data_refused() -> None:
    async def mail_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {"MAIL": b"553 5.7.1 Sender rejected\r\n"})

    async def data_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {"DATA": b"554 5.5.1 Error: no valid recipients\r\n"})

    async def no354_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {"DATA": b"250 what\r\n"})

    async def go(peer: object) -> Conversation:
        async with raw_server(peer) as port:  # type: ignore[arg-type]
            return await converse("raw", "127.0.0.1", options(port), message())

    conv = asyncio.run(go(mail_peer))
    assert (conv.outcome, conv.stage) == (Outcome.REJECTED, "mail")
    conv = asyncio.run(go(data_peer))
    assert (conv.outcome, conv.stage) == (Outcome.REJECTED, "data")
    conv = asyncio.run(go(no354_peer))
    assert (conv.outcome, conv.stage) == (Outcome.GARBAGE, "data")


def test_ehlo_refused_falls_back_to_helo() -> None:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {"EHLO": b"502 5.5.2 Error: command not recognized\r\n"})

    async def go() -> Conversation:
        async with raw_server(peer) as port:
            return await converse("raw", "127.0.0.1", options(port), message())

    conv = asyncio.run(go())
    assert conv.used_helo and conv.outcome is Outcome.ACCEPTED
    assert conv.envelope is not None and conv.envelope.mail_params == ()  # no capabilities
    assert [s.name for s in conv.steps][:4] == ["connect", "banner", "ehlo", "helo"]


def test_banner_554_is_rejection_with_quit() -> None:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await scripted(reader, writer, {}, banner=b"554 5.7.1 You are not welcome\r\n")

    async def go() -> Conversation:
        async with raw_server(peer) as port:
            return await converse("raw", "127.0.0.1", options(port))

    conv = asyncio.run(go())
    assert (conv.outcome, conv.stage) == (Outcome.REJECTED, "banner")
    assert conv.banner is not None and conv.banner.enhanced == "5.7.1"
    assert conv.steps[-1].name == "quit"


def test_refused_port() -> None:
    async def go() -> Conversation:
        async with raw_server(scripted) as port:  # type: ignore[arg-type]
            pass  # closed again: nothing listens on the port now
        return await converse("raw", "127.0.0.1", options(port))

    conv = asyncio.run(go())
    assert (conv.outcome, conv.stage) == (Outcome.REFUSED, "connect")


def cancel_when_stalled(peer: Stall) -> tuple[list[Conversation], float]:
    """Converse with `peer`, cancel the task once the peer stalls; what `on_interrupt` got."""
    kept: list[Conversation] = []

    async def go() -> float:
        async with raw_server(peer) as port:
            task = asyncio.create_task(
                converse("raw", "127.0.0.1", options(port), message(), on_interrupt=kept.append)
            )
            await asyncio.wait_for(peer.waiting.wait(), 2.0)
            await asyncio.sleep(0.05)  # converse is now reading the reply that never comes
            task.cancel()
            with pytest.raises(asyncio.CancelledError):  # cancellation stays cooperative
                await task
            t0 = asyncio.get_running_loop().time()
            await asyncio.wait_for(peer.closed.wait(), 2.0)  # the socket was closed
            return asyncio.get_running_loop().time() - t0

    return kept, asyncio.run(go())


def test_cancelled_mid_data_keeps_the_partial_conversation() -> None:
    kept, close_wait = cancel_when_stalled(Stall())
    (conv,) = kept
    assert (conv.outcome, conv.stage) == (Outcome.INTERRUPTED, "data-end")
    assert conv.reason == "interrupted by probe during data-end"
    assert conv.data_reply is not None and conv.data_reply.code == 354
    assert conv.bytes_sent > len(BODY) and conv.upload_ms is not None
    assert conv.final_reply is None and conv.rcpt_results[0].accepted
    assert [s.name for s in conv.steps] == [
        "connect",
        "banner",
        "ehlo",
        "mail",
        "rcpt",
        "data",
        "upload",
        "data-end",
    ]
    assert conv.steps[-1].outcome is Outcome.INTERRUPTED and conv.steps[-1].duration_ms >= 40
    texts = [line.text for line in conv.transcript]
    assert "354 End data with <CR><LF>.<CR><LF>" in texts and "." in texts
    assert texts[-2:] == [
        "connection closed",
        "interrupted at data-end: interrupted by probe during data-end",
    ]
    assert close_wait < 1.0


def test_cancelled_while_quitting_keeps_the_known_outcome() -> None:
    kept, _ = cancel_when_stalled(Stall(after_final=True))
    (conv,) = kept
    assert (conv.outcome, conv.stage) == (Outcome.ACCEPTED, "quit")
    assert conv.final_reply is not None and conv.queue_id == "4XyZ1a2b3cD4"
    assert conv.steps[-1].name == "quit" and conv.steps[-1].outcome is Outcome.INTERRUPTED
    assert "interrupted by probe during quit" in [line.text for line in conv.transcript]
