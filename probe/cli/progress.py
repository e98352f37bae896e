"""Progress for humans on stderr: a bar on a terminal, plain lines when asked, else silence."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    def __init__(self, *, enabled: bool, bar: bool | None = None) -> None:
        self.enabled = enabled
        self.bar = enabled and (sys.stderr.isatty() if bar is None else bar)
        self._rich: Any = None
        self._task: Any = None

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.console.print(message, highlight=False, markup=False)
        else:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def step(self, done: int, total: int, label: str) -> None:
        if not self.bar:
            return
        if self._rich is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._rich = Progress(
                TextColumn("sending"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(label, total=total)
        self._rich.update(self._task, completed=done, total=total, description=label)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
