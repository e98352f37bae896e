"""What probe's SMTP server knows and keeps: a hop's face (`Personality`) and the dialogue behind
each received message (`ListenerRecord`), stored as JSON beside the message.

These are plain frozen records, so the Received stamps (`probe.server.stamps`), the engine and
the lab's DSNs can all use them without importing the server itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from probe.model.json import document, from_data

POSTFIX_KEYWORDS = (
    "PIPELINING",
    "SIZE 10240000",
    "VRFY",
    "ETRN",
    "STARTTLS",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "DSN",
    "SMTPUTF8",
)
RECORD_SCHEMA = "probe.listener-record/1"


@dataclasses.dataclass(frozen=True)
class Personality:
    """What a hop looks like on the wire and in the headers it writes (Postfix unless told)."""

    hostname: str
    banner: str = "ESMTP Postfix (Debian/GNU)"  # the greeting after "220 <hostname> "
    keywords: tuple[str, ...] = POSTFIX_KEYWORDS  # STARTTLS is shown only while TLS can start
    helo_reply: str = "250 {hostname}"
    mail_reply: str = "250 2.1.0 Ok"
    rcpt_reply: str = "250 2.1.5 Ok"
    data_reply: str = "354 End data with <CR><LF>.<CR><LF>"
    queued_reply: str = "250 2.0.0 Ok: queued as {queue_id}"
    ok_reply: str = "250 2.0.0 Ok"
    quit_reply: str = "221 2.0.0 Bye"
    starttls_reply: str = "220 2.0.0 Ready to start TLS"
    unknown_reply: str = "500 5.5.2 Error: command not recognized"
    vrfy_reply: str = "252 2.0.0 {address}"
    stamp: str | None = "postfix"  # Received style (see probe.server.stamps); None: invisible hop
    mail_name: str = "Postfix"


@dataclasses.dataclass(frozen=True)
class RcptRecord:
    address: str
    params: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ListenerRecord:
    """The dialogue behind one received message, as the receiving server saw it."""

    server: str  # the receiving hop's host name
    queue_id: str
    peer: str
    peer_port: int
    local: str
    local_port: int
    helo: str
    esmtp: bool
    tls: bool
    tls_protocol: str | None
    tls_cipher: str | None
    mail_from: str
    mail_params: tuple[str, ...]
    rcpts: tuple[RcptRecord, ...]
    size: int  # bytes of the message as received (after un-dot-stuffing, before our headers)
    connected_at: dt.datetime
    data_at: dt.datetime | None  # when DATA was sent
    received_at: dt.datetime  # end of data
    commands: tuple[str, ...] = ()  # the client's commands on this connection so far
    key: str = ""  # the Maildir key, once stored

    @property
    def rcpt_addresses(self) -> tuple[str, ...]:
        return tuple(r.address for r in self.rcpts)


def record_json(record: ListenerRecord) -> str:
    """The dialogue as the JSON document written beside the stored message; a string that
    holds bytes that were not UTF-8 (lone surrogates) makes the whole document ASCII-escaped."""
    data = document(RECORD_SCHEMA, record)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=2)
    return text + "\n"


def load_record(path: Path) -> ListenerRecord:
    """A dialogue written beside a stored message, loaded back."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data.pop("schema", None)
    return from_data(ListenerRecord, data)
