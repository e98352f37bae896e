"""Assertions about real Postfix output, shared by the live `mta` tier and the fixture tests.

The checks of probe's own parsers (received, diff, dsn) run only where those modules exist, so
this file works at every stage of the project; each check names the field it relies on.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from types import ModuleType

from probe.collect.match import identify, looks_like_bounce

MX = "mx.mta.probe.test"
POSTFIX_RECEIVED = re.compile(
    rb"Received: from client\.probe\.test \(localhost \[127\.0\.0\.1\]\)\r\n"
    rb"\tby mx\.mta\.probe\.test \(Postfix\) with ESMTP id ([0-9A-F]+)\r\n"
)


def optional(name: str) -> ModuleType | None:
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def check_postfix_copy(sent: bytes, delivered: bytes, pid: str) -> None:
    match = identify(delivered, [pid])
    assert match is not None and match.matched_by == "x-probe-id"
    assert POSTFIX_RECEIVED.search(delivered), delivered[:600]
    assert f"Subject: [MTA-TAG] [probe {pid}]".encode() in delivered
    assert b"X-Postfix-Checked: yes\r\nX-Probe: probe/" in delivered
    queue_id = POSTFIX_RECEIVED.search(delivered).group(1).decode()  # type: ignore[union-attr]

    received = optional("probe.analyze.received.path")
    if received is not None:
        hops = received.trace(delivered).hops  # origin first
        postfix = [h for h in hops if h.by_host == MX]
        assert len(postfix) == 1, hops
        assert postfix[0].by_product == "Postfix" and postfix[0].with_protocol == "ESMTP"
        assert postfix[0].id == queue_id and postfix[0].from_ip == "127.0.0.1"
        assert hops[-1].with_protocol == "LMTP" and hops[-1].from_helo == MX

    diff = optional("probe.analyze.diff.compare")
    if diff is not None:
        changes = diff.compare(sent, delivered).changes
        by_kind = {(str(c.kind), c.where.lower()): c for c in changes}
        tagged = by_kind.get(("subject-tagged", "subject"))
        assert tagged is not None and "[MTA-TAG]" in tagged.inserted, changes
        added = by_kind.get(("header-added", "x-postfix-checked"))
        assert added is not None and added.after == "yes", changes
        assert added.placement is not None and added.placement.received_above_by == MX


def check_postfix_dsn(raw: bytes, pid: str, rcpt: str) -> None:
    assert looks_like_bounce(raw) and identify(raw, [pid]) is None
    assert b"Content-Type: multipart/report; report-type=delivery-status;" in raw
    assert b"From: Mail Delivery System <MAILER-DAEMON@mta.probe.test>" in raw
    assert b"Reporting-MTA: dns; mx.mta.probe.test" in raw
    assert f"Original-Envelope-Id: {pid}".encode() in raw
    assert f"Final-Recipient: rfc822; {rcpt}".encode() in raw
    assert b"Status: 5.1.1" in raw
    assert b"Remote-MTA: dns; 127.0.0.1" in raw  # Dovecot's LMTP refused it after Postfix's 250

    dsn = optional("probe.analyze.bounce.dsn")
    if dsn is not None:
        bounce = dsn.parse_bounce(raw)
        assert bounce is not None and pid in bounce.probe_ids
        assert bounce.reporting_mta == MX and bounce.original_envelope_id == pid
        (recipient,) = bounce.recipients
        assert recipient.final_recipient == rcpt and recipient.status == "5.1.1"
        assert recipient.action == "failed" and recipient.smtp_code == 550
