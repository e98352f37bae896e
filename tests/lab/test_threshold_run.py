"""The threshold search over loopback when it is cut short: the round in flight is kept."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from probe.model.run import ThresholdReport
from probe.model.threshold import ProbeVerdict
from probe.send.matrix import Target
from probe.send.threshold import size_search
from tests.lab.smtp_peers import Stall, options, raw_server


def test_interrupted_search_reports_the_round_in_flight() -> None:
    peer = Stall(stall_from=3500)  # answers 250 below 3,500 bytes, withholds it from there on
    kept: list[ThresholdReport] = []

    async def go() -> None:
        async with raw_server(peer) as port:
            search = size_search(
                Target("mx.lab.test", "127.0.0.1", port),
                options(port),
                "20261123T120000-abcdef",
                low=2000,
                high=4000,
                k=2,
                high_known_fail=False,
                mail_from="sender@probe.test",
                to="rcpt@lab.test",
                date=dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC),
                on_interrupt=kept.append,
            )
            task = asyncio.ensure_future(search)
            await asyncio.wait_for(peer.waiting.wait(), 2.0)
            for _ in range(100):  # the 3,000-byte probe gets its 250 and says QUIT
                if peer.quits:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # ... and converse returns
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())
    (report,) = kept
    search = report.search
    assert search.stopped == "interrupted during round 1: search not finished"
    assert search.threshold is None and search.low == 2000  # nothing narrowed by half a round
    (rnd,) = search.rounds
    assert [(p.value, p.verdict) for p in rnd.points] == [
        (3000, ProbeVerdict.PASS),
        (4000, ProbeVerdict.UNKNOWN),
    ]
    assert rnd.points[1].detail == "interrupted at data-end: interrupted by probe during data-end"
