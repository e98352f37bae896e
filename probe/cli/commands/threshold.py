"""`probe threshold DOMAIN --to ADDR`: the exact byte size at which a hop starts failing.

Resolves and talks to hop 1 like `probe run` (its SIZE sets the default range end), confirms
that the lower bound passes, then runs the k-ary search of `probe.plan.threshold` over the network
(`probe.send.threshold`). The range end is not assumed to fail: "no failure up to X" is a result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable
from typing import Annotated

import typer
from tabulate import tabulate

from probe.cli.base import (
    CaFileOpt,
    DnsTimeoutOpt,
    DomainArg,
    FromOpt,
    HeloOpt,
    JsonOpt,
    NameserverOpt,
    NoStarttlsOpt,
    PortOpt,
    ToOpt,
    ViaOpt,
    app,
    emit_json,
    emit_text,
    finish,
    parse_nameservers,
    say,
)
from probe.cli.commands.run import build_request
from probe.errors import MeasurementError, UsageError
from probe.model.run import ThresholdReport
from probe.model.smtp import Outcome
from probe.model.status import Status
from probe.model.threshold import ProbePoint, ProbeVerdict
from probe.pipeline.run import RunRequest, check_target, new_state, probe_hop1, resolve_targets
from probe.plan.craft import MAX_SIZE
from probe.plan.profiles import load_profile
from probe.report.run import human_size
from probe.send.matrix import Target
from probe.send.threshold import check_size, size_search

THRESHOLD_SCHEMA = "probe.threshold/1"
DEFAULT_MIN = 1024
DEFAULT_MAX = 50 * 1024 * 1024
NOT_SIZE = "stops at the first hard failure that is not size-related"


@dataclasses.dataclass(frozen=True)
class ThresholdResult:
    """What `probe threshold` measured and what it means (`--json`: probe.threshold/1)."""

    domain: str
    to: str
    target: str
    low: int  # --min: the lower bound, probed first
    high: int  # --max: the range end (not assumed to fail)
    k: int
    precision: int
    advertised_size: int | None
    lower_bound: ProbePoint | None = None
    report: ThresholdReport | None = None  # None when the lower bound did not pass
    threshold: int | None = None  # smallest failing size (exact to `precision`)
    largest_pass: int | None = None
    rounds: int = 0
    meaning: str = ""
    status: Status = Status.UNKNOWN


def assess(result: ThresholdResult) -> tuple[Status, str]:
    """The status and a one-line meaning: the threshold judged against the advertised SIZE.

    Threshold at or below the advertised SIZE: the hop breaks its word (CRITICAL). Above it:
    the hop enforces SIZE (OK). No SIZE advertised but a limit found: WARNING (senders learn the
    limit only by rejection). No failure up to the range end: OK. Not measurable: UNKNOWN.
    """
    lower, adv = result.lower_bound, result.advertised_size
    if lower is not None and lower.verdict is not ProbeVerdict.PASS:
        if lower.verdict is ProbeVerdict.HARD:
            return Status.UNKNOWN, f"{NOT_SIZE}: {lower.detail} (at {lower.value:,} bytes)"
        if lower.verdict is ProbeVerdict.FAIL:
            return Status.UNKNOWN, (
                f"already rejected at the lower bound of {lower.value:,} bytes ({lower.detail}):"
                " lower --min, or this is not a size limit"
            )
        return Status.UNKNOWN, f"could not measure at {lower.value:,} bytes: {lower.detail}"
    if result.report is None:  # interrupted before the search began
        if lower is not None:
            return Status.UNKNOWN, f"{lower.value:,} bytes pass; the search did not begin"
        return Status.UNKNOWN, "nothing was measured"
    search = result.report.search
    t, low = search.threshold, search.low
    if t is not None:
        if adv is None:
            return Status.WARNING, (
                f"rejects messages of {t:,} bytes and more; it advertises no SIZE, so senders "
                "learn the limit only from the rejection"
            )
        if t <= adv:
            return Status.CRITICAL, (
                f"rejects messages of {t:,} bytes and more although it advertises SIZE {adv:,}: "
                "the hop breaks its word"
            )
        if low >= adv:
            how = "exactly" if t == adv + 1 else f"with {t - adv - 1:,} bytes of slack"
            return Status.OK, f"enforces its advertised SIZE {adv:,} {how}"
        return Status.WARNING, (
            f"the limit lies between {low + 1:,} and {t:,} bytes, around the advertised SIZE "
            f"{adv:,}: measure again with --precision 1"
        )
    if search.no_failure:
        beyond = f", more than its advertised SIZE {adv:,}" if adv is not None and low > adv else ""
        return Status.OK, f"no failure up to {low:,} bytes{beyond}"
    if search.stopped.startswith("failure unrelated to size"):
        return Status.UNKNOWN, f"{NOT_SIZE}: {search.stopped}"
    passed = f"; largest passing size {low:,} bytes" if low > result.low else ""
    return Status.UNKNOWN, f"{search.stopped or 'not found'}{passed}"


def conclude(result: ThresholdResult) -> ThresholdResult:
    search = result.report.search if result.report is not None else None
    status, meaning = assess(result)
    return dataclasses.replace(
        result,
        threshold=search.threshold if search else None,
        largest_pass=(
            search.low if search else (result.low if _passed(result.lower_bound) else None)
        ),
        rounds=len(search.rounds) if search else 0,
        meaning=meaning,
        status=status,
    )


def _passed(point: ProbePoint | None) -> bool:
    return point is not None and point.verdict is ProbeVerdict.PASS


async def measure(
    req: RunRequest,
    *,
    low: int,
    high: int | None,
    k: int,
    precision: int,
    progress: Callable[[str], None] = say,
    observed: list[ThresholdResult] | None = None,
) -> ThresholdResult:
    """Measure; `observed` gets the result so far at each step (and the search in flight when
    the task is cancelled), so an interrupted command still reports what it measured."""
    keep = observed.append if observed is not None else (lambda _r: None)
    state = new_state(req)
    progress(f"resolving {req.domain}" if req.via is None else f"sending via {req.via[0]}")
    state.targets = await resolve_targets(req, state)
    progress(f"talking to {state.targets[0].label}")
    await probe_hop1(req, state)
    hop1 = state.hop1
    if hop1 is None or hop1.outcome is not Outcome.OK:
        where = hop1.host if hop1 else req.domain
        why = f"{hop1.outcome} at {hop1.stage}: {hop1.reason}" if hop1 else "no target"
        raise MeasurementError(f"could not talk to {where}: {why}")
    target = _target_of(state.targets, hop1.address, hop1.port)
    adv = state.advertised
    end = high if high is not None else min(adv + 1, DEFAULT_MAX) if adv else DEFAULT_MAX
    if end <= low:
        why = f" (the default is the advertised SIZE {adv:,} + 1)" if high is None and adv else ""
        raise UsageError(f"--max {end:,} must be above --min {low:,}{why}")
    result = ThresholdResult(
        req.domain, req.to, target.label, low, end, k, precision, adv, lower_bound=None
    )
    progress(f"lower bound: {low:,} bytes")
    lower = await check_size(
        target,
        req.options,
        state.run_id,
        low,
        mail_from=req.mail_from,
        to=req.to,
        date=state.crafted_date,
    )
    result = dataclasses.replace(result, lower_bound=lower)
    keep(conclude(result))
    if lower.verdict is not ProbeVerdict.PASS:
        return conclude(result)
    progress(f"searching ({low:,}, {end:,}] bytes at {target.label}, {k} probes per round")
    report = await size_search(
        target,
        req.options,
        state.run_id,
        low=low,
        high=end,
        k=k,
        precision=precision,
        mail_from=req.mail_from,
        to=req.to,
        date=state.crafted_date,
        advertised=adv,
        high_known_fail=False,
        progress=progress,
        on_interrupt=lambda partial: keep(conclude(dataclasses.replace(result, report=partial))),
    )
    return conclude(dataclasses.replace(result, report=report))


def _target_of(targets: list[Target], address: str, port: int) -> Target:
    return next((t for t in targets if t.address == address and t.port == port), targets[0])


def render_threshold(result: ThresholdResult) -> str:
    adv = result.advertised_size
    out = [
        f"probe threshold: {result.domain}, to {result.to}, at {result.target}",
        "hop 1 advertises "
        + (f"SIZE {adv:,} ({human_size(adv)})" if adv is not None else "no SIZE"),
        f"searched ({result.low:,}, {result.high:,}] bytes, {result.k} probes per round, "
        f"precision {result.precision:,} byte{'s' if result.precision > 1 else ''}",
        "",
    ]
    rows: list[list[object]] = []
    if result.lower_bound is not None:
        rows.append(_row("lower bound", result.lower_bound))
    if result.report is not None:
        for rnd in result.report.search.rounds:
            rows.extend(_row(str(rnd.number), p) for p in rnd.points)
    if rows:
        out += [tabulate(rows, headers=["round", "bytes", "outcome", "reply"]), ""]
    if result.threshold is not None:
        out.append(
            f"threshold: {result.threshold:,} bytes ({human_size(result.threshold)}) and more "
            f"fail; largest passing size {result.largest_pass:,} bytes; {_rounds(result.rounds)}"
        )
        boundary = result.report.boundary_reply if result.report else ""
        out.append(f"reply at the boundary: {boundary or '-'}")
        out.append(
            "advertised SIZE: "
            + (f"{adv:,}" if adv is not None else "none")
            + f" -> {result.meaning}"
        )
    else:
        if result.largest_pass is not None and result.rounds:
            out.append(
                f"largest passing size {result.largest_pass:,} bytes; {_rounds(result.rounds)}"
            )
        out.append(result.meaning)
    out.append(f"status: {result.status.name}")
    return "\n".join(out)


def _rounds(n: int) -> str:
    return f"{n} round{'s' if n != 1 else ''}"


def _row(label: str, point: ProbePoint) -> list[object]:
    detail = point.detail if len(point.detail) <= 80 else point.detail[:77] + "..."
    return [label, f"{point.value:,}", str(point.verdict), detail]


@app.command("threshold")
def threshold_command(
    domain: DomainArg,
    to: ToOpt,
    mail_from: FromOpt = None,
    via: ViaOpt = None,
    port: PortOpt = 25,
    helo: HeloOpt = None,
    k: Annotated[
        int, typer.Option("--k", min=2, max=16, help="Probes sent concurrently per round.")
    ] = 4,
    precision: Annotated[
        int, typer.Option("--precision", min=1, help="Stop when the limit is known to N bytes.")
    ] = 1,
    low: Annotated[
        int,
        typer.Option("--min", min=1, max=MAX_SIZE, help="Lower bound in bytes; probed first."),
    ] = DEFAULT_MIN,
    high: Annotated[
        int | None,
        typer.Option(
            "--max",
            min=2,
            max=MAX_SIZE,
            help="Range end in bytes (default: advertised SIZE + 1, at most 50 MB; 50 MB "
            "without SIZE). Not assumed to fail.",
        ),
    ] = None,
    no_starttls: NoStarttlsOpt = False,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    timeout: DnsTimeoutOpt = 5.0,
    deadline: Annotated[
        float, typer.Option("--deadline", min=1, help="Seconds for the whole search.")
    ] = 1800.0,
    json_out: JsonOpt = False,
) -> None:
    """Find the exact byte size at which a hop starts failing: k probes per round, each round
    narrowing the range (low, high] k+1-fold. Confirms --min passes first and stops at the
    first hard failure that is not size-related (e.g. 550 for the recipient). Counting
    recipients or attachments (--count) is not supported yet.

    Exit: 0 OK (no failure, or the hop enforces its advertised SIZE), 1 WARNING (a limit but no
    SIZE advertised, or the limit is within --precision of it), 2 CRITICAL (rejects at or below
    its advertised SIZE), 3 UNKNOWN (could not measure)."""
    req = build_request(
        domain,
        to,
        load_profile("quick"),
        mail_from=mail_from,
        via=via,
        port=port,
        helo=helo,
        nameservers=parse_nameservers(nameserver),
        dns_timeout=timeout,
        no_starttls=no_starttls,
        ca_file=ca_file,
        deadline=deadline,
        threshold=True,
        threshold_k=k,
    )
    check_target(req)
    quiet = json_out and not sys.stderr.isatty()

    observed: list[ThresholdResult] = []

    async def main() -> ThresholdResult:
        search = measure(
            req,
            low=low,
            high=high,
            k=k,
            precision=precision,
            progress=(lambda _m: None) if quiet else say,
            observed=observed,
        )
        return await asyncio.wait_for(search, timeout=deadline)

    try:
        result = asyncio.run(main())
    except (TimeoutError, KeyboardInterrupt) as exc:
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"deadline of {deadline:g} s"
        if not observed:
            raise MeasurementError(f"{why}: the search measured nothing") from None
        result = observed[-1]  # UNKNOWN: the search did not end
        result = dataclasses.replace(result, meaning=f"{why}: {result.meaning}")
        if not quiet:
            say(f"{why}: reporting what was measured")
    if json_out:
        emit_json(THRESHOLD_SCHEMA, result)
    else:
        emit_text(render_threshold(result))
    finish(result.status)
