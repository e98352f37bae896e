"""Non-delivery reports as a lab hop's MTA writes them: Postfix bounce(8), RFC 3464.

A store-and-forward hop answers 250 before it relays; when the next hop then refuses for good
(5xx at MAIL, RCPT, DATA or end of data) the only trace is the DSN it returns to the envelope
sender. This module writes that DSN byte for byte in the layout of a real Postfix 3.7 report
(tests/data/mta/postfix-dsn.eml): `multipart/report; report-type=delivery-status` with the
"This is the mail system at host ..." notification, a delivery-status part with Postfix's
`X-Postfix-*` fields, and the returned headers (RET=HDRS, or a message above Postfix's
`bounce_size_limit`) or the whole message. The client's DSN parameters are honoured: NOTIFY
without FAILURE (or NEVER) suppresses the report for that recipient, ENVID comes back as
Original-Envelope-Id and ORCPT as Original-Recipient. Pure: data in, bytes out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import textwrap
from collections.abc import Sequence
from typing import Final

from probe.server.records import ListenerRecord, RcptRecord
from probe.server.stamps import postfix_queue_id, rfc5322_date
from probe.smtp.replies import enhanced_status
from probe.smtp.text import one_line

BOUNCE_SIZE_LIMIT: Final = 50000  # Postfix bounce_size_limit: larger messages return headers
LINE_LENGTH: Final = 79  # Postfix bounce_notify_util.c wraps at 79 columns, indent 4
INDENT: Final = "    "
NOTIFICATION: Final = """\
This is the mail system at host {host}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
"""
_XTEXT: Final = re.compile(r"\+([0-9A-Fa-f]{2})")
_CODE: Final = re.compile(r"^(\d{3})[ -]?")


@dataclasses.dataclass(frozen=True)
class Failure:
    """One recipient the next hop refused for good, and where in the dialogue."""

    rcpt: RcptRecord
    reply: str  # the next hop's reply as received (lines joined by CRLF)
    stage: str  # "MAIL FROM", "RCPT TO", "DATA", "end of DATA"; "" for a local decision


@dataclasses.dataclass(frozen=True)
class RemoteMta:
    """The next hop as the bouncing MTA names it: DNS name (None: only an address) and IP."""

    address: str
    name: str | None = None

    @property
    def host(self) -> str:
        return self.name or self.address


def xtext_decode(value: str) -> str:
    """RFC 3461 xtext (`+2B` for `+`) back to text."""
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value)


def params(values: Sequence[str]) -> dict[str, str]:
    """`("RET=HDRS", "ENVID=x")` -> {"RET": "HDRS", "ENVID": "x"} (keys upper-case)."""
    out: dict[str, str] = {}
    for value in values:
        key, _, text = value.partition("=")
        out[key.upper()] = text
    return out


def wants_failure_report(rcpt: RcptRecord) -> bool:
    """RFC 3461: NOTIFY=NEVER, or a NOTIFY list without FAILURE, asks for no failure DSN."""
    notify = params(rcpt.params).get("NOTIFY")
    if notify is None:
        return True
    return "FAILURE" in {n.strip().upper() for n in notify.split(",")}


def reportable(sender: str, failures: Sequence[Failure]) -> tuple[Failure, ...]:
    """The failures a DSN reports: none for the null sender (never bounce a bounce)."""
    if not sender:
        return ()
    return tuple(f for f in failures if wants_failure_report(f.rcpt))


def postfix_dsn(
    host: str,
    record: ListenerRecord,
    data: bytes,
    failures: Sequence[Failure],
    remote: RemoteMta,
    *,
    now: dt.datetime | None = None,
    dsn_queue_id: str | None = None,
    origin: str | None = None,
) -> bytes:
    """The report Postfix on `host` returns to `record.mail_from` for `failures` (CRLF lines).

    `data` is the message as the hop queued it (its own Received on top); `record` the dialogue
    in which it was accepted (queue id, arrival, RET/ENVID, the recipients' NOTIFY/ORCPT).
    `origin` is Postfix's $myorigin, the domain of MAILER-DAEMON (default: `host`).
    """
    now = now or dt.datetime.now(dt.UTC)
    qid = dsn_queue_id or postfix_queue_id(now.timestamp())
    boundary = f"{record.queue_id}.{int(now.timestamp())}/{host}"
    mail = params(record.mail_params)
    date = f"{rfc5322_date(now)} (UTC)"
    headers = [
        f"Received: by {host} (Postfix)",
        f"\tid {qid}; {date}",
        f"Date: {date}",
        f"From: Mail Delivery System <MAILER-DAEMON@{origin or host}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"To: {record.mail_from}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        "Content-Transfer-Encoding: 8bit",
        f"Message-Id: <{now.astimezone(dt.UTC):%Y%m%d%H%M%S}.{qid}@{host}>",
    ]
    lines = [*headers, "", "This is a MIME-encapsulated message.", ""]
    lines += [
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        *NOTIFICATION.format(host=host).splitlines(),
        "",
    ]
    for failure in failures:
        lines += [*_wrap(f"<{failure.rcpt.address}>: {_explanation(failure, remote)}"), ""]
    lines += [
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {host}",
    ]
    if mail.get("ENVID"):
        lines.append(f"Original-Envelope-Id: {xtext_decode(mail['ENVID'])}")
    lines += [
        f"X-Postfix-Queue-ID: {record.queue_id}",
        f"X-Postfix-Sender: rfc822; {record.mail_from}",
        f"Arrival-Date: {rfc5322_date(record.received_at)} (UTC)",
        "",
    ]
    for failure in failures:
        lines += [*_recipient_fields(failure, remote), ""]
    text = "\r\n".join(lines) + "\r\n"
    return text.encode("utf-8", "surrogateescape") + _returned(
        boundary, record, data, mail.get("RET", "").upper()
    )


def _explanation(failure: Failure, remote: RemoteMta) -> str:
    """Postfix's per-recipient sentence: `host x[ip] said: <reply> (in reply to ... command)`."""
    reply = one_line(failure.reply)
    if not failure.stage:
        return _without_codes(reply)
    return (
        f"host {remote.host}[{remote.address}] said: {reply} (in reply to {failure.stage} command)"
    )


def _recipient_fields(failure: Failure, remote: RemoteMta) -> list[str]:
    reply = one_line(failure.reply)
    orcpt = params(failure.rcpt.params).get("ORCPT")
    fields = [f"Final-Recipient: rfc822; {failure.rcpt.address}"]
    if orcpt:
        fields.append(f"Original-Recipient: {xtext_decode(orcpt)}")
    fields += ["Action: failed", f"Status: {_status(reply)}", f"Remote-MTA: dns; {remote.host}"]
    if failure.stage:
        fields += _wrap(f"Diagnostic-Code: smtp; {reply}")
    else:
        fields += _wrap(f"Diagnostic-Code: X-Postfix; {_without_codes(reply)}")
    return fields


def _returned(boundary: str, record: ListenerRecord, data: bytes, ret: str) -> bytes:
    """The third part: headers (RET=HDRS, or too large) or the message, after Return-Path."""
    full = ret != "HDRS" and len(data) <= BOUNCE_SIZE_LIMIT
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    body = data if full else head
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    part = (
        f"--{boundary}\r\n"
        + (
            "Content-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n"
            if full
            else "Content-Description: Undelivered Message Headers\r\n"
            "Content-Type: text/rfc822-headers\r\n"
        )
        + "Content-Transfer-Encoding: 8bit\r\n\r\n"
        + f"Return-Path: <{record.mail_from}>\r\n"
    )
    closing = f"\r\n--{boundary}--\r\n"
    return part.encode("utf-8", "surrogateescape") + body + closing.encode("utf-8")


def _without_codes(reply: str) -> str:
    text = _CODE.sub("", reply, count=1)
    code = reply[:3] if reply[:3].isdigit() else None
    status = enhanced_status(int(code) if code else None, text)
    return text[len(status) :].strip() if status else text.strip()


def _status(reply: str) -> str:
    """The reply's enhanced status code, else the class with `.0.0` as Postfix derives it."""
    code = reply[:3] if reply[:3].isdigit() else "500"
    return enhanced_status(int(code), _CODE.sub("", reply, count=1)) or f"{code[0]}.0.0"


def _wrap(text: str) -> list[str]:
    """Postfix line_wrap(): break at spaces before column 79, continuation lines indented 4."""
    return textwrap.wrap(
        text,
        width=LINE_LENGTH,
        subsequent_indent=INDENT,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [text]
