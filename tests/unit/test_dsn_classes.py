"""Bounces of each class issue 14 names, from fixtures under tests/data/dsn/ typed by hand.

Which real format each fixture follows (product, version):
- google-groups.eml: Google Groups' rejection notice (googlegroups.com, 2019-2024), text only.
- gmail-delay.eml: Gmail's "Delivery incomplete" delay notice (googlemail.com, 2020-2024).
- workmail.eml: Amazon WorkMail / SES 2016-2024: delivery-status fields inside the
  quoted-printable text/plain part, no message/delivery-status part.
- postfix-delay-nomime.eml: Postfix 3.x delay warning (bounce(8), `delay_warning_time`) as it
  reads when the MIME structure is lost: the fields in the body's text.
- exim-forms.eml: Exim 4.9x plain-text bounce with the list forms Exim and GMX write: a one-line
  `  <addr>: 550 5.1.1 ...`, an unindented `"addr":` (GMX's Exim), a bare local part (a local
  delivery) and the usual indented address with its host and reply.
- zoho.eml: Zoho Mail bounce (mailer-daemon@mail.zoho.com): `ERROR_CODE :550, ERROR_CODE :5.1.1`.
- yahoo.eml: Yahoo Mail's qmail-derived bounce with `Remote host said: 550: ...`.
- generic-status.eml: Exim 4.9x RFC 3464 report: `Status: 5.0.0`, the specific `550 5.7.26` in
  the Diagnostic-Code; a second recipient with `X-Unix; 255` (a pipe's exit status).
- yahoo-jp-given-up.eml: Yahoo! JAPAN's qmail-style notice after giving up: the enhanced code in
  the reason's words (`[#4.1.9]`), no reply code.
- sendmail-banner.eml: Sendmail 8.17 legacy text bounce whose transcript starts with the 220
  banner and a 250.
"""

from __future__ import annotations

from pathlib import Path

from probe.analyze.bounce.dsn import parse_bounce
from probe.analyze.bounce.recipient import MAX_RECIPIENTS
from probe.model.bounce import Bounce, BounceKind, ParseFlag, Reader, StatusClass
from probe.model.json import from_data, to_data

DATA = Path(__file__).parents[1] / "data" / "dsn"
RUN = "20250301T101500-a1b2c3"


def _bounce(name: str, *, line_end: bytes = b"\r\n") -> Bounce:
    raw = (DATA / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", line_end)
    bounce = parse_bounce(raw)
    assert bounce is not None, name
    assert from_data(Bounce, to_data(bounce)) == bounce
    return bounce


def test_google_groups_text_only_notice() -> None:
    bounce = _bounce("google-groups.eml")
    assert bounce.kind is BounceKind.NOTICE
    assert bounce.probe_ids == (f"{RUN}.control",)
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "probe-list@googlegroups.com"
    assert ParseFlag.RECIPIENT_FROM_HEADERS in rcpt.flags
    assert (rcpt.status, rcpt.smtp_code) == (None, None)
    assert {ParseFlag.STATUS_NOT_STATED, ParseFlag.CODE_NOT_STATED} <= set(rcpt.flags)
    assert rcpt.status_class is StatusClass.PERMANENT and rcpt.reader is Reader.NOTICE


def test_gmail_delay_notice_is_delayed() -> None:
    bounce = _bounce("gmail-delay.eml")
    assert bounce.kind is BounceKind.NOTICE
    (rcpt,) = bounce.recipients
    assert rcpt.final_recipient == "nobody@example.net"
    assert rcpt.status_class is StatusClass.DELAYED and rcpt.action == "delayed"
    assert rcpt.status is None and ParseFlag.STATUS_NOT_STATED in rcpt.flags


def test_fields_in_a_text_part() -> None:
    bounce = _bounce("workmail.eml")
    assert bounce.kind is BounceKind.TEXT_FIELDS
    assert bounce.reporting_mta == "a27-85.smtp-out.us-west-2.amazonses.com"
    (rcpt,) = bounce.recipients
    assert (rcpt.final_recipient, rcpt.status, rcpt.smtp_code) == (
        "nobody@example.net",
        "5.1.1",
        550,
    )
    assert rcpt.reader is Reader.TEXT_FIELDS
    assert any(s.field == "status" and s.text == "Status: 5.1.1" for s in rcpt.sources)


def test_postfix_delay_report_without_mime() -> None:
    bounce = _bounce("postfix-delay-nomime.eml")
    assert bounce.kind is BounceKind.TEXT_FIELDS
    assert bounce.status_class is StatusClass.DELAYED
    (rcpt,) = bounce.recipients
    assert (rcpt.status, rcpt.smtp_code, rcpt.action) == ("4.4.1", None, "delayed")
    assert ("X-Postfix-Queue-ID", "4Q1xyz0AbC") in bounce.extra_fields


def test_exim_recipient_forms_once_each() -> None:
    bounce = _bounce("exim-forms.eml")
    assert bounce.kind is BounceKind.EXIM_LEGACY
    got = [(r.final_recipient, r.status, r.smtp_code) for r in bounce.recipients]
    assert got == [
        ("gone@example.com", "5.1.1", 550),
        ("full@example.net", "5.2.2", 552),
        ("postmaster-local", None, None),
    ]
    assert ParseFlag.RECIPIENT_LOCAL_PART in bounce.recipients[2].flags
    assert all(r.reader is Reader.EXIM for r in bounce.recipients)


def test_zoho_and_yahoo_reply_code_forms() -> None:
    zoho = _bounce("zoho.eml").recipients
    assert [(r.final_recipient, r.status, r.smtp_code) for r in zoho] == [
        ("nobody@example.net", "5.1.1", 550)
    ]
    (yahoo,) = _bounce("yahoo.eml").recipients
    assert (yahoo.final_recipient, yahoo.status, yahoo.smtp_code) == (
        "nobody@example.net",
        "5.1.1",
        550,
    )


def test_enhanced_code_in_a_notice_reason() -> None:
    bounce = _bounce("yahoo-jp-given-up.eml")
    (rcpt,) = bounce.recipients
    assert (rcpt.final_recipient, rcpt.status, rcpt.smtp_code) == (
        "nobody@example.net",
        "4.1.9",
        None,
    )
    assert rcpt.status_class is StatusClass.TEMPORARY  # failed after retrying: given up
    assert bounce.probe_ids == (f"{RUN}.control",)


def test_generic_status_kept_and_specific_given() -> None:
    bounce = _bounce("generic-status.eml")
    first, local = bounce.recipients
    assert (first.status, first.diagnostic_status, first.specific_status) == (
        "5.0.0",
        "5.7.26",
        "5.7.26",
    )
    assert first.smtp_code == 550
    assert ParseFlag.STATUS_DISAGREES not in first.flags
    assert (local.status, local.smtp_code) == ("5.0.0", None)  # X-Unix; 255 is an exit status


def test_banner_in_transcript_is_not_the_reply() -> None:
    (rcpt,) = _bounce("sendmail-banner.eml").recipients
    assert (rcpt.final_recipient, rcpt.smtp_code, rcpt.status) == (
        "nobody@example.net",
        550,
        "5.1.1",
    )


def test_cr_only_line_ends_keep_the_status() -> None:
    for name in ("postfix.eml", "exim-forms.eml", "workmail.eml"):
        crlf = _bounce(name)
        cr = _bounce(name, line_end=b"\r")
        assert [(r.final_recipient, r.status, r.smtp_code) for r in cr.recipients] == [
            (r.final_recipient, r.status, r.smtp_code) for r in crlf.recipients
        ], name


def test_bounce_forwarded_as_attachment() -> None:
    inner = (DATA / "postfix.eml").read_bytes().replace(b"\r\n", b"\n")
    outer = (
        b"From: Some One <someone@example.org>\nTo: admin@example.org\nSubject: Fwd: bounce\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=fw\n\n--fw\n"
        b"Content-Type: text/plain\n\nsee attached\n--fw\nContent-Type: message/rfc822\n\n"
        + inner
        + b"\n--fw--\n"
    )
    bounce = parse_bounce(outer)
    assert bounce is not None and ParseFlag.FORWARDED in bounce.flags
    assert bounce.recipients[0].final_recipient == "nobody@example.net"
    assert bounce.probe_ids == (f"{RUN}.control",)


def test_bounce_forwarded_inline() -> None:
    inner = (DATA / "postfix.eml").read_bytes().replace(b"\r\n", b"\n")
    outer = (
        b"From: Some One <someone@example.org>\nTo: admin@example.org\n"
        b"Subject: Fwd: Undelivered Mail Returned to Sender\n\n"
        b"---------- Forwarded message ---------\n" + inner
    )
    bounce = parse_bounce(outer)
    assert bounce is not None and bounce.kind is BounceKind.TEXT_FIELDS
    (rcpt,) = bounce.recipients
    assert (rcpt.final_recipient, rcpt.status, rcpt.smtp_code) == (
        "nobody@example.net",
        "5.1.1",
        550,
    )


def test_plain_mail_and_auto_replies_are_not_bounces() -> None:
    for raw in (
        b"From: a@example.org\nSubject: hello\n\nThe meeting could not be delivered on time.\n",
        b"From: noreply@example.com\nSubject: AutoReply: hi\n\nThis inbox is no longer in use.\n",
    ):
        assert parse_bounce(raw) is None


def test_many_recipients_are_cut_and_flagged() -> None:
    lines = "".join(f"  user{i}@example.net\n    550 5.1.1 no such user\n" for i in range(300))
    raw = (
        "From: Mail Delivery System <Mailer-Daemon@smtp.example.com>\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "The following address(es) failed:\n\n" + lines
    ).encode()
    bounce = parse_bounce(raw)
    assert bounce is not None and len(bounce.recipients) == MAX_RECIPIENTS
    assert ParseFlag.TRUNCATED in bounce.flags
    assert len({r.final_recipient for r in bounce.recipients}) == MAX_RECIPIENTS
