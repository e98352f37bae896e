"""The whole pipeline (resolve, send, collect, analyze, decide) against every lab scenario.

Each test asserts the hop and the action a mail admin would be told, and the clean path asserts
that nobody is accused. Real servers on loopback: the session lab from conftest.
"""

from __future__ import annotations

import json

import pytest

from probe.decide.decision import judge
from probe.lab.runtime import LabInfo
from probe.model.json import document, from_data
from probe.model.run import RUN_SCHEMA, RunResult
from probe.model.smtp import Outcome
from probe.model.status import Status
from probe.model.verdict import Action, HopVerdict
from probe.pipeline.request import SendArgs, build_request
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from tests.lab.runs import lab_request

BASE = """
name = "{name}"
description = "test matrix"
extends = "_base"

[defaults]
min_interval = 0
"""


def variant(vid: str, **fields: object) -> str:
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
    return f'\n[[variant]]\nid = "{vid}"\ndescription = "{vid}"\n{body}'


SIZES = variant("size-100k", size="100kB") + variant("size-600k", size="600kB")
ATTACH = variant("attach-exe", attachments=["exe"]) + variant("attach-zip", attachments=["zip"])


def run_lab(
    lab: LabInfo,
    scenario: str,
    variants: str = "",
    *,
    mailbox: bool = True,
    **options: object,
) -> RunResult:
    info = lab.scenario(scenario)
    profile = parse_profile(
        BASE.format(name=f"test-{scenario}") + variants, source="<test>", loader=file_loader
    )
    req = lab_request(
        lab,
        scenario,
        profile,
        mailbox=f"maildir:{info.maildir}" if mailbox else None,
        collect_for=10.0,
        **options,
    )
    run = perform(req, deadline=60.0)
    assert run.error is None
    return run.result


def hop(result: RunResult, key: str) -> HopVerdict:
    assert result.decision is not None
    for h in result.decision.hops:
        if str(h.key) == key:
            return h
    raise AssertionError(f"no hop {key}: {[str(h.key) for h in result.decision.hops]}")


def actions(result: RunResult, key: str) -> set[Action]:
    return {a.action for a in hop(result, key).actions}


def test_clean_path_accuses_nobody(lab: LabInfo) -> None:
    result = run_lab(lab, "clean", SIZES + ATTACH)
    assert result.decision is not None and result.decision.clean
    assert result.status is Status.OK
    assert all(v.outcome is Outcome.ACCEPTED for v in result.variants)
    assert "No hop interferes" in result.decision.headline[0]
    assert all(not h.actions for h in result.decision.hops)


def test_checkpoint_proxy_rejects_from_exact_threshold_and_injects_header(lab: LabInfo) -> None:
    extra = variant("size-1m", size="1MB") + variant("size-1200k", size="1200kB")
    result = run_lab(lab, "checkpoint", extra, threshold=True, threshold_k=8)
    box = hop(result, "front:mx.checkpoint.lab.probe.test")
    assert not box.visible and any("Check Point" in p for p in box.products)
    assert "Check Point-style SMTP proxy in front of mx.checkpoint" in box.name
    rejects = next(a for a in box.actions if a.action is Action.REJECTS)
    assert "1,048,577 bytes and more" in rejects.condition
    assert "554 Permanent scan failure" in rejects.summary
    assert rejects.severity is Status.CRITICAL
    assert {Action.INJECTS, Action.SCANS} <= actions(result, str(box.key))
    assert result.threshold is not None and result.threshold.search.threshold == 1_048_577
    assert result.status is Status.CRITICAL


def test_asa_inspection_strips_starttls_and_masks_banner(lab: LabInfo) -> None:
    result = run_lab(lab, "asa", mailbox=False)
    box = hop(result, "front:mx.asa.lab.probe.test")
    assert {Action.STRIPS_TLS, Action.MASKS} <= actions(result, str(box.key))
    assert any("ASA" in p for p in box.products)
    assert result.status is Status.CRITICAL


def test_disclaimer_hop_rewrites_subject_and_body(lab: LabInfo) -> None:
    result = run_lab(lab, "disclaimer")
    assert result.decision is not None
    rewrites = [a for h in result.decision.hops for a in h.actions if a.action is Action.REWRITES]
    summaries = " ".join(a.summary for a in rewrites)
    assert "tags the Subject `[EXTERNAL]`" in summaries
    assert "appends text to the body" in summaries
    assert result.status is Status.WARNING


def test_av_hop_scans_strips_exe_and_rejects_eicar(lab: LabInfo) -> None:
    result = run_lab(
        lab,
        "av",
        ATTACH + variant("eicar", attachments=["eicar"], expect="reject-ok"),
        allow_eicar=True,
    )
    assert result.decision is not None
    scans = [a for h in result.decision.hops for a in h.actions if a.action is Action.SCANS]
    rules = {a.rule for a in scans}
    assert {"eicar-rejected", "exe-stripped"} <= rules
    eicar = next(v for v in result.variants if v.variant == "eicar")
    assert eicar.outcome is Outcome.REJECTED


def test_relay_injects_header_at_its_hop(lab: LabInfo) -> None:
    result = run_lab(lab, "relay")
    assert result.decision is not None
    injecting = [h for h in result.decision.hops if Action.INJECTS in {a.action for a in h.actions}]
    assert injecting and injecting[0].visible
    assert any("X-Relay-Scanned" in a.summary for a in injecting[0].actions)


def test_greylisting_is_retried_and_named(lab: LabInfo) -> None:
    result = run_lab(lab, "greylist", retry_delays=(1.2,), retry_for=10.0)
    assert all(v.outcome is Outcome.ACCEPTED for v in result.variants)
    grey = [
        a for a in hop(result, "mx.greylist.lab.probe.test").actions if a.action is Action.GREYLISTS
    ]
    assert grey and grey[0].severity is Status.OK  # greylisting is no fault
    # this lab MX offers no STARTTLS, which is a finding of its own (check starttls-missing)
    assert Action.NO_TLS in actions(result, "mx.greylist.lab.probe.test")
    assert result.status is Status.WARNING


def test_size_limit_below_advertised_is_called_out(lab: LabInfo) -> None:
    sizes = variant("size-4m", size="4MB") + variant("size-6m", size="6MB")
    result = run_lab(lab, "sizelimit", sizes, mailbox=False)
    rejects = [a for a in hop(result, "mx.sizelimit.lab.probe.test").actions]
    assert rejects and "below its advertised SIZE 10,485,760" in rejects[0].summary


def test_null_mx_refuses_to_send(lab: LabInfo) -> None:
    from probe.errors import SafetyError

    profile = parse_profile(BASE.format(name="t"), source="<test>", loader=file_loader)
    send = SendArgs(
        "nullmx.lab.probe.test", "user@nullmx.lab.probe.test", nameservers=(lab.nameserver,)
    )
    req = build_request(profile, send, local_name="probe.invalid")
    with pytest.raises(SafetyError, match="null MX"):
        perform(req, deadline=10.0)


def test_run_json_round_trips_and_redecides_offline(lab: LabInfo) -> None:
    result = run_lab(lab, "relay")
    text = json.dumps(document(RUN_SCHEMA, result))
    loaded = from_data(RunResult, json.loads(text))
    again = judge(loaded)
    assert again.decision == result.decision
    assert again.status is result.status
