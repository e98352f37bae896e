"""The lab's boxes as processes for the box namespace of a firewall test:

    python -m tests.mta.firewall_boxes KIND HOST PORT UPSTREAM_HOST UPSTREAM_PORT WORKDIR

KIND is `asa` (probe.lab.asa, the Cisco ASA esmtp inspection), `checkpoint` (the lab's Check
Point scan proxy: its own SMTP server relaying inline, with an X-CheckPoint header, TLS with
the lab CA's certificate) or `forwarder` (the plain TCP forwarder, the control). It serves until
SIGTERM, or `LIFETIME` seconds at most, so a lost process cannot outlive the test run for long.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from probe.lab import kinds
from probe.lab.asa import AsaProxy
from probe.lab.certs import LabCA
from tests.lab.tcp_forwarder import Forwarder

LIFETIME = 300.0  # seconds


async def _serve(kind: str, host: str, port: int, upstream: tuple[str, int], work: Path) -> None:
    box: kinds.Hop | Forwarder
    if kind == "asa":
        box = AsaProxy(upstream)
    elif kind == "checkpoint":
        context = kinds.HopContext(
            scenario="firewall",
            domain="firewall.lab.probe.test",
            address=host,
            next_hop=upstream,
            maildir=work / "Maildir",
            ca=LabCA(work / "ca"),
        )
        box = kinds.build("checkpoint", context, {}, last=False)
    elif kind == "forwarder":
        box = Forwarder(upstream[1], upstream[0])
    else:
        raise SystemExit(f"unknown box {kind!r}")
    await box.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), LIFETIME)
    except TimeoutError:
        pass
    finally:
        await box.close()


def main(argv: list[str]) -> None:
    kind, host, port, up_host, up_port, work = argv
    asyncio.run(_serve(kind, host, int(port), (up_host, int(up_port)), Path(work)))


if __name__ == "__main__":
    main(sys.argv[1:])
