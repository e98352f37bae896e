"""`probe firewall` results: what the client sent through a box, what reached the listener behind
it, and what the box did to each check (the `probe.firewall/1` document).

The client's half is `ClientSession` (one connection: its `Conversation` and the extra commands
sent in it, `Exchange`), the far side's half a `probe.model.listener.SessionRecord`; the two are
joined by the session's tag (in the EHLO name and the envelope sender) and compared by
`probe.analyze.firewall` into one `FirewallCheck` each.
"""

from __future__ import annotations

import dataclasses
import enum

from probe.model.smtp import Conversation, Reply
from probe.model.status import Status

FIREWALL_SCHEMA = "probe.firewall/1"


class Effect(enum.StrEnum):
    """What the box did to one check (what each means: probe/data/firewall.toml)."""

    PASSED = "passed"  # reached the far side unchanged (and its answer came back unchanged)
    MASKED = "masked"  # the banner's characters replaced by `*`
    REPLACED = "replaced"  # a banner that is not the far side's
    REMOVED = "removed"  # a capability the far side offered that the client never saw
    RENAMED = "renamed"  # a capability shown under another name (`XXXXXXXA`)
    ADDED = "added"  # a capability the far side never offered
    CHANGED = "changed"  # same capability, other parameters
    BLOCKED = "blocked"  # answered by the box itself: never reached the far side
    DROPPED = "dropped"  # never reached the far side, and the client got no answer
    REWRITTEN = "rewritten"  # reached the far side, but not as sent
    REPLY_CHANGED = "reply-changed"  # reached the far side as sent; its answer was altered
    END_TO_END = "end-to-end"  # TLS with the far side's own certificate
    TERMINATED = "terminated"  # TLS ended at the box (another certificate)
    STRIPPED = "stripped"  # the far side offered STARTTLS, the client could not use it
    TLS_FAILED = "tls-failed"  # the handshake through the box failed
    IDENTICAL = "identical"  # the message arrived byte for byte
    ALTERED = "altered"  # the message arrived with other bytes
    INJECTED = "injected"  # a header field the box added
    DELAYED = "delayed"  # the box took noticeably longer than the far side to answer
    LIMITED = "limited"  # a limit of the box's own (recipients, sessions) came first
    REFUSED = "refused"  # the box refused what was sent (its own reply)
    FORWARDED = "forwarded"  # an end-of-data look-alike passed unchanged
    NORMALISED = "normalised"  # an end-of-data look-alike arrived as other bytes
    SMUGGLED = "smuggled"  # the far side (or the box) read a second, smuggled message
    NOT_ARRIVED = "not-arrived"  # the session or message never reached the far side
    NOT_TESTED = "not-tested"  # the check could not run (the far side offers no STARTTLS...)


def about_size(reply: Reply) -> bool:
    """A refusal for the message's size (552, or the enhanced status x.3.4 of RFC 3463): what
    the declared-size search counts; any other refusal ends it."""
    return reply.code == 552 or (reply.enhanced or "").endswith(".3.4")


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One command of the battery beyond the usual dialogue, and what came back (None: no
    answer, the connection ended)."""

    name: str  # the check: "help", "vrfy", "long-line", "pipelined-mail" ...
    line: str  # the command line sent, without CRLF
    reply: Reply | None
    pipelined: bool = False  # written in one segment with the ones around it


@dataclasses.dataclass(frozen=True)
class ClientSession:
    """One connection of the battery, as the client saw it."""

    name: str  # "plain", "starttls", "commands"
    tag: str  # in the EHLO name and the envelope sender: joins it with the listener's record
    conversation: Conversation
    exchanges: tuple[Exchange, ...] = ()
    message_sha256: str = ""  # of the message the client sent ("" when none)
    message_size: int = 0
    message_headers: tuple[str, ...] = ()  # its header fields (probe.model.listener.message_parts)
    message_body_sha256: str = ""
    wire: str = ""  # DATA exactly as written when the battery wrote it raw (latin-1): smuggling


@dataclasses.dataclass(frozen=True)
class FirewallCheck:
    """One row of the verdict table."""

    check: str  # "banner", "capability STARTTLS", "command HELP", "starttls", "message"
    session: str  # which ClientSession it came from
    sent: str  # what the client sent or the far side offered
    arrived: str  # what reached the other end
    effect: Effect  # its status and summary phrase: probe/data/firewall.toml
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class FirewallResult:
    """The whole test: the box, the battery, each check, and the summary phrases."""

    target: str  # HOST:PORT of the box
    token: str
    sessions: tuple[ClientSession, ...]
    checks: tuple[FirewallCheck, ...]
    summary: tuple[str, ...]  # "masks banner", "STARTTLS replaced by XXXXXXXA" / "changes nothing"
    status: Status
    unjoined: tuple[str, ...] = ()  # sessions the listener has no record of
    error: str = ""  # why the test could not run at all (bad input): status UNKNOWN
