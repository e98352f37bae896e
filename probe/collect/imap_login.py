"""Connecting and logging in to the IMAP server: the TLS policy and the one place the password
is sent.

TLS is verified by default (`ca_file` to trust a private CA); `imap://` must upgrade with
STARTTLS before LOGIN unless `insecure` (which also skips certificate checks). The password is a
`Secret` revealed only inside the login call; errors are one line without it, and imaplib's
debug output stays off.
"""

from __future__ import annotations

import imaplib
import ssl
from pathlib import Path

from probe.collect.imap_parse import reply_text as _text
from probe.collect.secrets import MASK, Secret
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError


def tls_context(ca_file: Path | None, insecure: bool) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(f"cannot load CA file {ca_file}: {_text(exc)}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def login(
    spec: MailboxSpec, secret: Secret, context: ssl.SSLContext, insecure: bool, timeout: float
) -> imaplib.IMAP4:
    where = f"{spec.host}:{spec.port}"
    conn: imaplib.IMAP4 | None = None
    stage = "connect"
    try:
        if spec.scheme == "imaps":
            conn = imaplib.IMAP4_SSL(spec.host, spec.port, ssl_context=context, timeout=timeout)
        else:
            conn = imaplib.IMAP4(spec.host, spec.port, timeout=timeout)
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
            _authenticate(conn, spec, secret)
        finally:
            _forget_commands(conn)
        return conn
    except MailboxError:
        logout(conn)
        raise
    except ssl.SSLCertVerificationError as exc:
        logout(conn)
        reason = exc.verify_message or _text(exc)
        raise MailboxError(
            f"TLS certificate of IMAP server {where} not trusted: {reason} (use --ca-file)"
        ) from None
    except imaplib.IMAP4.error as exc:
        logout(conn)
        text = _scrub(_text(exc), secret)
        if stage == "login":
            raise MailboxError(f"IMAP login refused for {spec.display}: {text}") from None
        raise MailboxError(f"IMAP {stage} with {where} failed: {text}") from None
    except (OSError, ssl.SSLError) as exc:
        logout(conn)
        raise MailboxError(f"IMAP {stage} with {where} failed: {_text(exc)}") from None


def _authenticate(conn: imaplib.IMAP4, spec: MailboxSpec, secret: Secret) -> None:
    if "LOGINDISABLED" in conn.capabilities:
        raise MailboxError(f"IMAP server {spec.host} disables LOGIN on this connection")
    user, password = spec.user, secret.reveal()
    if (user + password).isascii():
        conn.login(user, password)
        return
    # imaplib sends LOGIN arguments as ASCII; SASL PLAIN carries UTF-8 (RFC 4616).
    token = b"\0" + user.encode() + b"\0" + password.encode()
    conn.authenticate("PLAIN", lambda _challenge: token)


def _forget_commands(conn: imaplib.IMAP4) -> None:
    """imaplib keeps the last commands (LOGIN with its password) for debugging: drop them."""
    log = getattr(conn, "_cmd_log", None)
    if isinstance(log, dict):
        log.clear()


def logout(conn: imaplib.IMAP4 | None) -> None:
    if conn is None:
        return
    try:
        conn.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to report
        try:
            conn.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _scrub(text: str, secret: Secret) -> str:
    value = secret.reveal()
    return text.replace(value, MASK) if value else text
