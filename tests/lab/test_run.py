"""The send stage against real aiosmtpd servers on loopback: fallback, retries, limits, Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from probe.model.message import Manifest, OutgoingMessage
from probe.model.smtp import Outcome
from probe.send.matrix import Job, SendLog, SendSettings, Target, send_matrix
from tests.lab.smtp_peers import Recorder, Stall, aiosmtpd_server, options, raw_server


def job(n: int, size_note: str = "") -> Job:
    probe_id = f"20261123T120000-abcdef.v{n}"

    def build(advertised: int | None) -> OutgoingMessage:
        data = f"Subject: [probe {probe_id}]\r\nX-Probe-Id: {probe_id}\r\n\r\nbody{size_note}\r\n"
        raw = data.encode()
        manifest = Manifest(probe_id, f"v{n}", len(raw), "", "")
        return OutgoingMessage("sender@probe.test", ("rcpt@lab.test",), raw, manifest=manifest)

    return Job(f"v{n}", probe_id, f"variant {n}", build)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(**kw: Any) -> SendSettings:
    kw.setdefault("min_interval", 0.0)
    return SendSettings(options(25), **kw)


class Greylist(Recorder):
    """450 for the first RCPT of each (sender, recipient), like postgrey."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        triplet = (envelope.mail_from, address)
        if triplet not in self.seen:
            self.seen.add(triplet)
            return f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


class Slow(Recorder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.active = 0
        self.peak = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(self.delay)
        self.active -= 1
        return await super().handle_DATA(server, session, envelope)


def test_falls_through_to_next_mx_when_first_refuses() -> None:
    handler = Recorder()

    async def go() -> Any:
        async with aiosmtpd_server(handler) as port:
            targets = [
                Target("mx1.lab.test", "127.0.0.1", free_port(), 10),
                Target("mx2.lab.test", "127.0.0.1", port, 20),
            ]
            return await send_matrix([job(1)], targets, settings(), SendLog())

    (result,) = asyncio.run(go())
    assert result.outcome is Outcome.ACCEPTED
    assert [a.outcome for a in result.attempts] == [Outcome.REFUSED, Outcome.ACCEPTED]
    assert result.target.startswith("mx2.lab.test")
    assert len(handler.envelopes) == 1


def test_greylisting_is_retried_and_every_attempt_kept() -> None:
    handler = Greylist()

    async def go() -> Any:
        async with aiosmtpd_server(handler) as port:
            targets = [Target("mx.lab.test", "127.0.0.1", port)]
            return await send_matrix(
                [job(1)], targets, settings(retry_delays=(0.1,), retry_for=5), SendLog()
            )

    (result,) = asyncio.run(go())
    assert result.outcome is Outcome.ACCEPTED
    assert [a.outcome for a in result.attempts] == [Outcome.TEMP_FAILED, Outcome.ACCEPTED]
    first = result.attempts[0]
    assert first.stage == "rcpt" and first.rcpt_results[0].reply is not None
    assert "Greylisted" in first.rcpt_results[0].reply.text


def test_temp_failure_gives_up_after_retry_window() -> None:
    handler = Recorder(final="451 4.3.0 Internal resource temporarily unavailable")

    async def go() -> Any:
        async with aiosmtpd_server(handler) as port:
            targets = [Target("mx.lab.test", "127.0.0.1", port)]
            return await send_matrix(
                [job(1)], targets, settings(retry_delays=(0.1,), retry_for=0.35), SendLog()
            )

    (result,) = asyncio.run(go())
    assert result.outcome is Outcome.TEMP_FAILED and result.stage == "data-end"
    assert 2 <= len(result.attempts) <= 5
    assert result.reply is not None and result.reply.code == 451


def test_per_host_concurrency_is_bounded_and_used() -> None:
    handler = Slow(0.3)

    async def go() -> Any:
        async with aiosmtpd_server(handler) as port:
            targets = [Target("mx.lab.test", "127.0.0.1", port)]
            jobs = [job(n) for n in range(6)]
            return await send_matrix(jobs, targets, settings(concurrency=8, per_host=3), SendLog())

    results = asyncio.run(go())
    assert all(r.outcome is Outcome.ACCEPTED for r in results)
    assert [r.variant for r in results] == [f"v{n}" for n in range(6)]  # matrix order kept
    assert handler.peak == 3


def test_interrupted_run_keeps_what_it_observed() -> None:
    handler = Slow(0.5)
    log = SendLog()

    async def go() -> None:
        async with aiosmtpd_server(handler) as port:
            targets = [Target("mx.lab.test", "127.0.0.1", port)]
            jobs = [job(n) for n in range(4)]
            task = asyncio.ensure_future(
                send_matrix(jobs, targets, settings(concurrency=1, per_host=1), log)
            )
            while not log.done:
                await asyncio.sleep(0.05)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    asyncio.run(go())
    keys = list(log.jobs)
    results = log.results(keys)
    assert len(results) == 4
    assert results[0].outcome is Outcome.ACCEPTED and not results[0].interrupted
    assert all(r.interrupted for r in results[1:])
    assert all(r.reason for r in results[1:])


def test_interrupted_run_keeps_the_conversation_in_flight() -> None:
    peer = Stall()
    log = SendLog()

    async def go() -> int:
        async with raw_server(peer) as port:
            targets = [Target("mx.lab.test", "127.0.0.1", port)]
            task = asyncio.ensure_future(send_matrix([job(1)], targets, settings(), log))
            await asyncio.wait_for(peer.waiting.wait(), 2.0)
            await asyncio.sleep(0.05)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return port

    port = asyncio.run(go())
    (result,) = log.results(list(log.jobs))
    assert result.interrupted and (result.outcome, result.stage) == (
        Outcome.INTERRUPTED,
        "data-end",
    )
    assert result.target == f"mx.lab.test 127.0.0.1:{port}" and result.size
    (attempt,) = result.attempts
    assert attempt.data_reply is not None and attempt.data_reply.code == 354
    assert attempt.transcript[-1].text.startswith("interrupted at data-end")


def test_all_mx_sends_every_variant_through_every_address() -> None:
    a, b = Recorder(), Recorder()

    async def go() -> Any:
        async with aiosmtpd_server(a) as pa, aiosmtpd_server(b) as pb:
            targets = [Target("mx1", "127.0.0.1", pa), Target("mx2", "127.0.0.1", pb)]
            return await send_matrix([job(1), job(2)], targets, settings(all_mx=True), SendLog())

    results = asyncio.run(go())
    assert len(results) == 4
    assert len(a.envelopes) == 2 and len(b.envelopes) == 2
