"""Matching copies to probes and telling bounces apart (pure)."""

from __future__ import annotations

from probe.collect.match import identify, looks_like_bounce, may_concern_probe, run_ids_of
from tests.mta.messages import bounce_for, probe_id, tagged

PID = probe_id("control")


def test_identify_only_wanted_ids() -> None:
    assert identify(tagged(PID), [PID]) is not None
    assert identify(tagged(PID), [probe_id("other")]) is None
    assert identify(tagged(PID), []) is None


def test_rfc2047_encoded_subject_still_matches() -> None:
    # A hop that tagged the Subject re-encoded it (as e.g. Exchange does for non-ASCII tags).
    raw = tagged(PID, x_probe_id=False, message_id=False, subject=False)
    raw = raw.replace(
        b"Subject: hello", f"Subject: =?utf-8?q?=5BEXTERN=5D_=5Bprobe_{PID}=5D?=".encode()
    )
    raw = raw.replace(f"probe-id: {PID}".encode(), b"")
    match = identify(raw, [PID])
    assert match is not None and match.matched_by == "subject"


def test_bounce_detection() -> None:
    assert looks_like_bounce(bounce_for(PID))
    assert not looks_like_bounce(tagged(PID))
    qmail = b"From: MAILER-DAEMON@example.test\r\nSubject: failure notice\r\n\r\nHi.\r\n"
    assert looks_like_bounce(qmail)
    assert looks_like_bounce(b"Return-Path: <>\r\nSubject: x\r\n\r\n")
    assert identify(bounce_for(PID), [PID]) is None


def test_run_ids_and_prefilter() -> None:
    assert run_ids_of([PID, probe_id("x"), probe_id("y", run="20240502T000000-ffffff")]) == (
        "20240501T120000-abc123",
        "20240502T000000-ffffff",
    )
    assert may_concern_probe(tagged(PID))
    assert not may_concern_probe(b"Subject: hi\r\n\r\nno ids\r\n")
