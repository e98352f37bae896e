"""The verdict layer on the bounce readers' fields: a recognised text-only bounce is "bounces"
(never "drops"), and the diagnostic's specific code reaches the verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from probe.analyze.bounce.dsn import parse_bounce
from probe.decide.decision import decide
from probe.model.collect import Arrival, ArrivalStatus, CollectedBounce, CollectResult, FoundMessage
from probe.model.run import RunResult, VariantAnalysis
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome
from probe.model.verdict import Action, Decision
from tests.unit.test_decide import RUN, conversation, reply, run_of, send, sent_message

DATA = Path(__file__).parents[1] / "data" / "dsn"
T0 = dt.datetime(2025, 3, 1, 10, 15, tzinfo=dt.UTC)


def _accepting() -> Conversation:
    return conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP Postfix",
        caps=("PIPELINING",),
        final=reply(250, "2.0.0 Ok: queued as X"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )


def _decided(name: str, arrival: Arrival) -> Decision:
    raw = (DATA / name).read_bytes()
    bounce = parse_bounce(raw)
    assert bounce is not None and bounce.probe_ids
    pid = bounce.probe_ids[0]
    variant = pid.split(".", 1)[1]
    conv = _accepting()
    send = VariantSend(variant, pid, variant, Outcome.ACCEPTED, "quit", attempts=(conv,))
    run = RunResult(
        run_id=pid.split(".")[0],
        domain="example.com",
        to="user@example.com",
        mail_from="sender@example.org",
        profile="t",
        started_at=T0,
        variants=(send,),
        collect=CollectResult(
            "m",
            "m",
            T0,
            1.0,
            False,
            (ArrivalStatus(pid, variant, arrival, bounces=int(arrival is Arrival.BOUNCED)),),
            (),
            (CollectedBounce((pid,), FoundMessage(raw, "INBOX")),),
        ),
        analyses=(VariantAnalysis(pid, variant, None, None, (bounce,)),),
    )
    return decide(run)


def _actions(decision: Decision) -> dict[Action, list[str]]:
    out: dict[Action, list[str]] = {}
    for hop in decision.hops:
        for action in hop.actions:
            out.setdefault(action.action, []).extend(e.text for e in action.evidence)
    return out


def test_text_only_bounce_bounces() -> None:
    acts = _actions(_decided("google-groups.eml", Arrival.BOUNCED))
    assert Action.BOUNCES in acts and Action.DROPS not in acts


def test_a_bounce_read_on_reanalysis_is_not_a_drop() -> None:
    """A run stored when the notice was not yet read as a bounce: its arrival says missing."""
    ok = _accepting()
    sent = {v: sent_message(v) for v in ("control", "size-1k", "attach-zip")}
    received = (
        b"Received: from probe.test (h [192.0.2.1])\r\n\tby mx.example.com (Postfix) "
        b"with ESMTP id A1; Sat, 01 Mar 2025 10:15:01 +0000\r\n"
    )
    notice = (
        (DATA / "gmail-delay.eml").read_bytes().replace(b"20250301T101500-a1b2c3", RUN.encode())
    )
    bounce = parse_bounce(notice)
    assert bounce is not None and bounce.probe_ids == (f"{RUN}.size-1k",)
    run = run_of(
        [send(v, ok, sent[v]) for v in sent], {"control": received + sent["control"]}, sent
    )
    analysis = VariantAnalysis(bounce.probe_ids[0], "size-1k", None, None, (bounce,))
    decision = decide(dataclasses.replace(run, analyses=(*run.analyses, analysis)))
    drops = [a for h in decision.hops for a in h.actions if a.action is Action.DROPS]
    assert drops and "attach-zip" in drops[0].summary and "size-1k" not in drops[0].summary


def test_specific_code_reaches_the_verdict() -> None:
    acts = _actions(_decided("generic-status.eml", Arrival.BOUNCED))
    assert "Status: 5.0.0" in acts[Action.BOUNCES]
    assert "Diagnostic status: 5.7.26" in acts[Action.BOUNCES]
