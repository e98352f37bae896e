"""Shared fixtures, and the tier of every test from its folder.

`tests/unit` is pure (no sockets: its conftest refuses them), `tests/lab` talks to servers on
loopback (the embedded lab, raw peers, probe's own listener), `tests/mta` drives real MTAs. Each
test gets the marker of its folder, so `-m unit`, `-m "not mta"` select by tier.
"""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session", autouse=True)
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`probe run` and `probe check` store into $XDG_STATE_HOME: the test run's own folder, never
    the user's (set in the environment, so probe processes the tests start inherit it)."""
    before = os.environ.get("XDG_STATE_HOME")
    state = tmp_path_factory.mktemp("xdg-state")
    os.environ["XDG_STATE_HOME"] = str(state)
    yield state
    if before is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = before


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    """Every shipped scenario; `lab.scenario("checkpoint").entry` etc. Stopped after the session."""
    with LabThread() as running:
        yield running.info
