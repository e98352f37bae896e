"""`probe run` through real MTAs other than Postfix (Exim, OpenSMTPD, chasquid, qpsmtpd,
Sendmail): each clean one-hop path delivers every variant and accuses no one (no action on any
hop, no inferred box, no invented product, no scanner read from timing); and each MTA's own size
limit (2 MiB) is its rejection alone, at the right stage, in its own words.

Each MTA runs from its unpacked Debian package (tests/mta/unpacked.py and the MTA's own module
say how), one daemon at a time: the `clean` fixture is module-scoped and parametrized, so pytest
starts each MTA once, runs probe through it (the clean profile once, the size profile with
and without SIZE=), and stops it before the next. A missing tree
skips that MTA's tests with the reason. Run alone with `pytest -n 0 tests/mta/test_mta_others.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from probe.model.run import RunResult
from probe.model.smtp import Outcome, Stage
from probe.model.status import Status
from probe.model.verdict import Action
from tests.mta import chasquid, opensmtpd, qpsmtpd, sendmail, unpacked
from tests.mta import exim as exim_mta
from tests.mta.one_hop import (
    SIZE_PROFILE,
    Allowed,
    assert_accuses_no_one,
    assert_delivered,
    assert_first_hop_not_a_filter_loop,
    assert_no_box,
    assert_no_timing_verdict,
    assert_only_real_products,
    others_accused,
    probe_run,
)

pytestmark = pytest.mark.mta


@dataclasses.dataclass(frozen=True)
class Mta:
    tree: unpacked.Unpacked
    start: Callable[[Path], AbstractContextManager[unpacked.Hop]]
    products: tuple[str, ...]  # the real software on the path, as probe may name it
    # its own refusal of a message over its size limit: reply code, words (a regex), and
    # whether it already refuses at MAIL a SIZE= declared over the limit
    size_refusal: tuple[int, str, bool] = (552, "", False)
    no_tls: bool = False  # it offers no STARTTLS: "offers no STARTTLS" on it is true


MTAS = {
    "exim": Mta(
        exim_mta.EXIM,
        exim_mta.exim,
        ("Exim",),
        (552, r"^Message size exceeds maximum permitted$", True),
    ),
    "opensmtpd": Mta(
        opensmtpd.OPENSMTPD,
        opensmtpd.opensmtpd,
        ("OpenSMTPD",),
        (554, r"^5\.3\.4 Message too big for system", False),
        no_tls=True,
    ),
    "chasquid": Mta(
        chasquid.CHASQUID,
        chasquid.chasquid,
        ("chasquid", "Dovecot"),
        (552, r"^5\.3\.4 Message too big$", False),
    ),
    "qpsmtpd": Mta(
        qpsmtpd.QPSMTPD, qpsmtpd.qpsmtpd, ("qpsmtpd",), (552, r"^Message too big!$", False)
    ),
    "sendmail": Mta(
        sendmail.SENDMAIL,
        sendmail.sendmail,
        ("Sendmail", "Dovecot"),
        (
            552,
            r"^5\.2\.3 Message (size exceeds fixed maximum message|exceeds maximum fixed) size",
            True,
        ),
    ),
}


@dataclasses.dataclass(frozen=True)
class CleanRun:
    hop: unpacked.Hop
    mta: Mta
    result: RunResult

    @property
    def allowed(self) -> Allowed:
        return ((self.hop.name, Action.NO_TLS),) if self.mta.no_tls else ()


@pytest.fixture(scope="module")
def clean(request: pytest.FixtureRequest) -> Iterator[CleanRun]:
    mta = MTAS[request.param]
    reason = mta.tree.missing_reason()
    if reason:
        pytest.skip(reason)
    with unpacked.scratch(request.param) as root, mta.start(root) as hop:
        yield CleanRun(hop, mta, probe_run(hop.port, hop.mailbox, ca_file=hop.ca))


# What the verdict still gets wrong on each clean path, per check (issue 10: item 8, and item
# 7 for timing); the marks are strict, so whoever fixes one takes its line out.
KNOWN: dict[str, dict[str, str]] = {}


# Checks whose wrong verdict comes and goes with the machine's load: their marks are not strict,
# so the suite's colour does not depend on the load. None since the timing verdict rests on held
# repeats (issue 10 item 7; the timing check had been one: chasquid 'scanned' under load).
UNSTABLE: frozenset[str] = frozenset()


def cases(check: str) -> list[object]:
    """Every MTA as a parameter, xfail where KNOWN says the check fails today (strictly, but
    for the UNSTABLE checks)."""
    known = KNOWN.get(check, {})
    strict = check not in UNSTABLE
    return [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(strict=strict, reason=f"issue 10 {known[name]}")]
            if name in known
            else [],
        )
        for name in MTAS
    ]


@pytest.mark.parametrize("clean", cases("delivers"), indirect=True)
def test_clean_path_delivers_every_variant(clean: CleanRun) -> None:
    assert_delivered(clean.result)


@pytest.mark.parametrize("clean", cases("box"), indirect=True)
def test_clean_path_infers_no_box(clean: CleanRun) -> None:
    assert_no_box(clean.result, clean.hop.name)


@pytest.mark.parametrize("clean", cases("products"), indirect=True)
def test_clean_path_names_only_real_products(clean: CleanRun) -> None:
    assert_only_real_products(clean.result, clean.mta.products)


@pytest.mark.parametrize("clean", cases("accuses"), indirect=True)
def test_clean_path_accuses_no_one(clean: CleanRun) -> None:
    assert_accuses_no_one(clean.result, clean.allowed)


@pytest.mark.parametrize("clean", cases("loopback"), indirect=True)
def test_clean_path_first_hop_is_not_a_filter_loop(clean: CleanRun) -> None:
    assert_first_hop_not_a_filter_loop(clean.result)


@pytest.mark.parametrize("clean", cases("timing"), indirect=True)
def test_clean_path_has_no_timing_verdict(clean: CleanRun) -> None:
    assert_no_timing_verdict(clean.result)


@pytest.mark.parametrize("declare_size", [True, False], ids=["size-declared", "undeclared"])
@pytest.mark.parametrize("clean", cases("rejects"), indirect=True)
def test_size_limit_is_the_mtas_own_rejection_alone(clean: CleanRun, declare_size: bool) -> None:
    """The same MTA with its own 2 MiB limit: the 5 MB variant is refused in the MTA's own
    words (at MAIL where it judges a declared SIZE=, else after the data), the rejection is put
    on that MTA with the limit between the passed and the refused size, and no other hop is
    accused."""
    hop = clean.hop
    result = probe_run(
        hop.port, hop.mailbox, ca_file=hop.ca, profile=SIZE_PROFILE, declare_size=declare_size
    )
    sends = {v.variant: v for v in result.variants}
    big = sends["size-5m"]
    code, words, at_mail = clean.mta.size_refusal
    assert big.outcome is Outcome.REJECTED, big
    assert big.stage is (Stage.MAIL if declare_size and at_mail else Stage.DATA_END), big.stage
    assert big.reply is not None and big.reply.code == code, big.reply
    assert re.search(words, big.reply.text), big.reply
    assert sends["control"].accepted and sends["size-1100k"].accepted
    decision = result.decision
    assert decision is not None
    rejections = [
        (str(h.key), a) for h in decision.hops for a in h.actions if a.action is Action.REJECTS
    ]
    assert [(key, a.variants) for key, a in rejections] == [(hop.name, ("size-5m",))], (
        decision.headline
    )
    (rejection,) = (a for _, a in rejections)
    assert "5,000,000" in rejection.condition and "1,100,000" in rejection.condition
    assert others_accused(decision, hop.name) == [], decision.headline


def test_a_path_where_every_tls_handshake_fails_is_not_clean() -> None:
    """OpenSMTPD with TLS as Debian 12 ships it: STARTTLS offered, every handshake refused
    ('tlsv1 alert internal error'), so nothing is delivered. That is no clean path: the run is
    not OK and the hop is said to break TLS."""
    reason = opensmtpd.OPENSMTPD.missing_reason()
    if reason:
        pytest.skip(reason)
    with (
        unpacked.scratch("opensmtpd-tls") as root,
        opensmtpd.opensmtpd(root, broken_tls=True) as hop,
    ):
        result = probe_run(hop.port, hop.mailbox, ca_file=hop.ca)
    assert all(v.outcome is Outcome.TLS_FAILED for v in result.variants), result.variants
    decision = result.decision
    assert decision is not None
    assert not decision.clean and result.status is not Status.OK, decision.headline
    assert not any("no mailbox given" in line for line in decision.headline), decision.headline
    assert any(h.actions for h in decision.hops if str(h.key) == hop.name), decision.headline


def test_an_mta_that_discards_everything_is_not_clean() -> None:
    """Exim accepts the recipient's mail with 250 and throws it away: nothing is delivered and
    nothing bounces. Whatever probe concludes (a drop at that hop, or that it cannot tell), the
    path is not clean and the run is not OK."""
    reason = exim_mta.EXIM.missing_reason()
    if reason:
        pytest.skip(reason)
    with unpacked.scratch("exim-discard") as root, exim_mta.exim(root, discard=("user",)) as hop:
        result = probe_run(hop.port, hop.mailbox, ca_file=hop.ca, collect_for=8.0)
    assert all(v.outcome is Outcome.ACCEPTED for v in result.variants), result.variants
    assert result.collect is not None and len(result.collect.missing) == len(result.variants)
    decision = result.decision
    assert decision is not None
    assert not decision.clean and result.status is not Status.OK, decision.headline
