"""Hostile local mailboxes: files that are not messages, huge files, odd names, odd mbox files.

Each must end in a skipped-file note or a one-line MailboxError, quickly, never a hang (a FIFO
opened for reading blocks until a writer comes), a MemoryError (`/dev/zero`) or a traceback.
The mbox splitter is checked against stdlib `mailbox.mbox` on generated files.
"""

from __future__ import annotations

import asyncio
import io
import json
import mailbox
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.collect import match as match_module
from probe.collect import mbox as mbox_module
from probe.collect.base import MESSAGE_MAX
from probe.collect.mailboxes import open_mailbox
from probe.collect.mbox import messages
from probe.collect.wait import collect
from probe.errors import MailboxError
from probe.model.collect import Arrival, CollectResult
from probe.model.json import from_data, to_data
from tests.mta.messages import bounce_for, probe_id, tagged

CONTROL = probe_id("control")
NON_UTF8 = os.fsdecode(b"1700000000.M1P1.host\xff\xfe:2,S")  # surrogateescape, lossless


def hostile_maildir(root: Path) -> Path:
    box = mailbox.Maildir(root, create=True)
    box.add_folder("Junk")
    os.mkfifo(root / "new" / "1700000001.fifo.host")
    (root / "cur" / "1700000002.zero.host:2,").symlink_to("/dev/zero")
    (root / "cur" / "1700000003.null.host:2,").symlink_to("/dev/null")
    with open(root / "new" / "1700000004.huge.host", "wb") as f:
        f.truncate(MESSAGE_MAX + 1)  # sparse: as large as it says, nothing written
    (root / "new" / "1700000005.dir.host").mkdir()  # stdlib skips directories too
    (root / ".Junk" / "new" / os.fsdecode(b"1700000006.P\xe9.host")).write_bytes(b"x")
    os.mkfifo(root / ".Junk" / "cur" / "1700000007.fifo.host:2,")
    (root / "cur" / NON_UTF8).write_bytes(tagged(CONTROL))
    return root


def run_collect(url: str) -> tuple[CollectResult, float]:
    async def main() -> CollectResult:
        box = await open_mailbox(url)
        try:
            return await collect(
                box, {CONTROL: "control"}, deadline=time.monotonic() + 1, is_bounce_for=lambda r: ()
            )
        finally:
            await box.close()

    t0 = time.monotonic()
    result = asyncio.run(main())
    return result, time.monotonic() - t0


def test_a_hostile_maildir_is_read_with_notes(tmp_path: Path) -> None:
    root = hostile_maildir(tmp_path / "md")
    result, elapsed = run_collect(f"maildir:{root}")
    assert elapsed < 10
    assert result.status_of(CONTROL) is Arrival.DELIVERED  # the copy with the odd name is found
    assert sorted(result.skipped) == [
        "INBOX/cur/1700000002.zero.host:2,: not a regular file (a character device)",
        "INBOX/cur/1700000003.null.host:2,: not a regular file (a character device)",
        "INBOX/new/1700000001.fifo.host: not a regular file (a FIFO)",
        f"INBOX/new/1700000004.huge.host: {MESSAGE_MAX + 1:,} bytes, larger than {MESSAGE_MAX:,}",
        "Junk/cur/1700000007.fifo.host:2,: not a regular file (a FIFO)",
    ]
    text = json.dumps(to_data(result), ensure_ascii=False)  # notes are plain text
    text.encode("utf-8")
    assert from_data(CollectResult, json.loads(text)) == result


def test_a_message_with_a_non_utf8_name_is_kept_and_deleted_by_its_name(tmp_path: Path) -> None:
    root = tmp_path / "md"
    mailbox.Maildir(root, create=True)
    (root / "cur" / NON_UTF8).write_bytes(tagged(CONTROL))

    async def main() -> int:
        box = await open_mailbox(f"maildir:{root}")
        found = await box.find([CONTROL])
        return await box.delete(found[CONTROL])

    assert asyncio.run(main()) == 1
    assert os.listdir(root / "cur") == []


def test_skipped_notes_are_bounded(tmp_path: Path) -> None:
    root = tmp_path / "md"
    mailbox.Maildir(root, create=True)
    for i in range(150):
        os.mkfifo(root / "new" / f"{i}.fifo")
    result, elapsed = run_collect(f"maildir:{root}")
    assert len(result.skipped) == 100 and elapsed < 10


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "dir"])
def test_an_mbox_that_is_not_a_file_is_one_line(tmp_path: Path, target: str) -> None:
    path = tmp_path / "box"
    if target == "fifo":
        os.mkfifo(path)
    elif target == "dir":
        path.mkdir()
    else:
        path.symlink_to(target)
    with pytest.raises(MailboxError) as info:
        asyncio.run(open_mailbox(f"mbox:{path}"))
    assert str(info.value).endswith("not an mbox file") and "\n" not in str(info.value)


def test_hostile_mbox_separators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mbox_module, "MESSAGE_MAX", 10_000)
    path = tmp_path / "box"
    copy = tagged(CONTROL).replace(b"\r\n", b"\n")
    path.write_bytes(
        b"From "
        + b"x" * 300_000
        + b"\n"  # one endless separator line
        + b"From \n" * 50_000  # tens of thousands of empty messages
        + b"From a\n"
        + b"y" * 20_000
        + b"\n\n"  # a message over the (lowered) cap
        + b"From b\n"
        + b">From not a separator\n"
        + copy
        + b"\n"
        + b"From c"  # a separator without its newline at the very end
    )
    result, elapsed = run_collect(f"mbox:{path}")
    assert elapsed < 10
    assert result.status_of(CONTROL) is Arrival.DELIVERED
    assert result.skipped == ("message 50002: larger than 10,000 bytes",)


def stdlib_messages(path: Path) -> list[bytes]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()


LINES = st.lists(
    st.one_of(
        st.sampled_from([b"From ", b"From x\n", b"\n", b"\r\n", b"From \n", b">From y\n", b"a\n"]),
        st.binary(max_size=30),
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(LINES, st.sampled_from([7, 64 * 1024]))
def test_the_splitter_agrees_with_stdlib(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], chunk: int
) -> None:
    data = b"".join(lines)
    path = tmp_path_factory.mktemp("mbox") / "box"
    path.write_bytes(data)
    old = mbox_module.LINE_CHUNK
    mbox_module.LINE_CHUNK = chunk  # long lines arrive in pieces: the split must not change
    try:
        ours = list(messages(io.BytesIO(data), len(data)))
    finally:
        mbox_module.LINE_CHUNK = old
    assert ours == stdlib_messages(path)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([b"From ", b"\n", b"From \n", b"x", b"\r\n"]), st.integers(1, 100_000))
def test_the_splitter_is_linear(piece: bytes, n: int) -> None:
    data = piece * n
    t0 = time.perf_counter()
    for _ in messages(io.BytesIO(data), len(data)):
        pass
    assert time.perf_counter() - t0 < 2.0


HOSTILE_HEADERS = [
    b"From: " + b"(" * 50_000 + b"\r\n",  # the address parser recurses
    b"From: " + b"g:" * 50_000 + b"\r\n",
    b"Subject: =?unknown-8bit?q?=E9?=\r\n",  # a charset Python does not know
    "Subject: =?\xe9?q?x?=\r\n".encode("latin-1"),
]


@pytest.mark.parametrize("header", HOSTILE_HEADERS, ids=["parens", "colons", "8bit", "e9"])
def test_hostile_headers_do_not_end_the_collection(tmp_path: Path, header: bytes) -> None:
    root = tmp_path / "md"
    box = mailbox.Maildir(root, create=True)
    box.add(header + tagged(CONTROL))
    box.add(header + bounce_for(CONTROL))

    def ids(raw: bytes) -> tuple[str, ...]:
        raise OverflowError("date value out of range")  # a bounce parser that breaks

    async def main() -> CollectResult:
        mb = await open_mailbox(f"maildir:{root}")
        return await collect(mb, {CONTROL: "c"}, deadline=time.monotonic(), is_bounce_for=ids)

    result = asyncio.run(main())
    matched = result.status_of(CONTROL) is Arrival.DELIVERED
    assert matched or any("could not be matched" in note for note in result.skipped)
    assert "a bounce in INBOX: could not be parsed: OverflowError" in result.skipped


def test_a_matcher_that_raises_becomes_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise LookupError("unknown encoding: unknown-8bit")

    monkeypatch.setattr(match_module, "identify", broken)
    monkeypatch.setattr(match_module, "looks_like_bounce", broken)
    assert match_module.identified(b"x", [CONTROL]) == (None, "could not be matched: LookupError")
    assert match_module.bounce_like(b"x") == (False, "could not be read as a bounce: LookupError")
