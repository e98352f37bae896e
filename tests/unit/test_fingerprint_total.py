"""The fingerprint matcher is total and linear: any observations (any text, any length) give a
tuple of matches, in time linear in their size.

Observations are made of the shipped signatures' own samples, fragments of real banners and
replies, any text, and long runs of one character; each `match_products` call gets a wall-time
budget measured here, generous (`BASE` seconds plus `PER_100K` per 100 kB), so that it fails on
super-linear behaviour (a signature regex that backtracks), not on a busy machine.
"""

from __future__ import annotations

import datetime as dt
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.analyze import fingerprint as fp
from probe.model.smtp import Conversation, Outcome, RcptResult, Reply

BASE = 2.0
PER_100K = 2.0
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN = fp.shipped_knowledge()
FRAGMENTS = (
    "220 mx.example.com ESMTP Postfix", "250 sender <a@b> ok", "go ahead", "X-CheckPoint",
    "{4BA23672-7-3A6A8C0-7B6}", "PIPELINING", "SIZE 10240000", "STARTTLS", "XXXXXXXA",
    "by mx.google.com with ESMTPS id abc - gsmtp", "(Postfix)", "with ESMTP id 4Q1abc2xyz",
    "2.0.0 Ok: queued as ABC", "amavisd-new", "Microsoft ESMTP MAIL Service", "ESMTP Exim 4",
    "(Exim 4.96)", "by ", "with ", "id ", "220 ", "(", "-", "{", ".",
)  # fmt: skip
RUNS = (*' a1(-.X{<\\"\n:,', "by ", "with SMTP id a", "(Exim ", "220 ", "0-", "a-", "\udcff")


def timed(seen: fp.Observations) -> tuple[fp.ProductMatch, ...]:
    size = sum(len(t) for t in (*seen.banner, *seen.ehlo, *seen.received))
    size += sum(len(t) for _, _, t in seen.replies) + sum(len(n) + len(v) for n, v in seen.headers)
    start = time.perf_counter()
    matches = fp.match_products(KNOWN, seen)
    elapsed = time.perf_counter() - start
    assert elapsed < BASE + PER_100K * size / 100_000, f"{elapsed:.1f} s for {size:,} characters"
    assert isinstance(matches, tuple)
    assert all(m.product in KNOWN.products or m.product == fp.UNKNOWN for m in matches)
    return matches


def texts() -> st.SearchStrategy[str]:
    samples = st.lists(st.sampled_from(FRAGMENTS), max_size=4).map(" ".join)
    return samples | st.text(max_size=40)


@st.composite
def long_run(draw: st.DrawFn) -> str:
    piece = draw(st.sampled_from(RUNS))
    head = draw(st.sampled_from(("", *FRAGMENTS)))
    return head + piece * (draw(st.integers(1_000, 50_000)) // len(piece))


def observations(text: st.SearchStrategy[str]) -> st.SearchStrategy[fp.Observations]:
    stage = st.sampled_from(["any", "mail", "rcpt", "data", "final", "ehlo", ""])
    code = st.none() | st.sampled_from([220, 250, 354, 451, 550, 554]) | st.integers()
    name = st.sampled_from(["X-CheckPoint", "X-Spam-Status", "Message-ID", "X-Mailer"]) | text
    return st.builds(
        fp.Observations,
        banner=st.lists(text, max_size=3).map(tuple),
        ehlo=st.lists(text, max_size=8).map(tuple),
        replies=st.lists(st.tuples(stage, code, text), max_size=4).map(tuple),
        headers=st.lists(st.tuples(name, text), max_size=4).map(tuple),
        received=st.lists(text, max_size=3).map(tuple),
    )


@SETTINGS
@given(observations(texts()))
def test_any_observations_are_matched(seen: fp.Observations) -> None:
    timed(seen)


@SETTINGS
@given(observations(long_run()))
def test_long_runs_of_one_character_are_matched_in_linear_time(seen: fp.Observations) -> None:
    timed(seen)


@SETTINGS
@given(st.lists(st.tuples(st.text(max_size=20), texts() | long_run()), max_size=5))
def test_any_header_block_is_observed_and_matched(pairs: list[tuple[str, str]]) -> None:
    timed(fp.observe_headers(pairs))


@SETTINGS
@given(
    st.lists(texts(), min_size=1, max_size=3),
    st.lists(texts(), max_size=6),
    st.none() | st.integers(),
    st.booleans(),
)
def test_any_conversation_is_observed_and_matched(
    banner: list[str], caps: list[str], code: int | None, valid: bool
) -> None:
    reply = Reply(code=code, lines=tuple(banner), valid=valid)
    conv = Conversation(
        host="mx.example.com",
        address="127.0.0.1",
        port=25,
        helo="probe.example.org",
        started_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        duration_ms=1.0,
        outcome=Outcome.ACCEPTED,
        stage="quit",
        banner=reply,
        ehlo=Reply(code=250, lines=("mx", *caps)),
        capabilities=tuple(caps),
        mail_reply=reply,
        rcpt_results=(RcptResult("b@example.com", reply, True),),
        data_reply=reply,
        final_reply=reply,
    )
    timed(fp.combine(fp.observe_conversation(conv), fp.observe_headers([("X-A", "b")])))


def test_a_thousand_headers_cost_one_pass_each() -> None:
    pairs = [(f"X-Added-{i}", f"value {i}") for i in range(1_000)]
    assert timed(fp.observe_headers(pairs)) == ()
