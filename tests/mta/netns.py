"""Three network namespaces in a row for a firewall test, created and removed by the test run:

    outside (probe firewall) --veth 10.R.1.0/30-- box --veth 10.R.2.0/30-- inside (probe listen)

The names carry the process id and a random suffix, so runs never share one; the veth pairs are
created inside the namespaces (never in the host's), and deleting a namespace deletes its end of
each pair. There is no route between outside and inside: whatever reaches the listener came
through the box. Needs root and iproute2 (`.ci/run` installs it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

IP = "ip"
COMMAND_TIMEOUT = 10.0  # seconds for one `ip` command
WAIT_TIMEOUT = 20.0  # seconds a server in a namespace may take to listen


def missing_reason() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which(IP) is None:
        return "ip (iproute2) not installed; .ci/run installs it"
    return None


def _ip(*args: str) -> None:
    done = subprocess.run(
        [IP, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()[-500:]}")


@dataclasses.dataclass(frozen=True)
class Chain:
    """The three namespaces and the addresses on each link."""

    outside: str
    box: str
    inside: str
    client: str  # outside's address on the outside link
    box_outer: str  # the box's address on the outside link: what probe firewall targets
    box_inner: str  # the box's address on the inside link
    sink: str  # inside's address: where probe listen listens

    def exec(self, namespace: str, *argv: str) -> list[str]:
        return [IP, "netns", "exec", namespace, *argv]

    @contextlib.contextmanager
    def serving(
        self, namespace: str, argv: list[str], log: Path, cwd: Path, address: tuple[str, int]
    ) -> Iterator[None]:
        """A server process in `namespace` (stdout and stderr into `log`), once it listens on
        `address`; stopped at the end (SIGTERM, then SIGKILL)."""
        with log.open("wb") as out:
            process = subprocess.Popen(
                self.exec(namespace, *argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd
            )
        try:
            self.wait_listening(namespace, *address, log)
            yield
        finally:
            process.terminate()
            try:
                process.wait(COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(COMMAND_TIMEOUT)

    def wait_listening(self, namespace: str, host: str, port: int, log: Path) -> None:
        """Until a TCP connection to host:port succeeds from inside `namespace` (bounded)."""
        code = (
            "import socket, sys, time\n"
            f"end = time.monotonic() + {WAIT_TIMEOUT}\n"
            "while time.monotonic() < end:\n"
            "    try:\n"
            f"        socket.create_connection(({host!r}, {port}), 0.5).close()\n"
            "        sys.exit(0)\n"
            "    except OSError:\n"
            "        time.sleep(0.05)\n"
            "sys.exit(1)\n"
        )
        done = subprocess.run(
            self.exec(namespace, sys.executable, "-c", code),
            capture_output=True,
            timeout=WAIT_TIMEOUT + COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"nothing listens on {host}:{port} in {namespace}:\n{tail}")


def _link(left: str, left_if: str, right: str, right_if: str, net: str) -> tuple[str, str]:
    """A veth pair between two namespaces, `net`.1 on the left, `net`.2 on the right."""
    _ip(
        "-n", left, "link", "add", left_if, "type", "veth", "peer", "name", right_if, "netns", right
    )
    for namespace, ifname, host in ((left, left_if, 1), (right, right_if, 2)):
        _ip("-n", namespace, "addr", "add", f"{net}.{host}/30", "dev", ifname)
        _ip("-n", namespace, "link", "set", ifname, "up")
    return f"{net}.1", f"{net}.2"


@dataclasses.dataclass
class _Made:
    names: list[str] = dataclasses.field(default_factory=list)

    def remove(self) -> list[str]:
        """Deletes every namespace made; the ones that would not go are returned."""
        left = []
        for name in reversed(self.names):
            done = subprocess.run(
                [IP, "netns", "delete", name], capture_output=True, timeout=COMMAND_TIMEOUT
            )
            if done.returncode != 0:
                left.append(name)
        return left


def chain() -> Iterator[Chain]:
    """The three namespaces, linked; removed when the generator is closed, also on failure
    (a fixture's finaliser)."""
    run = f"pfw{os.getpid() % 100000}{secrets.token_hex(2)}"
    made = _Made()
    try:
        for role in ("out", "box", "in"):
            name = f"{run}-{role}"
            _ip("netns", "add", name)
            made.names.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        outside, box, inside = made.names
        octet = 16 + secrets.randbelow(200)
        client, box_outer = _link(outside, "o0", box, "b0", f"10.{octet}.1")
        box_inner, sink = _link(box, "b1", inside, "i0", f"10.{octet}.2")
        yield Chain(outside, box, inside, client, box_outer, box_inner, sink)
    finally:
        left = made.remove()
        if left:
            raise RuntimeError(f"network namespaces not removed: {', '.join(left)}")
