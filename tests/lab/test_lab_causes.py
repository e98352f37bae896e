"""Conditions and causes end to end on the embedded lab (issue 10 item 6, issue 11): paths of
this test's own, started beside the session lab.

- `exchange`: a Postfix relay (DSN) in front of a store that fails a message with an attachment
  for several recipients, as Exchange 5.5's VSAPI scanner did (KB Q288848): the attachment to
  one recipient and the plain message to three pass; the relay returns the DSN.
- `loop`: a Postfix MX with hopcount_limit = 20 (`554 5.4.0 Error: too many hops`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.lab.runtime import LabInfo, LabThread
from probe.lab.scenarios import parse_scenarios
from probe.model.run import RunResult
from probe.model.smtp import Outcome
from probe.model.status import Status
from probe.model.verdict import Action
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from tests.lab.runs import lab_request
from tests.lab.test_pipeline_lab import BASE, variant

SCENARIOS = {
    "scenario": [
        {
            "name": "exchange",
            "description": "A relay in front of a store failing attachments to several recipients",
            "expected": "a DSN for the attachment sent to three recipients only",
            "hops": [
                {"kind": "relay", "mta": "postfix", "headers": {}},
                {"kind": "final", "fails_shared_attachment": True},
            ],
        },
        {
            "name": "loop",
            "description": "A Postfix MX with hopcount_limit = 20",
            "expected": "554 5.4.0 Error: too many hops for 30 Received headers",
            "hops": [{"kind": "final", "hopcount_limit": 20, "tls": True}],
        },
    ]
}


@pytest.fixture(scope="module")
def own_lab() -> Iterator[LabInfo]:
    with LabThread(parse_scenarios(SCENARIOS, "<test>")) as running:
        yield running.info


def run(lab: LabInfo, scenario: str, variants: str) -> RunResult:
    info = lab.scenario(scenario)
    profile = parse_profile(
        BASE.format(name=f"test-{scenario}") + variants, source="<test>", loader=file_loader
    )
    req = lab_request(lab, scenario, profile, mailbox=f"maildir:{info.maildir}", collect_for=10.0)
    done = perform(req, deadline=60.0)
    assert done.error is None
    return done.result


def test_the_exchange_case_is_found_by_its_three_comparisons(own_lab: LabInfo) -> None:
    result = run(
        own_lab,
        "exchange",
        variant("attach-zip", attachments=["zip"])
        + variant("rcpt-3", recipients=3)
        + variant("attach-zip-3-rcpt", attachments=["zip"], recipients=3),
    )
    assert all(v.outcome is Outcome.ACCEPTED for v in result.variants)
    assert result.decision is not None
    (bounce,) = [a for h in result.decision.hops for a in h.actions if a.action is Action.BOUNCES]
    assert bounce.variants == ("attach-zip-3-rcpt",)
    assert bounce.condition == "messages with an attachment sent to several recipients at once"
    assert "Exchange Server 5.5" in bounce.summary and "Q288848" in bounce.summary
    assert bounce.reply is not None and not bounce.reply.temporary


def test_a_hop_count_refusal_is_loop_protection_with_its_limit(own_lab: LabInfo) -> None:
    result = run(
        own_lab,
        "loop",
        variant("received-10", received_headers=10)
        + variant("received-30", received_headers=30, expect="reject-ok")
        + variant("size-100k", size="100kB"),
    )
    assert result.decision is not None
    acts = [a for h in result.decision.hops for a in h.actions if a.action is Action.REJECTS]
    (loop,) = acts
    assert loop.rule == "loop-protection" and loop.variants == ("received-30",)
    assert loop.summary.startswith(
        "protects against mail loops: rejects messages already carrying 30 or more Received "
        "headers (the most that passed carried 10) with `554 5.4.0 Error: too many hops`"
    )
    assert "bytes" not in loop.summary and result.status is Status.OK


def test_the_shipped_quick_profile_finds_the_exchange_case(own_lab: LabInfo) -> None:
    """The daily profile catches the seed's second case too: its three small messages."""
    from probe.plan.profile_files import load_profile

    info = own_lab.scenario("exchange")
    req = lab_request(
        own_lab, "exchange", load_profile("quick"), mailbox=f"maildir:{info.maildir}",
        collect_for=10.0,
    )  # fmt: skip
    done = perform(req, deadline=90.0)
    assert done.error is None and done.result.decision is not None
    bounces = [
        a for h in done.result.decision.hops for a in h.actions if a.action is Action.BOUNCES
    ]
    (bounce,) = bounces
    assert bounce.variants == ("attach-zip-3-rcpt",)
    assert bounce.condition == "messages with an attachment sent to several recipients at once"
