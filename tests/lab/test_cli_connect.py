"""`probe connect` through CliRunner: exit codes, --json, transcripts, one-line errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from probe.cli import app  # every command registered
from probe.model.json import from_data
from probe.model.smtp import Conversation
from tests.lab.smtp_peers import Recorder, ThreadedServer, aiosmtpd_server, raw_server, scripted

runner = CliRunner()
FAST = ["--timeout", "2", "--deadline", "10", "--helo", "probe.invalid"]


def invoke(*args: str) -> object:
    return runner.invoke(app, ["connect", *FAST, *args])


def plain() -> ThreadedServer:
    return ThreadedServer(lambda: aiosmtpd_server(Recorder()))


def test_plain_server_warns_about_missing_starttls() -> None:
    with plain() as server:
        result = invoke(f"127.0.0.1:{server.port}")
    assert result.exit_code == 1, result.output
    assert "STARTTLS: not offered" in result.stdout
    assert "banner" in result.stdout and "220 mx.test" in result.stdout
    assert "WARNING" in result.stdout.splitlines()[-1]


def test_no_starttls_is_ok_and_json_round_trips() -> None:
    with plain() as server:
        result = invoke("--no-starttls", "--json", "--port", str(server.port), "127.0.0.1")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.connect/1" and doc["status"] == "OK"
    conv = from_data(Conversation, doc["conversations"][0])
    assert conv.outcome.value == "ok" and conv.port == server.port
    assert conv.banner is not None and conv.banner.code == 220


def test_tls_with_ca_file_is_ok(tmp_path: Path) -> None:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    factory = lambda: aiosmtpd_server(Recorder(), tls_context=ctx, require_starttls=False)  # noqa: E731
    with ThreadedServer(factory) as server:
        ok = invoke("--ca-file", str(ca_file), f"127.0.0.1:{server.port}")
        untrusted = invoke(f"127.0.0.1:{server.port}")
    assert ok.exit_code == 0, ok.output
    assert "chain verifies: yes" in ok.stdout
    assert untrusted.exit_code == 1
    assert "chain does not verify" in untrusted.stdout


async def banner_554(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await scripted(reader, writer, {}, banner=b"554 5.7.1 No SMTP service here\r\n")


def test_refusing_service_is_critical_with_transcript() -> None:
    with ThreadedServer(lambda: raw_server(banner_554)) as server:
        result = invoke("--transcript", "--style", "exchange", f"127.0.0.1:{server.port}")
    assert result.exit_code == 2, result.output
    assert "#Fields: date-time" in result.stdout
    assert ",*,attempting to connect" in result.stdout
    assert ",<,554 5.7.1 No SMTP service here" in result.stdout
    arrows = None
    with ThreadedServer(lambda: raw_server(banner_554)) as server:
        arrows = invoke("--transcript", f"127.0.0.1:{server.port}")
    assert "<-  554 5.7.1" in arrows.stdout and " -> QUIT" in arrows.stdout


async def not_smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
    await writer.drain()
    await reader.read(100)


def test_a_peer_that_is_no_smtp_server_is_critical_and_its_banner_kept() -> None:
    with ThreadedServer(lambda: raw_server(not_smtp)) as server:
        result = invoke("--json", f"127.0.0.1:{server.port}")
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    conv = from_data(Conversation, doc["conversations"][0])
    assert (conv.outcome.value, conv.stage) == ("garbage", "banner")
    assert conv.banner is not None and conv.banner.lines == ("SSH-2.0-OpenSSH_9.6",)
    assert not conv.banner.valid and conv.greeting is None


def test_nothing_reached_is_unknown() -> None:
    with plain() as server:
        port = server.port
    result = invoke(f"127.0.0.1:{port}")  # the server is gone: refused
    assert result.exit_code == 3
    assert "nothing reached" in result.stdout


@contextlib.asynccontextmanager
async def lab_domain() -> AsyncIterator[int]:
    """lab.test: MX 10 mx1 (127.0.0.1, aiosmtpd), MX 20 mx2 (127.0.0.2, nothing listens)."""
    from probe.lab.dnsserver import DnsResponder, DnsZone

    async with aiosmtpd_server(Recorder()) as smtp_port:
        zone = DnsZone(
            {
                "lab.test.": (("MX", "10 mx1.lab.test."), ("MX", "20 mx2.lab.test.")),
                "mx1.lab.test.": (("A", "127.0.0.1"),),
                "mx2.lab.test.": (("A", "127.0.0.2"),),
            }
        )
        async with DnsResponder(zone) as dns:
            yield smtp_port * 100000 + dns.port  # both ports in one int


def test_domain_target_probes_every_mx_address() -> None:
    with ThreadedServer(lab_domain) as server:
        smtp_port, dns_port = divmod(server.port, 100000)
        result = invoke(
            "--json", "--no-starttls", "--nameserver", f"127.0.0.1:{dns_port}",
            "--port", str(smtp_port), "lab.test",
        )  # fmt: skip
    assert result.exit_code == 1, result.output  # one MX is down: a warning, not a failure
    doc = json.loads(result.stdout)
    outcomes = {(c["host"], c["address"]): c["outcome"] for c in doc["conversations"]}
    assert outcomes == {
        ("mx1.lab.test", "127.0.0.1"): "ok",
        ("mx2.lab.test", "127.0.0.2"): "refused",
    }
    assert doc["resolution"]["source"] == "mx"


def test_unresolvable_domain_is_unknown() -> None:
    with ThreadedServer(lab_domain) as server:
        _, dns_port = divmod(server.port, 100000)
        result = invoke("--nameserver", f"127.0.0.1:{dns_port}", "nope.lab.test")
    assert result.exit_code == 3, result.output


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("127.0.0.1:99999", "bad port"),
        ("", "empty"),
        ("[::1", "bracket"),
        ("bad host name!:25", "invalid"),
    ],
)
def test_bad_targets_are_one_line_errors(target: str, words: str) -> None:
    result = invoke(target)
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr


def test_bad_options_exit_3() -> None:
    assert invoke("--style", "fancy", "127.0.0.1").exit_code == 3
    assert invoke("--ca-file", "/nonexistent/ca.pem", "127.0.0.1").exit_code == 3
    assert invoke("--port", "0", "127.0.0.1").exit_code == 3
