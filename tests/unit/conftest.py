"""The unit tier is pure: a test here that connects or listens fails, so it moves to tests/lab."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


class NetworkUsedInUnitTest(RuntimeError):
    pass


def _refuse(self: socket.socket, *args: Any) -> None:
    raise NetworkUsedInUnitTest(f"a unit test used the network: {args!r}; move it to tests/lab")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, _refuse)
    yield
