"""`probe run DOMAIN --to ADDR`: send the profile's matrix, collect, compare, decide."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from probe.cli.base import JsonOpt, app, emit_json, emit_text, fail_line, finish
from probe.cli.files import write_atomic
from probe.cli.options import (
    DbOpt,
    NoHistoryOpt,
    ProfileOpt,
    VantageOpt,
    default_helo,
    mailbox_password,
    pem_file,
    with_send_options,
)
from probe.pipeline.interrupts import signals_held
from probe.pipeline.request import RunArgs, SendArgs

if TYPE_CHECKING:
    from probe.model.run import RunResult


def record(result: RunResult, db: str | None, vantage: str | None) -> bool:
    """Store the run in the history; False (and a one-line error) when that failed."""
    from probe.errors import ProbeError
    from probe.history.store import default_vantage, open_history
    from probe.pipeline.record import store_run

    try:
        with open_history(db) as history:
            store_run(history, result, vantage or default_vantage())
    except ProbeError as exc:
        fail_line(f"the run was not stored in the history: {exc}")
        return False
    return True


def output(result: RunResult, *, json_out: bool, save: Path | None, transcript: bool) -> bool:
    """Save the run, then print it; False when the save failed (the result is still printed)."""
    from probe.model.json import document
    from probe.model.run import RUN_SCHEMA
    from probe.report.run import render_run

    saved = True
    if save is not None:
        text = json.dumps(document(RUN_SCHEMA, result), indent=2, ensure_ascii=False) + "\n"
        try:
            write_atomic(save, text)
        except OSError as exc:
            fail_line(f"cannot save the run to {save}: {exc.strerror or exc}")
            saved = False
    if json_out:
        emit_json(RUN_SCHEMA, result)
    else:
        emit_text(render_run(result, transcript=transcript))
    return saved


@app.command("run")
@with_send_options
def run_command(
    send: SendArgs,
    profile: ProfileOpt = "standard",
    mailbox: Annotated[
        str | None,
        typer.Option(
            "--mailbox",
            help="Cooperating mailbox: imaps://user@host/INBOX, imap://..., "
            "maildir:/path, mbox:/path.",
        ),
    ] = None,
    bounce_mailbox: Annotated[
        str | None,
        typer.Option("--bounce-mailbox", help="Where bounces arrive (default: --mailbox)."),
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="IMAP password file (else $PROBE_IMAP_PASSWORD)."),
    ] = None,
    mailbox_ca_file: Annotated[str | None, typer.Option("--mailbox-ca-file")] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Allow IMAP without TLS verification / plaintext login."),
    ] = False,
    collect_for: Annotated[
        float | None,
        typer.Option("--collect-for", min=0, help="Seconds to wait for copies and bounces."),
    ] = None,
    cleanup: Annotated[
        bool, typer.Option("--cleanup", help="Delete probe copies after recording them.")
    ] = False,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, max=64)] = None,
    per_host: Annotated[int | None, typer.Option("--per-host", min=1, max=16)] = None,
    min_interval: Annotated[
        float | None,
        typer.Option("--min-interval", min=0, help="Seconds between connection starts."),
    ] = None,
    retry_for: Annotated[
        float | None,
        typer.Option("--retry-for", min=0, help="Seconds within which 4xx replies are retried."),
    ] = None,
    all_mx: Annotated[
        bool, typer.Option("--all-mx", help="Every variant through every MX address.")
    ] = False,
    no_size: Annotated[
        bool,
        typer.Option(
            "--no-size",
            help="Do not declare SIZE= in MAIL FROM (see whether the hop rejects after upload).",
        ),
    ] = False,
    allow_eicar: Annotated[
        bool,
        typer.Option(
            "--allow-eicar",
            help="Allow EICAR variants: the anti-virus TEST string, sent only to "
            "trigger scanners. Use only on paths you are allowed to test.",
        ),
    ] = False,
    threshold: Annotated[
        bool,
        typer.Option("--threshold", help="When a size is rejected, search the exact byte limit."),
    ] = False,
    deadline: Annotated[
        float,
        typer.Option(
            "--deadline",
            min=1,
            help="Seconds for the whole run; what was observed by then is kept.",
        ),
    ] = 3600.0,
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Write the run as JSON here (also when interrupted)."),
    ] = None,
    transcript: Annotated[
        bool, typer.Option("--transcript", help="Print every SMTP transcript.")
    ] = False,
    db: DbOpt = None,
    no_history: NoHistoryOpt = False,
    vantage: VantageOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Send the profile's matrix of tagged test messages through DOMAIN's MX and decide which
    hop rejects, scans or rewrites them. Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    from probe.cli.progress import Progress
    from probe.model.status import Status, worst
    from probe.pipeline.request import build_request
    from probe.pipeline.run import perform
    from probe.plan.profile_files import load_profile

    choices = RunArgs(
        mailbox=mailbox,
        bounce_mailbox=bounce_mailbox,
        mailbox_ca_file=pem_file(mailbox_ca_file, "--mailbox-ca-file"),
        insecure=insecure,
        collect_for=collect_for,
        cleanup=cleanup,
        concurrency=concurrency,
        per_host=per_host,
        min_interval=min_interval,
        retry_for=retry_for,
        all_mx=all_mx,
        declare_size=not no_size,
        allow_eicar=allow_eicar,
        threshold=threshold,
    )
    req = build_request(
        load_profile(profile),
        send,
        choices,
        local_name=default_helo(),
        password=mailbox_password(mailbox, password_file),
    )
    if not no_history:
        from probe.history.store import open_history

        open_history(db).close()  # an unusable --db is refused before anything is sent
    progress = Progress(enabled=not (json_out and not sys.stderr.isatty()))
    with signals_held():  # a stop request cuts the run short, never its output
        try:
            run = perform(req, deadline=deadline, progress=progress, step=progress.step)
        finally:
            progress.close()
        saved = output(run.result, json_out=json_out, save=save, transcript=transcript)
        stored = no_history or record(run.result, db, vantage)
    if run.error is not None:
        fail_line(str(run.error))
    finish(run.status if saved and stored else worst([run.status, Status.UNKNOWN]))
