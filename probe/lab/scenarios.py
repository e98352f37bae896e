"""The lab's scenarios, loaded from `scenarios.toml` (data) into frozen dataclasses.

`tune` and `select` derive variants (a smaller threshold for a test, a subset of scenarios)
without touching the file.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from probe.errors import ConfigError

LAB_ZONE = "lab.probe.test"


@dataclasses.dataclass(frozen=True)
class HopSpec:
    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.params)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    expected: str
    hops: tuple[HopSpec, ...]

    @property
    def domain(self) -> str:
        return f"{self.name}.{LAB_ZONE}"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(h.kind for h in self.hops)


def _hop(where: str, raw: Any) -> HopSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise ConfigError("each hop needs a string `kind`", path=where, key="hops")
    params = tuple(sorted((k, v) for k, v in raw.items() if k != "kind"))
    return HopSpec(raw["kind"], params)


def parse_scenarios(data: dict[str, Any], where: str = "scenarios.toml") -> tuple[Scenario, ...]:
    result: list[Scenario] = []
    for index, raw in enumerate(data.get("scenario", [])):
        spot = f"{where}: scenario[{index}]"
        name = raw.get("name")
        if not isinstance(name, str) or not name.isalnum() or name != name.lower():
            raise ConfigError("needs a lower-case alphanumeric `name` (a DNS label)", path=spot)
        hops = raw.get("hops")
        if not isinstance(hops, list) or not hops:
            raise ConfigError("needs a non-empty list `hops`", path=spot, key="hops")
        unknown = set(raw) - {"name", "description", "expected", "hops"}
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", path=spot)
        result.append(
            Scenario(
                name=name,
                description=str(raw.get("description", "")),
                expected=str(raw.get("expected", "")),
                hops=tuple(_hop(spot, h) for h in hops),
            )
        )
    names = [s.name for s in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"duplicate scenario name(s) {', '.join(duplicates)}", path=where)
    return tuple(result)


def load_scenarios(path: Path | None = None) -> tuple[Scenario, ...]:
    """The shipped scenarios, or those of another TOML file."""
    if path is None:
        text = resources.files("probe.lab").joinpath("scenarios.toml").read_text("utf-8")
        where = "scenarios.toml"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
        where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from exc
    return parse_scenarios(data, where)


def select(scenarios: Iterable[Scenario], names: Iterable[str]) -> tuple[Scenario, ...]:
    """The named scenarios, in the given order; an unknown name is a ConfigError."""
    by_name = {s.name: s for s in scenarios}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"unknown scenario(s) {', '.join(missing)} (known: {', '.join(by_name)})")
    return tuple(by_name[n] for n in names)


def tune(
    scenarios: Iterable[Scenario], name: str, kind: str, **params: Any
) -> tuple[Scenario, ...]:
    """A copy where the `kind` hop of scenario `name` has `params` changed (e.g. a threshold)."""
    result = []
    for scenario in scenarios:
        if scenario.name == name:
            hops = tuple(
                dataclasses.replace(h, params=tuple(sorted({**h.options, **params}.items())))
                if h.kind == kind
                else h
                for h in scenario.hops
            )
            scenario = dataclasses.replace(scenario, hops=hops)
        result.append(scenario)
    return tuple(result)
