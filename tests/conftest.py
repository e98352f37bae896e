"""Shared fixtures: the embedded lab, started once per test session on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.lab.runtime import LabInfo, LabThread


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    """Every shipped scenario; `lab.scenario("checkpoint").entry` etc. Stopped after the session."""
    with LabThread() as running:
        yield running.info
