"""The seed's Exchange 5.5 case (issue 11; /work/shared/seeds/003: Microsoft KB Q288848): a path
that bounces exactly the attachment sent to several recipients, while the same attachment to one
recipient and the plain message to several pass, is named with that condition and the cause."""

from __future__ import annotations

from probe.decide.decision import decide
from probe.model.bounce import Bounce, BounceKind, BounceRecipient, StatusClass
from probe.model.variant import AttachmentKind, AttachmentSpec, VariantSpec
from probe.model.verdict import Action
from tests.unit.replies_runs import RUN, Script, copy_of, run_of, sent

CONTROL = VariantSpec("control", "control")
ZIP = VariantSpec("attach-zip", "zip", attachments=(AttachmentSpec(AttachmentKind.ZIP),))
RCPT3 = VariantSpec("rcpt-3", "three recipients", recipients=3)
ZIP3 = VariantSpec(
    "attach-zip-3-rcpt", "zip to 3", attachments=(AttachmentSpec(AttachmentKind.ZIP),), recipients=3
)
SIZES = {"control": 620, "attach-zip": 5_210, "rcpt-3": 700, "attach-zip-3-rcpt": 5_290}


def ndr(variant: str) -> Bounce:
    """What the bounce parser reads from the NDR the Exchange 5.5 MTA returns (KB Q288848: an
    X.400 transfer failure, reported for the Internet as 5.4.0 by the Internet Mail Service)."""
    return Bounce(
        BounceKind.RFC3464,
        tuple(
            BounceRecipient(
                f"user+{i}@corp.example",
                action="failed",
                status="5.4.0",
                diagnostic_code="X-Unix; transfer-failure",
                status_class=StatusClass.PERMANENT,
            )
            for i in (1, 2)
        ),
        (f"{RUN}.{variant}",),
        StatusClass.PERMANENT,
        "transfer-failure",
        reporting_mta="dns; exchange55.corp.example",
    )


def exchange_run(specs: list[VariantSpec]):  # type: ignore[no-untyped-def]
    ok = Script.postfix("plain")
    sends = [sent(s, ok, SIZES[s.id]) for s in specs]
    copies = {s.id: copy_of(s.id) for s in specs if s.id != ZIP3.id}
    return run_of(sends, specs, copies=copies, bounces={ZIP3.id: (b"", ndr(ZIP3.id))})


def test_the_exchange_55_case_is_named_with_its_condition_and_its_known_cause() -> None:
    decision = decide(exchange_run([CONTROL, ZIP, RCPT3, ZIP3]))
    (bounce,) = [a for h in decision.hops for a in h.actions if a.action is Action.BOUNCES]
    assert bounce.condition == "messages with an attachment sent to several recipients at once"
    assert bounce.summary.startswith(
        "accepts, then bounces messages with an attachment sent to several recipients at once"
    )
    assert "Exchange Server 5.5" in bounce.summary and "Q288848" in bounce.summary
    assert any(e.source == "knowledge" and "MAPI mode" in e.text for e in bounce.evidence)
    assert "attach-zip-3-rcpt" not in bounce.summary


def test_without_the_two_comparisons_the_known_cause_is_not_claimed() -> None:
    """Compared with the control alone, attachment and recipients each separate: the verdict
    names both as possible and claims no known case."""
    decision = decide(exchange_run([CONTROL, ZIP3]))
    (bounce,) = [a for h in decision.hops for a in h.actions if a.action is Action.BOUNCES]
    assert "do not tell which" in bounce.condition
    assert "Exchange" not in bounce.summary
