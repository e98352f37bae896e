"""IMAP reply parsing on what a real Dovecot 2.3.19.1 sent, replayed through imaplib (no socket).

tests/data/imap/dovecot.json was recorded from Dovecot 2.3.19.1 (9b53102964) by
`python -m tests.mta.capture_imap`: every command imaplib sent in one session and the exact
bytes the server answered. `Replay` is imaplib reading those bytes from memory, so the parsers
see the data items imaplib really builds from a real server. Hostile replies are made up below,
with hypothesis for totality and a per-input time budget (no super-linear path).
"""

from __future__ import annotations

import datetime as dt
import imaplib
import io
import json
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.collect import imap_parse as parse
from probe.collect.match import identify

RECORDING = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "imap" / "dovecot.json").read_text()
)
RUN = "20240501T120000-0a0b0c"
BUDGET_S = 2.0  # per input of up to ~100 KB: fails only on super-linear behaviour


class Replay(imaplib.IMAP4):
    """imaplib on the recorded server bytes; each command sent must be the recorded one."""

    def open(self, host: str = "", port: int = 0, timeout: float | None = None) -> None:
        received = "".join(e["received"] for e in RECORDING["exchanges"])
        self.file = io.BytesIO(received.encode("latin-1"))  # type: ignore[assignment]
        self.recorded = [e["sent"] for e in RECORDING["exchanges"] if e["sent"]]
        self.recorded_tag = RECORDING["tag_prefix"].encode("ascii")

    def readline(self) -> bytes:
        line = super().readline()
        if line.startswith(self.recorded_tag):
            line = self.tagpre + line[len(self.recorded_tag) :]
        return line

    def send(self, data: bytes) -> None:
        expected = self.recorded.pop(0).encode("latin-1")
        if data.startswith(self.tagpre):  # a command (not an APPEND literal): tag and verb
            sent = self.recorded_tag + data[len(self.tagpre) :]
            assert sent.split(b" ")[:2] == expected.split(b" ")[:2], (sent, expected)

    def shutdown(self) -> None:
        pass


def replay() -> dict[str, Any]:
    """The session of tests.mta.capture_imap, issued again; what imaplib returned for each step."""
    out: dict[str, Any] = {}
    conn = Replay()
    out["greeting"] = conn.welcome
    out["caps_before_tls"] = conn.capabilities
    conn._simple_command("STARTTLS")  # the recording continued inside TLS from here
    out["caps_tls"] = conn.capability()[1]
    try:
        conn.login(RECORDING["user"], "masked")
    except imaplib.IMAP4.error as exc:
        out["refused"] = exc
    out["login"] = conn.login(RECORDING["user"], "masked")
    out["caps"] = conn.capability()[1]
    conn.create('"Archive &AMQ-"')
    conn.create('"Say \\"hi\\""')
    out["list"] = conn.list()[1]
    now = imaplib.Time2Internaldate(time.time())
    for folder in ("INBOX", "INBOX", "Junk"):
        conn.append(folder, "", now, b"x" * (497 if folder == "Junk" else 485))
    conn.select("INBOX", readonly=True)
    out["uidvalidity"] = conn.response("UIDVALIDITY")[1]
    out["search"] = conn.uid("SEARCH", "SINCE", "1-Jan-2026", "HEADER", "X-Probe-Id", RUN)[1]
    conn.select("Junk", readonly=True)
    conn.select("INBOX", readonly=True)
    out["fetch"] = conn.uid("FETCH", "1,2", "(UID BODY.PEEK[])")[1]
    conn.uid("SEARCH", "SINCE", "1-Jan-2026", "TEXT", RUN)
    tag = conn._new_tag()
    conn.send(tag + b" IDLE\r\n")
    idle = [conn.readline(), conn.readline()]
    conn.send(b"DONE\r\n")
    idle += [conn.readline(), conn.readline()]
    out["idle"] = idle
    conn.logout()
    return out


SESSION = replay()


def test_the_recording_names_the_server() -> None:
    assert RECORDING["server"] == "Dovecot 2.3.19.1 (9b53102964)"
    assert b"Dovecot" in SESSION["greeting"]


def test_capabilities_before_and_after_login() -> None:
    before = parse.capabilities(SESSION["caps_tls"])
    assert {"IMAP4REV1", "IDLE", "AUTH=PLAIN", "SASL-IR"} <= before and "STARTTLS" not in before
    after = parse.capabilities(SESSION["caps"])
    assert {"IDLE", "UIDPLUS", "SPECIAL-USE", "MOVE"} <= after and len(after) > len(before)


def test_refused_login_reads_as_one_line() -> None:
    text = parse.reply_text(SESSION["refused"])
    assert text == "[AUTHENTICATIONFAILED] Authentication failed."


def test_list_rows_from_dovecot() -> None:
    rows = parse.list_rows(SESSION["list"])
    assert [(r.name, r.delimiter) for r in rows] == [
        ('Say "hi"', "."),
        ("Archive &AMQ-", "."),
        ("Junk", "."),
        ("Quarantine", "."),
        ("INBOX", "."),
    ]
    assert [r.name for r in rows if "\\junk" in r.flags] == ["Junk", "Quarantine"]
    assert all("\\hasnochildren" in r.flags for r in rows)
    assert parse.decode_mutf7("Archive &AMQ-") == "Archive \u00c4"
    assert parse.quote('Say "hi"') == '"Say \\"hi\\""'  # what CREATE sent


def test_select_search_fetch_from_dovecot() -> None:
    validity = parse.uidvalidity(SESSION["uidvalidity"])
    assert validity.isdigit() and validity != "0"
    assert parse.search_uids(SESSION["search"]) == {1, 2}
    fetched = parse.fetched(SESSION["fetch"])
    assert [uid for uid, _ in fetched] == [1, 2]
    ids = [identify(raw, [f"{RUN}.control", f"{RUN}.size-1m"]) for _, raw in fetched]
    assert [m.probe_id if m else None for m in ids] == [f"{RUN}.control", f"{RUN}.size-1m"]
    assert all(raw.endswith(b"\r\n") and len(raw) == 485 for _, raw in fetched)


def test_idle_lines_from_dovecot() -> None:
    lines = SESSION["idle"]
    assert [parse.is_change(line) for line in lines] == [False, True, True, False]
    assert lines[0].startswith(b"+ idling")


def test_announced_literal() -> None:
    fetch_line = next(
        line
        for e in RECORDING["exchanges"]
        if "FETCH" in e["sent"]
        for line in e["received"].encode("latin-1").split(b"\r\n")
        if line.endswith(b"}")
    )
    assert parse.announced_literal(fetch_line + b"\r\n") == 485
    assert parse.announced_literal(b"* 1 FETCH (BODY[] {99999999999}\r\n") == 99999999999
    assert parse.announced_literal(b"* 1 FETCH (BODY[] {" + b"9" * 5000 + b"}\r\n") == 10**20
    assert parse.announced_literal(b"* OK {not a literal}\r\n") is None
    assert parse.announced_literal(b"* OK done\r\n") is None


def test_hostile_replies_give_values_not_exceptions() -> None:
    assert parse.capabilities([b"IMAP4rev1 \xff\xfeIDLE\xc3\xa9 IDLE"]) >= {"IMAP4REV1", "IDLE"}
    assert parse.capabilities([None]) == frozenset() == parse.capabilities([])
    assert parse.search_uids([b"1 2 abc -3 0 99999999999 " + b"9" * 5000, None]) == {1, 2}
    long_uid = (b"1 (UID " + b"7" * 5000 + b" BODY[] {3}", b"abc")
    assert parse.fetched([long_uid, b")"]) == []
    assert parse.fetched([(b"1 (BODY[] {3}", b"abc"), b" UID 9)"]) == [(9, b"abc")]
    rows = parse.list_rows(
        [
            b'(\\HasNoChildren) "/" "Bo\xc3\xaete"',  # raw UTF-8: not sendable back, skipped
            (b'(\\HasNoChildren) "/" {5}', b"a b c"),  # a name sent as a literal
            b"garbage",
            None,
        ]
    )
    assert [r.name for r in rows] == ["a b c"]
    assert parse.uidvalidity([b"x" * 100, None]) == "0"
    assert parse.decode_mutf7("&AMQ") == "&AMQ" and parse.decode_mutf7("&A-") == "&A-"
    assert parse.imap_date(dt.datetime(2026, 12, 1)) == "1-Dec-2026"


def _within_budget(fn: Any, *args: Any) -> None:
    t0 = time.perf_counter()
    fn(*args)
    assert time.perf_counter() - t0 < BUDGET_S, f"{fn.__name__} took too long"


LINES = st.one_of(
    st.binary(max_size=2000),
    st.tuples(st.sampled_from(list(b'{}()"\\ 9&-*\xff')), st.integers(1, 100_000)).map(
        lambda t: bytes([t[0]]) * t[1]
    ),
)


@settings(max_examples=60, deadline=None)
@given(LINES, st.binary(max_size=200))
def test_every_parser_is_total_and_linear(line: bytes, other: bytes) -> None:
    data: list[object] = [line, (line, other), other, None]
    for fn in (parse.list_rows, parse.capabilities, parse.search_uids, parse.fetched):
        _within_budget(fn, data)
    for one in (parse.is_change, parse.announced_literal, parse.unquote):
        _within_budget(one, line)
    _within_budget(parse.decode_mutf7, line.decode("latin-1"))
    _within_budget(parse.reply_text, [line])
