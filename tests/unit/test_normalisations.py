"""Changes that keep the meaning are not rewrites (issue 10 item 8): an address field written in
another form, refolding, and the bookkeeping a delivery agent writes into the stored copy.

The delivered copies are in the forms real software writes: Postfix 3.7's cleanup(8) rewrites
`To: <user@example.com>` as `To: user@example.com` (the canonical form of an address without a
display name); Dovecot 2.3 writes Status, X-Status, X-Keywords, X-UID and Content-Length into
the headers of an mbox message (doc/wiki/MailboxFormat.mbox); Postfix 3.7 local(8) adds
Delivered-To and Return-Path. A first hop reached from 127.0.0.1 is no "loopback-filter,
re-injection" (tests/data/mta/postfix-delivered.eml, written by Postfix 3.7 and Dovecot 2.3).
"""

from __future__ import annotations

from pathlib import Path

from probe.analyze.diff.compare import compare
from probe.analyze.received.path import trace
from probe.decide.decision import decide
from probe.model.diff import ChangeKind
from probe.model.smtp import Outcome
from probe.model.status import Status
from probe.model.trace import HopKind
from probe.model.verdict import Action
from tests.unit.test_decide import RUN, conversation, reply, run_of, send

PID = f"{RUN}.control"
RECEIVED = (
    "Received: from probe.test (probe.test [192.0.2.1])\r\n\tby mx.example.com (Postfix) "
    "with ESMTP id D6174212F2\r\n\tfor <user@example.com>; Thu, 18 Mar 2010 14:19:35 +0000\r\n"
)


def message(to: str, sender: str = "probe@sender.test") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: [probe {PID}] control\r\n"
        f"Message-ID: <probe.{PID}@sender.test>\r\nX-Probe-Id: {PID}\r\n"
        f"Date: Thu, 18 Mar 2010 14:19:34 +0000\r\n\r\nprobe-id: {PID}\r\n"
    ).encode()


def findings(sent: bytes, delivered: bytes) -> list[tuple[ChangeKind, str]]:
    return [(c.kind, c.where) for c in compare(sent, delivered).findings]


def test_an_address_written_in_another_form_is_no_change() -> None:
    for before, after in (
        ("<user@example.com>", "user@example.com"),  # Postfix cleanup(8)
        ('"User Name" <user@example.com>', "User Name <user@example.com>"),
        ("=?utf-8?q?J=C3=B6rg?= <user@example.com>", '"Jörg" <user@example.com>'),
        ("User Name\r\n <user@example.com>", "User Name <user@example.com>"),  # refolded
    ):
        result = compare(message(before), (RECEIVED + message(after).decode()).encode())
        assert result.findings == (), (before, after, result.findings)
        listed = [c for c in result.changes if c.kind is ChangeKind.HEADER_MODIFIED]
        assert all(c.trace for c in listed)


def test_a_display_name_that_really_changed_is_still_a_finding() -> None:
    sent = message('"Alice" <user@example.com>')
    delivered = (RECEIVED + message('"Bob" <user@example.com>').decode()).encode()
    assert findings(sent, delivered) == [(ChangeKind.HEADER_MODIFIED, "To")]
    rewritten = (RECEIVED + message('"Alice" <other@example.com>').decode()).encode()
    assert findings(sent, rewritten) == [(ChangeKind.ADDRESS_REWRITTEN, "To")]


def test_a_delivery_agents_bookkeeping_is_not_injected() -> None:
    sent = message("user@example.com")
    head, _, body = sent.partition(b"\r\n\r\n")
    stored = (
        b"Return-Path: <probe@sender.test>\r\nDelivered-To: user@example.com\r\n"
        + RECEIVED.encode()
        + head
        + b"\r\nStatus: RO\r\nX-Status: \r\nX-Keywords:                                    "
        b"                                            \r\nX-UID: 1\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert findings(sent, stored) == []


def test_neither_is_a_warning_in_the_verdict() -> None:
    sent = {"control": message("<user@example.com>")}
    stored = (
        "Return-Path: <probe@sender.test>\r\nDelivered-To: user@example.com\r\n"
        + RECEIVED
        + message("user@example.com")
        .decode()
        .replace("\r\n\r\n", "\r\nContent-Length: 31\r\nStatus: RO\r\nX-UID: 7\r\n\r\n", 1)
    ).encode()
    ok = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP Postfix",
        caps=("PIPELINING", "STARTTLS"),
        final=reply(250, "2.0.0 Ok: queued as D6174212F2"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    decision = decide(run_of([send("control", ok, sent["control"])], {"control": stored}, sent))
    assert decision.clean and decision.status is Status.OK, decision.headline
    assert not any(a.action is Action.INJECTS for h in decision.hops for a in h.actions)


def test_a_first_hop_reached_from_loopback_is_no_filter_loop() -> None:
    """The real Postfix 3.7 copy of the mta tier (tests/data/mta): probe reached Postfix from
    127.0.0.1, Postfix handed it to Dovecot over LMTP. Neither is a re-injection; the amavis
    loop of tests/data/received/postfix_amavis_lmtp.eml still is."""
    data = Path(__file__).parents[1] / "data"
    result = trace((data / "mta" / "postfix-delivered.eml").read_bytes())
    assert [h.kind for h in result.hops] == [HopKind.NETWORK, HopKind.LMTP]
    assert not any(n.code == "filter-loop" for n in result.notes)
    amavis = trace((data / "received" / "postfix_amavis_lmtp.eml").read_bytes())
    assert [h.kind for h in amavis.hops][2:4] == [HopKind.FILTER, HopKind.FILTER]
