"""A real Sendmail hop on loopback, run from Debian's unpacked sendmail-bin and sendmail-cf.

How it runs next to Postfix: sendmail-bin conflicts with postfix as a Debian package, so
`.ci/run` unpacks sendmail-bin, sendmail-base and sendmail-cf with `dpkg -x` into
/opt/probe-mta/sendmail (tests/mta/unpacked.py) and installs m4. The test builds its own
sendmail.cf from a .mc with the tree's cf macros (`m4 -D_CF_DIR_=...`), with every path (queue,
pid, statistics, aliases, virtusertable, TLS files) under a temporary directory, and starts
`sendmail -C <cf> -bD` (the daemon in the foreground) in its own mount namespace, whose hosts
file lets it qualify its own name and whose resolver is a loopback responder. It listens on
127.0.0.1 only (no_default_msa: no submission daemon on *:587) with STARTTLS from a test CA,
maps the test recipients to the system user `mail` (virtusertable, built with the tree's
makemap) and delivers through its local mailer, Dovecot's LDA, into an mbox (tests/mta/lda.py).
Its load-average limits are raised out of reach: on a busy CI machine Sendmail would otherwise
only queue, and deliver nothing within the test.

    probe --SMTP(STARTTLS)--> sendmail.mta.probe.test --local mailer: dovecot-lda--> mbox
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.mta import lda, unpacked
from tests.mta.one_hop import SIZE_LIMIT

SENDMAIL = unpacked.Unpacked(
    "sendmail",
    (
        "usr/libexec/sendmail/sendmail",
        "usr/libexec/sendmail/makemap",
        "usr/share/sendmail/cf/m4/cf.m4",
    ),
    users=("mail",),
    host_paths=(str(lda.LDA), "/usr/bin/m4"),
)
NAME = "sendmail.mta.probe.test"
DOMAIN = "mta.probe.test"
DELIVER_AS = "mail"

MC = """\
divert(-1)
divert(0)dnl
include(`{cf}/m4/cf.m4')dnl
VERSIONID(`probe mta test')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `{name}')dnl
define(`QUEUE_DIR', `{root}/mqueue')dnl
define(`confPID_FILE', `{root}/sendmail.pid')dnl
define(`STATUS_FILE', `{root}/statistics')dnl
define(`ALIAS_FILE', `{root}/aliases')dnl
define(`HELP_FILE', `')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl
define(`confTO_IDENT', `0')dnl
define(`confMAX_MESSAGE_SIZE', `{size_limit}')dnl
define(`confQUEUE_LA', `999')dnl
define(`confREFUSE_LA', `999')dnl
define(`confCACERT_PATH', `{root}/tls')dnl
define(`confCACERT', `{tls.ca}')dnl
define(`confSERVER_CERT', `{tls.cert}')dnl
define(`confSERVER_KEY', `{tls.key}')dnl
define(`LOCAL_MAILER_PATH', `{agent}')dnl
define(`LOCAL_MAILER_ARGS', `{agent_args} -a $u')dnl
LOCAL_DOMAIN(`{domain}')dnl
FEATURE(`no_default_msa')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`virtusertable', `hash -o {root}/virtusertable')dnl
DAEMON_OPTIONS(`Port={port},Addr=127.0.0.1,Name=MTA')dnl
MODIFY_MAILER_FLAGS(`LOCAL', `-S')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""


@contextlib.contextmanager
def sendmail(root: Path) -> Iterator[unpacked.Hop]:
    """One Sendmail daemon (`-bD`, queue runs every 10 s) for the module, stopped at the end."""
    tls = unpacked.tls_files(root / "tls", NAME)
    mbox = lda.mbox_delivery(root / "mail", user=DELIVER_AS, domain=DOMAIN, host=NAME)
    (root / "mqueue").mkdir(mode=0o700)
    unpacked.write(root / "aliases", f"postmaster: {DELIVER_AS}\n")
    port = unpacked.free_port()
    mc = MC.format(
        cf=SENDMAIL.path("usr/share/sendmail/cf"),
        name=NAME,
        root=root,
        tls=tls,
        agent=mbox.argv[0],
        # argv[0] absolute (the LDA finds itself by it); $u in the arguments, else Sendmail
        # speaks SMTP to the mailer; the local mailer's own flags add -f <sender>
        agent_args=" ".join(mbox.argv),
        domain=DOMAIN,
        port=port,
        size_limit=SIZE_LIMIT,
    )
    cf = root / "sendmail.cf"
    built = subprocess.run(
        ["m4", f"-D_CF_DIR_={SENDMAIL.path('usr/share/sendmail/cf')}/"],
        input=mc,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    unpacked.write(cf, built.stdout)
    table = "".join(f"{user}@{DOMAIN}\t{DELIVER_AS}\n" for user in ("user", "sender"))
    subprocess.run(
        [SENDMAIL.path("usr/libexec/sendmail/makemap"), "-C", cf, "hash", root / "virtusertable"],
        input=table.encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    argv: list[str | Path] = [SENDMAIL.path("usr/libexec/sendmail/sendmail"), "-C", cf]
    argv += ["-bD", "-q10s"]
    log = root / "sendmail.out"  # what it prints; its log goes to syslog
    with unpacked.daemon(argv, port=port, log=log, what="sendmail", host=NAME) as d:
        yield unpacked.Hop(NAME, d.port, tls.ca, d.log, mbox.mailbox)
