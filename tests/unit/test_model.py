from __future__ import annotations

import datetime as dt
import json

from probe.model.json import document, from_data, to_data
from probe.model.mx import MxHost, MxResult, MxSource
from probe.model.smtp import Conversation, Direction, Outcome, Reply, TranscriptLine
from probe.model.status import Status, worst


def test_worst_ranks_critical_over_unknown_over_warning() -> None:
    assert worst([]) is Status.OK
    assert worst([Status.WARNING, Status.OK]) is Status.WARNING
    assert worst([Status.WARNING, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.UNKNOWN, Status.CRITICAL, Status.WARNING]) is Status.CRITICAL


def test_round_trip_through_json() -> None:
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    conv = Conversation(
        host="mx.lab.test",
        address="127.0.0.1",
        port=2525,
        helo="probe.local",
        started_at=now,
        duration_ms=12.5,
        outcome=Outcome.OK,
        stage="quit",
        banner=Reply(220, ("mx ESMTP",)),
        capabilities=("SIZE 10485760", "8BITMIME"),
        transcript=(TranscriptLine(now, 0.0, Direction.SERVER, "220 mx ESMTP"),),
    )
    text = json.dumps(document("probe.connect/1", conv))
    back = from_data(Conversation, json.loads(text))
    assert back == conv
    mx = MxResult("lab.test", MxSource.MX, (MxHost(10, "mx.lab.test", ("127.0.0.1",)),))
    assert from_data(MxResult, to_data(mx)) == mx
