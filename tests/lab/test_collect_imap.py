"""IMAP login, TLS policy and folder discovery against a small scripted IMAP server on loopback.

The server is a plain `asyncio.start_server` callback (real sockets, real TLS via trustme): it
speaks just enough IMAP for probe to connect, upgrade, log in and LIST. The real-server tests
are in tests/mta; these run everywhere.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trustme

from probe.collect import imap_login
from probe.collect.imap import ImapMailbox
from probe.collect.mailboxes import open_mailbox
from probe.collect.secrets import Secret
from probe.collect.urls import parse_mailbox_url
from probe.errors import MailboxError

PASSWORD = "s3cret-Imap-pw"
LIST = (
    b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
    b'* LIST (\\HasNoChildren \\Junk) "/" "Quarantine"\r\n'
    b'* LIST (\\HasNoChildren) "/" "[Gmail]/Spam"\r\n'
    b'* LIST (\\HasNoChildren) "/" "Archive &AMQ-"\r\n'
    b'* LIST (\\Noselect \\HasChildren) "/" "[Gmail]"\r\n'
)


def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return server, tmp_path / "ca.pem"


def imap_server(
    tls: ssl.SSLContext, *, starttls: bool = True
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    caps = b"IMAP4rev1 AUTH=PLAIN IDLE" + (b" STARTTLS" if starttls else b"")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY " + caps + b"] scripted server ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            command = rest.split(b" ", 1)[0].upper()
            if command == b"CAPABILITY":
                writer.write(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif command == b"STARTTLS" and starttls:
                writer.write(tag + b" OK begin TLS\r\n")
                await writer.drain()
                await writer.start_tls(tls)
            elif command == b"LOGIN":
                if PASSWORD.encode() in rest:
                    writer.write(tag + b" OK logged in\r\n")
                else:
                    writer.write(tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
            elif command == b"LIST":
                writer.write(LIST + tag + b" OK list done\r\n")
            elif command == b"LOGOUT":
                writer.write(b"* BYE bye\r\n" + tag + b" OK logout\r\n")
                await writer.drain()
                break
            else:
                writer.write(tag + b" BAD not scripted\r\n")
            await writer.drain()
        writer.close()

    return handle


def run(
    tmp_path: Path,
    *,
    scheme: str = "imap",
    starttls: bool = True,
    password: str = PASSWORD,
    **options: object,
) -> tuple[tuple[str, bool], ...]:
    server_tls, ca = tls_pair(tmp_path)
    options.setdefault("ca_file", ca)

    async def main() -> tuple[tuple[str, bool], ...]:
        server = await asyncio.start_server(
            imap_server(server_tls, starttls=starttls),
            "127.0.0.1",
            0,
            ssl=server_tls if scheme == "imaps" else None,
        )
        port = server.sockets[0].getsockname()[1]
        try:
            box = await open_mailbox(
                f"{scheme}://u%40example.test@127.0.0.1:{port}/INBOX",
                password=Secret(password),
                timeout=5,
                **options,  # type: ignore[arg-type]
            )
            assert isinstance(box, ImapMailbox)
            await box.close()
            return box.folders
        finally:
            server.close()

    return asyncio.run(main())


EXPECTED_FOLDERS = (("INBOX", False), ("Quarantine", True), ("[Gmail]/Spam", True))


@pytest.mark.parametrize("scheme", ["imap", "imaps"])
def test_login_and_junk_folders_by_special_use_and_name(tmp_path: Path, scheme: str) -> None:
    assert run(tmp_path, scheme=scheme) == EXPECTED_FOLDERS


def test_wrong_password_is_one_line_without_the_password(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    wrong = "Wr0ng-pa55word"
    with pytest.raises(MailboxError) as info:
        run(tmp_path, password=wrong)
    message = str(info.value)
    assert message == (
        "IMAP login refused for u@example.test@127.0.0.1: "
        "[AUTHENTICATIONFAILED] Authentication failed."
    )
    assert wrong not in repr(info.value) and info.value.__cause__ is None
    out, err = capfd.readouterr()
    assert wrong not in out + err


def test_plaintext_login_refused_without_starttls(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="offers no STARTTLS; refusing to send the password"):
        run(tmp_path, starttls=False)
    assert run(tmp_path, starttls=False, insecure=True) == EXPECTED_FOLDERS


def test_certificate_checked_unless_insecure(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="TLS certificate of IMAP server .* not trusted"):
        run(tmp_path, scheme="imaps", ca_file=None)
    assert run(tmp_path, scheme="imaps", ca_file=None, insecure=True) == EXPECTED_FOLDERS


def test_imaplib_command_log_forgets_the_login(tmp_path: Path) -> None:
    """imaplib keeps its last ten commands for debugging; LOGIN with the password must go."""
    server_tls, ca = tls_pair(tmp_path)

    async def main() -> str:
        server = await asyncio.start_server(imap_server(server_tls), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        spec = parse_mailbox_url(f"imap://u@127.0.0.1:{port}/INBOX")
        context = ssl.create_default_context(cafile=str(ca))
        try:
            secret = Secret(PASSWORD)
            conn = await asyncio.to_thread(
                imap_login.login, spec, secret, secret.redactor(spec.user), context, False, 5
            )
            state = repr(vars(conn))
            await asyncio.to_thread(conn.logout)
            return state
        finally:
            server.close()

    state = asyncio.run(main())
    assert PASSWORD not in state and "_cmd_log" in state


def test_missing_password_and_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="needs a password: set PROBE_IMAP_PASSWORD"):
        asyncio.run(open_mailbox("imaps://u@127.0.0.1:1/INBOX"))
    with pytest.raises(MailboxError) as info:
        asyncio.run(open_mailbox("imaps://u@127.0.0.1:1/INBOX", password=Secret("x"), timeout=2))
    assert str(info.value).startswith("IMAP connect with 127.0.0.1:1 failed:")
    assert "\n" not in str(info.value)
