"""Bounces in the formats real MTAs write (fixtures under tests/data/dsn/, typed by hand).

Which real format each fixture follows:
- postfix.eml: Postfix bounce(8) -- "This is the mail system at host ...", the delivery-status
  part with X-Postfix-Queue-ID / X-Postfix-Sender, text/rfc822-headers (RET=HDRS), folded
  Diagnostic-Code as Postfix folds it.
- exim.eml: Exim 4.9x multipart/report bounce (no per-message Arrival-Date, Action before
  Final-Recipient, message/rfc822 returned), as in Exim's `bounce_message_file` default.
- exim-legacy.eml: Exim's plain-text bounce ("------ This is a copy of the message, ...").
- qmail.eml: qmail-send's bounce (qmail-send.c: "Hi. This is the qmail-send program at ...").
- exchange.eml: Exchange 2010-2019 NDR text ("Delivery has failed to these recipients or
  groups:", "Generating server:", `host #550 5.1.1 ... ##`) without a delivery-status part.
- exchange-resolver.eml: Exchange's own RESOLVER.ADR.RecipNotFound NDR text.
- sendmail-legacy.eml: Sendmail 8 before MIME DSNs ("----- The following addresses had
  permanent fatal errors -----", "... while talking to host.:" transcript).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.analyze.bounce.dsn import parse_bounce
from probe.model.bounce import Bounce, BounceKind, StatusClass
from probe.model.json import from_data, to_data

DATA = Path(__file__).parents[1] / "data" / "dsn"
RUN = "20250301T101500-a1b2c3"


def _bounce(name: str) -> Bounce:
    raw = (DATA / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    bounce = parse_bounce(raw)
    assert bounce is not None
    return bounce


def test_postfix_rfc3464() -> None:
    bounce = _bounce("postfix.eml")
    assert bounce.kind == BounceKind.RFC3464
    assert bounce.reporting_mta == "mx.example.net"
    assert bounce.original_envelope_id == f"{RUN}.control"
    assert bounce.arrival_date == dt.datetime(2025, 3, 1, 10, 15, 5, tzinfo=dt.UTC)
    assert ("X-Postfix-Queue-ID", "4Q1xyz0AbC") in bounce.extra_fields
    assert bounce.returned == "headers"
    assert bounce.original_message_id == f"<probe.{RUN}.control@example.org>"
    assert bounce.probe_ids == (f"{RUN}.control",)
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "nobody@example.net"
    assert rcpt.original_recipient == "nobody@example.net"
    assert (rcpt.action, rcpt.status, rcpt.smtp_code) == ("failed", "5.1.1", 550)
    assert rcpt.remote_mta == "mail.example.net"
    assert rcpt.diagnostic_code == (
        "smtp; 550 5.1.1 <nobody@example.net>: Recipient address rejected: "
        "User unknown in local recipient table"
    )
    assert bounce.status_class == StatusClass.PERMANENT
    assert bounce.diagnostic.startswith("permanent: nobody@example.net 5.1.1 550 5.1.1")
    assert bounce.subject == "Undelivered Mail Returned to Sender"
    assert "MAILER-DAEMON@mx.example.net" in bounce.from_addr


def test_exim_rfc3464() -> None:
    bounce = _bounce("exim.eml")
    assert bounce.kind == BounceKind.RFC3464
    assert bounce.reporting_mta == "relay.example.com"
    assert bounce.returned == "message"
    assert bounce.probe_ids == (f"{RUN}.size-1k",)
    (rcpt,) = bounce.recipients
    assert (rcpt.final_recipient, rcpt.action, rcpt.status) == (
        "gone@example.com",
        "failed",
        "5.0.0",
    )
    assert rcpt.remote_mta == "mx.example.com"
    assert rcpt.smtp_code == 550


def test_exim_legacy_text() -> None:
    bounce = _bounce("exim-legacy.eml")
    assert bounce.kind == BounceKind.EXIM_LEGACY
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "full@example.com"
    assert rcpt.remote_mta == "mx2.example.com"
    assert (rcpt.status, rcpt.smtp_code) == ("5.2.2", 552)
    assert rcpt.diagnostic_code == "552 5.2.2 Mailbox full"
    assert bounce.probe_ids == (f"{RUN}.size-1m",)


def test_qmail() -> None:
    bounce = _bounce("qmail.eml")
    assert bounce.kind == BounceKind.QMAIL
    assert bounce.reporting_mta == "mail.example.jp"
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "nobody@example.jp"
    assert rcpt.remote_mta == "192.0.2.44"
    assert rcpt.diagnostic_code == "550 5.1.1 <nobody@example.jp>... User unknown"
    assert (rcpt.status, rcpt.smtp_code, rcpt.status_class) == ("5.1.1", 550, "permanent")
    assert bounce.probe_ids == (f"{RUN}.attach-zip",)


def test_exchange_ndr_with_remote_server() -> None:
    bounce = _bounce("exchange.eml")
    assert bounce.kind == BounceKind.EXCHANGE_NDR
    assert bounce.reporting_mta == "EX01.corp.example.com"
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "alice@partner.example"
    assert rcpt.remote_mta == "mx.partner.example"
    assert (rcpt.status, rcpt.smtp_code) == ("5.1.1", 550)
    assert bounce.probe_ids == (f"{RUN}.eicar",)


def test_exchange_resolver_ndr() -> None:
    bounce = _bounce("exchange-resolver.eml")
    assert bounce.kind == BounceKind.EXCHANGE_NDR
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "nobody@corp.example.com"
    assert rcpt.remote_mta is None
    assert rcpt.diagnostic_code == "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
    assert bounce.probe_ids == (f"{RUN}.control",)


def test_sendmail_legacy() -> None:
    bounce = _bounce("sendmail-legacy.eml")
    assert bounce.kind == BounceKind.SENDMAIL_LEGACY
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "prof@cs.example.edu"
    assert rcpt.remote_mta == "mail.cs.example.edu"
    assert rcpt.diagnostic_code == "550 5.1.1 <prof@cs.example.edu>... User unknown"
    assert bounce.status_class == StatusClass.PERMANENT
    assert bounce.probe_ids == (f"{RUN}.attach-pdf",)


def test_delayed_and_temporary_status_classes() -> None:
    raw = (DATA / "postfix.eml").read_bytes()
    delayed = raw.replace(b"Action: failed", b"Action: delayed").replace(b"5.1.1\n", b"4.4.1\n")
    bounce = parse_bounce(delayed)
    assert bounce is not None and bounce.status_class == StatusClass.DELAYED
    temporary = parse_bounce(raw.replace(b"Status: 5.1.1", b"Status: 4.2.2"))
    assert temporary is not None and temporary.status_class == StatusClass.TEMPORARY


def test_two_recipients_in_one_group() -> None:
    raw = (
        (DATA / "postfix.eml")
        .read_bytes()
        .replace(
            b"Action: failed\n",
            b"Action: failed\nFinal-Recipient: rfc822; other@example.net\nAction: failed\n",
            1,
        )
    )
    bounce = parse_bounce(raw)
    assert bounce is not None
    assert [r.final_recipient for r in bounce.recipients] == [
        "nobody@example.net",
        "other@example.net",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        (DATA / "not-a-bounce.eml").read_bytes(),
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\n\n--x--\n",
    ],
)
def test_not_a_bounce(raw: bytes) -> None:
    assert parse_bounce(raw) is None


def test_truncated_bounce_still_parses() -> None:
    raw = (DATA / "postfix.eml").read_bytes()
    cut = raw[: raw.index(b"Diagnostic-Code")]
    bounce = parse_bounce(cut)
    assert bounce is not None and bounce.recipients[0].status == "5.1.1"


def test_round_trips_through_json() -> None:
    bounce = _bounce("postfix.eml")
    assert from_data(Bounce, to_data(bounce)) == bounce


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=1500))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_bounce(data)
    parse_bounce((DATA / "postfix.eml").read_bytes()[:400] + data)
