"""Shared fixtures, and the tier of every test from its folder.

`tests/unit` is pure (no sockets: its conftest refuses them), `tests/lab` talks to servers on
loopback (the embedded lab, raw peers, probe's own listener), `tests/mta` drives real MTAs. Each
test gets the marker of its folder, so `-m unit`, `-m "not mta"` select by tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.lab.runtime import LabInfo, LabThread

TIERS = ("unit", "lab", "mta")
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.path)).resolve().relative_to(HERE)
        tier = rel.parts[0] if len(rel.parts) > 1 else None
        if tier not in TIERS:
            raise pytest.UsageError(f"{rel}: tests live under tests/unit, tests/lab or tests/mta")
        item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    """Every shipped scenario; `lab.scenario("checkpoint").entry` etc. Stopped after the session."""
    with LabThread() as running:
        yield running.info
