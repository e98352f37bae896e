"""Local delivery into a Maildir, with the dialogue of each message as JSON beside it (I/O).

Nothing a client sends names a file: the Maildir picks the keys, the dialogue is `<key>.json`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import mailbox
from collections.abc import Callable
from pathlib import Path

from probe.model.status import utcnow
from probe.server import stamps
from probe.server.engine import Behaviour
from probe.server.limits import NO_STORAGE
from probe.server.records import ListenerRecord, Personality, RcptRecord, record_json


class MaildirDelivery:
    """Stores each message with Return-Path and Delivered-To as local delivery adds them, and
    its dialogue as JSON in `<maildir>/dialogues/<key>.json`.

    `per_recipient`: one copy per recipient, as Postfix's local delivery writes them (the lab's
    mailbox); otherwise one copy per transaction with a Delivered-To for each recipient (`probe
    listen`: a hundred recipients cost one copy). `disk_budget`: the bytes it may write in all
    (messages and dialogues); a message that does not fit gets 452 4.3.1.
    """

    def __init__(
        self,
        path: Path,
        personality: Personality,
        on_record: Callable[[ListenerRecord], None] | None = None,
        *,
        per_recipient: bool = True,
        disk_budget: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.personality = personality
        self.on_record = on_record
        self.per_recipient = per_recipient
        self.disk_budget = disk_budget
        self.written = 0  # bytes stored so far
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(self.path, create=True)
        (self.path / "dialogues").mkdir(parents=True, exist_ok=True)

    def refusal(self, declared: int = 0) -> str | None:
        """The reply to a new message (of `declared` bytes, by SIZE=) that the disk budget
        has no room for, else None."""
        if self.disk_budget is None or self.written + declared < self.disk_budget:
            return None
        return NO_STORAGE

    def take(self, size: int) -> bool:
        """Count `size` more bytes written beside the messages, if the budget has room."""
        if self.disk_budget is not None and self.written + size > self.disk_budget:
            return False
        self.written += size
        return True

    async def deliver(self, record: ListenerRecord, data: bytes) -> str:
        addresses = record.rcpt_addresses
        copies: list[tuple[str, ...]]
        if self.per_recipient:
            copies = [(a,) for a in addresses] or [()]
        else:
            copies = [addresses]
        if self.disk_budget is not None:
            if self.written + len(data) * len(copies) > self.disk_budget:
                return NO_STORAGE
        for rcpts in copies:
            stored, size = await asyncio.to_thread(self._store, record, rcpts, data)
            self.written += size
            if self.on_record is not None:
                self.on_record(stored)
        return self.personality.queued_reply.format(queue_id=record.queue_id)

    async def close(self) -> None:
        """Nothing to finish: every copy is stored before the reply."""

    def local_record(self, rcpt: str, size: int) -> ListenerRecord:
        """The record of a message a lab MTA injects for local delivery to `rcpt` (a DSN): the
        null sender, no SMTP client."""
        now = utcnow()
        return ListenerRecord(
            server=self.personality.hostname,
            queue_id=stamps.queue_id(self.personality.stamp),
            peer="",
            peer_port=0,
            local="",
            local_port=0,
            helo="",
            esmtp=False,
            tls=False,
            tls_protocol=None,
            tls_cipher=None,
            mail_from="",
            mail_params=(),
            rcpts=(RcptRecord(rcpt),),
            size=size,
            connected_at=now,
            data_at=None,
            received_at=now,
        )

    def _store(
        self, record: ListenerRecord, rcpts: tuple[str, ...], data: bytes
    ) -> tuple[ListenerRecord, int]:
        """One copy and its dialogue; returns the record with its key, and the bytes written."""
        head = f"Return-Path: <{stamps.header_text(record.mail_from)}>\r\n"
        head += "".join(f"Delivered-To: {stamps.header_text(r)}\r\n" for r in rcpts)
        message = head.encode("utf-8", "surrogateescape") + data
        key = self.maildir.add(message)
        stored = dataclasses.replace(record, key=key)
        dialogue = record_json(stored).encode("utf-8")
        (self.path / "dialogues" / f"{key}.json").write_bytes(dialogue)
        return stored, len(message) + len(dialogue)


class StorageCheck(Behaviour):
    """Refuses a transaction at MAIL FROM when the Maildir's disk budget has no room left for
    it (for its declared SIZE, if any), as Postfix does when its queue file system is full."""

    def __init__(self, delivery: MaildirDelivery) -> None:
        self.delivery = delivery

    async def on_mail(self, peer: str, address: str, params: dict[str, str]) -> str | None:
        size = params.get("SIZE", "")
        return self.delivery.refusal(int(size) if size.isdigit() and len(size) < 20 else 0)
