"""Maildir and mbox mailboxes, and the wait loop, on real files in tmp_path (no mocks)."""

from __future__ import annotations

import asyncio
import json
import mailbox
import re
import time
from pathlib import Path

import pytest

from probe.collect.base import Mailbox
from probe.collect.mailboxes import open_mailbox
from probe.collect.maildir import MaildirMailbox
from probe.collect.urls import parse_mailbox_url
from probe.collect.wait import collect
from probe.errors import MailboxError
from probe.model.collect import Arrival, CollectResult
from probe.model.json import from_data, to_data
from probe.model.message import PROBE_ID_PATTERN
from tests.mta.messages import bounce_for, probe_id, tagged

CONTROL = probe_id("control")
SIZE = probe_id("size-1m")
EXE = probe_id("attach-exe")


def bounce_ids(raw: bytes) -> tuple[str, ...]:
    """Stand-in for `parse_bounce(raw).probe_ids`: reports only, ids by regex."""
    if b"multipart/report" not in raw:
        return ()
    return tuple(dict.fromkeys(re.findall(PROBE_ID_PATTERN, raw.decode("ascii", "replace"))))


def make_maildir(path: Path, *, junk: bool = False) -> mailbox.Maildir:
    box = mailbox.Maildir(path, create=True)
    if junk:
        box.add_folder("Junk")
    return box


def drop(box: mailbox.Maildir | mailbox.mbox, raw: bytes) -> None:
    box.add(raw)
    box.flush()


def test_finds_copies_in_root_and_junk_folders(tmp_path: Path) -> None:
    box = make_maildir(tmp_path / "md", junk=True)
    drop(box, tagged(CONTROL))
    drop(box.get_folder("Junk"), tagged(SIZE))
    drop(box, b"Subject: unrelated\r\n\r\nhello\r\n")

    async def main() -> dict[str, list]:
        mb = await open_mailbox(f"maildir:{tmp_path / 'md'}")
        try:
            return await mb.find([CONTROL, SIZE, EXE])
        finally:
            await mb.close()

    found = asyncio.run(main())
    assert [(c.folder, c.junk, c.matched_by) for c in found[CONTROL]] == [
        ("INBOX", False, "x-probe-id")
    ]
    assert [(c.folder, c.junk) for c in found[SIZE]] == [("Junk", True)]
    assert found[EXE] == []
    assert found[CONTROL][0].raw == tagged(CONTROL) or b"X-Probe-Id" in found[CONTROL][0].raw
    assert found[CONTROL][0].source == f"maildir:{tmp_path / 'md'}"


@pytest.mark.parametrize(
    ("kwargs", "matched_by"),
    [
        ({}, "x-probe-id"),
        ({"x_probe_id": False}, "message-id"),
        ({"x_probe_id": False, "message_id": False}, "subject"),
        ({"x_probe_id": False, "message_id": False, "subject": False}, "body"),
    ],
)
def test_falls_back_to_the_tag_that_survived(
    tmp_path: Path, kwargs: dict[str, bool], matched_by: str
) -> None:
    box = make_maildir(tmp_path / "md")
    drop(box, tagged(CONTROL, **kwargs))

    async def main() -> str:
        mb = MaildirMailbox(parse_mailbox_url(f"maildir:{tmp_path / 'md'}"))
        return (await mb.find([CONTROL]))[CONTROL][0].matched_by

    assert asyncio.run(main()) == matched_by


def test_bounce_is_not_a_copy(tmp_path: Path) -> None:
    box = make_maildir(tmp_path / "md")
    drop(box, bounce_for(CONTROL))

    async def main() -> tuple[dict[str, list], list]:
        mb = MaildirMailbox(parse_mailbox_url(f"maildir:{tmp_path / 'md'}"))
        return await mb.find([CONTROL]), await mb.find_bounces(["20240501T120000-abc123"])

    copies, bounces = asyncio.run(main())
    assert copies == {CONTROL: []}
    assert len(bounces) == 1 and bounce_ids(bounces[0].raw) == (CONTROL,)


def run_collect(
    mailbox_url: str,
    expected: dict[str, str],
    deliveries: list[tuple[float, object, bytes]],
    *,
    timeout: float,
    bounce_url: str | None = None,
) -> tuple[CollectResult, float]:
    """collect() while a background task drops messages at the given delays."""

    async def deliver() -> None:
        t0 = time.monotonic()
        for delay, box, raw in deliveries:
            await asyncio.sleep(max(0.0, delay - (time.monotonic() - t0)))
            await asyncio.to_thread(drop, box, raw)  # type: ignore[arg-type]

    async def main() -> tuple[CollectResult, float]:
        mb: Mailbox = await open_mailbox(mailbox_url)
        bounce_mb = await open_mailbox(bounce_url) if bounce_url else None
        dropper = asyncio.create_task(deliver())
        t0 = time.monotonic()
        result = await collect(
            mb,
            expected,
            deadline=t0 + timeout,
            bounce_mailbox=bounce_mb,
            is_bounce_for=bounce_ids,
        )
        elapsed = time.monotonic() - t0
        await dropper
        await mb.close()
        return result, elapsed

    return asyncio.run(main())


def test_collect_waits_for_late_deliveries_and_bounces(tmp_path: Path) -> None:
    box = make_maildir(tmp_path / "md", junk=True)
    bounces = make_maildir(tmp_path / "bounces")
    expected = {CONTROL: "control", SIZE: "size-1m", EXE: "attach-exe"}
    deliveries = [
        (0.2, box, tagged(CONTROL)),
        (0.5, box.get_folder("Junk"), tagged(SIZE)),
        (0.8, bounces, bounce_for(EXE)),
    ]
    result, elapsed = run_collect(
        f"maildir:{tmp_path / 'md'}",
        expected,
        deliveries,
        timeout=10,
        bounce_url=f"maildir:{tmp_path / 'bounces'}",
    )
    assert elapsed < 5, "must stop as soon as everything is accounted for"
    assert not result.deadline_passed
    by_id = {s.probe_id: s for s in result.statuses}
    assert by_id[CONTROL].status is Arrival.DELIVERED and by_id[CONTROL].folders == ("INBOX",)
    assert by_id[SIZE].status is Arrival.DELIVERED and by_id[SIZE].junk
    assert by_id[EXE].status is Arrival.BOUNCED and by_id[EXE].bounces == 1
    assert [b.probe_ids for b in result.bounces] == [(EXE,)]
    assert result.bounce_mailbox.endswith("bounces")
    assert all(s.first_seen_ms is not None and s.first_seen_ms > 100 for s in result.statuses)
    # the JSON projection keeps the raw bytes and loads back; a bounce is one flat object
    data = json.loads(json.dumps(to_data(result)))
    assert from_data(CollectResult, data) == result
    assert list(data["bounces"][0]) == ["probe_ids", "raw", "folder", "junk", "source", "found_at"]


def test_deadline_is_honoured_and_missing_reported(tmp_path: Path) -> None:
    box = make_maildir(tmp_path / "md")
    expected = {CONTROL: "control", SIZE: "size-1m"}
    result, elapsed = run_collect(
        f"maildir:{tmp_path / 'md'}", expected, [(0.1, box, tagged(CONTROL))], timeout=1.5
    )
    assert 1.4 <= elapsed < 3.0
    assert result.deadline_passed
    assert result.status_of(CONTROL) is Arrival.DELIVERED
    assert result.status_of(SIZE) is Arrival.MISSING
    assert result.missing == (SIZE,)


def test_mbox_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(path, create=True)
    drop(box, b"Subject: old\r\n\r\nnot a probe\r\n")
    expected = {CONTROL: "control", EXE: "attach-exe"}
    deliveries = [(0.3, box, tagged(CONTROL)), (0.6, box, bounce_for(EXE))]
    result, elapsed = run_collect(f"mbox:{path}", expected, deliveries, timeout=10)
    assert elapsed < 5
    assert result.status_of(CONTROL) is Arrival.DELIVERED
    assert result.status_of(EXE) is Arrival.BOUNCED


@pytest.mark.parametrize("scheme", ["maildir", "mbox"])
def test_cleanup_deletes_what_was_found(tmp_path: Path, scheme: str) -> None:
    path = tmp_path / "box"
    box: mailbox.Maildir | mailbox.mbox = (
        mailbox.Maildir(path, create=True) if scheme == "maildir" else mailbox.mbox(path)
    )
    drop(box, tagged(CONTROL))
    drop(box, b"Subject: keep me\r\n\r\nx\r\n")

    async def main() -> tuple[int, dict[str, list]]:
        mb = await open_mailbox(f"{scheme}:{path}")
        found = await mb.find([CONTROL])
        removed = await mb.delete(found[CONTROL])
        return removed, await mb.find([CONTROL])

    removed, after = asyncio.run(main())
    assert removed == 1 and after == {CONTROL: []}
    reopened = mailbox.Maildir(path) if scheme == "maildir" else mailbox.mbox(path)
    assert [m["Subject"] for m in reopened] == ["keep me"]


@pytest.mark.parametrize("scheme", ["maildir", "mbox"])
def test_missing_mailbox_is_a_one_line_error(tmp_path: Path, scheme: str) -> None:
    with pytest.raises(MailboxError) as info:
        asyncio.run(open_mailbox(f"{scheme}:{tmp_path / 'nope'}"))
    assert "\n" not in str(info.value) and "nope" in str(info.value)
