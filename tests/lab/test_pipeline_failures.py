"""The pipeline against peers that break: nothing reachable, a hop that cuts large messages off,
a hop that defers forever. Real sockets on loopback, driven through `--via`."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from probe.cli import app
from probe.model.run import RunResult
from probe.model.smtp import Outcome
from probe.model.status import Status
from probe.model.verdict import Action
from probe.pipeline.request import RunArgs, SendArgs, build_request
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from tests.lab.smtp_peers import Recorder, Stall, ThreadedServer, aiosmtpd_server, raw_server

PROFILE = """
name = "t"
description = "t"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-100k"
description = "100 kB"
size = "100kB"
"""


def run_via(port: int, **options: Any) -> RunResult:
    profile = parse_profile(PROFILE, source="<test>", loader=file_loader)
    send = SendArgs("peer.test", "user@peer.test", via=("127.0.0.1", port))
    req = build_request(profile, send, RunArgs(**options), local_name="probe.invalid")
    run = perform(req, deadline=30.0)
    assert run.error is None
    return run.result


def test_nothing_reachable_is_unknown_not_clean() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_via(port)
    assert result.decision is not None and not result.decision.clean
    assert result.decision.headline[0].startswith("Nothing measured")
    assert result.status is Status.UNKNOWN


async def cut_large(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers like an MTA, but drops the connection once a message passes 50 kB."""
    writer.write(b"220 cutter.test ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-cutter.test\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            size = 0
            while (body := await reader.readline()) not in (b".\r\n", b""):
                size += len(body)
                if size > 50_000:
                    writer.transport.abort()
                    return
            writer.write(b"250 ok\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()


def test_a_hop_that_cuts_large_messages_off_is_named_with_the_condition() -> None:
    with ThreadedServer(lambda: raw_server(cut_large)) as server:
        result = run_via(server.port)
    control, big = result.variants
    assert control.outcome is Outcome.ACCEPTED
    assert big.outcome in (Outcome.RESET, Outcome.DISCONNECTED)
    assert result.decision is not None
    broken = [a for h in result.decision.hops for a in h.actions if a.rule == "conversation-broken"]
    assert broken and broken[0].action is Action.REJECTS
    assert "size-100k" in broken[0].variants
    assert result.status is Status.CRITICAL


class DeferLarge(Recorder):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(envelope.original_content) > 50_000:
            return "451 4.3.0 Internal resource temporarily unavailable"
        return await super().handle_DATA(server, session, envelope)


def test_a_hop_that_keeps_deferring_is_named() -> None:
    with ThreadedServer(lambda: aiosmtpd_server(DeferLarge())) as server:
        result = run_via(server.port, retry_for=0.5, retry_delays=(0.2,))
    big = result.variants[1]
    assert big.outcome is Outcome.TEMP_FAILED and len(big.attempts) >= 2
    assert result.decision is not None
    delays = [a for h in result.decision.hops for a in h.actions if a.action is Action.DELAYS]
    assert delays and "451" in delays[0].summary
    assert result.status is Status.WARNING


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts the connection and never says a word."""
    await reader.read()


def test_a_server_that_hangs_is_probed_once_not_per_variant() -> None:
    profile = parse_profile(
        PROFILE + "\n[defaults.timeouts]\nbanner = 0.5\nconnect = 0.5\n",
        source="<test>",
        loader=file_loader,
    )
    with ThreadedServer(lambda: raw_server(silent)) as server:
        send = SendArgs("peer.test", "user@peer.test", via=("127.0.0.1", server.port))
        run = perform(build_request(profile, send, local_name="probe.invalid"), deadline=30.0)
    result = run.result
    assert run.error is None and result.variants == ()
    assert result.hop1 is not None and result.hop1.outcome is Outcome.TIMEOUT
    assert result.decision is not None
    assert result.decision.headline[0].startswith("Nothing measured: no MX answered (timeout")
    assert result.status is Status.UNKNOWN


def test_run_cut_off_by_its_deadline_while_data_hangs_saves_the_attempts_in_flight(
    tmp_path: Path,
) -> None:
    profile, save = tmp_path / "p.toml", tmp_path / "run.json"
    profile.write_text(PROFILE)
    with ThreadedServer(lambda: raw_server(Stall())) as server:
        ran = CliRunner().invoke(
            app,
            ["run", "peer.test", "--to", "user@peer.test", "--via", f"127.0.0.1:{server.port}"]
            + ["--profile", str(profile), "--helo", "probe.invalid", "--deadline", "1"]
            + ["--save", str(save)],
        )
    assert ran.exit_code == 3, ran.output  # nothing measured: UNKNOWN
    assert "Traceback" not in ran.output
    assert "interrupted at data-end" in ran.stdout
    assert "INTERRUPTED: deadline of 1 s passed during send" in ran.stdout
    doc = json.loads(save.read_text())
    assert doc["interrupted"] and doc["hop1"]["outcome"] == "ok"
    assert [v["variant"] for v in doc["variants"]] == ["control", "size-100k"]
    for variant in doc["variants"]:
        assert (variant["outcome"], variant["stage"]) == ("interrupted", "data-end")
        (attempt,) = variant["attempts"]
        assert attempt["data_reply"]["code"] == 354 and attempt["bytes_sent"] > 0
        texts = [line["text"] for line in attempt["transcript"]]
        assert "354 End data with <CR><LF>.<CR><LF>" in texts
        assert texts[-1] == "interrupted at data-end: interrupted by probe during data-end"
