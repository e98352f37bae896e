"""A real Postfix as a before-queue proxy in the box namespace of a firewall test: its smtpd
answers the client and hands each transaction, as it happens, to `smtpd_proxy_filter` (here the
`probe listen` in the inside namespace), whose replies it passes back. Its own configuration,
queue and data directories under the test's directory, as in tests/mta/servers.py; the mail
never enters its queue (the filter is the end of the line), so it delivers nothing anywhere.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.mta import servers
from tests.mta.netns import Chain

NAME = "box.firewall.probe.test"
BANNER = f"{NAME} ESMTP Postfix (probe firewall test)"


def missing_reason() -> str | None:
    if not servers.POSTFIX.exists():
        return f"{servers.POSTFIX} not installed (.ci/run installs postfix)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "system account postfix missing"
    return None


def _main_cf(root: Path, chain: Chain, cert: Path, key: Path) -> str:
    return f"""
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-probe-firewall-test
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = {NAME}
mydomain = firewall.probe.test
mydestination =
inet_interfaces = all
inet_protocols = ipv4
mynetworks = {chain.client}/32
smtputf8_enable = yes
smtpd_banner = {BANNER}
smtpd_peername_lookup = no
biff = no
alias_maps =
alias_database =
local_recipient_maps =
relay_domains =
smtp_dns_support_level = disabled
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
"""


def _master_cf(chain: Chain, port: int, filter_port: int) -> str:
    smtpd = (
        f"{chain.box_outer}:{port} inet n - n - - smtpd\n"
        f"  -o smtpd_proxy_filter={chain.sink}:{filter_port}\n"
        "  -o smtpd_proxy_timeout=30s\n"
    )
    rest = servers.MASTER_CF.split("\n", 1)[1].replace("1000?", "1000")
    return smtpd + rest + "tlsmgr     unix  - - n 1000 1 tlsmgr\n"


@contextlib.contextmanager
def proxy_postfix(
    chain: Chain, port: int, filter_port: int, cert: Path, key: Path
) -> Iterator[Path]:
    """Postfix listening on the box's outer address, in a fresh directory (removed after) that
    its unprivileged user can traverse; yields its log."""
    root = Path(tempfile.mkdtemp(prefix="probe-firewall-postfix-"))
    root.chmod(0o755)
    try:
        with _running(chain, root, port, filter_port, cert, key) as log:
            yield log
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _running(
    chain: Chain, root: Path, port: int, filter_port: int, cert: Path, key: Path
) -> Iterator[Path]:
    for directory in ("etc", "queue", "data"):
        (root / directory).mkdir(parents=True)
    os.chown(root / "data", pwd.getpwnam("postfix").pw_uid, -1)
    conf = root / "etc"
    # smtpd reads its certificate as the postfix user: a copy where it can
    cert = Path(shutil.copy(cert, conf / "cert.pem"))
    key = Path(shutil.copy(key, conf / "key.pem"))
    (conf / "main.cf").write_text(_main_cf(root, chain, cert, key))
    (conf / "master.cf").write_text(_master_cf(chain, port, filter_port))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    command = chain.exec(chain.box, str(servers.POSTFIX), "-c", str(conf))
    log = root / "maillog"
    started = subprocess.run(
        [*command, "start"], capture_output=True, text=True, timeout=30, env=env, check=False
    )
    try:
        if started.returncode != 0:
            raise RuntimeError(f"postfix start failed: {(started.stdout + started.stderr)[-2000:]}")
        chain.wait_listening(chain.box, chain.box_outer, port, log)
        yield log
    finally:
        done = subprocess.run([*command, "stop"], capture_output=True, timeout=30, env=env)
        if done.returncode != 0:
            subprocess.run([*command, "abort"], capture_output=True, timeout=30, env=env)
        servers._wait_master_gone(root / "data")
