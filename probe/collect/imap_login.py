"""Connecting and logging in to the IMAP server: the TLS policy and the one place the password
is sent.

TLS is verified by default (`ca_file` to trust a private CA); `imap://` must upgrade with
STARTTLS before LOGIN unless `insecure` (which also skips certificate checks). imaplib's debug
output stays off.

The password goes on the wire from its `Secret` as a memoryview (LOGIN with a quoted string, or
AUTHENTICATE PLAIN where a quoted string cannot carry it: not ASCII, or CR, LF, NUL), and the
reply to it is read here, each line masked by the `Redactor` before it is held anywhere: a
server that echoes the command shows `********`, and neither imaplib's command log nor a frame
of this module ever holds the password or an echo of it. Errors are one line, masked the same
way.

What the server sends is bounded by the connection classes of `imap_conn`.
"""

from __future__ import annotations

import imaplib
import re
import ssl
import time
from pathlib import Path
from typing import Final

from probe.collect import imap_parse as parse
from probe.collect.imap_conn import Connection, Imap, ImapSSL, budget_for, fresh_budget
from probe.collect.secrets import Redactor, Secret
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError

LOGIN_LINE_MAX: Final = 64 * 1024
LOGIN_LINES_MAX: Final = 1000
TEXT_MAX: Final = 300  # server text in an error message
_ATOM = re.compile(r"^[^(){ %*\"\\\]\x00-\x1f\x7f]+$")


def tls_context(ca_file: Path | None, insecure: bool) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(f"cannot load CA file {ca_file}: {parse.reply_text(exc)}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def login(
    spec: MailboxSpec,
    secret: Secret,
    redact: Redactor,
    context: ssl.SSLContext,
    insecure: bool,
    timeout: float,
) -> imaplib.IMAP4:
    """A connection logged in as `spec.user`; every failure is a one-line MailboxError."""
    where = f"{spec.host}:{spec.port}"
    conn: Connection | None = None
    stage = "connect"
    budget = budget_for(timeout)
    try:
        if spec.scheme == "imaps":
            conn = ImapSSL(
                spec.host, spec.port, ssl_context=context, timeout=timeout, budget=budget
            )
        else:
            conn = Imap(spec.host, spec.port, timeout=timeout, budget=budget)
            if "STARTTLS" in conn.capabilities:
                stage = "STARTTLS"
                conn.starttls(ssl_context=context)
            elif not insecure:
                raise MailboxError(
                    f"IMAP server {where} offers no STARTTLS; refusing to send the password "
                    "in plaintext (use imaps:// or --insecure)"
                )
        conn.debug = 0
        stage = "login"
        try:
            _authenticate(conn, spec, secret, redact, budget)
        finally:
            _forget_commands(conn)
        return conn
    except MailboxError:
        drop(conn)
        raise
    except ssl.SSLCertVerificationError as exc:
        drop(conn)
        reason = exc.verify_message or parse.reply_text(exc)
        raise MailboxError(
            f"TLS certificate of IMAP server {where} not trusted: {reason} (use --ca-file)"
        ) from None
    except (imaplib.IMAP4.error, OSError, ssl.SSLError, ValueError) as exc:
        drop(conn)
        text = server_text(redact, exc)
        refused = isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort)
        if stage == "login" and refused:
            raise MailboxError(f"IMAP login refused for {spec.display}: {text}") from None
        raise MailboxError(f"IMAP {stage} with {where} failed: {text}") from None


def server_text(redact: Redactor, value: object) -> str:
    """Server text (or an error about it) for a message: one line, masked, at most TEXT_MAX."""
    text = redact.text(parse.reply_text(value)[: TEXT_MAX * 4])
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 3] + "..."


def _authenticate(
    conn: Connection, spec: MailboxSpec, secret: Secret, redact: Redactor, budget: float
) -> None:
    """LOGIN, or AUTHENTICATE PLAIN for what a quoted string cannot carry (RFC 4616: UTF-8)."""
    if "LOGINDISABLED" in conn.capabilities:
        raise MailboxError(f"IMAP server {spec.host} disables LOGIN on this connection")
    assert conn.sock is not None
    tag = conn._new_tag()
    conn.tagged_commands.pop(tag, None)  # the reply is read here, not by imaplib
    fresh_budget(conn)
    user = spec.user
    if secret.fits_imap_quoted() and user.isascii() and user.isprintable():
        conn.sock.sendall(
            memoryview(tag + b" LOGIN " + _astring(user) + b" " + secret.imap_quoted() + b"\r\n")
        )
        continuation = None
    else:
        conn.sock.sendall(tag + b" AUTHENTICATE PLAIN\r\n")
        continuation = secret
    status, text = _tagged_reply(conn, tag, redact, continuation, user, budget)
    if status != b"OK":
        raise imaplib.IMAP4.error(text)
    conn.state = "AUTH"


def _tagged_reply(
    conn: Connection,
    tag: bytes,
    redact: Redactor,
    continuation: Secret | None,
    user: str,
    budget: float,
) -> tuple[bytes, bytes]:
    """Read to the tagged reply; every line is masked as it is read. A `+` gets the PLAIN
    response once (then `*`, which cancels, RFC 3501 6.2.2)."""
    assert conn.sock is not None
    replies = conn.replies  # C-level readline: the unmasked line is never in a Python frame
    deadline = time.monotonic() + budget
    for _ in range(LOGIN_LINES_MAX):
        line = redact.data(replies.readline(LOGIN_LINE_MAX + 1))
        if not line.endswith(b"\r\n"):
            too_long = len(line) > LOGIN_LINE_MAX
            raise imaplib.IMAP4.abort(
                "a login reply line too long" if too_long else "connection closed during login"
            )
        if line.startswith(tag + b" "):
            status, _, text = line[len(tag) + 1 :].rstrip(b"\r\n").partition(b" ")
            return status.upper(), text
        if line.startswith(b"+"):
            if continuation is not None:
                conn.sock.sendall(memoryview(b"".join((continuation.sasl_plain(user), b"\r\n"))))
                continuation = None
            else:
                conn.sock.sendall(b"*\r\n")
        elif parse.announced_literal(line) is not None:
            raise imaplib.IMAP4.abort("a literal in the reply to login")
        if time.monotonic() > deadline:
            break
    raise imaplib.IMAP4.abort("no reply to login")


def _astring(user: str) -> bytes:
    """The user as imaplib sent it (an atom), quoted where an atom cannot hold it."""
    if _ATOM.match(user):
        return user.encode("ascii")
    return parse.quote(user).encode("ascii")


def _forget_commands(conn: imaplib.IMAP4) -> None:
    """imaplib keeps its last lines (the greeting, STARTTLS) for debugging: drop them."""
    log = getattr(conn, "_cmd_log", None)
    if isinstance(log, dict):
        log.clear()


def logout(conn: imaplib.IMAP4 | None) -> None:
    """LOGOUT politely; a connection that fails to is dropped."""
    if conn is None:
        return
    try:
        conn.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to report
        drop(conn)


def drop(conn: imaplib.IMAP4 | None) -> None:
    """Close without a word: after a failure the server's next reply is not worth waiting for
    (a hostile one may still be streaming)."""
    if conn is None:
        return
    try:
        conn.shutdown()
    except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to report
        pass
