"""The stage vocabulary: one set of stages where a rejection can be about size, used by the
threshold search and by the run that decides whether to start one."""

from __future__ import annotations

import datetime as dt

import pytest

from probe.model.json import from_data, to_data
from probe.model.smtp import SIZE_STAGES, Conversation, Outcome, Stage
from probe.model.threshold import ProbeVerdict
from probe.send.threshold import classify

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def ended(outcome: Outcome, stage: Stage) -> Conversation:
    return Conversation("mx.test", "127.0.0.1", 25, "probe.test", NOW, 1.0, outcome, stage)


@pytest.mark.parametrize(
    ("outcome", "stage", "verdict"),
    [
        (Outcome.ACCEPTED, Stage.QUIT, ProbeVerdict.PASS),
        (Outcome.REJECTED, Stage.MAIL, ProbeVerdict.FAIL),  # 552 for the declared SIZE=
        (Outcome.REJECTED, Stage.UPLOAD, ProbeVerdict.FAIL),
        (Outcome.REJECTED, Stage.DATA_END, ProbeVerdict.FAIL),
        (Outcome.RESET, Stage.UPLOAD, ProbeVerdict.FAIL),  # cut off at the limit
        (Outcome.REJECTED, Stage.DATA, ProbeVerdict.HARD),  # before any byte: not about size
        (Outcome.REJECTED, Stage.RCPT, ProbeVerdict.HARD),
        (Outcome.TIMEOUT, Stage.DATA_END, ProbeVerdict.UNKNOWN),
    ],
)
def test_classify(outcome: Outcome, stage: Stage, verdict: ProbeVerdict) -> None:
    assert classify(ended(outcome, stage)) is verdict


def test_size_stages_are_mail_and_the_message_itself() -> None:
    assert SIZE_STAGES == {Stage.MAIL, Stage.UPLOAD, Stage.DATA_END}


def test_stages_keep_their_json_strings() -> None:
    data = to_data(ended(Outcome.REJECTED, Stage.DATA_END))
    assert data["stage"] == "data-end"
    assert from_data(Conversation, data).stage is Stage.DATA_END
