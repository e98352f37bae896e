"""Who answers at one address (probe connect's naming), from whole conversations (pure).

The replies are real (tests/unit/mta_sessions.py says which software and version wrote each);
a "box" here is another MTA's replies behind Postfix's banner, as a proxy passing the banner
through would give them.
"""

from __future__ import annotations

import datetime as dt

from probe.decide.who_answers import UNKNOWN, who_answers
from probe.model.smtp import Conversation, Outcome, RcptResult, Reply, Stage, Step
from probe.model.verdict import Confidence
from tests.unit.mta_sessions import SESSIONS

T0 = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def reply(code: int, text: str) -> Reply:
    return Reply(code=code, lines=(text,))


def conversation(banner: str, session: str) -> Conversation:
    """`banner`, then the EHLO keywords and the last NOOP/MAIL/RCPT/RSET/QUIT reply of `session`."""
    _, ehlo, replies = SESSIONS[session]
    last = {stage: reply(code, text) for stage, code, text in replies}
    steps = tuple(
        Step(Stage(stage), T0, 1.0, Outcome.OK, last[stage])
        for stage in ("noop", "rset", "quit")
        if stage in last
    )
    return Conversation(
        host="192.0.2.1",
        address="192.0.2.1",
        port=25,
        helo="probe.example.org",
        started_at=T0,
        duration_ms=10.0,
        outcome=Outcome.OK,
        stage=Stage.QUIT,
        banner=Reply(code=int(banner[:3]), lines=(banner[4:],)),
        ehlo=Reply(code=250, lines=("mx.example.com", *ehlo)),
        capabilities=ehlo,
        mail_reply=last["mail"],
        rcpt_results=(RcptResult("postmaster", last["rcpt"], True),),
        steps=steps,
    )


def test_each_real_mta_answers_as_itself() -> None:
    for name, (banner, _, _) in SESSIONS.items():
        who = who_answers(conversation(banner, name))
        assert (who.product_id, who.box, who.confidence) == (name, None, Confidence.HIGH), name
        assert who.evidence and who.address == "192.0.2.1:25"


def test_replies_behind_postfixs_banner_that_postfix_never_writes_are_a_box() -> None:
    who = who_answers(conversation(SESSIONS["postfix"][0], "qpsmtpd"))
    assert (who.product, who.product_id) == ("Postfix", "postfix")
    assert who.box is not None and who.box.product == "qpsmtpd"
    expected = "250 <user@mta.probe.test>, recipient ok: Postfix always writes an enhanced status"
    assert f"{expected} code here" in who.box.replies


def test_a_fixed_text_rules_out_even_with_an_enhanced_code() -> None:
    conv = conversation(SESSIONS["postfix"][0], "postfix")
    sender_ok = reply(250, "2.1.0 Sender OK")  # Exchange's wording at MAIL
    who = who_answers(Conversation(**{**conv.__dict__, "mail_reply": sender_ok}))
    assert who.box is not None
    assert who.box.replies == ("250 2.1.0 Sender OK: Postfix's 250 reply to MAIL is always its "
                               "own fixed text",)  # fmt: skip
    assert who.box.product.startswith("unknown, consistent with Microsoft Exchange")


def test_a_box_whose_replies_no_one_is_known_for_is_unknown() -> None:
    conv = conversation(SESSIONS["postfix"][0], "postfix")
    conv = Conversation(**{**conv.__dict__, "mail_reply": reply(250, "sender accepted")})
    who = who_answers(conv)
    assert who.box is not None and (who.box.product, who.box.confidence) == (
        UNKNOWN,
        Confidence.LOW,
    )


def test_an_unknown_banner_and_no_known_replies_say_unknown_in_its_words() -> None:
    conv = conversation("220 mx.example.com ESMTP FooMail 2.1 ready", "postfix")
    who = who_answers(Conversation(**{**conv.__dict__, "mail_reply": None, "rcpt_results": ()}))
    # Postfix's own NOOP/RSET/QUIT and EHLO order still name it: a renamed banner is no box
    assert who.product_id == "postfix" and who.box is None
    bare = Conversation(**{**conv.__dict__, "mail_reply": None, "rcpt_results": (), "steps": (),
                           "capabilities": ()})  # fmt: skip
    assert who_answers(bare).product == "unknown (banner says FooMail 2.1)"
