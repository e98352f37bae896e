"""Entry point. Only the invoked command's module is imported (start-up time is part of every
cron run); `probe.cli.base` with every command is there for tests and `--help`.

SIGTERM raises like Ctrl-C from the first line on, and a stop request while the modules load
ends the process with one line and exit 3, like any other interruption.
"""

from __future__ import annotations

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
    try:
        from probe.pipeline.interrupts import terminate_raises

        terminate_raises()
        from probe.cli.quiet import quiet_dependency_warnings

        quiet_dependency_warnings()
        from probe.cli import commands
        from probe.cli.base import app

        name = _command_name(sys.argv[1:])
        module = name.replace("-", "_") if name else None
        commands.load([module] if module in commands.available() else None)
        app()  # builds the click commands, then runs one under ProbeGroup.main's guard
    except KeyboardInterrupt as exc:  # before the app's own guard is in place
        message = str(exc) or "interrupted"
        sys.stderr.write(f"probe: error: {message}\n")
        if "--json" in sys.argv[1:]:
            import json

            doc = {"schema": "probe.error/1", "status": "UNKNOWN", "error": message}
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.exit(3)


def __getattr__(name: str) -> Any:
    if name == "app":
        from probe.cli import commands
        from probe.cli.base import app

        commands.load()
        return app
    raise AttributeError(name)


__all__ = ["main"]
