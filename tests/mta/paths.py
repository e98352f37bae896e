"""Mail paths built around one real Postfix, for the scenario tier (tests/mta/test_mta_paths.py).

One Postfix instance serves every path of the module, one smtpd listener per path, each with
its own `-o` overrides in master.cf (Postfix 3.7, Debian 12):

    plain      the instance's own smtpd, no checks: what the lab's boxes stand in front of
               (tests/mta/boxes.py)

The paths deliver by LMTP into one Dovecot (tests/mta/servers.py), where probe collects over
IMAPS. Everything listens on 127.0.0.1 and lives under one temporary directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.mta import servers


@dataclasses.dataclass(frozen=True)
class Paths:
    """The running servers and the port of each path's smtpd."""

    dovecot: servers.Dovecot
    postfix: servers.Postfix
    plain: int  # no checks, no rewrites

    @property
    def log(self) -> str:
        """Postfix's log so far, for an assertion's message."""
        return self.postfix.log.read_text(errors="replace")[-3000:]


def _smtpd(port: int, *overrides: str) -> str:
    """A master.cf line: an smtpd on 127.0.0.1:`port` with `-o name=value` overrides."""
    options = "".join(f"\n  -o {o}" for o in overrides)
    return f"127.0.0.1:{port} inet n - n - - smtpd{options}\n"


@contextlib.contextmanager
def postfix_paths() -> Iterator[Paths]:
    """Dovecot and the one Postfix with every path's listener, in a fresh temporary directory."""
    root = Path(tempfile.mkdtemp(prefix="probe-mta-paths-"))
    root.chmod(0o755)  # Dovecot's mail user and Postfix must traverse it
    master = ""
    try:
        with (
            servers.dovecot(root) as dc,
            servers.postfix(root, dc.lmtp_port, header_checks=False, master=master) as pf,
        ):
            yield Paths(dc, pf, pf.smtp_port)
    finally:
        shutil.rmtree(root, ignore_errors=True)
