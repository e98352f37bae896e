"""SMTP reply lines: validation, assembly, enhanced status codes, capabilities, queue ids. Pure.

Probe validates every reply line itself instead of trusting a library (aiosmtplib reads `2500 ok`
as 250 and `-220` as -22). A reply line is exactly three digits followed by a space, a hyphen or
the end of the line (RFC 5321 4.2); anything else is garbage and is reported as such. Text is
decoded with `errors="replace"` and control characters are made visible, so a transcript stays
printable whatever the peer sends.

`Reply.lines` hold the text after the code and separator (`"2.0.0 Ok: queued as 4XyZ"`), one
entry per line; the code lives in `Reply.code`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from collections.abc import Sequence
from importlib import resources

from probe.model.smtp import Conversation, Outcome, Reply, Stage

MAX_LINE = 4096  # bytes per reply line (RFC 5321 says 512; real servers exceed it a little)
MAX_LINES = 100  # lines per multi-line reply
MAX_REPLY_BYTES = 65536  # bytes per multi-line reply

_LINE = re.compile(rb"^([0-9]{3})([ -]|$)(.*)$", re.DOTALL)
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class ReplyLine:
    """One validated line: `code`, `last` (space or end, not hyphen) and the decoded text."""

    code: int
    last: bool
    text: str


def printable(raw: bytes) -> str:
    """Bytes from the wire as a printable one-line string (CR/LF stripped, controls escaped)."""
    text = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\t", " "))


def parse_line(raw: bytes) -> ReplyLine | None:
    """Validate one reply line (with or without its CRLF); None when it is not an SMTP reply."""
    match = _LINE.match(raw.rstrip(b"\r\n"))
    if match is None:
        return None
    code = int(match.group(1))
    if not 200 <= code <= 599:  # RFC 5321 4.2.1: the first digit is 2..5
        return None
    return ReplyLine(code=code, last=match.group(2) != b"-", text=printable(match.group(3)))


def enhanced_status(code: int | None, text: str) -> str | None:
    """The RFC 3463 enhanced status code at the start of `text`, when its class matches `code`."""
    match = _ENHANCED.match(text)
    if match is None:
        return None
    if code is not None and str(code)[0] != match.group(1):
        return None
    return ".".join(match.groups())


class ReplyBuilder:
    """Collects lines of one (multi-line) reply; `add` says whether the reply is complete.

    Raises `ValueError` (one line, for the transcript) for a line that is not a reply line, a
    code that changes in mid-reply, or a reply over the line/size limits.
    """

    def __init__(self) -> None:
        self.lines: list[ReplyLine] = []
        self.size = 0

    def add(self, raw: bytes) -> bool:
        self.size += len(raw)
        line = parse_line(raw)
        if line is None:
            raise ValueError(f"not an SMTP reply line: {printable(raw[:120])!r}")
        if self.lines and line.code != self.lines[0].code:
            raise ValueError(f"reply code changed from {self.lines[0].code} to {line.code}")
        self.lines.append(line)
        if not line.last and len(self.lines) >= MAX_LINES:
            raise ValueError(f"multi-line reply longer than {MAX_LINES} lines")
        if not line.last and self.size > MAX_REPLY_BYTES:
            raise ValueError(f"multi-line reply longer than {MAX_REPLY_BYTES} bytes")
        return line.last

    def reply(self) -> Reply:
        return build_reply(self.lines)


def build_reply(lines: Sequence[ReplyLine]) -> Reply:
    code = lines[0].code if lines else None
    texts = tuple(line.text for line in lines)
    return Reply(code=code, lines=texts, enhanced=enhanced_status(code, texts[0] if texts else ""))


def garbage_reply(raw: bytes) -> Reply:
    """What the peer sent instead of a reply, kept (truncated) as evidence."""
    return Reply(code=None, lines=(printable(raw[:200]),), valid=False)


def wire_lines(reply: Reply) -> tuple[str, ...]:
    """The reply as it looked on the wire (`250-first`, `250 last`), for transcripts."""
    if reply.code is None:
        return reply.lines
    last = len(reply.lines) - 1
    return tuple(
        f"{reply.code}{' ' if i == last else '-'}{text}".rstrip()
        for i, text in enumerate(reply.lines)
    )


# --------------------------------------------------------------------------- capabilities


def capabilities(ehlo: Reply | None) -> tuple[str, ...]:
    """The EHLO keywords with their parameters (`SIZE 10485760`), first line (greeting) dropped."""
    if ehlo is None or ehlo.code != 250:
        return ()
    return tuple(" ".join(line.split()) for line in ehlo.lines[1:] if line.strip())


def capability(caps: Sequence[str], keyword: str) -> str | None:
    """The parameters of `keyword` ("" when it has none), None when it is not offered."""
    wanted = keyword.upper()
    for cap in caps:
        name, _, params = cap.partition(" ")
        if name.upper() == wanted:
            return params
    return None


def size_limit(caps: Sequence[str]) -> int | None:
    """The advertised SIZE in bytes; None when not offered or without a number, 0 for no limit."""
    params = capability(caps, "SIZE")
    if params is None or not params.strip().isdigit():
        return None
    return int(params)


# --------------------------------------------------------------------------- queue ids


@functools.cache
def _queue_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    text = resources.files("probe").joinpath("data/queue_ids.toml").read_text(encoding="utf-8")
    return tuple((p["mta"], re.compile(p["regex"])) for p in tomllib.loads(text)["pattern"])


def queue_id(reply: Reply | None) -> tuple[str, str] | None:
    """(mta, queue id) parsed from a final 2xx reply, or None when it names no id."""
    if reply is None or reply.code is None or not 200 <= reply.code < 300:
        return None
    for line in reply.lines:
        for mta, pattern in _queue_patterns():
            match = pattern.search(line)
            if match:
                return mta, match.group("id")
    return None


def deciding_reply(conv: Conversation) -> Reply | None:
    """The reply that decided a conversation: the final reply when accepted, else the last
    reply of the step it ended at (the RCPT refusal, not MAIL's 250), else the last one."""
    if conv.outcome is Outcome.ACCEPTED and conv.final_reply is not None:
        return conv.final_reply
    replies = [s for s in conv.steps if s.reply is not None and s.name is not Stage.QUIT]
    ended = [s for s in replies if s.name == conv.stage]
    if ended or replies:
        return (ended or replies)[-1].reply
    rcpts = [r.reply for r in conv.rcpt_results if r.reply is not None]
    by_stage = {
        Stage.DATA_END: conv.final_reply,
        Stage.DATA: conv.data_reply,
        Stage.MAIL: conv.mail_reply,
        Stage.RCPT: rcpts[-1] if rcpts else None,
        Stage.BANNER: conv.greeting,
    }
    return by_stage.get(conv.stage)
