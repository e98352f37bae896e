"""Wait until every expected probe has a delivered copy or a bounce, or the deadline passes.

The loop looks, then waits for the mailbox to change (IMAP IDLE, a Maildir's mtime) for at
most a step that doubles from 1 s to 15 s while nothing happens, so a quiet mailbox is not
hammered and a busy one is answered quickly. The deadline is an absolute `time.monotonic()`
value; the result says per probe whether it was delivered, bounced or is missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping

from probe.collect.base import Mailbox
from probe.collect.match import run_ids_of
from probe.model.collect import (
    Arrival,
    ArrivalStatus,
    CollectedBounce,
    CollectResult,
)
from probe.model.message import DeliveredCopy
from probe.model.status import utcnow

STEP_FIRST = 1.0
STEP_MAX = 15.0

BounceMatcher = Callable[[bytes], tuple[str, ...]]


async def collect(
    mailbox: Mailbox,
    expected: Mapping[str, str],
    *,
    deadline: float,
    bounce_mailbox: Mailbox | None = None,
    is_bounce_for: BounceMatcher,
    step_first: float = STEP_FIRST,
    step_max: float = STEP_MAX,
    on_interrupt: Callable[[CollectResult], None] | None = None,
) -> CollectResult:
    """Collect copies and bounces of `expected` (probe id -> variant) until done or `deadline`.

    `is_bounce_for(raw)` names the probe ids a bounce reports on (e.g. from `analyze.bounce`); it
    may also name a bare run id (an ENVID), which counts only when one probe of that run is
    expected, since it cannot tell the variants apart. Cancelled, it hands what it found so far
    to `on_interrupt` (statuses only for the probes found) and re-raises.
    """
    started_at, t0 = utcnow(), time.monotonic()
    bounces_from = bounce_mailbox or mailbox
    run_ids = run_ids_of(expected)
    first_seen: dict[str, float] = {}
    copies: dict[str, list[DeliveredCopy]] = {p: [] for p in expected}
    bounces: dict[bytes, CollectedBounce] = {}
    unparsed: dict[bytes, str] = {}  # bounces `is_bounce_for` raised on: noted, not counted
    step = step_first
    def result(done: Iterable[str]) -> CollectResult:
        notes = (*mailbox.skipped, *bounces_from.skipped, *unparsed.values())
        return CollectResult(
            mailbox=mailbox.source,
            bounce_mailbox=bounces_from.source,
            started_at=started_at,
            duration_ms=(time.monotonic() - t0) * 1000,
            deadline_passed=len(first_seen) < len(expected),
            statuses=tuple(
                _status(p, v, copies.get(p, []), bounces.values(), first_seen.get(p))
                for p, v in expected.items()
                if p in done
            ),
            delivered=tuple(c for p in expected for c in copies.get(p, [])),
            bounces=tuple(bounces.values()),
            skipped=tuple(dict.fromkeys(notes)),
        )

    try:
        while True:
            copies = await mailbox.find(tuple(expected))
            for found in await bounces_from.find_bounces(run_ids):
                try:
                    named = is_bounce_for(found.raw)
                except Exception as exc:  # noqa: BLE001 - an unparsable bounce must not end the run
                    unparsed[found.raw] = (
                        f"a bounce in {found.folder}: could not be parsed: {type(exc).__name__}"
                    )
                    continue
                ids = _bounced_ids(named, expected)
                if ids and found.raw not in bounces:
                    bounces[found.raw] = CollectedBounce(ids, found)
            bounced = {p for b in bounces.values() for p in b.probe_ids}
            now = time.monotonic()
            news = 0
            for probe_id in expected:
                if (copies.get(probe_id) or probe_id in bounced) and probe_id not in first_seen:
                    first_seen[probe_id] = (now - t0) * 1000
                    news += 1
            if len(first_seen) == len(expected) or now >= deadline:
                break
            step = step_first if news else min(step * 2, step_max)
            changed = await mailbox.wait_for_change(min(step, deadline - now))
            if changed:
                step = step_first
    except asyncio.CancelledError:  # what was found so far, the rest not (yet) collected
        if on_interrupt is not None:
            on_interrupt(dataclasses.replace(result(first_seen), deadline_passed=False))
        raise
    return result(expected)


def _bounced_ids(named: tuple[str, ...], expected: Mapping[str, str]) -> tuple[str, ...]:
    """The expected probe ids a bounce names (a bare run id only when it is unambiguous)."""
    ids: list[str] = []
    for name in named:
        if name in expected:
            ids.append(name)
        elif "." not in name:
            of_run = [p for p in expected if p.startswith(name + ".")]
            ids.extend(of_run if len(of_run) == 1 else ())
    return tuple(dict.fromkeys(ids))


def _status(
    probe_id: str,
    variant: str,
    copies: list[DeliveredCopy],
    bounces: Iterable[CollectedBounce],
    first_seen_ms: float | None,
) -> ArrivalStatus:
    n_bounces = sum(1 for b in bounces if probe_id in b.probe_ids)
    if copies:
        status = Arrival.DELIVERED
    elif n_bounces:
        status = Arrival.BOUNCED
    else:
        status = Arrival.MISSING
    return ArrivalStatus(
        probe_id=probe_id,
        variant=variant,
        status=status,
        folders=tuple(dict.fromkeys(c.folder for c in copies)),
        junk=any(c.junk for c in copies),
        matched_by=copies[0].matched_by if copies else "",
        bounces=n_bounces,
        first_seen_ms=first_seen_ms,
    )
