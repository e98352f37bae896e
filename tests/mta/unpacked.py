"""Real MTAs run from unpacked Debian packages, for the `mta` tier beyond Postfix.

Debian allows one mail-transport-agent per system: exim4, opensmtpd and sendmail conflict with
the postfix the rest of the tier uses. So `.ci/run` does not install them: it downloads their
.debs into /var/cache/probe-mta and unpacks each with `dpkg -x` into its own tree under
/opt/probe-mta/<name> (PROBE_MTA_TREES moves it), installs the few libraries and Perl modules
they need that conflict with nothing, and creates the system accounts the binaries look up by
their compiled-in names (as the packages' postinst scripts would). The tests then start each
binary from its tree with a private configuration, spool and log under a temporary directory,
listening on a loopback port, in its own mount namespace whose resolver is 127.0.0.1 (no lookup
leaves the machine), and stop it (its whole process group) at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.mta.resolver import loopback_resolver
from tests.mta.servers import free_port, wait_port

TREES = Path(os.environ.get("PROBE_MTA_TREES", "/opt/probe-mta"))
STOP_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Unpacked:
    """One MTA's unpacked tree: what must be there for its tests to run."""

    name: str  # the tree's directory under TREES, and .ci/run's name for it
    binaries: tuple[str, ...]  # paths inside the tree
    users: tuple[str, ...] = ()  # system accounts the binaries look up by name
    host_paths: tuple[str, ...] = ()  # on the host: mount points, a delivery agent it calls

    @property
    def root(self) -> Path:
        return TREES / self.name

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def missing_reason(self) -> str | None:
        """Why this MTA's tests cannot run here, or None."""
        if os.geteuid() != 0:
            return f"{self.name}: the mta tier starts real MTAs and needs root"
        for binary in self.binaries:
            if not self.path(binary).exists():
                return (
                    f"{self.name}: {self.path(binary)} missing (.ci/run downloads and unpacks "
                    f"the Debian package into {self.root})"
                )
        for needed in self.host_paths:
            if not Path(needed).exists():
                return f"{self.name}: {needed} missing (.ci/run installs or creates it)"
        for user in self.users:
            try:
                pwd.getpwnam(user)
            except KeyError:
                return f"{self.name}: system account {user!r} missing (.ci/run creates it)"
        return None


@dataclasses.dataclass(frozen=True)
class Daemon:
    port: int
    log: Path


@dataclasses.dataclass(frozen=True)
class Hop:
    """A running MTA as a test sees it: where to send, whom to trust, where the mail lands."""

    name: str  # its name in its Received header
    port: int
    ca: Path | None  # the test CA its STARTTLS certificate comes from (None: no STARTTLS)
    log: Path
    mailbox: str  # probe's mailbox URL for the test recipient (user@mta.probe.test)


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A fresh temporary directory every daemon user can traverse, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"probe-mta-{prefix}-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write(path: Path, text: str, mode: int = 0o644, owner: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    if owner is not None:
        account = pwd.getpwnam(owner)
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


def owned_dir(path: Path, owner: str, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    account = pwd.getpwnam(owner)
    os.chown(path, account.pw_uid, account.pw_gid)
    path.chmod(mode)
    return path


def maildir(path: Path, owner: str) -> Path:
    """An empty Maildir the MTA (as `owner`) delivers into; probe opens it before any mail."""
    for sub in ("tmp", "new", "cur"):
        owned_dir(path / sub, owner, 0o700)
    owned_dir(path, owner, 0o700)
    return path


@dataclasses.dataclass(frozen=True)
class Tls:
    ca: Path  # the test CA probe is told to trust (SendArgs.ca_file)
    cert: Path
    key: Path


def tls_files(directory: Path, host: str, owner: str | None = None) -> Tls:
    """A certificate for `host` (and 127.0.0.1) from a fresh test CA, readable by `owner`."""
    import trustme  # test dependency; imported here so collection works without it

    ca = trustme.CA()
    issued = ca.issue_cert(host, "127.0.0.1")
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(tls.ca))
    issued.cert_chain_pems[0].write_to_path(str(tls.cert))
    issued.private_key_pem.write_to_path(str(tls.key))
    tls.key.chmod(0o600)
    if owner is not None:
        account = pwd.getpwnam(owner)
        for path in (tls.cert, tls.key):
            os.chown(path, account.pw_uid, account.pw_gid)
    return tls


def in_namespace(
    binds: Sequence[tuple[Path, str]], argv: Sequence[str | Path], user: str | None = None
) -> list[str]:
    """`argv` run in a private mount namespace where each (source, target) is bind-mounted,
    then as `user` (privileges dropped after the mounts, which need root)."""
    mounts = " && ".join(f"mount --bind {shlex.quote(str(s))} {shlex.quote(t)}" for s, t in binds)
    drop = []
    if user is not None:
        account = pwd.getpwnam(user)
        drop = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}"]
        drop.append("--clear-groups")
    command = " ".join(shlex.quote(str(a)) for a in [*drop, *argv])
    script = f"{mounts} && exec {command}" if mounts else f"exec {command}"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def loopback_only(directory: Path, host: str, nameserver: str) -> list[tuple[Path, str]]:
    """Binds that keep a daemon off the network: a resolv.conf naming the loopback responder
    (tests/mta/resolver.py), and a hosts file naming the machine `host` (Sendmail sleeps and
    retries while it cannot qualify its own name)."""
    resolv = write(directory / "resolv.conf", f"nameserver {nameserver}\n")
    names = f"127.0.0.1 localhost\n127.0.0.1 {host} {socket.gethostname()}\n"
    return [(resolv, "/etc/resolv.conf"), (write(directory / "hosts", names), "/etc/hosts")]


@contextlib.contextmanager
def daemon(
    argv: Sequence[str | Path],
    *,
    port: int,
    log: Path,
    what: str,
    host: str,
    env: Mapping[str, str] | None = None,
    binds: Sequence[tuple[Path, str]] = (),
    user: str | None = None,
) -> Iterator[Daemon]:
    """Start a daemon in the foreground, in its own session and mount namespace (`binds`, and
    `loopback_only`'s resolver and hosts file), as `user` (else root); wait (bounded) until it
    listens on 127.0.0.1:port; at the end stop its whole process group (the daemon's own id)
    and its resolver."""
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})}
    output = log.with_suffix(".out")
    etc = log.parent / f"{what}-etc"
    with loopback_resolver() as nameserver:
        command = in_namespace([*loopback_only(etc, host, nameserver), *binds], argv, user)
        with output.open("wb") as sink:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        try:
            try:
                wait_port(port, what, log if log.exists() else output)
            except RuntimeError as exc:
                if proc.poll() is not None:
                    tail = output.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}") from exc
                raise
            yield Daemon(port, log)
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    end = time.monotonic() + STOP_TIMEOUT  # children of the group outliving the leader
    while time.monotonic() < end:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


__all__ = [
    "TREES",
    "Daemon",
    "Hop",
    "Tls",
    "Unpacked",
    "daemon",
    "free_port",
    "in_namespace",
    "maildir",
    "owned_dir",
    "scratch",
    "tls_files",
    "write",
]
