"""`probe firewall`: the battery through the box, the listener's records read back from the
directory it shares or from its HTTP endpoint (`probe.server.records_http`), and the two halves
compared (`probe.analyze.firewall`).

The sessions run one after the other, but for the concurrency check's few connections at once;
the listener writes a session's record when the connection closes, so the records are
awaited, bounded by `wait` seconds, until every session is joined.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from pathlib import Path

from probe.analyze.firewall import compare, join
from probe.collect.secrets import Secret
from probe.errors import MeasurementError
from probe.model.firewall import ClientSession, FirewallResult
from probe.model.listener import SessionRecord
from probe.model.verdict import CheckLevel
from probe.send.battery import chunking_session, command_session, message_session, tag
from probe.send.battery_limits import concurrency_session, recipients_session, size_session
from probe.send.battery_messages import CONTENT
from probe.send.battery_smuggling import LOOKALIKES, smuggling_session
from probe.send.options import ConverseOptions
from probe.server.records_http import RecordsError, fetch_sessions
from probe.server.session_files import load_sessions

POLL = 0.05  # seconds between looks at the records directory
CLOCK_SLACK = 5.0  # seconds a shared directory's clock may lag behind ours
HOST_CLOCK_SLACK = 600.0  # seconds another host's clock may lag (the tag joins, not the time)
FETCH_TIMEOUT = 10.0  # seconds for one request to the records endpoint


@dataclasses.dataclass(frozen=True)
class RecordsUrl:
    """The listener's records endpoint and the token it wants (never shown)."""

    url: str
    token: Secret


@dataclasses.dataclass(frozen=True)
class FirewallRequest:
    host: str
    port: int
    records: Path | RecordsUrl  # the listener's Maildir (or its sessions/), or its endpoint
    options: ConverseOptions  # port, timeouts and deadline of each session
    wait: float = 10.0  # seconds to wait for the listener's records after the battery
    smuggling: bool = False  # also send the end-of-data look-alikes (opt-in)
    levels: tuple[tuple[str, CheckLevel], ...] | None = None  # a profile's check levels


async def battery(request: FirewallRequest, token: str) -> tuple[ClientSession, ...]:
    address, options = request.host, request.options
    sessions = [
        await message_session(address, options, token),
        await message_session(address, options, token, starttls=True),
        await command_session(address, options, token),
        await chunking_session(address, options, token),
    ]
    for name, build in CONTENT.items():
        sessions.append(await message_session(address, options, token, name=name, build=build))
    sessions.append(await recipients_session(address, options, tag(token, "recipients")))
    sessions.append(await concurrency_session(address, options, tag(token, "concurrency")))
    sessions.append(await size_session(address, options, tag(token, "size")))
    if request.smuggling:
        for i, name in enumerate(LOOKALIKES, 1):
            session_tag = tag(token, f"smuggle{i}")
            sessions.append(await smuggling_session(address, options, session_tag, name))
    return tuple(sessions)


def read_records(source: Path | RecordsUrl, since: float) -> tuple[SessionRecord, ...]:
    """The records written since `since` (blocking); a refused or broken endpoint is a
    RecordsError."""
    if isinstance(source, Path):
        return load_sessions(source, since - CLOCK_SLACK)
    return fetch_sessions(
        source.url, source.token.http_bearer, since - HOST_CLOCK_SLACK, FETCH_TIMEOUT
    )


async def await_records(
    source: Path | RecordsUrl, sessions: tuple[ClientSession, ...], since: float, wait: float
) -> tuple[SessionRecord, ...]:
    """The records written since `since`, once every session has one or `wait` is over; an
    endpoint that could not be read at the last try is a MeasurementError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            records = await asyncio.to_thread(read_records, source, since)
        except RecordsError as exc:
            if exc.final or loop.time() >= deadline:
                raise MeasurementError(str(exc)) from None
            await asyncio.sleep(POLL * 10)
            continue
        if len(join(sessions, records)) == len(sessions) or loop.time() >= deadline:
            return records
        await asyncio.sleep(POLL if isinstance(source, Path) else POLL * 10)


async def run_firewall(request: FirewallRequest) -> FirewallResult:
    token = secrets.token_hex(4)
    since = time.time()
    sessions = await battery(request, token)
    records = await await_records(request.records, sessions, since, request.wait)
    target = (
        f"[{request.host}]:{request.port}"
        if ":" in request.host
        else f"{request.host}:{request.port}"
    )
    levels = dict(request.levels) if request.levels is not None else None
    return compare(target, token, sessions, records, levels)
