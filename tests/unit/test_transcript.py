"""Transcript and table renderers (pure: conversations built by hand)."""

from __future__ import annotations

import datetime as dt

from probe.model.smtp import (
    Certificate,
    Conversation,
    Direction,
    Outcome,
    Reply,
    Step,
    TlsResult,
    TranscriptLine,
)
from probe.report.transcript import (
    outcome_line,
    render_arrows,
    render_conversation,
    render_exchange,
    tls_lines,
)

T0 = dt.datetime(2025, 3, 5, 8, 57, 3, 123000, tzinfo=dt.UTC)


def line(ms: float, direction: Direction, text: str, encrypted: bool = False) -> TranscriptLine:
    return TranscriptLine(T0 + dt.timedelta(milliseconds=ms), ms, direction, text, encrypted)


CERT = Certificate(
    subject="CN=mx.example.org",
    issuer="CN=Lab CA",
    sans=("DNS:mx.example.org",),
    not_before=T0 - dt.timedelta(days=10),
    not_after=T0 + dt.timedelta(days=80),
    valid_for_host=False,
    chain_verifies=False,
    expired=False,
    verify_error="unable to get local issuer certificate",
)

CONV = Conversation(
    host="mx.example.org",
    address="2001:db8::25",
    port=25,
    helo="probe.invalid",
    started_at=T0,
    duration_ms=42.0,
    outcome=Outcome.OK,
    stage="quit",
    banner=Reply(220, ("mx.example.org ESMTP Postfix",)),
    ehlo=Reply(250, ("mx.example.org", "SIZE 10485760", "STARTTLS")),
    capabilities=("SIZE 10485760", "STARTTLS"),
    capabilities_after_tls=("SIZE 10485760",),
    tls=TlsResult(True, True, True, "TLSv1.3", "TLS_AES_256_GCM_SHA384", certificate=CERT),
    steps=(
        Step("connect", T0, 1.5, Outcome.OK),
        Step("banner", T0, 3.0, Outcome.OK, Reply(220, ("mx.example.org ESMTP Postfix",))),
    ),
    transcript=(
        line(0, Direction.INFO, "attempting to connect to [2001:db8::25]:25"),
        line(3, Direction.SERVER, "220 mx.example.org ESMTP Postfix"),
        line(4, Direction.CLIENT, "STARTTLS"),
        line(5, Direction.SERVER, "220 2.0.0 Ready, to start TLS"),
        line(9, Direction.INFO, "TLS started: TLSv1.3 TLS_AES_256_GCM_SHA384", True),
        line(10, Direction.CLIENT, "EHLO probe.invalid", True),
        line(11, Direction.SERVER, 'say "hi"', True),
    ),
)


def test_arrows_switch_to_tls_marks() -> None:
    assert render_arrows(CONV).splitlines() == [
        "=== attempting to connect to [2001:db8::25]:25",
        "<-  220 mx.example.org ESMTP Postfix",
        " -> STARTTLS",
        "<-  220 2.0.0 Ready, to start TLS",
        "=== TLS started: TLSv1.3 TLS_AES_256_GCM_SHA384",
        " ~> EHLO probe.invalid",
        '<~  say "hi"',
    ]


def test_exchange_log_fields_and_csv_quoting() -> None:
    lines = render_exchange(CONV).splitlines()
    assert lines[0] == "#Fields: date-time,sequence-number,remote-endpoint,event,data"
    assert lines[1] == (
        "2025-03-05T08:57:03.123Z,0,[2001:db8::25]:25,*,attempting to connect to [2001:db8::25]:25"
    )
    assert (
        lines[4] == '2025-03-05T08:57:03.128Z,3,[2001:db8::25]:25,<,"220 2.0.0 Ready, to start TLS"'
    )
    assert lines[7].endswith(',<,"say ""hi"""')


def test_table_view_names_every_fact() -> None:
    text = render_conversation(CONV)
    assert text.startswith("== mx.example.org [2001:db8::25]:25")
    assert "220 mx.example.org ESMTP Postfix" in text
    assert "capabilities after TLS: SIZE 10485760" in text
    assert "valid for host: NO" in text
    assert "chain verifies: NO (unable to get local issuer certificate)" in text
    assert text.splitlines()[-1] == "outcome: ok at quit after 42 ms"


def test_tls_lines_for_each_state() -> None:
    assert tls_lines(TlsResult()) == ["STARTTLS: not offered"]
    assert tls_lines(TlsResult(offered=True)) == ["STARTTLS: offered, not used"]
    failed = TlsResult(offered=True, attempted=True, error="TLS error: wrong version number")
    assert tls_lines(failed) == ["STARTTLS: offered, failed: TLS error: wrong version number"]


def test_outcome_line_with_reason() -> None:
    conv = Conversation(
        "h", "192.0.2.1", 25, "x", T0, 300.0, Outcome.TIMEOUT, "banner", "no answer in 60 s"
    )
    assert outcome_line(conv) == "outcome: timeout at banner after 300 ms: no answer in 60 s"
    text = render_conversation(conv)
    assert text.startswith("== h 192.0.2.1:25") and "STARTTLS" not in text  # never got to EHLO
