"""Entry point. Only the invoked command's module is imported (start-up time is part of every
cron run); `probe.cli.base` with every command is there for tests and `--help`."""

from __future__ import annotations

import sys
from typing import Any

from probe.cli import commands
from probe.cli.base import app as _app
from probe.cli.quiet import quiet_dependency_warnings


def _command_name(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
        if arg in ("--help", "-h"):
            return None
    return None


def main() -> None:
    quiet_dependency_warnings()
    name = _command_name(sys.argv[1:])
    module = name.replace("-", "_") if name else None
    commands.load([module] if module in commands.available() else None)
    _app()


def __getattr__(name: str) -> Any:
    if name == "app":
        commands.load()
        return _app
    raise AttributeError(name)


__all__ = ["main"]
