"""The options of the commands that send (`run`, `threshold`), defined once, and what they
resolve at the edge (host:port pairs, this machine's name, the mailbox password).

`with_send_options` gives a command the shared options and hands them to it as one
`SendArgs` bundle (keyword `send`), so the commands declare only what is their own.
"""

from __future__ import annotations

import functools
import inspect
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from probe.cli.base import NameserverOpt
from probe.cli.files import PEM_CAP, check_input
from probe.collect.secrets import Secret, resolve_password
from probe.errors import UsageError
from probe.pipeline.request import SendArgs, needs_password
from probe.plan.profile_files import available_profiles

DomainArg = Annotated[str, typer.Argument(help="The domain whose MX receives the probes.")]
ToOpt = Annotated[str, typer.Option("--to", help="Recipient whose mailbox you can read.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Envelope sender.")]
ViaOpt = Annotated[
    str | None,
    typer.Option(
        "--via",
        help="Send through HOST[:PORT] instead of the MX (a relay or firewall you control).",
    ),
]
PortOpt = Annotated[int, typer.Option("--port", min=1, max=65535, help="SMTP port.")]
HeloOpt = Annotated[str | None, typer.Option("--helo", help="EHLO name.")]
NoStarttlsOpt = Annotated[bool, typer.Option("--no-starttls", help="Do not use STARTTLS.")]
CaFileOpt = Annotated[
    str | None, typer.Option("--ca-file", help="Extra trust anchors for the hop's certificate.")
]
DnsTimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="DNS lifetime.")]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="History: a SQLite file or a postgresql:// URL. Default: "
                 "$XDG_STATE_HOME/probe/history.sqlite."),
]
NoHistoryOpt = Annotated[bool, typer.Option("--no-history", help="Store nothing in the history.")]
VantageOpt = Annotated[
    str | None, typer.Option("--vantage", help="Where this runs from. Default: host name.")
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Profile name or path (shipped: " + ", ".join(available_profiles()) + ").",
    ),
]


def send_args(
    domain: DomainArg,
    to: ToOpt,
    mail_from: FromOpt = None,
    via: ViaOpt = None,
    port: PortOpt = 25,
    helo: HeloOpt = None,
    no_starttls: NoStarttlsOpt = False,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    timeout: DnsTimeoutOpt = 5.0,
) -> SendArgs:
    """The shared options as one bundle, host:port values parsed. Its parameters are the
    options `with_send_options` gives a command (the help lists them first)."""
    return SendArgs(
        domain=domain,
        to=to,
        mail_from=mail_from,
        via=split_host_port(via, default_port=port) if via else None,
        port=port,
        helo=helo,
        starttls=not no_starttls,
        ca_file=pem_file(ca_file, "--ca-file"),
        nameservers=parse_nameservers(nameserver),
        dns_timeout=timeout,
    )


def with_send_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the shared send options to `command`'s parameters; it receives them as `send`."""
    own = inspect.signature(command, eval_str=True)
    kept = [p for name, p in own.parameters.items() if name != "send"]
    shared = list(inspect.signature(send_args, eval_str=True).parameters.values())

    @functools.wraps(command)
    def wrapper(**options: Any) -> None:
        bundle = send_args(**{p.name: options.pop(p.name) for p in shared})
        command(send=bundle, **options)

    parameters = [*shared, *kept]
    wrapper.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def default_helo() -> str:
    """This machine's FQDN when it has one, else a name that is clearly not a real host."""
    name = socket.getfqdn()
    if "." not in name or name.startswith("localhost") or name.endswith(".localdomain"):
        return "probe.invalid"
    return name


def mailbox_password(mailbox: str | None, password_file: Path | None) -> Secret | None:
    """The IMAP password (file first, then the environment), only for a mailbox that logs in."""
    if not needs_password(mailbox):
        return None
    return resolve_password(file=password_file)  # a regular file of at most 64 KiB


def pem_file(path: str | Path | None, option: str) -> str | None:
    """A certificate or CA file that ssl will read by name: refused now if it cannot be."""
    if path is None:
        return None
    return check_input(path, cap=PEM_CAP, label=f"{option} {path}")


def parse_nameservers(values: list[str] | None) -> tuple[tuple[str, int], ...]:
    """`HOST[:PORT]` (IPv6 as `[::1]:5353` or bare `::1`) -> (address, port) pairs."""
    result = []
    for value in values or []:
        host, port = split_host_port(value, default_port=53)
        result.append((host, port))
    return tuple(result)


def split_host_port(value: str, *, default_port: int) -> tuple[str, int]:
    value = value.strip()
    if not value:
        raise UsageError("empty host")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            raise UsageError(f"unbalanced bracket in {value!r}")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise UsageError(f"cannot parse {value!r} as HOST[:PORT]")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:
        host, port_text = value, ""
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"bad port {port_text!r} in {value!r}")
    return host, int(port_text)
