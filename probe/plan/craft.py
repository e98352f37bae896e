"""VariantSpec -> the exact bytes of one tagged test message, and its manifest.

A variant is data (`VariantSpec`); `craft` is a pure function of it, the probe id, the envelope
and the date: no clock, no global randomness. A requested size is met to the byte (CRLF line
endings, before dot-stuffing): the part that carries the padding is solved for analytically
(base64 grows in steps of four characters), and the last few bytes go into an `X-Probe-Padding`
header. The manifest records every MIME part (path like IMAP part numbers, type, encoding,
filename, decoded hash and size) for the later diff.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from email.utils import format_datetime

from probe import __version__
from probe.errors import ConfigError, UsageError
from probe.model.message import Manifest, OutgoingMessage, PartManifest
from probe.model.variant import Encoding, VariantSpec
from probe.plan.content import TextContent, random_text, seed_for
from probe.plan.parts import Part, attachment_part, header
from probe.plan.variants import FILL_HEADER, check, expand_recipients

SMTPUTF8_TAG = "ünïcødé"  # added to the sender's local part of an SMTPUTF8 variant
_FILL_MIN = len(FILL_HEADER) + 2 + 1 + 2  # "X-Probe-Padding: x\r\n"
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}")  # what X-Probe can carry
_SAMPLE_8BIT = "8bit text: Grüße aus Köln, äöü ÄÖÜ ß, ½ °C."


# --------------------------------------------------------------------------- layout


def _body_head(spec: VariantSpec, probe_id: str) -> bytes:
    lines = [
        "This is a test message sent by probe to find where mail breaks on its way.",
        f"probe-id: {probe_id}",
        f"variant: {spec.id}",
    ]
    charset = spec.body_charset
    if spec.encoding is not Encoding.SEVEN_BIT and charset != "us-ascii":
        lines.append(_SAMPLE_8BIT)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode(charset)
    if spec.line_length is not None:
        head += random_text(seed_for(probe_id, "line"), spec.line_length) + b"\r\n"
    return head


def _address_header(addresses: Sequence[str]) -> str:
    return ",\r\n ".join(f"<{a}>" for a in addresses)


def _subject(probe_id: str, description: str, raw_utf8: bool) -> str:
    prefix = f"[probe {probe_id}]"
    description = description.rstrip()
    if description.isascii() or raw_utf8:
        return f"{prefix} {description}".rstrip()
    words = []
    chunk = ""
    for char in description:  # encoded words of at most 45 octets, never splitting a character
        if len((chunk + char).encode()) > 45:
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    encoded = [f"=?utf-8?b?{base64.b64encode(w.encode()).decode()}?=" for w in words]
    return prefix + " " + "\r\n ".join(encoded)


def _received(count: int, rcpt: str, date: dt.datetime) -> list[bytes]:
    """Synthetic Received headers of clearly fictitious hops, newest first."""
    out = []
    for hop in range(1, count + 1):
        when = format_datetime(date - dt.timedelta(seconds=hop))
        out.append(
            header(
                "Received",
                f"from hop{hop + 1}.loop.probe.invalid (hop{hop + 1}.loop.probe.invalid"
                f" [192.0.2.{hop % 254 + 1}])\r\n\tby hop{hop}.loop.probe.invalid with ESMTP"
                f" id PROBELOOP{hop:04d}\r\n\tfor <{rcpt}>; {when}",
            )
        )
    return out


def _fill_header(seed: bytes, length: int) -> bytes:
    """An `X-Probe-Padding` header of exactly `length` bytes, folded below 80 columns."""
    value_len = length - _FILL_MIN + 1
    lines = -(-(value_len + 3) // 73)
    chars = random_text(seed, value_len - 3 * (lines - 1))
    sizes = [min(70, len(chars) - 70 * i) for i in range(lines)]
    if sizes[-1] < 1:  # rebalance so no folded line is empty
        sizes = [len(chars) // lines + (i < len(chars) % lines) for i in range(lines)]
    pieces, pos = [], 0
    for size in sizes:
        pieces.append(chars[pos : pos + size])
        pos += size
    return FILL_HEADER.encode() + b": " + b"\r\n ".join(pieces) + b"\r\n"


# --------------------------------------------------------------------------- craft


@dataclasses.dataclass
class _Plan:
    """The message before rendering: fixed bytes, part leaves and the fill header slot (None)."""

    layout: list[bytes | Part | None]
    header_names: list[str]  # without the fill header, which goes in at `fill_at`
    fill_at: int
    filler: Part | None  # the leaf whose padding is solved for an exact size
    multipart: bool
    sender: str
    recipients: tuple[str, ...]
    needs_8bit: bool
    needs_smtputf8: bool
    body_at: int  # index in `layout` where the body starts

    def fixed_length(self) -> int:
        """Bytes of everything except the filler's body and the fill header."""
        return sum(
            len(item) if isinstance(item, bytes) else item.encoded_length(item.n)
            for item in self.layout
            if item is not None and item is not self.filler
        )

    def floor(self) -> int:
        """The smallest exact size: no padding, the shortest fill header."""
        assert self.filler is not None
        return self.fixed_length() + self.filler.encoded_length(0) + _FILL_MIN


def craft(
    spec: VariantSpec,
    *,
    probe_id: str,
    mail_from: str,
    rcpt_to: Sequence[str],
    date: dt.datetime,
    allow_eicar: bool = False,
    version: str = __version__,
) -> OutgoingMessage:
    """The exact bytes of the variant's message, tagged with the probe id, and its manifest.

    `version` goes into the X-Probe header: a stored run's own version re-crafts what it sent.
    """
    check(spec)
    if spec.size_relative is not None:
        raise ConfigError("size is relative to the advertised SIZE: resolve_size() it first",
                          key=f"variant {spec.id!r}")  # fmt: skip
    if spec.eicar and not allow_eicar:
        raise UsageError(
            f"variant {spec.id!r} carries the EICAR anti-virus test file, which exists to "
            "trigger scanners; pass --allow-eicar to send it"
        )
    sized = spec.size is not None
    plan = _plan(spec, probe_id, mail_from, tuple(rcpt_to), date, version, sized=sized)
    fill = 0
    if plan.filler is not None and spec.size is not None:
        floor = plan.floor()
        if spec.size < floor:
            raise ConfigError(
                f"size {spec.size:,} is below this variant's minimum of {floor:,} bytes",
                key=f"variant {spec.id!r}",
            )
        fixed = plan.fixed_length()
        plan.filler.n = _solve(plan.filler, spec.size - fixed - _FILL_MIN)
        fill = spec.size - fixed - plan.filler.encoded_length(plan.filler.n)
    return _render(spec, plan, probe_id, fill)


def minimum_size(
    spec: VariantSpec,
    *,
    probe_id: str = "20000101T000000-000000.x",
    mail_from: str = "probe@example.org",
    rcpt_to: Sequence[str] = ("postmaster@example.org",),
    date: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    version: str = __version__,
) -> int:
    """The smallest exact size this variant can have (its headers and fixed parts).

    The defaults give a nominal figure for validating profiles; the real one depends on the
    lengths of the addresses and the probe id.
    """
    check(spec)
    probe_id = probe_id.rpartition(".")[0] + "." + spec.id
    return _plan(spec, probe_id, mail_from, tuple(rcpt_to), date, version, sized=True).floor()


def _plan(
    spec: VariantSpec,
    probe_id: str,
    mail_from: str,
    rcpt_to: tuple[str, ...],
    date: dt.datetime,
    version: str,
    *,
    sized: bool,
) -> _Plan:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", probe_id):
        raise UsageError(f"bad probe id {probe_id!r}")
    if not _VERSION_RE.fullmatch(version):
        raise UsageError(f"bad probe version {version[:80]!r}")
    if not rcpt_to:
        raise UsageError("no recipient")
    if date.tzinfo is None:
        date = date.replace(tzinfo=dt.UTC)
    recipients = expand_recipients(rcpt_to, spec.recipients) if spec.recipients > 1 else rcpt_to
    sender = mail_from
    if spec.smtputf8 and "@" in mail_from:
        local, _, domain = mail_from.rpartition("@")
        sender = f"{local}+{SMTPUTF8_TAG}@{domain}"
    sender_domain = sender.rpartition("@")[2] or "probe.invalid"
    needs_smtputf8 = spec.smtputf8 or not all(a.isascii() for a in (sender, *recipients))

    # ---- parts
    body = TextContent(_body_head(spec, probe_id), seed_for(probe_id, "1"), whole_lines=True)
    charset = spec.body_charset
    multipart = bool(spec.attachments)
    body_headers = [
        ("Content-Type", f"text/plain; charset={charset}"),
        ("Content-Transfer-Encoding", str(spec.encoding)),
    ]
    body_leaf = Part(
        "1" if multipart else "0", b"".join(header(*h) for h in body_headers),
        body, spec.encoding, 0, "text/plain", charset,
    )  # fmt: skip
    leaves = [body_leaf]
    leaves += [attachment_part(i, a, probe_id, date) for i, a in enumerate(spec.attachments)]
    filler: Part | None = None
    if sized:
        candidates = [leaf for leaf, a in zip(leaves[1:], spec.attachments, strict=True)
                      if leaf.content.paddable and a.size is None]  # fmt: skip
        filler = candidates[0] if candidates else body_leaf
        filler.n = 0

    # ---- top-level headers
    top: list[tuple[str, str]] = [
        ("Message-ID", f"<probe.{probe_id}@{sender_domain}>"),
        ("Date", format_datetime(date)),
        ("From", f"probe <{sender}>"),
        ("To", _address_header(recipients)),
        ("Subject", _subject(probe_id, spec.description, needs_smtputf8)),
        ("X-Probe-Id", probe_id),
        ("X-Probe", f"probe/{version} delivery-path test"),
        *spec.headers,
    ]
    fill_at = spec.received_headers + len(top)
    top.append(("MIME-Version", "1.0"))
    boundary = "=_probe_" + hashlib.sha256(probe_id.encode()).hexdigest()[:24]
    if multipart:
        top.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
    else:
        top += body_headers
    lines = _received(spec.received_headers, recipients[0], date) + [header(*h) for h in top]
    names = ["Received"] * spec.received_headers + [name for name, _ in top]

    layout: list[bytes | Part | None] = [*lines[:fill_at], None, *lines[fill_at:], b"\r\n"]
    if multipart:
        layout.append(b"This is a multi-part message in MIME format.\r\n")
        for leaf in leaves:
            layout += [f"\r\n--{boundary}\r\n".encode(), leaf.headers + b"\r\n", leaf]
        layout.append(f"\r\n--{boundary}--\r\n".encode())
    else:
        layout.append(body_leaf)
    needs_8bit = any(leaf.encoding is Encoding.EIGHT_BIT for leaf in leaves)
    return _Plan(
        layout, names, fill_at, filler, multipart, sender, recipients, needs_8bit, needs_smtputf8,
        len(lines) + 2,
    )  # fmt: skip


def _render(spec: VariantSpec, plan: _Plan, probe_id: str, fill: int) -> OutgoingMessage:
    parts: list[PartManifest] = []
    # One growing buffer rather than blocks joined at the end: the join would hold the message
    # twice (100 MB for a 50 MB probe); BytesIO grows in place and getvalue() hands its buffer
    # over without a copy.
    out = io.BytesIO()
    header_end = 0
    for index, item in enumerate(plan.layout):
        if index == plan.body_at:
            header_end = out.tell()
        if item is None:
            if fill:
                out.write(_fill_header(seed_for(probe_id, "fill"), fill))
            continue
        if isinstance(item, bytes):
            out.write(item)
        else:
            for block in item.render(parts):
                out.write(block)
    data = out.getvalue()
    del out
    if spec.size is not None and len(data) != spec.size:  # pragma: no cover - a bug
        raise RuntimeError(f"crafted {len(data)} bytes instead of {spec.size} for {spec.id}")
    if plan.multipart:
        body = memoryview(data)[header_end:]
        root = PartManifest("0", "multipart/mixed", None, None, None, None,
                            hashlib.sha256(body).hexdigest(), len(body))  # fmt: skip
        parts.insert(0, root)
    names = list(plan.header_names)
    if fill:
        names.insert(plan.fill_at, FILL_HEADER)
    message_id = f"<probe.{probe_id}@{plan.sender.rpartition('@')[2] or 'probe.invalid'}>"
    manifest = Manifest(
        probe_id=probe_id,
        variant=spec.id,
        size=len(data),
        message_id=message_id,
        subject=f"[probe {probe_id}] {spec.description}".rstrip(),
        header_names=tuple(names),
        parts=tuple(parts),
        header_sha256=hashlib.sha256(memoryview(data)[:header_end]).hexdigest(),
    )
    return OutgoingMessage(
        mail_from=plan.sender,
        rcpt_to=plan.recipients,
        data=data,
        declare_size=spec.declare_size,
        needs_8bit=plan.needs_8bit,
        needs_smtputf8=plan.needs_smtputf8,
        hold=spec.hold,
        manifest=manifest,
    )


def _solve(filler: Part, room: int) -> int:
    """The largest valid padding amount whose encoded body fits in `room` bytes."""
    lo, hi = 0, 1
    while filler.encoded_length(hi) <= room:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if filler.encoded_length(mid) <= room:
            lo = mid
        else:
            hi = mid
    while lo > 0 and not filler.content.valid(lo):
        lo -= 1
    return lo
