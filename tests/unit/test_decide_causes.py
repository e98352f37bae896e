"""Causes and consequences in verdicts (issue 10 items 5 and 6, issue 11's codes in verdicts).

Postfix's replies are real (Postfix 3.7.11, tests/data/mta/postfix-replies.json); Exim's and
Sendmail's loop texts are quoted from their sources in probe/data/refusal_causes.toml.
"""

from __future__ import annotations

import dataclasses

from probe.decide.decision import decide
from probe.decide.rules.causes import CauseKind, cause_of, shipped_causes
from probe.model.smtp import Reply
from probe.model.status import Status
from probe.model.variant import AttachmentKind, AttachmentSpec, Expect, VariantSpec
from probe.model.verdict import Action, HopKey
from probe.report.run import verdict_text
from tests.unit.replies_runs import Script, copy_of, run_of, sent

CONTROL = VariantSpec("control", "control")
ZIP = VariantSpec("attach-zip", "zip", attachments=(AttachmentSpec(AttachmentKind.ZIP),))
S100K = VariantSpec("size-100k", "100k", size=100_000)
S300K = VariantSpec("size-300k", "300k", size=300_000)
HOPS10 = VariantSpec("received-10", "10 Received", received_headers=10)
HOPS30 = VariantSpec("received-30", "30 Received", received_headers=30, expect=Expect.REJECT_OK)


def actions(decision, key: HopKey) -> dict[Action, str]:  # type: ignore[no-untyped-def]
    hop = next((h for h in decision.hops if h.key == key), None)
    return {a.action: a.summary for a in hop.actions} if hop else {}


def stripped_tls_run():  # type: ignore[no-untyped-def]
    """A box passes Postfix's banner and EHLO but drops STARTTLS; Postfix (encrypt) refuses
    every MAIL with 530."""
    encrypt = Script.postfix("tls-encrypt")
    caps = tuple(c for c in encrypt.caps if c != "STARTTLS")
    box = dataclasses.replace(encrypt, caps=caps)
    specs = [CONTROL, ZIP, S100K]
    sizes = {"control": 562, "attach-zip": 5_210, "size-100k": 100_000}
    return run_of([sent(s, box, sizes[s.id]) for s in specs], specs)


def test_a_stripped_starttls_and_the_530_behind_it_are_one_causal_chain() -> None:
    decision = decide(stripped_tls_run())
    box = actions(decision, HopKey.front("mx.mta.probe.test"))
    mta = actions(decision, HopKey.at("mx.mta.probe.test"))
    assert box[Action.STRIPS_TLS] == (
        "strips STARTTLS from the EHLO reply: the MTA behind it requires TLS and so refuses "
        "every message (`530 5.7.0 Must issue a STARTTLS command first`)"
    )
    assert mta[Action.REJECTS].startswith(
        "requires TLS: rejects every message at MAIL FROM with `530 5.7.0 Must issue a STARTTLS "
        "command first`, because STARTTLS never reaches it: the box in front strips it"
    )
    text = " ".join(decision.headline)
    assert "bytes" not in text and Action.NO_TLS not in box and Action.NO_TLS not in mta
    assert decision.status is Status.CRITICAL


def test_a_530_with_starttls_offered_accuses_no_box() -> None:
    encrypt = Script.postfix("tls-encrypt")
    run = run_of([sent(CONTROL, encrypt, 562)], [CONTROL])
    decision = decide(run)
    assert not actions(decision, HopKey.front("mx.mta.probe.test"))
    assert "requires TLS" in actions(decision, HopKey.at("mx.mta.probe.test"))[Action.REJECTS]


def test_a_hop_count_rejection_is_loop_protection_with_its_limit_not_a_size_verdict() -> None:
    """Postfix 3.7 with hopcount_limit = 20 and message_size_limit = 200000: the variant with 30
    Received headers gets `554 5.4.0 Error: too many hops`, the 300 kB one a size refusal."""
    specs = [CONTROL, HOPS10, HOPS30, S100K, S300K]
    sizes = {
        "control": 562,
        "received-10": 2_100,
        "received-30": 5_900,
        "size-100k": 100_000,
        "size-300k": 300_000,
    }
    scripts = {
        "received-30": Script.postfix("hops-30-limit20"),
        "size-300k": Script.postfix("size-300k"),
    }
    ok = Script.postfix("hops-10-limit20")
    sends = [sent(s, scripts.get(s.id, ok), sizes[s.id]) for s in specs]
    copies = {s.id: copy_of(s.id) for s in specs if s.id not in scripts}
    decision = decide(run_of(sends, specs, copies=copies, advertised=200_000))
    hop = next(h for h in decision.hops if h.key == HopKey.at("mx.mta.probe.test"))
    loop = next(a for a in hop.actions if a.rule == "loop-protection")
    assert loop.summary == (
        "protects against mail loops: rejects messages already carrying 30 or more Received "
        "headers (the most that passed carried 10) with `554 5.4.0 Error: too many hops` (it "
        "counts the Received headers a message already carries and refuses it above its limit, "
        "as a mail loop adds one on every pass)"
    )
    assert loop.variants == ("received-30",) and loop.check == "loop-protection"
    size = next(a for a in hop.actions if a.rule == "in-protocol-rejection")
    assert size.variants == ("size-300k",) and "Received" not in size.summary
    assert size.summary.startswith("rejects messages of 300,000 bytes and more (the limit lies")
    assert loop.reply is not None and not loop.reply.temporary


def test_loop_texts_of_other_mtas_are_loop_protection() -> None:
    for code, text in (
        (550, 'Too many "Received" headers - suspected mail loop'),  # Exim 4
        (554, "5.4.6 Too many hops 26 (25 max): from <a@b> via c, to <d@e>"),  # Sendmail 8
    ):
        found = cause_of(Reply(code, (text,)))
        assert found is not None and found.kind is CauseKind.LOOP
    assert cause_of(Reply(554, ("Permanent scan failure. Email Session ID: {4C2}",))) is None
    assert {c.kind for c in shipped_causes()} == set(CauseKind)


def test_a_rejection_carries_what_its_reply_means_and_the_vendor_it_points_to() -> None:
    """Issue 11: the seed table's `451 Message ended early` points to Cisco's SMTP fixup."""
    early = Script.postfix("plain", final="451 Message ended early")
    specs = [CONTROL, S100K]
    sends = [sent(CONTROL, Script.postfix("plain"), 562), sent(S100K, early, 100_000)]
    decision = decide(run_of(sends, specs, copies={"control": copy_of("control")}))
    delay = next(a for h in decision.hops for a in h.actions if a.action is Action.DELAYS)
    assert delay.reply is not None and delay.reply.temporary
    assert any("Cisco" in v for v in delay.reply.vendors), delay.reply
    assert "MailGuard" in delay.reply.meaning + delay.reply.cause + delay.reply.remedy
    shown = verdict_text(decision)
    assert "reply means (temporary)" in shown and "what to do:" in shown


def test_the_same_run_gives_the_same_verdict_in_any_order() -> None:
    run = stripped_tls_run()
    first = decide(run)
    assert decide(run) == first
    reordered = dataclasses.replace(
        run, variants=tuple(reversed(run.variants)), specs=tuple(reversed(run.specs))
    )
    assert decide(reordered) == first


def test_a_deferral_every_variant_got_is_named_with_its_cause() -> None:
    """postgrey's default text (Postfix policy service), for every attempt within the run."""
    grey = Script.postfix(
        "plain",
        rcpt="450 4.2.0 <user@mta.probe.test>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/mta.probe.test.html",
    )
    specs = [CONTROL, ZIP]
    decision = decide(run_of([sent(CONTROL, grey, 562), sent(ZIP, grey, 5_210)], specs))
    delays = [a for h in decision.hops for a in h.actions if a.action is Action.DELAYS]
    (delay,) = delays
    assert delay.summary.startswith("greylists: keeps deferring every message with `450 4.2.0")
    assert delay.reply is not None and delay.reply.temporary


def test_the_reply_that_names_its_cause_picks_the_property_without_alternatives() -> None:
    """Only the control and 10 Received headers passed, so size separates too; the reply says
    `too many hops`: the Received count is the condition, size is no alternative."""
    specs = [CONTROL, HOPS10, HOPS30]
    ok = Script.postfix("hops-10-limit20")
    sends = [
        sent(CONTROL, ok, 562),
        sent(HOPS10, ok, 2_100),
        sent(HOPS30, Script.postfix("hops-30-limit20"), 5_900),
    ]
    copies = {v: copy_of(v) for v in ("control", "received-10")}
    decision = decide(run_of(sends, specs, copies=copies))
    loop = next(a for h in decision.hops for a in h.actions if a.rule == "loop-protection")
    assert loop.condition == (
        "messages already carrying 30 or more Received headers (the most that passed carried 10)"
    )


def test_size_refusals_are_known_by_the_codes_knowledge_wordings() -> None:
    """The size cause takes its wordings from probe codes (one place): Postfix 3.7's own, and
    Haraka's `550 Message too big!` as vendor_replies.toml has it."""
    for code, text in ((552, "5.3.4 Error: message file too big"), (550, "Message too big!")):
        found = cause_of(Reply(code, (text,)))
        assert found is not None and found.kind is CauseKind.SIZE, text
