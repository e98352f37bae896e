"""A private Postfix and a private Dovecot on loopback high ports, for the `mta` test tier.

Nothing here touches the system instances: each server gets its own configuration, queue, state
and log directories under one temporary directory, listens on 127.0.0.1 only, and is stopped at
the end. Postfix never looks up DNS: it delivers only by LMTP (TCP loopback) into Dovecot.

    probe (smtplib) --SMTP--> Postfix mx.mta.probe.test --LMTP--> Dovecot --IMAP(S)--> probe
                                 |  header_checks: Subject tagged, X-Postfix-Checked added
                                 +-- gone@: Postfix accepts it, Dovecot's LMTP refuses it
                                     (550 5.1.1) -> Postfix writes a DSN to the sender
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

POSTFIX = Path("/usr/sbin/postfix")
DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_LMTP = Path("/usr/lib/dovecot/lmtp")

DOMAIN = "mta.probe.test"
MX_NAME = "mx.mta.probe.test"
IMAP_NAME = "imap.mta.probe.test"  # Dovecot's name in its LMTP Received header
USER = f"user@{DOMAIN}"
SENDER = f"sender@{DOMAIN}"
GONE = f"gone@{DOMAIN}"  # in Postfix's virtual table, unknown to Dovecot: bounces after 250
PASSWORD = "mta-Test-pa55-8d1e"  # the test password; it must never show in output
QUOTED_USER = f"quoted@{DOMAIN}"  # its password needs IMAP quoting (LOGIN "...\"...\\...")
QUOTED_PASSWORD = 'mta-"q\\uo"te-8d1e'
UTF8_USER = f"utf8@{DOMAIN}"  # its password is not ASCII: AUTHENTICATE PLAIN
UTF8_PASSWORD = "mta-p\u00e4ss-w\u00f6rd-8d1e"
PASSWORDS = {
    USER: PASSWORD,
    SENDER: PASSWORD,
    QUOTED_USER: QUOTED_PASSWORD,
    UTF8_USER: UTF8_PASSWORD,
}
MAIL_USER = "mail"  # Dovecot stores mail as this unprivileged system user
START_TIMEOUT = 15.0


def missing_reason() -> str | None:
    """Why the tier cannot run here, or None."""
    for binary in (POSTFIX, DOVECOT, DOVECOT_LMTP):
        if not binary.exists():
            return f"{binary} not installed (the mta tier needs postfix, dovecot-imapd and "
            "dovecot-lmtpd; .ci/run installs them)"
    if os.geteuid() != 0:
        return "the mta tier starts private Postfix/Dovecot instances and needs root"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
        pwd.getpwnam(MAIL_USER)
    except KeyError as exc:
        return f"system account missing: {exc}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, what: str, log: Path, timeout: float = START_TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s:\n{tail}")


@dataclasses.dataclass(frozen=True)
class Dovecot:
    root: Path
    imap_port: int
    imaps_port: int
    lmtp_port: int
    ca_pem: Path
    log: Path


@dataclasses.dataclass(frozen=True)
class Postfix:
    root: Path
    smtp_port: int
    log: Path


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@contextlib.contextmanager
def dovecot(root: Path) -> Iterator[Dovecot]:
    """Dovecot with IMAP (STARTTLS), IMAPS, LMTP, a passwd-file and a \\Junk folder."""
    import trustme  # test dependency; imported here so collection works without it

    d = root / "dovecot"
    (d / "run").mkdir(parents=True)
    (d / "state").mkdir()
    mail = root / "mail"
    mail.mkdir()
    uid, gid = pwd.getpwnam(MAIL_USER).pw_uid, grp.getgrnam(MAIL_USER).gr_gid
    os.chown(mail, uid, gid)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    users = "".join(
        f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{mail / name.split('@')[0]}::\n"
        for name, password in PASSWORDS.items()
    )
    _write(d / "users", users, 0o640)
    os.chown(d / "users", 0, grp.getgrnam("dovecot").gr_gid)  # auth runs as user dovecot
    ports = free_port(), free_port(), free_port()
    log = d / "dovecot.log"
    _write(
        d / "dovecot.conf",
        f"""
base_dir = {d}/run
state_dir = {d}/state
instance_name = probe-mta-test
hostname = {IMAP_NAME}
log_path = {log}
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
namespace inbox {{
  inbox = yes
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Quarantine {{
    special_use = \\Junk
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {ports[0]}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ports[1]}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {ports[2]}
  }}
}}
""",
    )
    proc = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(d / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=open(d / "stderr.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    try:
        for port in ports:
            wait_port(port, "dovecot", log)
        yield Dovecot(root, ports[0], ports[1], ports[2], root / "ca.pem", log)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server the tier started: SIGTERM, then SIGKILL if it has not gone in 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
lmtp       unix  - - n -    - lmtp
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


@contextlib.contextmanager
def postfix(
    root: Path,
    lmtp_port: int,
    *,
    name: str = "postfix",
    header_checks: bool = True,
    main: str = "",
    master: str = "",
) -> Iterator[Postfix]:
    """Postfix accepting mail for DOMAIN, delivering by LMTP into Dovecot.

    `name`: its directory under `root` (two instances can share one root); `header_checks`:
    the Subject tag and X-Postfix-Checked below; `main` and `master`: lines appended to main.cf
    (a later line overrides an earlier one) and master.cf (more services).
    """
    p = root / name
    conf, queue, data = p / "etc", p / "queue", p / "data"
    for directory in (conf, queue, data):
        directory.mkdir(parents=True)
    postfix_uid = pwd.getpwnam("postfix").pw_uid
    os.chown(data, postfix_uid, -1)
    port = free_port()
    log = p / "maillog"
    _write(conf / "vmailbox", f"{USER} OK\n{SENDER} OK\n{GONE} OK\n")
    _write(
        conf / "header_checks",
        "/^Subject: (.*)$/ REPLACE Subject: [MTA-TAG] ${1}\n"
        "/^X-Probe:/ PREPEND X-Postfix-Checked: yes\n",
    )
    _write(
        conf / "main.cf",
        f"""
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-probe-mta-test
maillog_file = {log}
maillog_file_prefixes = {p}
myhostname = {MX_NAME}
mydomain = {DOMAIN}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = yes
smtpd_banner = $myhostname ESMTP Postfix (probe mta test)
biff = no
alias_maps =
alias_database =
local_recipient_maps =
recipient_delimiter = +
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
relay_domains =
{f"header_checks = regexp:{conf}/header_checks" if header_checks else ""}
nested_header_checks =
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 1m
bounce_queue_lifetime = 1m
delay_warning_time = 0
{main}""",
    )
    _write(conf / "master.cf", MASTER_CF.format(port=port).replace("1000?", "1000") + master)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    started = subprocess.run(
        [str(POSTFIX), "-c", str(conf), "start"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    try:
        if started.returncode != 0:
            raise RuntimeError(
                f"postfix start failed: {(started.stdout + started.stderr).strip()[-2000:]}"
            )
        wait_port(port, "postfix", log)
        yield Postfix(root, port, log)
    finally:
        stop = [str(POSTFIX), "-c", str(conf)]
        done = subprocess.run([*stop, "stop"], capture_output=True, timeout=30, env=env)
        if done.returncode != 0:
            subprocess.run([*stop, "abort"], capture_output=True, timeout=30, env=env)
        _wait_master_gone(data)


def _wait_master_gone(data: Path, timeout: float = 10.0) -> None:
    pid_file = data.parent / "queue" / "pid" / "master.pid"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return
        time.sleep(0.1)


@contextlib.contextmanager
def mail_system() -> Iterator[tuple[Dovecot, Postfix]]:
    """Both servers in one fresh temporary directory, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="probe-mta-"))
    root.chmod(0o755)  # Dovecot's mail user and Postfix must traverse it
    try:
        with dovecot(root) as dc, postfix(root, dc.lmtp_port) as pf:
            yield dc, pf
    finally:
        shutil.rmtree(root, ignore_errors=True)
