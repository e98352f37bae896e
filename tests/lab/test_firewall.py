"""probe firewall through real boxes on loopback, with `probe listen` behind them: the lab's
ASA-style proxy must come out as masking the banner and renaming STARTTLS, a plain TCP
forwarder as changing nothing; and the listener's session records are verbatim and bounded.

`PROBE_UPDATE_GOLDEN=1` rewrites tests/data/firewall/*.json (both halves of each run), which
the unit tests of the comparison read.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

from typer.testing import CliRunner

from probe.cli import app
from probe.lab.asa import AsaProxy
from probe.lab.certs import LabCA
from probe.model.firewall import Effect, FirewallResult
from probe.model.json import to_data
from probe.model.listener import Side
from probe.model.smtp import Timeouts
from probe.model.status import Status
from probe.pipeline.firewall import FirewallRequest, run_firewall
from probe.send.options import ConverseOptions
from probe.server.limits import LISTEN_LIMITS
from probe.server.listener import Listener
from probe.server.session_files import load_sessions
from probe.server.tap import certificate_sha256
from probe.server.tls import server_context
from tests.lab.tcp_forwarder import Forwarder

FIXTURES = Path(__file__).parent.parent / "data" / "firewall"


@contextlib.asynccontextmanager
async def _listener(tmp: Path) -> AsyncIterator[Listener]:
    ca = LabCA(tmp / "tls")
    cert, key = ca.issue("sink.lab.probe.test")
    listener = Listener(
        tmp / "Maildir",
        hostname="sink.lab.probe.test",
        tls_context=server_context(cert, key),
        certificate_sha256=certificate_sha256(cert),
    )
    await listener.start("127.0.0.1", 0)
    try:
        yield listener
    finally:
        await listener.close()


def _options(port: int) -> ConverseOptions:
    return ConverseOptions(
        helo="x", port=port, timeouts=Timeouts.uniform(5), deadline=20, system_trust=False
    )


async def _through(box: str, tmp: Path) -> FirewallResult:
    async with _listener(tmp) as listener:
        front: AsaProxy | Forwarder
        if box == "asa":
            front = AsaProxy(("127.0.0.1", listener.hop.port))
            await front.start()
        else:
            front = Forwarder(listener.hop.port)
            await front.start()
        try:
            request = FirewallRequest(
                "127.0.0.1", front.port, tmp / "Maildir", _options(front.port), wait=5
            )
            result = await run_firewall(request)
        finally:
            await front.close()
    if os.environ.get("PROBE_UPDATE_GOLDEN"):
        records = load_sessions(tmp / "Maildir")
        halves = {"sessions": to_data(result.sessions), "records": to_data(records)}
        (FIXTURES / f"{box}.json").write_text(json.dumps(halves, indent=1) + "\n")
    return result


def _effects(result: FirewallResult) -> dict[str, Effect]:
    return {f"{c.session} {c.check}": c.effect for c in result.checks}


def test_asa_masks_the_banner_and_renames_starttls(tmp_path: Path) -> None:
    result = asyncio.run(_through("asa", tmp_path))
    assert not result.unjoined
    assert result.summary[:2] == ("masks banner", "STARTTLS replaced by XXXXXXXA")
    effects = _effects(result)
    assert effects["plain banner"] is Effect.MASKED
    assert effects["plain capability STARTTLS"] is Effect.RENAMED
    assert effects["plain capability SMTPUTF8"] is Effect.RENAMED  # not on its allow-list
    assert effects["plain capability PIPELINING"] is Effect.PASSED
    assert effects["starttls starttls"] is Effect.STRIPPED
    assert effects["commands command EXPN"] is Effect.BLOCKED  # answered by the box
    assert effects["commands command unknown verb"] is Effect.BLOCKED
    assert effects["commands command STARTTLS"] is Effect.BLOCKED
    assert effects["commands command BDAT"] is Effect.BLOCKED  # CHUNKING is not on its list
    passed_checks = ("HELP", "VRFY", "ETRN", "long line", "split line", "MAIL (pipelined)")
    for passed in (*passed_checks, "RSET (pipelined)"):
        assert effects[f"commands command {passed}"] is Effect.PASSED, passed
    assert effects["plain message"] is Effect.IDENTICAL
    assert result.status is Status.CRITICAL


def test_a_plain_forwarder_changes_nothing(tmp_path: Path) -> None:
    result = asyncio.run(_through("forwarder", tmp_path))
    assert result.summary == ("changes nothing",)
    assert {c.effect for c in result.checks} <= {
        Effect.PASSED,
        Effect.IDENTICAL,
        Effect.END_TO_END,
    }
    assert _effects(result)["starttls starttls"] is Effect.END_TO_END
    assert result.status is Status.OK


def test_the_listener_records_each_session_verbatim(tmp_path: Path) -> None:
    async def main() -> None:
        async with _listener(tmp_path) as listener:
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.hop.port)
            await reader.readline()
            long_line = b"noop " + b"y" * 5000
            writer.write(b"ehlo  Odd.Name\r\n" + long_line + b"\r\nAUTH PLAIN c2VjcmV0\r\n")
            writer.write(b"QUIT\r\n")
            await writer.drain()
            while await reader.readline():
                pass
            writer.close()
            for _ in range(100):
                if load_sessions(tmp_path / "Maildir"):
                    break
                await asyncio.sleep(0.02)

    asyncio.run(main())
    (record,) = load_sessions(tmp_path / "Maildir")
    client = [line.text for line in record.client_lines()]
    assert client[0] == "ehlo  Odd.Name"  # as sent: case and spaces kept
    assert record.client_lines()[1].octets == 5007 and len(client[1]) == 2048  # bounded
    assert client[2] == "AUTH PLAIN ***"  # never the credentials
    assert record.lines[0].side is Side.SERVER and "ESMTP probe listen" in record.lines[0].text
    assert record.tls_certificate_sha256 and record.tls_protocol is None
    stored = "".join(p.read_text() for p in (tmp_path / "Maildir" / "sessions").iterdir())
    assert "c2VjcmV0" not in stored


def test_cli_firewall_json(tmp_path: Path) -> None:
    async def main() -> tuple[int, str]:
        async with _listener(tmp_path) as listener:
            front = Forwarder(listener.hop.port)
            await front.start()
            args = ["firewall", f"127.0.0.1:{front.port}", "--records", str(tmp_path / "Maildir")]
            outcome = await asyncio.to_thread(
                CliRunner().invoke, app, [*args, "--json", "--timeout", "5"]
            )
            await front.close()
            return outcome.exit_code, outcome.stdout

    code, out = asyncio.run(main())
    document = json.loads(out)
    assert document["schema"] == "probe.firewall/1"
    assert document["summary"] == ["changes nothing"] and code == 0


def test_cli_firewall_bad_records_dir(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        app, ["firewall", "127.0.0.1:1", "--records", str(tmp_path / "nope"), "--json"]
    )
    assert outcome.exit_code == 3
    assert "Traceback" not in outcome.output


def test_session_records_stay_within_the_disk_budget(tmp_path: Path) -> None:
    budget = 6000  # room for a couple of session records, not for twenty

    async def main() -> None:
        limits = dataclasses.replace(LISTEN_LIMITS, disk_budget=budget)
        listener = Listener(tmp_path / "Maildir", limits=limits)
        await listener.start("127.0.0.1", 0)
        try:
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", listener.hop.port)
                await reader.readline()
                writer.write(b"EHLO a.example\r\nNOOP " + b"z" * 1000 + b"\r\nQUIT\r\n")
                await writer.drain()
                while await reader.readline():
                    pass
                writer.close()
            await asyncio.sleep(0.1)
        finally:
            await listener.close()

    asyncio.run(main())
    files = list((tmp_path / "Maildir" / "sessions").iterdir())
    assert 0 < len(files) < 20
    assert sum(f.stat().st_size for f in files) <= budget


def test_cli_firewall_bad_profile(tmp_path: Path) -> None:
    args = ["firewall", "127.0.0.1:1", "--records", str(tmp_path), "--profile", "no-such", "--json"]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 3
    assert json.loads(outcome.stdout)["status"] == "UNKNOWN"
