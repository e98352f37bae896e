"""Drift on the lab, end to end: a real hop changes between two `probe check` runs that send mail
(it starts adding a header, lowers its size limit, changes its certificate) and the check names
that change; two runs of an unchanged hop name none. The hop is probe's own SMTP engine
(probe.server) delivering to a Maildir that the check collects from."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import trustme
from typer.testing import CliRunner

from probe.cli import app
from probe.lab.behaviours import InjectHeaders, SizeLimit
from probe.server.engine import Behaviour, HopHandler, SmtpHop
from probe.server.maildir import MaildirDelivery
from probe.server.records import Personality
from tests.lab.smtp_peers import ThreadedServer

runner = CliRunner()

PROFILE = """
name = "drift-test"
description = "the control and one 300 kB message"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-300k"
description = "300 kB"
size = "300kB"
"""

CA = trustme.CA()


def tls_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def hop(maildir: Path, port: int, behaviours: Sequence[Behaviour], cert: trustme.LeafCert
        ) -> Callable[[], Any]:
    @contextlib.asynccontextmanager
    async def serve() -> AsyncIterator[int]:
        persona = Personality("mx.drift.test")
        server = SmtpHop(HopHandler(persona, MaildirDelivery(maildir, persona), behaviours),
                         tls_context=tls_context(cert))
        await server.start("127.0.0.1", port)
        try:
            yield server.port
        finally:
            await server.close()

    return serve


@pytest.fixture
def setup(tmp_path: Path) -> Callable[[int, str], list[str]]:
    """(port, extra target lines) -> the check's argv, with its own history and profile."""
    profile = tmp_path / "drift.toml"
    profile.write_text(PROFILE)
    ca = tmp_path / "ca.pem"
    CA.cert_pem.write_to_path(str(ca))

    def args(port: int, extra: str = "") -> list[str]:
        config = tmp_path / "checks.toml"
        config.write_text(
            "[check]\ndeadline = 60\n\n[[target]]\n"
            f'host = "127.0.0.1:{port}"\nprofile = "{profile}"\nto = "user@drift.test"\n'
            f'mailbox = "maildir:{tmp_path / "Maildir"}"\n{extra}'
            '[target.expect]\ncertificate_days = "off"\n'
        )
        return ["check", "--config", str(config), "--db", str(tmp_path / "h.sqlite"),
                "--ca-file", str(ca), "--timeout", "5", "--helo", "probe.invalid", "--json"]

    return args


def check(argv: list[str], hop_factory: Callable[[], Any]) -> dict[str, Any]:
    with ThreadedServer(hop_factory):
        out = runner.invoke(app, argv)
    assert out.exit_code in (0, 1, 2), out.output
    doc = json.loads(out.stdout)
    (target,) = doc["targets"]
    assert not target["interrupted"], target["reason"]
    return dict(target)


def drift_kinds(target: dict[str, Any]) -> list[str]:
    return [item["kind"] for item in (target["drift"] or {}).get("items", [])]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unchanged_hop_no_drift_then_a_header_is_added(
    tmp_path: Path, setup: Callable[..., list[str]]
) -> None:
    port, cert = free_port(), CA.issue_cert("127.0.0.1")
    argv = setup(port)
    first = check(argv, hop(tmp_path / "Maildir", port, (), cert))
    assert first["status"] == "OK", first["findings"]
    copies = first["run"]["collect"]["delivered"]  # kept as header blocks once judged
    assert len(copies) == 2 and all(c["trimmed_from"] > 0 for c in copies)
    big = max(copies, key=lambda c: c["trimmed_from"])
    assert big["trimmed_from"] > 300_000 > 20_000 > len(base64.b64decode(big["raw"]))
    assert base64.b64decode(big["raw"]).endswith(b"\r\n\r\n")
    second = check(argv, hop(tmp_path / "Maildir", port, (), cert))
    assert second["status"] == "OK" and drift_kinds(second) == [], second["drift"]
    tagged = (InjectHeaders((("X-Gateway-Scanned", "yes"),)),)
    third = check(argv, hop(tmp_path / "Maildir", port, tagged, cert))
    assert "injected-headers" in drift_kinds(third), third["drift"]
    item = next(i for i in third["drift"]["items"] if i["kind"] == "injected-headers")
    assert "x-gateway-scanned" in item["after"].lower()
    assert "x-gateway-scanned" not in item["before"].lower()
    assert third["status"] != "OK"


def test_a_lowered_size_limit_is_drift(tmp_path: Path, setup: Callable[..., list[str]]) -> None:
    port, cert = free_port(), CA.issue_cert("127.0.0.1")
    argv = setup(port)
    roomy = (SizeLimit(at_mail=10_000_000, after_data=10_000_000),)
    check(argv, hop(tmp_path / "Maildir", port, roomy, cert))
    tight = (SizeLimit(at_mail=200_000, after_data=200_000),)
    after = check(argv, hop(tmp_path / "Maildir", port, tight, cert))
    assert "verdicts" in drift_kinds(after), after["drift"]
    item = next(i for i in after["drift"]["items"] if i["kind"] == "verdicts")
    assert "rejects" in item["after"] and "rejects" not in item["before"]
    assert after["status"] != "OK"
    bad = [f["summary"] for f in after["findings"] if f["status"] != "OK"]
    assert any("rejects" in s and "since previous" not in s for s in bad), bad  # and the finding


def test_a_changed_certificate_is_drift(tmp_path: Path, setup: Callable[..., list[str]]) -> None:
    port = free_port()
    argv = setup(port)
    check(argv, hop(tmp_path / "Maildir", port, (), CA.issue_cert("127.0.0.1")))
    after = check(argv, hop(tmp_path / "Maildir", port, (), CA.issue_cert("127.0.0.1")))
    assert "certificate" in drift_kinds(after), after["drift"]
    assert after["status"] != "OK"
