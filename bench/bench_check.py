"""`probe check` over many targets, beside a sequential loop of the monitoring plugin check_smtp.

Everything is on loopback: a DNS responder (probe's lab responder) with N domains whose MX point at
a few aiosmtpd servers on 127.0.0.20-23, all on one port. Each server delays every reply by a round-
trip time (`--rtt-ms`, default 20 ms, a near MX seen over the internet): on loopback with no delay a
conversation costs nothing but CPU, which measures Python against C, not the check. probe resolves
each domain's MX and holds its capability conversation (banner, EHLO, QUIT; the servers offer no
STARTTLS) with every address, storing each result in a fresh SQLite history, as cron would run it.
The baseline asks the same servers the same question with `check_smtp -H ADDRESS -p PORT` (Debian's
monitoring-plugins-basic), one target after the other, as a Nagios host loop would.

Prints wall time and peak RSS of `probe check` at 100 and N targets (the per-target cost must stay
flat), the loop's wall time, and the ratio (goal >= 10x, RSS <= 300 MB).

    python bench/bench_check.py [--targets 1000] [--baseline-targets 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from probe.lab.dnsserver import DnsResponder, DnsZone

ADDRESSES = ("127.0.0.20", "127.0.0.21", "127.0.0.22", "127.0.0.23")
CHECK_SMTP = "/usr/lib/nagios/plugins/check_smtp"
ROOT = Path(__file__).resolve().parents[1]


class _Handler:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 2.0.0 Ok"


class _Remote(SMTP):
    """An SMTP server one round trip away: every reply (the banner too) leaves after RTT."""

    rtt = 0.02

    async def push(self, status: str) -> None:
        await asyncio.sleep(self.rtt)
        await super().push(status)


def _free_port() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind((ADDRESSES[0], 0))
            port = s.getsockname()[1]
        ok = True
        for address in ADDRESSES[1:]:
            with socket.socket() as s:
                try:
                    s.bind((address, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no port free on every bench address")


def _zone(count: int) -> DnsZone:
    records: dict[str, tuple[tuple[str, str], ...]] = {}
    for i, address in enumerate(ADDRESSES):
        records[f"mx{i}.bench.test."] = (("A", address),)
    for n in range(count):
        records[f"t{n}.bench.test."] = (("MX", f"10 mx{n % len(ADDRESSES)}.bench.test."),)
    return DnsZone(records)


class ServiceThread:
    """The lab's DNS responder for `zone(count)` and some SMTP servers, on their own loop in a
    thread; a subclass starts its servers in `serve` and stops them in `shut`."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.port = 0
        self.dns_port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        daemon=True)

    async def serve(self) -> None:
        raise NotImplementedError

    async def shut(self) -> None:
        raise NotImplementedError

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        responder = DnsResponder(_zone(self.count))
        await responder.start()
        self.dns_port = responder.port
        await self.serve()
        self._ready.set()
        await self._stop.wait()
        await self.shut()
        await responder.close()

    def __enter__(self) -> Any:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("bench services did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


class Services(ServiceThread):
    """aiosmtpd servers one round trip away on the bench addresses."""

    def __init__(self, count: int, rtt: float) -> None:
        super().__init__(count)
        self.rtt = rtt
        self.port = _free_port()
        self._servers: list[asyncio.Server] = []

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        _Remote.rtt = self.rtt
        self._servers = [
            await loop.create_server(lambda: _Remote(_Handler(), hostname="mx.bench.test"),
                                     address, self.port, backlog=512)
            for address in ADDRESSES]

    async def shut(self) -> None:
        for server in self._servers:
            server.close()


def _config(directory: Path, count: int, port: int) -> Path:
    lines = ["[check]", "concurrency = 64", "per_address = 16", "deadline = 600",
             "[defaults.expect]", 'starttls = "off"', ""]
    for n in range(count):
        lines += ["[[target]]", f'domain = "t{n}.bench.test"', f"port = {port}", ""]
    path = directory / f"checks-{count}.toml"
    path.write_text("\n".join(lines))
    return path


def _run_probe(services: Services, count: int, directory: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB, exit code of one `probe check` over `count` targets."""
    config = _config(directory, count, services.port)
    db = directory / f"history-{count}.sqlite"
    argv = [sys.executable, "-m", "probe", "check", "--config", str(config), "--db", str(db),
            "--nameserver", f"127.0.0.1:{services.dns_port}", "--timeout", "20",
            "--helo", "bench.invalid", "--json"]
    env = {**os.environ, "XDG_STATE_HOME": str(directory / "state")}
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"probe check exited {code}: {err[-500:]}")
    return wall, usage.ru_maxrss / 1024, code


def _run_baseline(services: Services, count: int) -> float:
    started = time.monotonic()
    for n in range(count):
        address = ADDRESSES[n % len(ADDRESSES)]
        result = subprocess.run([CHECK_SMTP, "-H", address, "-p", str(services.port), "-t", "20"],
                                capture_output=True, timeout=60)
        if result.returncode != 0:
            raise SystemExit(f"check_smtp failed: {result.stdout.decode(errors='replace')}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--baseline-targets", type=int, default=None,
                        help="targets for the check_smtp loop (default: --targets)")
    args = parser.parse_args()
    count = max(100, min(args.targets, 5000))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    directory = Path(tempfile.mkdtemp(prefix="probe-bench-check-"))
    try:
        print(f"round trip per reply: {args.rtt_ms:g} ms; {len(ADDRESSES)} SMTP servers")
        with Services(count, args.rtt_ms / 1000) as services:
            small_wall, small_rss, _ = _run_probe(services, 100, directory)
            wall, rss, _ = _run_probe(services, count, directory)
            print(f"probe check, capabilities, 100 targets: {small_wall:6.2f} s wall, "
                  f"{small_rss:5.0f} MB peak RSS, {1000 * small_wall / 100:6.1f} ms per target")
            print(f"probe check, capabilities, {count} targets: {wall:6.2f} s wall, "
                  f"{rss:5.0f} MB peak RSS, {1000 * wall / count:6.1f} ms per target")
            growth = (wall / count) / (small_wall / 100)
            print(f"per-target cost {count} vs 100 targets: {growth:.2f}x (flat: about 1 or less)")
            if not Path(CHECK_SMTP).exists():
                print(f"baseline skipped: {CHECK_SMTP} missing "
                      "(apt-get install monitoring-plugins-basic)")
                return
            base_count = args.baseline_targets or count
            base = _run_baseline(services, base_count)
            scaled = base * count / base_count
            print(f"check_smtp loop, {base_count} targets: {base:6.2f} s wall"
                  + (f" (scaled to {count}: {scaled:.2f} s)" if base_count != count else ""))
            ratio = scaled / wall
            print(f"ratio: probe check is {ratio:.1f}x faster (goal >= 10x): "
                  f"{'PASS' if ratio >= 10 else 'FAIL'}; peak RSS {rss:.0f} MB (goal <= 300): "
                  f"{'PASS' if rss <= 300 else 'FAIL'}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
