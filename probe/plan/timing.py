"""A profile's timing variants: which variants are measured more than once, and how long the
final dot is held (pure).

One final-reply time per size cannot tell a scanner from a busy machine: the `[timing]` table
repeats the named variants (`<id>-t2`, `<id>-t3`, ...; each repeat is the same message again,
`VariantSpec.repeat_of` naming the first) and holds their final dot until the hop has read every
byte (its TCP acknowledged them and reopened its receive window) and `hold + hold_per_mb * MB`
seconds more, so what the wait after the dot measures is the hop's work on the whole message,
not the time it needs to read it (`probe.send.converse`).

    [timing]
    variants = ["control", "size-100k", "size-1m"]
    repeat = 3            # measurements per variant, the first included (1 .. 5)
    hold = "0.25s"        # the dot's hold for every timed variant ...
    hold_per_mb = "0.5s"  # ... plus this per MB of the variant's size
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from probe.model.variant import VariantSpec
from probe.plan.values import Values, shown
from probe.plan.variants import MAX_ID

MAX_REPEAT = 5
MAX_HOLD = 10.0  # seconds one dot is held at most, whatever the size
KEYS = ("variants", "repeat", "hold", "hold_per_mb")


@dataclasses.dataclass(frozen=True)
class Timing:
    """What a profile's `[timing]` table says (merged over its bases key by key)."""

    variants: tuple[str, ...] = ()
    repeat: int = 1
    hold: float = 0.0
    hold_per_mb: float = 0.0

    def hold_for(self, spec: VariantSpec) -> float:
        """Seconds the dot of `spec` is held: the base plus the per-MB part of its exact size
        (a variant of natural or advertised size gets the base)."""
        per_mb = self.hold_per_mb * (spec.size or 0) / 1_000_000
        return round(min(MAX_HOLD, self.hold + per_mb), 3)


def parse_timing(values: Values, raw: Any) -> dict[str, Any]:
    """The keys a file's `[timing]` table sets, validated (the merge keeps the later file's)."""
    table = values.table(raw, "timing", KEYS)
    out: dict[str, Any] = {}
    if "variants" in table:
        items = values.typed(table["variants"], "timing.variants", list, "a list of variant ids")
        values.count(items, "timing.variants", 50, "ids")
        out["variants"] = tuple(
            values.text(item, f"timing.variants[{i}]") for i, item in enumerate(items)
        )
    if "repeat" in table:
        out["repeat"] = values.integer(table["repeat"], "timing.repeat", 1, MAX_REPEAT)
    for key in ("hold", "hold_per_mb"):
        if key in table:
            seconds = values.seconds(table[key], f"timing.{key}", zero=True)
            if seconds > MAX_HOLD:
                raise values.fail(f"timing.{key}", f"{seconds:g} s is over {MAX_HOLD:g} s")
            out[key] = seconds
    return out


def timed_variants(
    values: Values, specs: Mapping[str, VariantSpec], settings: Mapping[str, Any]
) -> tuple[VariantSpec, ...]:
    """The variants in order with the timed ones held and followed by their repeats; an id the
    table names that no variant has is an error."""
    timing = Timing(**settings)
    for i, name in enumerate(timing.variants):
        if name not in specs:
            raise values.fail(f"timing.variants[{i}]", f"no variant {shown(name)} to time")
    out = tuple(_expanded(specs.values(), timing))
    seen: set[str] = set()
    for spec in out:
        if spec.id in seen or len(spec.id) > MAX_ID:
            why = "is taken" if spec.id in seen else f"is over {MAX_ID} characters"
            raise values.fail("timing.variants", f"the repeat id {shown(spec.id)} {why}")
        seen.add(spec.id)
    return out


def _expanded(specs: Iterable[VariantSpec], timing: Timing) -> Iterable[VariantSpec]:
    """The variants with the timed ones held, then each round of repeats in the same order:
    the sizes interleave in time, so a burst of load on the machine or the path lands on one
    measurement of several sizes rather than on every measurement of one."""
    timed = set(timing.variants)
    held = [dataclasses.replace(s, hold=timing.hold_for(s)) if s.id in timed else s for s in specs]
    yield from held
    for n in range(2, timing.repeat + 1):
        for spec in held:
            if spec.id in timed:
                yield dataclasses.replace(
                    spec,
                    id=f"{spec.id}-t{n}",
                    description=f"{spec.description[:170]} (timing repeat {n} of {timing.repeat})",
                    repeat_of=spec.id,
                )
