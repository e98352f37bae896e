"""Fixtures of the `mta` tier: one private Postfix + Dovecot pair for the whole session."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.mta import servers

if TYPE_CHECKING:
    from tests.mta.paths import Paths


@pytest.fixture(scope="session")
def mail_system() -> Iterator[tuple[servers.Dovecot, servers.Postfix]]:
    reason = servers.missing_reason()
    if reason:
        pytest.skip(reason)
    with servers.mail_system() as pair:
        yield pair


@pytest.fixture
def run_id() -> str:
    """A fresh run id per test, so tests sharing the mailbox never see each other's probes."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S-") + secrets.token_hex(3)


@pytest.fixture(scope="session")
def postfix_paths() -> Iterator[Paths]:
    """The Postfix paths of tests/mta/paths.py, shared by the modules of a worker (imported
    here, so the other modules do not need the milter library)."""
    reason = servers.missing_reason()
    if reason:
        pytest.skip(reason)
    from tests.mta import paths

    with paths.postfix_paths() as running:
        yield running
