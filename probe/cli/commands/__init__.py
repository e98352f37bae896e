"""One module per command. `load` imports (and so registers) the ones a call needs: the
command line names one, so `probe run` never pays for importing the lab or the demo."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable


def available() -> tuple[str, ...]:
    return tuple(info.name for info in pkgutil.iter_modules(__path__))


def load(names: Iterable[str] | None = None) -> None:
    """Import the named command modules, or every one (for help, tests, unknown names)."""
    for name in available() if names is None else names:
        importlib.import_module(f"{__name__}.{name}")
