"""Record a real Dovecot's IMAP replies: `python -m tests.mta.capture_imap` (needs root).

Writes tests/data/imap/dovecot.json: every command imaplib sent in one collect-like session
(STARTTLS, a refused and an accepted LOGIN, LIST with \\Junk folders, a modified UTF-7 name and
a quoted one, EXAMINE, UID SEARCH, UID FETCH of two copies, IDLE until a second connection
APPENDs, LOGOUT)
and the exact bytes the server answered. The unit tests of `probe.collect.imap_parse` replay
these bytes through imaplib without a socket. Passwords are masked in the recorded commands.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.mta import servers
from tests.mta.messages import tagged

DATA = Path(__file__).resolve().parent.parent / "data" / "imap" / "dovecot.json"
RUN = "20240501T120000-0a0b0c"
COPIES = ((f"{RUN}.control", "INBOX"), (f"{RUN}.size-1m", "INBOX"), (f"{RUN}.attach-exe", "Junk"))
WRONG = "Wr0ng-pa55word"


class Recording(imaplib.IMAP4):
    """imaplib with every byte read and every command sent kept, in order."""

    exchanges: list[dict[str, str]]

    def _connect(self) -> None:
        self.exchanges = [{"sent": "", "received": ""}]
        super()._connect()

    def send(self, data: bytes) -> None:
        text = data.decode("latin-1")
        for secret in (servers.PASSWORD, WRONG):
            text = text.replace(secret, "********")
        self.exchanges.append({"sent": text, "received": ""})
        super().send(data)

    def readline(self) -> bytes:
        line = super().readline()
        self.exchanges[-1]["received"] += line.decode("latin-1")
        return line

    def read(self, size: int) -> bytes:
        data = super().read(size)
        self.exchanges[-1]["received"] += data.decode("latin-1")
        return data


def session(dc: servers.Dovecot) -> Recording:
    context = ssl.create_default_context(cafile=str(dc.ca_pem))
    conn = Recording("127.0.0.1", dc.imap_port, timeout=10)
    conn.starttls(ssl_context=context)
    try:
        conn.login(servers.USER, WRONG)
    except imaplib.IMAP4.error:
        pass
    conn.login(servers.USER, servers.PASSWORD)
    conn.capability()
    conn.create('"Archive &AMQ-"')
    conn.create('"Say \\"hi\\""')
    conn.list()
    for pid, folder in COPIES:
        conn.append(folder, "", imaplib.Time2Internaldate(time.time()), tagged(pid))
    conn.select("INBOX", readonly=True)
    conn.response("UIDVALIDITY")
    since = (dt.date.today() - dt.timedelta(days=2)).strftime("%d-%b-%Y")
    _, data = conn.uid("SEARCH", "SINCE", since, "HEADER", "X-Probe-Id", RUN)
    uids = b",".join(data[0].split()).decode()
    conn.select("Junk", readonly=True)
    conn.select("INBOX", readonly=True)
    conn.uid("FETCH", uids or "1", "(UID BODY.PEEK[])")
    conn.uid("SEARCH", "SINCE", since, "TEXT", RUN)
    idle(conn, dc, context)
    conn.logout()
    return conn


def idle(conn: Recording, dc: servers.Dovecot, context: ssl.SSLContext) -> None:
    """IDLE as probe does, while a second connection appends a message."""

    def append() -> None:
        time.sleep(0.5)
        other = imaplib.IMAP4_SSL("127.0.0.1", dc.imaps_port, ssl_context=context, timeout=10)
        other.login(servers.USER, servers.PASSWORD)
        other.append("INBOX", "", imaplib.Time2Internaldate(time.time()), tagged(f"{RUN}.late"))
        other.logout()

    tag = conn._new_tag()
    conn.send(tag + b" IDLE\r\n")
    conn.readline()  # + idling
    threading.Thread(target=append, daemon=True).start()
    end = time.monotonic() + 10
    while time.monotonic() < end and b"EXISTS" not in conn.readline():
        pass
    conn.send(b"DONE\r\n")
    while not conn.readline().startswith(tag):
        pass


def version() -> str:
    done = subprocess.run([str(servers.DOVECOT), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def main() -> int:
    reason = servers.missing_reason()
    if reason:
        print(f"cannot capture: {reason}", file=sys.stderr)
        return 3
    root = Path(tempfile.mkdtemp(prefix="probe-mta-"))
    root.chmod(0o755)
    try:
        with servers.dovecot(root) as dc:
            conn = session(dc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    document: dict[str, Any] = {
        "server": f"Dovecot {version()}",
        "captured": dt.date.today().isoformat(),
        "by": "python -m tests.mta.capture_imap",
        "user": servers.USER,
        "tag_prefix": conn.tagpre.decode("ascii"),
        "exchanges": conn.exchanges,
    }
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {DATA} ({len(conn.exchanges)} exchanges)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
