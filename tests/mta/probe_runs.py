"""`probe run` through one path of the `mta` tier, collected from Dovecot over IMAPS.

Small profiles (a few variants, no pacing, short retries and collect deadline) keep each run to
seconds; the whole run is bounded by `deadline`.
"""

from __future__ import annotations

import pytest

from probe.collect.secrets import resolve_password
from probe.model.run import RunResult
from probe.pipeline.request import RunArgs, SendArgs, build_request
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from tests.mta import servers

RUN_DEADLINE = 90.0


def imaps(dc: servers.Dovecot, user: str) -> str:
    return f"imaps://{user.replace('@', '%40')}@127.0.0.1:{dc.imaps_port}/INBOX"


def profile(name: str, variants: str, defaults: str = "") -> str:
    """A profile extending _base: `variants` are [[variant]] tables, `defaults` more defaults."""
    return (
        f'name = "{name}"\ndescription = "mta paths: {name}"\nextends = "_base"\n\n'
        f"[defaults]\nmin_interval = 0\n{defaults}\n{variants}"
    )


def run_probe(
    dc: servers.Dovecot,
    via: tuple[str, int],
    profile_text: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    to: str = servers.USER,
    collect_for: float = 20.0,
    retry_for: float | None = None,
    retry_delays: tuple[float, ...] | None = None,
    ca_file: str | None = None,
) -> RunResult:
    """One run of `profile_text` to `to` through `via`; the run must end without error."""
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", servers.PASSWORD)
    parsed = parse_profile(profile_text, source="<mta paths>", loader=file_loader)
    req = build_request(
        parsed,
        SendArgs(servers.DOMAIN, to, mail_from=servers.SENDER, via=via, ca_file=ca_file),
        RunArgs(
            mailbox=imaps(dc, servers.USER),
            bounce_mailbox=imaps(dc, servers.SENDER),
            mailbox_ca_file=str(dc.ca_pem),
            collect_for=collect_for,
            retry_for=retry_for,
            retry_delays=retry_delays,
        ),
        local_name="probe.invalid",
        password=resolve_password(),
    )
    outcome = perform(req, deadline=RUN_DEADLINE)
    assert outcome.error is None, outcome.error
    return outcome.result
