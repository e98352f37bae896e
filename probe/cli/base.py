"""The typer application, shared options and the process boundary (output, exit codes).

Commands live in `probe/commands/*.py`; each is thin: options -> calls -> renderer -> exit code.
Every way out of the process goes through `ProbeGroup.main`, so a usage error exits 3 (not
click's 2), a `ProbeError` prints one line, and an unexpected exception never shows a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from probe.errors import ProbeError, UsageError
from probe.model.json import document
from probe.model.status import Status
from probe.smtp.text import one_line


class ProbeGroup(TyperGroup):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code = run_guarded(
            lambda: super(ProbeGroup, self).main(
                args=args, prog_name=prog_name or "probe", standalone_mode=False, **extra
            )
        )
        if standalone_mode:
            sys.exit(code)
        return code


def run_guarded(call: Any) -> int:
    """Run the click machinery and turn every way out into a monitoring-plugin exit code."""
    try:
        rv = call()
    except typer.Exit as exc:
        return exc.exit_code
    except ProbeError as exc:
        fail_line(str(exc))
        return exc.exit_code
    except typer.TyperException as exc:  # click usage errors (vendored by typer)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `probe`: the help, on stderr
            sys.stderr.write(exc.format_message() + "\n")
        else:
            fail_line(exc.format_message())
        return int(Status.UNKNOWN)
    except typer.Abort:
        fail_line("aborted")
        return int(Status.UNKNOWN)
    except KeyboardInterrupt:
        fail_line("interrupted")
        return int(Status.UNKNOWN)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("PROBE_DEBUG"):
            raise
        fail_line(f"internal error: {type(exc).__name__}: {exc} (set PROBE_DEBUG=1 for details)")
        return int(Status.UNKNOWN)
    return rv if isinstance(rv, int) else 0


app = typer.Typer(
    cls=ProbeGroup,
    help="Find out where mail breaks: which hop scans, rewrites or rejects it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


# ----------------------------------------------------------------------- shared options

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Write one JSON document to stdout and nothing else.")
]
NameserverOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver",
        help="Resolver to ask, HOST or HOST:PORT (repeatable). Default: the system's.",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, help="DNS lifetime and per-stage timeout, seconds.")
]
VerboseOpt = Annotated[int, typer.Option("-v", "--verbose", count=True, help="More detail.")]

# Options of the commands that send (run, threshold): one definition each.
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


# ----------------------------------------------------------------------- output


def fail_line(message: str) -> None:
    """A human error: one line on stderr."""
    sys.stderr.write(f"probe: error: {one_line(message)}\n")
    sys.stderr.flush()


def say(message: str) -> None:
    """Progress and notes for humans: stderr, so stdout stays machine-readable."""
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def emit_json(schema: str, obj: Any) -> None:
    sys.stdout.write(json.dumps(document(schema, obj), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_text(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def finish(status: Status) -> NoReturn:
    raise typer.Exit(int(status))


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


@app.callback()
def _root() -> None:
    """Find out where mail breaks: which hop scans, rewrites or rejects it.

    Exit codes (every command): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not measure).
    """
