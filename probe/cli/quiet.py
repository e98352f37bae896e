"""Warnings of dependencies stay away from the user; probe's own warnings still show.

A warning is a dependency's when its category is defined in an installed package that is neither
probe nor the standard library (cryptography's CryptographyDeprecationWarning for an old system
root with serial 0, whichever line triggers it), or when it is raised from a file of such a package
(a DeprecationWarning inside aiosmtpd). Installed at the CLI edge only: library users and the
tests keep the usual behaviour.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TextIO

_PROBE = Path(__file__).resolve().parents[1]
_PACKAGES = ("site-packages", "dist-packages")


def is_dependency_warning(category: type[Warning], filename: str) -> bool:
    """True for a warning a dependency defines or raises (probe's and Python's own: False)."""
    top = category.__module__.partition(".")[0]
    if top not in ("builtins", "probe", "__main__") and top not in sys.stdlib_module_names:
        return True
    path = Path(filename).resolve() if filename else None
    if path is None or path.is_relative_to(_PROBE):
        return False
    return any(part in _PACKAGES for part in path.parts)  # the standard library has none


def quiet_dependency_warnings() -> None:
    """Route warnings through a filter that drops the dependencies' ones (process-wide)."""
    shown = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if not is_dependency_warning(category, filename):
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


__all__ = ["is_dependency_warning", "quiet_dependency_warnings"]
