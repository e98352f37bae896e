"""`probe listen`'s session records over HTTP, for a `probe firewall` that shares no directory
with it (I/O): both ends of one small protocol, as `session_files` holds both ends on disk.

    GET /sessions?since=<unix time>   Authorization: Bearer <token>
    -> 200 {"schema": "probe.listener-sessions/1", "sessions": [...], "truncated": false}

The endpoint faces a network, so it is bounded like the listener: a few connections at a time,
one request each, a request head of a few KiB read within a timeout, a response of at most
`RECORDS_SENT` records and `BODY_MAX` bytes (the newest). It is read-only (GET and HEAD only)
and path-safe: the one path is a fixed name, nothing of the request names a file. The token is
compared in constant time and never logged, echoed or stored; the reader sends it only to the
host of the URL it was given, over no proxy, and never follows a redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from probe.model.json import document, from_data
from probe.model.listener import SESSION_SCHEMA, SessionRecord
from probe.server.session_files import load_sessions

SESSIONS_SCHEMA = "probe.listener-sessions/1"
PATH = "/sessions"
HEAD_MAX = 8 * 1024  # bytes of a request line and headers
REQUEST_TIMEOUT = 10.0  # seconds to read a request head
CONNECTIONS = 8  # concurrent connections; more are closed at once
RECORDS_SENT = 200  # the newest records one response holds
BODY_MAX = 32 * 1024 * 1024  # bytes of one response body
log = logging.getLogger("probe.server")


class TokenCheck(Protocol):
    """What knows the token: tells whether a presented one is it (constant time)."""

    def matches(self, candidate: bytes) -> bool: ...


class RecordsError(Exception):
    """The records could not be fetched: one line that never holds the token. `final`: the
    endpoint refused (a 4xx, a document not ours); asking again will not help."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def _since(query: str) -> float:
    values = urllib.parse.parse_qs(query).get("since", ["0"])
    try:
        since = float(values[0])
    except ValueError:
        return 0.0
    return since if since == since and since >= 0 else 0.0  # not NaN, not negative


def _response(status: int, reason: str, body: bytes = b"", kind: str = "text/plain") -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n"
    )
    if status == 401:
        head += 'WWW-Authenticate: Bearer realm="probe listen"\r\n'
    return head.encode("ascii") + b"\r\n" + body


def sessions_body(folder: Path, since: float) -> bytes:
    """The newest records written after `since`, within RECORDS_SENT and BODY_MAX."""
    records = load_sessions(folder, since, RECORDS_SENT + 1)
    truncated = len(records) > RECORDS_SENT
    kept = list(records[-RECORDS_SENT:])
    while True:
        body = json.dumps(
            {
                "schema": SESSIONS_SCHEMA,
                "sessions": [document(SESSION_SCHEMA, r) for r in kept],
                "truncated": truncated,
            }
        ).encode("ascii")
        if len(body) <= BODY_MAX or not kept:
            return body
        kept, truncated = kept[len(kept) // 2 :], True  # the newer half


class RecordsEndpoint:
    """The HTTP endpoint of one listener's records directory."""

    def __init__(self, folder: Path, token: TokenCheck) -> None:
        self.folder = folder
        self.token = token
        self.server: asyncio.Server | None = None
        self.open = 0
        self.host, self.port = "", 0

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host, port, limit=HEAD_MAX)
        address = self.server.sockets[0].getsockname()
        self.host, self.port = str(address[0]), int(address[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2.0)
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= CONNECTIONS:
            writer.close()
            return
        self.open += 1
        try:
            answer = await self._answer(reader)
            writer.write(answer)
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> bytes:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        except asyncio.LimitOverrunError:
            return _response(431, "Request Header Fields Too Large")
        except (TimeoutError, asyncio.IncompleteReadError):
            return _response(408, "Request Timeout")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _response(400, "Bad Request")
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return _response(405, "Method Not Allowed")
        path, _, query = target.partition("?")
        if not self._authorised(lines[1:]):
            return _response(401, "Unauthorized")
        if path != PATH:
            return _response(404, "Not Found")
        body = await asyncio.to_thread(sessions_body, self.folder, _since(query))
        answer = _response(200, "OK", body, "application/json")
        return answer[: len(answer) - len(body)] if method == "HEAD" else answer

    def _authorised(self, headers: list[str]) -> bool:
        presented = b""
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "authorization":
                scheme, _, credentials = value.strip().partition(" ")
                if scheme.lower() == "bearer":
                    presented = credentials.strip().encode("latin-1")
        return bool(presented) and self.token.matches(presented)


# --------------------------------------------------------------------------- the reader


def check_url(url: str) -> tuple[str, int]:
    """HOST, PORT of a records URL (`http://HOST:PORT[/sessions]`); ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("expected http://HOST:PORT")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("a records URL has no user, query or fragment (the token is read apart)")
    if parts.path not in ("", "/", PATH):
        raise ValueError(f"the records are at {PATH}")
    return parts.hostname, parts.port or 80


def fetch_sessions(
    url: str, authorization: Callable[[], memoryview], since: float, timeout: float
) -> tuple[SessionRecord, ...]:
    """The records a listener's endpoint sends (blocking: run it in a thread). `authorization`
    gives the header's value (`Bearer ...`) at the moment it is sent."""
    host, port = check_url(url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.putrequest("GET", f"{PATH}?since={since:.3f}", skip_accept_encoding=True)
        connection.putheader("Authorization", bytes(authorization()))
        connection.putheader("Accept", "application/json")
        connection.endheaders()
        response = connection.getresponse()
        body = response.read(BODY_MAX + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise RecordsError(f"cannot fetch the records from {host}:{port}: {exc}") from None
    finally:
        connection.close()
    if response.status != 200:
        why = f"the records endpoint answered {response.status} {response.reason}"
        raise RecordsError(why, final=400 <= response.status < 500)
    if len(body) > BODY_MAX:
        raise RecordsError(f"the records endpoint sent more than {BODY_MAX} bytes")
    return _records(body)


def _records(body: bytes) -> tuple[SessionRecord, ...]:
    try:
        data = json.loads(body)
    except ValueError:
        raise RecordsError("the records endpoint sent no JSON", final=True) from None
    if not isinstance(data, dict) or data.get("schema") != SESSIONS_SCHEMA:
        raise RecordsError(f"the records endpoint sent no {SESSIONS_SCHEMA} document", final=True)
    records = []
    for item in data.get("sessions", []) if isinstance(data.get("sessions"), list) else []:
        if not isinstance(item, dict) or item.pop("schema", None) != SESSION_SCHEMA:
            continue
        try:
            records.append(from_data(SessionRecord, item))
        except (ValueError, TypeError, KeyError):
            continue
    return tuple(records)
