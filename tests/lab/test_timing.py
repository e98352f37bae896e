"""Timing verdicts on the embedded lab: the slow scanner is found, the paths without one are not
accused, on a busy machine as on an idle one.

Each run times three sizes three times, their final dot held (the profile's `[timing]`), as the
shipped profiles do; the sizes stay small so the file runs in a few seconds. Nothing here depends
on the machine being idle: the verdicts rest on the repeats' noise, not on fixed milliseconds.
"""

from __future__ import annotations

import pytest

from probe.lab.runtime import LabInfo
from probe.model.run import RunResult
from probe.model.verdict import Action
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from tests.lab.runs import lab_request

PROFILE = """
name = "timing"
description = "three sizes, three times each, the dot held"
extends = "_base"

[defaults]
min_interval = 0

[timing]
variants = ["control", "size-400k", "size-1m"]
repeat = 3
hold = "0.1s"
hold_per_mb = "0.4s"

[[variant]]
id = "size-400k"
description = "400 kB"
size = "400kB"

[[variant]]
id = "size-1m"
description = "1 MB"
size = "1MB"
"""


def timed_run(lab: LabInfo, scenario: str) -> RunResult:
    profile = parse_profile(PROFILE, source="<test>", loader=file_loader)
    run = perform(lab_request(lab, scenario, profile, mailbox=None), deadline=90.0)
    assert run.error is None
    return run.result


def timing_actions(result: RunResult) -> list[tuple[str, Action, str]]:
    assert result.decision is not None
    return [
        (str(h.key), a.action, a.summary)
        for h in result.decision.hops
        for a in h.actions
        if a.rule in ("scan-timing", "relay-timing")
    ]


def test_every_timed_variant_is_measured_three_times_with_its_dot_held(lab: LabInfo) -> None:
    result = timed_run(lab, "clean")
    held = [c for v in result.variants for c in v.attempts if c.held_ms is not None]
    assert len(held) == 9 and all(c.held_ms and c.held_ms >= 100 for c in held)
    assert all(c.acked_ms is not None for c in held)  # Linux says when every byte is acked
    assert {v.variant for v in result.variants} >= {"size-1m", "size-1m-t2", "size-1m-t3"}


def test_slow_scanner_is_found_by_its_wait_after_the_held_dot(lab: LabInfo) -> None:
    found = timing_actions(timed_run(lab, "slowscan"))
    # no mailbox: no Received to name it by, so hop 1 is the MX name it answers on
    assert [(k, a) for k, a, _ in found] == [("mx.slowscan.lab.probe.test", Action.SCANS)]
    assert "ms more per MB (95 % interval" in found[0][2]


@pytest.mark.parametrize("scenario", ["clean", "asa"])
def test_paths_without_a_scanner_are_not_accused(lab: LabInfo, scenario: str) -> None:
    assert timing_actions(timed_run(lab, scenario)) == []
