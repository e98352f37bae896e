"""Products named honestly: real MTAs by their own evidence, shared evidence only as "consistent
with", a banner naming an unknown product as "unknown (banner says X)" (pure).

The sessions are real (tests/unit/mta_sessions.py says which software and version wrote each).
"""

from __future__ import annotations

import pytest

from probe.analyze import fingerprint as fp
from probe.decide.context import SeenProduct, named_first
from probe.decide.rules.identity import seen
from probe.model.verdict import Confidence
from tests.unit.mta_sessions import RECEIVED, SESSIONS

KNOWN = fp.shipped_knowledge()


def observed(name: str) -> fp.Observations:
    banner, ehlo, replies = SESSIONS[name]
    return fp.Observations(banner=(banner,), ehlo=ehlo, replies=replies)


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_each_real_mta_is_named_by_its_own_evidence_alone(name: str) -> None:
    matches = fp.match_products(KNOWN, observed(name))
    named = [m for m in matches if not m.alternatives]
    assert [m.product for m in named] == [name]
    assert named[0].confidence is Confidence.HIGH
    assert named[0].summary == KNOWN.products[name].name
    for shared in (m for m in matches if m.alternatives):
        assert shared.summary.startswith("consistent with ") and " or " not in shared.summary
        assert name in (shared.product, *shared.alternatives)


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_no_real_mta_is_ruled_out_of_its_own_replies(name: str) -> None:
    for stage, code, text in SESSIONS[name][2]:
        assert fp.could_write(KNOWN, name, stage, code, text) is not fp.Authorship.CANNOT


@pytest.mark.parametrize("name", ["exim", "qpsmtpd", "chasquid", "opensmtpd", "haraka", "sendmail"])
def test_postfix_is_ruled_out_of_other_mtas_transactions(name: str) -> None:
    """Postfix's MAIL/RCPT/DATA texts are fixed: another MTA's are never Postfix's (but for
    a text both write byte for byte, like Sendmail 8.17's 354)."""
    for stage, code, text in SESSIONS[name][2]:
        writers = {m.product for m in fp.reply_writers(KNOWN, stage, code, text)}
        if stage in ("mail", "rcpt", "data") and code in (250, 354) and "postfix" not in writers:
            assert fp.could_write(KNOWN, "postfix", stage, code, text) is fp.Authorship.CANNOT


def test_the_real_received_stamps_name_their_mta() -> None:
    for name, value in RECEIVED.items():
        matches = fp.match_products(KNOWN, fp.Observations(received=(value,)))
        assert [m.product for m in matches] == [name]


def test_help_texts_and_generic_phrases_name_no_product() -> None:
    generic = fp.Observations(
        ehlo=("8BITMIME", "HELP"),
        replies=(("final", 250, "2.0.0 Message accepted for delivery"), ("noop", 250, "OK")),
    )
    assert fp.match_products(KNOWN, generic) == ()


def test_opensmtpd_acceptance_is_not_sendmail() -> None:
    accepted = fp.Observations(
        replies=(("final", 250, "2.0.0 4e858e0a Message accepted for delivery"),)
    )
    assert [m.product for m in fp.match_products(KNOWN, accepted)] == ["opensmtpd"]


def test_a_box_is_named_with_what_its_shared_texts_also_fit() -> None:
    """The seed: a Check Point marker outranks the AsyncOS texts beside it."""
    seed = fp.Observations(
        replies=(
            ("mail", 250, "sender <a@example.org> ok"),
            ("final", 554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}"),
        ),
        headers=(("X-CheckPoint", "{4BA23672-7-3A6A8C0-7B6}"),),
    )
    first = fp.match_products(KNOWN, seed)[0]
    assert (first.product, first.also) == ("checkpoint", ("cisco-ironport",))
    assert first.summary == "Check Point (also consistent with Cisco IronPort/ESA (AsyncOS))"


@pytest.mark.parametrize(
    ("banner", "says"),
    [
        ("220 mx.example.com ESMTP FooMail 2.1 ready", "FooMail 2.1"),
        ("220 mail.example.org ESMTP Zorro-MTA", "Zorro-MTA"),
        ("220 durai ESMTP Harakiri/2.8 ready", "Harakiri/2.8"),
    ],
)
def test_an_unknown_product_is_unknown_in_the_banners_words(banner: str, says: str) -> None:
    matches = fp.match_products(KNOWN, fp.Observations(banner=(banner,)))
    assert [(m.product, m.summary) for m in matches] == [
        (fp.UNKNOWN, f"unknown (banner says {says})")
    ]
    assert seen(matches[0]).brand == ""


@pytest.mark.parametrize(
    "banner",
    [
        "220 mx.example.com ESMTP",  # a Node.js smtp-server sink, or a hidden name
        "220 mx.example.com ESMTP Service Ready",
        "220 mx.example.com ESMTP Postfix (Debian/GNU)",  # known: named, not unknown
        "220 ****************",
    ],
)
def test_a_banner_without_an_unknown_product_adds_no_unknown(banner: str) -> None:
    matches = fp.match_products(KNOWN, fp.Observations(banner=(banner,)))
    assert all(m.product != fp.UNKNOWN for m in matches)


def test_only_a_product_named_on_its_own_evidence_gives_a_box_its_brand() -> None:
    shared = fp.match_products(KNOWN, fp.Observations(replies=(("mail", 250, "sender <a> ok"),)))
    assert [seen(m).brand for m in shared] == [""]
    header = fp.match_products(
        KNOWN, fp.Observations(headers=(("X-CheckPoint", "{4BA23672-7-3A6A8C0-7B6}"),))
    )
    products = named_first([seen(m) for m in (*shared, *header)])
    assert [p.brand for p in products] == ["Check Point", ""]
    assert named_first([SeenProduct("a", "A", 2), SeenProduct("b", "B", 0)])[0].brand == "B"


def test_courier_is_named_by_its_own_texts_not_by_a_plain_ok() -> None:
    """Courier 1.0.16's courieresmtpd (Debian 12 courier-mta 1.0.16-3+b6, its binary's strings):
    `354 Ok.` is its DATA reply; `250 Ok` at MAIL is any MTA's."""
    courier = fp.Observations(replies=(("mail", 250, "Ok"), ("data", 354, "Ok.")))
    assert [m.product for m in fp.match_products(KNOWN, courier)] == ["courier"]
    helo = fp.Observations(replies=(("mail", 502, "Polite people say HELO first"),))
    assert [m.product for m in fp.match_products(KNOWN, helo)] == ["courier"]


def test_debians_sendmail_banner_names_sendmail() -> None:
    """Debian 12's sendmail-bin 8.17.1.9-2+deb12u2 puts its Debian revision in the version."""
    banner = "220 mx.example.com ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2+deb12u2; Thu, 3 Dec 2026"
    matches = fp.match_products(KNOWN, fp.Observations(banner=(banner,)))
    assert [(m.product, m.alternatives) for m in matches] == [("sendmail", ())]
