"""Mail paths built around one real Postfix, for the scenario tier (tests/mta/test_mta_paths.py).

One Postfix instance (Debian 12's 3.7) serves every path of the module, one smtpd listener per
path, each with its own `-o` overrides in master.cf:

    plain        the instance's own smtpd, no checks: what the lab's boxes stand in front of
    tls_encrypt  requires TLS (smtpd_tls_security_level = encrypt): MAIL before STARTTLS gets
                 530 5.7.0; every other listener offers it (= may), and Postfix's smtp
                 client uses it where offered, so no leg of a path is plaintext
    scan         after-queue content filter: content_filter = scan:[127.0.0.1]:S, the small
                 scanner of tests/mta/scanner.py, which re-injects into `reinject`
    scan_above   the same with the scanner's header directly above its Received
    scan_anonymous  ... and with a header that does not name the scanner's host
    reinject     the second smtpd the scanners hand the message back to (no filter)
    edge         relays everything (content_filter = relay:...) to `filtered`, hop 2
    filtered     myhostname = filter.mta.probe.test, smtpd_milters = the footer milter of
                 tests/mta/milter.py (its headers name no host)
    edge_named   the same path to a second hop 2 whose milter's header names filter.mta...
    behind       relays everything to the lab's Check Point box (tests/mta/boxes.py, limit
                 BEHIND_LIMIT), which passes it to `inner`, myhostname = inner.mta.probe.test:
                 a box BETWEEN two MTAs, refused mail bounced by the edge
    greylist     check_policy_service = postgrey (tests/mta/postgrey.py), when installed
    hopcount     its own cleanup service with hopcount_limit = HOPCOUNT_LIMIT (cleanup counts
                 the Received headers): `554 5.4.0 Error: too many hops` at and above it

The paths deliver by LMTP into one Dovecot (tests/mta/servers.py), where probe collects over
IMAPS. Everything listens on 127.0.0.1 and lives under one temporary directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.mta import boxes, milter, postgrey, scanner, servers

REPOSITORY = Path(__file__).resolve().parents[2]
FILTER_NAME = "filter.mta.probe.test"  # hop 2 of the milter path
INNER_NAME = "inner.mta.probe.test"  # the MTA behind the box behind the edge
BEHIND_LIMIT = 150_000
HOPCOUNT_LIMIT = 25
GREYLIST_DELAY = 2  # seconds; probe's first retry comes later
SCANNERS = {  # a content filter path per placement of the scanner's header
    "scan": scanner.Style(),
    "scan_above": scanner.Style(above=True),
    "scan_anonymous": scanner.Style(names_host=False),
}
_PORTS = (
    "tls_encrypt",
    "scan",
    "scan_above",
    "scan_anonymous",
    "edge",
    "edge_named",
    "behind",
    "hopcount",
    "greylist",
)  # own listeners


@dataclasses.dataclass(frozen=True)
class Paths:
    """The running servers and the port of each path's smtpd (None: not available here)."""

    dovecot: servers.Dovecot
    postfix: servers.Postfix
    ca_file: Path  # the CA of Postfix's certificate (for mx.mta.probe.test)
    plain: int
    tls_encrypt: int
    scan: int
    scan_above: int
    scan_anonymous: int
    edge: int
    edge_named: int
    behind: int
    hopcount: int
    greylist: int | None
    greylist_missing: str

    @property
    def log(self) -> str:
        """Postfix's log so far, for an assertion's message."""
        return self.postfix.log.read_text(errors="replace")[-3000:]


def smtpd(port: int, *overrides: str) -> str:
    """A master.cf service: an smtpd on 127.0.0.1:`port` with `-o` overrides (a value with
    spaces in Postfix's `{ name = value }` form)."""
    options = "".join(f"\n  -o {o}" for o in overrides)
    return f"127.0.0.1:{port} inet n - n - - smtpd{options}\n"


def _certificate(root: Path) -> tuple[Path, Path, Path]:
    import trustme  # test dependency; imported here so collection works without it

    ca = trustme.CA()
    leaf = ca.issue_cert(servers.MX_NAME)
    d = root / "postfix-tls"
    d.mkdir()
    key, cert, ca_file = d / "key.pem", d / "cert.pem", d / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    ca.cert_pem.write_to_path(str(ca_file))
    key.chmod(0o600)
    return key, cert, ca_file


@contextlib.contextmanager
def postfix_paths() -> Iterator[Paths]:
    """Dovecot, the scanner, the milter, postgrey and the one Postfix with every path's
    listener, in a fresh temporary directory removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="probe-mta-paths-"))
    root.chmod(0o755)  # Dovecot's mail user and Postfix must traverse it
    ports = {name: servers.free_port() for name in _PORTS}
    reinject, filtered, filtered_named, inner = (servers.free_port() for _ in range(4))
    key, cert, ca_file = _certificate(root)
    greylist_missing = postgrey.missing_reason() or ""
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        dc = stack.enter_context(servers.dovecot(root))
        milter_port = stack.enter_context(milter.footer_milter(root))
        named_milter = stack.enter_context(milter.footer_milter(root, FILTER_NAME))
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        filters = {name: scanner.start(reinject, tls, style) for name, style in SCANNERS.items()}
        for running in filters.values():
            stack.callback(running.stop)
        box = stack.enter_context(boxes.box_in_front("checkpoint", inner, threshold=BEHIND_LIMIT))
        policy = None
        if not greylist_missing:
            policy = stack.enter_context(postgrey.postgrey(root, GREYLIST_DELAY, servers.MX_NAME))
        master = "".join(
            [
                smtpd(ports["tls_encrypt"], "smtpd_tls_security_level=encrypt"),
                *(
                    smtpd(ports[name], f"content_filter=scan:[127.0.0.1]:{filters[name].port}")
                    for name in SCANNERS
                ),
                "scan unix - - n - 4 smtp\n  -o smtp_send_xforward_command=no\n",
                smtpd(reinject, "receive_override_options=no_unknown_recipient_checks"),
                smtpd(ports["edge"], f"content_filter=relay:[127.0.0.1]:{filtered}"),
                *(
                    smtpd(
                        hop2,
                        f"myhostname={FILTER_NAME}",
                        f"smtpd_milters=inet:127.0.0.1:{with_milter}",
                        "milter_default_action=tempfail",
                    )
                    for hop2, with_milter in (
                        (filtered, milter_port),
                        (filtered_named, named_milter),
                    )
                ),
                smtpd(ports["edge_named"], f"content_filter=relay:[127.0.0.1]:{filtered_named}"),
                smtpd(ports["behind"], f"content_filter=relay:[{box[0]}]:{box[1]}"),
                smtpd(inner, f"myhostname={INNER_NAME}"),
                smtpd(ports["hopcount"], "cleanup_service_name=hopcleanup"),
                f"hopcleanup unix n - n - 0 cleanup\n  -o hopcount_limit={HOPCOUNT_LIMIT}\n",
                "tlsmgr unix - - n 1000 1 tlsmgr\n",
                smtpd(
                    ports["greylist"],
                    "{ smtpd_recipient_restrictions = reject_unauth_destination, "
                    f"check_policy_service inet:127.0.0.1:{policy} }}",
                )
                if policy
                else "",
            ]
        )
        main = (
            f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
            "smtpd_tls_security_level = may\nsmtp_tls_security_level = may\n"
        )
        pf = stack.enter_context(
            servers.postfix(root, dc.lmtp_port, header_checks=False, main=main, master=master)
        )
        listening = [ports[n] for n in _PORTS if n != "greylist" or policy]
        for port in (*listening, reinject, filtered, filtered_named, inner):
            servers.wait_port(port, "postfix", pf.log)
        yield Paths(
            dovecot=dc,
            postfix=pf,
            ca_file=ca_file,
            plain=pf.smtp_port,
            tls_encrypt=ports["tls_encrypt"],
            scan=ports["scan"],
            scan_above=ports["scan_above"],
            scan_anonymous=ports["scan_anonymous"],
            edge=ports["edge"],
            edge_named=ports["edge_named"],
            behind=ports["behind"],
            hopcount=ports["hopcount"],
            greylist=ports["greylist"] if policy else None,
            greylist_missing=greylist_missing,
        )
