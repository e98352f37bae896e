"""One signature against one hop's observations: the clues it finds (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from probe.analyze.fingerprint.types import (
    Clue,
    Kind,
    Observations,
    ReplyStage,
    Signature,
    reply_stage,
)


def capability_lines(lines: Iterable[str]) -> list[str]:
    """EHLO lines compared as data and signature: blanks dropped, spaces collapsed, upper case."""
    return [" ".join(line.split()).upper() for line in lines if line.strip()]


def observed_kinds(seen: Observations) -> frozenset[Kind]:
    """The kinds of signature that can match anything in `seen` (the others are skipped)."""
    kinds = set()
    if seen.banner:
        kinds |= {Kind.BANNER, Kind.ID_FORMAT}
    if seen.ehlo:
        kinds |= {Kind.EHLO_KEYWORD, Kind.EHLO_EXACT, Kind.EHLO_ORDER}
    if seen.replies:
        kinds |= {Kind.REPLY, Kind.ID_FORMAT}
    if seen.headers:
        kinds |= {Kind.HEADER, Kind.ID_FORMAT}
    if seen.received:
        kinds.add(Kind.RECEIVED)
    return frozenset(kinds)


def clues(sig: Signature, seen: Observations) -> Iterator[Clue]:
    """Every observation `sig` matches, each as a clue quoting it."""
    if sig.kind is Kind.BANNER:
        assert sig.pattern is not None
        yield from (_clue(sig, line) for line in seen.banner if sig.pattern.search(line))
    elif sig.kind is Kind.EHLO_KEYWORD:
        assert sig.pattern is not None
        yield from (_clue(sig, cap) for cap in seen.ehlo if sig.pattern.search(cap.strip()))
    elif sig.kind is Kind.EHLO_EXACT:
        if seen.ehlo and tuple(capability_lines(seen.ehlo)) == sig.exact:
            yield _clue(sig, ", ".join(seen.ehlo))
    elif sig.kind is Kind.EHLO_ORDER:
        if _in_order(sig, seen.ehlo):
            yield _clue(sig, ", ".join(seen.ehlo))
    elif sig.kind is Kind.REPLY:
        assert sig.pattern is not None
        for stage, code, text in seen.replies:
            if sig.code is not None and code != sig.code:
                continue
            if not stage_fits(sig.stage, stage):
                continue
            if sig.pattern.search(text):
                yield _clue(sig, _reply_line(code, text))
    elif sig.kind is Kind.HEADER:
        assert sig.name is not None
        for name, value in seen.headers:
            if sig.name.fullmatch(name.strip()) is None:
                continue
            if sig.value is None or sig.value.search(value):
                yield _clue(sig, f"{name}: {value}")
    elif sig.kind is Kind.RECEIVED:
        assert sig.pattern is not None
        yield from (_clue(sig, f"Received: {v}") for v in seen.received if sig.pattern.search(v))
    else:  # id-format: in reply texts, header values and banner lines
        assert sig.pattern is not None
        texts = [_reply_line(code, text) for _, code, text in seen.replies]
        texts += [f"{name}: {value}" for name, value in seen.headers]
        texts += list(seen.banner)
        yield from (_clue(sig, t) for t in texts if sig.pattern.search(t))


def stage_fits(wanted: ReplyStage | None, stage: str) -> bool:
    """Whether a reply given at `stage` can be one a signature for `wanted` describes."""
    seen = reply_stage(stage)
    return wanted is None or ReplyStage.ANY in (wanted, seen) or wanted is seen


def _reply_line(code: int | None, text: str) -> str:
    return f"{code} {text}" if code is not None else text


def _clue(sig: Signature, observed: str) -> Clue:
    return Clue(sig.kind, observed, sig.id, sig.source, sig.specificity)


def _in_order(sig: Signature, ehlo: Sequence[str]) -> bool:
    names = [cap.split()[0].upper() for cap in ehlo if cap.strip()]
    if not names or (sig.first is not None and names[0] != sig.first):
        return False
    rank = {keyword: i for i, keyword in enumerate(sig.order)}
    known = [rank[n] for n in names if n in rank]
    return len(set(known)) >= sig.min_match and known == sorted(known)
