"""Header and body-change attribution through the embedded lab (issue 10 items 2, 3): the hop
that leaves marks of a change is named, the hop behind it is not accused, and a header whose
writer the evidence cannot decide is stated as one of its candidates."""

from __future__ import annotations

from probe.lab.runtime import LabInfo
from probe.model.verdict import Action, Confidence, Decision, HopKey
from tests.lab.test_pipeline_lab import ATTACH, run_lab


def firm(decision: Decision) -> dict[HopKey, set[Action]]:
    """The hops accused of something, with no alternative named."""
    found: dict[HopKey, set[Action]] = {}
    for hop in decision.hops:
        for a in hop.actions:
            if not a.alternatives:
                found.setdefault(hop.key, set()).add(a.action)
    return found


def test_the_av_hop_is_named_for_the_stripped_exe_and_the_mx_behind_it_is_not(
    lab: LabInfo,
) -> None:
    """The av hop writes `X-Virus-Scanned: clamav-milter 1.0.1 at <its host>` and
    X-Virus-Status, and replaces the .exe: all of it goes to that hop, named by the header."""
    result = run_lab(lab, "av", ATTACH)
    decision = result.decision
    assert decision is not None
    scanner, mx = HopKey.at("scanner.av.lab.probe.test"), HopKey.at("mx.av.lab.probe.test")
    accused = firm(decision)
    assert {Action.REWRITES, Action.SCANS, Action.INJECTS} <= accused[scanner], decision.headline
    assert mx not in accused
    assert not any(a.alternatives for h in decision.hops for a in h.actions)


def test_the_disclaimer_hop_signs_its_header_and_its_footer_goes_with_it(lab: LabInfo) -> None:
    """`X-Disclaimer: appended by <its host>` names the filter hop; the Subject tag and the
    footer are its, not the MX's."""
    result = run_lab(lab, "disclaimer")
    decision = result.decision
    assert decision is not None
    accused = firm(decision)
    assert Action.REWRITES in accused[HopKey.at("filter.disclaimer.lab.probe.test")]
    assert HopKey.at("mx.disclaimer.lab.probe.test") not in accused


def test_an_unsigned_header_between_two_hops_names_both_at_a_lower_confidence(
    lab: LabInfo,
) -> None:
    """The relay's `X-Relay-Scanned: yes` names no host and sits between the relay's Received
    and the MX's: the relay (which prepends above its own), the MX (below its own) or a box
    between them; the headline says so and accuses neither alone."""
    result = run_lab(lab, "relay")
    decision = result.decision
    assert decision is not None
    injects = [(h.key, a) for h in decision.hops for a in h.actions if a.action is Action.INJECTS]
    assert len(injects) == 1
    key, action = injects[0]
    relay, mx = HopKey.at("relay.relay.lab.probe.test"), HopKey.at("mx.relay.lab.probe.test")
    assert {key, *action.alternatives} >= {relay, mx}
    assert action.confidence is not Confidence.HIGH and action.ambiguity
    line = next(x for x in decision.headline if "X-Relay-Scanned" in x)
    assert "most likely, or" in line
