"""What only a real process shows at the edge: stdout that cannot be written, input files that
would hang or exhaust a reader, Ctrl-C with nothing to report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.probe_process import run_probe

WAIT = 60


@pytest.mark.parametrize("args", [["version"], ["codes", "554", "5.7.1 spam", "--json"]])
def test_stdout_on_a_full_device_is_one_line_and_exit_3(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "probe", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=WAIT,
        )
    assert done.returncode == 3
    assert done.stderr.decode() == "probe: error: cannot write to stdout: No space left on device\n"


def test_a_fifo_as_input_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    for command in (["trace", str(fifo)], ["analyze", str(fifo), "--json"]):
        done = run_probe(*command, cwd=tmp_path, tmp=tmp_path / "tmp", timeout=WAIT)
        assert done.code == 3
        assert f"cannot read {fifo}: not a regular file (a FIFO)" in done.stderr
    done = run_probe(
        "run", "example.org", "--to", "a@example.org", "--mailbox", "imap://a@127.0.0.1/INBOX",
        "--password-file", str(fifo), cwd=tmp_path, tmp=tmp_path / "tmp", timeout=WAIT,
    )  # fmt: skip
    assert done.code == 3 and "the password file" in done.stderr and "FIFO" in done.stderr
