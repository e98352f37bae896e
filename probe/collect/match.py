"""Which probe a message belongs to, and whether it is a bounce (pure).

Hops rewrite things, so a copy is matched by the first tag that survived, strongest first:
the `X-Probe-Id` header, the `Message-ID`, the Subject, then the `probe-id:` body line. The tag
that matched is itself a finding (a hop that replaced the Message-ID shows up here).
"""

from __future__ import annotations

import dataclasses
import email.message
import email.parser
import email.policy
import email.utils
import re
from collections.abc import Collection, Iterable

from probe.analyze.headers import decode_words
from probe.model.message import PROBE_ID_PATTERN, RUN_ID_PATTERN

RUN_ID_BYTES = re.compile(RUN_ID_PATTERN.encode("ascii"))
_PROBE_ID = re.compile(PROBE_ID_PATTERN)
_MESSAGE_ID = re.compile(r"<probe\.(" + PROBE_ID_PATTERN + r")@")
_BODY_LINE = re.compile(rb"probe-id:[ \t]*(" + PROBE_ID_PATTERN.encode("ascii") + rb")")
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|failure notice|delivery failure"
    r"|mail delivery failed|non remis|nondeliverable",
    re.IGNORECASE,
)
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)

MATCHED_BY = ("x-probe-id", "message-id", "subject", "body")


@dataclasses.dataclass(frozen=True)
class Match:
    probe_id: str
    matched_by: str  # one of MATCHED_BY


def run_id_of(probe_id: str) -> str:
    """The run id is everything before the first dot of a probe id."""
    return probe_id.split(".", 1)[0]


def run_ids_of(probe_ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({run_id_of(p) for p in probe_ids}))


def may_concern_probe(raw: bytes) -> bool:
    """Cheap pre-filter: only messages that contain some run id can be probes or their bounces."""
    return RUN_ID_BYTES.search(raw) is not None


def mentions(raw: bytes, needles: Iterable[str]) -> bool:
    return any(n.encode("ascii", "replace") in raw for n in needles)


def identify(raw: bytes, probe_ids: Collection[str]) -> Match | None:
    """The probe copy `raw` is, by the strongest surviving tag; None for bounces and others."""
    wanted = set(probe_ids)
    if not wanted:
        return None
    headers = _HEADERS.parsebytes(raw)
    if _bounce_headers(headers):
        return None
    for value in headers.get_all("X-Probe-Id") or ():
        if str(value).strip() in wanted:
            return Match(str(value).strip(), "x-probe-id")
    for m in _MESSAGE_ID.finditer(str(headers.get("Message-ID", ""))):
        if m.group(1) in wanted:
            return Match(m.group(1), "message-id")
    for m in _PROBE_ID.finditer(decode_words(str(headers.get("Subject", "")))):
        if m.group(0) in wanted:
            return Match(m.group(0), "subject")
    body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
    for bm in _BODY_LINE.finditer(body):
        probe_id = bm.group(1).decode("ascii")
        if probe_id in wanted:
            return Match(probe_id, "body")
    return None


def identified(raw: bytes, probe_ids: Collection[str]) -> tuple[Match | None, str]:
    """`identify` that never raises: (None, why) for a message it cannot read, so that the
    collection notes the message instead of ending the run."""
    try:
        return identify(raw, probe_ids), ""
    except Exception as exc:  # noqa: BLE001 - whatever a hop delivers must not end the run
        return None, f"could not be matched: {type(exc).__name__}"


def bounce_like(raw: bytes) -> tuple[bool, str]:
    """`looks_like_bounce` that never raises: (False, why) for a message it cannot read."""
    try:
        return looks_like_bounce(raw), ""
    except Exception as exc:  # noqa: BLE001 - whatever a hop delivers must not end the run
        return False, f"could not be read as a bounce: {type(exc).__name__}"


def looks_like_bounce(raw: bytes) -> bool:
    """A delivery report or a non-standard bounce (judged from its headers only)."""
    return _bounce_headers(_HEADERS.parsebytes(raw))


def _bounce_headers(headers: email.message.Message) -> bool:
    content_type = str(headers.get("Content-Type", "")).lower()
    if content_type.startswith("multipart/report"):
        return True
    if str(headers.get("Return-Path", "")).strip() == "<>" or headers.get("X-Failed-Recipients"):
        return True
    if _sender(headers).partition("@")[0] in _BOUNCE_SENDERS:
        return True
    return bool(_BOUNCE_SUBJECT.search(decode_words(str(headers.get("Subject", "")))))


def _sender(headers: email.message.Message) -> str:
    """The From address, lower-cased; "" where the parser gives up (`From: ((((...` recurses)."""
    try:
        return email.utils.parseaddr(str(headers.get("From", "")))[1].lower()
    except (RecursionError, ValueError, IndexError):
        return ""
