"""Concurrency benchmark: the 12-variant matrix through probe vs a sequential swaks loop.

A loopback hop (aiosmtpd in a subprocess, so it never competes with probe for the GIL) answers
every DATA after a fixed delay. The same 12 messages go (a) through probe's send stage with an
explicit per-host limit and (b) through `swaks --data FILE`, one invocation after the other.
With a delay that dominates, swaks needs about 12 x delay and probe about ceil(12 / per_host) x
delay, so the ratio swaks / probe should approach the per-host limit; the goal is 0.85 x it.

Path (a) runs the real `probe run ... --via 127.0.0.1:PORT` command when it exists and times the
whole command (interpreter start included); otherwise it drives `probe.send.matrix.send_matrix` with
`probe.plan.craft.craft` in this process (crafting included in the timed part).

Run from the repository root:  python bench/bench_send.py [--delay 2.0] [--per-host 4]
This file also holds the hop (`--hop`), which bench/bench_rss.py reuses as its sink.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROFILE = HERE / "profiles" / "bench12.toml"
SWAKS = "/usr/bin/swaks"
MAIL_FROM = "bench@probe.test"
RCPT_TO = "mailbox@bench.probe.test"
DOMAIN = "bench.probe.test"
RUN_ID = "20260101T000000-bench0"  # fixed, so every run crafts the same bytes
DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- the hop


def hop_main(delay: float) -> None:
    """Serve SMTP on 127.0.0.1:0; print `PORT n`, then `DATA size active` per message.

    Stops when stdin closes (the parent going away ends the hop too).
    """
    from aiosmtpd.smtp import SMTP

    class Handler:
        def __init__(self) -> None:
            self.active = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.active += 1
            size = len(envelope.original_content or b"")
            envelope.content = envelope.original_content = None  # a sink: keep nothing
            print(f"DATA {size} {self.active}", flush=True)
            try:
                await asyncio.sleep(delay)
            finally:
                self.active -= 1
            return "250 2.0.0 Ok: queued as BENCH"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = Handler()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="hop.bench.probe.test", data_size_limit=None),
            "127.0.0.1",
            0,
            backlog=128,
        )
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        server.close()

    asyncio.run(serve())


class Hop:
    """The hop subprocess; counts the messages it saw and the peak of concurrent DATA."""

    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--hop", "--delay", str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if first[:1] != ["PORT"]:
            self.close()
            raise SystemExit("bench: the hop did not start (is aiosmtpd installed?)")
        self.port = int(first[1])
        self.sizes: list[int] = []
        self.peak = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if parts[:1] == ["DATA"]:
                with self._lock:
                    self.sizes.append(int(parts[1]))
                    self.peak = max(self.peak, int(parts[2]))

    def take(self) -> tuple[list[int], int]:
        """Sizes seen and peak concurrency since the last call (waits for stragglers)."""
        time.sleep(0.2)
        with self._lock:
            out = (sorted(self.sizes), self.peak)
            self.sizes, self.peak = [], 0
        return out

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Hop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- the matrix


def load_variants(path: Path) -> list[Any]:
    """The profile's variants as `VariantSpec`s, read by probe's own profile loader."""
    from probe.plan.profile_files import load_profile

    return list(load_profile(str(path)).variants)


def craft_one(spec: Any, size: int | None = None) -> Any:
    from probe.plan.craft import craft

    if size is not None:
        spec = dataclasses.replace(spec, size=size)
    return craft(
        spec, probe_id=f"{RUN_ID}.{spec.id}", mail_from=MAIL_FROM, rcpt_to=(RCPT_TO,), date=DATE
    )


def settings(port: int, per_host: int, concurrency: int, min_interval: float) -> Any:
    from probe.model.smtp import Timeouts
    from probe.send.matrix import SendSettings
    from probe.send.options import ConverseOptions

    options = ConverseOptions(
        helo="client.bench.probe.test", port=port, starttls=False, timeouts=Timeouts.uniform(60)
    )
    return SendSettings(
        options, concurrency=concurrency, per_host=per_host, retry_for=10.0,
        min_interval=min_interval,
    )  # fmt: skip


def send_api(
    specs: Sequence[Any], port: int, per_host: int, concurrency: int, min_interval: float
) -> tuple[list[str], float | None]:
    """probe's send stage in this process; each job crafts its message lazily, as `run` does."""
    from probe.model.message import OutgoingMessage
    from probe.send.matrix import Job, SendLog, Target, send_matrix

    def job(spec: Any) -> Job:
        probe_id = f"{RUN_ID}.{spec.id}"

        def build(advertised: int | None) -> OutgoingMessage:
            return dataclasses.replace(craft_one(spec), dsn_envid=probe_id)

        return Job(spec.id, probe_id, spec.description, build)

    target = Target("hop.bench.probe.test", "127.0.0.1", port)
    plan = settings(port, per_host, concurrency, min_interval)
    sends = asyncio.run(send_matrix([job(s) for s in specs], [target], plan, SendLog()))
    problems = [f"{s.variant}: {s.outcome.value} ({s.reason})" for s in sends
                if s.outcome.value != "accepted"]  # fmt: skip
    attempts = [
        {"started_at": a.started_at.isoformat(), "duration_ms": a.duration_ms}
        for s in sends
        for a in s.attempts
    ]
    return problems, _span(attempts)


def probe_command() -> list[str] | None:
    """The `probe` command when it has `run` (with --via), else None."""
    exe = shutil.which("probe") or str(Path(sys.executable).with_name("probe"))
    if not os.access(exe, os.X_OK):
        return None
    help_run = subprocess.run([exe, "run", "--help"], capture_output=True, text=True)
    return [exe] if help_run.returncode == 0 and "--via" in help_run.stdout else None


def send_cli(
    exe: list[str], port: int, per_host: int, concurrency: int, min_interval: float
) -> tuple[list[str], float | None]:
    """`probe run --via` as a subprocess; problems and the send stage's span from --save."""
    with tempfile.TemporaryDirectory(prefix="probe-bench-run-") as tmp:
        saved = Path(tmp) / "run.json"
        cmd = [
            *exe, "run", DOMAIN, "--to", RCPT_TO, "--from", MAIL_FROM, "--profile", str(PROFILE),
            "--via", f"127.0.0.1:{port}", "--per-host", str(per_host),
            "--concurrency", str(concurrency), "--min-interval", str(min_interval),
            "--json", "--save", str(saved),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode not in (0, 1) or not saved.exists():
            return [f"probe run exited {done.returncode}: {done.stderr.strip()[-300:]}"], None
        run = json.loads(saved.read_text())
    problems = [
        f"{v['variant']}: {v['outcome']} ({v.get('reason', '')})"
        for v in run["variants"]
        if v["outcome"] != "accepted"
    ]
    return problems, _span(a for v in run["variants"] for a in v["attempts"])


def _span(attempts: Any) -> float | None:
    """Seconds from the first conversation's start to the last one's end."""
    edges = []
    for a in attempts:
        start = dt.datetime.fromisoformat(a["started_at"]).timestamp()
        edges.append((start, start + a["duration_ms"] / 1000))
    if not edges:
        return None
    return max(e for _, e in edges) - min(s for s, _ in edges)


def send_swaks(files: Sequence[Path], port: int) -> list[str]:
    problems = []
    for path in files:
        done = subprocess.run(
            [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--to", RCPT_TO,
             "--from", MAIL_FROM, "--helo", "client.bench.probe.test", "--data", f"@{path}",
             "--silent", "2"],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            problems.append(f"{path.name}: swaks exited {done.returncode}")
    return problems


# --------------------------------------------------------------------------- main


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def check(label: str, hop: Hop, expected: list[int], problems: list[str], extra: int) -> bool:
    """Did the hop see exactly the crafted messages (`extra` bytes more each)?"""
    sizes, peak = hop.take()
    print(f"  {label}: hop saw {len(sizes)} messages, at most {peak} at once", flush=True)
    for p in problems:
        print(f"  {label}: {p}")
    if sizes != [n + extra for n in expected]:
        print(f"  {label}: sizes at the hop differ from the crafted ones: {sizes}")
        return False
    return not problems


def verdict(ratio: float, goal: float, ok: bool) -> str:
    return "PASS" if ratio >= goal and ok else "FAIL"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument(
        "--delay", type=float, default=2.0, help="seconds per DATA at the hop (a scanning gateway)"
    )
    ap.add_argument("--per-host", type=int, default=4, help="probe's per-host concurrency")
    ap.add_argument("--concurrency", type=int, default=8, help="probe's global concurrency")
    ap.add_argument("--min-interval", type=float, default=0.0,
                    help="probe's pacing between connection starts (default 0)")  # fmt: skip
    ap.add_argument("--api", action="store_true", help="use the Python API, not `probe run`")
    ap.add_argument("--hop", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.hop:
        hop_main(args.delay)
        return 0
    if not os.access(SWAKS, os.X_OK):
        print(f"bench_send: {SWAKS} not found (apt-get install swaks): the baseline is "
              "unavailable, nothing measured")  # fmt: skip
        return 0

    specs = load_variants(PROFILE)
    exe = None if args.api else probe_command()
    limits = (args.per_host, args.concurrency, args.min_interval)
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        files, expected = [], []
        for spec in specs:
            message = craft_one(spec)
            path = Path(tmp) / f"{spec.id}.eml"
            path.write_bytes(message.data)
            files.append(path)
            expected.append(len(message.data))
        expected.sort()
        print(
            f"matrix: {len(specs)} variants from {PROFILE.relative_to(HERE.parent)}, "
            f"{sum(expected):,} bytes; hop: aiosmtpd on 127.0.0.1, {args.delay} s per DATA"
        )
        with Hop(args.delay) as hop:
            if exe:
                how = "`probe run --via`, whole command"
                probe_s, (problems, span) = timed(send_cli, exe, hop.port, *limits)
            else:
                how = "probe.send.matrix.send_matrix API, crafting included"
                probe_s, (problems, span) = timed(send_api, specs, hop.port, *limits)
            ok = check("probe", hop, expected, problems, 0)
            swaks_s, problems = timed(send_swaks, files, hop.port)
            # swaks ends DATA with CRLF "." CRLF after the file's own final CRLF: 2 bytes more
            ok = check("swaks", hop, expected, problems, 2) and ok

    goal = 0.85 * args.per_host
    waves = math.ceil(len(specs) / args.per_host)
    print(f"per-host concurrency: {args.per_host} (global {args.concurrency}, "
          f"min interval {args.min_interval} s)")  # fmt: skip
    print(f"swaks, sequential loop of {len(files)}: {swaks_s:6.2f} s "
          f"(floor {len(files) * args.delay:.2f} s)")  # fmt: skip
    print(f"probe ({how}): {probe_s:6.2f} s (floor {waves * args.delay:.2f} s)")
    if span is not None:
        print(f"probe send stage (first connect to last close): {span:6.2f} s")
    ratio = swaks_s / probe_s
    print(f"ratio swaks/probe: {ratio:.2f}   goal >= 0.85 x {args.per_host} = {goal:.2f}   "
          f"{verdict(ratio, goal, ok)}")  # fmt: skip
    if exe:
        startup, _ = timed(subprocess.run, [*exe, "version"], capture_output=True)
        print(f"probe start-up alone (`probe version`): {startup:6.2f} s")
    if span is not None and exe:
        stage_ratio = swaks_s / span
        print(f"ratio swaks/probe send stage (without probe's start-up): {stage_ratio:.2f}   "
              f"{verdict(stage_ratio, goal, ok)}")  # fmt: skip
    return 0 if ratio >= goal and ok else 1


if __name__ == "__main__":
    sys.exit(main())
