"""`probe listen`'s session records on disk: one JSON document per connection in
`<maildir>/sessions/`, named by the listener (time and a counter, nothing a client sent), within
the disk budget the messages share; and read back by `probe firewall` (I/O)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from probe.model.json import document, from_data
from probe.model.listener import SESSION_SCHEMA, SessionRecord

SESSIONS_DIR = "sessions"
FILES_READ = 10_000  # the newest session files `load_sessions` reads at most
FILE_MAX = 4 * 1024 * 1024  # a session file larger than this is not ours: skipped
log = logging.getLogger("probe.server")


def session_json(record: SessionRecord) -> str:
    return json.dumps(document(SESSION_SCHEMA, record), indent=1) + "\n"


class SessionFiles:
    """Writes each session's record; `budget` says whether its bytes still fit on disk (and
    counts them), so records and messages share one disk budget."""

    def __init__(self, maildir: Path, budget: Callable[[int], bool] | None = None) -> None:
        self.path = Path(maildir) / SESSIONS_DIR
        self.path.mkdir(parents=True, exist_ok=True)
        self.budget = budget
        self.count = 0

    def write(self, record: SessionRecord) -> None:
        text = session_json(record).encode("ascii")
        if self.budget is not None and not self.budget(len(text)):
            log.warning("session record of %s not written: disk budget reached", record.peer)
            return
        self.count += 1
        stamp = record.connected_at.strftime("%Y%m%dT%H%M%S%f")
        try:
            (self.path / f"{stamp}-{self.count:06d}.json").write_bytes(text)
        except OSError as exc:
            log.warning("session record not written: %s", exc.strerror or exc)


def load_sessions(
    directory: Path, newer_than: float = 0.0, most: int = FILES_READ
) -> tuple[SessionRecord, ...]:
    """The session records in `directory` (a listener's Maildir or its `sessions/`), oldest
    first, of the newest `most` files modified after `newer_than` (a time.time()); files that
    are not session records are skipped."""
    folder = Path(directory)
    if (folder / SESSIONS_DIR).is_dir():
        folder = folder / SESSIONS_DIR
    records = []
    for path in sorted(folder.glob("*.json"))[-min(most, FILES_READ) :]:
        try:
            stat = path.stat()
            if stat.st_size > FILE_MAX or stat.st_mtime < newer_than:
                continue
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.pop("schema", None) != SESSION_SCHEMA:
                continue
            records.append(from_data(SessionRecord, data))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return tuple(records)
