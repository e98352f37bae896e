"""Sent vs delivered: each test changes a crafted message the way a real middlebox does.

The sent messages are built with the stdlib `email` package (tagged like probe's crafted
messages); the delivered copies get the marks real hops leave. Header samples: Postfix Received
lines in the format Postfix's cleanup writes, `X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}` as quoted
in docs/research/fingerprints.md (Check Point MTA, 2010), the Proofpoint URL Defense v3 shape from
the same notes, an Exchange Online Message-ID.
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.analyze.diff.compare import compare
from probe.analyze.diff.parts import parse_tree
from probe.model.diff import ChangeKind, DiffResult
from probe.model.json import from_data, to_data
from probe.model.message import Manifest, PartManifest

PID = "20250301T101500-a1b2c3.control"
BODY = f"Hello,\n\nthis is a delivery-path test.\nprobe-id: {PID}\n"
FOOTER = (
    "\n-- \nThis e-mail and any attachments are confidential. If you are not the intended\n"
    "recipient, please notify the sender and delete it.\n"
)
RECEIVED_FINAL = (
    "Received: from mx1.example.net (mx1.example.net [192.0.2.25])\r\n"
    "\tby mail.example.net (Postfix) with ESMTPS id 4Q1abc2xyz\r\n"
    "\tfor <rcpt@example.net>; Sat, 1 Mar 2025 10:15:03 +0000 (UTC)\r\n"
)
RECEIVED_MX = (
    "Received: from sender.example.org (sender.example.org [198.51.100.7])\r\n"
    "\tby mx1.example.net (Postfix) with ESMTP id 4Q1abc1000\r\n"
    "\tfor <rcpt@example.net>; Sat, 1 Mar 2025 10:15:01 +0000 (UTC)\r\n"
)
LOCAL_TRACE = "Return-Path: <sender@example.org>\r\nDelivered-To: rcpt@example.net\r\n"


def _message(body: str = BODY, **kw: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Probe Sender <sender@example.org>"
    msg["To"] = "rcpt@example.net"
    msg["Subject"] = f"[probe {PID}] control message"
    msg["Date"] = "Sat, 01 Mar 2025 10:15:00 +0000"
    msg["Message-ID"] = f"<probe.{PID}@example.org>"
    msg["X-Probe-Id"] = PID
    msg["X-Probe"] = "probe/0.1.0 delivery-path test"
    msg.set_content(body, **kw)  # type: ignore[arg-type]
    return msg


def _sent(**kw: str) -> bytes:
    return _message(**kw).as_bytes()


def _deliver(data: bytes, extra: str = "") -> bytes:
    """What a two-hop Postfix path plus local delivery prepends."""
    return (LOCAL_TRACE + RECEIVED_FINAL + extra + RECEIVED_MX).encode() + data


def _kinds(result: DiffResult) -> list[str]:
    return [str(c.kind) for c in result.findings]


def _only(result: DiffResult, kind: ChangeKind):  # type: ignore[no-untyped-def]
    hits = [c for c in result.changes if c.kind == kind]
    assert len(hits) == 1, result.changes
    return hits[0]


def test_unchanged_copy_yields_only_trace_headers() -> None:
    sent = _sent()
    result = compare(sent, _deliver(sent))
    assert result.findings == ()
    trace = [(c.where, c.placement.index) for c in result.changes if c.placement]
    assert trace == [("Return-Path", 0), ("Delivered-To", 1), ("Received", 2), ("Received", 3)]
    assert all(c.kind == ChangeKind.TRACE_ADDED and c.trace for c in result.changes)
    assert result.size_delta == len(_deliver(sent)) - len(sent) > 0


def test_copy_stored_with_lf_is_not_a_change() -> None:
    sent = _sent()
    result = compare(sent, _deliver(sent).replace(b"\r\n", b"\n"))
    assert result.findings == ()
    assert _only(result, ChangeKind.LINE_ENDINGS_CHANGED).trace


def test_checkpoint_header_between_received_lines_is_placed() -> None:
    sent = _sent()
    delivered = _deliver(sent, extra="X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}\r\n")
    change = _only(compare(sent, delivered), ChangeKind.HEADER_ADDED)
    assert change.where == "X-CheckPoint"
    assert change.after == "{4BA23672-7-3A6A8C0-7B6}"
    assert change.placement is not None
    assert change.placement.index == 3
    assert change.placement.received_above == 1
    assert change.placement.received_total == 2
    assert change.placement.received_above_by == "mail.example.net"
    assert change.placement.received_below_by == "mx1.example.net"


def test_virus_scanned_header_added_by_the_last_hop() -> None:
    sent = _sent()
    delivered = (LOCAL_TRACE + "X-Virus-Scanned: Debian amavisd-new at example.net\r\n").encode()
    result = compare(sent, delivered + _deliver(sent)[len(LOCAL_TRACE) :])
    change = _only(result, ChangeKind.HEADER_ADDED)
    assert (change.where, change.after) == ("X-Virus-Scanned", "Debian amavisd-new at example.net")
    assert change.placement is not None and change.placement.received_above == 0
    assert change.placement.received_below_by == "mail.example.net"


def test_subject_tag_is_quoted_exactly() -> None:
    sent = _sent()
    delivered = sent.replace(b"Subject: [probe", b"Subject: [EXTERNAL] [probe")
    change = _only(compare(sent, _deliver(delivered)), ChangeKind.SUBJECT_TAGGED)
    assert change.inserted == "[EXTERNAL] "
    assert change.after == f"[EXTERNAL] [probe {PID}] control message"
    assert change.placement is not None


def test_from_rewritten_via_style() -> None:
    sent = _sent()
    delivered = sent.replace(
        b"From: Probe Sender <sender@example.org>",
        b'From: "Probe Sender via Lists" <lists@lists.example.net>',
    )
    change = _only(compare(sent, _deliver(delivered)), ChangeKind.ADDRESS_REWRITTEN)
    assert change.where == "From"
    assert "sender@example.org -> lists@lists.example.net" in change.detail


def test_message_id_replaced_by_exchange() -> None:
    sent = _sent()
    new_id = b"<AM0PR07MB5521A1B2C3D4E5F6A7B8C9D0E1F2@AM0PR07MB5521.eurprd07.prod.outlook.com>"
    delivered = sent.replace(f"<probe.{PID}@example.org>".encode(), new_id)
    change = _only(compare(sent, _deliver(delivered)), ChangeKind.MESSAGE_ID_REPLACED)
    assert change.before == f"<probe.{PID}@example.org>"
    assert change.after == new_id.decode()


def test_removed_header() -> None:
    sent = _sent()
    delivered = sent.replace(b"X-Probe: probe/0.1.0 delivery-path test\r\n", b"")
    change = _only(compare(sent, _deliver(delivered)), ChangeKind.HEADER_REMOVED)
    assert change.where == "X-Probe"


def test_disclaimer_appended_to_text_plain() -> None:
    sent = _sent()
    delivered = _message(BODY + FOOTER).as_bytes()
    result = compare(sent, _deliver(delivered))
    change = _only(result, ChangeKind.BODY_APPENDED)
    assert change.inserted == FOOTER
    assert change.where == "0"
    assert _kinds(result) == ["body-appended"]


def test_external_banner_prepended() -> None:
    banner = "CAUTION: This email originated from outside of the organization.\n\n"
    sent = _sent()
    result = compare(sent, _deliver(_message(banner + BODY).as_bytes()))
    assert _only(result, ChangeKind.BODY_PREPENDED).inserted == banner


def _html(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>\n"


def test_disclaimer_appended_to_html_before_body_end() -> None:
    para = f"<p>probe-id: {PID}</p>"
    note = "<p><i>Confidential: if you received this by mistake, delete it.</i></p>"
    sent = _message(_html(para), subtype="html").as_bytes()
    delivered = _message(_html(para + note), subtype="html").as_bytes()
    change = _only(compare(sent, _deliver(delivered)), ChangeKind.BODY_APPENDED)
    assert change.inserted == note


def test_urls_rewritten_to_urldefense_are_not_a_content_change() -> None:
    url = "https://www.example.org/docs/page?id=42"
    defended = (
        "https://urldefense.com/v3/__https://www.example.org/docs/page?id=42__;"
        "!!ACWV5N9M2RV99hQ!LxYkZ1xZ1aAbCdEf$"
    )
    sent = _message(_html(f'<p><a href="{url}">docs</a> {PID}</p>'), subtype="html").as_bytes()
    delivered = _message(
        _html(f'<p><a href="{defended}">docs</a> {PID}</p>'), subtype="html"
    ).as_bytes()
    result = compare(sent, _deliver(delivered))
    assert _kinds(result) == ["url-rewritten"]
    change = result.findings[0]
    assert (change.before, change.after) == (url, defended)


def test_8bit_to_quoted_printable_is_an_encoding_change() -> None:
    body = BODY + "Grüße aus Zürich, ça va?\n"
    sent = _message(body, cte="8bit").as_bytes()
    delivered = _message(body, cte="quoted-printable").as_bytes()
    result = compare(sent, _deliver(delivered))
    assert _kinds(result) == ["encoding-changed"]
    assert (result.findings[0].before, result.findings[0].after) == ("8bit", "quoted-printable")


def test_charset_latin1_to_utf8_is_a_charset_change_only() -> None:
    body = BODY + "Grüße aus Zürich\n"
    sent = _message(body, charset="iso-8859-1", cte="8bit").as_bytes()
    delivered = _message(body, charset="utf-8", cte="8bit").as_bytes()
    result = compare(sent, _deliver(delivered))
    assert _kinds(result) == ["charset-changed"]
    assert (result.findings[0].before, result.findings[0].after) == ("iso-8859-1", "utf-8")


def _with_attachment(data: bytes, filename: str, maintype: str, subtype: str) -> EmailMessage:
    msg = _message()
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def _rewrap(message: bytes, width: int) -> bytes:
    """Re-wrap every base64 block of a message at `width` columns, as some relays do."""
    head, sep, body = message.partition(b"\r\n\r\n")
    out, block = [], []
    for line in body.split(b"\r\n"):
        if line and len(line) == 76 and not line.startswith(b"--"):
            block.append(line)
            continue
        if block:
            joined = b"".join(block) + line
            out.extend(joined[i : i + width] for i in range(0, len(joined), width))
            block = []
            continue
        out.append(line)
    return head + sep + b"\r\n".join(out)


def test_base64_rewrapped_at_72_columns() -> None:
    payload = bytes(range(256)) * 8
    sent = _with_attachment(payload, "data.bin", "application", "octet-stream").as_bytes()
    delivered = _rewrap(sent, 72)
    assert (
        delivered != sent
        and parse_tree(delivered).leaves[1].sha256 == hashlib.sha256(payload).hexdigest()
    )
    result = compare(sent, _deliver(delivered))
    assert _kinds(result) == ["line-rewrapped"]
    change = result.findings[0]
    assert (change.where, change.before, change.after) == ("2", "76", "72")


def test_exe_replaced_by_text_notice() -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(500)
    sent = _with_attachment(exe, "setup.exe", "application", "x-msdownload").as_bytes()
    notice = "The attachment setup.exe was removed by the mail gateway (policy: executable).\n"
    replaced = _message()
    replaced.add_attachment(notice, filename="setup.exe.removed.txt")
    result = compare(sent, _deliver(replaced.as_bytes()))
    change = _only(result, ChangeKind.ATTACHMENT_REPLACED)
    assert change.where == "2"
    assert "setup.exe" in change.before and "application/x-msdownload" in change.before
    assert change.inserted == notice
    assert _kinds(result) == ["attachment-replaced"]


def test_attachment_renamed_and_removed() -> None:
    sent_msg = _with_attachment(b"%PDF-1.4 test", "report.pdf", "application", "pdf")
    sent_msg.add_attachment(
        b"PK\x03\x04zip", maintype="application", subtype="zip", filename="a.zip"
    )
    renamed = _with_attachment(b"%PDF-1.4 test", "report_scanned.pdf", "application", "pdf")
    result = compare(sent_msg.as_bytes(), _deliver(renamed.as_bytes()))
    assert _kinds(result) == ["attachment-renamed", "part-removed"]
    assert result.findings[1].where == "3"


def test_wrapped_in_multipart_mixed_with_banner_part() -> None:
    sent_msg = _message()
    sent = sent_msg.as_bytes()
    banner = "[External] This message came from outside your organisation.\n"
    wrapped = _message()
    wrapped.make_mixed()
    wrapped.add_attachment(banner, disposition="inline")
    result = compare(sent, _deliver(wrapped.as_bytes()))
    assert _kinds(result) == ["structure-changed", "part-added"]
    structure, added = result.findings
    assert structure.detail == "original text/plain wrapped in a new multipart/mixed"
    assert (added.where, added.inserted) == ("2", banner)


def test_manifest_alone_identifies_parts() -> None:
    exe = b"MZ" + bytes(100)
    sent = _with_attachment(exe, "setup.exe", "application", "x-msdownload").as_bytes()
    tree = parse_tree(sent)
    manifest = Manifest(
        probe_id=PID,
        variant="attach-exe",
        size=len(sent),
        message_id=f"<probe.{PID}@example.org>",
        subject="x",
        parts=(PartManifest("0", "multipart/mixed"),)
        + tuple(
            PartManifest(p.path, p.content_type, filename=p.filename, decoded_sha256=p.sha256)
            for p in tree.leaves
        ),
    )
    stripped = _message()
    result = compare(b"", _deliver(stripped.as_bytes()), manifest)
    removed = [c for c in result.changes if c.kind == ChangeKind.PART_REMOVED]
    assert [c.where for c in removed] == ["2"]


def test_output_is_deterministic_and_round_trips() -> None:
    sent = _sent()
    delivered = _deliver(
        _message(BODY + FOOTER).as_bytes().replace(b"Subject: ", b"Subject: [EXT] "),
        extra="X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}\r\n",
    )
    first, second = compare(sent, delivered), compare(sent, delivered)
    assert first == second
    assert from_data(DiffResult, to_data(first)) == first


def test_truncated_and_garbage_copies_do_not_raise() -> None:
    sent = _with_attachment(b"x" * 3000, "a.bin", "application", "octet-stream").as_bytes()
    truncated = compare(sent, _deliver(sent[: len(sent) // 2]))
    assert truncated.findings  # something is reported, nothing raised
    assert compare(sent, b"\x00\xff garbage \r\n\r\n\x80").findings
    assert compare(b"", b"").changes == ()
    bad_b64 = sent.replace(b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: x")
    compare(sent, bad_b64.replace(b"charset", b'charset="nonexistent-42"; x'))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    compare(_sent(), data)
    compare(data, data)


def test_mime_bomb_depth_is_bounded() -> None:
    parts = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(60)
    )
    raw = ("Subject: x\r\n" + parts + "Content-Type: text/plain\r\n\r\nhi\r\n").encode()
    compare(raw, raw)
    assert base64  # keep the import used for readers who extend the base64 tests


def test_render_quotes_footer_and_places_header() -> None:
    from probe.report.diff import render_diff

    sent = _sent()
    delivered = _deliver(
        _message(BODY + FOOTER).as_bytes(), extra="X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}\r\n"
    )
    text = render_diff(compare(sent, delivered))
    assert "header-added" in text and "3 (1/2 Rcvd above)" in text
    assert "  | recipient, please notify the sender and delete it." in text
    assert "4 trace fields" in text
    assert "no changes besides trace fields" in render_diff(compare(sent, _deliver(sent)))
