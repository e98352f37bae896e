"""`probe firewall HOST[:PORT] --records DIR|URL`: what a box in the path does to SMTP, seen from
both ends (the battery `probe.send.battery`, the comparison `probe.analyze.firewall`). The
records endpoint's token comes from --records-token-file or $PROBE_RECORDS_TOKEN, never argv."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.cli.options import split_host_port
from probe.collect.secrets import resolve_password
from probe.errors import ConfigError, UsageError
from probe.model.firewall import FIREWALL_SCHEMA, FirewallResult
from probe.model.smtp import Timeouts
from probe.model.status import Status
from probe.model.verdict import CHECK_DEFAULTS
from probe.pipeline.firewall import FirewallRequest, RecordsUrl, run_firewall
from probe.plan.profile_files import load_profile
from probe.report.firewall import render_firewall
from probe.send.options import ConverseOptions
from probe.server.records_http import check_url

TOKEN_ENV = "PROBE_RECORDS_TOKEN"


def records_source(records: str, token_file: Path | None) -> Path | RecordsUrl:
    """A directory, or an http:// endpoint with its token (file first, then the environment)."""
    if not records.startswith(("http://", "https://")):
        if not Path(records).is_dir():
            raise UsageError(f"--records {records}: not a directory")
        return Path(records)
    try:
        check_url(records)
    except ValueError as exc:
        raise UsageError(f"--records {records}: {exc}") from None
    token = resolve_password(TOKEN_ENV, token_file, what="records token file")
    if token is None:
        raise UsageError(f"--records {records}: the token: --records-token-file or ${TOKEN_ENV}")
    return RecordsUrl(records, token)


@app.command("firewall")
def firewall_command(
    target: Annotated[str, typer.Argument(help="The box: HOST[:PORT] (port 25 by default).")],
    records: Annotated[
        str,
        typer.Option(
            "--records",
            help="The Maildir of the `probe listen` behind the box, or its records endpoint "
            "http://HOST:PORT (`probe listen --records-listen`).",
        ),
    ],
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--records-token-file", help=f"The records endpoint's token (else ${TOKEN_ENV})."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per stage of each session.")
    ] = 30.0,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for the listener's records."),
    ] = 10.0,
    smuggling: Annotated[
        bool,
        typer.Option(
            "--smuggling",
            help="Also send end-of-data look-alikes (<LF>.<LF>, <CR><LF>.<LF>, <LF>.<CR><LF>, "
            "bare CR forms): does the box forward what a far side could read as two messages?",
        ),
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Rate the checks by this profile's [checks] levels (name or path), as every "
            "command does; without it each effect's own status (probe/data/firewall.toml).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Send a small battery through a box to a `probe listen` you control, and compare what
    was sent with what arrived: banner, capabilities, commands (HELP, VRFY, EXPN, ETRN, an
    unknown verb, a 1,000-octet line, a split line, pipelining, BDAT), STARTTLS (end to end,
    terminated at the box, stripped), each message's bytes and header (8bit, long lines, an
    attachment, SMTPUTF8, sizes) and the scan latency, the listener's 452 after too many
    recipients, concurrent sessions, and with --smuggling the end-of-data look-alikes. Exit
    code: the worst check (0 when the box changes nothing)."""
    try:
        host, port = split_host_port(target, default_port=25)
        source = records_source(records, token_file)
        levels = None
        if profile is not None:
            loaded = load_profile(profile)
            levels = tuple((code, loaded.check_level(code)) for code in CHECK_DEFAULTS)
    except (UsageError, ConfigError) as exc:
        if not json_out:
            raise
        emit_json(
            FIREWALL_SCHEMA, FirewallResult(target, "", (), (), (), Status.UNKNOWN, (), str(exc))
        )
        finish(Status.UNKNOWN)
    options = ConverseOptions(
        helo="probe.invalid",
        port=port,
        timeouts=Timeouts.uniform(timeout),
        deadline=max(60.0, timeout * 10),
        system_trust=False,
    )
    request = FirewallRequest(host, port, source, options, wait, smuggling, levels)
    result = asyncio.run(run_firewall(request))
    if json_out:
        emit_json(FIREWALL_SCHEMA, result)
    else:
        emit_text(render_firewall(result))
    finish(result.status)
