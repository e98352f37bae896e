"""STARTTLS: offered, handshake, and the certificate facts, against aiosmtpd with trustme CAs."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import pytest
import trustme

from probe.model.message import OutgoingMessage
from probe.model.smtp import Conversation, Outcome
from probe.report.transcript import render_arrows
from probe.send.converse import converse
from probe.send.tls import matches_name
from tests.lab.smtp_peers import Recorder, aiosmtpd_server, options, raw_server, scripted


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def talk(cert: trustme.LeafCert, msg: OutgoingMessage | None = None, **kw: object) -> Conversation:
    async def go() -> Conversation:
        handler = Recorder()
        ctx = server_context(cert)
        async with aiosmtpd_server(handler, tls_context=ctx, require_starttls=False) as port:
            return await converse("mx.test", "127.0.0.1", options(port, **kw), msg)

    return asyncio.run(go())


def test_valid_certificate(ca: trustme.CA, ca_file: str) -> None:
    msg = OutgoingMessage("a@x.test", ("b@mx.test",), b"Subject: tls\r\n\r\nhi\r\n")
    conv = talk(ca.issue_cert("mx.test"), msg, ca_file=ca_file)
    assert conv.outcome is Outcome.ACCEPTED, conv.reason
    tls = conv.tls
    assert tls.offered and tls.attempted and tls.handshake_ok
    assert tls.protocol and tls.protocol.startswith("TLS") and tls.cipher
    cert = tls.certificate
    assert cert is not None
    assert cert.sans == ("DNS:mx.test",)
    assert cert.valid_for_host and cert.chain_verifies and not cert.expired
    assert cert.not_after is not None and cert.not_after > dt.datetime.now(dt.UTC)
    assert len(cert.sha256) == 64
    assert conv.ehlo_after_tls is not None and conv.capabilities_after_tls
    assert "STARTTLS" in conv.capabilities and "STARTTLS" not in conv.capabilities_after_tls
    assert [s.name for s in conv.steps][:6] == [
        "connect",
        "banner",
        "ehlo",
        "starttls",
        "tls",
        "ehlo-tls",
    ]


def test_lines_after_the_handshake_are_marked_encrypted(ca: trustme.CA, ca_file: str) -> None:
    conv = talk(ca.issue_cert("mx.test"), ca_file=ca_file)
    texts = [line.text for line in conv.transcript]
    first = next(i for i, text in enumerate(texts) if text.startswith("TLS started: TLS"))
    assert [line.encrypted for line in conv.transcript] == [i >= first for i in range(len(texts))]
    arrows = render_arrows(conv).splitlines()
    assert "<-  220 Ready to start TLS" in arrows and " ~> EHLO probe.invalid" in arrows
    assert " -> STARTTLS" in arrows and " ~> QUIT" in arrows


def test_unknown_ca_does_not_verify(ca: trustme.CA) -> None:
    conv = talk(ca.issue_cert("mx.test"), system_trust=False)
    assert conv.outcome is Outcome.OK
    cert = conv.tls.certificate
    assert cert is not None and cert.valid_for_host and not cert.chain_verifies
    assert "issuer" in cert.verify_error


def test_intermediate_chain_verifies(ca: trustme.CA, ca_file: str) -> None:
    child = ca.create_child_ca()
    conv = talk(child.issue_cert("mx.test"), ca_file=ca_file)
    cert = conv.tls.certificate
    assert cert is not None and cert.chain_verifies, cert.verify_error


def test_wrong_name(ca: trustme.CA, ca_file: str) -> None:
    conv = talk(ca.issue_cert("other.test", "*.mx.test"), ca_file=ca_file)
    assert conv.outcome is Outcome.OK
    cert = conv.tls.certificate
    assert cert is not None
    assert not cert.valid_for_host and cert.chain_verifies and not cert.expired


def test_expired(ca: trustme.CA, ca_file: str) -> None:
    now = dt.datetime.now(dt.UTC)
    old = ca.issue_cert(
        "mx.test", not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=2)
    )
    conv = talk(old, ca_file=ca_file)
    assert conv.outcome is Outcome.OK  # the handshake itself succeeds: facts are judged after
    cert = conv.tls.certificate
    assert cert is not None
    assert cert.expired and cert.valid_for_host and not cert.chain_verifies
    assert "expired" in cert.verify_error


def test_no_starttls_option(ca: trustme.CA) -> None:
    conv = talk(ca.issue_cert("mx.test"), starttls=False)
    assert conv.outcome is Outcome.OK
    assert conv.tls.offered and not conv.tls.attempted and conv.tls.certificate is None


async def garbage_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    ehlo = b"250-tls.test\r\n250 STARTTLS\r\n"
    writer.write(b"220 tls.test ESMTP\r\n")
    await reader.readline()
    writer.write(ehlo)
    await reader.readline()
    writer.write(b"220 2.0.0 Ready to start TLS\r\n")
    await writer.drain()
    await reader.read(1)  # the ClientHello starts
    writer.write(b"this is not TLS at all\r\n" * 20)
    await writer.drain()
    await asyncio.sleep(1)


async def refuses_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    ehlo = b"250-tls.test\r\n250 STARTTLS\r\n"
    await scripted(reader, writer, {"EHLO": ehlo, "STARTTLS": b"454 4.7.0 TLS not available\r\n"})


def raw_talk(peer: object) -> Conversation:
    async def go() -> Conversation:
        async with raw_server(peer) as port:  # type: ignore[arg-type]
            return await converse("tls.test", "127.0.0.1", options(port))

    return asyncio.run(go())


def test_handshake_garbage_is_tls_failure() -> None:
    conv = raw_talk(garbage_tls)
    assert (conv.outcome, conv.stage) == (Outcome.TLS_FAILED, "starttls"), conv.reason
    assert conv.tls.offered and conv.tls.attempted and not conv.tls.handshake_ok
    assert conv.tls.error and "\n" not in conv.reason


def test_starttls_refused_continues_in_clear() -> None:
    conv = raw_talk(refuses_tls)
    assert conv.outcome is Outcome.OK
    assert conv.tls.attempted and not conv.tls.handshake_ok
    assert conv.tls.error.startswith("454")


@pytest.mark.parametrize(
    ("sans", "name", "ok"),
    [
        (["DNS:mx.example.com"], "mx.example.com", True),
        (["DNS:MX.Example.COM"], "mx.example.com.", True),
        (["DNS:*.example.com"], "mx.example.com", True),
        (["DNS:*.example.com"], "a.b.example.com", False),
        (["DNS:*.example.com"], "example.com", False),
        (["DNS:*.com"], "example.com", False),
        (["DNS:mx.example.com"], "mx2.example.com", False),
        (["IP:127.0.0.1"], "127.0.0.1", True),
        (["IP:::1"], "[::1]", True),
        (["DNS:127.0.0.1"], "127.0.0.1", False),
        ([], "mx.example.com", False),
    ],
)
def test_name_matching(sans: list[str], name: str, ok: bool) -> None:
    assert matches_name(sans, name) is ok
