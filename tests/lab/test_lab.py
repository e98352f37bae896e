"""The embedded lab's scenarios, exercised with the standard library's SMTP client (sockets)."""

from __future__ import annotations

import base64
import email
import io
import json
import mailbox
import re
import smtplib
import ssl
import threading
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

import dns.message
import dns.query
import pytest

from probe.lab.runtime import LabInfo, LabThread, ScenarioInfo
from probe.lab.scenarios import load_scenarios, select, tune

# The EICAR test string in two halves, so this file is not itself flagged by a scanner.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CHECKPOINT_ID = r"\{[0-9A-F]{8}-[0-9A-F]{1,8}-[0-9A-F]{1,8}-[0-9A-F]{1,8}\}"
POSTFIX_RECEIVED = re.compile(
    r"^from client\.example \(localhost \[127\.0\.0\.1\]\)\r\n"
    r"\tby mx\.(\w+)\.lab\.probe\.test \(Postfix\) with (ESMTPS?) id [0-9A-Za-z]{15}\r\n"
    r"(?:\t\(using .*\)\r\n)?"
    r"\tfor <rcpt@example\.net>; \w{3}, \d{2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000 \(UTC\)$"
)


def message(subject: str = "lab test", body: str = "hello lab\n", size: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "sender@example.org"
    msg["To"] = "rcpt@example.net"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{time.time_ns()}@example.org>"
    msg.set_content(body + ("x" * 70 + "\n") * (size // 71))
    return msg.as_bytes().replace(b"\n", b"\r\n")


def connect(info: ScenarioInfo) -> smtplib.SMTP:
    client = smtplib.SMTP(timeout=10)
    client.connect(info.address, info.port)
    client.ehlo("client.example")
    return client


def send(info: ScenarioInfo, data: bytes) -> tuple[int, str]:
    """MAIL, RCPT, DATA by hand; (code, text) of the reply that ended the transaction."""
    client = connect(info)
    try:
        for command in ("MAIL FROM:<sender@example.org>", "RCPT TO:<rcpt@example.net>"):
            code, text = client.docmd(command)
            if code >= 400:
                return code, text.decode()
        code, text = client.data(data)
        return code, text.decode()
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code, exc.smtp_error.decode()
    finally:
        client.close()


def delivered(info: ScenarioInfo, needle: bytes, wait: float = 10.0) -> list[bytes]:
    """The stored copies containing `needle`, waiting up to `wait` s for the first: a
    store-and-forward hop answers 250 before its relay reaches the Maildir."""
    deadline = time.monotonic() + wait
    while True:
        box = mailbox.Maildir(info.maildir, create=False)
        found = [raw for raw in (box.get_bytes(k) for k in box.keys()) if needle in raw]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def only_copy(info: ScenarioInfo, data: bytes) -> email.message.Message:
    message_id = email.message_from_bytes(data)["Message-ID"].encode()
    copies = delivered(info, message_id)
    assert len(copies) == 1
    return email.message_from_bytes(copies[0])


def received_values(copy: email.message.Message) -> list[str]:
    return [str(v) for v in copy.get_all("Received", [])]


# --------------------------------------------------------------------------- the lab itself


def test_entries_share_one_port_on_distinct_addresses(lab: LabInfo) -> None:
    names = {s.name for s in lab.scenarios}
    assert {"clean", "checkpoint", "asa", "tls", "greylist", "slowscan", "sizeenforce"} <= names
    assert {"sizelimit", "disclaimer", "av", "relay"} <= names
    if lab.shared_port is not None:
        assert {s.port for s in lab.scenarios} == {lab.shared_port}
        assert len({s.address for s in lab.scenarios}) == len(lab.scenarios)
    assert lab.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_dns_names_the_entries(lab: LabInfo) -> None:
    def ask(name: str, rdtype: str) -> dns.message.Message:
        return dns.query.udp(dns.message.make_query(name, rdtype), lab.dns_host, 2, lab.dns_port)

    info = lab.scenario("checkpoint")
    mx = ask(info.domain, "MX").answer[0]
    assert [r.to_text() for r in mx] == [f"10 {info.mx_host}."]
    assert [r.to_text() for r in ask(info.mx_host, "A").answer[0]] == [info.address]
    assert [r.to_text() for r in ask("nullmx.lab.probe.test", "MX").answer[0]] == ["0 ."]
    assert ask("servfail.lab.probe.test", "MX").rcode() == dns.rcode.SERVFAIL
    assert ask("nope.lab.probe.test", "MX").rcode() == dns.rcode.NXDOMAIN


def test_scenario_data_rejects_bad_hops(tmp_path: Path) -> None:
    from probe.errors import ConfigError

    bad = tune(select(load_scenarios(), ["clean"]), "clean", "final", colour="blue")
    with pytest.raises(ConfigError, match="colour"), LabThread(bad, directory=tmp_path):
        pass
    (tmp_path / "s.toml").write_text(
        '[[scenario]]\nname = "x"\nhops = [{kind = "final"}, {kind = "final"}]\n'
    )
    with (
        pytest.raises(ConfigError, match="last hop"),
        LabThread(load_scenarios(tmp_path / "s.toml")),
    ):
        pass


# --------------------------------------------------------------------------- scenarios


def test_clean_stores_one_realistic_received(lab: LabInfo) -> None:
    info = lab.scenario("clean")
    data = message()
    code, text = send(info, data)
    assert code == 250 and re.fullmatch(r"2\.0\.0 Ok: queued as [0-9A-Za-z]{15}", text)
    copy = only_copy(info, data)
    (received,) = received_values(copy)
    assert POSTFIX_RECEIVED.match(received), received
    assert copy["Return-Path"] == "<sender@example.org>"
    assert copy["Delivered-To"] == "rcpt@example.net"
    # the session lab's clean Maildir is shared with other tests: find this message's record
    dialogues = [json.loads(p.read_text()) for p in (info.maildir / "dialogues").glob("*.json")]
    assert any(
        d["schema"] == "probe.listener-record/1" and d["helo"] == "client.example"
        for d in dialogues
    )


def test_clean_banner_and_ehlo_look_like_postfix(lab: LabInfo) -> None:
    info = lab.scenario("clean")
    client = smtplib.SMTP(timeout=10)
    code, banner = client.connect(info.address, info.port)
    assert (code, banner.decode()) == (220, f"{info.mx_host} ESMTP Postfix (Debian/GNU)")
    code, ehlo = client.ehlo("client.example")
    assert ehlo.decode().splitlines() == [
        info.mx_host, "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
        "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
    ]  # fmt: skip
    # DSN parameters are accepted (aiosmtpd alone would answer 555)
    assert client.docmd("MAIL FROM:<a@example.org> RET=HDRS ENVID=abc SIZE=10")[0] == 250
    assert client.docmd("RCPT TO:<rcpt@example.net> NOTIFY=FAILURE,DELAY")[0] == 250
    client.quit()


def test_checkpoint_texts_and_header(lab: LabInfo) -> None:
    info = lab.scenario("checkpoint")
    client = smtplib.SMTP(timeout=10)
    code, banner = client.connect(info.address, info.port)
    assert banner.decode() == f"{info.mx_host} ESMTP"
    _, ehlo = client.ehlo("client.example")
    assert ehlo.decode().splitlines() == [info.mx_host, "8BITMIME", "SIZE 10485760", "STARTTLS"]
    assert client.docmd("MAIL FROM:<a@example.org>") == (250, b"sender <a@example.org> ok")
    assert client.docmd("RCPT TO:<rcpt@example.net>") == (250, b"recipient <rcpt@example.net> ok")
    assert client.docmd("DATA") == (354, b"go ahead")
    client.close()
    data = message()
    code, text = send(info, data)
    assert code == 250 and "queued as" in text  # the MX's own reply, passed through
    copy = only_copy(info, data)
    assert re.fullmatch(CHECKPOINT_ID, copy["X-CheckPoint"])
    assert len(received_values(copy)) == 1  # invisible: no Received of its own
    head = delivered(info, copy["Message-ID"].encode())[0].split(b"\r\n")
    assert head[2].startswith(b"Received: ") and head[5].startswith(b"X-CheckPoint: ")


def test_checkpoint_rejects_at_threshold(lab: LabInfo) -> None:
    info = lab.scenario("checkpoint")
    data = message(size=1_000_000)
    data = data + (b"y" * 70 + b"\r\n") * ((1_048_577 - len(data)) // 72)
    data = data + b"z" * (1_048_577 - len(data) - 2) + b"\r\n"
    assert len(data) == 1_048_577
    code, text = send(info, data)
    assert code == 554
    assert re.fullmatch(r"Permanent scan failure\. Email Session ID: " + CHECKPOINT_ID, text)
    code, _ = send(info, data[:-3] + b"\r\n")  # one byte less passes
    assert code == 250


def test_asa_masks_banner_and_starttls(lab: LabInfo) -> None:
    info = lab.scenario("asa")
    client = smtplib.SMTP(timeout=10)
    code, banner = client.connect(info.address, info.port)
    assert code == 220 and set(banner.decode()) <= {"*", "2", "0"}
    _, ehlo = client.ehlo("client.example")
    keywords = ehlo.decode().splitlines()
    assert "XXXXXXXA" in keywords and "STARTTLS" not in keywords
    assert "PIPELINING" in keywords and "SIZE 10240000" in keywords
    assert client.docmd("STARTTLS") == (500, b"5.5.1 Command unrecognized")
    assert client.docmd("NOOP")[0] == 250  # still talking to the server behind
    client.close()
    data = message()
    assert send(info, data)[0] == 250
    copy = only_copy(info, data)
    assert "with ESMTP id" in received_values(copy)[0]  # plain text all the way: TLS stripped


def test_tls_handshake_verifies_with_lab_ca(lab: LabInfo) -> None:
    info = lab.scenario("tls")
    context = ssl.create_default_context(cafile=str(lab.ca_file))
    client = smtplib.SMTP(timeout=10)
    client.connect(info.address, info.port)
    client._host = info.mx_host  # verify the certificate for the MX name, not the address
    client.ehlo("client.example")
    assert client.has_extn("starttls")
    code, _ = client.starttls(context=context)
    assert code == 220
    assert client.sock.getpeercert()["subject"][-1][0][1] == info.mx_host  # type: ignore[union-attr]
    client.ehlo("client.example")
    assert not client.has_extn("starttls")
    data = message()
    client.sendmail("sender@example.org", ["rcpt@example.net"], data)
    client.quit()
    (received,) = received_values(only_copy(info, data))
    assert "with ESMTPS id" in received and "(using TLSv1.3 with cipher" in received


def test_greylist_then_accept(lab: LabInfo) -> None:
    info = lab.scenario("greylist")
    data = message()
    code, text = send(info, data)
    assert code == 450
    assert text.startswith("4.2.0 <rcpt@example.net>: Recipient address rejected: Greylisted")
    time.sleep(1.05)
    assert send(info, data)[0] == 250
    assert len(received_values(only_copy(info, data))) == 2


def test_slowscan_delays_in_proportion(lab: LabInfo) -> None:
    info = lab.scenario("slowscan")
    started = time.monotonic()
    assert send(info, message())[0] == 250
    small = time.monotonic() - started
    started = time.monotonic()
    assert send(info, message(size=2_000_000))[0] == 250
    large = time.monotonic() - started
    assert small >= 0.05 and large >= 0.25 and large > small


def test_disclaimer_footer_and_subject(lab: LabInfo) -> None:
    info = lab.scenario("disclaimer")
    data = message(subject="quarterly numbers")
    assert send(info, data)[0] == 250
    copy = only_copy(info, data)
    assert copy["Subject"] == "[EXTERNAL] quarterly numbers"
    body = copy.get_payload(decode=True)
    assert isinstance(body, bytes) and body.startswith(b"hello lab")
    assert body.rstrip().endswith(b"unless you recognize the sender.")
    assert len(received_values(copy)) == 2
    assert copy["X-Disclaimer"] == f"appended by filter.{info.domain}"
    raw = delivered(info, copy["Message-ID"].encode())[0]
    # the mark sits above the filter's own Received and below the next hop's
    assert raw.index(b"by mx.") < raw.index(b"X-Disclaimer: ") < raw.index(b"by filter.")


def _with_attachments(*parts: tuple[str, bytes]) -> bytes:
    msg = email.message_from_bytes(message())
    assert isinstance(msg, email.message.Message)
    new = EmailMessage()
    for key in ("From", "To", "Subject", "Message-ID"):
        new[key] = msg[key]
    new.set_content("see attached\n")
    for name, content in parts:
        new.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return new.as_bytes().replace(b"\n", b"\r\n")


def test_av_strips_exe_and_stamps(lab: LabInfo) -> None:
    info = lab.scenario("av")
    data = _with_attachments(("tool.exe", b"MZ" + bytes(300)), ("notes.txt", b"keep me"))
    assert send(info, data)[0] == 250
    copy = only_copy(info, data)
    assert copy["X-Virus-Scanned"] == f"clamav-milter 1.0.1 at scanner.{info.domain}"
    parts = {p.get_filename(): p for p in copy.walk() if not p.is_multipart()}
    assert "tool.exe" not in parts and "notes.txt" in parts
    texts = [p.get_payload() for p in copy.walk() if p.get_content_type() == "text/plain"]
    assert any("Attachment tool.exe removed by AV policy" in str(t) for t in texts)
    raw = delivered(info, copy["Message-ID"].encode())[0]
    # above its own Received (as amavis/clamav-milter sit above their MTA's stamp), below the MX's
    assert raw.index(b"by mx.") < raw.index(b"X-Virus-Scanned") < raw.index(b"by scanner.")


@pytest.mark.parametrize("form", ["plain", "base64", "zip"])
def test_av_rejects_eicar(lab: LabInfo, form: str) -> None:
    info = lab.scenario("av")
    if form == "plain":
        data = message(body=EICAR.decode() + "\n")
    elif form == "base64":
        data = _with_attachments(("eicar.com", EICAR))
        assert base64.b64encode(EICAR) not in data or EICAR not in data
    else:
        blob = io.BytesIO()
        with zipfile.ZipFile(blob, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("eicar.com", EICAR)
        data = _with_attachments(("eicar.zip", blob.getvalue()))
    assert send(info, data) == (554, "5.7.1 Virus found: Eicar-Test-Signature")


def test_relay_injects_header_between_received(lab: LabInfo) -> None:
    info = lab.scenario("relay")
    data = message()
    code, text = send(info, data)
    assert code == 250 and re.fullmatch(r"OK id=\w{6}-\w{11}-\w{4}", text)
    raw = delivered(info, only_copy(info, data)["Message-ID"].encode())[0]
    postfix, injected, exim = (
        raw.index(m) for m in (b"(Postfix)", b"X-Relay-Scanned: yes", b"(Exim 4.97)")
    )
    assert postfix < injected < exim


def test_size_enforce_at_mail_and_after_data(lab: LabInfo) -> None:
    info = lab.scenario("sizeenforce")
    client = connect(info)
    assert client.docmd("MAIL FROM:<a@example.org> SIZE=2000001") == (
        552, b"5.3.4 Message size exceeds fixed limit")  # fmt: skip
    assert client.docmd("MAIL FROM:<a@example.org> SIZE=2000000")[0] == 250
    client.close()
    assert send(info, message(size=2_000_100)) == (552, "5.3.4 Message size exceeds fixed limit")
    assert send(info, message(size=1_900_000))[0] == 250


# --------------------------------------------------------------------------- a tuned second lab


def test_tuned_lab_runs_beside_the_session_lab(lab: LabInfo, tmp_path: Path) -> None:
    """Another LabThread in the same process (small thresholds), twice: ports and threads freed."""
    scenarios = select(load_scenarios(), ["sizelimit", "checkpoint"])
    scenarios = tune(scenarios, "sizelimit", "size-limit", limit=5000)
    scenarios = tune(scenarios, "checkpoint", "checkpoint", threshold=3000)
    before = set(threading.enumerate())
    for _ in range(2):
        with LabThread(scenarios, directory=tmp_path) as tuned:
            sizelimit = tuned.info.scenario("sizelimit")
            _, ehlo = connect(sizelimit).ehlo("client.example")
            assert b"SIZE 10485760" in ehlo
            assert send(sizelimit, message(size=6000)) == (
                552, "5.3.4 Message size exceeds fixed limit")  # fmt: skip
            assert send(sizelimit, message(size=3000))[0] == 250
            assert send(tuned.info.scenario("checkpoint"), message(size=3000))[0] == 554
            port = sizelimit.port
        with pytest.raises(OSError):
            smtplib.SMTP(sizelimit.address, port, timeout=2)
    # Executor workers ("asyncio_N") are left out: the session lab may start one meanwhile for a
    # copy still being relayed; the tuned labs' own are joined when their loop closes.
    new = [t.name for t in threading.enumerate() if t not in before]
    assert [n for n in new if not n.startswith("asyncio_")] == []


# --------------------------------------------------------------------------- 8bit and SMTPUTF8

FOOTER = (
    "CAUTION: This email originated from outside of the organization. Do not click links "
    "or open attachments unless you recognize the sender."
)
# Scenarios whose entry does not offer SMTPUTF8: Check Point and Exim as configured, and the ASA
# masks it (not in its allow-list).
NO_SMTPUTF8 = {"checkpoint", "asa", "relay"}


def eight_bit_message(utf8_headers: bool) -> bytes:
    """A text/plain UTF-8 body sent as 8bit (as craft's body-8bit variant); raw UTF-8 in the
    Subject for SMTPUTF8."""
    subject = "Grüße aus Köln" if utf8_headers else "8bit body"
    head = (
        "From: sender@example.org\r\nTo: rcpt@example.net\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{time.time_ns()}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    body = "8bit text: Grüße aus Köln, äöü ÄÖÜ ß, ½ °C.\r\nzweite Zeile: naïve café\r\n"
    return (head + body).encode("utf-8")


def expected_copy(scenario: str, data: bytes) -> bytes:
    """What the last hop must store after its own headers: the message unchanged, except for a
    disclaimer hop's Subject tag and footer."""
    if scenario != "disclaimer":
        return data
    head, body = data.split(b"\r\n\r\n", 1)
    head = head.replace(b"\r\nSubject: ", b"\r\nSubject: [EXTERNAL] ", 1)
    return head + b"\r\n\r\n" + body.rstrip(b"\r\n") + b"\r\n\r\n" + FOOTER.encode() + b"\r\n"


def send_8bit(info: ScenarioInfo, data: bytes, sender: str, smtputf8: bool) -> None:
    options = ["BODY=8BITMIME", *(["SMTPUTF8"] if smtputf8 else [])]
    for attempt in range(2):
        client = connect(info)
        try:
            assert client.has_extn("8bitmime")
            client.sendmail(sender, ["rcpt@example.net"], data, mail_options=options)
            return
        except smtplib.SMTPRecipientsRefused as exc:  # greylisting: once per new triplet
            assert attempt == 0 and info.name == "greylist", exc.recipients
            time.sleep(1.05)
        finally:
            client.close()


@pytest.mark.parametrize("smtputf8", [False, True], ids=["8bitmime", "smtputf8"])
@pytest.mark.parametrize("scenario", sorted(s.name for s in load_scenarios()))
def test_8bit_body_passes_every_hop_intact(lab: LabInfo, scenario: str, smtputf8: bool) -> None:
    info = lab.scenario(scenario)
    if smtputf8:
        offered = connect(info).has_extn("smtputf8")
        assert offered == (scenario not in NO_SMTPUTF8)
        if not offered:
            pytest.skip(f"{scenario} does not offer SMTPUTF8")
    data = eight_bit_message(utf8_headers=smtputf8)
    sender = "prüfer@example.org" if smtputf8 else "sender@example.org"
    send_8bit(info, data, sender, smtputf8)
    copy = only_copy(info, data)
    (raw,) = delivered(info, copy["Message-ID"].encode())
    assert raw.endswith(expected_copy(scenario, data))
    assert raw.startswith(f"Return-Path: <{sender}>\r\n".encode())


# --------------------------------------------------------------------------- store and forward


def test_store_and_forward_retries_a_temporary_failure(tmp_path: Path) -> None:
    """The relay answers 250 at once, meets a greylisting hop behind it, and delivers on retry."""
    from probe.lab.scenarios import parse_scenarios

    scenarios = parse_scenarios(
        {
            "scenario": [
                {
                    "name": "retry",
                    "hops": [
                        {"kind": "relay"},
                        {"kind": "greylist", "delay": 0.3},
                        {"kind": "final"},
                    ],
                }
            ]
        }
    )
    with LabThread(scenarios, directory=tmp_path) as running:
        info = running.info.scenario("retry")
        data = message()
        started = time.monotonic()
        code, text = send(info, data)
        assert code == 250 and text.startswith("OK id=")
        assert time.monotonic() - started < 0.3  # answered before the relay went on
        message_id = email.message_from_bytes(data)["Message-ID"].encode()
        assert not delivered(info, message_id, wait=0.5)  # greylisted behind the relay
        copy = only_copy(info, data)  # after the relay's first retry (1 s)
        assert len(received_values(copy)) == 3


@pytest.mark.parametrize("cte", ["7bit", "8bit", "quoted-printable", "base64"])
def test_footer_keeps_the_part_encoding_and_crlf(cte: str) -> None:
    from probe.lab import mime

    text = "Grüße\r\nzweite Zeile\r\n".encode() if cte != "7bit" else b"plain\r\nlines\r\n"
    body = {
        "quoted-printable": b"Gr=C3=BC=C3=9Fe\r\nzweite Zeile\r\n",
        "base64": base64.encodebytes(text).replace(b"\n", b"\r\n"),
    }.get(cte, text)
    data = (
        b"Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body
    )
    out = mime.add_footer(data, "FOOTER äh")
    assert out.startswith(data.split(b"\r\n\r\n")[0] + b"\r\n\r\n")
    assert b"\r\r" not in out and b"\n" not in out.replace(b"\r\n", b"")
    decoded = mime.parse(out).get_payload(decode=True)
    assert decoded == text + "\r\nFOOTER äh\r\n".encode()
    if cte in ("7bit", "8bit"):
        assert out == data + "\r\nFOOTER äh\r\n".encode()
