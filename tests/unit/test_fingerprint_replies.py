"""Per-reply authorship: which products can have written one reply line (pure).

The Postfix lines are from a real Postfix 3.7.11 (Debian 12, `postfix 3.7.11-0+deb12u1`) of the
mta tier (tests/mta/servers.py), captured on 2026-12-03; the Check Point lines are the seed's
(notes §0.2 quoting S4, blog.dotsmart.net 2010); tests/mta/test_mta_authorship.py checks the same
against the live Postfix.
"""

from __future__ import annotations

import pytest

from probe.analyze import fingerprint as fp
from probe.analyze.fingerprint.knowledge import parse_knowledge
from probe.analyze.fingerprint.replies import Authorship, could_write, reply_writers
from probe.errors import ConfigError
from probe.model.verdict import Confidence

KNOWN = fp.shipped_knowledge()

# (stage, code, text) as Postfix 3.7.11 wrote them
POSTFIX_LINES = [
    ("mail", 250, "2.1.0 Ok"),
    ("rcpt", 250, "2.1.5 Ok"),
    ("data", 354, "End data with <CR><LF>.<CR><LF>"),
    ("final", 250, "2.0.0 Ok: queued as C998720C56E"),
    ("noop", 250, "2.0.0 Ok"),
    ("rset", 250, "2.0.0 Ok"),
    ("quit", 221, "2.0.0 Bye"),
    ("help", 500, "5.5.2 Error: command not recognized"),
    ("rcpt", 503, "5.5.1 Error: need MAIL command"),
    ("data", 503, "5.5.1 Error: need RCPT command"),
    ("mail", 503, "5.5.1 Error: nested MAIL command"),
    ("mail", 501, "5.1.7 Bad sender address syntax"),
    ("rcpt", 501, "5.1.3 Bad recipient address syntax"),
    ("data", 554, "5.5.1 Error: no valid recipients"),
    ("starttls", 502, "5.5.1 Error: command not implemented"),
    ("mail", 552, "5.3.4 Message size exceeds fixed limit"),
    (
        "rcpt",
        550,
        "5.1.1 <nobody@mta.probe.test>: Recipient address rejected: User unknown in virtual "
        "mailbox table",
    ),
    ("ehlo", 501, "Syntax: EHLO hostname"),
]

SEED_LINES = [
    ("mail", 250, "sender <a@example.org> ok"),
    ("rcpt", 250, "recipient <b@example.com> ok"),
    ("data", 354, "go ahead"),
    ("final", 554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}"),
]


@pytest.mark.parametrize(("stage", "code", "text"), POSTFIX_LINES)
def test_postfix_writes_its_own_replies(stage: str, code: int, text: str) -> None:
    assert could_write(KNOWN, "postfix", stage, code, text) is Authorship.WRITES
    assert "postfix" in {m.product for m in reply_writers(KNOWN, stage, code, text)}


@pytest.mark.parametrize(("stage", "code", "text"), SEED_LINES)
def test_the_check_point_box_answers_not_postfix(stage: str, code: int, text: str) -> None:
    assert could_write(KNOWN, "postfix", stage, code, text) is Authorship.CANNOT
    assert could_write(KNOWN, "checkpoint", stage, code, text) is Authorship.WRITES


def test_a_configurable_postfix_rejection_is_not_ruled_out() -> None:
    """An access map or a milter sets its own 5xx text; with an enhanced code it may be Postfix."""
    text = "5.7.1 Message rejected by local policy"
    assert could_write(KNOWN, "postfix", "final", 554, text) is Authorship.UNKNOWN
    assert could_write(KNOWN, "postfix", "final", 554, "Message rejected") is Authorship.CANNOT


def test_fixed_postfix_texts_rule_out_other_wordings_even_with_codes() -> None:
    assert could_write(KNOWN, "postfix", "mail", 250, "2.1.0 Sender OK") is Authorship.CANNOT
    assert could_write(KNOWN, "postfix", "data-end", 250, "2.0.0 Message accepted") is (
        Authorship.CANNOT
    )
    # the same text at a stage whose text is not fixed: nothing known either way
    assert could_write(KNOWN, "postfix", "vrfy", 252, "2.0.0 someone") is Authorship.UNKNOWN


def test_greeting_and_ehlo_replies_need_no_enhanced_code() -> None:
    assert could_write(KNOWN, "postfix", "ehlo", 250, "mx.example.com") is Authorship.UNKNOWN
    assert could_write(KNOWN, "postfix", "helo", 250, "mx.example.com") is Authorship.UNKNOWN
    assert could_write(KNOWN, "postfix", "any", 250, "mx.example.com") is Authorship.UNKNOWN
    assert could_write(KNOWN, "postfix", "any", 554, "Permanent scan failure") is (
        Authorship.CANNOT
    )


def test_products_without_habits_or_unknown_are_never_ruled_out() -> None:
    assert could_write(KNOWN, "haraka", "final", 554, "anything") is Authorship.UNKNOWN
    assert could_write(KNOWN, "no-such-product", "mail", 250, "2.1.0 Ok") is Authorship.UNKNOWN
    assert could_write(KNOWN, "postfix", "mail", None, "garbage") is Authorship.UNKNOWN


def test_the_stage_decides_which_wordings_apply() -> None:
    """Exim's 354 text is a DATA reply; a 250 at MAIL is not the Check Point's 354."""
    exim_354 = 'Enter message, ending with "." on a line by itself'
    assert could_write(KNOWN, "exim", "data", 354, exim_354) is Authorship.WRITES
    assert could_write(KNOWN, "checkpoint", "rcpt", 250, "sender <a@b> ok") is Authorship.UNKNOWN
    assert could_write(KNOWN, "checkpoint", "any", 250, "sender <a@b> ok") is Authorship.WRITES


def test_reply_writers_names_shared_wordings_as_shared() -> None:
    writers = reply_writers(KNOWN, "mail", 250, "sender <a@example.org> ok")
    assert {m.product for m in writers} == {"checkpoint", "cisco-ironport"}
    assert all(m.confidence is Confidence.LOW for m in writers)
    by_id = {m.product: m for m in writers}
    assert by_id["checkpoint"].alternatives == ("cisco-ironport",)
    assert by_id["checkpoint"].evidence[0].observed == "250 sender <a@example.org> ok"


def test_reply_writers_gives_a_specific_wording_more_weight() -> None:
    (only,) = reply_writers(KNOWN, "final", 554, SEED_LINES[3][2])
    assert (only.product, only.confidence, only.alternatives) == (
        "checkpoint",
        Confidence.MEDIUM,
        (),
    )
    assert reply_writers(KNOWN, "final", 250, "queued, thanks") == ()


PRODUCT = """
[[product]]
id = "x"
name = "X"
role = "mta"
source = "test"
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('reply_closed = ["mail 250"]\nreply_enhanced = "yes"\nreply_source = "t"', "true or"),
        ('reply_closed = ["mail"]\nreply_source = "t"', "bad `reply_closed`"),
        ('reply_closed = ["lunch 250"]\nreply_source = "t"', "unknown reply stage"),
        ("reply_enhanced = true", "reply_source"),
    ],
)
def test_bad_reply_habits_are_config_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_knowledge([("t.toml", PRODUCT + extra + "\n")])


def test_shipped_habits_are_loaded() -> None:
    habits = KNOWN.products["postfix"].replies
    assert habits is not None and habits.enhanced
    assert (fp.ReplyStage.MAIL, 250) in habits.closed
