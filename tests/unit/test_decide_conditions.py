"""Conditions come from what separates refused from passed variants, never from what they all
share, and never as a bare list of variant ids (issue 10 items 5, 6; issue 11).

The replies are real Postfix 3.7 texts (tests/data/mta/postfix-replies.json).
"""

from __future__ import annotations

import itertools

from probe.decide.context import build_context
from probe.decide.decision import decide
from probe.decide.rules.conditions import separate
from probe.decide.rules.traits import Trait
from probe.model.send import VariantSend
from probe.model.smtp import Outcome
from probe.model.variant import AttachmentKind, AttachmentSpec, Encoding, VariantSpec
from probe.model.verdict import Action, Confidence
from tests.unit.replies_runs import Script, copy_of, run_of, sent

CONTROL = VariantSpec("control", "control")
ZIP = VariantSpec("attach-zip", "zip", attachments=(AttachmentSpec(AttachmentKind.ZIP),))
PDF = VariantSpec("attach-pdf", "pdf", attachments=(AttachmentSpec(AttachmentKind.PDF),))
EXE = VariantSpec("attach-exe", "exe", attachments=(AttachmentSpec(AttachmentKind.EXE),))
ZIP_EXE = VariantSpec(
    "attach-zip-exe", "zip-exe", attachments=(AttachmentSpec(AttachmentKind.ZIP_EXE),)
)
RCPT3 = VariantSpec("rcpt-3", "three recipients", recipients=3)
ZIP3 = VariantSpec(
    "attach-zip-3-rcpt", "zip to 3", attachments=(AttachmentSpec(AttachmentKind.ZIP),), recipients=3
)
HOPS = VariantSpec("received-30", "30 Received", received_headers=30)
EIGHT = VariantSpec("body-8bit", "8bit", encoding=Encoding.EIGHT_BIT, charset="utf-8")
QP = VariantSpec("body-qp", "qp", encoding=Encoding.QUOTED_PRINTABLE, charset="utf-8")
S100K = VariantSpec("size-100k", "100k", size=100_000)
S1M = VariantSpec("size-1m", "1m", size=1_000_000)
S1100K = VariantSpec("size-1100k", "1.1m", size=1_100_000)

SIZES = {
    "control": 620,
    "attach-zip": 5_210,
    "attach-pdf": 1_340,
    "attach-exe": 2_900,
    "attach-zip-exe": 3_300,
    "rcpt-3": 700,
    "attach-zip-3-rcpt": 5_290,
    "received-30": 4_800,
    "body-8bit": 650,
    "body-qp": 700,
    "size-100k": 100_000,
    "size-1m": 1_000_000,
    "size-1100k": 1_100_000,
}
OK = Script.postfix("plain")


def condition(failed: list[VariantSpec], passed: list[VariantSpec], refusal: Script = OK) -> str:
    sends = [sent(s, refusal, SIZES[s.id]) for s in failed] + [
        sent(s, OK, SIZES[s.id]) for s in passed
    ]
    ctx = build_context(run_of(sends, [*failed, *passed]))
    f = [s for s in ctx.sends if s.variant in {x.id for x in failed}]
    p = [s for s in ctx.sends if s.variant in {x.id for x in passed}]
    return separate(f, p, ctx).text


def test_the_exchange_case_is_an_attachment_to_several_recipients_not_a_variant_id() -> None:
    """Issue 11: only the multi-recipient attachment variant fails; the single-recipient
    attachment and the multi-recipient plain message pass. Neither property alone separates."""
    text = condition([ZIP3], [CONTROL, ZIP, RCPT3, S1M])
    assert text == "messages with an attachment sent to several recipients at once"


def test_several_properties_that_separate_equally_are_all_named() -> None:
    text = condition([ZIP3], [CONTROL, S1M])
    assert text.startswith("messages with an attachment (or sent to several recipients at once")
    assert "do not tell which" in text and "attach-zip-3-rcpt" not in text


def test_a_size_condition_only_when_size_separates() -> None:
    assert condition([S1100K], [CONTROL, ZIP, S100K, S1M]) == (
        "messages of 1,100,000 bytes and more (the limit lies between 1,000,000 and 1,100,000 "
        "bytes)"
    )
    # the ZIP variant is bigger than the control, but a bigger one passed: size says nothing
    assert condition([ZIP], [CONTROL, PDF, S1M]) == "messages with a ZIP attachment"


def test_a_refusal_of_everything_is_every_message_not_its_smallest_size() -> None:
    """Issue 10 item 5: the 530 every variant got is not "messages of 562 bytes and more"."""
    tls = Script.postfix("tls-encrypt")
    sends = [sent(s, tls, SIZES[s.id]) for s in (CONTROL, ZIP, S1M)]
    ctx = build_context(run_of(sends, [CONTROL, ZIP, S1M]))
    found = separate(list(ctx.sends), [], ctx)
    assert found.every and found.phrase == "every message" and "bytes" not in found.text


def test_kinds_no_passed_variant_had() -> None:
    assert condition([EXE, ZIP_EXE], [CONTROL, ZIP, PDF]) == (
        "messages with an .exe attachment or a ZIP holding an .exe"
    )


def test_received_count_recipients_and_8bit_are_conditions_in_words() -> None:
    assert condition([HOPS], [CONTROL, S1M, ZIP]) == (
        "messages already carrying 30 or more Received headers (the most that passed carried 0)"
    )
    assert condition([RCPT3], [CONTROL, ZIP, S1M]) == "messages sent to several recipients at once"
    assert condition([EIGHT], [CONTROL, ZIP, S1M]) == "messages with an 8bit body"


def test_when_nothing_separates_it_says_so_and_is_less_sure() -> None:
    refused = Script.postfix("plain", final="554 5.7.1 Rejected by policy")
    failed, passed = [ZIP, S1M], [CONTROL, PDF, S100K]
    sends = [sent(s, refused, SIZES[s.id]) for s in failed] + [
        sent(s, OK, SIZES[s.id]) for s in passed
    ]
    ctx = build_context(run_of(sends, [*failed, *passed]))
    found = separate(
        [s for s in ctx.sends if s.outcome is Outcome.REJECTED],
        [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED],
        ctx,
    )
    assert not found.separates and found.traits == ()
    assert found.text == (
        "no property of the variants separates them: attach-zip, size-1m refused; "
        "attach-pdf, control, size-100k passed"
    )
    assert found.confidence(Confidence.HIGH) is Confidence.MEDIUM
    decision = decide(
        run_of(sends, [*failed, *passed], copies={s.id: copy_of(s.id) for s in passed})
    )
    rejects = [a for h in decision.hops for a in h.actions if a.action is Action.REJECTS]
    assert rejects and rejects[0].confidence is Confidence.MEDIUM


def test_the_condition_does_not_depend_on_the_order_of_the_variants() -> None:
    specs = [ZIP3, CONTROL, ZIP, RCPT3, S1M]
    seen = set()
    for order in itertools.permutations(specs[1:]):
        seen.add(condition([ZIP3], list(order)))
    assert seen == {"messages with an attachment sent to several recipients at once"}


def test_traits_of_the_separating_condition() -> None:
    sends: list[VariantSend] = [sent(ZIP3, OK, 5_290), sent(ZIP, OK, 5_210), sent(RCPT3, OK, 700)]
    ctx = build_context(run_of(sends, [ZIP3, ZIP, RCPT3]))
    found = separate([ctx.sends[0]], list(ctx.sends[1:]), ctx)
    assert found.traits == (Trait.ATTACHMENT, Trait.RECIPIENTS)


def test_with_nothing_passed_a_refusal_is_set_against_the_others_refused_otherwise() -> None:
    """Not "every message" when some variants were refused in another way."""
    big = Script.postfix("size-declared", mail="552 5.3.4 Message size exceeds fixed limit")
    tls = Script.postfix("tls-encrypt")
    sends = [sent(CONTROL, tls, 620), sent(ZIP, tls, 5_210), sent(S1M, big, 1_000_000)]
    ctx = build_context(run_of(sends, [CONTROL, ZIP, S1M]))
    found = separate([ctx.sends[2]], [], ctx)
    assert not found.every and found.traits == (Trait.SIZE,)
    assert found.phrase.startswith("messages of 1,000,000 bytes and more")


def test_a_body_encoding_that_separates_is_named() -> None:
    assert condition([QP], [CONTROL, EIGHT, ZIP, S1M]) == "messages with a quoted-printable body"
