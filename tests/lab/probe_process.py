"""`probe` as a real process, for what only a process shows: signals, exit codes, stdout that
cannot be written, temporary files left behind. Every wait is bounded."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

WAIT = 60.0  # seconds at most for any line or exit (the machine may be busy)


@dataclasses.dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


class ProbeProcess:
    """`python -m probe ARGS` with stderr read line by line as it comes, stdout collected.

    `tmp` becomes the process's TMPDIR, so a test can see every temporary file it leaves."""

    def __init__(self, *args: str, cwd: Path, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
        env.pop("PROBE_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "probe", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_default_signals,  # a background shell's SIG_IGN is not inherited
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._stdout: list[bytes] = []
        self._threads = [
            threading.Thread(target=self._read_stderr, daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self._stderr.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        self._stdout.append(self.proc.stdout.read())

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """The first stderr line (from now on) that contains `text`."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if text in line:
                return line
        self.kill()
        raise AssertionError(f"no {text!r} on stderr; it said: {''.join(self._stderr)[-3000:]}")

    def wait_catching(self, sig: signal.Signals, timeout: float = WAIT) -> None:
        """Until the process catches `sig` (Linux: its SigCgt mask), i.e. probe's own start-up
        has begun; before that the interpreter itself is still starting."""
        end = time.monotonic() + timeout
        status = Path(f"/proc/{self.proc.pid}/status")
        while time.monotonic() < end and self.proc.poll() is None:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            if int(fields.get("SigCgt", "0").strip(), 16) >> (sig - 1) & 1:
                return
            time.sleep(0.002)
        raise AssertionError(f"probe never caught {sig.name}")

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = WAIT) -> Finished:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            said = "".join(self._stderr)[-3000:]
            raise AssertionError(f"probe did not end; stderr: {said}") from None
        for thread in self._threads:
            thread.join(5)
        stdout = b"".join(self._stdout).decode("utf-8", "replace")
        return Finished(code, stdout, "".join(self._stderr))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def run_probe(*args: str, cwd: Path, tmp: Path, timeout: float = WAIT) -> Finished:
    """Run to the end, no signal."""
    return ProbeProcess(*args, cwd=cwd, tmp=tmp).finish(timeout)
