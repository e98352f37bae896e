"""A real chasquid hop on loopback, run from Debian's unpacked chasquid package.

chasquid does not conflict with postfix, but it is unpacked like the others (`dpkg -x` into
/opt/probe-mta/chasquid by `.ci/run`), so installing it starts no system service. Everything it
uses is a flag or its configuration: its own configuration directory (chasquid.conf, a domain
with one user added by chasquid-util, certs/<name>/ from a test CA), data directory and
loopback listeners, run as the system user `mail`. It offers STARTTLS and hands each message to
its mail delivery agent, Dovecot's LDA, which writes an mbox probe collects from
(tests/mta/lda.py).

    probe --SMTP(STARTTLS)--> chasquid.mta.probe.test --pipe--> dovecot-lda --> mbox <-- probe
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.mta import lda, unpacked
from tests.mta.one_hop import SIZE_LIMIT

CHASQUID = unpacked.Unpacked(
    "chasquid",
    ("usr/bin/chasquid", "usr/bin/chasquid-util"),
    users=("mail",),
    host_paths=(str(lda.LDA),),
)
NAME = "chasquid.mta.probe.test"
DOMAIN = "mta.probe.test"
RUN_AS = "mail"
USER_PASSWORD = "chasquid-test-pa55"  # the test user's password; probe never logs in

CONFIG = """\
hostname: "{name}"
smtp_address: "127.0.0.1:{port}"
submission_address: "127.0.0.1:{submission}"
submission_over_tls_address: "127.0.0.1:{submission_tls}"
data_dir: "{root}/data"
max_data_size_mb: {size_mb}
mail_log_path: "<stdout>"
mail_delivery_agent_bin: "{agent}"
{agent_args}
mail_delivery_agent_args: "-f"
mail_delivery_agent_args: "%from%"
"""


@contextlib.contextmanager
def chasquid(root: Path) -> Iterator[unpacked.Hop]:
    """One chasquid daemon for the module, stopped at the end."""
    conf = root / "conf"
    tls = unpacked.tls_files(conf / "certs" / NAME, NAME)
    tls.cert.rename(tls.cert.with_name("fullchain.pem"))
    tls.key.rename(tls.key.with_name("privkey.pem"))
    mbox = lda.mbox_delivery(root / "mail", user=RUN_AS, domain=DOMAIN, host=NAME)
    port, submission, submission_tls = (unpacked.free_port() for _ in range(3))
    agent, *args = mbox.argv
    unpacked.write(
        conf / "chasquid.conf",
        CONFIG.format(
            name=NAME,
            port=port,
            submission=submission,
            submission_tls=submission_tls,
            root=root,
            size_mb=SIZE_LIMIT // (1024 * 1024),
            agent=agent,
            agent_args="\n".join(f'mail_delivery_agent_args: "{a}"' for a in args),
        ),
    )
    subprocess.run(
        [
            str(CHASQUID.path("usr/bin/chasquid-util")),
            f"--configdir={conf}",
            "user-add",
            f"user@{DOMAIN}",
            f"--password={USER_PASSWORD}",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    unpacked.owned_dir(root / "data", RUN_AS, 0o700)
    subprocess.run(["chown", "-R", RUN_AS, str(conf)], check=True, timeout=30)
    argv: list[str | Path] = [
        CHASQUID.path("usr/bin/chasquid"),
        "-config_dir",
        conf,
        "-alsologtostderr",
    ]
    log = root / "chasquid.out"
    with unpacked.daemon(
        argv, port=port, log=log, what="chasquid", host=NAME, env=mbox.env, user=RUN_AS
    ) as d:
        yield unpacked.Hop(NAME, d.port, tls.ca, d.log, mbox.mailbox)
