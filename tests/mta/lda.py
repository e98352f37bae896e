"""Dovecot's LDA (`dovecot-lda`, from the dovecot-core the mta tier installs) delivering into
an mbox: the local delivery agent an MTA without its own calls through a pipe.

It runs as the MTA's unprivileged user without `-d`, so it needs no Dovecot auth service: the
user, home and mail location come from its process and its private configuration. Writing the
mbox, it adds what Dovecot's mbox format keeps per message (X-IMAPbase, X-UID, Status,
X-Keywords, Content-Length): delivery-agent headers, not a hop's injection.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.mta import unpacked

LDA = Path("/usr/lib/dovecot/dovecot-lda")

CONFIG = """\
mail_location = mbox:{mail}/folders:INBOX={mail}/inbox
postmaster_address = postmaster@{domain}
hostname = {host}
log_path = {mail}/lda.log
base_dir = {mail}/run
state_dir = {mail}/state
ssl = no
"""


@dataclasses.dataclass(frozen=True)
class Mbox:
    argv: tuple[str, ...]  # the agent's command line, before the MTA's own arguments
    env: dict[str, str]  # what it needs from its environment (HOME, USER)
    inbox: Path

    @property
    def mailbox(self) -> str:
        return f"mbox://{self.inbox}"


def mbox_delivery(mail: Path, *, user: str, domain: str, host: str) -> Mbox:
    """A private configuration for delivering into `mail`/inbox as `user`."""
    for sub in ("", "folders", "run", "state", "home"):
        unpacked.owned_dir(mail / sub, user, 0o700)
    config = unpacked.write(
        mail / "lda.conf", CONFIG.format(mail=mail, domain=domain, host=host), 0o644
    )
    unpacked.write(mail / "inbox", "", 0o600, owner=user)  # probe opens it before any mail
    env = {"HOME": str(mail / "home"), "USER": user}
    return Mbox((str(LDA), "-c", str(config)), env, mail / "inbox")
