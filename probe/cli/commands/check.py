"""`probe check`: the scheduled health check (cron, systemd timers, Nagios/Icinga, Prometheus)."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated

import typer

from probe.cli.base import JsonOpt, NameserverOpt, VerboseOpt, app, emit_json, emit_text, finish
from probe.cli.options import (
    DbOpt,
    NoHistoryOpt,
    VantageOpt,
    default_helo,
    parse_nameservers,
    split_host_port,
)
from probe.collect.secrets import Secret, resolve_password
from probe.errors import ConfigError, UsageError
from probe.history.store import default_path, default_vantage, open_history
from probe.model.check import CHECK_SCHEMA, CheckResult, Expectations, TargetSpec
from probe.model.smtp import Timeouts
from probe.model.status import Status, utcnow
from probe.pipeline.check import CheckRequest, in_shard, perform_check
from probe.pipeline.lock import exclusive, lock_path
from probe.plan.checks import CheckConfig, CheckLimits, parse_check_config
from probe.report.check import render_check
from probe.report.nagios import render_nagios
from probe.send.options import ConverseOptions
from probe.smtp.hosts import ip_literal

_SHARD = re.compile(r"(\d+)/(\d+)")
CONFIG_CAP = 16 * 1024 * 1024


class Format(enum.StrEnum):
    text = "text"
    nagios = "nagios"


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = _SHARD.fullmatch(value.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]) <= 10_000:
        raise UsageError(f"--shard {value!r}: expected I/N with 1 <= I <= N, e.g. 2/5")
    return int(match[1]), int(match[2])


def _config(path: Path | None, target: str | None, profile: str, to: str | None,
            mailbox: str | None, password_file: Path | None, port: int,
            as_host: bool) -> CheckConfig:
    if (path is None) == (target is None):
        raise UsageError("give either --config FILE or one DOMAIN")
    if path is not None:
        from probe.cli.files import read_input

        data = read_input(path, cap=CONFIG_CAP, label=f"the check config {path}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("not UTF-8", path=str(path)) from None
        return parse_check_config(text, source=str(path))
    assert target is not None
    name, port = split_host_port(target, default_port=port)
    spec = TargetSpec(target=name.rstrip(".").lower(), profile=profile, to=to or "", port=port,
                      direct=as_host or ":" in target or ip_literal(name) is not None,
                      mailbox=mailbox or "", password_file=str(password_file or ""),
                      expect=Expectations())
    if profile != "capabilities" and not (to and mailbox):
        raise UsageError(f"profile {profile!r} sends mail: give --to and --mailbox")
    return CheckConfig(source="", limits=CheckLimits(), targets=(spec,))


def _ca(path: Path | None) -> str | None:
    if path is None:
        return None
    from probe.cli.files import PEM_CAP, check_input

    return check_input(path, cap=PEM_CAP, label=f"--ca-file {path}")


def _passwords(targets: tuple[TargetSpec, ...]) -> tuple[tuple[str, Secret], ...]:
    found = []
    for t in targets:
        if not t.mailbox.startswith("imap"):
            continue
        secret = resolve_password(
            env=t.password_env or "PROBE_IMAP_PASSWORD",
            file=Path(t.password_file) if t.password_file else None,
        )
        if secret is None:
            env = t.password_env or "PROBE_IMAP_PASSWORD"
            raise ConfigError(f"{t.target}: no mailbox password (set {env} or password_file)")
        found.append((t.target, secret))
    return tuple(found)


@app.command()
def check(
    target: Annotated[str | None, typer.Argument(help="One DOMAIN (instead of --config).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A check config (TOML) with many targets.")
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="For one DOMAIN: capabilities (sends nothing) or a "
                          "profile that sends.")
    ] = "capabilities",
    to: Annotated[str | None, typer.Option("--to", help="For one DOMAIN: the recipient.")] = None,
    mailbox: Annotated[
        str | None, typer.Option("--mailbox", help="For one DOMAIN: the cooperating mailbox URL.")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="For one DOMAIN: the mailbox password.")
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="For one DOMAIN: the SMTP port.")
    ] = 25,
    host: Annotated[
        bool, typer.Option("--host", help="For one DOMAIN: it is a host, not a mail domain.")
    ] = False,
    db: DbOpt = None,
    no_history: NoHistoryOpt = False,
    vantage: VantageOpt = None,
    shard: Annotated[
        str | None, typer.Option("--shard", help="I/N: check only this machine's share.")
    ] = None,
    deadline: Annotated[
        float | None, typer.Option("--deadline", min=1, help="Seconds for the whole check.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=1000, help="Targets at once.")
    ] = None,
    per_address: Annotated[
        int | None,
        typer.Option("--per-address", min=1, max=100, help="Conversations at once per address."),
    ] = None,
    keep_days: Annotated[
        float | None, typer.Option("--keep-days", min=0.01, help="Prune older history.")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="text or nagios.")] = Format.text,
    prometheus_textfile: Annotated[
        Path | None,
        typer.Option("--prometheus-textfile", help="Write metrics for node_exporter (*.prom)."),
    ] = None,
    helo: Annotated[str | None, typer.Option("--helo", help="EHLO name.")] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="Extra trust anchors (PEM) for the certificate check."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, help="Seconds per SMTP stage and DNS.")
    ] = None,
    nameserver: NameserverOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Check targets as cron would: store every result, compare with the previous one (or the
    pinned baseline), report problems only (-v: everything).

    Exit codes: 0 every target OK; 1 WARNING; 2 CRITICAL; 3 UNKNOWN (could not measure, bad
    config, another check of this config running).
    """
    if prometheus_textfile is not None and prometheus_textfile.suffix != ".prom":
        raise UsageError(f"--prometheus-textfile {prometheus_textfile}: node_exporter reads only "
                         "*.prom files")
    cfg = _config(config, target, profile, to, mailbox, password_file, port, host)
    split = _shard(shard)
    mine = tuple(t for t in cfg.targets if in_shard(t.target, split))
    limits = cfg.limits
    req = CheckRequest(
        targets=mine,
        vantage=vantage or default_vantage(),
        options=ConverseOptions(helo=helo or default_helo(),
                                timeouts=Timeouts.uniform(timeout) if timeout else Timeouts(),
                                ca_file=_ca(ca_file)),
        local_name=helo or default_helo(),
        config=cfg.source,
        deadline=deadline or limits.deadline,
        concurrency=concurrency or limits.concurrency,
        per_address=per_address or limits.per_address,
        nameservers=parse_nameservers(nameserver),
        dns_timeout=timeout or 5.0,
        passwords=_passwords(mine),
        shard=split,
        not_in_shard=len(cfg.targets) - len(mine),
    )
    key = str(Path(cfg.source).resolve()) if cfg.source else f"target:{mine[0].target}"
    state_dir = default_path().parent
    with exclusive(lock_path(state_dir, key), cfg.source or mine[0].target):
        history = None if no_history else open_history(db)
        try:
            result = perform_check(req, history)
            if history is not None and keep_days is not None:
                history.prune(keep_days, utcnow())
        finally:
            if history is not None:
                history.close()
    _report(result, output, json_out, verbose, prometheus_textfile)
    finish(result.status)


def _report(result: CheckResult, output: Format, json_out: bool, verbose: int,
            textfile: Path | None) -> None:
    if textfile is not None:
        from probe.cli.metrics import write_textfile

        write_textfile(textfile, result)
    if json_out:
        emit_json(CHECK_SCHEMA, result)
    elif output is Format.nagios:
        emit_text(render_nagios(result))
    elif verbose or result.status is not Status.OK:
        emit_text(render_check(result, verbose=bool(verbose)))
