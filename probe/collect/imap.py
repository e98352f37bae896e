"""The cooperating mailbox over IMAP: the session (stdlib imaplib, run in a thread: it blocks).

Connecting, the TLS policy and the login are in `imap_login`; reading the server's replies into
values is in `imap_parse` (pure). This module holds what a logged-in session does.

Search: one `UID SEARCH HEADER X-Probe-Id <run id>` per folder covers every probe of a run (the
run id prefixes each probe id; IMAP header search is a substring match). When probes are still
missing, the search falls back to `HEADER Message-ID` and then `SUBJECT`, in case a hop rewrote
the header. Bounces are found with `TEXT <run id>`. The given folder and every junk folder
(`\\Junk` special-use, RFC 6154, else a junk-like name) are searched; copies are fetched once
with `BODY.PEEK[]` (the \\Seen flag stays as it was) and cached by UIDVALIDITY and UID.

Waiting: IDLE on the given folder where the server offers it, for a bounded time and re-issued
by the caller; otherwise a plain sleep (the caller's backoff makes that polling).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import imaplib
import select
import ssl
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TypeVar

from probe.collect import imap_parse as parse
from probe.collect.base import Notes, Stored, is_junk_name
from probe.collect.imap_conn import fresh_budget
from probe.collect.imap_login import drop, login, logout, server_text, tls_context
from probe.collect.match import bounce_like, identified, run_ids_of
from probe.collect.secrets import Redactor, Secret
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError
from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy
from probe.model.status import utcnow

T = TypeVar("T")

FALLBACK_SEARCHES = (("HEADER", "Message-ID"), ("SUBJECT",))
FETCH_BATCH = 50
SEARCH_MAX = 1000  # UIDs one search may bring in; a run has a few dozen probes and bounces


class _Folder:
    def __init__(self, name: str, display: str, junk: bool) -> None:
        self.name = name  # as the server spells it (modified UTF-7)
        self.display = display
        self.junk = junk


class ImapMailbox(Notes):
    """An IMAP account, logged in; use `await ImapMailbox.connect(...)` or `open_mailbox`."""

    def __init__(
        self, spec: MailboxSpec, conn: imaplib.IMAP4, timeout: float, redact: Redactor
    ) -> None:
        super().__init__()
        self.spec = spec
        self.source = str(spec)
        self._conn = conn
        self._redact = redact  # masks the password in server text (errors, folder names)
        self._broken = False  # a command failed: the connection is out of step, only drop it
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._capabilities: frozenset[str] = frozenset()
        self._folders: list[_Folder] = []
        self._cache: dict[tuple[str, str, int], bytes] = {}  # (folder, uidvalidity, uid) -> raw
        self._uidvalidity: dict[str, str] = {}
        self._since = parse.imap_date(utcnow() - dt.timedelta(days=2))
        self._idle_tags = 0

    @property
    def folders(self) -> tuple[tuple[str, bool], ...]:
        """(folder, is junk) pairs that are searched."""
        return tuple((f.display, f.junk) for f in self._folders)

    @property
    def offers_idle(self) -> bool:
        return "IDLE" in self._capabilities

    @classmethod
    async def connect(
        cls,
        spec: MailboxSpec,
        *,
        password: Secret | None,
        ca_file: Path | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
    ) -> ImapMailbox:
        if not password:
            raise MailboxError(
                f"{spec} needs a password: set PROBE_IMAP_PASSWORD or use --password-file"
            )
        redact = password.redactor(spec.user)
        context = tls_context(ca_file, insecure)
        conn = await asyncio.to_thread(login, spec, password, redact, context, insecure, timeout)
        box = cls(spec, conn, timeout, redact)
        try:
            await box._call(box._discover)
        except BaseException:
            await box.close()
            raise
        return box

    # Mailbox -----------------------------------------------------------------
    async def find(self, probe_ids: Collection[str]) -> dict[str, list[DeliveredCopy]]:
        return await self._call(self._find, tuple(probe_ids))

    async def find_bounces(self, run_ids: Collection[str]) -> list[FoundMessage]:
        return await self._call(self._find_bounces, tuple(run_ids))

    async def wait_for_change(self, timeout: float) -> bool:
        if timeout <= 0:
            return False
        if not self.offers_idle:
            await asyncio.sleep(timeout)
            return False
        return await self._call(self._idle, timeout)

    async def delete(self, found: Iterable[Stored]) -> int:
        wanted = {(f.folder, hashlib.sha256(f.raw).hexdigest()) for f in found}
        return await self._call(self._delete, wanted)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(drop if self._broken else logout, self._conn)

    # blocking work, one call at a time ---------------------------------------
    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        async with self._lock:
            task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                # The thread still owns the connection: let it finish (it is bounded by the
                # socket timeout) before the next command, then pass the cancellation on.
                await asyncio.wait([task])
                raise
            except (imaplib.IMAP4.error, OSError, ValueError) as exc:
                # ValueError: a reply imaplib cannot decode (bytes outside ASCII where it wants
                # ASCII, a number too long to convert)
                self._broken = True
                text = server_text(self._redact, exc)
                raise MailboxError(f"IMAP {self.spec.display}: {text}") from None

    def _discover(self) -> None:
        self._capabilities = _capabilities(self._conn)
        junk: list[_Folder] = []
        main: _Folder | None = None
        for row in self._list():
            if "\\noselect" in row.flags or "\\nonexistent" in row.flags:
                continue
            display = self._redact.text(parse.decode_mutf7(row.name))
            if row.name == self.spec.folder or display == self.spec.folder:
                main = _Folder(row.name, display, "\\junk" in row.flags)
            elif "\\junk" in row.flags or is_junk_name(display, row.delimiter):
                junk.append(_Folder(row.name, display, True))
        if main is None and self.spec.folder.upper() == "INBOX":
            main = _Folder("INBOX", "INBOX", False)
        if main is None:
            raise MailboxError(f"IMAP {self.spec.display}: no folder {self.spec.folder!r}")
        self._folders = [main, *junk]

    def _list(self) -> list[parse.ListRow]:
        typ, data = self._conn.list()
        if typ != "OK":
            text = server_text(self._redact, data)
            raise MailboxError(f"IMAP {self.spec.display}: LIST failed: {text}")
        return parse.list_rows(data)

    def _select(self, folder: _Folder, *, readonly: bool = True) -> str:
        typ, data = self._conn.select(parse.quote(folder.name), readonly=readonly)
        if typ != "OK":
            raise MailboxError(f"IMAP {self.spec.display}: cannot open {folder.display}")
        _, validity = self._conn.response("UIDVALIDITY")
        uidvalidity = parse.uidvalidity(validity)
        self._uidvalidity[folder.name] = uidvalidity
        return uidvalidity

    def _search(self, *criteria: str) -> set[int]:
        typ, data = self._conn.uid("SEARCH", "SINCE", self._since, *criteria)
        if typ != "OK":
            return set()
        uids = parse.search_uids(data)
        if len(uids) > SEARCH_MAX:  # the newest ones: a run's messages are recent
            self.skip(f"SEARCH {' '.join(criteria)}", f"{len(uids):,} matches, the newest kept")
            uids = set(sorted(uids)[-SEARCH_MAX:])
        return uids

    def _fetch(self, folder: _Folder, validity: str, uids: set[int]) -> dict[int, bytes]:
        out = {
            u: self._cache[(folder.name, validity, u)]
            for u in uids
            if (folder.name, validity, u) in self._cache
        }
        todo = sorted(uids - set(out))
        for i in range(0, len(todo), FETCH_BATCH):
            batch = ",".join(str(u) for u in todo[i : i + FETCH_BATCH])
            typ, data = self._conn.uid("FETCH", batch, "(UID BODY.PEEK[])")
            if typ != "OK":
                continue
            for uid, raw in parse.fetched(data):
                self._cache[(folder.name, validity, uid)] = raw
                out[uid] = raw
        return out

    def _find(self, probe_ids: tuple[str, ...]) -> dict[str, list[DeliveredCopy]]:
        found: dict[str, list[DeliveredCopy]] = {p: [] for p in probe_ids}
        runs = run_ids_of(probe_ids)
        searches: tuple[tuple[str, ...], ...] = (("HEADER", "X-Probe-Id"), *FALLBACK_SEARCHES)
        seen: set[tuple[str, int]] = set()
        for criteria in searches:
            for folder in self._folders:
                validity = self._select(folder)
                uids = set().union(*(self._search(*criteria, r) for r in runs)) if runs else set()
                for uid, raw in sorted(self._fetch(folder, validity, uids).items()):
                    if (folder.name, uid) in seen:
                        continue
                    seen.add((folder.name, uid))
                    match, why = identified(raw, probe_ids)
                    if why:
                        self.skip(f"{folder.display} UID {uid}", why)
                    if match is not None:
                        found[match.probe_id].append(
                            DeliveredCopy(
                                probe_id=match.probe_id,
                                raw=raw,
                                folder=folder.display,
                                junk=folder.junk,
                                matched_by=match.matched_by,
                                source=self.source,
                                found_at=utcnow(),
                            )
                        )
            if all(found.values()):
                break
        return found

    def _find_bounces(self, run_ids: tuple[str, ...]) -> list[FoundMessage]:
        out = []
        for folder in self._folders:
            validity = self._select(folder)
            uids = set().union(*(self._search("TEXT", r) for r in run_ids)) if run_ids else set()
            for uid, raw in sorted(self._fetch(folder, validity, uids).items()):
                bounce, why = bounce_like(raw)
                if why:
                    self.skip(f"{folder.display} UID {uid}", why)
                if bounce:
                    out.append(
                        FoundMessage(raw, folder.display, folder.junk, self.source, utcnow())
                    )
        return out

    def _idle(self, timeout: float) -> bool:
        """IDLE on the main folder until something arrives or `timeout` passes."""
        conn = self._conn
        self._select(self._folders[0])
        self._idle_tags += 1
        tag = f"PRBI{self._idle_tags}".encode("ascii")
        conn.send(tag + b" IDLE\r\n")
        first = conn.readline()
        if not first.startswith(b"+"):  # refused: read to the tagged reply, fall back to sleep
            while first and not first.startswith(tag):
                first = conn.readline()
            if not first:
                raise MailboxError(f"IMAP {self.spec.display}: connection closed during IDLE")
            time.sleep(timeout)
            return False
        changed = False
        end = time.monotonic() + timeout
        sock = conn.sock
        while (left := end - time.monotonic()) > 0:
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            if not pending and not select.select([sock], [], [], left)[0]:
                break
            fresh_budget(conn)  # this wait has its own end; each line gets the budget
            line = conn.readline()
            if not line:
                raise MailboxError(f"IMAP {self.spec.display}: connection closed during IDLE")
            if parse.is_change(line):
                changed = True
                break
        conn.send(b"DONE\r\n")
        while True:
            line = conn.readline()
            if not line:
                raise MailboxError(f"IMAP {self.spec.display}: connection closed during IDLE")
            if line.startswith(tag + b" "):
                return changed
            changed = changed or parse.is_change(line)

    def _delete(self, wanted: set[tuple[str, str]]) -> int:
        removed = 0
        for folder in self._folders:
            digests = {d for f, d in wanted if f == folder.display}
            if not digests:
                continue
            validity = self._select(folder, readonly=False)
            uids = [
                uid
                for (name, v, uid), raw in self._cache.items()
                if name == folder.name
                and v == validity
                and hashlib.sha256(raw).hexdigest() in digests
            ]
            if not uids:
                continue
            uid_set = ",".join(str(u) for u in sorted(uids))
            typ, _ = self._conn.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
            if typ != "OK":
                continue
            if "UIDPLUS" in self._capabilities:
                self._conn.uid("EXPUNGE", uid_set)
            else:
                self._conn.expunge()
            for uid in uids:
                self._cache.pop((folder.name, validity, uid), None)
            removed += len(uids)
        return removed


# --------------------------------------------------------------------------- helpers


def _capabilities(conn: imaplib.IMAP4) -> frozenset[str]:
    """Capabilities after login (servers announce more once authenticated)."""
    typ, data = conn.capability()
    found = parse.capabilities(data) if typ == "OK" else frozenset()
    return found or frozenset(c.upper() for c in conn.capabilities)

