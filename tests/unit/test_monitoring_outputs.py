"""The Nagios line against the plugin guidelines' grammar; the Prometheus text parsed back by
prometheus_client's own parser."""

from __future__ import annotations

import datetime as dt
import re

from prometheus_client.parser import text_string_to_metric_families

from probe.model.check import CheckFinding, CheckResult, Expectation, TargetCheck
from probe.model.drift import Drift, DriftBase, DriftItem, DriftKind
from probe.model.snapshot import AddressSnapshot, HopSnapshot, PathSnapshot
from probe.model.status import Status
from probe.report.nagios import label, render_nagios
from probe.report.prometheus import render_prometheus

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
EXPIRY = dt.datetime(2027, 1, 2, tzinfo=dt.UTC)


def _target(name: str, status: Status, *findings: CheckFinding, drift: Drift | None = None,
            starttls: bool = True) -> TargetCheck:
    return TargetCheck(
        result_id=f"20261203T090000-abcdef.{name}", target=name, profile="capabilities",
        vantage="probe-a", started_at=T0, finished_at=T0 + dt.timedelta(seconds=2.5),
        status=status, findings=findings, drift=drift,
        snapshot=PathSnapshot(
            target=name, mx_hosts=(f"mx.{name}",),
            addresses=(AddressSnapshot(f"mx.{name}", "192.0.2.1", True, "ESMTP",
                                       ("STARTTLS",) if starttls else (), starttls,
                                       "aa" * 32, "CN=CA", EXPIRY, True),),
            hops=(HopSnapshot(f"mx.{name}", "Postfix", 0.5, 2.0),),
            size_limit=1_048_577, delivery_seconds=3.25,
        ),
    )


RESULT = CheckResult(
    vantage="probe-a", config="/etc/probe/checks.toml", started_at=T0,
    finished_at=T0 + dt.timedelta(seconds=3), status=Status.CRITICAL,
    targets=(
        _target("ok.test", Status.OK, CheckFinding(Expectation.STARTTLS, Status.OK, "offered")),
        _target("bad.test", Status.CRITICAL,
                CheckFinding(Expectation.STARTTLS, Status.CRITICAL,
                             "mx.bad.test (192.0.2.1): STARTTLS is not offered | really"),
                drift=Drift("a", "b", DriftBase.PREVIOUS, (DriftItem(
                    DriftKind.STARTTLS_VANISHED, "mx.bad.test", "STARTTLS", "",
                    "mx.bad.test: STARTTLS is no longer offered"),)),
                starttls=False),
    ),
)

# The guidelines' perfdata item: 'label'=value[UOM];[warn];[crit];[min];[max]
_LABEL = r"(?:[A-Za-z0-9_]+|'(?:[^'=]|'')+')"
_NUM = r"-?\d+(?:\.\d+)?"
_RANGE = r"(?:@?~?(?:-?\d+(?:\.\d+)?)?:?(?:-?\d+(?:\.\d+)?)?)"
_ITEM = rf"{_LABEL}={_NUM}(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;{_RANGE}){{0,2}}(?:;(?:{_NUM})?){{0,2}}"
_STATUS = "(OK|WARNING|CRITICAL|UNKNOWN)"
_LINE = re.compile(rf"^PROBE CHECK {_STATUS} - [^|\n]+ \| {_ITEM}(?: {_ITEM})*$")


def test_nagios_first_line_follows_the_plugin_grammar() -> None:
    first, *long_output = render_nagios(RESULT).split("\n")
    assert _LINE.match(first), first
    assert first.startswith("PROBE CHECK CRITICAL - 1 of 2 targets not OK: bad.test: ")
    assert "'bad.test delivery'=3.25s;;;0" in first
    assert "'bad.test size limit'=1048577B;;;0" in first
    assert long_output[0] == "CRITICAL bad.test (capabilities)"
    assert "  drift: mx.bad.test: STARTTLS is no longer offered" in long_output
    assert all("|" not in line for line in long_output)


def test_nagios_all_ok_and_labels() -> None:
    ok = CheckResult("v", "", T0, T0, Status.OK, targets=(_target("ok.test", Status.OK),))
    assert render_nagios(ok).startswith("PROBE CHECK OK - 1 of 1 targets OK | targets=1;;;0")
    assert label("it's") == "'it''s'"
    assert label("plain_1") == "plain_1"


def test_prometheus_text_parses_with_prometheus_client() -> None:
    families = {f.name: f for f in text_string_to_metric_families(render_prometheus(RESULT))}
    status = {s.labels["target"]: s.value for s in families["probe_check_status"].samples}
    assert status == {"ok.test": 0.0, "bad.test": 2.0}
    starttls = {s.labels["target"]: s.value for s in families["probe_starttls_offered"].samples}
    assert starttls == {"ok.test": 1.0, "bad.test": 0.0}
    (expiry, *_) = families["probe_certificate_expiry_timestamp_seconds"].samples
    assert expiry.value == EXPIRY.timestamp()
    assert expiry.labels == {"target": "ok.test", "vantage": "probe-a", "mx": "mx.ok.test",
                             "address": "192.0.2.1"}
    hop = [s for s in families["probe_hop_delay_seconds"].samples
           if s.labels["target"] == "ok.test"]
    assert {s.labels["quantile"]: s.value for s in hop} == {"0.5": 0.5, "0.95": 2.0}
    drift = families["probe_drift_changes"].samples
    assert [(s.labels["kind"], s.value) for s in drift] == [("starttls-vanished", 1.0)]
    assert families["probe_size_limit_bytes"].samples[0].value == 1_048_577
