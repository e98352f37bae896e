"""A real rejection on a real Exim (Debian's exim4-daemon-light, unpacked: tests/mta/exim.py):
Exim's own size limit is put on Exim, with the limit between what passed and what failed, and
no other hop is accused. (The clean Exim path is one of tests/mta/test_mta_others.py's.)

Run alone with `pytest -n 0 tests/mta/test_mta_exim.py`; a missing tree skips with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.model.smtp import Outcome, Stage
from probe.model.verdict import Action
from tests.mta import exim as exim_mta
from tests.mta import unpacked
from tests.mta.one_hop import others_accused, probe_run

pytestmark = pytest.mark.mta


@pytest.fixture(scope="module")
def exim() -> Iterator[unpacked.Hop]:
    reason = exim_mta.EXIM.missing_reason()
    if reason:
        pytest.skip(reason)
    with unpacked.scratch("exim") as root, exim_mta.exim(root, size_limit="2M") as hop:
        yield hop


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


@pytest.mark.parametrize("declare_size", [True, False], ids=["at-mail", "at-data"])
def test_exim_size_limit_is_exims_rejection_alone(exim: unpacked.Hop, declare_size: bool) -> None:
    result = probe_run(
        exim.port, exim.mailbox, ca_file=exim.ca, profile=SIZE_PROFILE, declare_size=declare_size
    )
    outcomes = {v.variant: v for v in result.variants}
    big = outcomes["size-5m"]
    # SIZE= declared: refused at MAIL before any data; undeclared: after the data, at its end
    assert big.outcome is Outcome.REJECTED, big
    assert big.stage is (Stage.MAIL if declare_size else Stage.DATA_END), big.stage
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
