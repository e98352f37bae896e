"""probe's parsers on messages a live Postfix wrote in this run (same checks as the fixtures)."""

from __future__ import annotations

import pytest

from probe.model.collect import Arrival
from tests.mta import servers
from tests.mta.checks import check_postfix_copy, check_postfix_dsn
from tests.mta.messages import tagged
from tests.mta.test_mta_collect import System, gather, send

pytestmark = pytest.mark.mta


def test_live_copy_and_dsn_through_probe_parsers(mail_system: System, run_id: str) -> None:
    dc, pf = mail_system
    ok, gone = f"{run_id}.control", f"{run_id}.bounce"
    sent = tagged(ok, mail_from=servers.SENDER, rcpt_to=servers.USER)

    def deliver() -> None:
        send(pf, sent, servers.USER)
        send(
            pf,
            tagged(gone, mail_from=servers.SENDER, rcpt_to=servers.GONE),
            servers.GONE,
            mail_options=["RET=HDRS", f"ENVID={gone}"],
            rcpt_options=["NOTIFY=FAILURE"],
        )

    result, _, _ = gather(
        dc, {ok: "control", gone: "bounce"}, bounce_user=servers.SENDER, later=deliver
    )
    assert result.status_of(ok) is Arrival.DELIVERED and result.status_of(gone) is Arrival.BOUNCED
    check_postfix_copy(sent, result.delivered[0].raw, ok)
    check_postfix_dsn(result.bounces[0].message.raw, gone, servers.GONE)
