"""Send stage results: one timed SMTP conversation as observed (replies, steps, TLS, transcript),
the `Timeouts` it is held to and the `Stage`s it is described in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum


@dataclasses.dataclass(frozen=True)
class Reply:
    """One (possibly multi-line) SMTP reply, validated by probe rather than by the library.

    `code` is None and `valid` False when the peer sent something that is not an SMTP reply.
    """

    code: int | None
    lines: tuple[str, ...]
    enhanced: str | None = None
    valid: bool = True

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def is_positive(self) -> bool:
        return self.code is not None and 200 <= self.code < 400

    @property
    def is_temporary(self) -> bool:
        return self.code is not None and 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


class Stage(enum.StrEnum):
    """Where a conversation is, or where it (or a variant's delivery) ended. Steps carry it too."""

    PLAN = "plan"  # the message could not be built: nothing was sent
    NOT_STARTED = "not-started"  # the run stopped before this variant's first conversation
    CONNECT = "connect"
    BANNER = "banner"
    EHLO = "ehlo"
    HELO = "helo"  # EHLO refused, HELO tried instead
    STARTTLS = "starttls"  # the STARTTLS command and the handshake
    TLS = "tls"  # the handshake, as a step of its own
    EHLO_TLS = "ehlo-tls"  # EHLO again, inside TLS
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command, before any message byte
    UPLOAD = "upload"  # the message bytes
    DATA_END = "data-end"  # end-of-data to the final reply
    NOOP = "noop"  # probe connect's questions (ConverseOptions.ask)
    RSET = "rset"
    QUIT = "quit"  # also: the conversation went through to the end


# Where a rejection can be about the message's size: MAIL (the SIZE= declared there), the
# upload and the final reply (the bytes themselves). Not DATA: the DATA command comes before
# any byte, and a size declared at MAIL was judged at MAIL, so a refusal of DATA is the same
# at every size. Not RCPT: a refused recipient is refused whatever the message.
SIZE_STAGES = frozenset({Stage.MAIL, Stage.UPLOAD, Stage.DATA_END})


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds per stage of one conversation. The defaults are `probe connect`'s; a profile has
    its own (`probe.plan.profiles`). Banner: postscreen's greet wait plus DNSBL lookups."""

    connect: float = 10.0
    banner: float = 60.0
    command: float = 30.0
    tls: float = 30.0
    data_block: float = 180.0  # per block written during the upload (RFC 5321 4.5.3.2.5)
    final_reply: float = 600.0  # end-of-data to final reply (RFC 5321 4.5.3.2.6)

    @classmethod
    def uniform(cls, seconds: float) -> Timeouts:
        return cls(seconds, seconds, seconds, seconds, seconds, seconds)


class Direction(enum.StrEnum):
    INFO = "*"
    CLIENT = ">"
    SERVER = "<"


@dataclasses.dataclass(frozen=True)
class TranscriptLine:
    at: dt.datetime
    elapsed_ms: float  # since the conversation started
    direction: Direction
    text: str
    encrypted: bool = False  # inside TLS: after the STARTTLS handshake completed


class Outcome(enum.StrEnum):
    """How a conversation (or one step of it) ended."""

    OK = "ok"  # finished as planned
    ACCEPTED = "accepted"  # the message was accepted after DATA
    REJECTED = "rejected"  # a 5xx reply
    TEMP_FAILED = "temp-failed"  # a 4xx reply
    TIMEOUT = "timeout"  # the peer did not answer in time
    REFUSED = "refused"  # TCP connection refused
    UNREACHABLE = "unreachable"  # no route, DNS of the host, other connect errors
    RESET = "reset"  # connection reset by peer
    DISCONNECTED = "disconnected"  # the peer closed the connection
    GARBAGE = "garbage"  # the peer sent something that is not an SMTP reply
    TLS_FAILED = "tls-failed"  # STARTTLS handshake failed
    SKIPPED = "skipped"  # not attempted (e.g. 8bit variant where 8BITMIME is not offered)
    ERROR = "error"  # probe's own fault; the reason says what
    INTERRUPTED = "interrupted"  # probe stopped first (Ctrl-C, the run's deadline): no verdict


@dataclasses.dataclass(frozen=True)
class Step:
    """One timed step of a conversation: connect, banner, ehlo, tls, mail, rcpt, data..."""

    name: Stage
    started_at: dt.datetime
    duration_ms: float
    outcome: Outcome
    reply: Reply | None = None
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    valid_for_host: bool
    chain_verifies: bool
    expired: bool
    verify_error: str = ""
    sha256: str = ""


@dataclasses.dataclass(frozen=True)
class TlsResult:
    offered: bool = False
    attempted: bool = False
    handshake_ok: bool = False
    protocol: str | None = None
    cipher: str | None = None
    error: str = ""
    certificate: Certificate | None = None


@dataclasses.dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: tuple[str, ...]
    mail_params: tuple[str, ...] = ()
    rcpt_params: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RcptResult:
    address: str
    reply: Reply | None
    accepted: bool


@dataclasses.dataclass(frozen=True)
class Conversation:
    """One SMTP session with one address, as observed. Never an exception: failure is data."""

    host: str
    address: str
    port: int
    helo: str
    started_at: dt.datetime
    duration_ms: float
    outcome: Outcome
    stage: Stage  # where the conversation ended (QUIT when it went through to the end)
    reason: str = ""
    banner: Reply | None = None
    ehlo: Reply | None = None  # the EHLO (or HELO) reply before TLS
    used_helo: bool = False  # EHLO was refused and HELO used instead
    capabilities: tuple[str, ...] = ()
    tls: TlsResult = TlsResult()
    ehlo_after_tls: Reply | None = None
    capabilities_after_tls: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()
    # filled when a message was sent
    envelope: Envelope | None = None
    mail_reply: Reply | None = None
    rcpt_results: tuple[RcptResult, ...] = ()
    data_reply: Reply | None = None  # the reply to DATA (354 text is a fingerprint)
    final_reply: Reply | None = None  # the reply after end-of-data
    bytes_sent: int = 0
    upload_ms: float | None = None  # from after 354 to the last byte written (held: but the dot)
    final_reply_ms: float | None = None  # from end-of-data to the final reply (scanning time)
    # A held dot (`OutgoingMessage.hold`): how long the dot waited after the last message byte,
    # and how much of that the hop took to read every byte: acknowledged, and its TCP receive
    # window as open as before the upload (None: not measured, or not in time).
    held_ms: float | None = None
    acked_ms: float | None = None
    queue_id: str | None = None

    @property
    def greeting(self) -> Reply | None:
        """The banner when it is an SMTP reply: None when the peer said nothing or garbage (the
        garbage itself stays in `banner`, with `valid` False)."""
        return self.banner if self.banner is not None and self.banner.valid else None


def endpoint(conv: Conversation) -> str:
    """Where a conversation went: `192.0.2.1:25`, `[2001:db8::1]:25`."""
    address = f"[{conv.address}]" if ":" in conv.address else conv.address
    return f"{address}:{conv.port}"
