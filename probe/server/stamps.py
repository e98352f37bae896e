"""What probe's SMTP server writes as the MTA it plays: Received headers, queue ids, session ids.

The formats follow the MTAs' sources (Postfix smtpd.c, Exim received_header_text, Check Point
`{%08X-%X-%X-%X}` ids), so the trace parser and the fingerprints are exercised on the same
shapes they meet in the wild.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import secrets
import string
import time

from probe.server.records import ListenerRecord, Personality

# Postfix long queue ids: base-52 without vowels, "z" separates the time part from the inode part.
_POSTFIX_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_counter = itertools.count(1)


def _encode(value: int, alphabet: str, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, len(alphabet))
        chars.append(alphabet[digit])
    return "".join(reversed(chars))


def postfix_queue_id(now: float | None = None) -> str:
    """A Postfix `enable_long_queue_ids` id, e.g. `4WtwG21ZH7zCrV0`."""
    now = time.time() if now is None else now
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    head = _encode(seconds, _POSTFIX_ALPHABET, 6) + _encode(micros, _POSTFIX_ALPHABET, 4)
    return head + "z" + "".join(secrets.choice(_POSTFIX_ALPHABET) for _ in range(4))


def exim_id(now: float | None = None) -> str:
    """An Exim 4.97+ message id, e.g. `1rWR9Q-00000006OnN-00lz`."""
    now = time.time() if now is None else now
    return "-".join(
        (
            _encode(int(now), _BASE62, 6),
            _encode(secrets.randbelow(62**11), _BASE62, 11),
            _encode(secrets.randbelow(62**4), _BASE62, 4),
        )
    )


def queue_id(style: str | None) -> str:
    return exim_id() if style == "exim" else postfix_queue_id()


def checkpoint_id(gateway: str = "127.0.0.1", now: float | None = None) -> str:
    """A Check Point session/mail id `{4C209928-2-3A6A8C0-1FFFF}`: hex Unix time, a counter, the
    gateway's IPv4 address read little-endian, and a random field."""
    now = time.time() if now is None else now
    octets = [int(o) for o in gateway.split(".")] if gateway.count(".") == 3 else [127, 0, 0, 1]
    address = int.from_bytes(bytes(octets), "little")
    tail = secrets.randbelow(0xFFFFF) + 1
    return f"{{{int(now):08X}-{next(_counter):X}-{address:X}-{tail:X}}}"


_CONTROLS = {c: "?" for c in [*range(0x20), 0x7F]}


def header_text(value: str) -> str:
    """A client's word (EHLO name, address) as it may stand in a header: control characters,
    CR and LF among them, become `?` (as Postfix's printable() does), so none can end the line."""
    return value.translate(_CONTROLS)


def rfc5322_date(at: dt.datetime) -> str:
    return email.utils.format_datetime(at.astimezone(dt.UTC))


def _reverse_name(address: str) -> str:
    return "localhost" if address in ("127.0.0.1", "::1") else "unknown"


def postfix_received(personality: Personality, record: ListenerRecord) -> str:
    """`Received:` as Postfix smtpd writes it (TLS comment, ESMTP/ESMTPS, `for` with one rcpt)."""
    proto = ("ESMTPS" if record.tls else "ESMTP") if record.esmtp else "SMTP"
    helo = header_text(record.helo) or "unknown"
    lines = [f"Received: from {helo} ({_reverse_name(record.peer)} [{record.peer}])"]
    if record.tls:
        lines.append(f"\t(using {record.tls_protocol} with cipher {record.tls_cipher})")
    by = f"\tby {personality.hostname} ({personality.mail_name}) with {proto} id {record.queue_id}"
    date = f"{rfc5322_date(record.received_at)} (UTC)"
    if len(record.rcpts) == 1:
        lines += [by, f"\tfor <{header_text(record.rcpts[0].address)}>; {date}"]
    else:
        lines += [by + ";", f"\t{date}"]
    return "\r\n".join(lines) + "\r\n"


def exim_received(personality: Personality, record: ListenerRecord) -> str:
    """`Received:` as Exim's default received_header_text writes it."""
    reverse = _reverse_name(record.peer)
    helo = header_text(record.helo)
    origin = (
        f"{reverse} ([{record.peer}] helo={helo})"
        if reverse != "unknown"
        else f"[{record.peer}] (helo={helo})"
    )
    proto = ("esmtps" if record.tls else "esmtp") if record.esmtp else "smtp"
    tls = f" ({record.tls_protocol}) tls {record.tls_cipher}" if record.tls else ""
    lines = [
        f"Received: from {origin}",
        f"\tby {personality.hostname} with {proto}{tls}",
        f"\t({personality.mail_name})",
        f"\t(envelope-from <{header_text(record.mail_from)}>)",
        f"\tid {record.queue_id}",
    ]
    date = rfc5322_date(record.received_at)
    if len(record.rcpts) == 1:
        lines.append(f"\tfor {header_text(record.rcpts[0].address)}; {date}")
    else:
        lines[-1] += f"; {date}"
    return "\r\n".join(lines) + "\r\n"


_STYLES = {"postfix": postfix_received, "exim": exim_received}


def received(personality: Personality, record: ListenerRecord) -> bytes:
    """The Received header the personality's MTA would prepend, as bytes with CRLF."""
    text = _STYLES[personality.stamp or "postfix"](personality, record)
    return text.encode("utf-8", "surrogateescape")
