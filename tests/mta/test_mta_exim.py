"""`probe run` through a real Exim (Debian's exim4-daemon-light, unpacked: tests/mta/exim.py):
the clean path accuses no one, and Exim's own size rejection is put on Exim and no other hop.

One Exim daemon for the module, delivering into Maildirs probe collects from; a missing tree
skips with the reason. Run alone with `pytest -n 0 tests/mta/test_mta_exim.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.model.run import RunResult
from probe.model.smtp import Outcome, Stage
from probe.model.verdict import Action
from tests.mta import exim as exim_mta
from tests.mta import unpacked
from tests.mta.one_hop import (
    assert_accuses_no_one,
    assert_delivered,
    assert_no_box,
    assert_only_real_products,
    others_accused,
    probe_run,
)

pytestmark = pytest.mark.mta


@pytest.fixture(scope="module")
def exim() -> Iterator[exim_mta.Exim]:
    reason = exim_mta.EXIM.missing_reason()
    if reason:
        pytest.skip(reason)
    with unpacked.scratch("exim") as root, exim_mta.exim(root, size_limit="2M") as mta:
        yield mta


@pytest.fixture(scope="module")
def clean_run(exim: exim_mta.Exim) -> RunResult:
    return probe_run(exim.port, exim.maildir("user"), ca_file=exim.ca)


def test_exim_clean_path_delivers_and_invents_nothing(clean_run: RunResult) -> None:
    assert_delivered(clean_run)
    assert_no_box(clean_run, exim_mta.NAME)
    assert_only_real_products(clean_run, ("Exim",))


@pytest.mark.xfail(
    strict=True,
    reason="issue 10 item 8: the delivery agent's own headers (Exim appendfile's Envelope-to, "
    "Delivery-date, like Return-Path and Delivered-To) are counted as injected",
)
def test_exim_clean_path_accuses_no_one(clean_run: RunResult) -> None:
    assert_accuses_no_one(clean_run)


SIZE_PROFILE = """
name = "mta-exim-size"
description = "sizes on both sides of Exim's message_size_limit (2 MiB)"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-1100k"
description = "1.1 MB: below the limit"
size = "1100kB"

[[variant]]
id = "size-5m"
description = "5 MB: above the limit"
size = "5MB"
"""


def test_exim_size_limit_is_exims_rejection_alone(exim: exim_mta.Exim) -> None:
    result = probe_run(exim.port, exim.maildir("user"), ca_file=exim.ca, profile=SIZE_PROFILE)
    outcomes = {v.variant: v for v in result.variants}
    big = outcomes["size-5m"]
    assert big.outcome is Outcome.REJECTED and big.stage is Stage.MAIL  # SIZE= declared
    assert big.reply is not None and big.reply.code == 552
    assert "Message size exceeds maximum permitted" in big.reply.text
    assert outcomes["control"].accepted and outcomes["size-1100k"].accepted
    decision = result.decision
    assert decision is not None
    rejections = [
        (str(h.key), a) for h in decision.hops for a in h.actions if a.action is Action.REJECTS
    ]
    assert [(key, a.variants) for key, a in rejections] == [(exim_mta.NAME, ("size-5m",))], (
        decision.headline
    )
    (rejection,) = (a for _, a in rejections)
    assert "5,000,000" in rejection.condition and "1,100,000" in rejection.condition
    assert others_accused(decision, exim_mta.NAME) == [], decision.headline
