"""Dependencies' warnings never reach the user; probe's own (and Python's) still do."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import probe
from probe.cli.quiet import is_dependency_warning

PROBE_FILE = str(Path(probe.__file__).resolve().parent / "send" / "tls.py")
DEP_FILE = "/usr/lib/python3/dist-packages/cryptography/x509/base.py"


class DependencyWarning(UserWarning):
    pass


DependencyWarning.__module__ = "cryptography.utils"  # as CryptographyDeprecationWarning


class ProbeWarning(UserWarning):
    pass


ProbeWarning.__module__ = "probe.send.tls"


def test_a_dependency_category_is_dropped_wherever_it_is_raised() -> None:
    assert is_dependency_warning(DependencyWarning, PROBE_FILE)
    assert is_dependency_warning(DependencyWarning, "")


def test_a_python_category_raised_inside_a_dependency_is_dropped() -> None:
    assert is_dependency_warning(DeprecationWarning, DEP_FILE)
    assert is_dependency_warning(RuntimeWarning, "/x/.venv/lib/python3.12/site-packages/a/b.py")


def test_probe_and_python_warnings_are_kept() -> None:
    assert not is_dependency_warning(UserWarning, PROBE_FILE)
    assert not is_dependency_warning(ProbeWarning, PROBE_FILE)
    assert not is_dependency_warning(DeprecationWarning, "/usr/lib/python3.12/asyncio/events.py")
    assert not is_dependency_warning(RuntimeWarning, "")


def test_the_cli_entry_point_filters_only_dependency_warnings() -> None:
    script = (
        "import sys, warnings\n"
        "from probe.cli import quiet\n"
        "quiet.quiet_dependency_warnings()\n"
        "class W(UserWarning): pass\n"
        "W.__module__ = 'cryptography.utils'\n"
        "warnings.warn(W('from a dependency'))\n"
        "warnings.warn('probe itself')\n"
    )
    with warnings.catch_warnings():
        run = subprocess.run(
            [sys.executable, "-W", "default", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 0, run.stderr
    assert "probe itself" in run.stderr and "from a dependency" not in run.stderr
