"""`probe demo`, the main job: the whole pipeline against the embedded lab, every verdict right."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from probe.cli import app
from probe.model.status import Status
from probe.model.verdict import Action, Decision, HopAction, HopKey, HopVerdict
from probe.pipeline.demo import DemoCase, check, load_demo


# Six paths at once, each timing three sizes three times: over a minute on a busy machine.
@pytest.mark.timeout(150)
def test_demo_runs_offline_and_every_path_gets_its_verdict() -> None:
    out = CliRunner().invoke(app, ["demo", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["schema"] == "probe.demo/1" and doc["status"] == "OK"
    cases = {c["scenario"]: c for c in doc["cases"]}
    assert set(cases) == {"clean", "checkpoint", "asa", "disclaimer", "av", "bounce"}
    assert all(c["matched"] for c in cases.values())
    checkpoint = cases["checkpoint"]["run"]
    assert checkpoint["threshold"]["search"]["high"] == 1_048_577
    headline = " ".join(checkpoint["decision"]["headline"])
    assert "Check Point-style SMTP proxy in front of mx.checkpoint.lab.probe.test" in headline
    assert "rejects messages of 1,048,577 bytes and more with `554 Permanent scan failure`" in (
        headline
    )
    assert "X-CheckPoint" in headline
    assert cases["clean"]["run"]["decision"]["clean"] is True


def _decision(*hops: HopVerdict) -> Decision:
    return Decision(
        hops=hops, clean=not any(h.actions for h in hops), tested=(), headline=(), status=Status.OK
    )


def test_check_demands_the_named_hop_and_action() -> None:
    case = DemoCase("checkpoint", expect=(("front", "rejects"),))
    at_mx = HopVerdict(HopKey.at("mx.x"), "mx.x", True, actions=(HopAction(Action.REJECTS, "r"),))
    in_front = HopVerdict(
        HopKey.front("mx.x"), "box", False, actions=(HopAction(Action.REJECTS, "r"),)
    )
    assert not check(case, _decision(at_mx), "mx.x")[0]
    assert check(case, _decision(in_front), "mx.x")[0]
    assert check(DemoCase("clean", clean=True), _decision(), "mx.x")[0]
    assert not check(DemoCase("clean", clean=True), _decision(in_front), "mx.x")[0]


def test_demo_data_loads() -> None:
    profile, cases = load_demo()
    assert profile.variant("control") is not None
    assert {c.scenario for c in cases} >= {"clean", "checkpoint", "asa", "disclaimer", "av"}
