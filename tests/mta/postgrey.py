"""postgrey (Debian's package, 1.37) as the policy service of one Postfix listener
(`check_policy_service inet:127.0.0.1:PORT`): a private instance in the foreground, on a loopback
port, with its database in a temporary directory, greylisting every new triplet for `delay`
seconds, no whitelists and no auto-whitelisting, so each run is greylisted afresh.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.mta import servers

POSTGREY = Path("/usr/sbin/postgrey")
USER = "postgrey"


def missing_reason() -> str | None:
    if not POSTGREY.exists():
        return f"{POSTGREY} not installed (the greylisting path needs it; .ci/run installs it)"
    try:
        pwd.getpwnam(USER)
        grp.getgrnam(USER)
    except KeyError as exc:
        return f"system account missing: {exc}"
    return None


@contextlib.contextmanager
def postgrey(root: Path, delay: int, hostname: str) -> Iterator[int]:
    """postgrey listening on a free loopback port, which it yields."""
    d = root / "postgrey"
    (d / "db").mkdir(parents=True)
    os.chown(d / "db", pwd.getpwnam(USER).pw_uid, grp.getgrnam(USER).gr_gid)
    empty = d / "whitelist"
    empty.write_text("")
    port = servers.free_port()
    log = d / "postgrey.log"
    command = [
        str(POSTGREY),
        f"--inet=127.0.0.1:{port}",
        f"--dbdir={d / 'db'}",
        f"--pidfile={d / 'postgrey.pid'}",
        f"--delay={delay}",
        f"--hostname={hostname}",
        f"--whitelist-clients={empty}",
        f"--whitelist-recipients={empty}",
        "--auto-whitelist-clients=0",
        "--lookup-by-host",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        servers.wait_port(port, "postgrey", log)
        yield port
    finally:
        servers.stop(proc)
