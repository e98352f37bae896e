"""probe listen: the sink stores messages and the dialogue it saw (real sockets, aiosmtplib)."""

from __future__ import annotations

import asyncio
import json
import mailbox
import socket
import ssl
from pathlib import Path

import aiosmtplib
from typer.testing import CliRunner

from probe.cli import app
from probe.lab.certs import LabCA
from probe.server.listener import Listener
from probe.server.records import load_record


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _exchange(port: int, ca_file: Path | None) -> None:
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    if context is not None:
        context.check_hostname = False  # we dial 127.0.0.1; the chain is still verified
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        local_hostname="firewall-test.example",
        start_tls=bool(ca_file),
        tls_context=context,
    )
    await client.connect()
    await client.ehlo()
    await client.mail("probe@example.org", options=["SIZE=200", "RET=HDRS", "ENVID=run-1"])
    await client.rcpt("a@example.net", options=["NOTIFY=FAILURE,DELAY"])
    await client.rcpt("b@example.net")
    await client.data(b"Subject: fw\r\nX-Probe-Id: x\r\n\r\nbody\r\n")
    await client.quit()


def test_listener_records_the_dialogue(tmp_path: Path) -> None:
    ca = LabCA(tmp_path / "tls")

    async def main() -> Listener:
        listener = Listener(
            tmp_path / "Maildir",
            hostname="sink.lab.probe.test",
            tls_context=ca.server_context("sink.lab.probe.test"),
        )
        await listener.start("127.0.0.1", 0)
        serving = asyncio.create_task(listener.run(max_messages=1, duration=10))
        await _exchange(listener.hop.port, ca.ca_file)
        await asyncio.wait_for(serving, 10)
        return listener

    listener = asyncio.run(main())
    assert len(listener.records) == 1  # one copy for both recipients
    box = mailbox.Maildir(tmp_path / "Maildir", create=False)
    assert sorted(box.keys()) == sorted(r.key for r in listener.records)
    raw = box.get_bytes(listener.records[0].key)
    assert raw.startswith(
        b"Return-Path: <probe@example.org>\r\n"
        b"Delivered-To: a@example.net\r\nDelivered-To: b@example.net\r\n"
    )
    assert b"by sink.lab.probe.test (probe) with ESMTPS id" in raw
    record = load_record(tmp_path / "Maildir" / "dialogues" / f"{listener.records[0].key}.json")
    assert record == listener.records[0]
    assert record.helo == "firewall-test.example" and record.esmtp
    assert record.peer == "127.0.0.1" and record.tls and record.tls_protocol == "TLSv1.3"
    assert record.mail_from == "probe@example.org"
    assert record.mail_params == ("SIZE=200", "RET=HDRS", "ENVID=run-1")
    assert [r.address for r in record.rcpts] == ["a@example.net", "b@example.net"]
    assert record.rcpts[0].params == ("NOTIFY=FAILURE,DELAY",)
    assert record.size == len(b"Subject: fw\r\nX-Probe-Id: x\r\n\r\nbody\r\n")
    assert record.data_at is not None and record.connected_at <= record.received_at
    assert "STARTTLS" in record.commands and record.commands[-1] == "DATA"


def test_cli_listen_json_with_bounds(tmp_path: Path) -> None:
    port = _free_port()

    def send_later() -> None:
        async def go() -> None:
            for _ in range(50):  # until the listener listens (a busy machine starts it late)
                await asyncio.sleep(0.2)
                try:
                    await _exchange(port, None)
                    return
                except (OSError, aiosmtplib.SMTPConnectError):
                    continue

        asyncio.run(go())

    import threading

    sender = threading.Thread(target=send_later)
    sender.start()
    result = CliRunner().invoke(
        app,
        ["listen", "--maildir", str(tmp_path / "md"), "--port", str(port),
         "--max-messages", "1", "--duration", "10", "--json"],
    )  # fmt: skip
    sender.join(10)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "probe.listen/1"
    assert [r["helo"] for r in document["records"]] == ["firewall-test.example"]
    assert document["records"][0]["tls"] is False
    assert document["stored"] == 1
    assert document["limits"] == {
        "max_size": 26214400,
        "max_recipients": 100,
        "max_sessions": 20,
        "max_sessions_per_client": 10,
        "max_line_length": 2048,
        "idle_timeout": 120.0,
        "session_timeout": 600.0,
        "disk_budget": 1073741824,
    }


def test_cli_listen_errors_are_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["listen", "--maildir", str(tmp_path / "md"), "--port", str(port), "--duration", "1"],
        )
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "cannot listen" in result.stderr
    result = CliRunner().invoke(
        app, ["listen", "--maildir", str(tmp_path / "md"), "--tls-cert", str(tmp_path / "no.pem")]
    )
    assert result.exit_code == 3 and "go together" in result.stderr


def test_cli_lab_check_json() -> None:
    result = CliRunner().invoke(app, ["lab", "--check", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "probe.lab-check/1" and document["ok"] is True
    banners = {e["scenario"]: e["banner"] for e in document["entries"]}
    assert banners["checkpoint"].endswith("ESMTP") and set(banners["asa"][4:]) <= {"*", "2", "0"}


def test_cli_lab_foreground_stops_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["lab", "--dir", str(tmp_path), "--duration", "0.2"])
    assert result.exit_code == 0, result.output
    assert (
        "checkpoint.lab.probe.test" in result.stdout and "--nameserver 127.0.0.1:" in result.stderr
    )
    assert (tmp_path / "tls" / "lab-ca.pem").exists()
