"""Received-chain parsing throughput: probe beside mail-parser, on the same messages, in one run.

Generates N messages (default 20,000) with 3-8 Received headers each, built from templates of
real stamp shapes (Postfix with TLS, Postfix pickup, amavis loop, Exim with the RFC 8314 `tls`
clause, Exchange Online, Gmail MX and internal, qmail, Sendmail, Dovecot LMTP, SendGrid without
`;`) with varied hosts, addresses, ids and dates. Then, pinned to one core:

* probe `trace(bytes)`: header split + parse + chain analysis, per message;
* probe `parse_received` over the pre-extracted Received values, per message;
* mail-parser `receiveds_parsing` over the same pre-extracted values, run by the interpreter of a
  separate venv (env `PROBE_BENCH_PYTHON`, default /tmp/bench-venv/bin/python) so the package
  never enters probe's environment.

Usage: python bench/bench_received.py [--messages N] [--repeat R]   (see bench/README.md)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probe.analyze.received.path import Hop, header_fields, parse_received, trace

DEFAULT_PYTHON = "/tmp/bench-venv/bin/python"

# Shapes of real stamps (research/received.md section 2); {placeholders} are varied per hop.
TEMPLATES = [
    # Postfix smtpd with smtpd_tls_received_header
    "from {helo} ({rdns} [{ip}])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256"
    " bits)\r\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)"
    "\r\n\t(No client certificate requested)\r\n\tby {by} (Postfix) with ESMTPS id {qid}\r\n\t"
    "for <{rcpt}>; {date} (UTC)",
    # Postfix pickup
    "by {by} (Postfix, from userid 1000)\r\n\tid {qid}; {date} (CEST)",
    # amavisd-new loop
    "from {by} ([127.0.0.1])\r\n\tby localhost ({by} [127.0.0.1]) (amavisd-new, port 10024)"
    "\r\n\twith ESMTP id {qid} for <{rcpt}>;\r\n\t{date} (PDT)",
    # Exim >= 4.9x
    "from {rdns} ([{ip}] helo={helo})\r\n\tby {by} with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384"
    "\r\n\t(Exim 4.96)\r\n\t(envelope-from <{sender}>)\r\n\tid {eximid}\r\n\tfor {rcpt};"
    " {date}",
    # Exchange Online
    "from {helo} (2603:10a6:20b:{h4}::{h4}) by {by} (2603:10a6:10:{h4}::{h4}) with Microsoft"
    " SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id"
    " 15.20.7633.37; {date}",
    "from {helo} ({ip}) by {by} (10.167.16.180) with Microsoft SMTP Server id 15.20.7677.15 via"
    " Frontend Transport; {date}",
    # Gmail MX and internal
    "from {helo} ({rdns}. [{ip}])\r\n        by mx.google.com with ESMTPS id {qid}.2023.12.19"
    "\r\n        for <{rcpt}>\r\n        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384"
    " bits=256/256);\r\n        {date} (PST)",
    "by 2002:a05:612c:2691:b0:324:{h4}:{h4} with SMTP id {qid};\r\n        {date} (PST)",
    # qmail
    "from {rdns} (HELO {helo}) ({ip})\r\n  by {by} with SMTP; {date_noday}",
    "(qmail {pid} invoked from network); {date_noday}",
    # Sendmail with TLS
    "from {helo} ({rdns} [{ip}])\r\n\tby {by} (8.15.2/8.15.2/Debian-10) with ESMTP id {qid}"
    "\r\n\t(version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NO)"
    "\r\n\tfor <{rcpt}>; {date}",
    # Dovecot LMTP, the `;` on its own folded line
    "from {by}\r\n\tby {by} with LMTP\r\n\tid {qid}\r\n\t(envelope-from <{sender}>)\r\n\t"
    "for <{rcpt}>; {date}",
    # SendGrid: no `;`, Go time format
    "by filterdrecv-{pid}-wwg5v with SMTP id filterdrecv-{qid}-3D {iso}",
]


def _host(rng: random.Random) -> str:
    return f"{rng.choice(['mx', 'mail', 'smtp', 'relay', 'out'])}{rng.randint(1, 99)}." + (
        rng.choice(["example.com", "example.net", "example.org", "mail.example.co.uk"])
    )


def generate(n: int, seed: int = 4) -> list[bytes]:
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    messages = []
    for i in range(n):
        when = start + dt.timedelta(seconds=rng.randint(0, 300 * 86400))
        stamps = []
        for _ in range(rng.randint(3, 8)):
            when += dt.timedelta(seconds=rng.randint(0, 40))
            local = when.astimezone(dt.timezone(dt.timedelta(hours=rng.choice([-8, 0, 2]))))
            ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{i % 250 + 1}"
            values = {
                "helo": _host(rng),
                "rdns": _host(rng),
                "by": _host(rng),
                "ip": ip,
                "qid": f"{rng.getrandbits(40):X}",
                "eximid": f"1r{rng.getrandbits(20):05x}-000{rng.getrandbits(12):03x}-AB",
                "rcpt": f"user{i}@example.org",
                "sender": f"sender{i}@example.com",
                "h4": f"{rng.getrandbits(16):x}",
                "pid": str(rng.randint(100, 99999)),
                "date": local.strftime("%a, %d %b %Y %H:%M:%S %z"),
                "date_noday": local.strftime("%d %b %Y %H:%M:%S %z"),
                "iso": when.strftime("%Y-%m-%d %H:%M:%S.123456789 +0000 UTC m=+10150201.64"),
            }
            stamps.append("Received: " + rng.choice(TEMPLATES).format(**values))
        head = "\r\n".join(reversed(stamps))  # newest first, as MTAs prepend
        messages.append(
            (
                f"{head}\r\nFrom: <sender{i}@example.com>\r\nTo: <user{i}@example.org>\r\n"
                f"Subject: bench {i}\r\nMessage-ID: <{i}@example.com>\r\n\r\nbody\r\n"
            ).encode()
        )
    return messages


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
