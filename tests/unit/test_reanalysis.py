"""The analysis of what came back never ends a run, and a saved run re-analyses honestly.

- A parser that fails on one delivered copy or bounce (handed in through `Parsers`: here one
  that raises on purpose) becomes a `NotAnalysed` finding on that copy, UNKNOWN for what depended on
  it; every other copy is analysed as usual, and the result is still a JSON document.
- Decide never raises on partial data (a copy without Received, a bounce without a status, a
  rule that fails).
- A run saved by an older probe (another version in X-Probe) gets no "modifies headers" verdict.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from probe.analyze.diff.compare import compare
from probe.analyze.headers import header_fields
from probe.analyze.run import PARSERS, Parsers
from probe.decide.decision import decide, judge
from probe.decide.rules.registry import RULES
from probe.model.bounce import Bounce, BounceKind, BounceRecipient, StatusClass
from probe.model.collect import (
    Arrival,
    ArrivalStatus,
    CollectedBounce,
    CollectResult,
    FoundMessage,
)
from probe.model.json import document, from_data, to_data
from probe.model.message import DeliveredCopy
from probe.model.run import RUN_SCHEMA, AnalysisPart, NotAnalysed, RunResult
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome, Reply, Stage
from probe.model.status import Status
from probe.model.variant import VariantSpec
from probe.plan.craft import craft

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "run.json"
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
RUN = "20260102T030405-abcdef"
MX = "mx.example.com"
FROM, TO = "p@probe.invalid", "u@example.com"
STAMP = (
    f"Received: from probe.invalid ([192.0.2.9]) by {MX} (Postfix) with ESMTPS id 4AbC;"
    " Fri, 2 Jan 2026 03:04:06 +0000\r\n"
).encode()
SPECS = tuple(VariantSpec(v, f"{v} variant") for v in ("control", "plain", "other"))


def conversation() -> Conversation:
    return Conversation(
        host=MX,
        address="192.0.2.25",
        port=25,
        helo="probe.invalid",
        started_at=T0,
        duration_ms=20.0,
        outcome=Outcome.ACCEPTED,
        stage=Stage.QUIT,
        banner=Reply(220, (f"{MX} ESMTP",)),
        ehlo=Reply(250, (MX, "STARTTLS")),
        capabilities=("STARTTLS",),
        final_reply=Reply(250, ("2.0.0 Ok: queued as 4AbC",)),
    )


def a_run(
    *, bounce: bytes | None = None, stamp: bytes = STAMP, version: str = "0.1.0"
) -> RunResult:
    """Three variants sent and delivered as sent (behind one Received stamp); a bounce `bounce`
    names the variant `other`."""
    sends, copies, statuses = [], [], []
    for spec in SPECS:
        probe_id = f"{RUN}.{spec.id}"
        made = craft(spec, probe_id=probe_id, mail_from=FROM, rcpt_to=(TO,), date=T0,
                     version=version)  # fmt: skip
        sends.append(
            VariantSend(spec.id, probe_id, spec.description, Outcome.ACCEPTED, Stage.QUIT,
                        size=len(made.data), manifest=made.manifest, attempts=(conversation(),))
        )  # fmt: skip
        raw = stamp + made.data
        copies.append(DeliveredCopy(probe_id, raw, "INBOX", found_at=T0))
        statuses.append(ArrivalStatus(probe_id, spec.id, Arrival.DELIVERED, ("INBOX",)))
    found = ()
    if bounce is not None:
        found = (CollectedBounce((f"{RUN}.other",), FoundMessage(bounce, "INBOX")),)
    collect = CollectResult("maildir:/x", "maildir:/x", T0, 1.0, False, tuple(statuses),
                            tuple(copies), found)  # fmt: skip
    return RunResult(
        run_id=RUN, domain="example.com", to=TO, mail_from=FROM,
        profile="test", started_at=T0, targets=(f"{MX} [192.0.2.25]:25",), specs=SPECS,
        crafted_date=T0, craft_version=version, variants=tuple(sends), collect=collect,
    )  # fmt: skip


def failing_for(
    variants: tuple[str, ...], parse: Callable[..., Any], error: Exception
) -> Callable[..., Any]:
    """`parse`, but raising `error` on the messages of `variants` (found by their probe id)."""
    ids = [f"{RUN}.{v}".encode() for v in variants]

    def parse_or_fail(*args: Any) -> Any:
        if any(isinstance(a, bytes) and any(i in a for i in ids) for a in args):
            raise error
        return parse(*args)

    return parse_or_fail


def failing(error: Exception) -> Callable[..., Any]:
    def parse(*args: Any) -> Any:
        raise error

    return parse


def by_variant(result: RunResult) -> dict[str, Any]:
    return {a.variant: a for a in result.analyses}


def test_the_hand_made_run_is_clean() -> None:
    result = judge(a_run())
    assert result.decision is not None and result.decision.clean, result.decision
    assert result.status is Status.OK
    assert all(a.diff is not None and a.trace is not None for a in result.analyses)


@pytest.mark.parametrize(
    ("field", "part"),
    [("compare", AnalysisPart.DIFF), ("trace", AnalysisPart.TRACE)],
)
def test_a_parser_failing_on_one_copy_is_a_finding_on_that_copy(
    field: str, part: AnalysisPart
) -> None:
    failing = failing_for(
        ("plain",), getattr(PARSERS, field), RecursionError("maximum recursion depth")
    )
    parsers = dataclasses.replace(PARSERS, **{field: failing})
    result = judge(a_run(), parsers)
    analyses = by_variant(result)
    assert analyses["plain"].not_analysed == (
        NotAnalysed(part, "could not be parsed: RecursionError: maximum recursion depth"),
    )
    assert getattr(analyses["plain"], "diff" if part is AnalysisPart.DIFF else "trace") is None
    for other in ("control", "other"):  # analysed as usual
        assert analyses[other].not_analysed == ()
        assert analyses[other].diff is not None and analyses[other].trace is not None
    decision = result.decision
    assert decision is not None and not decision.clean and result.status is Status.UNKNOWN
    assert f"plain: {part} could not be parsed: RecursionError: maximum recursion depth" in (
        decision.notes
    )
    assert decision.headline[0].startswith("No hop interferes in what could be analysed")
    again = from_data(RunResult, json.loads(json.dumps(document(RUN_SCHEMA, result))))
    assert again == result


def _nested(depth: int) -> bytes:
    head = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                    for i in range(depth))  # fmt: skip
    tail = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"MIME-Version: 1.0\r\n" + head + b"Content-Type: text/plain\r\n\r\nx" + tail


HOSTILE = {
    "nested": _nested(1000),
    "groups": b"To: " + b"g:" * 5000 + b"x@example.com;\r\nSubject: x\r\n\r\nbody\r\n",
    "charset": b"Subject: =?unknown-8bit?q?caf=E9?= =?\xe9?q?x?=\r\n\r\nbody\r\n",
}
DSN = (
    b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
    b' boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nsorry\r\n'
    b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n"
    b"Arrival-Date: Fri, 31 Dec 9999 23:59:59 -0100\r\n\r\nFinal-Recipient: rfc822; u@example.com"
    b"\r\nAction: failed\r\nStatus: 5.1.1\r\n--r--\r\n"
)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_copy_never_ends_the_run(kind: str) -> None:
    """Whatever the real parsers make of these, the run is judged and is a JSON document."""
    run = a_run(bounce=DSN)
    assert run.collect is not None
    copies = tuple(
        dataclasses.replace(c, raw=STAMP + HOSTILE[kind]) if c.probe_id.endswith(".plain") else c
        for c in run.collect.delivered
    )
    run = dataclasses.replace(run, collect=dataclasses.replace(run.collect, delivered=copies))
    result = judge(run)
    assert result.decision is not None
    json.dumps(document(RUN_SCHEMA, result))
    control = by_variant(result)["control"]
    assert control.diff is not None and not control.not_analysed


def test_a_copy_that_cannot_be_compared_is_counted_as_such() -> None:
    parsers = dataclasses.replace(
        PARSERS, compare=failing_for(("plain", "other"), compare, LookupError("unknown encoding"))
    )
    decision = judge(a_run(), parsers).decision
    assert decision is not None
    assert "3 delivered, 1 compared with what was sent" in decision.tested


def test_a_bounce_that_cannot_be_parsed_is_a_finding_on_its_variant() -> None:
    parsers = dataclasses.replace(PARSERS, bounce=failing(OverflowError("date value out of range")))
    result = judge(a_run(bounce=b"Subject: Undelivered Mail\r\n\r\nsorry\r\n"), parsers)
    other = by_variant(result)["other"]
    reason = "could not be parsed: OverflowError: date value out of range"
    assert other.not_analysed == (NotAnalysed(AnalysisPart.BOUNCE, reason),)
    assert other.diff is not None  # its copy is analysed all the same
    assert result.status is Status.UNKNOWN


def test_decide_reads_the_copies_through_guarded_parsers() -> None:
    """The header fields and Received stamps decide reads itself: a failure is a note."""
    run = judge(a_run())
    for parsers, what in (
        (Parsers(header_fields=failing_for(("control",), header_fields, ValueError("x"))),
         "control: header fields could not be parsed: ValueError: x"),
        (Parsers(received=failing(ValueError("x"))),
         "control: Received path could not be parsed: ValueError: x"),
    ):  # fmt: skip
        decision = decide(run, parsers)
        assert what in decision.notes and decision.status is Status.UNKNOWN, decision.notes


def test_a_rule_that_fails_is_a_note_and_the_other_rules_still_decide() -> None:
    def rule_broken(ctx: object) -> list[Any]:
        raise KeyError("odd")

    run = judge(a_run())
    decision = decide(run, rules=(*RULES, rule_broken))
    assert "rule_broken could not decide: KeyError: 'odd'" in decision.notes
    assert decision.status is Status.UNKNOWN and not decision.clean


def test_decide_takes_partial_data() -> None:
    """A copy with no Received at all, bounces without status or recipients, a conversation
    without banner or replies, the same final-reply time at every size."""
    run = judge(a_run(stamp=b""))
    bare = Bounce(BounceKind.HEURISTIC, (), (f"{RUN}.other",), StatusClass.UNKNOWN, "")
    unsure = dataclasses.replace(bare, recipients=(BounceRecipient(""),), reporting_mta=";")
    analyses = list(run.analyses)
    analyses[2] = dataclasses.replace(analyses[2], bounces=(bare, unsure))
    quiet = dataclasses.replace(conversation(), banner=None, ehlo=None, final_reply=None)
    timed = dataclasses.replace(conversation(), final_reply_ms=40.0)
    sets = (
        run.variants,
        [dataclasses.replace(s, size=n * 700_000, attempts=(timed,)) for n, s in
         enumerate(run.variants, 1)],
        [dataclasses.replace(s, attempts=(quiet,), reply=None) for s in run.variants],
    )  # fmt: skip
    for variants in sets:
        partial = dataclasses.replace(run, analyses=tuple(analyses), variants=tuple(variants))
        decision = decide(partial)
        assert not any("could not decide" in n for n in decision.notes), decision.notes
        json.dumps(to_data(decision))


# ------------------------------------------------------------------- saved by an older probe


def _saved_by(version: str | None) -> dict[str, Any]:
    """The golden run (a real lab run) as another probe version would have saved it: its copies
    carry that version in X-Probe. `None`: saved before the version and digests were stored."""
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    for copy in data["collect"]["delivered"]:
        raw = base64.b64decode(copy["raw"])
        assert b"X-Probe: probe/0.1.0 " in raw  # the version that made the golden run
        raw = raw.replace(b"probe/0.1.0 ", f"probe/{version or '0.0.9'} ".encode())
        copy["raw"] = base64.b64encode(raw).decode()
    for send in data["variants"]:
        send["manifest"].pop("header_sha256")  # what that version sent is not known here
    if version is None:
        del data["craft_version"]
    else:
        data["craft_version"] = version
    return data


@pytest.mark.parametrize("version", [None, "0.0.9"])
def test_a_run_saved_by_an_older_probe_gets_no_x_probe_verdict(version: str | None) -> None:
    golden = from_data(RunResult, json.loads(GOLDEN.read_text()))
    result = judge(from_data(RunResult, _saved_by(version)))
    assert result.decision is not None and golden.decision is not None
    rules = [a.rule for h in result.decision.hops for a in h.actions]
    assert "rewrite-header-modified" not in rules
    assert result.decision == golden.decision and result.status is golden.status


def test_a_sent_message_that_cannot_be_made_again_is_not_compared() -> None:
    """The stored digest of the header block is not what this probe makes: the copy is not
    compared (no verdict from a diff against the wrong message), and the run says so."""
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    for send in data["variants"]:
        send["manifest"]["header_sha256"] = "0" * 64
    result = judge(from_data(RunResult, data))
    assert all(a.diff is None for a in result.analyses)
    gaps = [g for a in result.analyses for g in a.not_analysed]
    assert gaps and all(g.part is AnalysisPart.DIFF for g in gaps)
    assert "(the header block differs)" in gaps[0].reason
    assert result.decision is not None
    assert any("not compared" in note for note in result.decision.notes)
    assert not [a for h in result.decision.hops for a in h.actions if a.rule.startswith("rewrite")]


def test_a_run_made_by_another_version_is_made_again_byte_for_byte() -> None:
    """Its stored version goes into X-Probe again: the header digests match and X-Probe is not
    even a difference."""
    result = judge(a_run(version="0.0.9"))
    assert result.status is Status.OK
    for analysis in result.analyses:
        assert analysis.not_analysed == () and analysis.diff is not None
        assert not [c for c in analysis.diff.findings if c.where.lower() == "x-probe"]
