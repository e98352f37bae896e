"""How much a finding weighs: the level a profile (or the default) gives the check an action
names, as the status it gives the run (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from probe.model.status import Status
from probe.model.verdict import ACTION_CHECK, CHECK_DEFAULTS, CheckLevel, HopAction

_STATUS = {CheckLevel.CRITICAL: Status.CRITICAL, CheckLevel.WARNING: Status.WARNING,
           CheckLevel.IGNORE: Status.OK}  # fmt: skip


def severity(action: HopAction, checks: Mapping[str, CheckLevel]) -> Status:
    """The profile's level for the action's check, else the check's default level."""
    code = action.check or ACTION_CHECK[action.action]
    return _STATUS[checks.get(code) or CHECK_DEFAULTS[code]]
