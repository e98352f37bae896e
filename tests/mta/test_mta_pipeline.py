"""`probe run` end to end through a real Postfix into a real Dovecot, collected over IMAPS.

The whole pipeline (send, collect, trace, diff, DSN, decide) on headers and bounces written by
real MTAs: Postfix's header_checks rewrite and added header must be attributed to Postfix itself
(no invented box in front of it), and a recipient Postfix accepts but Dovecot refuses must come
back as a post-acceptance rejection from Postfix's own DSN.
"""

from __future__ import annotations

import pytest

from probe.model.run import RunResult
from probe.model.smtp import Outcome
from probe.model.status import Status
from probe.model.verdict import Action
from tests.mta import servers
from tests.mta.probe_runs import run_probe

pytestmark = pytest.mark.mta

System = tuple[servers.Dovecot, servers.Postfix]

PROFILE = """
name = "mta"
description = "control, 100 kB, a ZIP attachment"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-100k"
description = "100 kB"
size = "100kB"

[[variant]]
id = "attach-zip"
description = "ZIP attachment"
attachments = ["zip"]
"""


def run(system: System, to: str, monkeypatch: pytest.MonkeyPatch) -> RunResult:
    dc, pf = system
    return run_probe(dc, ("127.0.0.1", pf.smtp_port), PROFILE, monkeypatch, to=to)


def test_postfix_rewrites_are_attributed_to_postfix(
    mail_system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(mail_system, servers.USER, monkeypatch)
    assert all(v.outcome is Outcome.ACCEPTED for v in result.variants)
    assert result.collect is not None and not result.collect.missing
    assert result.decision is not None
    hops = {str(h.key): h for h in result.decision.hops}
    assert not any(k.startswith("front:") and hops[k].actions for k in hops), hops.keys()
    mx = hops[servers.MX_NAME]
    assert any("Postfix" in p for p in mx.products)
    summaries = " ".join(a.summary for a in mx.actions)
    assert "tags the Subject `[MTA-TAG]`" in summaries
    assert "adds X-Postfix-Checked" in summaries
    assert result.status is Status.WARNING  # rewrites are a warning in the shipped checks
    # the trace names both real hops, Postfix then Dovecot's LMTP delivery
    analysis = result.analyses[0]
    assert analysis.trace is not None
    assert [h.by_host for h in analysis.trace.hops] == [servers.MX_NAME, servers.IMAP_NAME]


def test_accepted_then_refused_comes_back_as_postfix_dsn(
    mail_system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(mail_system, servers.GONE, monkeypatch)
    assert all(v.outcome is Outcome.ACCEPTED for v in result.variants)
    assert result.decision is not None
    bounces = [
        (h, a) for h in result.decision.hops for a in h.actions if a.action is Action.BOUNCES
    ]
    assert bounces, result.decision.headline
    hop, action = bounces[0]
    assert str(hop.key) == servers.MX_NAME and set(action.variants) == {
        "control",
        "size-100k",
        "attach-zip",
    }
    assert any("Reporting-MTA: mx.mta.probe.test" in e.text for e in action.evidence)
    assert any("5.1.1" in e.text for e in action.evidence)
    assert result.status is Status.CRITICAL
