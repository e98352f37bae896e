"""What a refusal is about (loop protection, TLS or authentication required, relaying refused,
greylisting, a size limit), from `probe/data/refusal_causes.toml`: the knowledge a verdict uses
to name a refusal and link it to the finding that explains it (pure; loaded once).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import tomllib
from importlib import resources
from typing import Any

from probe.analyze import codes
from probe.analyze.code_tables import Refusal
from probe.decide.context import Context
from probe.decide.rules.traits import Trait
from probe.errors import ConfigError, UsageError
from probe.model.send import VariantSend
from probe.model.smtp import Outcome, Reply
from probe.smtp.replies import enhanced_status

WHERE = "probe/data/refusal_causes.toml"
_DETAIL = re.compile(r"^X\.\d{1,3}\.\d{1,3}$")


class CauseKind(enum.StrEnum):
    LOOP = "loop"  # a Received-count limit: the separating trait is the Received count
    TLS_REQUIRED = "tls-required"  # explained by STARTTLS missing or stripped on the way
    AUTH_REQUIRED = "auth-required"
    RELAY_DENIED = "relay-denied"
    GREYLISTING = "greylisting"
    SIZE = "size"  # a size limit: the separating trait is the size


_TRAIT = {CauseKind.LOOP: Trait.RECEIVED, CauseKind.SIZE: Trait.SIZE}


@dataclasses.dataclass(frozen=True)
class Cause:
    id: str
    kind: CauseKind
    names: str  # what the refusing hop does, as a verdict says it: "protects against mail loops"
    because: str  # why that refuses the message
    enhanced: tuple[str, ...]  # "X.4.6"
    codes: tuple[int, ...]  # empty: any
    patterns: tuple[re.Pattern[str], ...]
    source: str
    refusal: Refusal | None = None  # matches what the codes knowledge calls this refusal

    @property
    def trait(self) -> Trait | None:
        """The property of a variant this cause is about, where it names one."""
        return _TRAIT.get(self.kind)

    def matches(self, code: int | None, text: str) -> bool:
        if self.codes and code not in self.codes:
            return False
        found = enhanced_status(code, text) if code is not None else None
        if found is not None and "X." + found.split(".", 1)[1] in self.enhanced:
            return True
        if any(p.search(text) for p in self.patterns):
            return True
        return self.refusal is not None and _refusal(code, text) is self.refusal


def _refusal(code: int | None, text: str) -> Refusal | None:
    """What the codes knowledge (`analyze.codes`) says the refusal is about."""
    try:
        return codes.explain(code, text).refusal
    except UsageError:
        return None


def cause_of(reply: Reply | None) -> Cause | None:
    """The first cause (in file order) whose enhanced code or text the reply matches."""
    if reply is None:
        return None
    text = " ".join(reply.lines)
    return next((c for c in shipped_causes() if c.matches(reply.code, text)), None)


def refused_for(ctx: Context, kind: CauseKind) -> list[VariantSend]:
    """The variants refused in the dialogue for a cause of this kind, by variant id."""
    found = [
        s
        for s in ctx.sends
        if s.outcome is Outcome.REJECTED and (c := cause_of(s.reply)) is not None and c.kind is kind
    ]
    return sorted(found, key=lambda s: s.variant)


def read_knowledge(name: str) -> dict[str, Any]:
    """A TOML file of probe/data, parsed; a ConfigError naming it when it cannot be."""
    try:
        return tomllib.loads(resources.files("probe.data").joinpath(name).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load: {exc}", path=f"probe/data/{name}") from None


@functools.cache
def shipped_causes() -> tuple[Cause, ...]:
    doc = read_knowledge("refusal_causes.toml")
    causes = tuple(_cause(item) for item in doc.get("cause", []))
    if len({c.id for c in causes}) != len(causes):
        raise ConfigError("duplicate cause id", path=WHERE)
    return causes


def _cause(item: dict[str, Any]) -> Cause:
    key = f"cause {item.get('id', '?')}"
    for field in ("id", "names", "because", "source"):
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise ConfigError(f"`{field}` must be a non-empty string", path=WHERE, key=key)
    try:
        kind = CauseKind(str(item.get("kind")))
        patterns = tuple(re.compile(p) for p in item.get("patterns", []))
    except (ValueError, re.error, TypeError) as exc:
        raise ConfigError(f"bad kind or pattern: {exc}", path=WHERE, key=key) from None
    enhanced = tuple(item.get("enhanced", []))
    allowed = tuple(item.get("codes", []))
    if not all(isinstance(e, str) and _DETAIL.match(e) for e in enhanced) or not all(
        isinstance(c, int) and 400 <= c <= 599 for c in allowed
    ):
        raise ConfigError("`enhanced` must be like X.4.6, `codes` 400..599", path=WHERE, key=key)
    try:
        refusal = Refusal(item["refusal"]) if "refusal" in item else None
    except ValueError as exc:
        raise ConfigError(f"bad refusal: {exc}", path=WHERE, key=key) from None
    cause = Cause(
        item["id"],
        kind,
        item["names"],
        item["because"],
        enhanced,
        allowed,
        patterns,
        item["source"],
        refusal,
    )
    samples = item.get("samples", [])
    if not (patterns or enhanced or refusal) or not samples:
        raise ConfigError(
            "needs patterns, enhanced codes or a refusal, and samples", path=WHERE, key=key
        )
    for sample in samples:
        code = (allowed or (550,))[0] if sample[:1] != "4" else 450
        if not cause.matches(code, str(sample)):
            raise ConfigError(f"sample does not match: {sample!r}", path=WHERE, key=key)
    return cause
