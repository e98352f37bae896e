"""Each reply belongs to whoever wrote it (issue 10 item 1, the seed case): a Check Point-style
proxy passes a real Postfix's banner through and answers EHLO, MAIL, RCPT and DATA itself; its
rejection, its scan and its X-CheckPoint header go to the box, never to Postfix.

Postfix's lines are Postfix 3.7.11's (tests/data/mta/postfix-replies.json); the proxy's are the
seed session's (docs/research/fingerprints.md [S4]: `250 sender <...> ok`, `250 recipient <...>
ok`, `354 go ahead`, `554 Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}`,
`X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}`).
"""

from __future__ import annotations

import dataclasses

from probe.decide.decision import decide
from probe.model.run import RunResult
from probe.model.variant import VariantSpec
from probe.model.verdict import Action, Decision, HopKey
from tests.unit.replies_runs import POSTFIX_BANNER, Script, copy_of, run_of, sent

MX = "mx.mta.probe.test"
CONTROL = VariantSpec("control", "control")
S100K = VariantSpec("size-100k", "100k", size=100_000)
S1100K = VariantSpec("size-1100k", "1.1m", size=1_100_000)
PROXY = Script(
    banner=POSTFIX_BANNER,  # passed through from the Postfix behind
    caps=("8BITMIME", "SIZE 10485760", "STARTTLS"),
    mail="250 sender <probe@sender.test> ok",
    rcpt="250 recipient <user@mta.probe.test> ok",
    data="354 go ahead",
    final="250 ok",
)
SCAN_FAILURE = "554 Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}"
POSTFIX_RECEIVED = (
    "Received: from probe.test (localhost [127.0.0.1])\r\n"
    f"\tby {MX} (Postfix) with ESMTP id DB37C20C4D4\r\n"
    "\tfor <user@mta.probe.test>; Thu,  3 Dec 2026 12:00:00 +0000 (UTC)\r\n"
)


def seed_run(*, header: bool) -> RunResult:
    specs = [CONTROL, S100K, S1100K]
    sends = [
        sent(CONTROL, PROXY, 620),
        sent(S100K, PROXY, 100_000),
        sent(S1100K, dataclasses.replace(PROXY, final=SCAN_FAILURE), 1_100_000),
    ]
    stamp = POSTFIX_RECEIVED + ("X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}\r\n" if header else "")
    copies = {v: copy_of(v, stamp) for v in ("control", "size-100k")}
    return run_of(sends, specs, copies=copies)


def acts(decision: Decision, key: HopKey) -> dict[Action, str]:
    hop = next((h for h in decision.hops if h.key == key), None)
    return {a.action: a.summary for a in hop.actions} if hop else {}


def test_the_proxy_in_front_of_a_real_postfix_is_blamed_and_postfix_is_not() -> None:
    decision = decide(seed_run(header=True))
    box, mta = acts(decision, HopKey.front(MX)), acts(decision, HopKey.at(MX))
    assert "554 Permanent scan failure" in box[Action.REJECTS]
    assert Action.SCANS in box and Action.INJECTS in box
    assert not {Action.REJECTS, Action.SCANS, Action.INJECTS} & set(mta)
    front = next(h for h in decision.hops if h.key == HopKey.front(MX))
    assert "Check Point" in front.name
    assert any(
        e.text == "Postfix never writes `250 sender <probe@sender.test> ok` (mail): a box in "
        "front answers"
        for e in front.product_evidence
    ), front.product_evidence
    for line in decision.headline:
        assert not (line.startswith(MX) and "554" in line), line


def test_without_the_header_the_replies_alone_put_the_rejection_on_the_box() -> None:
    """No id format to share: Postfix never writes `554 Permanent scan failure`, nor `250 sender
    <...> ok` at MAIL, so the refusal and the box come from the replies themselves."""
    decision = decide(seed_run(header=False))
    box = next(h for h in decision.hops if h.key == HopKey.front(MX))
    rejects = next(a for a in box.actions if a.action is Action.REJECTS)
    assert any(
        "Postfix never writes `554 Permanent scan failure" in e.text for e in rejects.evidence
    )
    assert Action.REJECTS not in acts(decision, HopKey.at(MX))


def test_a_refusal_in_postfix_wording_stays_with_postfix_behind_a_transparent_box() -> None:
    """The box passes everything through; Postfix's own `552 5.3.4` is Postfix's."""
    plain = Script.postfix("plain")
    sends = [
        sent(CONTROL, plain, 620),
        sent(S100K, Script.postfix("size-300k"), 300_000),
    ]
    decision = decide(
        run_of(sends, [CONTROL, S100K], copies={"control": copy_of("control")}, advertised=200_000)
    )
    assert Action.REJECTS in acts(decision, HopKey.at(MX))
    assert not acts(decision, HopKey.front(MX))


def test_the_same_run_gives_the_same_verdict_twice_and_in_any_order() -> None:
    run = seed_run(header=True)
    first = decide(run)
    assert decide(run) == first
    permuted = dataclasses.replace(
        run,
        variants=run.variants[::-1],
        specs=run.specs[::-1],
        collect=dataclasses.replace(
            run.collect,  # type: ignore[arg-type]
            delivered=run.collect.delivered[::-1],  # type: ignore[union-attr]
            statuses=run.collect.statuses[::-1],  # type: ignore[union-attr]
        ),
    )
    assert decide(permuted) == first
