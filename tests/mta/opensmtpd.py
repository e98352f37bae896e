"""A real OpenSMTPD hop on loopback, run from Debian's unpacked opensmtpd package.

How it runs next to Postfix: opensmtpd conflicts with postfix as a Debian package, so `.ci/run`
unpacks it with `dpkg -x` into /opt/probe-mta/opensmtpd (tests/mta/unpacked.py) and creates
what its postinst would: the `opensmtpd` and `opensmtpq` accounts, /var/lib/opensmtpd/empty (the
chroot) and an empty /usr/libexec/opensmtpd. smtpd has its spool (/var/spool/smtpd), control
socket (/run/smtpd.sock) and delivery agents (/usr/libexec/opensmtpd/mail.*) compiled in, so it
runs in its own mount namespace (`unshare --mount`) where the test's spool and run directories
are bind-mounted over /var/spool and /run and the tree's agents over /usr/libexec/opensmtpd;
nothing of the host changes. It listens on 127.0.0.1 without STARTTLS: Debian 12's 6.8.0p2
cannot sign a TLS handshake with OpenSSL 3 ("SSL routines::EVP lib", OpenSMTPD issue 1239, for
RSA and ECDSA keys alike), so probe truly finds "offers no STARTTLS" on this path. It delivers
every recipient of the domain through its own mail.maildir into a Maildir per local part, as
the system user `mail` (a virtual-user table).

    probe --SMTP--> opensmtpd.mta.probe.test --mail.maildir--> Maildir <-- probe
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.mta import unpacked
from tests.mta.one_hop import SIZE_LIMIT

OPENSMTPD = unpacked.Unpacked(
    "opensmtpd",
    ("usr/sbin/smtpd", "usr/libexec/opensmtpd/mail.maildir"),
    users=("opensmtpd", "opensmtpq", "mail"),
    host_paths=("/usr/libexec/opensmtpd", "/var/lib/opensmtpd/empty"),
)
NAME = "opensmtpd.mta.probe.test"
DOMAIN = "mta.probe.test"
USERS = ("user", "sender")
MAIL_USER = "mail"

CONFIG = """\
{pki}table vusers file:{root}/vusers
smtp max-message-size {size_limit}
listen on 127.0.0.1 port {port} {tls}hostname {name}
action "deliver" maildir "{root}/mail/%{{rcpt.user}}/Maildir" virtual <vusers>
match from any for domain "{domain}" action "deliver"
"""


@contextlib.contextmanager
def opensmtpd(root: Path, *, broken_tls: bool = False) -> Iterator[unpacked.Hop]:
    """One smtpd (foreground, `-d`) in its own mount namespace, stopped at the end; with
    `broken_tls`, STARTTLS offered with a certificate it cannot sign with (every handshake fails
    with 'tlsv1 alert internal error', as on any Debian 12 OpenSMTPD with TLS)."""
    tls = unpacked.tls_files(root / "tls", NAME) if broken_tls else None
    pki = f'pki {NAME} cert "{tls.cert}"\npki {NAME} key "{tls.key}"\n' if tls else ""
    spool, run = root / "spool", root / "run"
    for directory in (spool, run):
        directory.mkdir()
    for user in USERS:
        unpacked.maildir(root / "mail" / user / "Maildir", MAIL_USER)
    unpacked.write(root / "vusers", "".join(f"{u}@{DOMAIN} {MAIL_USER}\n" for u in USERS))
    port = unpacked.free_port()
    config = unpacked.write(
        root / "smtpd.conf",
        CONFIG.format(
            name=NAME,
            root=root,
            port=port,
            domain=DOMAIN,
            size_limit=SIZE_LIMIT,
            pki=pki,
            tls=f"tls pki {NAME} " if tls else "",
        ),
        0o600,
    )
    binds: list[tuple[Path, str]] = [
        (spool, "/var/spool"),
        (run, "/run"),
        (OPENSMTPD.path("usr/libexec/opensmtpd"), "/usr/libexec/opensmtpd"),
    ]
    argv: list[str | Path] = [OPENSMTPD.path("usr/sbin/smtpd"), "-d", "-f", config]
    log = root / "smtpd.out"  # -d logs to standard error
    with unpacked.daemon(argv, port=port, log=log, what="opensmtpd", host=NAME, binds=binds) as d:
        mailbox = f"maildir://{root}/mail/user/Maildir"
        yield unpacked.Hop(NAME, d.port, tls.ca if tls else None, d.log, mailbox)
