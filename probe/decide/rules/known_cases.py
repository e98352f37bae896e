"""Known causes of a condition (`probe/data/known_cases.toml`): a verdict whose separating
properties and action are exactly a known case's names it as the likely cause, e.g. the
Exchange 5.5 anti-virus API failing an attachment sent to several recipients (pure; loaded
once)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from probe.decide.rules.causes import read_knowledge
from probe.decide.rules.conditions import Condition
from probe.decide.rules.traits import Trait
from probe.errors import ConfigError
from probe.model.verdict import Action, Evidence

WHERE = "probe/data/known_cases.toml"
_SAME = {Trait.ATTACHMENT_KIND: Trait.ATTACHMENT}  # an attachment of some kinds is one


@dataclasses.dataclass(frozen=True)
class KnownCase:
    id: str
    actions: frozenset[Action]
    traits: frozenset[Trait]
    names: str  # what it is: "Microsoft Exchange Server 5.5 with a VSAPI scanner ..."
    cause: str
    remedy: str
    source: str

    def clause(self) -> str:
        return f"; a known cause of exactly this: {self.names} ({self.source})"

    def evidence(self) -> Evidence:
        return Evidence("knowledge", f"{self.names}: {self.cause}; remedy: {self.remedy}")


def known_case(action: Action, condition: Condition) -> KnownCase | None:
    traits = frozenset(_SAME.get(t, t) for t in condition.traits)
    if not traits:
        return None
    return next((c for c in shipped_cases() if action in c.actions and c.traits == traits), None)


@functools.cache
def shipped_cases() -> tuple[KnownCase, ...]:
    return tuple(_case(item) for item in read_knowledge("known_cases.toml").get("case", []))


def _case(item: dict[str, Any]) -> KnownCase:
    key = f"case {item.get('id', '?')}"
    for field in ("id", "names", "cause", "remedy", "source"):
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise ConfigError(f"`{field}` must be a non-empty string", path=WHERE, key=key)
    try:
        actions = frozenset(Action(a) for a in item.get("actions", []))
        traits = frozenset(Trait(t) for t in item.get("traits", []))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"unknown action or trait: {exc}", path=WHERE, key=key) from None
    if not actions or not traits:
        raise ConfigError("needs actions and traits", path=WHERE, key=key)
    return KnownCase(
        item["id"], actions, traits, item["names"], item["cause"], item["remedy"], item["source"]
    )
