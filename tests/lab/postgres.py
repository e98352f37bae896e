"""A private PostgreSQL server for the tests: initdb + pg_ctl on a socket directory of its own.

Debian's `postgresql` package (installed by .ci/run) provides the binaries under
/usr/lib/postgresql/<major>/bin; the Debian cluster it starts is stopped by .ci/run and never
used. The server listens on a Unix socket only (no TCP at all), runs as an unprivileged user (as
root: the `postgres` account the package creates, via runuser) and is removed afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORT = 54329  # only names the socket file (.s.PGSQL.54329); nothing listens on TCP


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable_reason() -> str | None:
    if binaries() is None:
        return "PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no unprivileged postgres account to run it"
    return None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def running_postgres() -> Iterator[str]:
    """Yields a libpq URL (socket directory, port, user, database `probe`)."""
    bin_dir = binaries()
    assert bin_dir is not None
    base = Path(tempfile.mkdtemp(prefix="probe-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    env = {**os.environ, "LC_ALL": "C"}
    run = dict(check=True, capture_output=True, timeout=120, env=env)
    try:
        subprocess.run(
            _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", user,
                             "-E", "UTF8", "--no-sync"]),
            **run,  # type: ignore[call-overload]
        )
        options = f"-c listen_addresses='' -k {sockets} -p {PORT} -c fsync=off"
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                             "-t", "60", "-l", str(base / "log"), "start"]),
            **run,  # type: ignore[call-overload]
        )
        subprocess.run(
            _as_server_user([str(bin_dir / "createdb"), "-h", str(sockets), "-p", str(PORT),
                             "-U", user, "probe"]),
            **run,  # type: ignore[call-overload]
        )
        yield f"postgresql:///probe?host={sockets}&port={PORT}&user={user}"
    finally:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                             "stop"]),
            capture_output=True, timeout=60, env=env,
        )
        shutil.rmtree(base, ignore_errors=True)
