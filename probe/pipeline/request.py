"""What one run is asked to do: the profile merged with the command line (pure).

`build_request` is the whole merge, with no I/O: what lives at the edge (the machine's name for
HELO and the default sender, the IMAP password as a masked `Secret`) is resolved by the caller and
passed in. The checks that a request may be sent at all (`check_target`, `check_recipients`) are
here too, so every command that sends applies the same ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from probe.collect.secrets import Secret
from probe.errors import SafetyError, UsageError
from probe.model.variant import VariantSpec
from probe.model.verdict import CheckLevel
from probe.plan.profiles import Profile
from probe.send.matrix import SendSettings
from probe.send.options import ConverseOptions


@dataclasses.dataclass(frozen=True)
class SendArgs:
    """The choices shared by the commands that send (`run`, `threshold`): where to, as whom, how.

    None means "the profile's value" (then probe's own default)."""

    domain: str
    to: str
    mail_from: str | None = None
    via: tuple[str, int] | None = None  # a relay the user controls instead of the MX
    port: int = 25
    helo: str | None = None
    starttls: bool = True
    ca_file: str | None = None
    nameservers: tuple[tuple[str, int], ...] = ()
    dns_timeout: float = 5.0


@dataclasses.dataclass(frozen=True)
class RunArgs:
    """The choices only `probe run` has: the matrix's pacing, the mailbox, the size search.

    None means "the profile's value". `conversation_deadline` bounds each SMTP conversation; the
    run's own deadline is the caller's and bounds the whole run."""

    mailbox: str | None = None
    bounce_mailbox: str | None = None
    mailbox_ca_file: str | None = None
    insecure: bool = False
    collect_for: float | None = None
    cleanup: bool = False
    concurrency: int | None = None
    per_host: int | None = None
    min_interval: float | None = None
    retry_for: float | None = None
    retry_delays: tuple[float, ...] | None = None
    all_mx: bool = False
    declare_size: bool = True
    allow_eicar: bool = False
    threshold: bool = False
    threshold_k: int = 4
    conversation_deadline: float | None = None  # None: ConverseOptions' own (900 s)


@dataclasses.dataclass(frozen=True)
class RunRequest:
    domain: str
    to: str
    mail_from: str
    profile: str
    variants: tuple[VariantSpec, ...]
    checks: tuple[tuple[str, CheckLevel], ...]
    options: ConverseOptions
    send: SendSettings
    via: tuple[str, int] | None = None
    nameservers: tuple[tuple[str, int], ...] = ()
    dns_timeout: float = 5.0
    allow_eicar: bool = False
    declare_size: bool = True
    mailbox: str | None = None
    bounce_mailbox: str | None = None
    password: Secret | None = dataclasses.field(default=None, repr=False)
    mailbox_ca_file: str | None = None
    insecure: bool = False
    collect_for: float = 300.0
    cleanup: bool = False
    threshold: bool = False
    threshold_k: int = 4
    run_id: str = ""
    now: dt.datetime | None = None


def build_request(
    profile: Profile,
    send: SendArgs,
    run: RunArgs = RunArgs(),
    *,
    local_name: str,
    password: Secret | None = None,
) -> RunRequest:
    """The command line over the profile over probe's defaults.

    `local_name` is this machine's name (HELO and the default sender's domain when neither the
    command line nor the profile names one); `password` is the mailbox's, already read."""
    d = profile.defaults
    sender = send.mail_from or d.mail_from or f"probe@{local_name}"
    if "@" not in sender:
        raise UsageError(f"--from {sender!r} is not an address")
    options = ConverseOptions(
        send.helo or d.helo or local_name,
        port=send.port,
        timeouts=d.timeouts,
        starttls=send.starttls,
        ca_file=send.ca_file,
    )
    if run.conversation_deadline is not None:
        options = dataclasses.replace(options, deadline=run.conversation_deadline)
    settings = SendSettings(
        options,
        retry_delays=run.retry_delays or SendSettings.retry_delays,
        concurrency=run.concurrency or d.concurrency,
        per_host=run.per_host or d.per_host,
        retry_for=d.retry_for if run.retry_for is None else run.retry_for,
        min_interval=d.min_interval if run.min_interval is None else run.min_interval,
        all_mx=run.all_mx,
    )
    return RunRequest(
        domain=send.domain.rstrip(".").lower(),
        to=send.to,
        mail_from=sender,
        profile=profile.name,
        variants=profile.variants,
        checks=profile.checks,
        options=options,
        send=settings,
        via=send.via,
        nameservers=send.nameservers,
        dns_timeout=send.dns_timeout,
        allow_eicar=run.allow_eicar,
        declare_size=run.declare_size,
        mailbox=run.mailbox,
        bounce_mailbox=run.bounce_mailbox,
        password=password,
        mailbox_ca_file=run.mailbox_ca_file,
        insecure=run.insecure,
        collect_for=d.collect_deadline if run.collect_for is None else run.collect_for,
        cleanup=run.cleanup,
        threshold=run.threshold,
        threshold_k=run.threshold_k,
    )


def needs_password(mailbox: str | None) -> bool:
    """Only an IMAP mailbox logs in (a Maildir or mbox is a local file)."""
    return mailbox is not None and mailbox.startswith("imap")


def check_target(req: RunRequest) -> None:
    """Only the target domain's own MX, unless --via names a relay the user controls."""
    if "@" not in req.to:
        raise UsageError(f"--to {req.to!r} is not an address")
    if req.via is None and req.to.rpartition("@")[2].lower() != req.domain.lower():
        # a bad argument (exit 3, like every usage error), not a finding about the domain
        raise UsageError(
            f"--to {req.to} is not in {req.domain}: probe only sends to the target domain's "
            "own MX (use --via HOST:PORT for a relay you control)"
        )


def check_recipients(to: str, rcpts: tuple[str, ...]) -> None:
    """Every recipient is --to or one of its subaddresses (local+N@domain)."""
    local, _, domain = to.rpartition("@")
    for rcpt in rcpts:
        r_local, _, r_domain = rcpt.rpartition("@")
        base = r_local.split("+", 1)[0]
        if r_domain.lower() != domain.lower() or (rcpt != to and base != local.split("+")[0]):
            raise SafetyError(f"refusing to send to {rcpt}: only {to} and its subaddresses")
