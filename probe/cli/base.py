"""The typer application, shared options and the process boundary (output, exit codes).

Commands live in `probe/cli/commands/*.py`; each is thin: options -> one use case -> renderer ->
exit code. The options of the commands that send are in `probe.cli.options`.
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

from probe.errors import ProbeError
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


@app.callback()
def _root() -> None:
    """Find out where mail breaks: which hop scans, rewrites or rejects it.

    Exit codes (every command): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not measure).
    """
