"""One SMTP conversation with one address, timed step by step. Never raises for the server.

Written on plain asyncio streams rather than aiosmtplib: probe must see every reply byte as sent
(aiosmtplib accepts `2500 ok` as 250, drops the 354 text and raises raw `ssl` errors), bound every
read (a 1 MB line or an endless `250-` reply must not eat memory) and drive DATA by hand. Reply
lines are validated by `probe.smtp.replies`; certificates are judged by `probe.send.tls`.

Every way a server can end the conversation (refusal, reset, EOF, timeout at a named stage,
garbage, TLS failure, a 4xx/5xx reply) becomes a `Conversation` with an `Outcome`, the `stage` it
ended at, a one-line `reason` and the transcript so far. Cancellation (Ctrl-C, the run's
deadline) is the one thing that still propagates, as it must; `on_interrupt` receives the
conversation so far first (outcome INTERRUPTED, the stage it was in), so nothing observed is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from probe.model.smtp import (
    Certificate,
    Conversation,
    Direction,
    Envelope,
    Outcome,
    RcptResult,
    Reply,
    Stage,
    Step,
    Timeouts,
    TlsResult,
    TranscriptLine,
)
from probe.model.status import utcnow
from probe.report.transcript import TLS_STARTED
from probe.send import tls as tlscheck
from probe.smtp import replies
from probe.smtp.envelope import dot_stuffed, envelope_params
from probe.smtp.hosts import is_ip_literal
from probe.smtp.text import one_line

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ConverseOptions:
    helo: str
    port: int = 25
    timeouts: Timeouts = Timeouts()
    starttls: bool = True
    deadline: float = 900.0  # seconds for the whole conversation
    ca_file: str | None = None  # extra trust anchors (PEM) for the chain check
    system_trust: bool = True  # also trust the system's CA store
    tls_name: str | None = None  # name the certificate must carry (default: the host)


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes  # the message as sent (CRLF line ends), before dot-stuffing
    declare_size: bool = True
    dsn_envid: str | None = None
    needs_8bit: bool = False
    needs_smtputf8: bool = False


class _Stop(Exception):
    """Internal: the conversation ends here (with a polite QUIT when `quit` is set)."""

    def __init__(self, outcome: Outcome, stage: Stage, reason: str, *, quit: bool = False) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.stage = stage
        self.reason = reason
        self.quit = quit


def _reply_outcome(reply: Reply) -> Outcome:
    if reply.is_temporary:
        return Outcome.TEMP_FAILED
    if reply.is_permanent:
        return Outcome.REJECTED
    return Outcome.OK


class _Session:
    def __init__(self, host: str, address: str, options: ConverseOptions) -> None:
        self.host = host
        self.address = address
        self.options = options
        self.t0 = time.monotonic()
        self.started_at = utcnow()
        self.deadline = self.t0 + options.deadline
        self.transcript: list[TranscriptLine] = []
        self.steps: list[Step] = []
        self.fields: dict[str, Any] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buf = bytearray()
        self.stage: Stage = Stage.CONNECT
        self.open_step: tuple[Stage, tuple[Any, float]] | None = None  # begun, not yet recorded
        self.result: tuple[Outcome, Stage, str] | None = None  # outcome, stage, reason once known
        self.closed = False

    # ------------------------------------------------------------------ bookkeeping

    def log(self, direction: Direction, text: str) -> None:
        now = time.monotonic()
        self.transcript.append(
            TranscriptLine(utcnow(), round((now - self.t0) * 1000, 3), direction, text)
        )

    def add_step(
        self,
        name: Stage,
        started: tuple[Any, float],
        outcome: Outcome,
        reply: Reply | None = None,
        detail: str = "",
    ) -> None:
        at, mono = started
        duration = round((time.monotonic() - mono) * 1000, 3)
        self.steps.append(Step(name, at, duration, outcome, reply, detail))
        self.open_step = None

    def mark(self, name: Stage) -> tuple[Any, float]:
        """Start timing step `name` (remembered, so an interruption can still record it)."""
        started = utcnow(), time.monotonic()
        self.open_step = name, started
        return started

    async def bounded(self, awaitable: Awaitable[T], stage: Stage, timeout: float) -> T:
        """Await with the stage timeout (capped by the deadline); I/O errors become `_Stop`."""
        left = self.deadline - time.monotonic()
        limit = min(timeout, left)
        if limit <= 0:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise _Stop(Outcome.TIMEOUT, stage, "overall deadline reached")
        try:
            async with asyncio.timeout(limit):
                return await awaitable
        except TimeoutError:
            why = "overall deadline reached" if left <= timeout else f"no answer in {limit:g} s"
            raise _Stop(Outcome.TIMEOUT, stage, f"{why} (at {stage})") from None
        except ssl.SSLError as exc:
            raise _Stop(Outcome.TLS_FAILED, stage, f"TLS error: {one_line(exc, 300)}") from None
        except ConnectionRefusedError:
            raise _Stop(Outcome.REFUSED, stage, "connection refused") from None
        except ConnectionResetError:
            raise _Stop(Outcome.RESET, stage, "connection reset by peer") from None
        except (BrokenPipeError, ConnectionAbortedError, EOFError):
            raise _Stop(Outcome.DISCONNECTED, stage, "connection closed by peer") from None
        except OSError as exc:
            raise _Stop(Outcome.RESET, stage, f"socket error: {one_line(exc, 300)}") from None

    # ------------------------------------------------------------------ wire

    async def _readline(self) -> bytes:
        assert self.reader is not None
        while True:
            end = self.buf.find(b"\n")
            if 0 <= end < replies.MAX_LINE:
                line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line
            if end >= replies.MAX_LINE or len(self.buf) > replies.MAX_LINE:
                head = bytes(self.buf[:200])
                self.log(Direction.SERVER, replies.printable(head) + " [...]")
                self.buf.clear()
                raise _Stop(
                    Outcome.GARBAGE,
                    self.stage,
                    f"reply line longer than {replies.MAX_LINE} bytes",
                )
            chunk = await self.reader.read(4096)
            if not chunk:
                if self.buf:
                    self.log(Direction.SERVER, replies.printable(bytes(self.buf)))
                raise EOFError
            self.buf += chunk

    async def _read_reply(self) -> Reply:
        builder = replies.ReplyBuilder()
        while True:
            raw = await self._readline()
            self.log(Direction.SERVER, replies.printable(raw))
            try:
                if builder.add(raw):
                    return builder.reply()
            except ValueError as exc:
                self.fields.setdefault("garbage", replies.garbage_reply(raw))
                raise _Stop(Outcome.GARBAGE, self.stage, one_line(exc, 300)) from None

    async def read_reply(self, stage: Stage, timeout: float) -> Reply:
        self.stage = stage
        return await self.bounded(self._read_reply(), stage, timeout)

    async def send_line(self, stage: Stage, line: str, shown: str | None = None) -> None:
        assert self.writer is not None
        self.stage = stage
        self.log(Direction.CLIENT, shown if shown is not None else line)
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.bounded(self.writer.drain(), stage, self.options.timeouts.command)

    async def command(self, stage: Stage, line: str) -> Reply:
        """Send one command and read its reply, as one timed step."""
        started = self.mark(stage)
        try:
            await self.send_line(stage, line)
            reply = await self.read_reply(stage, self.options.timeouts.command)
        except _Stop as stop:
            self.add_step(stage, started, stop.outcome, detail=stop.reason)
            raise
        self.add_step(stage, started, _reply_outcome(reply), reply)
        return reply

    # ------------------------------------------------------------------ stages

    async def connect(self) -> None:
        target = f"[{self.address}]" if ":" in self.address else self.address
        self.log(Direction.INFO, f"attempting to connect to {target}:{self.options.port}")
        started = self.mark(Stage.CONNECT)
        try:
            self.reader, self.writer = await self.bounded(
                asyncio.open_connection(self.address, self.options.port, limit=2**16),
                Stage.CONNECT,
                self.options.timeouts.connect,
            )
        except _Stop as stop:
            if stop.outcome is Outcome.RESET and stop.reason.startswith("socket error"):
                stop = _Stop(Outcome.UNREACHABLE, Stage.CONNECT, stop.reason)
            self.add_step(Stage.CONNECT, started, stop.outcome, detail=stop.reason)
            raise stop from None
        self.add_step(Stage.CONNECT, started, Outcome.OK)
        self.log(Direction.INFO, "connected")

    async def banner(self) -> None:
        started = self.mark(Stage.BANNER)
        try:
            reply = await self.read_reply(Stage.BANNER, self.options.timeouts.banner)
        except _Stop as stop:
            self.add_step(Stage.BANNER, started, stop.outcome, detail=stop.reason)
            raise
        self.fields["banner"] = reply
        self.add_step(Stage.BANNER, started, _reply_outcome(reply), reply)
        self.refuse_if_failed(reply, Stage.BANNER)

    def refuse_if_failed(self, reply: Reply, stage: Stage, what: str = "") -> None:
        outcome = _reply_outcome(reply)
        if outcome is not Outcome.OK:
            verb = "refused" if outcome is Outcome.REJECTED else "temporarily refused"
            reason = f"{what or stage} {verb}: {reply.code} {one_line(reply.text, 300)}"
            raise _Stop(outcome, stage, reason, quit=True)

    async def hello(self, after_tls: bool) -> tuple[str, ...]:
        name = Stage.EHLO_TLS if after_tls else Stage.EHLO
        reply = await self.command(name, f"EHLO {self.options.helo}")
        used_helo = False
        if reply.is_permanent and not after_tls:
            reply = await self.command(Stage.HELO, f"HELO {self.options.helo}")
            used_helo = True
        if after_tls:
            self.fields["ehlo_after_tls"] = reply
        else:
            self.fields["ehlo"] = reply
            self.fields["used_helo"] = used_helo
        self.refuse_if_failed(reply, Stage.EHLO, "HELO" if used_helo else "EHLO")
        caps = () if used_helo else replies.capabilities(reply)
        self.fields["capabilities_after_tls" if after_tls else "capabilities"] = caps
        return caps

    async def starttls(self, caps: tuple[str, ...]) -> tuple[str, ...]:
        offered = replies.capability(caps, "STARTTLS") is not None
        if not offered or not self.options.starttls:
            self.fields["tls"] = TlsResult(offered=offered)
            if offered:
                self.log(Direction.INFO, "STARTTLS offered but not used (--no-starttls)")
            return caps
        reply = await self.command(Stage.STARTTLS, "STARTTLS")
        if reply.code != 220:
            self.fields["tls"] = TlsResult(
                offered=True, attempted=True, error=f"{reply.code} {one_line(reply.text, 300)}"
            )
            self.log(Direction.INFO, "STARTTLS refused; continuing without TLS")
            return caps
        if self.buf:  # bytes sent before the handshake could be injected commands
            self.log(Direction.INFO, f"peer sent {len(self.buf)} bytes before TLS (discarded)")
            self.buf.clear()
        started = self.mark(Stage.TLS)
        assert self.writer is not None
        name = self.options.tls_name or self.host
        sni = None if is_ip_literal(name) else name.rstrip(".")
        try:
            await self.bounded(
                self.writer.start_tls(tlscheck.make_probe_context(), server_hostname=sni),
                Stage.STARTTLS,
                self.options.timeouts.tls,
            )
        except _Stop as stop:
            reason = stop.reason
            if stop.outcome is not Outcome.TLS_FAILED:
                reason = f"TLS handshake failed: {stop.reason}"
            self.fields["tls"] = TlsResult(offered=True, attempted=True, error=reason)
            self.add_step(Stage.TLS, started, Outcome.TLS_FAILED, detail=reason)
            raise _Stop(Outcome.TLS_FAILED, Stage.STARTTLS, reason) from None
        ssl_object = self.writer.get_extra_info("ssl_object")
        cipher = ssl_object.cipher() if ssl_object else None
        protocol = ssl_object.version() if ssl_object else None
        cert = None
        if ssl_object is not None:
            chain = tlscheck.peer_chain(ssl_object)
            cert = await asyncio.to_thread(
                tlscheck.inspect_chain,
                chain,
                name,
                ca_file=self.options.ca_file,
                system_trust=self.options.system_trust,
            )
        self.fields["tls"] = TlsResult(
            offered=True,
            attempted=True,
            handshake_ok=True,
            protocol=protocol,
            cipher=cipher[0] if cipher else None,
            certificate=cert,
        )
        self.add_step(
            Stage.TLS, started, Outcome.OK, detail=f"{protocol} {cipher[0] if cipher else ''}"
        )
        self.log(Direction.INFO, f"{TLS_STARTED}: {protocol} {cipher[0] if cipher else ''}")
        if cert is not None:
            self.log(Direction.INFO, _cert_summary(cert))
        return await self.hello(after_tls=True)

    async def quit(self) -> None:
        try:
            await self.command(Stage.QUIT, "QUIT")
        except _Stop as stop:
            self.log(Direction.INFO, f"QUIT not answered: {stop.reason}")

    async def close(self) -> None:
        if self.writer is None or self.closed:
            return
        self.closed = True
        try:
            self.writer.close()
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        except Exception:  # noqa: BLE001 - closing a broken (TLS) stream may fail in any way
            pass
        self.log(Direction.INFO, "connection closed")

    def interrupt(self) -> None:
        """Cancelled: record the step in flight, settle the outcome, drop the socket at once.

        Synchronous on purpose: nothing here can be cancelled again half-way. An outcome already
        known (cancelled while saying QUIT after a 250 or a 550) stays what it was.
        """
        if self.open_step is not None:
            name, started = self.open_step
            self.add_step(name, started, Outcome.INTERRUPTED, detail="interrupted by probe")
        if self.result is None:
            why = f"interrupted by probe during {self.stage}"
            self.result = Outcome.INTERRUPTED, self.stage, why
        else:
            self.log(Direction.INFO, f"interrupted by probe during {self.stage}")
        if self.writer is not None:
            self.writer.transport.abort()  # no wait_closed: the task is being cancelled
            if not self.closed:
                self.closed = True
                self.log(Direction.INFO, "connection closed")

    # ------------------------------------------------------------------ transaction

    async def transaction(self, caps: tuple[str, ...], message: OutgoingMessage) -> None:
        for needed, keyword in (
            (message.needs_8bit, "8BITMIME"),
            (message.needs_smtputf8, "SMTPUTF8"),
        ):
            if needed and replies.capability(caps, keyword) is None:
                raise _Stop(
                    Outcome.SKIPPED, Stage.MAIL, f"message needs {keyword}, not offered", quit=True
                )
        mail_params, rcpt_params = envelope_params(caps, message)
        self.fields["envelope"] = Envelope(
            message.mail_from, message.rcpt_to, tuple(mail_params), tuple(rcpt_params)
        )
        mail = await self.command(
            Stage.MAIL, _with_params(f"MAIL FROM:<{message.mail_from}>", mail_params)
        )
        self.fields["mail_reply"] = mail
        self.refuse_if_failed(mail, Stage.MAIL, "sender")
        results: list[RcptResult] = []
        try:
            for rcpt in message.rcpt_to:
                reply = await self.command(
                    Stage.RCPT, _with_params(f"RCPT TO:<{rcpt}>", rcpt_params)
                )
                results.append(RcptResult(rcpt, reply, reply.code in (250, 251, 252)))
        finally:
            self.fields["rcpt_results"] = tuple(results)
        if not any(r.accepted for r in results):
            worst = next((r.reply for r in results if r.reply and r.reply.is_temporary), None)
            last = (worst or results[-1].reply) if results else None
            if last is None:
                raise _Stop(Outcome.ERROR, Stage.RCPT, "no recipients given", quit=True)
            self.refuse_if_failed(last, Stage.RCPT, "every recipient")
            raise _Stop(
                Outcome.REJECTED, Stage.RCPT, f"no recipient accepted: {last.code}", quit=True
            )
        data = await self.command(Stage.DATA, "DATA")
        self.fields["data_reply"] = data
        self.refuse_if_failed(data, Stage.DATA, "DATA")
        if data.code != 354:
            raise _Stop(
                Outcome.GARBAGE, Stage.DATA, f"expected 354 after DATA, got {data.code}", quit=True
            )
        await self.upload(message.data)
        started = self.mark(Stage.DATA_END)
        try:
            final = await self.read_reply(Stage.DATA_END, self.options.timeouts.final_reply)
        except _Stop as stop:
            self.add_step(Stage.DATA_END, started, stop.outcome, detail=stop.reason)
            raise
        self.fields["final_reply_ms"] = round((time.monotonic() - started[1]) * 1000, 3)
        self.fields["final_reply"] = final
        self.add_step(Stage.DATA_END, started, _reply_outcome(final), final)
        found = replies.queue_id(final)
        self.fields["queue_id"] = found[1] if found else None
        self.refuse_if_failed(final, Stage.DATA_END, "message")

    async def upload(self, data: bytes) -> None:
        assert self.writer is not None
        self.stage = Stage.UPLOAD
        started = self.mark(Stage.UPLOAD)
        sent = 0
        self.log(Direction.CLIENT, f"[{len(data)} bytes of message data]")
        try:
            for block in dot_stuffed(data):
                self.writer.write(block)
                sent += len(block)
                await self.bounded(
                    self.writer.drain(), Stage.UPLOAD, self.options.timeouts.data_block
                )
        except _Stop as stop:
            self.fields["bytes_sent"] = sent
            self.add_step(Stage.UPLOAD, started, stop.outcome, detail=stop.reason)
            await self.late_reply(stop)
            raise
        self.log(Direction.CLIENT, ".")
        self.fields["bytes_sent"] = sent
        self.fields["upload_ms"] = round((time.monotonic() - started[1]) * 1000, 3)
        self.add_step(Stage.UPLOAD, started, Outcome.OK, detail=f"{sent} bytes")

    async def late_reply(self, stop: _Stop) -> None:
        """A server that hangs up mid-upload often said why first (`552 too big`): read it."""
        if stop.outcome not in (Outcome.RESET, Outcome.DISCONNECTED):
            return
        try:
            reply = await self.read_reply(Stage.UPLOAD, min(1.0, self.options.timeouts.command))
        except _Stop:
            return
        self.fields["final_reply"] = reply
        stop.outcome = _reply_outcome(reply) if reply.code and reply.code >= 400 else stop.outcome
        stop.reason = f"{stop.reason} after {reply.code} {one_line(reply.text, 300)}"


def _cert_summary(cert: Certificate) -> str:
    facts = [
        "name ok" if cert.valid_for_host else "name mismatch",
        "chain ok" if cert.chain_verifies else f"chain: {cert.verify_error}",
    ]
    if cert.expired:
        facts.append("expired")
    return f"certificate {cert.subject}: {', '.join(facts)}"


def _with_params(command: str, params: list[str]) -> str:
    return " ".join([command, *params])


async def converse(
    host: str,
    address: str,
    options: ConverseOptions,
    message: OutgoingMessage | None = None,
    *,
    on_interrupt: Callable[[Conversation], None] | None = None,
) -> Conversation:
    """Hold one SMTP conversation with `address` (named `host`); send `message` when given.

    When the task is cancelled, `on_interrupt` gets what was observed up to then (outcome
    INTERRUPTED unless it was already known) before the CancelledError goes on; the socket is
    closed either way.
    """
    session = _Session(host, address, options)
    try:
        await _hold(session, message)
        await session.close()
    except asyncio.CancelledError:
        session.interrupt()
        if on_interrupt is not None:
            on_interrupt(_conversation(session))
        raise
    return _conversation(session)


async def _hold(session: _Session, message: OutgoingMessage | None) -> None:
    """The conversation itself; its outcome lands in `session.result` as soon as it is known."""
    try:
        try:
            await session.connect()
            await session.banner()
            caps = await session.hello(after_tls=False)
            caps = await session.starttls(caps)
            if message is not None:
                await session.transaction(caps, message)
                final = session.fields["final_reply"]
                reason = f"message accepted: {final.code} {one_line(final.text, 300)}"
                session.result = Outcome.ACCEPTED, Stage.QUIT, reason
            else:
                session.result = Outcome.OK, Stage.QUIT, ""
            await session.quit()
        except _Stop as stop:
            session.result = stop.outcome, stop.stage, stop.reason
            if stop.quit:
                await session.quit()
    except _Stop as stop:  # raised while quitting politely
        session.log(Direction.INFO, f"QUIT failed: {stop.reason}")
    except Exception as exc:  # noqa: BLE001 - probe's own fault must still be a result
        reason = f"internal error: {type(exc).__name__}: {one_line(exc, 300)}"
        session.result = Outcome.ERROR, session.stage, reason


def _conversation(session: _Session) -> Conversation:
    outcome, stage, reason = session.result or (Outcome.ERROR, session.stage, "no outcome")
    if reason:
        session.log(Direction.INFO, f"{outcome.value} at {stage}: {reason}")
    known = {f.name for f in dataclasses.fields(Conversation)}
    extra = {k: v for k, v in session.fields.items() if k in known}
    return Conversation(
        host=session.host,
        address=session.address,
        port=session.options.port,
        helo=session.options.helo,
        started_at=session.started_at,
        duration_ms=round((time.monotonic() - session.t0) * 1000, 3),
        outcome=outcome,
        stage=stage,
        reason=reason,
        steps=tuple(session.steps),
        transcript=tuple(session.transcript),
        **extra,
    )
