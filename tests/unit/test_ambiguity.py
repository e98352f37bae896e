"""The ambiguity model: when the evidence cannot decide between hops, the verdict names the
likeliest and the alternatives with the reason, at a capped confidence, in the headline, the
text report and the JSON; a run stored before these fields existed still loads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from probe.decide.context import Context, Placed
from probe.decide.decision import decide
from probe.decide.rules.common import place
from probe.model.json import document, from_data, to_data
from probe.model.run import RUN_SCHEMA, RunResult
from probe.model.smtp import Outcome
from probe.model.verdict import Action, Confidence, Evidence, HopAction, HopKey
from probe.report.run import render_run
from tests.unit.test_decide import (
    conversation,
    reply,
    run_of,
    send,
    sent_message,
)

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
RECEIVED = (
    "Received: from mx.example.com (mx.example.com [192.0.2.25])\r\n\tby scan.example.com "
    "(Postfix) with ESMTP id B2; Thu, 18 Mar 2010 14:19:36 +0000\r\n"
    "Received: from probe.test (probe.test [192.0.2.1])\r\n\tby mx.example.com (Postfix) "
    "with ESMTP id A1; Thu, 18 Mar 2010 14:19:35 +0000\r\n"
)


def two_hop_run() -> RunResult:
    ok = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP Postfix",
        caps=("PIPELINING", "STARTTLS"),
        final=reply(250, "2.0.0 Ok: queued as A1"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    sent = {"control": sent_message("control")}
    copies = {"control": RECEIVED.encode() + sent["control"]}
    return run_of([send("control", ok, sent["control"])], copies, sent)


def unsure_rule(ctx: Context) -> list[Placed]:
    """A rule that cannot tell hop 2 from hop 1, and claims high confidence anyway."""
    return [
        place(
            HopKey.at("scan.example.com"),
            Action.REWRITES,
            "replaces attachments",
            condition="always",
            evidence=(Evidence("diff", "part 2: replaced", "control"),),
            confidence=Confidence.HIGH,
            rule="test-unsure",
            ambiguous="the scanner header sits between the two hops' Received headers",
            alternatives=(HopKey.at("mx.example.com"), HopKey.at("scan.example.com")),
        )
    ]


def test_an_undecided_hop_is_named_with_its_alternatives_at_a_capped_confidence() -> None:
    decision = decide(two_hop_run(), rules=(unsure_rule,))
    assert decision.path == ("mx.example.com", "scan.example.com")
    scan = next(h for h in decision.hops if h.key == HopKey.at("scan.example.com"))
    action = scan.actions[0]
    assert action.alternatives == (HopKey.at("mx.example.com"),)  # itself is no alternative
    assert action.confidence is Confidence.MEDIUM
    assert decision.headline == (
        "hop 2 (scan.example.com) most likely, or hop 1 (mx.example.com): replaces attachments"
        " (the scanner header sits between the two hops' Received headers)",
    )
    assert scan.ambiguous == ""  # the reason is the action's, not repeated as a note


def test_the_alternatives_are_in_the_text_report_and_the_json() -> None:
    run = two_hop_run()
    decision = decide(run, rules=(unsure_rule,))
    judged = RunResult(**{**run.__dict__, "decision": decision, "status": decision.status})
    text = render_run(judged)
    assert "or: hop 1 (mx.example.com) (the scanner header sits between" in text
    doc = json.loads(json.dumps(document(RUN_SCHEMA, judged)))
    hop = next(h for h in doc["decision"]["hops"] if h["key"] == "scan.example.com")
    action = hop["actions"][0]
    assert action["alternatives"] == ["mx.example.com"]
    assert action["ambiguity"].startswith("the scanner header")
    assert from_data(RunResult, doc).decision == decision


def test_an_action_stored_before_the_ambiguity_fields_loads() -> None:
    old = to_data(HopAction(Action.INJECTS, "adds X-Foo"))
    del old["alternatives"], old["ambiguity"]
    loaded = from_data(HopAction, old)
    assert loaded.alternatives == () and loaded.ambiguity == ""


def test_a_sure_finding_keeps_its_confidence_and_its_own_headline() -> None:
    def sure(ctx: Context) -> list[Placed]:
        found = unsure_rule(ctx)[0]
        assert found.action is not None
        action = HopAction(Action.INJECTS, "adds X-Foo", confidence=Confidence.HIGH)
        return [found, Placed(found.hop, action)]

    decision = decide(two_hop_run(), rules=(sure,))
    scan = next(h for h in decision.hops if h.key == HopKey.at("scan.example.com"))
    assert {a.summary: a.confidence for a in scan.actions}["adds X-Foo"] is Confidence.HIGH
    assert decision.headline[0] == "scan.example.com: adds X-Foo"
    assert decision.headline[1].startswith("hop 2 (scan.example.com) most likely, or hop 1")


def test_the_same_run_decided_twice_and_permuted_gives_the_same_verdict() -> None:
    """The golden run (a real lab run through the Check Point box): decided again, and with every
    list of observations reversed, the decision is the same, field for field."""
    data = json.loads((GOLDEN / "run.json").read_text())
    run = from_data(RunResult, data)
    collect = run.collect
    assert collect is not None
    permuted = dataclasses.replace(
        run,
        specs=run.specs[::-1],
        variants=run.variants[::-1],
        analyses=run.analyses[::-1],
        collect=dataclasses.replace(
            collect,
            statuses=collect.statuses[::-1],
            delivered=collect.delivered[::-1],
            bounces=collect.bounces[::-1],
        ),
    )
    first = decide(run)
    assert decide(run) == first
    assert decide(permuted) == first
