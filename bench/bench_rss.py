"""Memory benchmark: peak RSS of sending one 50 MB message, over the message size.

The sender runs in its own process (so its peak RSS is its own: `os.wait4` gives it) and talks
to a sink in another process (bench_send.py's hop with no delay; it keeps nothing). The same
process with a small message gives the baseline; the figure is (peak - baseline) / size, and the
goal is at most 1.5: probe may hold the message once, plus blocks, but not build it twice.

The sender is `probe run --via` when that command exists (profile written to a temp file: the
control plus one variant of the requested size), else a child of this script that crafts with
`probe.plan.craft.craft` and sends with `probe.send.matrix.send_matrix`. The API child also
reports the craft and send phases apart (`/proc/self/clear_refs` resets the peak between them).

Run from the repository root:  python bench/bench_rss.py [--size 50000000] [--kind binary]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_send  # noqa: E402  (the hop, the constants, `probe_command`)

KINDS = ("binary", "text")  # padding in a base64 attachment, or in the 7bit text body


def spec_for(size: int, kind: str) -> Any:
    from probe.model.variant import AttachmentKind, AttachmentSpec, VariantSpec

    attachments = (AttachmentSpec(AttachmentKind.BINARY),) if kind == "binary" else ()
    return VariantSpec(
        id="big", description=f"{size:,} bytes ({kind})", size=size, attachments=attachments
    )


def floor_size(kind: str) -> int:
    """The baseline message: 1 KB or the variant's minimum, whichever is larger."""
    from probe.plan.craft import minimum_size

    return max(1024, minimum_size(spec_for(10_000, kind)) + 64)


# --------------------------------------------------------------------------- senders


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5": reset VmHWM to the current RSS
        fh.write("5")


def child_main(size: int, kind: str, port: int) -> None:
    """Craft, then send through probe's send stage; print the phases as JSON."""
    from probe.send.matrix import Job, SendLog, Target, send_matrix

    rss0 = _status_kb("VmRSS")
    message = bench_send.craft_one(spec_for(size, kind))
    craft_peak = _status_kb("VmHWM")
    probe_id = f"{bench_send.RUN_ID}.big"
    built = dataclasses.replace(message, dsn_envid=probe_id)
    del message
    rss1 = _status_kb("VmRSS")
    _reset_peak()
    job = Job("big", probe_id, "big", lambda _advertised: built)
    target = Target("sink.bench.probe.test", "127.0.0.1", port)
    settings = bench_send.settings(port, 1, 1, 0.0)
    started = time.perf_counter()
    (sent,) = asyncio.run(send_matrix([job], [target], settings, SendLog()))
    seconds = time.perf_counter() - started
    print(json.dumps({
        "outcome": sent.outcome.value, "reason": sent.reason, "seconds": seconds,
        "rss_before_kb": rss0, "craft_peak_kb": craft_peak, "rss_crafted_kb": rss1,
        "send_peak_kb": _status_kb("VmHWM"),
    }))  # fmt: skip


def run_measured(cmd: list[str]) -> tuple[int, int, str, str]:
    """Run `cmd`; its exit status, its peak RSS in KB (wait4), stdout and stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, usage.ru_maxrss, out.read().decode(), err.read().decode()


def api_cmd(size: int, kind: str, port: int) -> list[str]:
    me = str(Path(__file__).resolve())
    return [sys.executable, me, "--child", "--size", str(size), "--kind", kind,
            "--port", str(port)]  # fmt: skip


def cli_cmd(exe: list[str], profile: Path, port: int) -> list[str]:
    return [
        *exe, "run", bench_send.DOMAIN, "--to", bench_send.RCPT_TO, "--from",
        bench_send.MAIL_FROM, "--profile", str(profile), "--via", f"127.0.0.1:{port}",
        "--per-host", "1", "--concurrency", "1", "--json",
    ]  # fmt: skip


def write_profile(directory: str, size: int, kind: str) -> Path:
    path = Path(directory) / f"rss-{size}.toml"
    attachments = 'attachments = ["binary"]\n' if kind == "binary" else ""
    path.write_text(
        f'name = "rss"\ndescription = "bench_rss: one message of {size} bytes"\n\n'
        '[[variant]]\nid = "control"\ndescription = "control"\n\n'
        f'[[variant]]\nid = "big"\ndescription = "{size} bytes"\nsize = {size}\n{attachments}'
    )
    return path


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--size", type=int, default=50_000_000, help="message bytes (50 MB)")
    ap.add_argument("--kind", choices=KINDS, default="binary", help="where the padding goes")
    ap.add_argument("--api", action="store_true", help="use the Python API, not `probe run`")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.size, args.kind, args.port)
        return 0

    exe = None if args.api else bench_send.probe_command()
    small = floor_size(args.kind)
    peaks: dict[int, int] = {}
    phases: dict[int, dict[str, Any]] = {}
    with bench_send.Hop(0.0) as sink, tempfile.TemporaryDirectory(prefix="probe-rss-") as tmp:
        for size in (small, args.size):
            if exe:
                cmd = cli_cmd(exe, write_profile(tmp, size, args.kind), sink.port)
            else:
                cmd = api_cmd(size, args.kind, sink.port)
            started = time.perf_counter()
            code, peak, out, err = run_measured(cmd)
            seconds = time.perf_counter() - started
            seen, _ = sink.take()
            if code not in (0, 1) or size not in seen:
                print(f"bench_rss: sending {size:,} bytes failed (exit {code}, sink saw "
                      f"{seen}): {err.strip()[-400:]}")  # fmt: skip
                return 1
            if not exe:
                phases[size] = json.loads(out)
                # the child resets its high-water mark between phases (which wait4 reports)
                peak = max(peak, phases[size]["craft_peak_kb"])
            peaks[size] = peak
            print(f"  {size:>12,} bytes: peak RSS {peak / 1024:7.1f} MiB, {seconds:.1f} s")

    how = "`probe run --via`" if exe else "probe.plan.craft + probe.send.matrix.send_matrix (API)"
    growth = (peaks[args.size] - peaks[small]) * 1024
    ratio = growth / args.size
    print(f"sender: {how}; padding in a {args.kind} part")
    print(f"baseline ({small:,} bytes): {peaks[small] / 1024:.1f} MiB; "
          f"with {args.size:,} bytes: {peaks[args.size] / 1024:.1f} MiB")  # fmt: skip
    for size, p in phases.items():
        print(f"  phases at {size:,} bytes: start {p['rss_before_kb'] / 1024:.1f} MiB, craft peak "
              f"{p['craft_peak_kb'] / 1024:.1f}, after craft {p['rss_crafted_kb'] / 1024:.1f}, "
              f"send peak {p['send_peak_kb'] / 1024:.1f}")  # fmt: skip
    verdict = "PASS" if ratio <= 1.5 else "FAIL"
    print(f"(peak - baseline) / size: {ratio:.2f}   goal <= 1.50   {verdict}")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
