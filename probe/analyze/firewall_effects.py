"""What each `Effect` of a box means: its status for the exit code, its summary phrase and the
profile check that rates it instead when a profile is given (`rated`), read once from
probe/data/firewall.toml (knowledge as data); a broken table is a ConfigError."""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from importlib import resources

from probe.errors import ConfigError
from probe.model.firewall import Effect
from probe.model.status import Status
from probe.model.verdict import CHECK_DEFAULTS, CheckLevel

WHERE = "probe/data/firewall.toml"


@dataclasses.dataclass(frozen=True)
class EffectMeaning:
    status: Status
    phrase: str = ""  # "" : no summary line
    check: str = ""  # the profile check (probe.model.verdict.CHECK_DEFAULTS) that rates it


@functools.cache
def meanings() -> dict[Effect, EffectMeaning]:
    try:
        text = resources.files("probe.data").joinpath("firewall.toml").read_text("utf-8")
        table = tomllib.loads(text).get("effects", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load: {exc}", path=WHERE) from None
    result = {}
    for effect in Effect:
        item = table.get(effect.value)
        if not isinstance(item, dict) or item.get("status") not in Status.__members__:
            raise ConfigError(
                "needs a status of OK, WARNING, CRITICAL or UNKNOWN", path=WHERE, key=effect.value
            )
        phrase = item.get("phrase", "")
        if not isinstance(phrase, str):
            raise ConfigError("`phrase` must be a string", path=WHERE, key=effect.value)
        check = item.get("check", "")
        if check and check not in CHECK_DEFAULTS:
            raise ConfigError(f"unknown check {check!r}", path=WHERE, key=effect.value)
        result[effect] = EffectMeaning(Status[item["status"]], phrase, str(check))
    return result


LEVEL_STATUS = {
    CheckLevel.CRITICAL: Status.CRITICAL,
    CheckLevel.WARNING: Status.WARNING,
    CheckLevel.IGNORE: Status.OK,
}


def rated(effect: Effect, levels: Mapping[str, CheckLevel] | None) -> Status:
    """The effect's status; with a profile's levels, its check's level where it has one."""
    meaning = meanings()[effect]
    if levels is None or not meaning.check or meaning.status is Status.UNKNOWN:
        return meaning.status
    level = levels.get(meaning.check) or CHECK_DEFAULTS[meaning.check]
    return LEVEL_STATUS[level]
