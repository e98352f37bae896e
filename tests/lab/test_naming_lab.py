"""A Check Point box whose scan limit no variant reaches: only its X-CheckPoint header and the
AsyncOS-like texts it shares with Cisco IronPort show it. The specific marker names the box in
the headline; the shared texts never do (issue 11)."""

from __future__ import annotations

from probe.lab.runtime import LabThread
from probe.lab.scenarios import HopSpec, Scenario
from probe.pipeline.run import perform
from probe.plan.profile_files import load_profile
from tests.lab.runs import lab_request


def test_the_header_marker_names_the_box_the_shared_texts_only_fit() -> None:
    box = HopSpec("checkpoint", (("threshold", 50_000_000),))
    scenario = Scenario(
        "cpquiet", "a Check Point box no variant trips", "", (box, HopSpec("final"))
    )
    with LabThread([scenario]) as lab:
        info = lab.info.scenario("cpquiet")
        req = lab_request(
            lab.info, "cpquiet", load_profile("quick"), mailbox=f"maildir:{info.maildir}",
            collect_for=10.0,
        )  # fmt: skip
        run = perform(req, deadline=90.0)
    assert run.error is None and run.result.decision is not None
    decision = run.result.decision
    front = next(h for h in decision.hops if str(h.key).startswith("front:"))
    assert front.name.startswith("a Check Point-style SMTP proxy in front of"), front.name
    assert front.products[0].startswith("Check Point"), front.products
    assert not any(" or " in p for p in front.products), front.products
    assert "Cisco IronPort" not in " ".join(decision.headline).split(":")[0]
