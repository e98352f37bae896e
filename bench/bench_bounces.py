"""The bounce parser against real bounces from other projects' test suites, field by field.

Reads `/work/shared/corpus/dsn/*.eml` (or `--corpus DIR`) where it exists, never copies it: the
corpus is reference material outside the repository. Each file is parsed by
`probe.analyze.bounce.dsn.parse_bounce`; its first recipient's status and reply code are held
against the values the source project expects for that file (sisimai's `test/public/*.rb`
`IsExpected` tables, flanker's and rubymail's assertions), written below by file name.

Scored: detected (a bounce, not None), status (the recipient's most specific enhanced code:
`specific_status` else `status`), reply code. sisimai states codes of its own making where the
bounce states none (`5.9.xxx`, `5.0.9xx`): those are not "stated", so only the class is scored
there, and a parser that says "no status" is right. Also the slowest input (ms) and crashes.

    python bench/bench_bounces.py [--corpus DIR] [-v]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from probe.analyze.bounce.dsn import parse_bounce

CORPUS = Path("/work/shared/corpus/dsn")

# file stem -> (status, reply code) the source project expects for the first recipient; None:
# not a bounce (a feedback report). "" reply code: the project expects none.
EXPECTED: dict[str, tuple[str, str] | None] = {
    "flanker__gmail-invalid-address": ("5.1.0", "550"),
    "flanker__mailbox-full": ("5.2.2", "552"),
    "flanker__office365": ("5.1.10", "550"),
    "rubymail__multi_address_bounce1": ("5.1.1", "550"),
    "rubymail__report_422": ("4.2.2", "452"),
    "sisimai__arf-02": None,
    "sisimai__lhost-amazonses-05": ("5.1.1", "550"),
    "sisimai__lhost-amazonworkmail-01": ("5.1.1", "550"),
    "sisimai__lhost-apachejames-01": ("5.9.210", "550"),
    "sisimai__lhost-barracuda-01": ("5.7.1", "550"),
    "sisimai__lhost-courier-04": ("5.0.0", ""),
    "sisimai__lhost-domino-02": ("5.0.0", ""),
    "sisimai__lhost-exchange2003-07": ("5.9.213", ""),
    "sisimai__lhost-exchange2007-06": ("5.1.1", "550"),
    "sisimai__lhost-exim-29": ("5.0.0", "550"),
    "sisimai__lhost-exim-60": ("5.0.0", ""),
    "sisimai__lhost-gmail-04": ("5.7.1", "554"),
    "sisimai__lhost-gmx-01": ("5.2.2", ""),
    "sisimai__lhost-googlegroups-14": ("5.0.918", ""),
    "sisimai__lhost-googleworkspace-01": ("5.9.110", ""),
    "sisimai__lhost-imailserver-02": ("5.9.220", ""),
    "sisimai__lhost-kddi-02": ("5.9.220", ""),
    "sisimai__lhost-mailru-10": ("4.9.340", ""),
    "sisimai__lhost-mcafee-05": ("5.9.210", "550"),
    "sisimai__lhost-messagingserver-12": ("4.2.2", ""),
    "sisimai__lhost-mimecast-02": ("5.7.54", "550"),
    "sisimai__lhost-notes-01": ("5.0.901", ""),
    "sisimai__lhost-office365-04": ("5.1.351", "550"),
    "sisimai__lhost-opensmtpd-06": ("4.4.7", ""),  # sisimai: 5.9.340, its own
    "sisimai__lhost-outlook-01": ("5.2.2", "550"),
    "sisimai__lhost-postfix-09": ("4.3.2", "452"),
    "sisimai__lhost-postfix-49": ("4.0.0", "421"),
    "sisimai__lhost-powermta-02": ("5.0.0", "554"),
    "sisimai__lhost-qmail-10": ("5.9.221", ""),
    "sisimai__lhost-receivingses-08": ("5.2.3", "552"),
    "sisimai__lhost-sendgrid-01": ("5.1.1", "550"),
    "sisimai__lhost-sendmail-20": ("5.4.6", "554"),
    "sisimai__lhost-sendmail-51": ("5.2.0", "550"),
    "sisimai__lhost-trendmicro-02": ("5.9.213", ""),
    "sisimai__lhost-x5-01": ("5.1.1", "550"),
    "sisimai__lhost-yahoo-11": ("5.1.8", "501"),
    "sisimai__lhost-yandex-01": ("5.1.1", "550"),
    "sisimai__lhost-zoho-01": ("5.1.1", "550"),
    "sisimai__rfc3464-10": ("5.1.6", "550"),
    "sisimai__rfc3464-40": ("4.4.6", ""),
    "sisimai__rfc3834-06": None,  # an RFC 3834 auto-reply; sisimai: 5.0.921
    "sisimai__rhost-cloudflare-01": ("4.3.0", "421"),
    "sisimai__rhost-google-03": ("5.7.26", "550"),
    "sisimai__rhost-gsuite-03": ("4.0.0", ""),
    "sisimai__rhost-messagelabs-01": ("5.0.0", "550"),
    "sisimai__rhost-microsoft-04": ("5.7.509", "550"),
    "sisimai__rhost-mimecast-02": ("5.0.0", "554"),
    "spamscope__mail_malformed_2": ("4.2.2", ""),
}


def invented(status: str) -> bool:
    """A status sisimai made up (its x.9.xxx and x.0.9xx codes), not one the bounce states."""
    parts = status.split(".")
    return len(parts) == 3 and (parts[1] == "9" or (parts[1] == "0" and int(parts[2]) >= 900))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}: nothing measured")
        return 0
    counts = {"files": 0, "bounces": 0, "detected": 0, "status": 0, "code": 0, "crashes": 0}
    slowest = (0.0, "")
    parse_bounce(b"From: MAILER-DAEMON@example.org\n\nwarm-up: the tables load once\n")
    for path in sorted(args.corpus.glob("*.eml")):
        if path.stem not in EXPECTED:
            continue
        counts["files"] += 1
        want = EXPECTED[path.stem]
        raw = path.read_bytes()
        start = time.perf_counter()
        try:
            bounce = parse_bounce(raw)
        except Exception as exc:  # noqa: BLE001 - counted, never expected
            counts["crashes"] += 1
            print(f"CRASH {path.name}: {exc!r}")
            continue
        ms = (time.perf_counter() - start) * 1000
        slowest = max(slowest, (ms, path.name))
        if want is None:
            ok = bounce is None
            if args.verbose or not ok:
                got = bounce.kind if bounce else None
                print(f"{'ok  ' if ok else 'MISS'} {path.name}: not a bounce, got {got}")
            continue
        counts["bounces"] += 1
        if bounce is None or not bounce.recipients:
            print(f"MISS {path.name}: not detected (want {want})")
            continue
        counts["detected"] += 1
        rcpt = bounce.recipients[0]
        status = getattr(rcpt, "specific_status", None) or rcpt.status or ""
        code = str(rcpt.smtp_code or "")
        status_ok = (
            (not status or status[0] == want[0][0]) if invented(want[0]) else status == want[0]
        )
        code_ok = code == want[1]
        counts["status"] += status_ok
        counts["code"] += code_ok
        if args.verbose or not (status_ok and code_ok):
            mark = "ok  " if status_ok and code_ok else "BAD "
            print(
                f"{mark}{path.name}: {bounce.kind} status {status or '-'} code {code or '-'}"
                f" (want {want[0]} {want[1] or '-'}) reader {getattr(rcpt, 'reader', '')}"
            )
    n = counts["bounces"] or 1
    print(
        f"{counts['files']} files, {counts['bounces']} bounces: detected {counts['detected']}"
        f" ({100 * counts['detected'] / n:.0f} %), status right {counts['status']}"
        f" ({100 * counts['status'] / n:.0f} %), reply code right {counts['code']}"
        f" ({100 * counts['code'] / n:.0f} %), crashes {counts['crashes']},"
        f" slowest {slowest[0]:.1f} ms ({slowest[1]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
