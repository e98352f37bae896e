"""Hop kinds: how a scenario's `{kind = ..., params}` becomes a listening server.

Every SMTP hop is the listener's engine (`probe.server.listener`) with a personality, behaviours
and a delivery: the Maildir for the last hop, `Forward` to the next hop for the others. As real
MTAs do, a forwarding hop answers 250 once it has the message and relays it afterwards (so a copy
reaches the Maildir shortly after the client's 250), and a permanent failure behind it comes back
as a DSN (probe.lab.bounce) delivered into the scenario's Maildir, where the lab keeps the
sender's mailbox; only the inline `checkpoint` proxy holds the reply until the next hop has
answered, and passes that answer back. The `asa` kind is a TCP proxy
instead (probe.lab.asa), as the real box is.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib

from probe.errors import ConfigError
from probe.lab import asa, behaviours, bounce
from probe.lab.certs import LabCA
from probe.server.engine import Behaviour, Delivery, HopHandler, SmtpHop
from probe.server.maildir import MaildirDelivery
from probe.server.records import POSTFIX_KEYWORDS, ListenerRecord, Personality, RcptRecord

FORWARD_TIMEOUT = 60.0
RETRY_DELAYS = (1.0, 5.0, 15.0)  # a store-and-forward hop's retries after a 4xx


class Hop(Protocol):
    host: str
    port: int

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None) -> None: ...

    async def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class HopContext:
    """Where a hop sits: its scenario, its address, the next hop, the mailbox, the lab CA."""

    scenario: str
    domain: str  # <scenario>.lab.probe.test
    address: str
    next_hop: tuple[str, int] | None
    maildir: Path
    ca: LabCA
    next_name: str | None = None  # the next hop's host name, as a DSN names it
    mailbox: MaildirDelivery | None = None  # the sender's mailbox: where DSNs go


class Params:
    """A hop's parameters with typed getters; unknown keys are an error naming the hop."""

    def __init__(self, where: str, values: dict[str, Any]) -> None:
        self.where = where
        self.values = dict(values)
        self.used: set[str] = set()

    def get(self, key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
        self.used.add(key)
        value = self.values.get(key, default)
        if isinstance(value, bool) and kind in (int, float):
            raise ConfigError(f"expected a number, got {value!r}", path=self.where, key=key)
        if not isinstance(value, kind):
            name = getattr(kind, "__name__", str(kind))
            raise ConfigError(f"expected {name}, got {value!r}", path=self.where, key=key)
        return value

    def number(self, key: str, default: float) -> float:
        return float(self.get(key, default, (int, float)))

    def integer(self, key: str, default: int) -> int:
        value = int(self.get(key, default, int))
        if value < 0:
            raise ConfigError(f"must not be negative, got {value}", path=self.where, key=key)
        return value

    def text(self, key: str, default: str) -> str:
        return str(self.get(key, default, str))

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.get(key, default, bool))

    def check(self) -> None:
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}", path=self.where)


class Forward:
    """Relays an accepted message to the next hop with aiosmtplib.

    `transparent`: an inline proxy. It uses the client's HELO name, relays before it answers and
    passes the next hop's own final reply back. Otherwise the hop is a store-and-forward MTA: it
    answers 250 with its own queue id at once and relays in a background task, retrying a
    temporary failure after each of `retry_delays`. A permanent failure (5xx at MAIL, RCPT, DATA
    or end of data) is returned to the envelope sender as a DSN (probe.lab.bounce) delivered
    into `mailbox`, the sender's mailbox in the lab, and kept in `failures`. `close()` cancels
    what is still queued.
    """

    def __init__(
        self,
        target: tuple[str, int],
        personality: Personality,
        *,
        transparent: bool = False,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        target_name: str | None = None,
        mailbox: MaildirDelivery | None = None,
    ) -> None:
        self.target = target
        self.personality = personality
        self.transparent = transparent
        self.retry_delays = retry_delays
        self.remote = bounce.RemoteMta(target[0], target_name)
        self.mailbox = mailbox
        self.failures: list[tuple[str, str]] = []  # (queue id, last reply) given up on
        self.bounces: list[bytes] = []  # the DSNs written
        self._queue: set[asyncio.Task[None]] = set()

    async def deliver(self, record: ListenerRecord, data: bytes) -> str:
        if self.transparent:
            return await self.relay(record, data)
        task = asyncio.create_task(self._forward(record, data))
        self._queue.add(task)
        task.add_done_callback(self._queue.discard)
        return self.personality.queued_reply.format(queue_id=record.queue_id)

    async def _forward(self, record: ListenerRecord, data: bytes) -> None:
        pending = record.rcpts
        failed: list[bounce.Failure] = []
        attempt = Attempt("", "")
        for delay in (0.0, *self.retry_delays):
            await asyncio.sleep(delay)
            attempt = await self.attempt(record, data, pending)
            refused = dict(attempt.refused)
            failed += [
                bounce.Failure(r, refused[r.address], "RCPT TO")
                for r in pending
                if r.address in refused
            ]
            pending = tuple(r for r in pending if r.address not in refused)
            if not pending or not attempt.reply.startswith("4"):
                break
        if pending and attempt.reply.startswith("5"):
            failed += [bounce.Failure(r, attempt.reply, attempt.stage) for r in pending]
        if failed or not attempt.reply.startswith("2"):
            self.failures.append((record.queue_id, attempt.reply or failed[0].reply))
        if failed:
            await self._bounce(record, data, failed)

    async def _bounce(
        self, record: ListenerRecord, data: bytes, failed: list[bounce.Failure]
    ) -> None:
        """Return the message to its sender, as the hop's MTA would."""
        reported = bounce.reportable(record.mail_from, failed)
        if not reported or self.mailbox is None:
            return
        host = self.personality.hostname
        origin = host.partition(".")[2] or host  # myorigin = $mydomain, as the sample's Postfix
        dsn = bounce.postfix_dsn(host, record, data, reported, self.remote, origin=origin)
        self.bounces.append(dsn)
        await self.mailbox.deliver(self.mailbox.local_record(record.mail_from, len(dsn)), dsn)

    async def close(self) -> None:
        for task in list(self._queue):
            task.cancel()
        await asyncio.gather(*self._queue, return_exceptions=True)

    async def relay(self, record: ListenerRecord, data: bytes) -> str:
        """One attempt as an inline proxy: the next hop's final reply (or its refusal of a
        recipient), or a 4xx text when it could not be reached."""
        attempt = await self.attempt(record, data, record.rcpts, stop_on_refusal=True)
        return attempt.reply

    async def attempt(
        self,
        record: ListenerRecord,
        data: bytes,
        rcpts: tuple[RcptRecord, ...],
        *,
        stop_on_refusal: bool = False,
    ) -> Attempt:
        """One connection to the next hop. Recipients refused with 5xx are listed in
        `refused` and the others still get the message, unless `stop_on_refusal`."""
        helo = (record.helo or "unknown") if self.transparent else self.personality.hostname
        client = aiosmtplib.SMTP(
            hostname=self.target[0],
            port=self.target[1],
            local_hostname=helo,
            start_tls=False,
            use_tls=False,
            timeout=FORWARD_TIMEOUT,
        )
        stage = ""
        refused: list[tuple[str, str]] = []
        try:
            await client.connect()
            await client.ehlo()
            options, encoding = _mail_options(record.mail_params, client)
            stage = "MAIL FROM"
            await client.mail(record.mail_from, options=options, encoding=encoding)
            stage = "RCPT TO"
            for rcpt in rcpts:
                try:
                    await client.rcpt(rcpt.address, encoding=encoding)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    if stop_on_refusal or exc.code < 500:
                        raise
                    refused.append((rcpt.address, _reply_text(exc.code, exc.message)))
            if len(refused) == len(rcpts):
                return Attempt(refused[-1][1] if refused else "", stage, tuple(refused))
            stage = "DATA"
            response = await client.data(data)
        except (SmtpUtf8Refused, UnicodeEncodeError):  # Postfix's text for the same case
            reply = "553 5.6.7 SMTPUTF8 is required, but was not offered by host "
            return Attempt(reply + f"{self.remote.host}[{self.remote.address}]", "")
        except aiosmtplib.SMTPDataError as exc:  # the DATA command itself only when no 354
            where = "DATA" if exc.code == 503 else "end of DATA"
            return Attempt(_reply_text(exc.code, exc.message), where, tuple(refused))
        except aiosmtplib.SMTPResponseException as exc:
            return Attempt(_reply_text(exc.code, exc.message), stage, tuple(refused))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Attempt(f"451 4.4.1 next hop failed: {type(exc).__name__}", "")
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        return Attempt(_reply_text(response.code, response.message), "end of DATA", tuple(refused))


@dataclasses.dataclass(frozen=True)
class Attempt:
    """How one relay attempt ended: the reply that ended it and the command it answered."""

    reply: str
    stage: str  # "MAIL FROM", "RCPT TO", "DATA", "end of DATA"; "" before MAIL or local
    refused: tuple[tuple[str, str], ...] = ()  # (recipient, 5xx reply) refused at RCPT


class SmtpUtf8Refused(Exception):
    """The message needs SMTPUTF8 and the next hop does not offer it."""


def _mail_options(params: tuple[str, ...], client: aiosmtplib.SMTP) -> tuple[list[str], str]:
    """The client's BODY= and SMTPUTF8 for the next hop (as an MTA keeps them), and the encoding
    of the addresses."""
    options: list[str] = []
    utf8 = False
    for param in params:
        key = param.partition("=")[0].upper()
        if key == "BODY" and client.supports_extension("8bitmime"):
            options.append(param)
        elif key == "SMTPUTF8":
            if not client.supports_extension("smtputf8"):
                raise SmtpUtf8Refused
            options.append("SMTPUTF8")
            utf8 = True
    return options, "utf-8" if utf8 else "ascii"


def _reply_text(code: int, message: str) -> str:
    lines = message.splitlines() or [""]
    return "\r\n".join(f"{code}-{line}" for line in lines[:-1]) + (
        ("\r\n" if len(lines) > 1 else "") + f"{code} {lines[-1]}"
    )


def with_size(keywords: tuple[str, ...], size: int) -> tuple[str, ...]:
    return tuple(f"SIZE {size}" if k.split()[0] == "SIZE" else k for k in keywords)


# --------------------------------------------------------------------------- the kinds

Builder = Callable[[HopContext, Params], Hop]


@dataclasses.dataclass(frozen=True)
class Kind:
    build: Builder
    prefix: str  # default host name: <prefix>.<scenario>.lab.probe.test
    terminal: bool = False  # delivers into the Maildir: the last hop, and only there
    summary: str = ""


def _hostname(ctx: HopContext, params: Params, prefix: str) -> str:
    return params.text("host", prefix) + "." + ctx.domain


def _smtp_hop(
    ctx: HopContext,
    personality: Personality,
    hop_behaviours: list[Behaviour],
    *,
    tls: bool = False,
    transparent: bool = False,
    on_record: Callable[[ListenerRecord], None] | None = None,
) -> SmtpHop:
    delivery: Delivery
    if ctx.next_hop is None:
        delivery = MaildirDelivery(ctx.maildir, personality, on_record=on_record)
    else:
        delivery = Forward(
            ctx.next_hop,
            personality,
            transparent=transparent,
            target_name=ctx.next_name,
            mailbox=ctx.mailbox,
        )
    context = ctx.ca.server_context(personality.hostname) if tls else None
    return SmtpHop(HopHandler(personality, delivery, hop_behaviours), context)


def _postfix(ctx: HopContext, params: Params, prefix: str, size: int = 10240000) -> Personality:
    hostname = _hostname(ctx, params, prefix)
    return Personality(hostname=hostname, keywords=with_size(POSTFIX_KEYWORDS, size))


def _final(ctx: HopContext, params: Params, default_tls: bool) -> Hop:
    size = params.integer("size", 10240000)
    personality = _postfix(ctx, params, "mx", size)
    limit = params.integer("limit", 0)  # Postfix message_size_limit; 0: not enforced
    tls = params.flag("tls", default_tls)
    params.check()
    checks: list[Behaviour] = [behaviours.SizeLimit(size, limit)] if limit else []
    return _smtp_hop(ctx, personality, checks, tls=tls)


def build_final(ctx: HopContext, params: Params) -> Hop:
    return _final(ctx, params, False)


def build_tls(ctx: HopContext, params: Params) -> Hop:
    return _final(ctx, params, True)


def build_relay(ctx: HopContext, params: Params) -> Hop:
    """A relay: Exim by default, or Postfix (`mta = "postfix"`, which offers DSN)."""
    hostname = _hostname(ctx, params, "relay")
    headers = params.get("headers", {"X-Relay-Scanned": "yes"}, dict)
    mta = params.text("mta", "exim")
    if mta not in ("exim", "postfix"):
        raise ConfigError(f"expected exim or postfix, got {mta!r}", path=params.where, key="mta")
    personality = _postfix(ctx, params, "relay") if mta == "postfix" else _exim(hostname)
    params.check()
    pairs = tuple((str(k), str(v)) for k, v in headers.items())
    return _smtp_hop(ctx, personality, [behaviours.InjectHeaders(pairs)])


def _exim(hostname: str) -> Personality:
    return Personality(
        hostname=hostname,
        banner="ESMTP Exim 4.97 #2",
        keywords=("SIZE 52428800", "8BITMIME", "PIPELINING", "CHUNKING", "PRDR", "HELP"),
        helo_reply="250 {hostname} Hello",
        mail_reply="250 OK",
        rcpt_reply="250 Accepted",
        data_reply='354 Enter message, ending with "." on a line by itself',
        queued_reply="250 OK id={queue_id}",
        ok_reply="250 OK",
        quit_reply=f"221 {hostname} closing connection",
        unknown_reply="500 unrecognized command",
        stamp="exim",
        mail_name="Exim 4.97",
    )


def build_checkpoint(ctx: HopContext, params: Params) -> Hop:
    hostname = _hostname(ctx, params, "mx")
    threshold = params.integer("threshold", 1_048_577)
    size = params.integer("size", 10485760)
    header = params.text("header", "X-CheckPoint")
    params.check()
    personality = Personality(
        hostname=hostname,
        banner="ESMTP",
        keywords=("8BITMIME", f"SIZE {size}", "STARTTLS"),
        helo_reply="250 {hostname}",
        mail_reply="250 sender <{address}> ok",
        rcpt_reply="250 recipient <{address}> ok",
        data_reply="354 go ahead",
        ok_reply="250 ok",
        quit_reply=f"221 {hostname}",
        starttls_reply="220 Go ahead with TLS",
        unknown_reply="500 #5.5.1 command not recognized",
        stamp=None,  # an inline proxy writes no Received header
    )
    reply = "554 Permanent scan failure. Email Session ID: {id}"
    hop_behaviours: list[Behaviour] = [
        behaviours.SizeLimit(size, None, "552 #5.3.4 message size limit exceeded"),
        behaviours.ScanFailure(threshold, ctx.address, reply),
        behaviours.SessionHeader(header, ctx.address),
    ]
    return _smtp_hop(ctx, personality, hop_behaviours, tls=True, transparent=True)


def build_asa(ctx: HopContext, params: Params) -> Hop:
    max_rcpt = params.integer("max_rcpt", 100)
    params.check()
    if ctx.next_hop is None:
        raise ConfigError("an asa hop needs a hop behind it", path=ctx.scenario)
    return asa.AsaProxy(ctx.next_hop, max_rcpt=max_rcpt)


def build_greylist(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "mx")
    delay = params.number("delay", 1.0)
    params.check()
    return _smtp_hop(ctx, personality, [behaviours.Greylist(delay)])


def build_slow_scan(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "scan")
    scan = behaviours.SlowScan(params.number("base", 0.05), params.number("per_mb", 0.1))
    params.check()
    return _smtp_hop(ctx, personality, [scan])


def build_size_enforce(ctx: HopContext, params: Params) -> Hop:
    size = params.integer("size", 2_000_000)
    personality = _postfix(ctx, params, "gw", size)
    params.check()
    return _smtp_hop(ctx, personality, [behaviours.SizeLimit(size, size)])


def build_size_limit(ctx: HopContext, params: Params) -> Hop:
    advertised = params.integer("size", 10485760)
    limit = params.integer("limit", 5_000_000)
    personality = _postfix(ctx, params, "gw", advertised)
    params.check()
    return _smtp_hop(ctx, personality, [behaviours.SizeLimit(advertised, limit)])


def build_disclaimer(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "filter")
    footer = params.text(
        "footer",
        "CAUTION: This email originated from outside of the organization. Do not click links "
        "or open attachments unless you recognize the sender.",
    )
    tag = params.text("tag", "[EXTERNAL] ")
    mark = params.text("mark", "X-Disclaimer")
    params.check()
    disclaimer = behaviours.Disclaimer(footer, tag, mark, personality.hostname)
    return _smtp_hop(ctx, personality, [disclaimer])


def build_av(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "scanner")
    suffixes = params.get("strip", [".exe"], list)
    params.check()
    av = behaviours.AntiVirus(
        personality.hostname,
        tuple(str(s).lower() for s in suffixes),
        "554 5.7.1 Virus found: Eicar-Test-Signature",
        "Attachment {name} removed by AV policy",
    )
    return _smtp_hop(ctx, personality, [av])


KINDS: dict[str, Kind] = {
    "final": Kind(build_final, "mx", terminal=True, summary="Postfix MX delivering to a Maildir"),
    "tls": Kind(build_tls, "mx", terminal=True, summary="final hop offering STARTTLS"),
    "relay": Kind(build_relay, "relay", summary="Exim relay injecting headers"),
    "checkpoint": Kind(build_checkpoint, "mx", summary="invisible Check Point scan proxy"),
    "asa": Kind(build_asa, "-", summary="Cisco ASA esmtp inspection (TCP proxy)"),
    "greylist": Kind(build_greylist, "mx", summary="postgrey greylisting"),
    "slow-scan": Kind(build_slow_scan, "scan", summary="scanner delaying the final reply"),
    "size-enforce": Kind(build_size_enforce, "gw", summary="enforces its advertised SIZE"),
    "size-limit": Kind(build_size_limit, "gw", summary="rejects below its advertised SIZE"),
    "disclaimer": Kind(build_disclaimer, "filter", summary="footer + subject tag, X-Disclaimer"),
    "av": Kind(build_av, "scanner", summary="clamav: strips .exe, rejects EICAR"),
}


def build(kind: str, ctx: HopContext, params: dict[str, Any], *, last: bool) -> Hop:
    """A hop of `kind` (not yet started); checks that only the last hop delivers."""
    where = f"scenario {ctx.scenario}, hop {kind}"
    spec = KINDS.get(kind)
    if spec is None:
        raise ConfigError(f"unknown hop kind {kind!r} (known: {', '.join(KINDS)})", path=where)
    if spec.terminal != last:
        problem = "must be the last hop" if spec.terminal else "cannot be the last hop"
        raise ConfigError(f"a {kind} hop {problem}", path=where)
    return spec.build(ctx, Params(where, params))
