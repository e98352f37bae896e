"""Received-chain parsing throughput: probe beside mail-parser, on the same messages, in one run.

Generates N messages (default 20,000) with 3-8 Received headers each with the tests' generator
(tests/unit/received_samples.py: templates of real stamp shapes with varied hosts, addresses, ids
and dates). Then, pinned to one core:

* probe `trace(bytes)`: header split + parse + chain analysis, per message;
* probe `parse_received` over the pre-extracted Received values, per message;
* mail-parser `receiveds_parsing` over the same pre-extracted values, run by the interpreter of a
  separate venv (env `PROBE_BENCH_PYTHON`, default /tmp/bench-venv/bin/python) so the package
  never enters probe's environment.

Usage: python bench/bench_received.py [--messages N] [--repeat R]   (see bench/README.md)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probe.analyze.headers import header_fields
from probe.analyze.received.path import parse_received, trace
from probe.model.trace import Hop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests/
from tests.unit.received_samples import generate  # noqa: E402 - needs the root on the path

DEFAULT_PYTHON = "/tmp/bench-venv/bin/python"


def best_rate(count: int, repeat: int, run: Callable[[], object]) -> float:
    """Messages per CPU second, best of `repeat` (CPU time: the machine may be shared)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return count / best


def each(function: Callable[[Any], object], items: list[Any]) -> Callable[[], None]:
    """Call `function` on every item, results discarded, as the mail-parser side does."""

    def run() -> None:
        for item in items:
            function(item)

    return run


MAILPARSER_SCRIPT = r"""
import json, sys, time, logging
logging.disable(logging.CRITICAL)
from mailparser.utils import receiveds_parsing
chains = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])
best = float("inf")
for _ in range(repeat):
    t0 = time.process_time()
    for chain in chains:
        receiveds_parsing(chain)
    best = min(best, time.process_time() - t0)
print(json.dumps({"rate": len(chains) / best}))
"""


def mailparser_rate(chains: list[list[str]], repeat: int) -> float | None:
    python = os.environ.get("PROBE_BENCH_PYTHON", DEFAULT_PYTHON)
    if not Path(python).exists():
        print(f"mail-parser: not measured ({python} does not exist; see bench/README.md)")
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(chains, fh)
    try:
        cmd = [python, "-c", MAILPARSER_SCRIPT, fh.name, str(repeat)]
        if hasattr(os, "sched_getaffinity"):
            cpu = str(min(os.sched_getaffinity(0)))
            cmd = ["taskset", "-c", cpu, *cmd] if _has_taskset() else cmd
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    finally:
        os.unlink(fh.name)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"mail-parser: not measured (not importable with {python}: {reason})")
        return None
    return float(json.loads(done.stdout)["rate"])


def _has_taskset() -> bool:
    return any((Path(d) / "taskset").exists() for d in os.environ.get("PATH", "").split(":"))


def parse_chain(chain: list[str]) -> list[Hop]:
    return [parse_received(value) for value in chain]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    messages = generate(args.messages)
    chains = [[v for n, v in header_fields(m) if n.lower() == "received"] for m in messages]
    stamps = sum(len(c) for c in chains)
    print(f"{len(messages)} messages, {stamps} Received headers ({stamps / len(messages):.1f}/msg)")

    full = best_rate(len(messages), args.repeat, each(trace, messages))
    parse_only = best_rate(len(chains), args.repeat, each(parse_chain, chains))
    print(f"probe trace(bytes):            {full:10,.0f} msgs/s")
    print(f"probe parse_received only:     {parse_only:10,.0f} msgs/s")
    theirs = mailparser_rate(chains, args.repeat)
    if theirs is not None:
        print(f"mail-parser receiveds_parsing: {theirs:10,.0f} msgs/s")
        print(f"ratio probe trace / mail-parser:       {full / theirs:6.1f}x")
        print(f"ratio probe parse-only / mail-parser:  {parse_only / theirs:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
