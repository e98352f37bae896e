"""The store-and-forward relay of the lab: how a hop that is not the last passes mail on.

As real MTAs do, a forwarding hop answers 250 once it has the message and relays it afterwards
(so a copy reaches the Maildir shortly after the client's 250), and a permanent failure behind
it comes back as a DSN (probe.lab.bounce) delivered into the scenario's Maildir, where the lab
keeps the sender's mailbox. Only the inline `checkpoint` proxy holds the reply until the next
hop has answered, and passes that answer back.
"""

from __future__ import annotations

import asyncio
import dataclasses

import aiosmtplib

from probe.lab import bounce
from probe.server.maildir import MaildirDelivery
from probe.server.records import ListenerRecord, Personality, RcptRecord

FORWARD_TIMEOUT = 60.0
RETRY_DELAYS = (1.0, 5.0, 15.0)  # a store-and-forward hop's retries after a 4xx


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
