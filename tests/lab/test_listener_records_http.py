"""The listener's records over HTTP (`probe listen --records-listen`, `probe firewall --records
http://...`): a firewall test with no shared directory, and the endpoint attacked: no token or a
wrong one, other methods, path tricks, a huge or a slow request, many connections. The token is
never in argv, output, logs or the records."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from probe.cli import app
from probe.collect.secrets import Secret
from probe.errors import MeasurementError
from probe.model.smtp import Timeouts
from probe.model.status import Status
from probe.pipeline.firewall import FirewallRequest, RecordsUrl, run_firewall
from probe.send.options import ConverseOptions
from probe.server import records_http
from probe.server.listener import Listener
from probe.server.records_http import RecordsEndpoint
from probe.server.session_files import SESSIONS_DIR
from tests.lab.probe_process import ProbeProcess
from tests.lab.tcp_forwarder import Forwarder

TOKEN = "rec-Token-5e1f-9a7c-2b4d"
ROOT = Path(__file__).resolve().parents[2]


async def _raw(port: int, request: bytes, *, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), 20) if read else b""
    except ConnectionResetError:  # closed with our request unread
        answer = b""
    writer.close()
    return answer


def _get(path: str, token: str | None = TOKEN, method: str = "GET") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_firewall_test_over_the_records_endpoint(tmp_path: Path) -> None:
    async def main() -> None:
        listener = Listener(tmp_path / "Maildir")
        await listener.start("127.0.0.1", 0)
        endpoint = RecordsEndpoint(tmp_path / "Maildir" / SESSIONS_DIR, Secret(TOKEN))
        await endpoint.start("127.0.0.1", 0)
        front = Forwarder(listener.hop.port)
        await front.start()
        try:
            options = ConverseOptions(
                helo="x", port=front.port, timeouts=Timeouts.uniform(5), deadline=20
            )
            url = f"http://127.0.0.1:{endpoint.port}"
            request = FirewallRequest(
                "127.0.0.1", front.port, RecordsUrl(url, Secret(TOKEN)), options, 5
            )
            result = await run_firewall(request)
            assert result.summary == ("changes nothing",) and result.status is Status.OK
            assert not result.unjoined
            wrong = FirewallRequest(
                "127.0.0.1", front.port, RecordsUrl(url, Secret("not-the-token-at-all")), options, 5
            )
            with pytest.raises(MeasurementError, match="401") as caught:
                await run_firewall(wrong)
            assert "not-the-token" not in str(caught.value)
        finally:
            await front.close()
            await endpoint.close()
            await listener.close()

    asyncio.run(main())


def test_the_endpoint_refuses_what_it_does_not_serve(tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    folder.mkdir()
    (tmp_path / "secret.json").write_text('{"schema": "probe.listener-session/1"}')

    async def main() -> None:
        endpoint = RecordsEndpoint(folder, Secret(TOKEN))
        await endpoint.start("127.0.0.1", 0)
        port = endpoint.port
        try:
            assert _status(await _raw(port, _get("/sessions", token=None))) == 401
            assert _status(await _raw(port, _get("/sessions", token=TOKEN + "x"))) == 401
            assert _status(await _raw(port, _get("/sessions", token=TOKEN[:-1]))) == 401
            for path in (
                "/sessions/../secret.json",
                "/../secret.json",
                "/%2e%2e/secret.json",
                "//etc/passwd",
                "/sessions/x",
            ):
                assert _status(await _raw(port, _get(path))) == 404, path
                assert _status(await _raw(port, _get(path, token=None))) == 401, path
            for method in ("POST", "PUT", "DELETE"):
                assert _status(await _raw(port, _get("/sessions", method=method))) == 405
            ok = await _raw(port, _get("/sessions?since=nan"))
            assert _status(ok) == 200 and TOKEN.encode() not in ok
            assert json.loads(ok.split(b"\r\n\r\n", 1)[1])["sessions"] == []
            head = await _raw(port, _get("/sessions", method="HEAD"))
            assert _status(head) == 200 and head.endswith(b"\r\n\r\n")
            huge = b"GET /sessions HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
            assert _status(await _raw(port, huge)) == 431
            assert _status(await _raw(port, b"nonsense\r\n\r\n")) == 400
        finally:
            await endpoint.close()

    asyncio.run(main())


def test_slow_and_many_clients_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records_http, "REQUEST_TIMEOUT", 0.5)

    async def main() -> None:
        endpoint = RecordsEndpoint(tmp_path, Secret(TOKEN))
        await endpoint.start("127.0.0.1", 0)
        try:
            idle = []
            for _ in range(records_http.CONNECTIONS):  # they say nothing
                idle.append(await asyncio.open_connection("127.0.0.1", endpoint.port))
            await asyncio.sleep(0.1)
            extra = await _raw(endpoint.port, _get("/sessions"))
            assert extra == b""  # closed at once: the connections are taken
            answers = [await asyncio.wait_for(r.read(), 10) for r, _ in idle]
            assert {_status(a) for a in answers} == {408}  # each one timed out, bounded
            for _, writer in idle:
                writer.close()
            assert _status(await _raw(endpoint.port, _get("/sessions"))) == 200  # serves again
        finally:
            await endpoint.close()

    asyncio.run(main())


def test_cli_records_url_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROBE_RECORDS_TOKEN", raising=False)
    runner = CliRunner()
    outcome = runner.invoke(app, ["firewall", "127.0.0.1:1", "--records", "http://127.0.0.1:1"])
    assert outcome.exit_code == 3 and "token" in outcome.output
    for bad in ("https://h:1", "http://u:p@h:1", "http://h:1/etc/passwd", "ftp://h"):
        outcome = runner.invoke(app, ["firewall", "127.0.0.1:1", "--records", bad, "--json"])
        assert outcome.exit_code == 3, bad
        assert json.loads(outcome.stdout)["status"] == "UNKNOWN"
    listen = runner.invoke(
        app, ["listen", "--maildir", str(tmp_path / "M"), "--records-listen", "127.0.0.1:0"]
    )
    assert listen.exit_code == 3 and "token" in listen.output
    monkeypatch.setenv("PROBE_RECORDS_TOKEN", "short")
    listen = runner.invoke(
        app, ["listen", "--maildir", str(tmp_path / "M"), "--records-listen", "127.0.0.1:0"]
    )
    assert listen.exit_code == 3 and "at least 16" in listen.output and "short" not in listen.output


def test_probe_listen_serves_its_records_and_never_shows_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.delenv("PROBE_RECORDS_TOKEN", raising=False)
    process = ProbeProcess(
        "listen",
        "--port",
        "0",
        "--maildir",
        str(tmp_path / "M"),
        "--records-listen",
        "127.0.0.1:0",
        "--records-token-file",
        str(token_file),
        cwd=ROOT,
        tmp=tmp_path / "tmp",
    )
    try:
        line = process.wait_for("records on http://")
        port = int(re.search(r":(\d+)/sessions", line).group(1))  # type: ignore[union-attr]
        wrong = asyncio.run(_raw(port, _get("/sessions", token="guess-" + TOKEN)))
        right = asyncio.run(_raw(port, _get("/sessions")))
        assert _status(wrong) == 401 and _status(right) == 200
        process.send(signal.SIGINT)
        done = process.finish()
    finally:
        process.kill()
    assert TOKEN not in done.stdout + done.stderr
    assert TOKEN not in " ".join(process.proc.args)  # type: ignore[arg-type]
