"""`probe check` with the `quick` profile over N targets, each collected from its own Maildir.

Everything is on loopback: the lab's DNS responder gives N domains whose MX point at four SMTP
hops (probe's own engine, probe.server) on 127.0.0.20-23; each hop delivers every recipient's
copy into that recipient domain's Maildir, the cooperating mailbox the target's config names.
The check sends each target the quick profile's matrix (the control and a 1.1 MB message),
collects both copies from the Maildir, analyses and decides them, and stores every result in a
fresh SQLite history, as a daily cron check would.

Prints wall time, peak RSS and the time per target.

    python bench/bench_check_quick.py [--targets 100] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_check import ADDRESSES, ServiceThread

from probe.server.engine import HopHandler, SmtpHop
from probe.server.maildir import MaildirDelivery
from probe.server.records import ListenerRecord, Personality

ROOT = Path(__file__).resolve().parents[1]


class _PerDomain:
    """Delivers into the Maildir of the recipient's domain (one cooperating mailbox each)."""

    def __init__(self, root: Path, persona: Personality) -> None:
        self.root = root
        self.persona = persona
        self._boxes: dict[str, MaildirDelivery] = {}

    async def deliver(self, record: ListenerRecord, data: bytes) -> str:
        domain = (record.rcpt_addresses or ("x@unknown",))[0].rpartition("@")[2].lower()
        box = self._boxes.get(domain)
        if box is None:
            box = self._boxes[domain] = MaildirDelivery(self.root / domain, self.persona)
        return await box.deliver(record, data)

    async def close(self) -> None:
        pass


class Services(ServiceThread):
    """Probe's own SMTP hops on the bench addresses, each delivering into the Maildir of the
    recipient's domain under `root`."""

    def __init__(self, count: int, root: Path) -> None:
        super().__init__(count)
        self.root = root
        self._hops: list[SmtpHop] = []

    async def serve(self) -> None:
        for i, address in enumerate(ADDRESSES):
            persona = Personality(f"mx{i}.bench.test")
            hop = SmtpHop(HopHandler(persona, _PerDomain(self.root, persona)))
            await hop.start(address, self.port)
            self.port = hop.port  # the first picks a free port, the others take the same
            self._hops.append(hop)

    async def shut(self) -> None:
        for hop in self._hops:
            await hop.close()


def _config(directory: Path, services: Services, concurrency: int) -> Path:
    lines = ["[check]", f"concurrency = {concurrency}", "per_address = 8", "deadline = 900", "",
             "[defaults]", 'profile = "quick"', "",
             "[defaults.expect]", 'starttls = "off"', ""]
    for n in range(services.count):
        domain = f"t{n}.bench.test"
        lines += ["[[target]]", f'domain = "{domain}"', f"port = {services.port}",
                  f'to = "probe@{domain}"', f'mailbox = "maildir:{services.root / domain}"', ""]
    path = directory / "checks.toml"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    count = max(1, min(args.targets, 1000))
    directory = Path(tempfile.mkdtemp(prefix="probe-bench-quick-"))
    try:
        with Services(count, directory / "mail") as services:
            for n in range(count):  # the mailboxes exist before the first message, as users' do
                MaildirDelivery(services.root / f"t{n}.bench.test", Personality("x"))
            config = _config(directory, services, args.concurrency)
            argv = [sys.executable, "-m", "probe", "check", "--config", str(config),
                    "--db", str(directory / "history.sqlite"),
                    "--nameserver", f"127.0.0.1:{services.dns_port}", "--timeout", "20",
                    "--helo", "bench.invalid", "--json"]
            env = {**os.environ, "XDG_STATE_HOME": str(directory / "state")}
            started = time.monotonic()
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env)
            out, err = proc.communicate()
            wall = time.monotonic() - started
        if proc.returncode not in (0, 1):
            raise SystemExit(f"probe check exited {proc.returncode}: {err.decode()[-800:]}")
        import json

        try:
            doc = json.loads(out)
        except ValueError:
            raise SystemExit(f"probe check printed no JSON: {err.decode()[-800:]}") from None
        ok = sum(1 for t in doc["targets"] if t["status"] == "OK")
        delivered = sum(1 for t in doc["targets"] for s in (t["run"] or {}).get("collect", {})
                        .get("statuses", []) if s["status"] == "delivered")
        rss = _child_rss_mb()
        if os.environ.get("BENCH_VERBOSE"):
            for t in doc["targets"][:3]:
                print(t["target"], t["status"], [f["summary"] for f in t["findings"]
                                                 if f["status"] != "OK"])
        print(f"probe check, quick profile, {count} targets, Maildirs: {wall:6.2f} s wall, "
              f"{rss:5.0f} MB peak RSS, {1000 * wall / count:6.0f} ms per target; "
              f"{ok} of {count} OK, {delivered} copies collected")
    finally:
        if os.environ.get("BENCH_KEEP"):
            print("kept", directory)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def _child_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


if __name__ == "__main__":
    main()
