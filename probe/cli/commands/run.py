"""`probe run DOMAIN --to ADDR`: send the profile's matrix, collect, compare, decide."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    fail_line,
    finish,
    parse_nameservers,
    split_host_port,
)
from probe.errors import ProbeError, UsageError
from probe.plan.profiles import available_profiles

if TYPE_CHECKING:
    from probe.model.run import RunResult
    from probe.pipeline.run import RunRequest
    from probe.plan.profiles import Profile


def build_request(
    domain: str,
    to: str,
    profile: Profile,
    *,
    mail_from: str | None = None,
    via: str | None = None,
    port: int = 25,
    helo: str | None = None,
    nameservers: tuple[tuple[str, int], ...] = (),
    dns_timeout: float = 5.0,
    concurrency: int | None = None,
    per_host: int | None = None,
    retry_for: float | None = None,
    all_mx: bool = False,
    no_size: bool = False,
    allow_eicar: bool = False,
    no_starttls: bool = False,
    ca_file: str | None = None,
    mailbox: str | None = None,
    bounce_mailbox: str | None = None,
    password_file: Path | None = None,
    mailbox_ca_file: str | None = None,
    insecure: bool = False,
    collect_for: float | None = None,
    cleanup: bool = False,
    threshold: bool = False,
    deadline: float = 900.0,
    min_interval: float | None = None,
    retry_delays: tuple[float, ...] | None = None,
    threshold_k: int = 4,
) -> RunRequest:
    from probe.cli.commands.connect import default_helo
    from probe.collect.secrets import resolve_password
    from probe.pipeline.run import RunRequest
    from probe.send.matrix import SendSettings
    from probe.send.options import ConverseOptions

    d = profile.defaults
    sender = mail_from or d.mail_from or f"probe@{default_helo()}"
    if "@" not in sender:
        raise UsageError(f"--from {sender!r} is not an address")
    options = ConverseOptions(
        helo or d.helo or default_helo(),
        port=port,
        timeouts=d.timeouts,
        starttls=not no_starttls,
        deadline=deadline,
        ca_file=ca_file,
    )
    send = SendSettings(
        options,
        retry_delays=retry_delays or SendSettings.retry_delays,
        concurrency=concurrency or d.concurrency,
        per_host=per_host or d.per_host,
        retry_for=d.retry_for if retry_for is None else retry_for,
        min_interval=d.min_interval if min_interval is None else min_interval,
        all_mx=all_mx,
    )
    password = None
    if mailbox and mailbox.startswith("imap"):
        password = resolve_password(file=password_file)
    return RunRequest(
        domain=domain.rstrip(".").lower(),
        to=to,
        mail_from=sender,
        profile=profile.name,
        variants=profile.variants,
        checks=tuple((k, str(v)) for k, v in profile.checks),
        options=options,
        send=send,
        via=split_host_port(via, default_port=port) if via else None,
        nameservers=nameservers,
        dns_timeout=dns_timeout,
        allow_eicar=allow_eicar,
        declare_size=not no_size,
        mailbox=mailbox,
        bounce_mailbox=bounce_mailbox,
        password=password,
        mailbox_ca_file=mailbox_ca_file,
        insecure=insecure,
        collect_for=d.collect_deadline if collect_for is None else collect_for,
        cleanup=cleanup,
        threshold=threshold,
        threshold_k=threshold_k,
    )


def perform(
    req: RunRequest, *, deadline: float, quiet: bool
) -> tuple[RunResult, ProbeError | None]:
    """Run it; whatever stops it (Ctrl-C, deadline, a mailbox error), keep what was observed."""
    from probe.cli.progress import Progress
    from probe.pipeline.run import RunState, execute, finish_run, new_state

    state: RunState = new_state(req)
    progress = Progress(enabled=not quiet)

    async def main() -> None:
        await asyncio.wait_for(execute(req, state, progress, progress.step), timeout=deadline)

    try:
        try:
            asyncio.run(main())
        finally:
            progress.close()
    except KeyboardInterrupt:
        return finish_run(
            req, state, interrupted=True, reason=f"interrupted during {state.stage}"
        ), None
    except TimeoutError:
        return finish_run(
            req,
            state,
            interrupted=True,
            reason=f"deadline of {deadline:g} s passed during {state.stage}",
        ), None
    except ProbeError as exc:
        if not state.keys:
            raise
        return finish_run(req, state, interrupted=True, reason=str(exc)), exc
    return finish_run(req, state), None


def output(result: RunResult, *, json_out: bool, save: Path | None, transcript: bool) -> bool:
    """Print the run and save it; False when the save failed (the result is still printed)."""
    from probe.model.json import document
    from probe.model.run import RUN_SCHEMA
    from probe.report.run import render_run

    saved = True
    if save is not None:
        try:
            save.write_text(
                json.dumps(document(RUN_SCHEMA, result), indent=2, ensure_ascii=False) + "\n"
            )
        except OSError as exc:
            fail_line(f"cannot save the run to {save}: {exc.strerror or exc}")
            saved = False
    if json_out:
        emit_json(RUN_SCHEMA, result)
    else:
        emit_text(render_run(result, transcript=transcript))
    return saved


@app.command("run")
def run_command(
    domain: DomainArg,
    to: ToOpt,
    mail_from: FromOpt = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="Profile name or path (shipped: " + ", ".join(available_profiles()) + ").",
        ),
    ] = "standard",
    via: ViaOpt = None,
    port: PortOpt = 25,
    helo: HeloOpt = None,
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
    rate: Annotated[
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
    no_starttls: NoStarttlsOpt = False,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    timeout: DnsTimeoutOpt = 5.0,
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
    json_out: JsonOpt = False,
) -> None:
    """Send the profile's matrix of tagged test messages through DOMAIN's MX and decide which
    hop rejects, scans or rewrites them. Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    from probe.plan.profiles import load_profile

    prof = load_profile(profile)
    req = build_request(
        domain,
        to,
        prof,
        mail_from=mail_from,
        via=via,
        port=port,
        helo=helo,
        nameservers=parse_nameservers(nameserver),
        dns_timeout=timeout,
        concurrency=concurrency,
        per_host=per_host,
        retry_for=retry_for,
        all_mx=all_mx,
        no_size=no_size,
        allow_eicar=allow_eicar,
        no_starttls=no_starttls,
        ca_file=ca_file,
        mailbox=mailbox,
        bounce_mailbox=bounce_mailbox,
        password_file=password_file,
        mailbox_ca_file=mailbox_ca_file,
        insecure=insecure,
        collect_for=collect_for,
        cleanup=cleanup,
        threshold=threshold,
        deadline=deadline,
        min_interval=rate,
    )
    result, error = perform(req, deadline=deadline, quiet=json_out and not sys.stderr.isatty())
    from probe.model.status import Status, worst

    saved = output(result, json_out=json_out, save=save, transcript=transcript)
    statuses = [result.status, Status(error.exit_code) if error else Status.OK]
    if error is not None:
        fail_line(str(error))
    if not saved:
        statuses.append(Status.UNKNOWN)
    finish(worst(statuses))
