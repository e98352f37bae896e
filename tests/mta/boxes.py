"""The project's own boxes (probe.lab: the Check Point proxy, the ASA, the slow scanner) in front
of a real server: a lab scenario that ends in `{kind = "backend", port = P}`.

The lab runs on its own event loop in a thread (probe.lab.runtime.LabThread); its entry listens on
a loopback address and relays to 127.0.0.1:P. Started after the backend: a box that passes the
banner through (`pass_banner = true`) reads it when it starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from probe.lab.runtime import LabThread
from probe.lab.scenarios import HopSpec, Scenario


def scenario(
    name: str, kind: str, backend: int, address: str = "127.0.0.1", **params: Any
) -> Scenario:
    """One box of `kind` in front of the server on `address`:`backend`."""
    box = HopSpec(kind, tuple(sorted(params.items())))
    end = HopSpec("backend", (("address", address), ("port", backend)))
    return Scenario(name, f"{kind} in front of a real server", "", (box, end))


@contextlib.contextmanager
def box_in_front(kind: str, backend: int, **params: Any) -> Iterator[tuple[str, int]]:
    """The entry (address, port) of a `kind` box relaying to 127.0.0.1:`backend`."""
    with LabThread([scenario(kind.replace("-", ""), kind, backend, **params)]) as lab:
        info = lab.info.scenarios[0]
        yield info.address, info.port
