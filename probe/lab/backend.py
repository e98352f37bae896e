"""Lab boxes in front of a server the lab does not run: a real MTA on a loopback port.

A scenario may end in `{kind = "backend", port = P}` instead of a lab MTA: the hop before it
relays to 127.0.0.1:P, so the project's own boxes (the Check Point proxy, the ASA, the slow
scanner) can stand in front of a real Postfix in the `mta` test tier. A box that passes the
backend's banner through (`pass_banner = true`) reads that banner once when it starts and greets
every client with it, as a proxy configured in front of that MTA does; it answers the rest of the
dialogue with its own face.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from typing import Any

from probe.errors import ConfigError, MeasurementError
from probe.server.engine import SmtpHop

BANNER_TIMEOUT = 10.0
MAX_BANNER_LINES = 20


def is_loopback(address: str) -> bool:
    """Whether `address` is a loopback IP: a lab box relays to nothing else."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Backend:
    """The end of a scenario that is not ours: nothing listens, the hop before relays to it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None) -> None:
        if sock is not None:  # the runtime hands the entry's socket to the first hop
            raise ConfigError("a backend cannot be a scenario's only hop: nothing would listen")

    async def close(self) -> None:
        return None


async def read_banner(target: tuple[str, int], timeout: float = BANNER_TIMEOUT) -> str:
    """The text of the 220 greeting at `target` (its last line, after `220 `); QUIT after it."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(*target)
            try:
                for _ in range(MAX_BANNER_LINES):
                    line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
                    if not line.startswith("220") or line[3:4] != "-":
                        break
                writer.write(b"QUIT\r\n")
                await writer.drain()
            finally:
                writer.close()
    except (OSError, TimeoutError) as exc:
        raise MeasurementError(f"no banner from the backend {target[0]}:{target[1]}") from exc
    if not line.startswith("220 "):
        raise MeasurementError(f"the backend {target[0]}:{target[1]} greets with {line[:80]!r}")
    return line[4:]


class BannerPassingHop(SmtpHop):
    """An SMTP box that greets with the banner of the server behind it (`target`)."""

    def __init__(self, hop: SmtpHop, target: tuple[str, int]) -> None:
        super().__init__(hop.handler, hop.tls_context, hop.limits)
        self.target = target

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None) -> None:
        text = await read_banner(self.target)
        hostname, _, ident = text.partition(" ")
        face = dataclasses.replace(self.handler.personality, hostname=hostname, banner=ident)
        self.handler.personality = face
        await super().start(host, port, sock=sock)
