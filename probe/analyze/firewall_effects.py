"""What each `Effect` of a box means: its status for the exit code and its summary phrase,
read once from probe/data/firewall.toml (knowledge as data); a broken table is a ConfigError."""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from importlib import resources

from probe.errors import ConfigError
from probe.model.firewall import Effect
from probe.model.status import Status

WHERE = "probe/data/firewall.toml"


@dataclasses.dataclass(frozen=True)
class EffectMeaning:
    status: Status
    phrase: str = ""  # "" : no summary line


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
        result[effect] = EffectMeaning(Status[item["status"]], phrase)
    return result
