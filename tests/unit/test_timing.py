"""The timing statistics and verdicts on recorded timings (pure).

The recorded figures are probe's own measurements of the embedded lab (probe 0.x, Python 3.11,
aiosmtpd hops on loopback) while `stress-ng --cpu 2` loaded the two-core machine: variant, bytes,
upload ms (to the last byte acknowledged), wait after the held dot ms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from probe.analyze.timing import TimingPoint, fit, theil_sen
from probe.decide.context import build_context
from probe.decide.rules.timing import rule_scan_timing, scans
from probe.model.run import RunResult
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome, Reply, Stage, Step
from probe.model.variant import VariantSpec
from probe.model.verdict import Action

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
RUN = "20261203T120000-abcdef"

Recorded = list[tuple[str, int, float, float]]

# scenario slowscan (50 ms + 1 s per MB after the dot), under stress-ng --cpu 2
SLOW_SCANNER: Recorded = [
    ("control", 582, 53.8, 113.2), ("control-t2", 620, 54.0, 61.3),
    ("control-t3", 620, 55.6, 69.9), ("size-400k", 400000, 55.4, 540.0),
    ("size-400k-t2", 400000, 58.6, 473.3), ("size-400k-t3", 400000, 46.1, 556.4),
    ("size-1m", 1000000, 106.2, 1180.4), ("size-1m-t2", 1000000, 47.0, 1192.0),
    ("size-1m-t3", 1000000, 190.0, 1392.0),
]  # fmt: skip
# scenario clean (a Postfix-like hop writing a Maildir), same load: noisy, no scanner
CLEAN_LOADED: Recorded = [
    ("control", 579, 43.4, 1.5), ("control-t2", 617, 46.5, 4.2), ("control-t3", 617, 64.1, 19.2),
    ("size-400k", 400000, 63.6, 96.0), ("size-400k-t2", 400000, 184.1, 15.7),
    ("size-400k-t3", 400000, 106.3, 378.1), ("size-1m", 1000000, 91.9, 311.7),
    ("size-1m-t2", 1000000, 183.1, 56.8), ("size-1m-t3", 1000000, 75.5, 456.7),
]  # fmt: skip
# scenario asa (a TCP proxy in front of that hop), same load
ASA_LOADED: Recorded = [
    ("control", 577, 47.7, 114.7), ("control-t2", 615, 47.2, 115.2),
    ("control-t3", 615, 97.6, 239.7), ("size-400k", 400000, 76.9, 400.7),
    ("size-400k-t2", 400000, 287.4, 396.5), ("size-400k-t3", 400000, 95.9, 907.9),
    ("size-1m", 1000000, 458.9, 957.2), ("size-1m-t2", 1000000, 188.0, 308.1),
    ("size-1m-t3", 1000000, 135.9, 305.1),
]  # fmt: skip
# probe demo's asa path (control, 1 MB, 2.5 MB) on a machine busy with other test suites
ASA_DEMO_BUSY: Recorded = [
    ("control", 577, 0.1, 241.4), ("control-t2", 615, 0.1, 230.9), ("control-t3", 615, 0.1, 760.2),
    ("size-1m", 1000000, 1.4, 1107.6), ("size-1m-t2", 1000000, 1.7, 547.6),
    ("size-1m-t3", 1000000, 1.8, 792.2), ("size-2500k", 2500000, 32.8, 2724.1),
    ("size-2500k-t2", 2500000, 42.8, 159.2), ("size-2500k-t3", 2500000, 4.4, 83.4),
]  # fmt: skip


def points(recorded: Recorded) -> list[TimingPoint]:
    return [
        TimingPoint(v.rsplit("-t", 1)[0], v, size, upload, wait)
        for v, size, upload, wait in recorded
    ]


def test_theil_sen_is_the_median_slope_and_one_outlier_cannot_move_it() -> None:
    xs = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    ys = [10.0, 11.0, 9.0, 1010.0, 1011.0, 1009.0, 2010.0, 2011.0, 2009.0]
    line = theil_sen(xs, ys)
    assert line.per_mb == pytest.approx(1000.0, abs=2)
    assert line.low <= line.per_mb <= line.high and line.low > 990
    ys[8] = 50_000.0  # one wild repeat
    assert theil_sen(xs, ys).per_mb == pytest.approx(1000.0, abs=2)
    assert theil_sen([1.0, 1.0], [3.0, 9.0]).per_mb == 0.0  # no two sizes: no slope


def test_fit_gives_per_size_medians_the_noise_of_the_repeats_and_the_growth() -> None:
    stats = fit(points(SLOW_SCANNER))
    assert stats is not None
    assert [(g.group, g.count) for g in stats.groups] == [
        ("control", 3), ("size-400k", 3), ("size-1m", 3)
    ]  # fmt: skip
    assert stats.groups[-1].median_ms == 1192.0 and stats.baseline_ms == 69.9
    assert stats.noise_ms == pytest.approx(1392.0 - 1180.4)
    assert stats.growth_ms == pytest.approx(1192.0 - 69.9)
    assert stats.upload.per_mb < 100 < stats.wait.low


def test_a_real_scanner_is_accused_under_load() -> None:
    stats = fit(points(SLOW_SCANNER))
    assert stats is not None and scans(stats)


@pytest.mark.parametrize("recorded", [CLEAN_LOADED, ASA_LOADED, ASA_DEMO_BUSY])
def test_noisy_paths_without_a_scanner_are_not_accused(recorded: Recorded) -> None:
    stats = fit(points(recorded))
    assert stats is not None and not scans(stats)


def test_a_steady_slope_the_upload_explains_is_no_scan() -> None:
    """A hop whose wait grows only as fast as the path carries the bytes is not inspecting."""
    recorded = [(v, s, w * 1.5, w) for v, s, _, w in SLOW_SCANNER]
    stats = fit(points(recorded))
    assert stats is not None and not scans(stats)


# --------------------------------------------------------------------------- the rule


def timed_run(recorded: Recorded, *, held: bool = True) -> RunResult:
    sends, specs = [], []
    for variant, size, upload, wait in recorded:
        base = variant.rsplit("-t", 1)[0]
        specs.append(VariantSpec(variant, variant, repeat_of=None if base == variant else base))
        conv = Conversation(
            host="mx.example.com",
            address="192.0.2.25",
            port=25,
            helo="probe.test",
            started_at=T0,
            duration_ms=upload + wait + 50,
            outcome=Outcome.ACCEPTED,
            stage=Stage.QUIT,
            banner=Reply(220, ("mx.example.com ESMTP Postfix",)),
            final_reply=Reply(250, ("2.0.0 Ok: queued as 4QmLXr0nKpz9rFx",)),
            steps=(Step(Stage.DATA_END, T0, wait, Outcome.OK),),
            upload_ms=upload,
            final_reply_ms=wait,
            held_ms=300.0 if held else None,
            acked_ms=1.0 if held else None,
            queue_id="4QmLXr0nKpz9rFx",
        )
        sends.append(
            VariantSend(
                variant,
                f"{RUN}.{variant}",
                variant,
                Outcome.ACCEPTED,
                Stage.QUIT,
                size=size,
                attempts=(conv,),
            )  # fmt: skip
        )
    return RunResult(
        run_id=RUN,
        domain="example.com",
        to="user@example.com",
        mail_from="probe@sender.test",
        profile="test",
        started_at=T0,
        specs=tuple(specs),
        variants=tuple(sends),
    )


def test_the_rule_names_the_scanner_with_its_statistic_in_the_evidence() -> None:
    found = rule_scan_timing(build_context(timed_run(SLOW_SCANNER)))
    assert len(found) == 1 and found[0].action is not None
    action = found[0].action
    assert action.action is Action.SCANS and str(found[0].hop) == "mx.example.com"
    assert "95 % interval" in action.summary
    texts = [e.text for e in action.evidence]
    assert any(t.startswith("size-1m (1,000,000 bytes) x3: final reply 1,192 ms") for t in texts)
    assert any("Theil-Sen slope" in t and "upload" in t for t in texts)


def test_one_measurement_per_size_or_no_held_dot_accuses_nobody() -> None:
    once = [r for r in SLOW_SCANNER if "-t" not in r[0]]
    assert rule_scan_timing(build_context(timed_run(once))) == []
    assert rule_scan_timing(build_context(timed_run(SLOW_SCANNER, held=False))) == []


def test_a_stored_run_without_the_new_fields_still_decides() -> None:
    run = timed_run(SLOW_SCANNER)
    old = dataclasses.replace(
        run,
        variants=tuple(
            dataclasses.replace(
                s, attempts=tuple(dataclasses.replace(c, held_ms=None) for c in s.attempts)
            )
            for s in run.variants
        ),
    )
    assert rule_scan_timing(build_context(old)) == []


# --------------------------------------------------------------------------- the profile


def profile_with(timing: str) -> str:
    return (
        'name = "t"\ndescription = "t"\n[[variant]]\nid = "control"\n'
        '[[variant]]\nid = "size-2m"\nsize = "2MB"\n' + timing
    )


def test_timing_repeats_the_named_variants_and_holds_their_dot_by_size() -> None:
    from probe.plan.profiles import parse_profile

    text = profile_with(
        '[timing]\nvariants = ["control", "size-2m"]\nrepeat = 3\nhold = "0.25s"\n'
        'hold_per_mb = "0.5s"\n'
    )
    profile = parse_profile(text, source="<t>")
    assert [(s.id, s.hold, s.repeat_of) for s in profile.variants] == [
        ("control", 0.25, None), ("size-2m", 1.25, None),  # the repeats interleave by round
        ("control-t2", 0.25, "control"), ("size-2m-t2", 1.25, "size-2m"),
        ("control-t3", 0.25, "control"), ("size-2m-t3", 1.25, "size-2m"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("timing", "error"),
    [
        ('variants = ["size-9m"]', "timing.variants[0]: no variant 'size-9m' to time"),
        ("repeat = 9", "timing.repeat: 9 is out of range (1 .. 5)"),
        ('hold = "1m"', "timing.hold: 60 s is over 10 s"),
        ("every = 2", "timing.every: unknown key"),
    ],
)
def test_a_bad_timing_table_is_one_error_naming_its_key(timing: str, error: str) -> None:
    from probe.errors import ConfigError
    from probe.plan.profiles import parse_profile

    with pytest.raises(ConfigError) as caught:
        parse_profile(profile_with(f"[timing]\n{timing}\n"), source="<t>")
    assert error in str(caught.value)


# --------------------------------------------------------------------------- whose timing


POSTFIX_RECEIVED = (
    "Received: from probe.test (probe.test [192.0.2.9])\r\n"
    "\tby mx.example.com (Postfix) with ESMTP id 4QmLXr0nKpz9rFx\r\n"
    "\tfor <user@example.com>; Thu, 03 Dec 2026 12:00:00 +0000 (UTC)\r\n"
)
RELAY_RECEIVED = (
    "Received: from probe.test (probe.test [192.0.2.9])\r\n"
    "\tby relay.example.com (Postfix) with ESMTP id 4QmLXq6Zyzz9rFw\r\n"
    "\tfor <user@example.com>; Thu, 03 Dec 2026 12:00:00 +0000 (UTC)\r\n"
)


def with_copies(
    run: RunResult, received: str, *, queue_id: str, mail: str = "2.1.0 Ok", banner: str = ""
) -> RunResult:
    """Each variant delivered with `received` above its headers (Postfix 3.7's format), its final
    reply naming `queue_id`, its MAIL reply `mail`; `banner` replaces hop 1's greeting."""
    from probe.analyze.received.path import trace
    from probe.model.collect import Arrival, ArrivalStatus, CollectResult
    from probe.model.message import DeliveredCopy
    from probe.model.run import VariantAnalysis

    sends, copies, analyses, statuses = [], [], [], []
    for send in run.variants:
        raw = received + f"Subject: {send.probe_id}\r\nX-Probe-Id: {send.probe_id}\r\n\r\nx\r\n"
        conv = dataclasses.replace(
            send.attempts[0],
            queue_id=queue_id,
            final_reply=Reply(250, (f"2.0.0 Ok: queued as {queue_id}",)),
            mail_reply=Reply(250, (mail,)),
            banner=Reply(220, (banner,)) if banner else send.attempts[0].banner,
        )
        sends.append(dataclasses.replace(send, attempts=(conv,)))
        copies.append(DeliveredCopy(send.probe_id, raw.encode(), "INBOX", found_at=T0))
        analyses.append(VariantAnalysis(send.probe_id, send.variant, trace(raw.encode())))
        statuses.append(ArrivalStatus(send.probe_id, send.variant, Arrival.DELIVERED))
    collect = CollectResult(
        "maildir:/x", "maildir:/x", T0, 1.0, False, tuple(statuses), tuple(copies)
    )
    return dataclasses.replace(
        run, variants=tuple(sends), collect=collect, analyses=tuple(analyses)
    )


def test_the_timing_goes_to_the_mta_whose_final_reply_it_is() -> None:
    run = with_copies(timed_run(SLOW_SCANNER), POSTFIX_RECEIVED, queue_id="4QmLXr0nKpz9rFx")
    found = rule_scan_timing(build_context(run))
    assert [(str(p.hop), p.action.action) for p in found if p.action] == [
        ("mx.example.com", Action.SCANS)
    ]


def test_a_box_in_front_answering_with_its_own_queue_id_gets_the_timing() -> None:
    """It passes the MTA's banner; its final reply names an id no Received carries."""
    run = with_copies(timed_run(SLOW_SCANNER), POSTFIX_RECEIVED, queue_id="A1B2C3D4E5")
    found = rule_scan_timing(build_context(run))
    assert [(str(p.hop), p.action.action) for p in found if p.action] == [
        ("front:mx.example.com", Action.SCANS)
    ]
    assert found[0].action is not None
    assert "which no Received carries" in found[0].action.evidence[0].text


def test_a_relay_whose_final_reply_is_the_next_hops_relays_inline_and_scans_nothing() -> None:
    """relay.example.com answers with mx.example.com's queue id: it relayed first."""
    run = with_copies(
        timed_run(SLOW_SCANNER), POSTFIX_RECEIVED + RELAY_RECEIVED, queue_id="4QmLXr0nKpz9rFx"
    )
    found = rule_scan_timing(build_context(run))
    assert [(str(p.hop), p.action.action) for p in found if p.action] == [
        ("relay.example.com", Action.RELAYS_INLINE)
    ]
    assert found[0].action is not None
    assert "had the message before hop 1 answered" in found[0].action.evidence[0].text


def test_a_tcp_proxy_passing_the_mtas_replies_is_no_inline_relay() -> None:
    """An ASA-style masked banner in front; MAIL and the final reply are Postfix's own."""
    run = with_copies(
        timed_run(CLEAN_LOADED),
        POSTFIX_RECEIVED,
        queue_id="4QmLXr0nKpz9rFx",
        banner="**************************************************************",
    )
    assert rule_scan_timing(build_context(run)) == []


def test_behind_a_tcp_proxy_the_timing_is_the_mtas() -> None:
    run = with_copies(
        timed_run(SLOW_SCANNER),
        POSTFIX_RECEIVED,
        queue_id="4QmLXr0nKpz9rFx",
        banner="**************************************************************",
    )
    found = rule_scan_timing(build_context(run))
    assert [(str(p.hop), p.action.action) for p in found if p.action] == [
        ("mx.example.com", Action.SCANS)
    ]
    assert found[0].action is not None
    assert "the box in front passes its replies" in found[0].action.evidence[0].text
