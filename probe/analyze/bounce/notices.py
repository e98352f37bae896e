"""Bounces that are text alone: products' fixed notices (`probe/data/bounce_notices.toml`) and,
failing those, any message from MAILER-DAEMON that quotes an SMTP reply (pure).

A notice names its recipients in prose: each address of the notice's own text (not the
sender's, not a postmaster's, not a MAIL FROM line) with the reply near it; where the text names
none, `X-Failed-Recipients` or the returned message's `To`, flagged. With no code in the text,
the class is the one the notice's words state, and the status is flagged as not stated.
"""

from __future__ import annotations

import dataclasses
import email.message
import functools
import re
import tomllib
from importlib import resources
from typing import Any, Final

from probe.analyze.bounce.fields import ADDRESS, decoded, smtp_code
from probe.analyze.bounce.recipient import MAX_RECIPIENTS, loose, unique
from probe.errors import ConfigError
from probe.model.bounce import BounceKind, BounceRecipient, ParseFlag, Reader, StatusClass

_CLASSES: Final = {
    "permanent": StatusClass.PERMANENT,
    "temporary": StatusClass.TEMPORARY,
    "delayed": StatusClass.DELAYED,
}
BOUNCE_SENDER: Final = re.compile(r"mailer-daemon|postmaster|post_master|mail delivery", re.I)
BOUNCE_SUBJECT: Final = re.compile(
    r"undeliver|delivery status notification|returned mail|failure notice|delivery fail"
    r"|mail delivery failed|non remis|nondeliverable|could not be delivered|delivery failure"
    r"|mail could not|returned to sender|warning: could not send",
    re.I,
)
# Lines that name the bounce's sender or its own daemon, not a recipient.
_NOT_RECIPIENT: Final = re.compile(r"^\s*(?:mail from|from|sender|reply-to|return-path)\s*:", re.I)
_DAEMON: Final = re.compile(r"^(?:mailer-daemon|postmaster|post_master|no-?reply)@", re.I)
NEAR_LINES: Final = 6  # the reply is looked for on an address's line and the lines after it
MAX_LINE_CHARS: Final = 1000  # of each line of a notice


@dataclasses.dataclass(frozen=True)
class Notice:
    id: str
    product: str
    phrases: tuple[str, ...]  # casefolded, blanks collapsed
    status_class: StatusClass
    sender: bool  # counts only in a message that looks like a bounce


def _collapsed(text: str) -> str:
    return " ".join(text.casefold().split())


@functools.cache
def notices() -> tuple[Notice, ...]:
    """bounce_notices.toml, validated; loaded once per process."""
    where = "probe/data/bounce_notices.toml"
    try:
        text = resources.files("probe.data").joinpath("bounce_notices.toml").read_text("utf-8")
        doc: dict[str, Any] = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load: {exc}", path=where) from None
    out = []
    for item in doc.get("notice", []):
        key = f"notice {item.get('id', '?')}"
        phrases = item.get("phrases")
        if (
            not isinstance(phrases, list)
            or not phrases
            or not all(isinstance(p, str) and p.strip() for p in phrases)
        ):
            raise ConfigError("`phrases` must be a list of non-empty strings", path=where, key=key)
        if item.get("class") not in _CLASSES or not str(item.get("source", "")).strip():
            raise ConfigError(
                "needs a `class` (permanent, temporary, delayed) and a `source`",
                path=where,
                key=key,
            )
        notice = Notice(
            str(item.get("id", "")),
            str(item.get("product", "")),
            tuple(_collapsed(p) for p in phrases),
            _CLASSES[item["class"]],
            bool(item.get("sender", False)),
        )
        samples = item.get("samples", [])
        if not notice.id or not samples or not all(_holds(notice, str(s)) for s in samples):
            raise ConfigError("needs an id and samples its phrases match", path=where, key=key)
        out.append(notice)
    return tuple(out)


def _holds(notice: Notice, text: str) -> bool:
    body = _collapsed(text)
    return any(p in body for p in notice.phrases)


Found = tuple[BounceKind, list[BounceRecipient], str | None]


def notice_bounce(
    text: str, msg: email.message.Message, returned: email.message.Message | None
) -> Found | None:
    """The notice in `text` (the bounce's own text, the returned message cut off), or None."""
    looks = bool(
        BOUNCE_SENDER.search(str(msg.get("From", "")))
        or BOUNCE_SUBJECT.search(decoded(msg.get("Subject", "")))
    )
    body = _collapsed(text)
    notice = next(
        (n for n in notices() if (looks or not n.sender) and any(p in body for p in n.phrases)),
        None,
    )
    both = bool(
        BOUNCE_SENDER.search(str(msg.get("From", "")))
        and BOUNCE_SUBJECT.search(decoded(msg.get("Subject", "")))
    )
    if notice is None and not (looks and smtp_code(text) is not None) and not both:
        return None  # a bounce sender with a bounce Subject is one even in words we do not know
    reader = Reader.NOTICE if notice else Reader.LOOSE
    fallback = notice.status_class if notice else StatusClass.UNKNOWN
    permanent = False if fallback is StatusClass.DELAYED else None
    kind = BounceKind.NOTICE if notice else BounceKind.HEURISTIC
    return kind, _named(text, msg, returned, reader, fallback, permanent), None


def _named(
    text: str,
    msg: email.message.Message,
    returned: email.message.Message | None,
    reader: Reader,
    fallback: StatusClass,
    permanent: bool | None,
) -> list[BounceRecipient]:
    """Each address the notice names (up to `MAX_RECIPIENTS`), with the first reply on its
    line or the lines after, else the first reply of the notice."""
    senders = {a.lower() for a in _addresses(str(msg.get("To", "")))}
    senders |= {a.lower() for a in _addresses(str(msg.get("From", "")))}
    lines = [line[:MAX_LINE_CHARS] for line in text.splitlines()]
    replies = [i for i, line in enumerate(lines) if smtp_code(line) is not None]
    named: dict[str, int] = {}  # address (lower case) -> its line
    spelled: dict[str, str] = {}
    for i, line in enumerate(lines):
        if _NOT_RECIPIENT.match(line) or "://" in line:
            continue
        for address in _addresses(line):
            key = address.lower()
            if key in senders or key in named or _DAEMON.match(address):
                continue
            named[key], spelled[key] = i, address
        if len(named) > MAX_RECIPIENTS:
            break
    out = []
    for key, i in list(named.items())[: MAX_RECIPIENTS + 1]:
        reply = next((j for j in replies if i <= j < i + NEAR_LINES), replies[0] if replies else -1)
        said = lines[reply].strip() if reply >= 0 else _paragraph(lines, i)
        out.append(
            loose(spelled[key], said, None, permanent, reader, evidence=lines[i], fallback=fallback)
        )
    if out:
        return out
    return header_recipients(lines, msg, returned, reader, fallback, permanent)


def header_recipients(
    lines: list[str],
    msg: email.message.Message,
    returned: email.message.Message | None,
    reader: Reader,
    fallback: StatusClass = StatusClass.UNKNOWN,
    permanent: bool | None = None,
) -> list[BounceRecipient]:
    """Where a text names no address: `X-Failed-Recipients`, else the returned message's To
    (flagged), else one recipient without an address (flagged); the first reply in the text."""
    diagnostic = next((x.strip() for x in lines if smtp_code(x) is not None), "")
    header = _addresses(str(msg.get("X-Failed-Recipients", "")))
    if not header and returned is not None:
        header = _addresses(str(returned.get("To", "")))
    flags = (ParseFlag.RECIPIENT_FROM_HEADERS,) if header else ()
    said = diagnostic or next((x.strip() for x in lines if x.strip()), "")
    return unique(
        [
            loose(address, said, None, permanent, reader, fallback=fallback, flags=flags)
            for address in header or [""]
        ]
    )


def _paragraph(lines: list[str], i: int) -> str:
    """An address's line and the lines under it up to a blank line: the reason in words, which
    may hold an enhanced code (`... try again later [#4.1.9].`)."""
    out = []
    for line in lines[i : i + NEAR_LINES]:
        if not line.strip():
            break
        out.append(line.strip())
    return " ".join(out)


def _addresses(text: str) -> list[str]:
    return [m.group(1) for m in ADDRESS.finditer(text)]
