"""A box BEHIND the MX (issue 10): the lab's Check Point proxy between the edge Postfix and
an inner one (tests/mta/paths.py, `behind`). It writes no Received, adds X-CheckPoint to what
it passes and refuses from 150,000 bytes on with `554 Permanent scan failure`, so the edge
Postfix, which had answered 250, returns a DSN naming the box's address as Remote-MTA.

Run alone with `pytest -n 0 tests/mta/test_mta_paths_behind.py` (root, as the tier).
"""

from __future__ import annotations

import pytest

from probe.model.verdict import Action, Decision
from tests.mta import paths, servers, verdicts
from tests.mta.probe_runs import profile, run_probe

pytestmark = pytest.mark.mta

MX = servers.MX_NAME
INNER = paths.INNER_NAME
BETWEEN = f"link:{MX}->{INNER}"
PROFILE = profile(
    "behind",
    """
[[variant]]
id = "size-50k"
description = "50 kB, below the box's limit"
size = "50kB"

[[variant]]
id = "size-300k"
description = "300 kB, over the box's limit"
size = "300kB"
""",
)


@pytest.fixture(scope="module")
def decision(postfix_paths: paths.Paths) -> Decision:
    """One run through the path, judged once for the tests below."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        entry = ("127.0.0.1", postfix_paths.behind)
        return verdicts.decision_of(run_probe(postfix_paths.dovecot, entry, PROFILE, monkeypatch))


def test_the_box_between_injects_its_header(decision: Decision) -> None:
    """X-CheckPoint sits between the edge's and the inner MTA's Received: the box between."""
    injected = verdicts.blamed(decision, BETWEEN, Action.INJECTS)
    assert any("X-CheckPoint" in e.text for e in injected.evidence), verdicts.describe(decision)
    for key in (MX, INNER):
        verdicts.not_accused_of(decision, key, Action.INJECTS)


@pytest.mark.xfail(
    strict=True,
    reason="issue 10 (a rejection, a scan and an injected header that share one id format "
    "belong to one box): the box's 554 Permanent scan failure, returned in the edge's DSN, is "
    "the edge's bounce alone; the box between is not named for it",
)
def test_the_box_between_refuses_the_edge_only_returns_it(decision: Decision) -> None:
    """The 554 carries the same Check Point id format as X-CheckPoint: the box between refuses
    (and scans); the edge only writes the DSN, so it may be said to bounce, nothing more."""
    shown = verdicts.describe(decision)
    named = verdicts.candidates(decision, Action.REJECTS) | verdicts.candidates(
        decision, Action.SCANS
    )
    assert BETWEEN in named, shown
    edge = {a.action for a in verdicts.accused(decision).get(MX, [])}
    assert edge <= {Action.BOUNCES}, shown
    verdicts.nobody_else(decision, BETWEEN, MX)


def test_the_plaintext_leg_is_the_edges_or_the_boxs_not_the_inner_mtas(
    decision: Decision,
) -> None:
    """The edge took the message over TLS, the inner MTA's Received says ESMTP: the TLS stops
    on the link edge -> inner, where the box sits."""
    assert verdicts.candidates(decision, Action.LOSES_TLS) <= {MX, BETWEEN}, verdicts.describe(
        decision
    )
    verdicts.nobody_else(decision, BETWEEN, MX)
