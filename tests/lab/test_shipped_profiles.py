"""The shipped `quick` and `standard` profiles against the lab's Check Point scenario (the seed
case: a proxy that refuses messages above 1 MiB although the MX advertises SIZE 10485760).

quick's size variant is 1.1 MB, so it finds what a 1 MB (decimal) variant passed unseen;
standard's bigger rungs above the advertised SIZE are refused at MAIL FROM, costing no data.
"""

from __future__ import annotations

from probe.lab.runtime import LabInfo
from probe.model.run import RunResult
from probe.model.smtp import Outcome, Stage
from probe.model.status import Status
from probe.model.verdict import Action
from probe.pipeline.run import perform
from probe.plan.profile_files import load_profile
from tests.lab.runs import lab_request

BOX = "front:mx.checkpoint.lab.probe.test"


def run_shipped(lab: LabInfo, profile_name: str) -> RunResult:
    info = lab.scenario("checkpoint")
    req = lab_request(
        lab,
        "checkpoint",
        load_profile(profile_name),
        mailbox=f"maildir:{info.maildir}",
        collect_for=10.0,
    )
    run = perform(req, deadline=90.0)
    assert run.error is None
    return run.result


def _rejects(result: RunResult) -> str:
    assert result.decision is not None
    box = next(h for h in result.decision.hops if str(h.key) == BOX)
    return next(a.summary for a in box.actions if a.action is Action.REJECTS)


def test_quick_catches_the_seed_case(lab: LabInfo) -> None:
    result = run_shipped(lab, "quick")
    outcome = {v.variant: v.outcome for v in result.variants}
    assert outcome.pop("size-1100k") is Outcome.REJECTED
    assert set(outcome.values()) == {Outcome.ACCEPTED}  # the control and the small ones
    assert "554 Permanent scan failure" in _rejects(result)
    assert result.status is Status.CRITICAL


def test_standard_straddles_the_limits_within_the_advertised_size(lab: LabInfo) -> None:
    result = run_shipped(lab, "standard")
    sends = {v.variant: v for v in result.variants}
    assert sends["size-1m"].outcome is Outcome.ACCEPTED
    for big in ("size-1100k", "size-5m", "size-10200k"):  # under SIZE 10485760: the box refuses
        assert sends[big].outcome is Outcome.REJECTED and sends[big].stage is Stage.DATA_END, big
    for big in ("size-11m", "size-22m", "size-26m", "size-36m"):  # over it: refused up front
        assert sends[big].outcome is Outcome.REJECTED and sends[big].stage is Stage.MAIL, big
    assert "554 Permanent scan failure" in _rejects(result)
