"""Entry point. Only the invoked command's module is imported (start-up time is part of every
cron run); `probe.cli.base` with every command is there for tests and `--help`.

SIGINT and SIGTERM raise from the first line on, and a stop request while the modules load ends
the process with one line and exit 3, like any other interruption.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _command_name(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
        if arg in ("--help", "-h"):
            return None
    return None


def main() -> None:
    from probe.pipeline.interrupts import install_stop_handlers, raise_if_requested, stop_requested

    try:
        install_stop_handlers()
        from probe.cli.quiet import quiet_dependency_warnings

        quiet_dependency_warnings()
        from typer.main import get_command

        from probe.cli import commands
        from probe.cli.base import app

        name = _command_name(sys.argv[1:])
        module = name.replace("-", "_") if name else None
        commands.load([module] if module in commands.available() else None)
        group = get_command(app)  # builds the click commands (typer imports more meanwhile)
        raise_if_requested()  # a stop request the import machinery swallowed
        group()  # ProbeGroup.main: the one command, under its guard
        code: int | str | None = 0
    except KeyboardInterrupt as exc:  # before the app's own guard is in place
        code = _interrupted_at_start(str(exc) or "interrupted")
    except SystemExit as exc:
        code = exc.code
    if stop_requested():  # see stop_requested: end with our code, not Python's SIGINT
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code if isinstance(code, int) else 3)
    sys.exit(code)


def _interrupted_at_start(message: str) -> int:
    sys.stderr.write(f"probe: error: {message}\n")
    if "--json" in sys.argv[1:]:
        import json

        doc = {"schema": "probe.error/1", "status": "UNKNOWN", "error": message}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 3


def __getattr__(name: str) -> Any:
    if name == "app":
        from probe.cli import commands
        from probe.cli.base import app

        commands.load()
        return app
    raise AttributeError(name)


__all__ = ["main"]
