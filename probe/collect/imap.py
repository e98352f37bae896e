"""The cooperating mailbox over IMAP (stdlib imaplib, run in a thread: it is blocking I/O).

Security: TLS is verified by default (`ca_file` to trust a private CA); `imap://` must upgrade
with STARTTLS before LOGIN unless `insecure` (which also skips certificate checks). The password
is a `Secret` revealed only inside the login call; errors are one line without it, and imaplib's
debug output stays off.

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
import base64
import datetime as dt
import hashlib
import imaplib
import re
import select
import ssl
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TypeVar

from probe.collect.base import Stored, is_junk_name
from probe.collect.match import identify, looks_like_bounce, run_ids_of
from probe.collect.secrets import MASK, Secret
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError
from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy
from probe.model.status import utcnow

T = TypeVar("T")

FALLBACK_SEARCHES = (("HEADER", "Message-ID"), ("SUBJECT",))
FETCH_BATCH = 50
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) ?(?P<name>.*)$')
_FETCH_UID = re.compile(rb"UID (\d+)")
_EXISTS = re.compile(rb"^\* \d+ (EXISTS|RECENT)")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class _Folder:
    def __init__(self, name: str, display: str, junk: bool) -> None:
        self.name = name  # as the server spells it (modified UTF-7)
        self.display = display
        self.junk = junk


class ImapMailbox:
    """An IMAP account, logged in; use `await ImapMailbox.connect(...)` or `open_mailbox`."""

    def __init__(self, spec: MailboxSpec, conn: imaplib.IMAP4, timeout: float) -> None:
        self.spec = spec
        self.source = str(spec)
        self._conn = conn
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._capabilities: frozenset[str] = frozenset()
        self._folders: list[_Folder] = []
        self._cache: dict[tuple[str, str, int], bytes] = {}  # (folder, uidvalidity, uid) -> raw
        self._uidvalidity: dict[str, str] = {}
        self._since = _imap_date(utcnow() - dt.timedelta(days=2))
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
        password: Secret | str | None,
        ca_file: Path | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
    ) -> ImapMailbox:
        if password is None or not str(_reveal(password)):
            raise MailboxError(
                f"{spec} needs a password: set PROBE_IMAP_PASSWORD or use --password-file"
            )
        secret = password if isinstance(password, Secret) else Secret(password)
        context = _tls_context(ca_file, insecure)
        conn = await asyncio.to_thread(_login, spec, secret, context, insecure, timeout)
        box = cls(spec, conn, timeout)
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
            await asyncio.to_thread(_logout, self._conn)

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
            except (imaplib.IMAP4.error, OSError) as exc:
                raise MailboxError(f"IMAP {self.spec.display}: {_text(exc)}") from None

    def _discover(self) -> None:
        self._capabilities = _capabilities(self._conn)
        junk: list[_Folder] = []
        main: _Folder | None = None
        for flags, delim, name in self._list():
            if "\\noselect" in flags or "\\nonexistent" in flags:
                continue
            display = _decode_mutf7(name)
            if name == self.spec.folder or display == self.spec.folder:
                main = _Folder(name, display, "\\junk" in flags)
            elif "\\junk" in flags or is_junk_name(display, delim):
                junk.append(_Folder(name, display, True))
        if main is None and self.spec.folder.upper() == "INBOX":
            main = _Folder("INBOX", "INBOX", False)
        if main is None:
            raise MailboxError(f"IMAP {self.spec.display}: no folder {self.spec.folder!r}")
        self._folders = [main, *junk]

    def _list(self) -> list[tuple[set[str], str | None, str]]:
        typ, data = self._conn.list()
        if typ != "OK":
            raise MailboxError(f"IMAP {self.spec.display}: LIST failed: {_text(data)}")
        rows = []
        for item in data:
            line = b" ".join(item) if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            m = _LIST_LINE.match(line)
            if not m:
                continue
            flags = {f.lower() for f in m.group("flags").decode("ascii", "replace").split()}
            delim = None if m.group("delim") == b"NIL" else _unquote(m.group("delim"))
            rows.append((flags, delim, _unquote(m.group("name"))))
        return rows

    def _select(self, folder: _Folder, *, readonly: bool = True) -> str:
        typ, data = self._conn.select(_quote(folder.name), readonly=readonly)
        if typ != "OK":
            raise MailboxError(f"IMAP {self.spec.display}: cannot open {folder.display}")
        _, validity = self._conn.response("UIDVALIDITY")
        uidvalidity = _text(validity[0]) if validity and validity[0] else "0"
        self._uidvalidity[folder.name] = uidvalidity
        return uidvalidity

    def _search(self, *criteria: str) -> set[int]:
        typ, data = self._conn.uid("SEARCH", "SINCE", self._since, *criteria)
        if typ != "OK":
            return set()
        return {int(u) for chunk in data if chunk for u in chunk.split()}

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
            for uid, raw in _fetched(data):
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
                    match = identify(raw, probe_ids)
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
            for _uid, raw in sorted(self._fetch(folder, validity, uids).items()):
                if looks_like_bounce(raw):
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
            while not first.startswith(tag):
                first = conn.readline()
            time.sleep(timeout)
            return False
        changed = False
        end = time.monotonic() + timeout
        sock = conn.sock
        while (left := end - time.monotonic()) > 0:
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            if not pending and not select.select([sock], [], [], left)[0]:
                break
            line = conn.readline()
            if not line:
                raise MailboxError(f"IMAP {self.spec.display}: connection closed during IDLE")
            if _EXISTS.match(line):
                changed = True
                break
        conn.send(b"DONE\r\n")
        while True:
            line = conn.readline()
            if not line:
                raise MailboxError(f"IMAP {self.spec.display}: connection closed during IDLE")
            if line.startswith(tag + b" "):
                return changed
            changed = changed or bool(_EXISTS.match(line))

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


def _tls_context(ca_file: Path | None, insecure: bool) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(f"cannot load CA file {ca_file}: {_text(exc)}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _login(
    spec: MailboxSpec, secret: Secret, context: ssl.SSLContext, insecure: bool, timeout: float
) -> imaplib.IMAP4:
    where = f"{spec.host}:{spec.port}"
    conn: imaplib.IMAP4 | None = None
    stage = "connect"
    try:
        if spec.scheme == "imaps":
            conn = imaplib.IMAP4_SSL(spec.host, spec.port, ssl_context=context, timeout=timeout)
        else:
            conn = imaplib.IMAP4(spec.host, spec.port, timeout=timeout)
            if "STARTTLS" in conn.capabilities:
                stage = "STARTTLS"
                conn.starttls(ssl_context=context)
            elif not insecure:
                raise MailboxError(
                    f"IMAP server {where} offers no STARTTLS; refusing to send the password "
                    "in plaintext (use imaps:// or --insecure)"
                )
        conn.debug = 0
        stage = "login"
        try:
            _authenticate(conn, spec, secret)
        finally:
            _forget_commands(conn)
        return conn
    except MailboxError:
        _logout(conn)
        raise
    except ssl.SSLCertVerificationError as exc:
        _logout(conn)
        reason = exc.verify_message or _text(exc)
        raise MailboxError(
            f"TLS certificate of IMAP server {where} not trusted: {reason} (use --ca-file)"
        ) from None
    except imaplib.IMAP4.error as exc:
        _logout(conn)
        text = _scrub(_text(exc), secret)
        if stage == "login":
            raise MailboxError(f"IMAP login refused for {spec.display}: {text}") from None
        raise MailboxError(f"IMAP {stage} with {where} failed: {text}") from None
    except (OSError, ssl.SSLError) as exc:
        _logout(conn)
        raise MailboxError(f"IMAP {stage} with {where} failed: {_text(exc)}") from None


def _authenticate(conn: imaplib.IMAP4, spec: MailboxSpec, secret: Secret) -> None:
    if "LOGINDISABLED" in conn.capabilities:
        raise MailboxError(f"IMAP server {spec.host} disables LOGIN on this connection")
    user, password = spec.user, secret.reveal()
    if (user + password).isascii():
        conn.login(user, password)
        return
    # imaplib sends LOGIN arguments as ASCII; SASL PLAIN carries UTF-8 (RFC 4616).
    token = b"\0" + user.encode() + b"\0" + password.encode()
    conn.authenticate("PLAIN", lambda _challenge: token)


def _forget_commands(conn: imaplib.IMAP4) -> None:
    """imaplib keeps the last commands (LOGIN with its password) for debugging: drop them."""
    log = getattr(conn, "_cmd_log", None)
    if isinstance(log, dict):
        log.clear()


def _capabilities(conn: imaplib.IMAP4) -> frozenset[str]:
    """Capabilities after login (servers announce more once authenticated)."""
    typ, data = conn.capability()
    if typ == "OK" and data and data[-1]:
        return frozenset(_text(data[-1]).upper().split())
    return frozenset(c.upper() for c in conn.capabilities)


def _logout(conn: imaplib.IMAP4 | None) -> None:
    if conn is None:
        return
    try:
        conn.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to report
        try:
            conn.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _fetched(data: list[object]) -> list[tuple[int, bytes]]:
    """(uid, raw) pairs from a FETCH response, wherever the server put the UID item."""
    out: list[tuple[int, bytes]] = []
    pending: bytes | None = None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            prefix, raw = item
            m = _FETCH_UID.search(prefix) if isinstance(prefix, bytes) else None
            if m and isinstance(raw, bytes):
                out.append((int(m.group(1)), raw))
                pending = None
            else:
                pending = raw if isinstance(raw, bytes) else None
        elif isinstance(item, bytes) and pending is not None:
            m = _FETCH_UID.search(item)
            if m:
                out.append((int(m.group(1)), pending))
            pending = None
    return out


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(token: bytes) -> str:
    text = token.decode("utf-8", "replace").strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _decode_mutf7(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 5.1.3) folder names, for display."""

    def piece(m: re.Match[str]) -> str:
        body = m.group(1)
        if not body:
            return "&"
        b64 = body.replace(",", "/")
        b64 += "=" * (-len(b64) % 4)
        try:
            return base64.b64decode(b64).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return m.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", piece, name)


def _imap_date(when: dt.datetime) -> str:
    return f"{when.day}-{_MONTHS[when.month - 1]}-{when.year}"


def _reveal(password: Secret | str) -> str:
    return password.reveal() if isinstance(password, Secret) else password


def _scrub(text: str, secret: Secret) -> str:
    value = secret.reveal()
    return text.replace(value, MASK) if value else text


def _text(value: object) -> str:
    """One line of text from an exception or a server datum (bytes or str)."""
    if isinstance(value, BaseException):
        args = value.args
        value = args[0] if len(args) == 1 else (str(value) or type(value).__name__)
    if isinstance(value, list | tuple) and value:
        value = value[-1]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())
