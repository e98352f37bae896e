"""craft: exact sizes, tagging, manifests that match what a MIME parser decodes, and each kind."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.utils
import hashlib
import io
import re
import time
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe import __version__
from probe.errors import ConfigError, UsageError
from probe.model.message import PROBE_ID_PATTERN, OutgoingMessage
from probe.model.variant import AttachmentKind, AttachmentSpec, Encoding, SizeBase, VariantSpec
from probe.plan.content import EICAR
from probe.plan.craft import craft, minimum_size
from probe.plan.parts import LONG_FILENAME
from probe.plan.variants import expand_recipients, resolve_size, spec_problems

RUN = "20240501T120000-abcdef"
DATE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
KINDS = [k for k in AttachmentKind if k is not AttachmentKind.EICAR]


def build(spec: VariantSpec, **kw: object) -> OutgoingMessage:
    args: dict[str, object] = {
        "probe_id": f"{RUN}.{spec.id}",
        "mail_from": "sender@example.org",
        "rcpt_to": ("box@example.net",),
        "date": DATE,
    }
    args.update(kw)
    return craft(spec, **args)  # type: ignore[arg-type]


def parts_by_path(msg: email.message.Message) -> dict[str, email.message.Message]:
    """MIME parts numbered like the manifest: "0" the root, then IMAP part numbers."""
    out = {"0": msg}
    if msg.is_multipart():
        for i, part in enumerate(msg.get_payload(), start=1):  # type: ignore[arg-type]
            out[str(i)] = part
            if part.get_content_type() == "message/rfc822":
                out[f"{i}.1"] = part.get_payload()[0]  # type: ignore[index]
    return out


def check(message: OutgoingMessage, spec: VariantSpec) -> email.message.Message:
    """Everything every crafted message must satisfy."""
    data = message.data
    manifest = message.manifest
    probe_id = manifest.probe_id
    assert re.fullmatch(PROBE_ID_PATTERN, probe_id)
    if spec.size is not None:
        assert len(data) == spec.size
    assert manifest.size == len(data)
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n"), "bare LF"
    assert data.count(b"\r") == data.count(b"\r\n"), "bare CR"
    longest = max(len(line) for line in data.split(b"\r\n"))
    if spec.line_length and spec.line_length > 998:
        assert longest == spec.line_length
    else:
        assert longest <= 998
    if not (message.needs_8bit or message.needs_smtputf8):
        assert data.isascii()
    msg = email.message_from_bytes(data)
    assert not msg.defects
    # tagged in all four places
    assert msg["Message-ID"] == f"<probe.{probe_id}@example.org>" == manifest.message_id
    assert msg["X-Probe-Id"] == probe_id
    assert str(msg["Subject"]).startswith(f"[probe {probe_id}]")
    assert msg["X-Probe"].startswith("probe/") and msg["X-Probe"].endswith("delivery-path test")
    assert email.utils.parsedate_to_datetime(msg["Date"]) == DATE
    text = msg.get_payload(0) if msg.is_multipart() else msg
    assert f"probe-id: {probe_id}\r\n".encode() in text.get_payload(decode=True)  # type: ignore[union-attr,operator]
    assert [k for k in msg.keys()] == list(manifest.header_names)
    # the manifest matches what the parser decodes
    parsed = parts_by_path(msg)
    assert [p.path for p in manifest.parts] == list(parsed)
    header_end = data.index(b"\r\n\r\n") + 4
    for entry in manifest.parts:
        part = parsed[entry.path]
        assert part.get_content_type() == entry.content_type
        if entry.path == "0" and msg.is_multipart():
            decoded = data[header_end:]
        elif part.get_content_type() == "message/rfc822":  # identity encoding: the raw body
            segment = data.split(b"\r\n--" + msg.get_boundary().encode())[int(entry.path)]  # type: ignore[union-attr]
            decoded = segment.split(b"\r\n\r\n", 1)[1]
        else:
            decoded = part.get_payload(decode=True)  # type: ignore[assignment]
        if decoded is not None:
            assert len(decoded) == entry.decoded_size, entry.path
            assert hashlib.sha256(decoded).hexdigest() == entry.decoded_sha256, entry.path
        if entry.filename:
            assert part.get_filename() == entry.filename
        if entry.transfer_encoding and entry.path != "0" or not msg.is_multipart():
            assert part["Content-Transfer-Encoding"] == entry.transfer_encoding
    return msg


# --------------------------------------------------------------------------- exact sizes


@pytest.mark.parametrize("size", [2_000, 100_000, 1_048_577])
@pytest.mark.parametrize("kind", list(AttachmentKind))
def test_exact_size_for_every_attachment_kind(kind: AttachmentKind, size: int) -> None:
    spec = VariantSpec(
        f"attach-{kind}", f"{kind} attachment", size=size, attachments=(AttachmentSpec(kind),)
    )
    check(build(spec, allow_eicar=True), spec)


@pytest.mark.parametrize("size", [1024, 2_000, 100_000, 1_048_577])
@pytest.mark.parametrize("encoding", list(Encoding))
def test_exact_size_for_every_body_encoding(encoding: Encoding, size: int) -> None:
    charset = "us-ascii" if encoding is Encoding.SEVEN_BIT else "utf-8"
    spec = VariantSpec("body", f"{encoding} body", size=size, encoding=encoding, charset=charset)
    message = build(spec)
    msg = check(message, spec)
    assert msg["Content-Transfer-Encoding"] == str(encoding)
    assert message.needs_8bit is (encoding is Encoding.EIGHT_BIT)
    if encoding is not Encoding.SEVEN_BIT:
        assert "Grüße aus Köln" in msg.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "encoding", [Encoding.SEVEN_BIT, Encoding.QUOTED_PRINTABLE, Encoding.BASE64, Encoding.EIGHT_BIT]
)
def test_exact_size_with_a_text_attachment_in_every_encoding(encoding: Encoding) -> None:
    spec = VariantSpec(
        "t",
        "text",
        size=54_321,
        attachments=(AttachmentSpec(AttachmentKind.TEXT, encoding=encoding),),
    )
    check(build(spec), spec)


def test_exact_size_with_every_kind_at_once_and_explicit_attachment_sizes() -> None:
    attachments = tuple(AttachmentSpec(k, size=5_000) for k in KINDS)
    spec = VariantSpec(
        "all",
        "all kinds",
        size=300_001,
        encoding=Encoding.QUOTED_PRINTABLE,
        attachments=(*attachments, AttachmentSpec(AttachmentKind.EICAR)),
    )
    message = build(spec, allow_eicar=True)
    check(message, spec)
    sizes = {p.path: p.decoded_size for p in message.manifest.parts}
    assert [sizes[str(i)] for i in range(2, 2 + len(KINDS))] == [5_000] * len(KINDS)


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3_000_000),
    kinds=st.lists(st.sampled_from(KINDS), max_size=3),
    encoding=st.sampled_from(list(Encoding)),
    received=st.integers(min_value=0, max_value=5),
    recipients=st.integers(min_value=1, max_value=4),
)
def test_property_exact_size(
    size: int, kinds: list[AttachmentKind], encoding: Encoding, received: int, recipients: int
) -> None:
    spec = VariantSpec(
        "prop",
        "property",
        encoding=encoding,
        recipients=recipients,
        charset=None if encoding is not Encoding.EIGHT_BIT else "utf-8",
        received_headers=received,
        attachments=tuple(AttachmentSpec(k) for k in kinds),
    )
    floor = minimum_size(
        spec,
        probe_id=f"{RUN}.prop",
        mail_from="sender@example.org",
        rcpt_to=("box@example.net",),
        date=DATE,
    )
    spec = VariantSpec(**{**spec.__dict__, "size": max(size, floor)})
    check(build(spec), spec)


def test_below_the_minimum_is_refused_naming_the_variant() -> None:
    spec = VariantSpec("tiny", "tiny", size=300)
    with pytest.raises(ConfigError, match=r"variant 'tiny'.*below this variant's minimum"):
        build(spec)
    floor = minimum_size(
        spec,
        probe_id=f"{RUN}.tiny",
        mail_from="sender@example.org",
        rcpt_to=("box@example.net",),
        date=DATE,
    )
    check(build(VariantSpec("tiny", "tiny", size=floor)), VariantSpec("tiny", "", size=floor))
    with pytest.raises(ConfigError):
        build(VariantSpec("tiny", "tiny", size=floor - 1))


def test_twenty_megabytes_quickly() -> None:
    spec = VariantSpec("size-20m", "20 MB", size=20_000_000)
    started = time.perf_counter()
    message = build(spec)
    elapsed = time.perf_counter() - started
    assert len(message.data) == 20_000_000
    assert elapsed < 5, elapsed  # ~0.3 s here; 100 MB measured by hand at a few seconds


def test_padding_is_incompressible() -> None:
    import zlib

    for spec in (
        VariantSpec("s", "s", size=200_000),
        VariantSpec("b", "b", size=200_000, attachments=(AttachmentSpec("binary"),)),
    ):  # type: ignore[arg-type]
        data = build(spec).data
        assert len(zlib.compress(data, 9)) > 0.74 * len(data)  # 6 bits/char at best


# --------------------------------------------------------------------------- determinism


def test_same_probe_id_same_bytes_other_id_other_padding() -> None:
    spec = VariantSpec("zip", "zip", size=50_000, attachments=(AttachmentSpec("zip"),))  # type: ignore[arg-type]
    assert build(spec).data == build(spec).data
    other = build(spec, probe_id=f"20240501T120001-abcdef.{spec.id}")
    assert other.data != build(spec).data
    assert len(other.data) == 50_000


# --------------------------------------------------------------------------- kinds


def decoded_attachment(spec: VariantSpec, **kw: object) -> tuple[bytes, email.message.Message]:
    msg = check(build(spec, **kw), spec)
    part = msg.get_payload(1)  # type: ignore[union-attr]
    assert isinstance(part, email.message.Message)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload, part


def test_zip_is_a_valid_stored_archive_of_random_data() -> None:
    spec = VariantSpec("zip", "zip", attachments=(AttachmentSpec(AttachmentKind.ZIP),))
    payload, part = decoded_attachment(spec)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert archive.testzip() is None
        (info,) = archive.infolist()
        assert info.filename == "data.bin" and info.compress_type == zipfile.ZIP_STORED
        assert info.file_size == 2048
    assert part.get_content_type() == "application/zip"


def test_zip_exe_holds_setup_exe_with_an_mz_header() -> None:
    spec = VariantSpec("zip-exe", "zip", attachments=(AttachmentSpec(AttachmentKind.ZIP_EXE),))
    payload, _ = decoded_attachment(spec)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert archive.namelist() == ["setup.exe"]
        assert archive.read("setup.exe")[:2] == b"MZ"


def test_exe_starts_with_mz_and_points_at_a_pe_header() -> None:
    spec = VariantSpec("exe", "exe", attachments=(AttachmentSpec(AttachmentKind.EXE),))
    payload, part = decoded_attachment(spec)
    assert payload[:2] == b"MZ"
    pe = int.from_bytes(payload[60:64], "little")
    assert payload[pe : pe + 4] == b"PE\0\0"
    assert part.get_filename() == "setup.exe"


@pytest.mark.parametrize("size", [None, 77_777])
def test_pdf_is_valid_with_exact_xref_offsets(size: int | None) -> None:
    spec = VariantSpec("pdf", "pdf", attachments=(AttachmentSpec(AttachmentKind.PDF, size=size),))
    pdf, _ = decoded_attachment(spec)
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[start : start + 5] == b"xref\n"
    table = pdf[start:].split(b"\n")
    assert table[1] == b"0 7"
    for number, row in enumerate(table[3:9], start=1):
        offset = int(row[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)
    stream = re.search(rb"6 0 obj\n<< /Length (\d+) >> *\nstream\n", pdf)
    assert stream is not None
    end = stream.end() + int(stream[1])
    assert pdf[end : end + 10] == b"\nendstream"
    if size:
        assert len(pdf) == size


def test_rfc822_is_a_nested_message_with_its_own_headers() -> None:
    spec = VariantSpec("nested", "nested", attachments=(AttachmentSpec(AttachmentKind.RFC822),))
    msg = check(build(spec), spec)
    part = msg.get_payload(1)  # type: ignore[union-attr]
    assert isinstance(part, email.message.Message)
    inner = part.get_payload(0)
    assert isinstance(inner, email.message.Message)
    assert inner["Subject"] == f"[probe {RUN}.nested] nested message"
    assert inner["Message-ID"] == f"<nested.{RUN}.nested@probe.invalid>"


def test_longname_uses_rfc2231_continuations() -> None:
    spec = VariantSpec("ln", "long name", attachments=(AttachmentSpec(AttachmentKind.LONGNAME),))
    message = build(spec)
    _, part = decoded_attachment(spec)
    assert part.get_filename() == LONG_FILENAME
    assert b"filename*0*=utf-8''%C3%9Cberl%C3%A4nge" in message.data
    assert b"filename*5*=" in message.data
    lines = message.data.split(b"\r\n")
    assert all(len(line) <= 78 for line in lines if b"filename*" in line)


def test_eicar_only_when_allowed() -> None:
    spec = VariantSpec("eicar", "eicar", attachments=(AttachmentSpec(AttachmentKind.EICAR),))
    assert spec.eicar
    with pytest.raises(UsageError, match="--allow-eicar"):
        build(spec)
    payload, part = decoded_attachment(spec, allow_eicar=True)
    assert payload == EICAR
    assert len(payload) == 68
    # the published SHA-256 of the 68-byte EICAR test file
    digest = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    assert hashlib.sha256(payload).hexdigest() == digest
    assert part.get_filename() == "eicar.com"


# --------------------------------------------------------------------------- protocol edges


def test_control_is_small_plain_and_7bit() -> None:
    spec = VariantSpec("control", "control: the smallest plain message")
    message = build(spec)
    msg = check(message, spec)
    assert len(message.data) < 700
    assert msg.get_content_type() == "text/plain" and not message.needs_8bit
    assert "X-Probe-Padding" not in msg
    assert message.rcpt_to == ("box@example.net",) and message.mail_from == "sender@example.org"


@pytest.mark.parametrize("length", [998, 1000, 4000])
def test_long_lines(length: int) -> None:
    spec = VariantSpec(f"line-{length}", "line", line_length=length, allow_long_lines=True)
    message = build(spec)
    check(message, spec)
    assert length in [len(line) for line in message.data.split(b"\r\n")]


def test_long_lines_need_opt_in_and_an_identity_encoding() -> None:
    assert spec_problems(VariantSpec("x", "x", line_length=998)) == ()
    assert spec_problems(VariantSpec("x", "x", line_length=999)) == (
        ("line_length", "lines over 998 octets need allow_long_lines"),
    )
    bad = VariantSpec("x", "x", line_length=10, encoding=Encoding.BASE64, charset="utf-8")
    assert [k for k, _ in spec_problems(bad)] == ["line_length"]
    with pytest.raises(ConfigError, match="allow_long_lines"):
        build(VariantSpec("x", "x", line_length=1000))


def test_smtputf8_tags_the_sender_and_writes_raw_utf8_headers() -> None:
    spec = VariantSpec("smtputf8", "SMTPUTF8 — Grüße", smtputf8=True)
    message = build(spec)
    assert message.needs_smtputf8 and not message.needs_8bit
    assert message.mail_from == "sender+ünïcødé@example.org"
    assert "Subject: [probe 20240501T120000-abcdef.smtputf8] SMTPUTF8 — Grüße\r\n".encode() in (
        message.data
    )
    assert "From: probe <sender+ünïcødé@example.org>".encode() in message.data
    assert b"Message-ID: <probe.20240501T120000-abcdef.smtputf8@example.org>" in message.data


def test_non_ascii_subject_without_smtputf8_is_rfc2047_encoded() -> None:
    spec = VariantSpec("sub", "Grüße aus Köln " * 6)
    message = build(spec)
    msg = check(message, spec)
    assert message.data.isascii() and not message.needs_smtputf8
    decoded = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert decoded == f"[probe {RUN}.sub] " + ("Grüße aus Köln " * 6).rstrip()


def test_many_recipients_are_subaddresses_of_to() -> None:
    spec = VariantSpec("rcpt-101", "101 recipients", recipients=101)
    message = build(spec)
    msg = check(message, spec)
    assert len(message.rcpt_to) == len(set(message.rcpt_to)) == 101
    assert message.rcpt_to[0] == "box@example.net"
    assert message.rcpt_to[1:3] == ("box+1@example.net", "box+2@example.net")
    assert all(re.fullmatch(r"box(\+\d+)?@example\.net", a) for a in message.rcpt_to)
    assert len(email.utils.getaddresses([str(msg["To"])])) == 101


def test_expand_recipients() -> None:
    assert expand_recipients(["a@x"], 1) == ("a@x",)
    assert expand_recipients(["a@x", "a+1@x"], 3) == ("a@x", "a+1@x", "a+2@x")


def test_attachment_to_several_recipients() -> None:
    spec = VariantSpec("z3", "zip to 3", recipients=3, attachments=(AttachmentSpec("zip"),))  # type: ignore[arg-type]
    message = build(spec)
    check(message, spec)
    assert len(message.rcpt_to) == 3


def test_received_headers_are_realistic_and_clearly_synthetic() -> None:
    spec = VariantSpec("received-25", "loop", received_headers=25, size=10_000)
    msg = check(build(spec), spec)
    received = msg.get_all("Received")
    assert received is not None and len(received) == 25
    first = " ".join(received[0].split())
    assert first == (
        "from hop2.loop.probe.invalid (hop2.loop.probe.invalid [192.0.2.2]) by "
        "hop1.loop.probe.invalid with ESMTP id PROBELOOP0001 for <box@example.net>; "
        "Wed, 01 May 2024 11:59:59 +0000"
    )
    dates = [email.utils.parsedate_to_datetime(r.rsplit(";", 1)[1]) for r in received]
    assert dates == sorted(dates, reverse=True)


def test_extra_headers() -> None:
    spec = VariantSpec("h", "h", headers=(("X-Test", "yes"),))
    msg = check(build(spec), spec)
    assert msg["X-Test"] == "yes"
    assert spec_problems(VariantSpec("h", "h", headers=(("Subject", "x"),)))


# --------------------------------------------------------------------------- relative sizes


def test_resolve_size_against_the_advertised_size() -> None:
    spec = VariantSpec("adv", "adv", size_relative=SizeBase.ADVERTISED, size_offset=1)
    with pytest.raises(ConfigError, match="resolve_size"):
        build(spec)
    resolved = resolve_size(spec, 100_000)
    assert resolved.size == 100_001 and resolved.size_relative is None
    check(build(resolved), resolved)
    with pytest.raises(ConfigError, match="no SIZE limit"):
        resolve_size(spec, None)
    with pytest.raises(ConfigError, match="outside"):
        resolve_size(spec, 10**9)
    assert resolve_size(VariantSpec("x", "x"), None) == VariantSpec("x", "x")


def test_spec_problems_names_an_encoding_given_as_a_plain_string() -> None:
    """API callers may pass "8bit" instead of Encoding.EIGHT_BIT: a problem, not a TypeError."""
    for value in ("8bit", "rot13"):
        bad = VariantSpec("x", "x", encoding=value)  # type: ignore[arg-type]
        problems = spec_problems(bad)
        assert [k for k, _ in problems] == ["encoding"]
        assert repr(value) in problems[0][1]


def test_the_version_in_x_probe_is_a_parameter() -> None:
    """A stored run re-crafts with the version that sent it: only X-Probe differs, and a size
    is still met to the byte."""
    spec = VariantSpec("sized", "sized", size=5000)
    now = build(spec)
    old = build(spec, version="0.0.9")
    assert old.data.replace(b"probe/0.0.9 ", f"probe/{__version__} ".encode()) == now.data
    assert b"X-Probe: probe/0.0.9 delivery-path test\r\n" in old.data
    assert len(old.data) == len(now.data) == 5000
    assert minimum_size(spec, version="1.0.0rc1+local.7") > 0
    for bad in ("", "1.0\r\nBcc: x@example.org", "ü", "9" * 65):
        with pytest.raises(UsageError, match="bad probe version"):
            build(spec, version=bad)


def test_the_crafted_message_is_what_the_send_stage_sends() -> None:
    message = build(VariantSpec("plain", "plain", declare_size=False))
    assert message.manifest is not None and message.manifest.size == len(message.data)
    assert message.mail_from == "sender@example.org" and message.rcpt_to == ("box@example.net",)
    assert message.declare_size is False and message.dsn_envid is None
