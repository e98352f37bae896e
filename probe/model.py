"""The vocabulary that flows between stages, and its JSON projection.

Results are frozen dataclasses; JSON is a separate projection (`to_data`/`from_data`) so a stored
run can be loaded back into the same types and re-analysed offline. Every document written to
stdout carries a `schema` field (`probe.<kind>/<version>`); bump the version on breaking changes.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class Status(enum.IntEnum):
    """Monitoring-plugin status; the value is the process exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# CRITICAL outranks UNKNOWN outranks WARNING outranks OK.
_SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The status that wins when several are combined."""
    result = Status.OK
    for status in statuses:
        if _SEVERITY[status] > _SEVERITY[result]:
            result = status
    return result


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- resolve stage


class MxSource(enum.StrEnum):
    """How the list of exchanges was obtained, or why there is none."""

    MX = "mx"  # published MX records
    IMPLICIT = "implicit"  # RFC 5321 5.1: no MX, the domain's own A/AAAA
    NULL_MX = "null-mx"  # RFC 7505: "0 ." -- the domain accepts no mail
    NXDOMAIN = "nxdomain"  # the domain does not exist
    NO_MAIL_HOST = "no-mail-host"  # the domain exists but has no MX and no address
    SERVFAIL = "servfail"  # every nameserver failed to answer
    TIMEOUT = "timeout"  # no answer within the lifetime
    LITERAL = "literal"  # the target was an address or host given directly


class LookupOutcome(enum.StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    NO_ANSWER = "no-answer"
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """Something unusual but not fatal, named by a stable code."""

    code: str
    subject: str
    detail: str


@dataclasses.dataclass(frozen=True)
class AddressLookup:
    rdtype: str  # "A" or "AAAA"
    outcome: LookupOutcome
    addresses: tuple[str, ...] = ()
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class MxHost:
    preference: int
    exchange: str  # without the trailing dot
    addresses: tuple[str, ...] = ()
    lookups: tuple[AddressLookup, ...] = ()
    cname_target: str | None = None


@dataclasses.dataclass(frozen=True)
class MxResult:
    domain: str
    source: MxSource
    hosts: tuple[MxHost, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    detail: str = ""
    nameservers: tuple[str, ...] = ()
    duration_ms: float = 0.0


# --------------------------------------------------------------------------- converse stage


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
    """One timed step of a conversation: connect, banner, ehlo, starttls, mail, rcpt, data..."""

    name: str
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
    stage: str  # the step where the conversation ended (or "quit" when complete)
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
    upload_ms: float | None = None  # from after 354 to the last byte written
    final_reply_ms: float | None = None  # from end-of-data to the final reply (scanning time)
    queue_id: str | None = None


# --------------------------------------------------------------------------- plan / collect

# A probe id is `<run id>.<variant id>`; the run id is `YYYYMMDDTHHMMSS-<6 hex>` (UTC).
# It is placed in Message-ID, X-Probe-Id, Subject and body so copies and bounces can be matched.
RUN_ID_PATTERN = r"\d{8}T\d{6}-[0-9a-f]{6}"
PROBE_ID_PATTERN = RUN_ID_PATTERN + r"\.[a-z0-9][a-z0-9-]*"


@dataclasses.dataclass(frozen=True)
class PartManifest:
    """One MIME part of a crafted message, as the diff needs it."""

    path: str  # "0" for the root, "1", "1.2", ... like IMAP part numbers
    content_type: str
    charset: str | None = None
    transfer_encoding: str | None = None
    filename: str | None = None
    disposition: str | None = None
    decoded_sha256: str = ""
    decoded_size: int = 0


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What was sent, so the delivered copy can be compared part by part."""

    probe_id: str
    variant: str
    size: int  # exact bytes of the message as sent (CRLF, before dot-stuffing)
    message_id: str
    subject: str
    header_names: tuple[str, ...] = ()
    parts: tuple[PartManifest, ...] = ()


@dataclasses.dataclass(frozen=True)
class DeliveredCopy:
    """One copy of a probe message found in the cooperating mailbox."""

    probe_id: str
    raw: bytes
    folder: str
    junk: bool = False  # found in a junk/spam folder: itself a finding
    matched_by: str = "x-probe-id"  # which tag survived: x-probe-id, message-id, subject, body
    source: str = ""  # mailbox URL without any secret
    found_at: dt.datetime | None = None


# --------------------------------------------------------------------------- JSON projection


def to_data(obj: Any) -> Any:
    """Project a result into JSON-ready data (dicts, lists, str, int, float, bool, None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Status):
        return obj.name  # "CRITICAL" reads better than 2 in a monitoring pipeline
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | frozenset | set):
        return [to_data(v) for v in obj]
    return obj


def document(schema: str, obj: Any) -> dict[str, Any]:
    """A top-level JSON document: the schema name first, then the result's fields."""
    data = to_data(obj)
    if not isinstance(data, dict):
        data = {"result": data}
    return {"schema": schema, **data}


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild a result of type `cls` from `to_data` output (for `probe analyze RUN.json`)."""
    return typing.cast(T, _convert(cls, data))


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value)
            except (TypeError, ValueError, KeyError) as exc:
                errors.append(exc)
        raise ValueError(f"cannot convert {value!r} to {tp}: {errors}")
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if origin in (list, frozenset, set):
        (arg,) = typing.get_args(tp)
        return origin(_convert(arg, v) for v in value)
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {_convert(key_t, k): _convert(val_t, v) for k, v in value.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise TypeError(f"expected an object for {tp.__name__}, got {type(value).__name__}")
            hints = typing.get_type_hints(tp)
            kwargs = {
                f.name: _convert(hints[f.name], value[f.name])
                for f in dataclasses.fields(tp)
                if f.name in value and f.init
            }
            return tp(**kwargs)
        if issubclass(tp, Status) and isinstance(value, str):
            return tp[value]
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is dt.datetime:
            return dt.datetime.fromisoformat(value)
        if tp is bytes:
            return base64.b64decode(value)
        if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if tp in (int, str, bool) and isinstance(value, tp):
            return value
        if tp in (int, str, bool, float):
            raise TypeError(f"expected {tp.__name__}, got {type(value).__name__}")
    return value
