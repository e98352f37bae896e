"""A DNS resolver on a loopback address of its own, for MTAs that look names up.

The MTAs of the tier ask DNS as they would in production (qpsmtpd's reverse lookup of the
client, chasquid's SPF check, Sendmail qualifying its own name), and no lookup may leave the
machine. Each daemon's mount namespace gets a resolv.conf naming this responder (probe's own lab
DNS responder with an empty zone: NXDOMAIN at once) on port 53 of a random address in
127.83.0.0/16, where it collides with nobody's resolver or test.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import threading
from collections.abc import Iterator

from probe.lab.dnsserver import DnsResponder, DnsZone

BIND_ATTEMPTS = 8
START_TIMEOUT = 10.0


@contextlib.contextmanager
def loopback_resolver() -> Iterator[str]:
    """A responder answering NXDOMAIN to every name, on `<address>:53`; yields the address."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mta-dns", daemon=True)
    thread.start()
    responder = DnsResponder(DnsZone({}))
    try:
        address = _bind(loop, responder)
        yield address
    finally:
        if responder.port:
            asyncio.run_coroutine_threadsafe(responder.close(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        loop.close()


def _bind(loop: asyncio.AbstractEventLoop, responder: DnsResponder) -> str:
    for attempt in range(BIND_ATTEMPTS):
        address = f"127.83.{random.randrange(256)}.{random.randrange(1, 255)}"
        started = asyncio.run_coroutine_threadsafe(responder.start(address, 53), loop)
        try:
            started.result(START_TIMEOUT)
            return address
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == BIND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
