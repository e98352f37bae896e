"""A real Exim 4 hop on loopback, run from Debian's unpacked exim4-daemon-light.

How it runs next to Postfix: exim4 conflicts with postfix as a Debian package, so `.ci/run`
unpacks exim4-daemon-light, exim4-base and exim4-config with `dpkg -x` into
/opt/probe-mta/exim (see tests/mta/unpacked.py), installs the one library it links that is not
there (libidn12) and creates the `Debian-exim` account the binary looks up by its compiled-in
name. The daemon is started from that tree with its own configuration (`-C`), spool, log and
pid file under a temporary directory, `exim_path` pointing at the unpacked binary so its re-execs
find it, listening on 127.0.0.1 only. An alternate configuration makes Exim give up root ("exim
user lost privilege for using -C option"), so it delivers as `Debian-exim`: appendfile into one
Maildir per recipient, adding Return-path, Envelope-to and Delivery-date as Debian's default
configuration does. STARTTLS is offered with a certificate from a test CA, so a clean path is
clean (no "offers no STARTTLS"). `message_size_limit` is the real rejection
(`552 Message size exceeds maximum permitted`, at MAIL when SIZE= is declared).

    probe --SMTP(STARTTLS)--> exim.mta.probe.test --appendfile--> Maildir <-- probe (maildir:)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.mta import unpacked
from tests.mta.one_hop import SIZE_LIMIT

EXIM = unpacked.Unpacked("exim", ("usr/sbin/exim4",), users=("Debian-exim",))
NAME = "exim.mta.probe.test"
DOMAIN = "mta.probe.test"
USERS = ("user", "sender")
EXIM_USER = "Debian-exim"

CONFIG = """\
primary_hostname = {name}
qualify_domain = {domain}
exim_path = {binary}
spool_directory = {root}/spool
log_file_path = {root}/log/%slog
pid_file_path = {root}/exim.pid
keep_environment =
daemon_smtp_ports = {port}
local_interfaces = <; 127.0.0.1
message_size_limit = {size_limit}
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = {tls.cert}
tls_privatekey = {tls.key}
domainlist local_domains = {domain}
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept domains = +local_domains
         local_parts = {users}
  deny   message = unknown user

begin routers
{discard}local_user:
  driver = accept
  domains = +local_domains
  local_parts = {users}
  transport = maildir_delivery

begin transports
maildir_delivery:
  driver = appendfile
  directory = {root}/mail/${{local_part_data}}/Maildir
  maildir_format
  delivery_date_add
  envelope_to_add
  return_path_add
  user = {user}
  group = {user}
  mode = 0600

begin retry
*   *   F,1m,10s
"""


DISCARD_ROUTER = """\
discard:
  driver = redirect
  local_parts = {local_parts}
  data = :blackhole:

"""


@contextlib.contextmanager
def exim(
    root: Path, *, size_limit: int = SIZE_LIMIT, discard: tuple[str, ...] = ()
) -> Iterator[unpacked.Hop]:
    """One Exim daemon (foreground, queue runs every 10 s) for the module, stopped at the end;
    mail for the `discard` local parts is accepted and thrown away (a `:blackhole:` redirect,
    as an admin silences an address)."""
    tls = unpacked.tls_files(root / "tls", NAME, owner=EXIM_USER)
    for sub in ("spool", "log", "mail"):
        unpacked.owned_dir(root / sub, EXIM_USER, 0o750)
    for user in USERS:
        unpacked.maildir(root / "mail" / user / "Maildir", EXIM_USER)
    port = unpacked.free_port()
    config = unpacked.write(
        root / "exim.conf",
        CONFIG.format(
            name=NAME,
            domain=DOMAIN,
            binary=EXIM.path("usr/sbin/exim4"),
            root=root,
            port=port,
            size_limit=size_limit,
            tls=tls,
            users=" : ".join(USERS),
            user=EXIM_USER,
            discard=DISCARD_ROUTER.format(local_parts=" : ".join(discard)) if discard else "",
        ),
    )
    argv: list[str | Path] = [EXIM.path("usr/sbin/exim4"), "-C", config, "-bdf", "-q10s"]
    with unpacked.daemon(
        argv, port=port, log=root / "log" / "mainlog", what="exim", host=NAME
    ) as d:
        yield unpacked.Hop(NAME, d.port, tls.ca, d.log, f"maildir://{root}/mail/user/Maildir")
