"""Post-acceptance rejections in the lab: a store-and-forward hop that meets a 5xx downstream
returns a Postfix-style DSN to the envelope sender (delivered into the scenario's Maildir), and
probe's pipeline finds it and names the hop that reported it."""

from __future__ import annotations

import datetime as dt
import mailbox
import secrets
import smtplib
import time
from pathlib import Path

import pytest

from probe.analyze.bounce.dsn import parse_bounce
from probe.lab import bounce
from probe.lab.runtime import LabInfo, ScenarioInfo
from probe.model.bounce import BounceKind, StatusClass
from probe.model.verdict import Action
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from probe.server.records import ListenerRecord, RcptRecord
from tests.lab.runs import lab_request

SAMPLE = Path(__file__).parents[1] / "data" / "mta" / "postfix-dsn.eml"
SENDER = "probe@probe.invalid"
LIMIT = 2_000_000  # the bounce scenario's MX: message_size_limit


def probe_id(variant: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}.{variant}"


def record(**fields: object) -> ListenerRecord:
    now = dt.datetime(2026, 11, 23, 12, 41, 35, tzinfo=dt.UTC)
    values: dict[str, object] = dict(
        server="mx.mta.probe.test",
        queue_id="D857D2127D6",
        peer="127.0.0.1",
        peer_port=40000,
        local="127.0.0.1",
        local_port=25,
        helo="client.probe.test",
        esmtp=True,
        tls=False,
        tls_protocol=None,
        tls_cipher=None,
        mail_from="sender@mta.probe.test",
        mail_params=("RET=HDRS", "ENVID=20240501T120000-0a0b0c.bounce"),
        rcpts=(RcptRecord("gone@mta.probe.test", ("ORCPT=rfc822;gone@mta.probe.test",)),),
        size=600,
        connected_at=now,
        data_at=now,
        received_at=now,
    )
    values.update(fields)
    return ListenerRecord(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the format


def test_dsn_reproduces_a_real_postfix_report_byte_for_byte() -> None:
    """The sample is a DSN a real Postfix 3.7 wrote (RCPT TO refused by a relayhost given as an
    address); from the same inputs the lab writes the same bytes, after the two headers of the
    final delivery (Return-Path, Delivered-To) and the LMTP Received."""
    sample = SAMPLE.read_bytes()
    head, returned = sample.split(b"Return-Path: <sender@mta.probe.test>\r\n", 1)
    data = returned.rsplit(b"\r\n--D857D2127D6", 1)[0] + b"\r\n\r\nbody\r\n"
    failure = bounce.Failure(
        record().rcpts[0],
        "550 5.1.1 <gone@mta.probe.test> User doesn't exist: gone@mta.probe.test",
        "RCPT TO",
    )
    dsn = bounce.postfix_dsn(
        "mx.mta.probe.test",
        record(),
        data,
        [failure],
        bounce.RemoteMta("127.0.0.1"),
        now=dt.datetime.fromtimestamp(1795437695, dt.UTC),
        dsn_queue_id="EAC8F212C02",
        origin="mta.probe.test",  # this Postfix had myorigin = $mydomain
    )
    expected = sample[sample.index(b"Received: by mx.mta.probe.test") :]
    assert dsn == expected


def test_ret_full_returns_the_message_and_large_messages_only_headers() -> None:
    data = b"Subject: s\r\nX-Probe-Id: 20240501T120000-0a0b0c.x\r\n\r\nthe body\r\n"
    failure = bounce.Failure(record().rcpts[0], "552 5.3.4 Message size exceeds fixed limit", "")
    remote = bounce.RemoteMta("127.0.0.1", "mx.example.test")
    full = bounce.postfix_dsn(
        "relay.test", record(mail_params=("RET=FULL",)), data, [failure], remote
    )
    parsed = parse_bounce(full)
    assert parsed is not None and parsed.returned == "message"
    assert b"Content-Type: message/rfc822\r\n" in full and b"\r\n\r\nthe body\r\n" in full
    assert b"Original-Envelope-Id" not in full
    assert parsed.recipients[0].diagnostic_code == (
        "X-Postfix; Message size exceeds fixed limit"  # no SMTP stage: a local decision
    )
    big = data + b"x" * bounce.BOUNCE_SIZE_LIMIT
    headers = bounce.postfix_dsn("relay.test", record(mail_params=()), big, [failure], remote)
    assert b"Content-Type: text/rfc822-headers\r\n" in headers and b"xxxx" not in headers


@pytest.mark.parametrize(
    ("notify", "wanted"),
    [(None, True), ("FAILURE,DELAY", True), ("NEVER", False), ("SUCCESS,DELAY", False)],
)
def test_notify_decides_whether_a_failure_is_reported(notify: str | None, wanted: bool) -> None:
    rcpt = RcptRecord("a@b.test", () if notify is None else (f"NOTIFY={notify}",))
    failure = bounce.Failure(rcpt, "550 5.1.1 no", "RCPT TO")
    assert bounce.wants_failure_report(rcpt) is wanted
    assert bool(bounce.reportable("s@x.test", [failure])) is wanted
    assert not bounce.reportable("", [failure])  # the null sender never gets a bounce


def test_multi_line_reply_without_enhanced_code_is_quoted_on_one_line() -> None:
    failure = bounce.Failure(record().rcpts[0], "554-first line\r\n554 second line", "DATA")
    dsn = bounce.postfix_dsn(
        "relay.test", record(), b"S: x\r\n\r\n", [failure], bounce.RemoteMta("::1")
    )
    parsed = parse_bounce(dsn)
    assert parsed is not None
    assert parsed.recipients[0].status == "5.0.0"
    assert parsed.recipients[0].diagnostic_code == "smtp; 554-first line 554 second line"
    unwrapped = dsn.replace(b"\r\n    ", b" ")
    assert b"said: 554-first line 554 second line (in reply to DATA command)" in unwrapped


# --------------------------------------------------------------------------- the lab


def big_message(pid: str, size: int) -> bytes:
    head = (
        f"From: {SENDER}\r\nTo: user@bounce.lab.probe.test\r\nSubject: [probe {pid}] big\r\n"
        f"Message-ID: <probe.{pid}@probe.invalid>\r\nX-Probe-Id: {pid}\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * (size // len(line) + 1)


def send(info: ScenarioInfo, data: bytes, mail: list[str], rcpt: list[str]) -> tuple[int, bytes]:
    with smtplib.SMTP(info.address, info.port, timeout=10) as client:
        client.ehlo("client.example")
        assert client.has_extn("dsn")
        code, _ = client.mail(SENDER, mail)
        assert code == 250
        code, _ = client.rcpt(f"user@{info.domain}", rcpt)
        assert code == 250
        return client.data(data)


def dsns(info: ScenarioInfo, pid: str, wait: float) -> list[bytes]:
    """The reports in the scenario's Maildir that name `pid`, waiting up to `wait` s for one."""
    deadline = time.monotonic() + wait
    while True:
        box = mailbox.Maildir(info.maildir, create=False)
        found = [
            raw
            for raw in (box.get_bytes(k) for k in box.keys())
            if raw.startswith(b"Return-Path: <>") and pid.encode() in raw
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_relay_accepts_then_returns_a_dsn_for_a_message_over_the_mx_limit(lab: LabInfo) -> None:
    info = lab.scenario("bounce")
    pid = probe_id("size-3m")
    started = time.monotonic()
    code, text = send(
        info,
        big_message(pid, LIMIT + 100_000),
        ["RET=HDRS", f"ENVID={pid}"],
        ["NOTIFY=FAILURE,DELAY", f"ORCPT=rfc822;user@{info.domain}"],
    )
    assert code == 250 and text.startswith(b"2.0.0 Ok: queued as ")
    (raw,) = dsns(info, pid, wait=5.0)
    assert time.monotonic() - started < 5.0
    assert raw.startswith(f"Return-Path: <>\r\nDelivered-To: {SENDER}\r\n".encode())
    found = parse_bounce(raw)
    assert found is not None and found.kind is BounceKind.RFC3464
    assert found.reporting_mta == f"relay.{info.domain}"
    assert found.original_envelope_id == pid
    assert found.probe_ids == (pid,)
    assert (
        found.returned == "headers" and found.original_message_id == f"<probe.{pid}@probe.invalid>"
    )
    assert found.status_class is StatusClass.PERMANENT
    (rcpt,) = found.recipients
    assert rcpt.remote_mta == f"mx.{info.domain}"
    assert rcpt.status == "5.3.4" and rcpt.smtp_code == 552
    assert rcpt.diagnostic_code == "smtp; 552 5.3.4 Message size exceeds fixed limit"
    assert rcpt.original_recipient == f"user@{info.domain}"
    assert (
        b"said:\r\n    552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA" in raw
    )


def test_notify_never_or_without_failure_gets_no_dsn(lab: LabInfo) -> None:
    info = lab.scenario("bounce")
    silent = [probe_id("never"), probe_id("success")]
    for pid, notify in zip(silent, ["NEVER", "SUCCESS"], strict=True):
        code, _ = send(info, big_message(pid, LIMIT + 1000), [], [f"NOTIFY={notify}"])
        assert code == 250
    reported = probe_id("failure")
    assert send(info, big_message(reported, LIMIT + 1000), [], [])[0] == 250
    assert dsns(info, reported, wait=5.0)  # the relay has worked through the queue by now
    time.sleep(0.2)
    assert not any(dsns(info, pid, wait=0) for pid in silent)


def test_a_message_under_the_limit_is_delivered_not_bounced(lab: LabInfo) -> None:
    info = lab.scenario("bounce")
    pid = probe_id("small")
    assert send(info, big_message(pid, 1000), [f"ENVID={pid}"], [])[0] == 250
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        box = mailbox.Maildir(info.maildir, create=False)
        copies = [r for r in (box.get_bytes(k) for k in box.keys()) if pid.encode() in r]
        if copies:
            break
        time.sleep(0.05)
    assert len(copies) == 1 and copies[0].startswith(f"Return-Path: <{SENDER}>".encode())


# --------------------------------------------------------------------------- the pipeline

PROFILE = """
name = "test-bounce"
description = "control and one variant over the MX's limit"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-3m"
description = "3 MB, over the MX's 2,000,000 bytes"
size = "3MB"
"""


def test_pipeline_names_the_relay_that_bounces(lab: LabInfo) -> None:
    info = lab.scenario("bounce")
    profile = parse_profile(PROFILE, source="<test>", loader=file_loader)
    req = lab_request(lab, "bounce", profile, mailbox=f"maildir:{info.maildir}", collect_for=10.0)
    run = perform(req, deadline=60.0)
    result = run.result
    assert run.error is None and result.decision is not None
    bounces = [
        (str(h.key), a)
        for h in result.decision.hops
        for a in h.actions
        if a.action is Action.BOUNCES
    ]
    assert bounces, [(h.key, [a.action for a in h.actions]) for h in result.decision.hops]
    ((key, action),) = bounces
    assert key == f"relay.{info.domain}"
    assert action.rule == "dsn" and action.variants == ("size-3m",)
    assert "552 5.3.4 Message size exceeds fixed limit" in action.summary
    evidence = {e.text for e in action.evidence}
    assert f"Reporting-MTA: relay.{info.domain}" in evidence
    assert f"Remote-MTA: mx.{info.domain}" in evidence
