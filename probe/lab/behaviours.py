"""What lab hops do to mail, each written once and parameterised by the scenario data.

Checks (`on_mail`, `on_rcpt`, `on_data`) reject with the real products' texts; transforms run
after the hop's own Received stamp, so the headers they prepend sit above it, as vendors' do.
"""

from __future__ import annotations

import asyncio
import time

from probe.lab import mime
from probe.server import stamps
from probe.server.engine import Behaviour
from probe.server.records import ListenerRecord

SIZE_EXCEEDED = "552 5.3.4 Message size exceeds fixed limit"
POSTGREY = (
    "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, "
    "see http://postgrey.schweikert.ch/help/{domain}.html"
)


class Greylist(Behaviour):
    """postgrey: a 450 for each new (client, sender, recipient) until `delay` seconds passed."""

    def __init__(self, delay: float, reply: str = POSTGREY) -> None:
        self.delay = delay
        self.reply = reply
        self.first_seen: dict[tuple[str, str, str], float] = {}

    async def on_rcpt(self, peer: str, mail_from: str, address: str) -> str | None:
        now = time.monotonic()
        first = self.first_seen.setdefault((peer, mail_from.lower(), address.lower()), now)
        if now - first < self.delay:
            return self.reply.format(rcpt=address, domain=address.rpartition("@")[2] or "local")
        return None


class SlowScan(Behaviour):
    """A scanner that holds the end-of-data reply for `base + per_mb * MB` seconds."""

    def __init__(self, base: float, per_mb: float) -> None:
        self.base = base
        self.per_mb = per_mb

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        await asyncio.sleep(self.base + self.per_mb * len(data) / 1_000_000)
        return None


class SizeLimit(Behaviour):
    """Rejects `SIZE=` above `at_mail` at MAIL FROM and messages above `after_data` after DATA."""

    def __init__(self, at_mail: int | None, after_data: int | None, reply: str = SIZE_EXCEEDED):
        self.at_mail = at_mail
        self.after_data = after_data
        self.reply = reply

    async def on_mail(self, peer: str, address: str, params: dict[str, str]) -> str | None:
        declared = params.get("SIZE", "")
        if self.at_mail is not None and declared.isdigit() and int(declared) > self.at_mail:
            return self.reply
        return None

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        if self.after_data is not None and len(data) > self.after_data:
            return self.reply
        return None


class ScanFailure(Behaviour):
    """Check Point's end-of-data verdict for messages of `threshold` bytes and more."""

    def __init__(self, threshold: int, gateway: str, reply: str) -> None:
        self.threshold = threshold
        self.gateway = gateway
        self.reply = reply

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        if len(data) >= self.threshold:
            return self.reply.format(id=stamps.checkpoint_id(self.gateway))
        return None


class SessionHeader(Behaviour):
    """Prepends a header carrying a fresh Check Point id (`X-CheckPoint: {...}`)."""

    def __init__(self, name: str, gateway: str) -> None:
        self.name = name
        self.gateway = gateway

    def transform(self, record: ListenerRecord, data: bytes) -> bytes:
        return mime.prepend_header(data, self.name, stamps.checkpoint_id(self.gateway))


class InjectHeaders(Behaviour):
    """Prepends fixed headers, e.g. a relay's `X-Relay-Scanned: yes`."""

    def __init__(self, headers: tuple[tuple[str, str], ...]) -> None:
        self.headers = headers

    def transform(self, record: ListenerRecord, data: bytes) -> bytes:
        for name, value in reversed(self.headers):
            data = mime.prepend_header(data, name, value)
        return data


class Disclaimer(Behaviour):
    """Tags the Subject, appends a footer to the first text/plain part and marks what it did
    with a header (`mark`, empty for none) above its own Received, as vendors' filters do."""

    def __init__(self, footer: str, tag: str, mark: str, hostname: str) -> None:
        self.footer = footer
        self.tag = tag
        self.mark = mark
        self.hostname = hostname

    def transform(self, record: ListenerRecord, data: bytes) -> bytes:
        data = mime.tag_subject(mime.add_footer(data, self.footer), self.tag)
        if self.mark:
            data = mime.prepend_header(data, self.mark, f"appended by {self.hostname}")
        return data


class AntiVirus(Behaviour):
    """clamav-milter style: rejects EICAR, replaces blocked attachments, stamps its header."""

    def __init__(self, hostname: str, suffixes: tuple[str, ...], reply: str, note: str) -> None:
        self.hostname = hostname
        self.suffixes = suffixes
        self.reply = reply
        self.note = note

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        found = await asyncio.to_thread(mime.find_eicar, data)
        return self.reply if found else None

    def transform(self, record: ListenerRecord, data: bytes) -> bytes:
        data, _removed = mime.strip_attachments(data, self.suffixes, self.note)
        data = mime.prepend_header(data, "X-Virus-Status", "Clean")
        return mime.prepend_header(
            data, "X-Virus-Scanned", f"clamav-milter 1.0.1 at {self.hostname}"
        )


TOO_MANY_HOPS = "554 5.4.0 Error: too many hops"  # Postfix 3.7 cleanup, hopcount_limit


class HopCount(Behaviour):
    """Postfix's loop protection: refuses a message whose Received headers, with the one this
    hop adds, exceed `limit` (hopcount_limit)."""

    def __init__(self, limit: int, reply: str = TOO_MANY_HOPS) -> None:
        self.limit = limit
        self.reply = reply

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        head = data.split(b"\r\n\r\n", 1)[0]
        received = sum(1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:")
        return self.reply if received + 1 > self.limit else None


# Exchange 5.5's MTA reports this X.400 reason code in its NDR (Microsoft KB Q288848).
TRANSFER_FAILURE = "554 5.4.0 transfer-failure"


class SharedAttachmentFailure(Behaviour):
    """Stands in for the Exchange 5.5 information store with a VSAPI scanner (KB Q288848): a
    message with an attachment for several recipients on the server fails unscanned."""

    def __init__(self, reply: str = TRANSFER_FAILURE) -> None:
        self.reply = reply

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        attached = b"content-disposition: attachment" in data.lower()
        return self.reply if attached and len(record.rcpts) > 1 else None
