"""`probe threshold DOMAIN --to ADDR`: the exact byte size at which a hop starts failing.

The search is `probe.pipeline.threshold`; what it means is `probe.decide.threshold`; the table
is `probe.report.threshold`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish, say
from probe.cli.options import default_helo, with_send_options
from probe.decide.threshold import THRESHOLD_SCHEMA
from probe.pipeline.interrupts import signals_held
from probe.pipeline.request import SendArgs, build_request
from probe.pipeline.threshold import DEFAULT_MIN, perform_threshold
from probe.plan.profile_files import load_profile
from probe.plan.variants import MAX_SIZE
from probe.report.threshold import render_threshold


@app.command("threshold")
@with_send_options
def threshold_command(
    send: SendArgs,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="Profile whose defaults (sender, HELO, timeouts) the probes use; its variants "
            "are not sent.",
        ),
    ] = "quick",
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
    req = build_request(load_profile(profile), send, local_name=default_helo())
    quiet = json_out and not sys.stderr.isatty()
    with signals_held():  # a stop request cuts the search short, never its output
        result = perform_threshold(
            req,
            low=low,
            high=high,
            k=k,
            precision=precision,
            deadline=deadline,
            progress=(lambda _m: None) if quiet else say,
        )
        if json_out:
            emit_json(THRESHOLD_SCHEMA, result)
        else:
            emit_text(render_threshold(result))
    finish(result.status)
