"""Entry point: import every command module so it registers itself on the app."""

from __future__ import annotations

from probe import commands  # noqa: F401  (registers the commands)
from probe.cliapp import app


def main() -> None:
    app()


__all__ = ["app", "main"]
