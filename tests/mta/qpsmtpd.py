"""A real qpsmtpd hop on loopback, run from Debian's unpacked qpsmtpd package.

qpsmtpd (Perl) does not conflict with postfix, but its package would add a system user and
start a service, so `.ci/run` unpacks it (`dpkg -x` into /opt/probe-mta/qpsmtpd) and installs
only the Perl modules it depends on. The forkserver is started with perl's `-I` pointing at the
tree's modules (it runs in taint mode, which ignores PERL5LIB) and QPSMTPD_CONFIG at a private
configuration directory: its name (`me`), the tree's plugin directory, its spool, and three
plugins: `tls` (STARTTLS with a test CA's certificate), `rcpt_ok` (the domain in `rcpthosts`)
and `queue/maildir`, its own delivery into a Maildir per local part. It runs as `mail`.

What makes it a test of attribution: qpsmtpd writes `Authentication-Results: <me>; auth=none`
itself, right below its own Received, and its replies (`250 <rcpt>, recipient ok`, `354 go
ahead`) carry no enhanced status codes.

    probe --SMTP(STARTTLS)--> qpsmtpd.mta.probe.test --queue/maildir--> Maildir <-- probe
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.mta import unpacked
from tests.mta.one_hop import SIZE_LIMIT

QPSMTPD = unpacked.Unpacked(
    "qpsmtpd",
    ("usr/bin/qpsmtpd-forkserver", "usr/share/perl5/Qpsmtpd.pm"),
    users=("mail",),
    host_paths=("/usr/share/perl5/Net/DNS.pm", "/usr/share/perl5/Mail/Header.pm"),
)
NAME = "qpsmtpd.mta.probe.test"
DOMAIN = "mta.probe.test"
RUN_AS = "mail"


@contextlib.contextmanager
def qpsmtpd(root: Path) -> Iterator[unpacked.Hop]:
    """One qpsmtpd-forkserver for the module, stopped at the end."""
    tls = unpacked.tls_files(root / "tls", NAME, owner=RUN_AS)
    config = root / "config"
    mail = root / "mail"
    unpacked.maildir(mail / "user", RUN_AS)
    unpacked.owned_dir(root / "spool", RUN_AS, 0o700)
    files = {
        "me": NAME,
        "plugin_dirs": str(QPSMTPD.path("usr/share/qpsmtpd/plugins")),
        "spool_dir": str(root / "spool"),
        "logging": "logging/warn LOGINFO",
        "rcpthosts": DOMAIN,
        "databytes": str(SIZE_LIMIT),
        "plugins": f"tls {tls.cert} {tls.key} {tls.ca}\nrcpt_ok\nqueue/maildir {mail} %l",
    }
    for name, text in files.items():
        unpacked.write(config / name, text + "\n")
    port = unpacked.free_port()
    argv: list[str | Path] = [
        "perl",
        "-T",
        f"-I{QPSMTPD.path('usr/share/perl5')}",
        QPSMTPD.path("usr/bin/qpsmtpd-forkserver"),
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "-u",
        RUN_AS,
    ]
    log = root / "qpsmtpd.out"  # logging/warn: standard error
    env = {"QPSMTPD_CONFIG": str(config)}
    with unpacked.daemon(argv, port=port, log=log, what="qpsmtpd", host=NAME, env=env) as d:
        yield unpacked.Hop(NAME, d.port, tls.ca, d.log, f"maildir://{mail / 'user'}")
