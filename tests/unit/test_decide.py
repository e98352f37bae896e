"""`decide` on observations built from real transcripts and headers, positive and negative.

Sources:
- the seed: the CheckPoint session published in the research notes ([S4] in
  docs/research/fingerprints.md 0.2): IronPort-identical replies, the 554 scan failure and
  `X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}` in delivered copies, behind an IronPort Received;
- tests/data/mta/: a message and a DSN written by a real Postfix 3.7 (the `mta` tier).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from probe.analyze.bounce.dsn import parse_bounce
from probe.analyze.diff.compare import compare
from probe.analyze.headers import header_fields
from probe.analyze.received.path import trace
from probe.decide.decision import decide, judge
from probe.model.collect import (
    Arrival,
    ArrivalStatus,
    CollectedBounce,
    CollectResult,
    FoundMessage,
)
from probe.model.json import from_data, to_data
from probe.model.message import DeliveredCopy, Manifest
from probe.model.run import RunResult, VariantAnalysis
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome, RcptResult, Reply
from probe.model.status import Status
from probe.model.verdict import Action, CheckLevel, Decision, HopKey, HopVerdict

MTA = Path(__file__).parents[1] / "data" / "mta"
T0 = dt.datetime(2010, 3, 18, 14, 19, 34, tzinfo=dt.UTC)
RUN = "20100318T141934-0a0b0c"


def reply(code: int, text: str) -> Reply:
    return Reply(code, (text,))


def conversation(
    host: str,
    *,
    banner: str,
    caps: tuple[str, ...],
    final: Reply | None,
    outcome: Outcome,
    stage: str,
    mail: str = "250 sender <probe@sender.test> ok",
    rcpt: str = "250 recipient <user@example.com> ok",
    data: str = "354 go ahead",
) -> Conversation:
    def r(line: str) -> Reply:
        return reply(int(line[:3]), line[4:])

    return Conversation(
        host=host,
        address="192.0.2.25",
        port=25,
        helo="probe.test",
        started_at=T0,
        duration_ms=50.0,
        outcome=outcome,
        stage=stage,
        banner=r(banner),
        ehlo=Reply(250, (host, *caps)),
        capabilities=caps,
        mail_reply=r(mail),
        rcpt_results=(RcptResult("user@example.com", r(rcpt), True),),
        data_reply=r(data),
        final_reply=final,
    )


def sent_message(variant: str, extra: str = "") -> bytes:
    pid = f"{RUN}.{variant}"
    return (
        "From: probe@sender.test\r\nTo: user@example.com\r\n"
        f"Subject: [probe {pid}] {variant}\r\nMessage-ID: <probe.{pid}@sender.test>\r\n"
        f"X-Probe-Id: {pid}\r\nDate: Thu, 18 Mar 2010 14:19:34 +0000\r\n\r\n"
        f"probe-id: {pid}\r\n{extra}"
    ).encode()


def manifest_of(raw: bytes, variant: str) -> Manifest:
    names = tuple(n for n, _ in header_fields(raw))
    pid = f"{RUN}.{variant}"
    return Manifest(pid, variant, len(raw), f"<probe.{pid}@sender.test>", "", names)


def send(variant: str, conv: Conversation, sent: bytes) -> VariantSend:
    return VariantSend(
        variant,
        f"{RUN}.{variant}",
        variant,
        conv.outcome,
        conv.stage,
        reply=conv.final_reply,
        target="mail.example.com",
        size=len(sent),
        manifest=manifest_of(sent, variant),
        attempts=(conv,),
    )


def run_of(
    sends: list[VariantSend],
    copies: dict[str, bytes],
    sent: dict[str, bytes],
    *,
    statuses: dict[str, Arrival] | None = None,
    bounces: tuple[CollectedBounce, ...] = (),
    advertised: int | None = 10485760,
) -> RunResult:
    delivered = tuple(
        DeliveredCopy(f"{RUN}.{v}", raw, "INBOX", found_at=T0) for v, raw in copies.items()
    )
    status_map = statuses or {}
    arrivals = tuple(
        ArrivalStatus(
            s.probe_id,
            s.variant,
            status_map.get(
                s.variant, Arrival.DELIVERED if s.variant in copies else Arrival.MISSING
            ),
            folders=("INBOX",),
        )
        for s in sends
        if s.outcome is Outcome.ACCEPTED
    )
    collect = CollectResult(
        "maildir:/tmp/x", "maildir:/tmp/x", T0, 10.0, False, arrivals, delivered, bounces
    )
    analyses = []
    for s in sends:
        raw = copies.get(s.variant)
        found = tuple(b for c in bounces if s.probe_id in c.probe_ids if (b := parse_bounce(c.raw)))
        if raw is None and not found:
            continue
        analyses.append(
            VariantAnalysis(
                s.probe_id,
                s.variant,
                trace(raw) if raw else None,
                compare(sent[s.variant], raw) if raw else None,
                found,
            )
        )
    return RunResult(
        run_id=RUN,
        domain="example.com",
        to="user@example.com",
        mail_from="probe@sender.test",
        profile="test",
        started_at=T0,
        variants=tuple(sends),
        collect=collect,
        analyses=tuple(analyses),
        advertised_size=advertised,
        checks=(("rejects", CheckLevel.CRITICAL), ("rewrites", CheckLevel.WARNING)),
    )


IRONPORT_CAPS = ("8BITMIME", "SIZE 10485760", "STARTTLS")
IRONPORT_RECEIVED = (
    "Received: from smtp.example.com (HELO smtp.example.com) ([1.2.3.4])\r\n"
    "  by mail.example.com with SMTP; 18 Mar 2010 10:19:34 -0400\r\n"
)


def seed_run(*, with_checkpoint: bool) -> Decision:
    """The seed: control delivered with X-CheckPoint; a 1 MB variant rejected with the 554."""
    banner = "220 mail.example.com ESMTP"
    ok = conversation(
        "mail.example.com",
        banner=banner,
        caps=IRONPORT_CAPS,
        final=reply(250, "ok:  Message 40034823 accepted"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    big_final = (
        reply(554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}")
        if with_checkpoint
        else reply(250, "ok:  Message 40034824 accepted")
    )
    big = conversation(
        "mail.example.com",
        banner=banner,
        caps=IRONPORT_CAPS,
        final=big_final,
        outcome=Outcome.REJECTED if with_checkpoint else Outcome.ACCEPTED,
        stage="data-end" if with_checkpoint else "quit",
    )
    sent = {"control": sent_message("control"), "size-1m": sent_message("size-1m", "x" * 1000)}
    header = "X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}\r\n" if with_checkpoint else ""
    copies = {"control": IRONPORT_RECEIVED.encode() + header.encode() + sent["control"]}
    if not with_checkpoint:
        copies["size-1m"] = IRONPORT_RECEIVED.encode() + sent["size-1m"]
    sends = [send("control", ok, sent["control"]), send("size-1m", big, sent["size-1m"])]
    return decide(run_of(sends, copies, sent))


def test_seed_names_a_checkpoint_box_in_front_of_the_mx_from_specific_evidence() -> None:
    decision = seed_run(with_checkpoint=True)
    box = next(h for h in decision.hops if str(h.key) == "front:mail.example.com")
    assert not box.visible and "Check Point" in box.name
    rejects = next(a for a in box.actions if a.action is Action.REJECTS)
    assert "554 Permanent scan failure" in rejects.summary
    assert any("share one format" in e.text for e in rejects.evidence)
    assert Action.INJECTS in {a.action for a in box.actions}
    # the IronPort-identical texts never attribute Check Point on their own
    assert not any(p.startswith("Cisco IronPort") and "Check Point" not in p for p in box.products)
    assert decision.status is Status.CRITICAL


def test_ironport_alone_is_not_accused_of_anything() -> None:
    decision = seed_run(with_checkpoint=False)
    assert decision.clean and decision.status is Status.OK
    assert not any("Check Point" in p and "or" not in p for h in decision.hops for p in h.products)


def real_postfix_run() -> Decision:
    sent = (MTA / "postfix-sent.eml").read_bytes()
    delivered = (MTA / "postfix-delivered.eml").read_bytes()
    conv = conversation(
        "mx.mta.probe.test",
        banner="220 mx.mta.probe.test ESMTP Postfix (Debian/GNU)",
        caps=(
            "PIPELINING",
            "SIZE 10240000",
            "VRFY",
            "ETRN",
            "STARTTLS",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
        ),
        final=reply(250, "2.0.0 Ok: queued as D6174212F28"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
        mail="250 2.1.0 Ok",
        rcpt="250 2.1.5 Ok",
        data="354 End data with <CR><LF>.<CR><LF>",
    )
    pid = "20240501T120000-0a0b0c.control"
    s = VariantSend(
        "control",
        pid,
        "control",
        Outcome.ACCEPTED,
        "quit",
        reply=conv.final_reply,
        size=len(sent),
        manifest=Manifest(
            pid, "control", len(sent), "", "", tuple(n for n, _ in header_fields(sent))
        ),
        attempts=(conv,),
    )
    run = run_of([s], {}, {})
    copy = DeliveredCopy(pid, delivered, "INBOX", found_at=T0)
    collect = CollectResult(
        "maildir:/x",
        "maildir:/x",
        T0,
        1.0,
        False,
        (ArrivalStatus(pid, "control", Arrival.DELIVERED, ("INBOX",)),),
        (copy,),
    )
    analysis = VariantAnalysis(pid, "control", trace(delivered), compare(sent, delivered))
    run = RunResult(**{**run.__dict__, "collect": collect, "analyses": (analysis,)})
    return decide(run)


def test_real_postfix_header_checks_are_its_own_not_an_invisible_box() -> None:
    decision = real_postfix_run()
    keys = {str(h.key) for h in decision.hops if h.actions}
    assert not any(k.startswith("front:") for k in keys), keys
    mx = next(h for h in decision.hops if str(h.key) == "mx.mta.probe.test")
    summaries = " ".join(a.summary for a in mx.actions)
    assert "tags the Subject `[MTA-TAG]`" in summaries
    assert "adds X-Postfix-Checked" in summaries


def test_real_postfix_dsn_is_a_post_acceptance_rejection() -> None:
    raw = (MTA / "postfix-dsn.eml").read_bytes()
    bounce = parse_bounce(raw)
    assert bounce is not None and bounce.probe_ids
    pid = bounce.probe_ids[0]
    variant = pid.split(".", 1)[1]
    conv = conversation(
        "mx.mta.probe.test",
        banner="220 mx.mta.probe.test ESMTP Postfix",
        caps=("PIPELINING",),
        final=reply(250, "2.0.0 Ok: queued as X"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    s = VariantSend(variant, pid, variant, Outcome.ACCEPTED, "quit", attempts=(conv,))
    collected = CollectedBounce((pid,), FoundMessage(raw, "INBOX"))
    run = RunResult(
        run_id=pid.split(".")[0],
        domain="mta.probe.test",
        to="gone@mta.probe.test",
        mail_from="sender@mta.probe.test",
        profile="t",
        started_at=T0,
        variants=(s,),
        collect=CollectResult(
            "m",
            "m",
            T0,
            1.0,
            False,
            (ArrivalStatus(pid, variant, Arrival.BOUNCED, bounces=1),),
            (),
            (collected,),
        ),
        analyses=(VariantAnalysis(pid, variant, None, None, (bounce,)),),
    )
    decision = decide(run)
    bounces = [a for h in decision.hops for a in h.actions if a.action is Action.BOUNCES]
    assert bounces and any("550 5.1.1" in e.text for e in bounces[0].evidence)
    assert decision.status is Status.CRITICAL


def test_silent_drop_and_junk_folder() -> None:
    ok = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP Postfix",
        caps=("PIPELINING",),
        final=reply(250, "2.0.0 Ok: queued as A"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    sent = {v: sent_message(v) for v in ("control", "attach-zip", "size-1m")}
    received = (
        b"Received: from probe.test (h [192.0.2.1])\r\n\tby mx.example.com (Postfix) "
        b"with ESMTP id A1; Thu, 18 Mar 2010 14:19:35 +0000\r\n"
    )
    copies = {"control": received + sent["control"], "size-1m": received + sent["size-1m"]}
    sends = [send(v, ok, sent[v]) for v in sent]
    run = run_of(sends, copies, sent)
    junk_status = tuple(
        ArrivalStatus(a.probe_id, a.variant, a.status, ("Junk",), junk=True)
        if a.variant == "size-1m"
        else a
        for a in run.collect.statuses  # type: ignore[union-attr]
    )
    run = RunResult(
        **{
            **run.__dict__,
            "collect": CollectResult(
                **{
                    **run.collect.__dict__,  # type: ignore[union-attr]
                    "statuses": junk_status,
                }
            ),
        }
    )
    decision = decide(run)
    acts = {a.action: a for h in decision.hops for a in h.actions}
    assert "attach-zip" in acts[Action.DROPS].summary
    assert "size-1m" in acts[Action.JUNKS].summary
    assert decision.status is Status.CRITICAL


def test_greylisting_is_named_but_not_a_fault() -> None:
    temp = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP",
        caps=(),
        final=None,
        outcome=Outcome.TEMP_FAILED,
        stage="rcpt",
        rcpt="450 4.2.0 <user@example.com>: Recipient address rejected: Greylisted",
    )
    ok = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP",
        caps=(),
        final=reply(250, "2.0.0 Ok"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    sent = sent_message("control")
    s = VariantSend(
        "control",
        f"{RUN}.control",
        "c",
        Outcome.ACCEPTED,
        "quit",
        size=len(sent),
        attempts=(temp, ok),
    )
    run = RunResult(
        run_id=RUN,
        domain="example.com",
        to="user@example.com",
        mail_from="p@s.test",
        profile="t",
        started_at=T0,
        variants=(s,),
    )
    decision = decide(run)
    grey = [a for h in decision.hops for a in h.actions if a.action is Action.GREYLISTS]
    assert grey and "Greylisted" in grey[0].evidence[0].text
    assert decision.status is Status.OK


def test_a_run_interrupted_before_any_variant_finished_judges_nothing() -> None:
    """Every conversation got as far as DATA and was then cut short by probe itself: the MX
    answered, but no variant says anything about the path (UNKNOWN, no "No hop interferes"),
    and the unfinished control is noted once, as not tested."""
    cut = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP",
        caps=("PIPELINING", "STARTTLS"),
        final=None,
        outcome=Outcome.INTERRUPTED,
        stage="data-end",
    )
    sent = {v: sent_message(v) for v in ("control", "size-1m")}
    sends = [
        dataclasses.replace(send(v, cut, sent[v]), interrupted=True, reason="interrupted")
        for v in sent
    ]
    run = dataclasses.replace(
        run_of(sends, {}, sent), interrupted=True, stop_reason="deadline of 1 s passed during send"
    )
    decision = decide(run)
    assert decision.status is Status.UNKNOWN and not decision.clean
    assert decision.headline == (
        "Nothing to judge: no variant finished (deadline of 1 s passed during send).",
    )
    assert sum("control" in note for note in decision.notes) == 1


def test_decide_alone_sets_the_status_of_an_interrupted_run() -> None:
    """A clean control, then Ctrl-C: nothing interferes, but the run is incomplete (WARNING), and
    `judge` hands on decide's status instead of deriving its own."""
    ok = conversation(
        "mx.example.com",
        banner="220 mx.example.com ESMTP",
        caps=("STARTTLS",),
        final=reply(250, "2.0.0 Ok"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
    )
    sent = {"control": sent_message("control")}
    run = dataclasses.replace(
        run_of([send("control", ok, sent["control"])], {}, sent),
        collect=None,
        analyses=(),
        interrupted=True,
        stop_reason="interrupted during collect",
    )
    decision = decide(run)
    assert decision.clean and decision.status is Status.WARNING
    judged = judge(run)
    assert judged.decision == decision and judged.status is Status.WARNING


def test_a_hop_key_is_typed_and_its_json_is_the_old_string() -> None:
    keys = {
        "mx.example.com": HopKey.at("mx.example.com"),
        "front:mx.example.com": HopKey.front("mx.example.com"),
        "after:mx.example.com": HopKey.after("mx.example.com"),
        "link:a.example->b.example": HopKey.link("a.example", "b.example"),
        "[::1]": HopKey.at("[::1]"),  # a colon is no kind
        "front:": HopKey.at("front:"),
    }
    for text, key in keys.items():
        assert str(key) == text and HopKey.from_text(text) == key
    verdict = HopVerdict(HopKey.front("mx.example.com"), "a box", False)
    assert to_data(verdict)["key"] == "front:mx.example.com"
    assert from_data(HopVerdict, to_data(verdict)) == verdict
    assert HopKey.link("a", "b").label == "a box between a and b" and not HopKey.after("a").visible
