"""A hostile IMAP server on loopback: it echoes the login back, or answers with absurd replies.

The echo takes the forms a real server or proxy could produce: the command verbatim in a BAD,
re-quoted with the server's own escapes, split over several quoted strings and lines, the AUTH
PLAIN token echoed. Nothing of the password may reach the error message, stderr, the JSON of a
real `probe run`, imaplib's state, or any frame's locals in a traceback from the login path.
The other replies (non-ASCII capabilities, a literal of 99,999,999,999 bytes, thousands of
digits, an endless stream) must each end in a one-line MailboxError, fast, without allocating.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from probe.collect import imap_conn, imap_login
from probe.collect.mailboxes import open_mailbox
from probe.collect.secrets import Secret
from probe.collect.urls import parse_mailbox_url
from probe.errors import MailboxError

ASCII_PW = 'Zq"9\\x-Kw7!Vb'  # LOGIN with a quoted string: both escapes in play
UTF8_PW = 'Zq"9\\x-K\u00e4w7!Vb'  # AUTHENTICATE PLAIN
USER = "u@example.test"
GREETING = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] hostile server ready\r\n"


def leaks(password: str) -> list[str]:
    """Every form of the password (and long enough pieces of it) that must not show anywhere."""
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    token = base64.b64encode(b"\0" + USER.encode() + b"\0" + password.encode()).decode()
    pieces = {password[i : i + 5] for i in range(len(password) - 4)}
    pieces |= {token[i : i + 8] for i in range(12, len(token) - 7)}  # past the user's part
    return sorted({password, quoted, token, *pieces})


def echo(line: bytes, mode: str) -> list[bytes]:
    """What the hostile server answers to a LOGIN or AUTHENTICATE line, by mode."""
    tag = line.split(b" ", 1)[0]
    body = line.rstrip(b"\r\n")
    if mode == "verbatim":
        return [tag + b" BAD Error in IMAP command: " + body + b"\r\n"]
    if mode == "requoted":
        quoted = body.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return [tag + b' NO [ALERT] "you sent: ' + quoted + b'"\r\n']
    if mode == "split":
        parts = [body[i : i + 4] for i in range(0, len(body), 4)]
        shown = b" ".join(
            b'"' + p.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"' for p in parts
        )
        half = len(shown) // 2
        return [b"* OK " + shown[:half] + b"\r\n", tag + b" NO " + shown[half:] + b"\r\n"]
    if mode == "untagged":
        return [b"* BAD " + body + b"\r\n", b"* OK " + body[::-1] + b"\r\n", tag + b" NO no\r\n"]
    raise AssertionError(mode)


class Hostile(socketserver.StreamRequestHandler):
    mode = "verbatim"
    script: Callable[[Hostile], None] | None = None

    def handle(self) -> None:
        if self.script is not None:
            self.script(self)
            return
        self.wfile.write(GREETING)
        pending_tag = b""
        while line := self.rfile.readline(100_000):
            tag, _, rest = line.partition(b" ")
            command = rest.split(b" ", 1)[0].rstrip(b"\r\n").upper()
            if pending_tag:  # the AUTHENTICATE response: echo the token
                self.wfile.write(b"".join(echo(pending_tag + b" " + line, self.mode)))
                pending_tag = b""
            elif command == b"LOGIN":
                self.wfile.write(b"".join(echo(line, self.mode)))
            elif command == b"AUTHENTICATE":
                self.wfile.write(b"+ \r\n")
                pending_tag = tag
            elif command == b"CAPABILITY":
                self.wfile.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            elif command == b"LOGOUT":
                self.wfile.write(b"* BYE\r\n" + tag + b" OK done\r\n")
                return
            else:
                self.wfile.write(tag + b" BAD no\r\n")


@contextmanager
def hostile(
    mode: str = "verbatim", script: Callable[[Hostile], None] | None = None
) -> Iterator[int]:
    handler = type(
        "Handler", (Hostile,), {"mode": mode, "script": staticmethod(script) if script else None}
    )
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def open_box(port: int, password: Secret, timeout: float = 5) -> None:
    async def main() -> None:
        box = await open_mailbox(
            f"imap://{USER.replace('@', '%40')}@127.0.0.1:{port}/INBOX",
            password=password,
            insecure=True,
            timeout=timeout,
        )
        await box.close()

    asyncio.run(main())


@pytest.mark.parametrize("password", [ASCII_PW, UTF8_PW], ids=["login", "auth-plain"])
@pytest.mark.parametrize("mode", ["verbatim", "requoted", "split", "untagged"])
def test_an_echoed_password_never_shows(
    mode: str, password: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with hostile(mode) as port, pytest.raises(MailboxError) as info:
        open_box(port, Secret(password))
    message = str(info.value)
    out, err = capfd.readouterr()
    assert message.startswith(f"IMAP login refused for {USER}@127.0.0.1: ")
    assert "\n" not in message and len(message) < 400
    shown = message + repr(info.value) + out + err
    assert [form for form in leaks(password) if form in shown] == []


def test_a_real_probe_run_shows_nothing_of_an_echoed_password(tmp_path: Path) -> None:
    """`probe run --json` as a user runs it: the login is checked before anything is sent."""
    with hostile("verbatim") as port:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "probe",
                "run",
                "lab.probe.test",
                "--to",
                "postmaster@lab.probe.test",
                "--mailbox",
                f"imap://{USER.replace('@', '%40')}@127.0.0.1:{port}/INBOX",
                "--insecure",
                "--json",
                "--save",
                str(tmp_path / "run.json"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PROBE_IMAP_PASSWORD": ASCII_PW},
        )
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and "IMAP login refused" in done.stderr
    if done.stdout:  # (a JSON document on stdout for a login error is the CLI's to add)
        json.loads(done.stdout)
    saved = (tmp_path / "run.json").read_text() if (tmp_path / "run.json").exists() else ""
    everything = done.stdout + done.stderr + saved
    assert [form for form in leaks(ASCII_PW) if form in everything] == []


# --------------------------------------------------------------------------- locals


def _stack_text(frame: FrameType | None, stop: FrameType | None) -> str:
    """The frames from `frame` up to `stop` with their locals, as `capture_locals` shows them
    (repr of each local; a repr that fails mid-construction, inside `re`, is skipped)."""
    lines = []
    while frame is not None and frame is not stop:
        lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        for name, value in list(frame.f_locals.items()):
            try:
                lines.append(f"    {name} = {value!r}")
            except Exception:  # noqa: BLE001 - an object half built (re's parser)
                continue
        frame = frame.f_back
    return "\n".join(lines)


@pytest.mark.parametrize("password", [ASCII_PW, UTF8_PW], ids=["login", "auth-plain"])
def test_no_frame_of_the_login_path_holds_the_password(password: str) -> None:
    """Every frame below the test, at every call and return of the login (sockets, ssl,
    imaplib, probe), formatted as a locals-capturing traceback would show it."""
    secret = Secret(password)
    spec = parse_mailbox_url(f"imap://{USER.replace('@', '%40')}@127.0.0.1:1/INBOX")
    redact = secret.redactor(spec.user)
    context = imap_login.tls_context(None, True)
    forms = leaks(password)
    seen: list[str] = []
    events = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal events
        events += 1
        text = _stack_text(frame, top)
        seen.extend(form for form in forms if form in text)

    for mode in ("verbatim", "split"):
        with hostile(mode) as port:
            spec = parse_mailbox_url(f"imap://{USER.replace('@', '%40')}@127.0.0.1:{port}/INBOX")
            top = sys._getframe()
            sys.setprofile(profile)
            try:
                imap_login.login(spec, secret, redact, context, True, 5)
            except MailboxError as exc:
                error = exc
            finally:
                sys.setprofile(None)
        assert "login refused" in str(error)
        original = error.__context__  # what imaplib or the socket raised, kept as context
        assert original is not None
        formatted = "".join(
            traceback.TracebackException.from_exception(original, capture_locals=True).format()
        )
        assert [form for form in forms if form in formatted] == []
    assert events > 100 and seen == []


def _greet(handler: Hostile) -> None:
    """The greeting, and the CAPABILITY imaplib always asks for first."""
    handler.wfile.write(GREETING)
    tag = handler.rfile.readline().split(b" ", 1)[0]
    handler.wfile.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")


def test_a_connection_dropped_after_the_password_shows_nothing_in_locals() -> None:
    def drop(handler: Hostile) -> None:
        _greet(handler)
        handler.rfile.readline()  # LOGIN ... "password"
        handler.wfile.write(b"* OK half a line without its end")
        handler.connection.shutdown(socket.SHUT_RDWR)

    with hostile(script=drop) as port, pytest.raises(MailboxError) as info:
        open_box(port, Secret(ASCII_PW))
    assert "connection closed during login" in str(info.value)
    for exc in (info.value, info.value.__context__):
        assert exc is not None
        text = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
        assert [form for form in leaks(ASCII_PW) if form in text] == []


# --------------------------------------------------------------------------- hostile replies


def _after_login(reply: bytes) -> Callable[[Hostile], None]:
    """A server that logs in fine, then answers CAPABILITY or LIST with `reply`."""

    def script(handler: Hostile) -> None:
        _greet(handler)
        while line := handler.rfile.readline(100_000):
            tag, _, rest = line.partition(b" ")
            command = rest.split(b" ", 1)[0].rstrip(b"\r\n").upper()
            if command == b"LOGIN":
                handler.wfile.write(tag + b" OK logged in\r\n")
            elif command in (b"CAPABILITY", b"LIST"):
                handler.wfile.write(reply.replace(b"TAG", tag))
            else:
                handler.wfile.write(tag + b" OK done\r\n")

    return script


def _endless(handler: Hostile) -> None:
    """Untagged lines, never the tagged reply to LOGIN."""
    _greet(handler)
    handler.rfile.readline()
    try:
        for _ in range(200_000):  # bounded, but far more than probe may read
            handler.wfile.write(b"* OK " + b"x" * 500 + b"\r\n")
    except OSError:
        pass


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (_after_login(b'* LIST () "/" {99999999999}\r\n'), "literal of 99,999,999,999 bytes"),
        (_after_login(b'* LIST () "/" {' + b"9" * 5000 + b"}\r\n"), "more than 20 digits"),
        (_after_login(b"* CAPABILITY IMAP4rev1 \xff\xfe\xc3 IDLE\r\nTAG OK done\r\n"), None),
        (_after_login(b"* SEARCH " + b"9" * 5000 + b"\r\nTAG OK done\r\n"), None),
        (_after_login(b'* LIST (\\Junk) "/" "Sp\xc3\xa4m"\r\nTAG OK done\r\n'), None),
        (_endless, "login"),
    ],
    ids=["literal", "literal-digits", "capability", "digits", "utf8-name", "endless"],
)
def test_hostile_replies_end_in_one_line(
    script: Callable[[Hostile], None], message: str | None
) -> None:
    t0 = time.monotonic()
    with hostile(script=script) as port:
        if message is None:
            open_box(port, Secret(ASCII_PW))  # read safely: the mailbox opens (INBOX)
        else:
            with pytest.raises(MailboxError) as info:
                open_box(port, Secret(ASCII_PW))
            assert message in str(info.value) and "\n" not in str(info.value)
    assert time.monotonic() - t0 < 20


def test_a_search_with_thousands_of_matches_is_cut_with_a_note() -> None:
    fetched: list[int] = []

    def script(handler: Hostile) -> None:
        _greet(handler)
        while line := handler.rfile.readline(100_000):
            tag, _, rest = line.partition(b" ")
            words = rest.rstrip(b"\r\n").split(b" ")
            if words[:2] == [b"UID", b"SEARCH"]:
                uids = b" ".join(str(u).encode() for u in range(1, 5001))
                handler.wfile.write(b"* SEARCH " + uids + b"\r\n" + tag + b" OK done\r\n")
            elif words[:2] == [b"UID", b"FETCH"]:
                fetched.extend(int(u) for u in words[2].split(b","))
                handler.wfile.write(tag + b" OK done\r\n")
            else:
                handler.wfile.write(tag + b" OK done\r\n")

    async def main() -> tuple[str, ...]:
        box = await open_mailbox(
            f"imap://{USER.replace('@', '%40')}@127.0.0.1:{port}/INBOX",
            password=Secret(ASCII_PW),
            insecure=True,
            timeout=5,
        )
        try:
            await box.find(["20240501T120000-abc123.control"])
            return box.skipped
        finally:
            await box.close()

    with hostile(script=script) as port:
        skipped = asyncio.run(main())
    assert min(fetched) == 4001 and len(set(fetched)) == 1000  # the newest thousand, once
    assert "SEARCH HEADER X-Probe-Id 20240501T120000-abc123: 5,000 matches, the newest kept" in (
        skipped
    )


def test_a_server_that_trickles_its_greeting_is_cut_by_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A byte every 0.1 s never trips the 0.5 s socket timeout; the reply's budget stops it."""
    monkeypatch.setattr(imap_conn, "BUDGET_MIN", 1.0)  # the budget: max(1 s, 4 x 0.5 s)
    stop = threading.Event()

    def trickle(handler: Hostile) -> None:
        for _ in range(400):  # bounded: 40 s at most, far past the budget
            if stop.is_set():
                return
            try:
                handler.wfile.write(b"*")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    t0 = time.monotonic()
    with hostile(script=trickle) as port:
        try:
            with pytest.raises(MailboxError) as info:
                open_box(port, Secret(ASCII_PW), timeout=0.5)
        finally:
            stop.set()
    assert "no complete reply within" in str(info.value)
    assert time.monotonic() - t0 < 10
