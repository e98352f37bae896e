"""The scenario tier of issue 10: paths built around a real Postfix (Debian 12's 3.7), each
asserting the right hop and action AND that no other hop is accused.

Run alone with `pytest -n 0 tests/mta/test_mta_paths.py` (as root, with postfix, dovecot-imapd,
dovecot-lmtpd and postgrey installed: .ci/run does it). One Postfix serves every path of the
module (tests/mta/paths.py); the project's own boxes stand in front of it (tests/mta/boxes.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.model.verdict import Action
from tests.mta import boxes, paths, servers, verdicts
from tests.mta.probe_runs import profile, run_probe

pytestmark = pytest.mark.mta

MX = servers.MX_NAME
FRONT = f"front:{MX}"


@pytest.fixture(scope="module")
def postfix() -> Iterator[paths.Paths]:
    reason = servers.missing_reason()
    if reason:
        pytest.skip(reason)
    with paths.postfix_paths() as running:
        yield running


CHECKPOINT_LIMIT = 150_000
CHECKPOINT_PROFILE = profile(
    "checkpoint",
    """
[[variant]]
id = "size-50k"
description = "50 kB, below the box's limit"
size = "50kB"

[[variant]]
id = "size-300k"
description = "300 kB, over the box's limit"
size = "300kB"
""",
)


@pytest.fixture(scope="module")
def checkpoint(postfix: paths.Paths) -> Iterator[tuple[str, int]]:
    """The lab's Check Point proxy passing Postfix's banner through, answering the rest."""
    with boxes.box_in_front(
        "checkpoint", postfix.plain, pass_banner=True, threshold=CHECKPOINT_LIMIT
    ) as entry:
        yield entry


def test_checkpoint_in_front_of_postfix_is_blamed_not_postfix(
    postfix: paths.Paths, checkpoint: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed case: the box passes Postfix's banner, answers EHLO..DATA itself, refuses over
    its limit with `554 Permanent scan failure. Email Session ID: {...}` and adds X-CheckPoint.
    Run twice: the same verdict both times."""
    summaries = []
    for _ in range(2):
        result = run_probe(postfix.dovecot, checkpoint, CHECKPOINT_PROFILE, monkeypatch)
        assert result.hop1 is not None and result.hop1.greeting is not None
        assert "ESMTP Postfix (probe mta test)" in result.hop1.greeting.text  # passed through
        decision = verdicts.decision_of(result)
        rejection = verdicts.blamed(decision, FRONT, Action.REJECTS)
        assert rejection.variants == ("size-300k",)
        assert any("Permanent scan failure" in e.text for e in rejection.evidence)
        verdicts.blamed(decision, FRONT, Action.INJECTS)
        verdicts.nobody_else(decision, FRONT)
        verdicts.headline_spares(decision, MX)
        summaries.append(verdicts.describe(decision))
    assert summaries[0] == summaries[1]
