"""One `Timeouts` type: `probe connect`'s defaults, a profile's own, and how a profile's four
keys fill its six fields."""

from __future__ import annotations

from probe.model.smtp import Timeouts
from probe.plan.profiles import PROFILE_TIMEOUTS, parse_profile

CONTROL = '[[variant]]\nid = "control"\ndescription = "plain"\n'


def test_a_profile_without_timeouts_has_the_profile_defaults() -> None:
    profile = parse_profile(CONTROL, source="t.toml")
    assert profile.defaults.timeouts == PROFILE_TIMEOUTS
    assert PROFILE_TIMEOUTS.connect == 30.0 and Timeouts().connect == 10.0


def test_command_bounds_tls_and_upload_blocks_and_data_the_final_reply() -> None:
    text = '[defaults.timeouts]\ncommand = "45s"\ndata = "2m"\n' + CONTROL
    timeouts = parse_profile(text, source="t.toml").defaults.timeouts
    assert timeouts == Timeouts(
        connect=30.0, banner=120.0, command=45.0, tls=45.0, data_block=45.0, final_reply=120.0
    )
