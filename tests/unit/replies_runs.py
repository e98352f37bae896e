"""Runs for the reply, cause and condition tests of `decide`, built from real MTA texts.

Postfix's replies come from tests/data/mta/postfix-replies.json (written by Postfix 3.7.11, see
its `written_by`); the Check Point proxy's from the seed session (docs/research/fingerprints.md,
[S4]); other products' texts are quoted where they are used, with their source.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from probe.analyze.diff.compare import compare
from probe.analyze.received.path import trace
from probe.model.bounce import Bounce
from probe.model.collect import (
    Arrival,
    ArrivalStatus,
    CollectedBounce,
    CollectResult,
    FoundMessage,
)
from probe.model.message import DeliveredCopy
from probe.model.run import RunResult, VariantAnalysis
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome, RcptResult, Reply, Stage
from probe.model.variant import VariantSpec

DATA = Path(__file__).parents[1] / "data" / "mta"
T0 = dt.datetime(2026, 12, 3, 12, 0, 0, tzinfo=dt.UTC)
RUN = "20261203T120000-0a0b0c"
POSTFIX_BANNER = "220 mx.mta.probe.test ESMTP Postfix (probe mta test)"


@cache
def postfix() -> Mapping[str, Mapping[str, list[str]]]:
    """The captured Postfix 3.7 conversations by name ("plain", "tls-encrypt", ...)."""
    data = json.loads((DATA / "postfix-replies.json").read_text())
    conversations: Mapping[str, Mapping[str, list[str]]] = data["conversations"]
    return conversations


def reply_of(lines: Iterable[str]) -> Reply:
    lines = list(lines)
    return Reply(int(lines[0][:3]), tuple(line[4:] for line in lines))


@dataclasses.dataclass(frozen=True)
class Script:
    """The replies of one conversation, as lines on the wire ("" = not reached)."""

    banner: str = POSTFIX_BANNER
    caps: tuple[str, ...] = ()
    mail: str = "250 2.1.0 Ok"
    rcpt: str = "250 2.1.5 Ok"
    data: str = "354 End data with <CR><LF>.<CR><LF>"
    final: str = "250 2.0.0 Ok: queued as DB37C20C4D4"

    @classmethod
    def postfix(cls, name: str, **changes: str | tuple[str, ...]) -> Script:
        conv = postfix()[name]
        caps = tuple(line[4:] for line in conv["ehlo"][1:])
        picked = {
            "banner": conv["banner"][0],
            "caps": caps,
            "mail": conv.get("mail", [""])[0],
            "rcpt": conv.get("rcpt", [""])[0],
            "data": conv.get("data", [""])[0],
            "final": conv.get("data-end", [""])[0],
        }
        return dataclasses.replace(cls(), **{**picked, **changes})  # type: ignore[arg-type]

    def conversation(self, host: str = "mx.mta.probe.test") -> Conversation:
        """The conversation as probe observes it: it ends at the first refusal."""
        outcome, stage = Outcome.ACCEPTED, Stage.QUIT
        replies: dict[str, Reply | None] = {}
        for name, stage_of in (
            ("mail", Stage.MAIL),
            ("rcpt", Stage.RCPT),
            ("data", Stage.DATA),
            ("final", Stage.DATA_END),
        ):
            line = getattr(self, name)
            replies[name] = reply_of([line]) if line else None
            if line and line[0] in "45":
                outcome = Outcome.REJECTED if line[0] == "5" else Outcome.TEMP_FAILED
                stage = stage_of
                break
        rcpt = replies.get("rcpt")
        return Conversation(
            host=host,
            address="127.0.0.1",
            port=25,
            helo="probe.test",
            started_at=T0,
            duration_ms=40.0,
            outcome=outcome,
            stage=stage,
            banner=reply_of([self.banner]),
            ehlo=Reply(250, (host, *self.caps)),
            capabilities=self.caps,
            mail_reply=replies.get("mail"),
            rcpt_results=(RcptResult("user@mta.probe.test", rcpt, rcpt.code < 400),)
            if rcpt is not None
            else (),
            data_reply=replies.get("data"),
            final_reply=replies.get("final"),
        )


def deciding(conv: Conversation) -> Reply | None:
    if conv.stage is Stage.MAIL:
        return conv.mail_reply
    if conv.stage is Stage.RCPT:
        return conv.rcpt_results[0].reply if conv.rcpt_results else None
    if conv.stage is Stage.DATA:
        return conv.data_reply
    return conv.final_reply


def sent(
    spec: VariantSpec, script: Script, size: int, host: str = "mx.mta.probe.test"
) -> VariantSend:
    conv = script.conversation(host)
    return VariantSend(
        spec.id,
        f"{RUN}.{spec.id}",
        spec.description,
        conv.outcome,
        conv.stage,
        reply=deciding(conv),
        target=f"{host} [127.0.0.1]:25",
        size=size,
        attempts=(conv,),
    )


def run_of(
    sends: Iterable[VariantSend],
    specs: Iterable[VariantSpec],
    *,
    copies: Mapping[str, bytes] | None = None,
    bounces: Mapping[str, tuple[bytes, Bounce]] | None = None,
    advertised: int | None = 10240000,
    hop1: Conversation | None = None,
) -> RunResult:
    """A run with the given copies (variant -> raw) and bounces (variant -> (raw, parsed))."""
    sends = tuple(sends)
    copies = copies or {}
    bounces = bounces or {}
    delivered = tuple(
        DeliveredCopy(f"{RUN}.{v}", raw, "INBOX", found_at=T0) for v, raw in copies.items()
    )
    statuses = tuple(
        ArrivalStatus(
            s.probe_id,
            s.variant,
            Arrival.DELIVERED
            if s.variant in copies
            else Arrival.BOUNCED
            if s.variant in bounces
            else Arrival.MISSING,
            folders=("INBOX",),
        )
        for s in sends
        if s.outcome is Outcome.ACCEPTED
    )
    collected = tuple(
        CollectedBounce((f"{RUN}.{v}",), FoundMessage(raw, "INBOX"))
        for v, (raw, _parsed) in bounces.items()
    )
    analyses = tuple(
        VariantAnalysis(f"{RUN}.{v}", v, trace(raw), compare(sent_of(v), raw))
        for v, raw in copies.items()
    ) + tuple(
        VariantAnalysis(f"{RUN}.{v}", v, bounces=(parsed,)) for v, (_raw, parsed) in bounces.items()
    )
    return RunResult(
        run_id=RUN,
        domain="mta.probe.test",
        to="user@mta.probe.test",
        mail_from="probe@sender.test",
        profile="test",
        started_at=T0,
        specs=tuple(specs),
        advertised_size=advertised,
        variants=sends,
        collect=CollectResult(
            "maildir:/x", "maildir:/x", T0, 1.0, False, statuses, delivered, collected
        ),
        analyses=analyses,
        hop1=hop1,
    )


def sent_of(variant: str) -> bytes:
    """What probe sent for a variant (its headers are what matters here)."""
    pid = f"{RUN}.{variant}"
    return (
        f"From: probe@sender.test\r\nTo: user@mta.probe.test\r\n"
        f"Subject: [probe {pid}] {variant}\r\nMessage-ID: <probe.{pid}@sender.test>\r\n"
        f"X-Probe-Id: {pid}\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n\r\nprobe-id: {pid}\r\n"
    ).encode()


def copy_of(variant: str, received: str = "") -> bytes:
    """A delivered copy: `received` (the Postfix MX's Received by default), then what was sent."""
    stamp = received or (
        "Received: from probe.test (localhost [127.0.0.1])\r\n"
        "\tby mx.mta.probe.test (Postfix) with ESMTP id DB37C20C4D4\r\n"
        "\tfor <user@mta.probe.test>; Thu,  3 Dec 2026 12:00:00 +0000 (UTC)\r\n"
    )
    return stamp.encode() + sent_of(variant)
