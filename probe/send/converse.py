"""One SMTP conversation with one address, timed step by step. Never raises for the server.

Written on plain asyncio streams rather than aiosmtplib: probe must see every reply byte as sent
(aiosmtplib accepts `2500 ok` as 250, drops the 354 text and raises raw `ssl` errors), bound every
read (a 1 MB line or an endless `250-` reply must not eat memory) and drive DATA by hand. The
wire is `probe.send.session`; reply lines are validated by `probe.smtp.replies`; certificates are
judged by `probe.send.tls`. This module is the script: banner, EHLO, STARTTLS, the transaction.

Every way a server can end the conversation (refusal, reset, EOF, timeout at a named stage,
garbage, TLS failure, a 4xx/5xx reply) becomes a `Conversation` with an `Outcome`, the `stage` it
ended at, a one-line `reason` and the transcript so far; what the peer sent instead of a reply is
kept (`Reply.valid` False). Probe's own bug is an ERROR naming the exception and where it was
raised. Cancellation (Ctrl-C, the run's deadline) is the one thing that still propagates, as it
must; `on_interrupt` receives the conversation so far first (outcome INTERRUPTED, the stage it
was in), so nothing observed is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Callable

from probe.model.message import OutgoingMessage
from probe.model.smtp import (
    Certificate,
    Conversation,
    Direction,
    Envelope,
    Outcome,
    RcptResult,
    Reply,
    Stage,
    TlsResult,
)
from probe.send import tls as tlscheck
from probe.send.options import ConverseOptions
from probe.send.questions import ask_envelope
from probe.send.session import (
    Ending,
    Session,
    Started,
    Stop,
    raised_at,
    reason_text,
    reply_outcome,
)
from probe.smtp import replies
from probe.smtp.envelope import dot_stuffed, envelope_params
from probe.smtp.hosts import is_ip_literal


@dataclasses.dataclass
class Observed:
    """What the peer has said so far: filled while the conversation runs, frozen into its
    `Conversation` at the end (`Script.conversation`); mypy checks the names on both sides."""

    banner: Reply | None = None
    ehlo: Reply | None = None
    used_helo: bool = False
    capabilities: tuple[str, ...] = ()
    tls: TlsResult = TlsResult()
    ehlo_after_tls: Reply | None = None
    capabilities_after_tls: tuple[str, ...] = ()
    envelope: Envelope | None = None
    mail_reply: Reply | None = None
    rcpt_results: tuple[RcptResult, ...] = ()
    data_reply: Reply | None = None
    final_reply: Reply | None = None
    bytes_sent: int = 0
    upload_ms: float | None = None
    final_reply_ms: float | None = None
    held_ms: float | None = None
    acked_ms: float | None = None
    queue_id: str | None = None


MAX_READ_WAIT = 30.0  # seconds a held dot waits at most for the hop to read the message


def refuse_if_failed(reply: Reply, stage: Stage, what: str = "") -> None:
    """A 4xx or 5xx reply ends the conversation (politely)."""
    outcome = reply_outcome(reply)
    if outcome is not Outcome.OK:
        verb = "refused" if outcome is Outcome.REJECTED else "temporarily refused"
        reason = f"{what or stage} {verb}: {reply.code} {reason_text(reply.text)}"
        raise Stop(outcome, stage, reason, quit=True)


class Script:
    """The SMTP dialogue on one session; what it observes lands in `seen`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.options = session.options
        self.seen = Observed()

    async def run(self, message: OutgoingMessage | None) -> None:
        """The whole conversation; its ending lands in `session.ending` as soon as it is known."""
        session = self.session
        try:
            try:
                await session.open()
                await self.banner()
                caps = await self.hello(after_tls=False)
                caps = await self.starttls(caps)
                if message is not None:
                    final = await self.transaction(caps, message)
                    reason = f"message accepted: {final.code} {reason_text(final.text)}"
                    session.ending = Ending(Outcome.ACCEPTED, Stage.QUIT, reason)
                else:
                    if self.options.ask is not None:
                        asked = await ask_envelope(session, self.options.ask)
                        self.seen.mail_reply, self.seen.rcpt_results = asked
                    session.ending = Ending(Outcome.OK, Stage.QUIT)
                await self.quit()
            except Stop as stop:
                session.ending = stop.ending
                if stop.quit:
                    await self.quit()
        except Stop as stop:  # raised while quitting politely
            session.log(Direction.INFO, f"QUIT failed: {stop.reason}")
        except Exception as exc:  # noqa: BLE001 - probe's own fault must still be a result
            reason = (
                f"internal error: {type(exc).__name__}: {reason_text(exc)} (at {raised_at(exc)})"
            )
            session.ending = Ending(Outcome.ERROR, session.stage, reason)

    def conversation(self) -> Conversation:
        """The frozen result; the ending's reason becomes the transcript's last line."""
        session, seen = self.session, self.seen
        ending = session.ending or Ending(Outcome.ERROR, session.stage, "no outcome")
        if ending.reason:
            session.log(
                Direction.INFO, f"{ending.outcome.value} at {ending.stage}: {ending.reason}"
            )
        return Conversation(
            host=session.host,
            address=session.address,
            port=session.options.port,
            helo=session.options.helo,
            started_at=session.started.at,
            duration_ms=session.elapsed_ms(),
            outcome=ending.outcome,
            stage=ending.stage,
            reason=ending.reason,
            banner=seen.banner,
            ehlo=seen.ehlo,
            used_helo=seen.used_helo,
            capabilities=seen.capabilities,
            tls=seen.tls,
            ehlo_after_tls=seen.ehlo_after_tls,
            capabilities_after_tls=seen.capabilities_after_tls,
            steps=tuple(session.steps),
            transcript=tuple(session.transcript),
            envelope=seen.envelope,
            mail_reply=seen.mail_reply,
            rcpt_results=seen.rcpt_results,
            data_reply=seen.data_reply,
            final_reply=seen.final_reply,
            bytes_sent=seen.bytes_sent,
            upload_ms=seen.upload_ms,
            final_reply_ms=seen.final_reply_ms,
            held_ms=seen.held_ms,
            acked_ms=seen.acked_ms,
            queue_id=seen.queue_id,
        )

    # ------------------------------------------------------------------ greeting

    async def banner(self) -> None:
        try:
            reply = await self.session.reply_step(Stage.BANNER, self.options.timeouts.banner)
        except Stop as stop:
            self.seen.banner = stop.garbage  # a banner that is no SMTP reply is evidence too
            raise
        self.seen.banner = reply
        refuse_if_failed(reply, Stage.BANNER)

    async def hello(self, after_tls: bool) -> tuple[str, ...]:
        helo = self.options.helo
        reply = await self.session.command(
            Stage.EHLO_TLS if after_tls else Stage.EHLO, f"EHLO {helo}"
        )
        used_helo = False
        if reply.is_permanent and not after_tls:
            reply = await self.session.command(Stage.HELO, f"HELO {helo}")
            used_helo = True
        if after_tls:
            self.seen.ehlo_after_tls = reply
        else:
            self.seen.ehlo = reply
            self.seen.used_helo = used_helo
        refuse_if_failed(reply, Stage.EHLO, "HELO" if used_helo else "EHLO")
        caps = () if used_helo else replies.capabilities(reply)
        if after_tls:
            self.seen.capabilities_after_tls = caps
        else:
            self.seen.capabilities = caps
        return caps

    # ------------------------------------------------------------------ TLS

    async def starttls(self, caps: tuple[str, ...]) -> tuple[str, ...]:
        """STARTTLS when offered (and not switched off), then EHLO again inside TLS."""
        session = self.session
        offered = replies.capability(caps, "STARTTLS") is not None
        if not offered or not self.options.starttls:
            self.seen.tls = TlsResult(offered=offered)
            if offered:
                session.log(Direction.INFO, "STARTTLS offered but not used (--no-starttls)")
            return caps
        reply = await session.command(Stage.STARTTLS, "STARTTLS")
        if reply.code != 220:
            error = f"{reply.code} {reason_text(reply.text)}"
            self.seen.tls = TlsResult(offered=True, attempted=True, error=error)
            session.log(Direction.INFO, "STARTTLS refused; continuing without TLS")
            return caps
        self.seen.tls = await self.handshake()
        return await self.hello(after_tls=True)

    async def handshake(self) -> TlsResult:
        """The TLS handshake as the timed `tls` step, and the certificate judged; a failed
        handshake ends the conversation (TLS_FAILED at starttls)."""
        session = self.session
        name = self.options.tls_name or session.host
        sni = None if is_ip_literal(name) else name.rstrip(".")
        started = session.mark(Stage.TLS)
        try:
            ssl_object = await session.start_tls(tlscheck.make_probe_context(), sni)
        except Stop as stop:
            reason = stop.reason
            if stop.outcome is not Outcome.TLS_FAILED:
                reason = f"TLS handshake failed: {stop.reason}"
            self.seen.tls = TlsResult(offered=True, attempted=True, error=reason)
            session.add_step(Stage.TLS, started, Outcome.TLS_FAILED, detail=reason)
            raise Stop(Outcome.TLS_FAILED, Stage.STARTTLS, reason) from None
        cipher = ssl_object.cipher() if ssl_object else None
        protocol = ssl_object.version() if ssl_object else None
        cert = await self.certificate(ssl_object, name)
        suite = cipher[0] if cipher else ""
        session.add_step(Stage.TLS, started, Outcome.OK, detail=f"{protocol} {suite}")
        session.log(Direction.INFO, f"TLS started: {protocol} {suite}")
        if cert is not None:
            session.log(Direction.INFO, _cert_summary(cert))
        return TlsResult(
            offered=True,
            attempted=True,
            handshake_ok=True,
            protocol=protocol,
            cipher=cipher[0] if cipher else None,
            certificate=cert,
        )

    async def certificate(self, ssl_object: ssl.SSLObject | None, name: str) -> Certificate | None:
        if ssl_object is None:
            return None
        return await asyncio.to_thread(
            tlscheck.inspect_chain,
            tlscheck.peer_chain(ssl_object),
            name,
            ca_file=self.options.ca_file,
            system_trust=self.options.system_trust,
        )

    # ------------------------------------------------------------------ transaction

    async def transaction(self, caps: tuple[str, ...], message: OutgoingMessage) -> Reply:
        """MAIL, RCPT, DATA, the upload and the final reply; returns that reply (2xx)."""
        session = self.session
        for needed, keyword in (
            (message.needs_8bit, "8BITMIME"),
            (message.needs_smtputf8, "SMTPUTF8"),
        ):
            if needed and replies.capability(caps, keyword) is None:
                why = f"message needs {keyword}, not offered"
                raise Stop(Outcome.SKIPPED, Stage.MAIL, why, quit=True)
        mail_params, rcpt_params = envelope_params(caps, message)
        self.seen.envelope = Envelope(
            message.mail_from, message.rcpt_to, tuple(mail_params), tuple(rcpt_params)
        )
        mail = await session.command(
            Stage.MAIL, _with_params(f"MAIL FROM:<{message.mail_from}>", mail_params)
        )
        self.seen.mail_reply = mail
        refuse_if_failed(mail, Stage.MAIL, "sender")
        await self.recipients(message.rcpt_to, rcpt_params)
        data = await session.command(Stage.DATA, "DATA")
        self.seen.data_reply = data
        refuse_if_failed(data, Stage.DATA, "DATA")
        if data.code != 354:
            why = f"expected 354 after DATA, got {data.code}"
            raise Stop(Outcome.GARBAGE, Stage.DATA, why, quit=True)
        await self.upload(message.data, message.hold)
        final = await session.reply_step(Stage.DATA_END, self.options.timeouts.final_reply)
        self.seen.final_reply_ms = session.steps[-1].duration_ms
        self.seen.final_reply = final
        found = replies.queue_id(final)
        self.seen.queue_id = found[1] if found else None
        refuse_if_failed(final, Stage.DATA_END, "message")
        return final

    async def recipients(self, rcpt_to: tuple[str, ...], params: list[str]) -> None:
        """RCPT for each recipient; it ends here unless at least one is accepted."""
        results: list[RcptResult] = []
        try:
            for rcpt in rcpt_to:
                reply = await self.session.command(
                    Stage.RCPT, _with_params(f"RCPT TO:<{rcpt}>", params)
                )
                results.append(RcptResult(rcpt, reply, reply.code in (250, 251, 252)))
        finally:
            self.seen.rcpt_results = tuple(results)
        if any(r.accepted for r in results):
            return
        worst = next((r.reply for r in results if r.reply and r.reply.is_temporary), None)
        last = (worst or results[-1].reply) if results else None
        if last is None:
            raise Stop(Outcome.ERROR, Stage.RCPT, "no recipients given", quit=True)
        refuse_if_failed(last, Stage.RCPT, "every recipient")
        raise Stop(Outcome.REJECTED, Stage.RCPT, f"no recipient accepted: {last.code}", quit=True)

    async def upload(self, data: bytes, hold: float = 0.0) -> None:
        """The message bytes and the final dot. With `hold`, the dot waits until the hop has read
        every byte (`hold_dot`) and then `hold` seconds more, so the wait for the final reply
        measures what the hop does with the whole message rather than how fast it reads it."""
        session = self.session
        started = session.mark(Stage.UPLOAD)
        sent = 0
        session.stage = Stage.UPLOAD
        session.log(Direction.CLIENT, f"[{len(data)} bytes of message data]")
        timeout = self.options.timeouts.data_block
        before = session.tcp_window() if hold > 0 else None  # the window with nothing queued
        try:
            pending: bytes | None = None
            for block in dot_stuffed(data):  # the last block is the terminating dot
                if pending is not None:
                    sent += len(pending)  # counted once written: a failed drain still sent them
                    await session.write_block(Stage.UPLOAD, pending, timeout)
                pending = block
            if pending is not None and hold > 0:
                step = session.add_step(Stage.UPLOAD, started, Outcome.OK, detail=f"{sent} bytes")
                self.seen.upload_ms = step.duration_ms
                await self.hold_dot(hold, before[1] if before else None)
                started = session.mark(Stage.UPLOAD)
            if pending is not None:
                sent += len(pending)
                await session.write_block(Stage.UPLOAD, pending, timeout)
        except Stop as stop:
            self.seen.bytes_sent = sent
            session.add_step(Stage.UPLOAD, started, stop.outcome, detail=stop.reason)
            raise await self.why_cut(stop) from None
        session.log(Direction.CLIENT, ".")
        self.seen.bytes_sent = sent
        step = session.add_step(Stage.UPLOAD, started, Outcome.OK, detail=f"{sent} bytes")
        if self.seen.upload_ms is None:
            self.seen.upload_ms = step.duration_ms

    async def hold_dot(self, hold: float, window: int | None) -> None:
        """Hold the final dot until the hop has read every byte (acknowledged, and its receive
        window as open as before the upload), then `hold` seconds more."""
        session = self.session
        held = Started.now()
        if window is not None:
            self.seen.acked_ms = await session.peer_read(
                Stage.UPLOAD, window, min(self.options.timeouts.data_block, MAX_READ_WAIT)
            )
        await session.bounded(asyncio.sleep(hold), Stage.UPLOAD, hold + 1.0)
        self.seen.held_ms = held.elapsed_ms()
        read = self.seen.acked_ms
        after = "" if read is None else f", every byte read by the peer after {read:.0f} ms"
        session.log(Direction.INFO, f"final dot held {self.seen.held_ms:.0f} ms{after}")

    async def why_cut(self, stop: Stop) -> Stop:
        """A server that hangs up mid-upload often said why first (`552 too big`): read it, and
        let a 4xx/5xx decide the outcome."""
        if stop.outcome not in (Outcome.RESET, Outcome.DISCONNECTED):
            return stop
        wait = min(1.0, self.options.timeouts.command)
        try:
            reply = await self.session.read_reply(Stage.UPLOAD, wait)
        except Stop:
            return stop
        self.seen.final_reply = reply
        outcome = reply_outcome(reply) if reply.code and reply.code >= 400 else stop.outcome
        reason = f"{stop.reason} after {reply.code} {reason_text(reply.text)}"
        return Stop(outcome, stop.stage, reason)

    async def quit(self) -> None:
        try:
            await self.session.command(Stage.QUIT, "QUIT")
        except Stop as stop:
            self.session.log(Direction.INFO, f"QUIT not answered: {stop.reason}")


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
    session = Session(host, address, options)
    script = Script(session)
    try:
        await script.run(message)
        await session.close()
    except asyncio.CancelledError:
        session.interrupt()
        if on_interrupt is not None:
            on_interrupt(script.conversation())
        raise
    return script.conversation()
