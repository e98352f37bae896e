"""The conversation's mutable record holds exactly the fields of `Conversation` that the peer
fills, so a new field cannot be forgotten and a mistyped one cannot vanish."""

from __future__ import annotations

import dataclasses

from probe.model.smtp import Conversation
from probe.send.converse import Observed

SESSION = {"host", "address", "port", "helo", "started_at", "duration_ms", "outcome", "stage",
           "reason", "steps", "transcript"}  # fmt: skip


def test_observed_and_the_session_make_up_a_conversation() -> None:
    observed = {f.name for f in dataclasses.fields(Observed)}
    assert not observed & SESSION
    assert observed | SESSION == {f.name for f in dataclasses.fields(Conversation)}


def test_observed_defaults_are_the_conversations() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Conversation)}
    assert all(f.default == defaults[f.name] for f in dataclasses.fields(Observed))
