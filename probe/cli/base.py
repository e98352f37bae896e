"""The typer application, shared options and the process boundary (output, exit codes).

Commands live in `probe/cli/commands/*.py`; each is thin: options -> one use case -> renderer ->
exit code. The options of the commands that send are in `probe.cli.options`.
Every way out of the process goes through `ProbeGroup.main`, so a usage error exits 3 (not
click's 2), a `ProbeError` prints one line, Ctrl-C exits 3 (not 130), an unexpected exception
never shows a traceback, and with `--json` every outcome, an error too, is a JSON document on
stdout. stdout that cannot be written (a full disk) is one line on stderr and exit 3.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from probe.errors import ProbeError
from probe.model.json import document
from probe.model.status import Status
from probe.smtp.text import one_line

ERROR_SCHEMA = "probe.error/1"
LINE = 1000  # characters of an error line at most (a message may quote what a server sent)


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
        words = list(sys.argv[1:] if args is None else args)
        code = run_guarded(
            lambda: super(ProbeGroup, self).main(
                args=args, prog_name=prog_name or "probe", standalone_mode=False, **extra
            ),
            json_out=json_asked(words),
        )
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: Any) -> Any:
        """The command; Ctrl-C or SIGTERM in it is our one-line error, not typer's silent 130."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Interrupted(str(exc) or "interrupted") from None


class Interrupted(ProbeError):
    """Ctrl-C or SIGTERM stopped a command that had nothing to report yet."""


class OutputError(ProbeError):
    """stdout cannot be written (a full disk, /dev/full, a closed pipe)."""


@dataclasses.dataclass
class _Stdout:
    """What this process has done with stdout: --json asked, a document written, broken."""

    json: bool = False
    written: bool = False
    broken: bool = False


_stdout = _Stdout()


def json_asked(words: Sequence[str]) -> bool:
    """`--json` among the options (before a `--`)."""
    options = words[: words.index("--")] if "--" in words else words
    return "--json" in options


def run_guarded(call: Callable[[], Any], *, json_out: bool = False) -> int:
    """Run the click machinery and turn every way out into a monitoring-plugin exit code; with
    `json_out`, an error still leaves one JSON document on stdout."""
    _stdout.json, _stdout.written, _stdout.broken = json_out, False, False
    try:
        rv = call()
    except typer.Exit as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # typer's own Ctrl-C: 130
            return fail(str(exc.__cause__) or "interrupted")
        return exc.exit_code
    except ProbeError as exc:
        return fail(str(exc), exc.exit_code)
    except typer.TyperException as exc:  # click usage errors (vendored by typer)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `probe`: the help, on stderr
            sys.stderr.write(exc.format_message() + "\n")
            return int(Status.UNKNOWN)
        return fail(exc.format_message())
    except typer.Abort:
        return fail("aborted")
    except KeyboardInterrupt as exc:
        return fail(str(exc) or "interrupted")
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("PROBE_DEBUG"):
            raise
        return fail(f"internal error: {type(exc).__name__}: {exc} (set PROBE_DEBUG=1 for details)")
    if rv == _TYPER_INTERRUPTED:  # Ctrl-C while typer parsed the command line
        return fail("interrupted")
    return rv if isinstance(rv, int) else 0


_TYPER_INTERRUPTED = 130  # what typer returns for a KeyboardInterrupt outside the command


def fail(message: str, code: int = int(Status.UNKNOWN)) -> int:
    """The one line on stderr; with --json, and nothing written yet, a small document too:
    `{"schema": "probe.error/1", "status": ..., "error": ...}`. Returns the exit code."""
    fail_line(message)
    if _stdout.json and not _stdout.written and not _stdout.broken:
        status = Status(code) if code in set(Status) else Status.UNKNOWN
        with contextlib.suppress(OutputError):
            emit_json(ERROR_SCHEMA, {"status": status.name, "error": one_line(message, LINE)})
    return code


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
    sys.stderr.write(f"probe: error: {one_line(message, LINE)}\n")
    sys.stderr.flush()


def say(message: str) -> None:
    """Progress and notes for humans: stderr, so stdout stays machine-readable."""
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def emit_json(schema: str, obj: Any) -> None:
    """The one JSON document of this command: indented on a terminal, one compact line for a
    pipe or a file (the C encoder, several times faster on a check of a thousand targets). Every
    string the result holds is written: one that is not Unicode text (a lone surrogate from a
    file name) as its `\\udcXX` escape."""
    indent = 2 if _is_terminal(sys.stdout) else None
    _write(json.dumps(document(schema, obj), indent=indent, ensure_ascii=False) + "\n")


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def emit_text(text: str) -> None:
    _write(text.rstrip("\n") + "\n")


def _write(text: str) -> None:
    stream = sys.stdout
    try:
        try:
            stream.write(text)
        except UnicodeEncodeError:  # the text is encoded whole before anything is written
            encoding = stream.encoding or "utf-8"
            stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
        stream.flush()
    except OSError as exc:
        _stdout.broken = True
        _discard_stdout()
        raise OutputError(f"cannot write to stdout: {exc.strerror or exc}") from None
    _stdout.written = True


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so what is still buffered is not retried at exit (where it
    would fail again and print a traceback)."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)


def finish(status: Status) -> NoReturn:
    raise typer.Exit(int(status))


@app.callback()
def _root() -> None:
    """Find out where mail breaks: which hop scans, rewrites or rejects it.

    Exit codes (every command): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not measure).
    """
