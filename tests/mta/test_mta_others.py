"""`probe run` through real MTAs other than Postfix and Exim: each clean one-hop path delivers
every variant and accuses no one (no action on any hop, no inferred box, no invented product).

Each MTA runs from its unpacked Debian package (tests/mta/unpacked.py and the MTA's own module
say how), one daemon at a time: the `clean` fixture is module-scoped and parametrized, so pytest
starts each MTA once, runs probe through it once, and stops it before the next. A missing tree
skips that MTA's tests with the reason. Run alone with `pytest -n 0 tests/mta/test_mta_others.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from probe.model.run import RunResult
from probe.model.verdict import Action
from tests.mta import opensmtpd, unpacked
from tests.mta.one_hop import (
    Allowed,
    assert_accuses_no_one,
    assert_delivered,
    assert_nothing_invented,
    probe_run,
)

pytestmark = pytest.mark.mta


@dataclasses.dataclass(frozen=True)
class Mta:
    tree: unpacked.Unpacked
    start: Callable[[Path], AbstractContextManager[unpacked.Hop]]
    products: tuple[str, ...]  # the real software on the path, as probe may name it
    no_tls: bool = False  # it offers no STARTTLS: "offers no STARTTLS" on it is true


MTAS = {
    "opensmtpd": Mta(opensmtpd.OPENSMTPD, opensmtpd.opensmtpd, ("OpenSMTPD",), no_tls=True),
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


def xfail(item: int, what: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 10 item {item}: {what}")


SENDMAIL_PATTERN = xfail(
    8,
    "OpenSMTPD's `250 2.0.0 <id> Message accepted for delivery` matched as Sendmail's, and a "
    "signature several products share taken for a box in front of it",
)


@pytest.mark.parametrize("clean", list(MTAS), indirect=True)
def test_clean_path_delivers_every_variant(clean: CleanRun) -> None:
    assert_delivered(clean.result)


@pytest.mark.parametrize(
    "clean", [pytest.param("opensmtpd", marks=SENDMAIL_PATTERN)], indirect=True
)
def test_clean_path_invents_no_box_and_no_product(clean: CleanRun) -> None:
    assert_nothing_invented(clean.result, clean.hop.name, clean.mta.products)


@pytest.mark.parametrize(
    "clean", [pytest.param("opensmtpd", marks=SENDMAIL_PATTERN)], indirect=True
)
def test_clean_path_accuses_no_one(clean: CleanRun) -> None:
    assert_accuses_no_one(clean.result, clean.allowed)
