"""A check target's findings from what was measured and what its config expects."""

from __future__ import annotations

import dataclasses
import datetime as dt

from probe.decide.check import evaluate
from probe.model.check import Expectation, Expectations, Limit
from probe.model.drift import Drift, DriftBase, DriftItem, DriftKind
from probe.model.mx import MxHost, MxResult, MxSource
from probe.model.smtp import Certificate, Conversation, Outcome, Reply, TlsResult
from probe.model.snapshot import PathSnapshot
from probe.model.status import Status, rank

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
MX = MxResult("example.test", MxSource.MX, (MxHost(10, "mx.example.test", ("192.0.2.10",)),))
CERT = Certificate(subject="CN=mx.example.test", issuer="CN=Example CA",
                   sans=("mx.example.test",), not_before=NOW - dt.timedelta(days=60),
                   not_after=NOW + dt.timedelta(days=90), valid_for_host=True,
                   chain_verifies=True, expired=False, sha256="aa" * 32)
# What a Debian 12 Postfix 3.7 says to EHLO before STARTTLS.
CAPS = ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
        "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
CONV = Conversation(
    host="mx.example.test", address="192.0.2.10", port=25, helo="probe.invalid",
    started_at=NOW, duration_ms=120.0, outcome=Outcome.OK, stage="quit",
    banner=Reply(220, ("mx.example.test ESMTP Postfix (Debian/GNU)",)),
    capabilities=CAPS, capabilities_after_tls=tuple(c for c in CAPS if c != "STARTTLS"),
    tls=TlsResult(offered=True, attempted=True, handshake_ok=True, protocol="TLSv1.3",
                  certificate=CERT),
)


def _status_of(expect: Expectations, **kw: object) -> tuple[dict[Expectation, Status], Status]:
    findings, status = evaluate(expect, now=NOW, **kw)  # type: ignore[arg-type]
    by: dict[Expectation, Status] = {}
    for f in findings:
        by[f.expectation] = max(by.get(f.expectation, Status.OK), f.status, key=rank)
    return by, status


def test_a_healthy_mx_is_ok_with_every_finding_listed() -> None:
    findings, status = evaluate(Expectations(), mx=MX, conversations=(CONV,), now=NOW)
    assert status is Status.OK
    assert {f.expectation for f in findings} == {
        Expectation.REACHABLE, Expectation.STARTTLS, Expectation.CERTIFICATE}
    assert all(f.status is Status.OK for f in findings)


def test_missing_starttls_at_the_level_the_config_sets() -> None:
    plain = dataclasses.replace(CONV, tls=TlsResult(), capabilities=CAPS[:4])
    by, status = _status_of(Expectations(starttls=Status.CRITICAL), mx=MX, conversations=(plain,))
    assert by[Expectation.STARTTLS] is Status.CRITICAL and status is Status.CRITICAL
    assert Expectation.CERTIFICATE not in by  # no TLS, no certificate: the STARTTLS finding says it


def test_certificate_days_warning_and_critical() -> None:
    for days, expected in ((30, Status.OK), (14, Status.WARNING), (3, Status.CRITICAL)):
        cert = dataclasses.replace(CERT, not_after=NOW + dt.timedelta(days=days))
        conv = dataclasses.replace(CONV, tls=dataclasses.replace(CONV.tls, certificate=cert))
        by, _ = _status_of(Expectations(), mx=MX, conversations=(conv,))
        assert by[Expectation.CERTIFICATE] is expected, days


def test_a_certificate_for_another_name_is_critical() -> None:
    cert = dataclasses.replace(CERT, valid_for_host=False)
    conv = dataclasses.replace(CONV, tls=dataclasses.replace(CONV.tls, certificate=cert))
    by, _ = _status_of(Expectations(), mx=MX, conversations=(conv,))
    assert by[Expectation.CERTIFICATE] is Status.CRITICAL


def test_max_size_from_the_advertised_size_and_from_a_threshold_search() -> None:
    expect = Expectations(max_size=Limit(warning=20_000_000, critical=5_000_000, above=False))
    by, _ = _status_of(expect, mx=MX, conversations=(CONV,))
    assert by[Expectation.MAX_SIZE] is Status.WARNING  # SIZE 10240000 < 20 MB
    snap = PathSnapshot(target="example.test", size_limit=1_048_577)
    by, _ = _status_of(expect, mx=MX, conversations=(CONV,), snapshot=snap)
    assert by[Expectation.MAX_SIZE] is Status.CRITICAL


def test_null_mx_unreachable_and_dns_failure() -> None:
    null = MxResult("example.test", MxSource.NULL_MX)
    assert evaluate(Expectations(), mx=null, now=NOW)[1] is Status.CRITICAL
    servfail = MxResult("example.test", MxSource.SERVFAIL, detail="SERVFAIL from 192.0.2.53")
    assert evaluate(Expectations(), mx=servfail, now=NOW)[1] is Status.UNKNOWN
    refused = dataclasses.replace(CONV, banner=None, outcome=Outcome.REFUSED, stage="connect")
    findings, status = evaluate(Expectations(), mx=MX, conversations=(refused,), now=NOW)
    assert status is Status.CRITICAL
    assert "refused at connect" in findings[0].summary


def test_drift_is_rated_per_kind() -> None:
    drift = Drift("a", "b", DriftBase.BASELINE, (
        DriftItem(DriftKind.HOP_ADDED, "filter.example.test", "", "filter.example.test",
                  "a new hop in the path: filter.example.test"),
        DriftItem(DriftKind.BANNER, "mx", "x", "y", "mx: the banner changed"),
    ))
    expect = Expectations(same_hops=Status.CRITICAL, drift=Status.WARNING)
    findings, status = evaluate(expect, mx=MX, conversations=(CONV,), drift=drift, now=NOW)
    assert status is Status.CRITICAL
    texts = [f.summary for f in findings if f.status is not Status.OK]
    assert texts == ["since baseline: a new hop in the path: filter.example.test",
                     "since baseline: mx: the banner changed"]
    assert evaluate(Expectations(drift=None, same_hops=None), mx=MX, conversations=(CONV,),
                    drift=drift, now=NOW)[1] is Status.OK


def test_an_interrupted_target_is_never_ok() -> None:
    assert evaluate(Expectations(), mx=MX, conversations=(CONV,), now=NOW,
                    interrupted=True)[1] is Status.UNKNOWN
