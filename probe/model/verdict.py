"""What `decide` concludes: per hop, the actions it takes, each with condition and evidence.

No evidence, no verdict: every `HopAction` carries the transcript lines, header lines, timings
or bounce fields it rests on, and a confidence, so a mail admin can check it.
"""

from __future__ import annotations

import dataclasses
import enum

from probe.model.json import TextForm
from probe.model.status import Status


class Action(enum.StrEnum):
    REJECTS = "rejects"  # refuses in the SMTP dialogue
    BOUNCES = "bounces"  # accepts, then returns a DSN
    DROPS = "drops"  # accepts, then neither delivers nor bounces
    JUNKS = "junks"  # delivers into a junk/spam folder
    SCANS = "scans"  # inspects content (timing, AV verdicts, scanner headers)
    REWRITES = "rewrites"  # changes subject, body, attachments, addresses
    INJECTS = "injects"  # adds headers
    STRIPS_TLS = "strips-tls"  # hides or breaks STARTTLS
    NO_TLS = "no-tls"  # offers no STARTTLS: mail crosses this link in plaintext
    LOSES_TLS = "loses-tls"  # relays in plaintext what reached it over TLS
    MASKS = "masks"  # masks the banner or the capability list
    GREYLISTS = "greylists"  # defers first attempts
    DELAYS = "delays"  # holds mail noticeably
    RELAYS_INLINE = "relays-inline"  # answers the final dot only once the next hop has the mail


class CheckLevel(enum.StrEnum):
    """How a profile rates a check: the status its findings give a run."""

    CRITICAL = "critical"
    WARNING = "warning"
    IGNORE = "ignore"


# The checks a profile can rate (`[checks]` code -> level) and their default levels: the one
# place the defaults live; a profile's `[checks]` only overrides them. Every HopAction names one;
# an action's own check is ACTION_CHECK[action] unless a rule names a finer one (a size rejection
# below or above the advertised SIZE, a stripped attachment).
CHECK_DEFAULTS: dict[str, CheckLevel] = {
    "rejects": CheckLevel.CRITICAL,  # a hop rejects a variant that should be delivered
    "bounces": CheckLevel.CRITICAL,  # accepted, then returned in a DSN
    "drops": CheckLevel.CRITICAL,  # accepted, then neither delivered nor bounced
    "starttls-stripped": CheckLevel.CRITICAL,  # STARTTLS removed or masked by a middlebox
    "size-below-advertised": CheckLevel.CRITICAL,  # rejected below the SIZE hop 1 advertises
    "strips-attachment": CheckLevel.CRITICAL,  # an attachment removed or replaced on the way
    "junk": CheckLevel.WARNING,  # delivered into a junk/spam folder
    "rewrites": CheckLevel.WARNING,  # headers or body changed on the way
    "loses-tls": CheckLevel.WARNING,  # relayed in plaintext what arrived over TLS
    "starttls-missing": CheckLevel.WARNING,  # no STARTTLS offered
    "banner-masked": CheckLevel.WARNING,
    "delays": CheckLevel.WARNING,  # a hop holds mail unusually long
    "scans": CheckLevel.IGNORE,  # content scanning (timing, scanner headers)
    "injects": CheckLevel.IGNORE,  # headers added on the way
    "greylists": CheckLevel.IGNORE,
    "relays-inline": CheckLevel.IGNORE,  # its final reply waits for the next hop's
    "size-above-advertised": CheckLevel.IGNORE,  # rejected above its advertised SIZE: its word
    "loop-protection": CheckLevel.IGNORE,  # refuses a message with many Received headers: its job
}


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    def at_most(self, cap: Confidence) -> Confidence:
        """This confidence, lowered to `cap` if it is above it."""
        order = (Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH)
        return order[min(order.index(self), order.index(cap))]


# The most an action can be trusted whose evidence cannot decide between its hop and others:
# "hop 2 most likely, or hop 1" never accuses one hop with high confidence.
AMBIGUOUS_CONFIDENCE = Confidence.MEDIUM


ACTION_CHECK: dict[Action, str] = {
    Action.REJECTS: "rejects",
    Action.BOUNCES: "bounces",
    Action.DROPS: "drops",
    Action.JUNKS: "junk",
    Action.SCANS: "scans",
    Action.REWRITES: "rewrites",
    Action.INJECTS: "injects",
    Action.STRIPS_TLS: "starttls-stripped",
    Action.NO_TLS: "starttls-missing",
    Action.LOSES_TLS: "loses-tls",
    Action.MASKS: "banner-masked",
    Action.GREYLISTS: "greylists",
    Action.DELAYS: "delays",
    Action.RELAYS_INLINE: "relays-inline",
}


class HopKind(enum.StrEnum):
    AT = "at"  # a visible hop: the MTA a Received header names
    FRONT = "front"  # a box in front of `host`, which the trace does not show
    AFTER = "after"  # somewhere after `host` (a drop or a bounce that names no MTA)
    LINK = "link"  # a box between `host` and `to`


@dataclasses.dataclass(frozen=True)
class HopKey(TextForm):
    """Which hop a verdict is about. Its text (the JSON form, stable across runs) is the host for
    a visible hop, else `front:<host>`, `after:<host>` or `link:<host>-><to>`."""

    kind: HopKind
    host: str
    to: str = ""  # LINK only: the visible hop after the box

    @classmethod
    def at(cls, host: str) -> HopKey:
        return cls(HopKind.AT, host)

    @classmethod
    def front(cls, host: str) -> HopKey:
        return cls(HopKind.FRONT, host)

    @classmethod
    def after(cls, host: str) -> HopKey:
        return cls(HopKind.AFTER, host)

    @classmethod
    def link(cls, host: str, to: str) -> HopKey:
        return cls(HopKind.LINK, host, to)

    @property
    def visible(self) -> bool:
        return self.kind is HopKind.AT

    def described(self, path: tuple[str, ...]) -> str:
        """The label with the hop's number in `path` (visible hops, origin first), as the
        headline names a hop it is unsure of: "hop 2 (scan.example)"."""
        if self.kind is HopKind.AT and self.host in path:
            return f"hop {path.index(self.host) + 1} ({self.host})"
        return self.label

    @property
    def label(self) -> str:
        """What a human reads: the host, or where the invisible box sits."""
        if self.kind is HopKind.FRONT:
            return f"a box in front of {self.host}"
        if self.kind is HopKind.LINK:
            return f"a box between {self.host} and {self.to}"
        if self.kind is HopKind.AFTER:
            return f"a hop after {self.host}"
        return self.host

    def __str__(self) -> str:
        if self.kind is HopKind.AT:
            return self.host
        if self.kind is HopKind.LINK:
            return f"link:{self.host}->{self.to}"
        return f"{self.kind}:{self.host}"

    @classmethod
    def from_text(cls, text: str) -> HopKey:
        kind, sep, rest = text.partition(":")
        if sep and rest:
            if kind == HopKind.FRONT:
                return cls.front(rest)
            if kind == HopKind.AFTER:
                return cls.after(rest)
            if kind == HopKind.LINK:
                host, _, to = rest.partition("->")
                return cls.link(host, to)
        return cls.at(text)


@dataclasses.dataclass(frozen=True)
class Evidence:
    source: str  # transcript | header | timing | bounce | diff | delivery | fingerprint
    text: str  # the line or figure as observed
    variant: str = ""  # which variant showed it ("" for the whole run)


@dataclasses.dataclass(frozen=True)
class ReplyMeaning:
    """What the reply behind a rejection or a bounce means, from the codes knowledge
    (`probe.analyze.codes.explain`): so a verdict says why, and what to do, not only the code."""

    reply: str  # as seen: "451 Message ended early", "5.1.1"
    temporary: bool  # 4xx / 4.x.x: retried later; else permanent
    meaning: str
    cause: str = ""
    remedy: str = ""
    vendors: tuple[str, ...] = ()  # products the reply text points to ("Cisco PIX/ASA")
    sources: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class HopAction:
    action: Action
    summary: str  # one sentence a mail admin can act on
    condition: str = ""  # "messages of 1,048,577 bytes and more", "always", ...
    evidence: tuple[Evidence, ...] = ()
    confidence: Confidence = Confidence.MEDIUM
    severity: Status = Status.WARNING
    rule: str = ""  # the rule that concluded it (stable id)
    check: str = ""  # the profile check that sets its severity ("": ACTION_CHECK[action])
    variants: tuple[str, ...] = ()  # variants affected
    reply: ReplyMeaning | None = None  # a rejection's or bounce's reply, explained
    # When the evidence cannot decide between this hop (the likeliest) and others: the others,
    # likeliest first, and why they cannot be ruled out. Such an action is at most
    # AMBIGUOUS_CONFIDENCE, and the headline names every candidate.
    alternatives: tuple[HopKey, ...] = ()
    ambiguity: str = ""


@dataclasses.dataclass(frozen=True)
class HopVerdict:
    """One hop of the path. `visible` is False for a box inferred from evidence alone."""

    key: HopKey
    name: str  # what a human reads: "a box in front of mx.example.com"
    visible: bool
    products: tuple[str, ...] = ()
    product_evidence: tuple[Evidence, ...] = ()
    actions: tuple[HopAction, ...] = ()
    # A note on where this hop's findings could also lie (an action with alternatives carries
    # its own reason in `HopAction.ambiguity`).
    ambiguous: str = ""


@dataclasses.dataclass(frozen=True)
class Decision:
    hops: tuple[HopVerdict, ...]  # in path order, origin first
    clean: bool  # no hop interferes
    tested: tuple[str, ...]  # what the run tested, for the "clean" statement
    headline: tuple[str, ...]  # one sentence per interfering hop (or the clean statement)
    status: Status
    notes: tuple[str, ...] = ()  # what could not be decided, and why
    path: tuple[str, ...] = ()  # the visible hops the verdicts number (`HopKey.described`)
