"""A footer milter for Postfix (`smtpd_milters = inet:127.0.0.1:PORT`), built on purepythonmilter
0.0.1 (a PyPI milter library, pure Python on asyncio; a test dependency).

Like a disclaimer milter it appends a footer to the body and adds its headers with SMFIR_ADDHEADER,
which Postfix's cleanup puts at the END of the header block, far below the Received of the hop it
runs on. Its headers name no host: where they come from can only be argued from what else
changed, which is what the scenario tests.

The milter runs in a process of its own (`python -m tests.mta.milter PORT`): purepythonmilter
installs signal handlers, which only a main thread may do. SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from purepythonmilter import (
    AppendHeader,
    BodyChunk,
    Continue,
    EndOfMessage,
    PurePythonMilter,
    ReplaceBodyChunk,
)

from tests.mta import servers

FOOTER = b"\r\n-- \r\nThis message was checked by the footer milter.\r\n"
PRODUCT = "purepythonmilter 0.0.1"
REPOSITORY = Path(__file__).resolve().parents[2]
CHUNK = 65_000  # under the milter protocol's 64 KiB packet

# The headers it adds (set in the milter's own process: `host` named in the first, or not).
_headers: list[tuple[str, str]] = []
# Body chunks of the message each session is receiving, keyed by the session's consumer task
# (purepythonmilter runs one task per connection and calls the hooks from it).
_bodies: dict[int, list[bytes]] = {}


def _session() -> int:
    return id(asyncio.current_task())


async def on_body_chunk(cmd: BodyChunk) -> None:
    _bodies.setdefault(_session(), []).append(bytes(cmd.data_raw))


async def on_end_of_message(cmd: EndOfMessage) -> Continue:
    body = b"".join(_bodies.pop(_session(), [])) + FOOTER
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    return Continue(
        manipulations=[
            *(AppendHeader(headername=n, headertext=v) for n, v in _headers),
            *(ReplaceBodyChunk(chunk=c) for c in chunks),
        ]
    )


def _app() -> PurePythonMilter:
    return PurePythonMilter(
        name="footer",
        hook_on_body_chunk=on_body_chunk,
        hook_on_end_of_message=on_end_of_message,
        can_add_headers=True,
        can_change_body=True,
    )


@contextlib.contextmanager
def footer_milter(root: Path, host: str = "") -> Iterator[int]:
    """The milter listening on a free loopback port, which it yields; its log in `root`. With
    `host` its first header names it (`... on <host>`), as SpamAssassin's milter does."""
    port = servers.free_port()
    log = root / f"milter-{host or 'anonymous'}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mta.milter", str(port), host],
            cwd=REPOSITORY,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        servers.wait_port(port, "the footer milter", log, timeout=15)
        yield port
    finally:
        servers.stop(proc)


if __name__ == "__main__":
    named = f" on {sys.argv[2]}" if len(sys.argv) > 2 and sys.argv[2] else ""
    _headers[:] = [("X-Footer-Milter", PRODUCT + named), ("X-Disclaimer", "appended")]
    _app().run_server(host="127.0.0.1", port=int(sys.argv[1]))
