"""Local delivery into a Maildir, with the dialogue of each message as JSON beside it (I/O)."""

from __future__ import annotations

import asyncio
import dataclasses
import mailbox
from collections.abc import Callable
from pathlib import Path

from probe.model.status import utcnow
from probe.server import stamps
from probe.server.records import ListenerRecord, Personality, RcptRecord, record_json


class MaildirDelivery:
    """Stores one copy per recipient, with Return-Path and Delivered-To as local delivery adds
    them, and the dialogue as JSON in `<maildir>/dialogues/<key>.json`."""

    def __init__(
        self,
        path: Path,
        personality: Personality,
        on_record: Callable[[ListenerRecord], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.personality = personality
        self.on_record = on_record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(self.path, create=True)
        (self.path / "dialogues").mkdir(parents=True, exist_ok=True)

    async def deliver(self, record: ListenerRecord, data: bytes) -> str:
        for rcpt in record.rcpt_addresses or ("",):
            stored = await asyncio.to_thread(self._store, record, rcpt, data)
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

    def _store(self, record: ListenerRecord, rcpt: str, data: bytes) -> ListenerRecord:
        head = f"Return-Path: <{record.mail_from}>\r\n"
        if rcpt:
            head += f"Delivered-To: {rcpt}\r\n"
        key = self.maildir.add(head.encode("utf-8", "surrogateescape") + data)
        stored = dataclasses.replace(record, key=key)
        (self.path / "dialogues" / f"{key}.json").write_text(record_json(stored), encoding="utf-8")
        return stored
