"""Tagged test messages built with the stdlib, tagged as the brief's contract says (for tests)."""

from __future__ import annotations

import email.message
import email.utils

DOMAIN = "sender.probe.test"


def probe_id(variant: str, run: str = "20240501T120000-abc123") -> str:
    return f"{run}.{variant}"


def tagged(
    pid: str,
    *,
    mail_from: str = f"probe@{DOMAIN}",
    rcpt_to: str = "user@mta.probe.test",
    description: str = "control",
    x_probe_id: bool = True,
    message_id: bool = True,
    subject: bool = True,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A small probe message; drop tags to imitate hops that rewrote them."""
    msg = email.message.EmailMessage()
    msg["From"] = mail_from
    msg["To"] = rcpt_to
    msg["Date"] = email.utils.format_datetime(email.utils.localtime())
    msg["Subject"] = f"[probe {pid}] {description}" if subject else "hello"
    msg["Message-ID"] = f"<probe.{pid}@{DOMAIN}>" if message_id else email.utils.make_msgid()
    if x_probe_id:
        msg["X-Probe-Id"] = pid
    msg["X-Probe"] = "probe/0.1.0 delivery-path test"
    for name, value in extra_headers:
        msg[name] = value
    msg.set_content(f"This is a delivery-path test message.\nprobe-id: {pid}\n")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def bounce_for(pid: str, *, rcpt: str = "nobody@mta.probe.test") -> bytes:
    """A minimal RFC 3464 report returning the probe's headers (for tests without a real MTA)."""
    original = tagged(pid).split(b"\r\n\r\n", 1)[0].decode()
    return (
        "From: MAILER-DAEMON@mx.probe.test (Mail Delivery System)\r\n"
        f"To: probe@{DOMAIN}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.probe.test\r\nOriginal-Envelope-Id: {pid}\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{original}\r\n--B--\r\n"
    ).encode()
