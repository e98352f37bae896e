"""A plain TCP forwarder: the control box of a firewall test (it changes nothing, byte for byte),
on loopback in tests/lab and inside a box namespace in tests/mta/test_firewall_netns.py."""

from __future__ import annotations

import asyncio


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class Forwarder:
    """Copies bytes both ways between each client and `upstream`, unchanged."""

    def __init__(self, upstream: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.upstream_host = upstream_host
        self.port = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        far_reader, far_writer = await asyncio.open_connection(self.upstream_host, self.upstream)
        await asyncio.gather(_pump(reader, far_writer), _pump(far_reader, writer))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
