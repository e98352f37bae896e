"""The scenario tier of issue 10: paths built around a real Postfix (Debian 12's 3.7), each
asserting the right hop and action AND that no other hop is accused.

Run alone with `pytest -n 0 tests/mta/test_mta_paths.py` (as root, with postfix, dovecot-imapd,
dovecot-lmtpd and postgrey installed: .ci/run does it). One Postfix serves every path of the
module (tests/mta/paths.py); the project's own boxes stand in front of it (tests/mta/boxes.py).
"""

from __future__ import annotations

import pytest

from probe.model.verdict import Action
from tests.mta import boxes, paths, scanner, servers, verdicts
from tests.mta.probe_runs import profile, run_probe

pytestmark = pytest.mark.mta

MX = servers.MX_NAME
FRONT = f"front:{MX}"


@pytest.fixture
def postfix(postfix_paths: paths.Paths) -> paths.Paths:
    return postfix_paths


CHECKPOINT_LIMIT = 150_000
CHECKPOINT_PROFILE = profile(
    "checkpoint",
    """
[[variant]]
id = "size-50k"
description = "50 kB, below the box's limit"
size = "50kB"

[[variant]]
id = "size-300k"
description = "300 kB, over the box's limit"
size = "300kB"
""",
)


QUICK = (paths.REPOSITORY / "profiles" / "quick.toml").read_text()  # the shipped profile


@pytest.mark.parametrize(
    ("threshold", "profile_text", "refused"),
    [
        (CHECKPOINT_LIMIT, CHECKPOINT_PROFILE, "size-300k"),
        (1_048_577, QUICK, "size-1100k"),  # the seed's limit, probe's quick profile
    ],
    ids=["small-limit", "seed-limit-quick-profile"],
)
def test_checkpoint_in_front_of_postfix_is_blamed_not_postfix(
    postfix: paths.Paths,
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
    profile_text: str,
    refused: str,
) -> None:
    """The seed case: the lab's Check Point proxy passes Postfix's banner, answers EHLO..DATA
    itself, refuses from its limit on with `554 Permanent scan failure. Email Session ID:
    {...}` and adds X-CheckPoint. Run twice: the same verdict both times."""
    summaries = []
    with boxes.box_in_front(
        "checkpoint", postfix.plain, pass_banner=True, threshold=threshold
    ) as entry:
        for _ in range(2):
            result = run_probe(postfix.dovecot, entry, profile_text, monkeypatch)
            assert result.hop1 is not None and result.hop1.greeting is not None
            assert "ESMTP Postfix (probe mta test)" in result.hop1.greeting.text  # passed on
            decision = verdicts.decision_of(result)
            rejection = verdicts.blamed(decision, FRONT, Action.REJECTS)
            assert rejection.variants == (refused,), verdicts.describe(decision)
            assert any("Permanent scan failure" in e.text for e in rejection.evidence)
            verdicts.blamed(decision, FRONT, Action.INJECTS)
            verdicts.nobody_else(decision, FRONT)
            verdicts.headline_spares(decision, MX)
            summaries.append(verdicts.describe(decision))
    assert summaries[0] == summaries[1]


SLOW_VARIANTS = """
[[variant]]
id = "size-500k"
description = "500 kB"
size = "500kB"

[[variant]]
id = "size-1m"
description = "1 MB"
size = "1MB"
"""
SLOW_PROFILE = profile("slow", SLOW_VARIANTS)
# the same sizes timed as standard times them: three sizes, each three times, the dot held
TIMED_PROFILE = profile(
    "timed",
    """
[timing]
variants = ["control", "size-500k", "size-1m"]
repeat = 3
hold = "0.25s"
hold_per_mb = "0.5s"
"""
    + SLOW_VARIANTS,
)


def test_delaying_box_in_front_of_postfix_not_postfix_scanning(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lab's slow scanner inline (no Received, the final reply held 2 s per MB and passed
    on from Postfix) with Postfix's banner: the delay is the box's, or said to be one of the
    two, never Postfix's alone."""
    with boxes.box_in_front(
        "slow-scan", postfix.plain, inline=True, pass_banner=True, tls=True, per_mb=2.0
    ) as entry:
        result = run_probe(postfix.dovecot, entry, TIMED_PROFILE, monkeypatch)
    decision = verdicts.decision_of(result)
    named = verdicts.candidates(decision, Action.SCANS) | verdicts.candidates(
        decision, Action.DELAYS
    )
    assert FRONT in named, verdicts.describe(decision)
    verdicts.not_accused_of(decision, MX, Action.SCANS)
    verdicts.nobody_else(decision, FRONT)
    verdicts.headline_spares(decision, MX)


CONTROL_ONLY = profile("control", "")


def test_asa_in_front_of_postfix_masks_and_strips_starttls(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lab's ASA (a TCP proxy masking the banner and STARTTLS) in front of a Postfix that
    offers STARTTLS: the box masks and strips, Postfix is accused of nothing."""
    with boxes.box_in_front("asa", postfix.plain) as entry:
        result = run_probe(postfix.dovecot, entry, CONTROL_ONLY, monkeypatch)
    decision = verdicts.decision_of(result)
    verdicts.blamed(decision, FRONT, Action.STRIPS_TLS)
    verdicts.blamed(decision, FRONT, Action.MASKS)
    verdicts.nobody_else(decision, FRONT)
    verdicts.headline_spares(decision, MX)


def test_stripped_starttls_and_postfix_requiring_tls_are_one_chain(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ASA in front of `smtpd_tls_security_level = encrypt`: every MAIL gets `530 5.7.0
    Must issue a STARTTLS command first`. The box strips; the MTA behind refuses as the
    consequence, for every message, not for 'messages of N bytes and more'."""
    with boxes.box_in_front("asa", postfix.tls_encrypt) as entry:
        result = run_probe(postfix.dovecot, entry, SLOW_PROFILE, monkeypatch)
    decision = verdicts.decision_of(result)
    shown = verdicts.describe(decision)
    strippers = [k for k in verdicts.accused(decision) if k.startswith("front:")]
    assert strippers and all(verdicts.actions(decision, k, Action.STRIPS_TLS) for k in strippers), (
        shown
    )
    refusals = [
        (str(h.key), a)
        for h in decision.hops
        for a in h.actions
        if a.action is Action.REJECTS and any("530" in e.text for e in a.evidence)
    ]
    assert refusals, shown
    for key, refusal in refusals:
        assert not key.startswith("front:"), shown  # the box writes no 530
        assert "bytes" not in refusal.condition and "STARTTLS" in refusal.summary, shown
        assert set(refusal.variants) == {"control", "size-500k", "size-1m"}, shown
    verdicts.nobody_else(decision, *strippers, *(k for k, _ in refusals))


def test_postfix_requiring_tls_reached_directly_accuses_no_one(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same `encrypt` listener without the box: probe starts TLS, every variant passes,
    and nobody is accused of anything (the 530 case above is the box's doing)."""
    entry = ("127.0.0.1", postfix.tls_encrypt)
    decision = verdicts.decision_of(run_probe(postfix.dovecot, entry, CONTROL_ONLY, monkeypatch))
    verdicts.nobody_else(decision)
    assert decision.clean, verdicts.describe(decision)


FILTER_PROFILE = profile(
    "filter",
    """
[[variant]]
id = "attach-exe"
description = "setup.exe attachment (MZ header)"
attachments = ["exe"]

[[variant]]
id = "attach-text"
description = "text/plain attachment"
attachments = ["text"]
""",
)


def test_after_queue_content_filter_is_blamed_not_the_mx(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """content_filter to the scanner of tests/mta/scanner.py, re-injected on another port: the
    trace is mx, scan, mx (again), Dovecot; the scan, the header and the .exe are hop 2's."""
    result = run_probe(postfix.dovecot, ("127.0.0.1", postfix.scan), FILTER_PROFILE, monkeypatch)
    decision = verdicts.decision_of(result)
    trace = result.analyses[0].trace
    assert trace is not None
    assert [h.by_host for h in trace.hops][-4:] == [MX, scanner.NAME, MX, servers.IMAP_NAME]
    replaced = verdicts.blamed(decision, scanner.NAME, Action.REWRITES)
    assert replaced.variants == ("attach-exe",), verdicts.describe(decision)
    verdicts.blamed(decision, scanner.NAME, Action.SCANS)
    verdicts.blamed(decision, scanner.NAME, Action.INJECTS)
    verdicts.nobody_else(decision, scanner.NAME)
    verdicts.headline_spares(decision, MX)


@pytest.mark.parametrize("path", ["scan_above", "scan_anonymous"])
def test_content_filter_headers_elsewhere_never_accuse_the_mx(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The same scanner with its header directly ABOVE its Received (naming its host), or
    below it without its host: the scan, the header and the replaced .exe are the scanner's,
    or the verdict names it among the candidates; the MX is never accused alone."""
    entry = ("127.0.0.1", getattr(postfix, path))
    decision = verdicts.decision_of(run_probe(postfix.dovecot, entry, FILTER_PROFILE, monkeypatch))
    shown = verdicts.describe(decision)
    for action in (Action.REWRITES, Action.SCANS, Action.INJECTS):
        assert scanner.NAME in verdicts.candidates(decision, action), shown
        verdicts.not_accused_of(decision, MX, action)
    verdicts.nobody_else(decision, scanner.NAME)
    verdicts.headline_spares(decision, MX)


def test_scanner_header_without_host_goes_with_the_product_in_its_received(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`X-Virus-Scanned: probe-test-scanner 1.0` right below `by scan.mta.probe.test
    (probe-test-scanner 1.0)`: the scanner is the likeliest author of the header and of the
    replaced .exe, whatever alternatives the verdict names."""
    entry = ("127.0.0.1", postfix.scan_anonymous)
    decision = verdicts.decision_of(run_probe(postfix.dovecot, entry, FILTER_PROFILE, monkeypatch))
    for action in (Action.REWRITES, Action.INJECTS):
        verdicts.blamed(decision, scanner.NAME, action)


def test_milter_at_hop_2_is_named_or_the_ambiguity_stated(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge Postfix relays to filter.mta.probe.test, whose footer milter (purepythonmilter)
    appends a footer and adds headers at the end of the header block: the footer and the
    headers are the milter hop's, or said to be one of the two, never the edge's alone."""
    result = run_probe(postfix.dovecot, ("127.0.0.1", postfix.edge), FILTER_PROFILE, monkeypatch)
    decision = verdicts.decision_of(result)
    shown = verdicts.describe(decision)
    for action in (Action.REWRITES, Action.INJECTS):
        assert paths.FILTER_NAME in verdicts.candidates(decision, action), shown
        verdicts.not_accused_of(decision, MX, action)
    verdicts.nobody_else(decision, paths.FILTER_NAME)
    verdicts.headline_spares(decision, MX)


def test_milter_header_naming_its_host_decides_hop_2(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path with the milter's first header naming its host (`X-Footer-Milter:
    purepythonmilter 0.0.1 on filter.mta.probe.test`, at the end of the header block): the
    headers and the footer going with them are hop 2's."""
    entry = ("127.0.0.1", postfix.edge_named)
    decision = verdicts.decision_of(run_probe(postfix.dovecot, entry, FILTER_PROFILE, monkeypatch))
    verdicts.blamed(decision, paths.FILTER_NAME, Action.INJECTS)
    verdicts.blamed(decision, paths.FILTER_NAME, Action.REWRITES)
    for action in (Action.REWRITES, Action.INJECTS):
        verdicts.not_accused_of(decision, MX, action)
    verdicts.nobody_else(decision, paths.FILTER_NAME)
    verdicts.headline_spares(decision, MX)


def test_postgrey_greylisting_is_named_with_its_retry(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """postgrey as Postfix's policy service (a 2 s delay): the first attempt gets postgrey's
    450, probe's retry 5 s later passes; the MX greylists, nobody else is accused."""
    if postfix.greylist is None:
        pytest.skip(postfix.greylist_missing)
    result = run_probe(
        postfix.dovecot,
        ("127.0.0.1", postfix.greylist),
        CONTROL_ONLY,
        monkeypatch,
        retry_for=30.0,
        retry_delays=(5.0, 5.0),
    )
    decision = verdicts.decision_of(result)
    greylisting = verdicts.blamed(decision, MX, Action.GREYLISTS)
    shown = verdicts.describe(decision)
    assert any("Greylisted" in e.text for e in greylisting.evidence), shown
    assert "retry" in greylisting.summary, shown
    verdicts.nobody_else(decision, MX)


HOPS_PROFILE = profile(  # the 30-Received variant is not the biggest: size separates nothing
    "hops",
    f"""
[[variant]]
id = "size-20k"
description = "20 kB, no Received headers: bigger than the refused one"
size = "20kB"

[[variant]]
id = "received-10"
description = "10 Received headers: below the limit"
received_headers = 10

[[variant]]
id = "received-{paths.HOPCOUNT_LIMIT + 5}"
description = "{paths.HOPCOUNT_LIMIT + 5} Received headers: over the limit"
received_headers = {paths.HOPCOUNT_LIMIT + 5}
""",
)


def test_too_many_hops_is_loop_protection(
    postfix: paths.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hopcount_limit = 25: the variant carrying 30 Received headers is refused at end of data
    with `554 5.4.0 Error: too many hops`, a bigger one without them passes; the verdict names
    loop protection and the Received count, not a size."""
    over = f"received-{paths.HOPCOUNT_LIMIT + 5}"
    result = run_probe(postfix.dovecot, ("127.0.0.1", postfix.hopcount), HOPS_PROFILE, monkeypatch)
    decision = verdicts.decision_of(result)
    shown = verdicts.describe(decision)
    refusal = verdicts.blamed(decision, MX, Action.REJECTS)
    assert refusal.variants == (over,), shown
    assert any("too many hops" in e.text for e in refusal.evidence), shown
    assert "loop" in refusal.summary and "Received" in refusal.summary, shown
    assert "bytes" not in refusal.condition, shown
    verdicts.nobody_else(decision, MX)
