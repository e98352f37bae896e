"""Mailbox URLs (pure): `imaps://user@host[:port]/FOLDER`, `imap://...`, `maildir:`, `mbox:`.

A spec never holds a password: a URL with one (`user:pw@`, `?password=`) is refused (the secret
would end up in shell history and process lists), and so is any other query, which an IMAP URL
does not have and which was once dropped without a word. `str(spec)` is safe to print and store
in results; error messages mask whatever could be a secret in the URL they quote.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote, unquote

from probe.errors import UsageError

IMAP_SCHEMES = {"imaps": 993, "imap": 143}
LOCAL_SCHEMES = ("maildir", "mbox")
_PASSWORD_KEY = re.compile(r"(?:^|[&;])[^=&;]*(?:pass|pwd|secret|token)", re.IGNORECASE)
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$")
_HELP = "use imaps://user@host[:port]/FOLDER, imap://..., maildir:/path or mbox:/path"
_NO_PASSWORD = "must not contain a password; use PROBE_IMAP_PASSWORD or --password-file"


@dataclasses.dataclass(frozen=True)
class MailboxSpec:
    """Where the cooperating mailbox is; `str()` gives the canonical URL (no secret in it)."""

    scheme: str  # imaps, imap, maildir, mbox
    user: str = ""  # decoded (user%40domain -> user@domain)
    host: str = ""  # without brackets for IPv6 literals
    port: int = 0
    folder: str = "INBOX"
    path: str = ""  # maildir/mbox only

    @property
    def is_imap(self) -> bool:
        return self.scheme in IMAP_SCHEMES

    @property
    def display(self) -> str:
        """`user@host` for messages about the account."""
        return f"{self.user}@{self.host}"

    def __str__(self) -> str:
        if not self.is_imap:
            return f"{self.scheme}:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == IMAP_SCHEMES[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{quote(self.user, safe='')}@{host}{port}/{quote(self.folder)}"


def parse_mailbox_url(url: str) -> MailboxSpec:
    """Parse a mailbox URL; a bad one is a one-line UsageError that never echoes a password."""
    text = url.strip()
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or not rest:
        raise UsageError(f"not a mailbox URL: {_safe(text)!r} ({_HELP})")
    if scheme in LOCAL_SCHEMES:
        return _parse_local(scheme, rest, text)
    if scheme in IMAP_SCHEMES:
        return _parse_imap(scheme, rest, text)
    raise UsageError(f"unsupported mailbox URL scheme {scheme!r} ({_HELP})")


def _parse_local(scheme: str, rest: str, text: str) -> MailboxSpec:
    path = rest[2:] if rest.startswith("//") else rest  # maildir:///abs -> /abs
    if not path.strip() or "\n" in path or "\x00" in path:
        raise UsageError(f"{scheme} URL needs a path: {_safe(text)!r} ({_HELP})")
    return MailboxSpec(scheme=scheme, path=path)


def _parse_imap(scheme: str, rest: str, text: str) -> MailboxSpec:
    if not rest.startswith("//"):
        raise UsageError(f"{scheme} URL must start with {scheme}://: {_safe(text)!r}")
    if ":" in rest[2:].partition("@")[0] and "@" in rest:
        # user:secret@ (the secret may hold '/', '?' or '#', so look before splitting)
        raise UsageError(f"{scheme} URL {_NO_PASSWORD}")
    authority, _, folder = rest[2:].partition("/")
    authority, _, query = authority.partition("?")
    folder, _, folder_query = folder.partition("?")
    query = query or folder_query
    if _PASSWORD_KEY.search(query):
        raise UsageError(f"{scheme} URL {_NO_PASSWORD}")
    if query:
        raise UsageError(f"{scheme} URL takes no query ('?...'): {_safe(text)!r} ({_HELP})")
    userinfo, at, hostport = authority.rpartition("@")
    if not at or not userinfo:
        raise UsageError(f"{scheme} URL needs a user (user@host): {_safe(text)!r}")
    match = _HOST.match(hostport)
    if not match:
        raise UsageError(f"{scheme} URL has a bad host or port: {_safe(text)!r}")
    host = match.group(1).strip("[]")
    port = int(match.group(2)) if match.group(2) else IMAP_SCHEMES[scheme]
    if not 0 < port < 65536:
        raise UsageError(f"{scheme} URL has a port out of range: {port}")
    user = unquote(userinfo)
    folder = unquote(folder).strip("/") or "INBOX"
    if any(ord(c) < 32 for c in user + folder):
        raise UsageError(f"{scheme} URL contains control characters: {_safe(text)!r}")
    return MailboxSpec(scheme=scheme, user=user, host=host, port=port, folder=folder)


def _safe(text: str) -> str:
    """The URL with whatever could be a secret masked (`user:***@`, `?***`), for messages."""
    text = re.sub(r"(//[^/@:]*):.*@", r"\1:***@", text)
    return re.sub(r"\?.*", "?***", text)
