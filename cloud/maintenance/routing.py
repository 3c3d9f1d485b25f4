"""Alert routing rules, after Prometheus Alertmanager: fingerprints, grouping, inhibition, silences.

Alerts carry labels (``network``, ``unit``, ``asset``, ``asset_kind``, ``code``, ``severity``,
``customer``…). This module holds the pure decisions; the service layer persists the state.

- A **fingerprint** identifies an alert across repeats: the asset (with its unit, since asset
  ids are only unique within a unit) and the alarm code.
- **Grouping**: alerts of one asset that fire within ``group_window`` of the incident's last alert
  join that incident (and its ticket) instead of opening a new one.
- **Inhibition**: a firing source alert suppresses target alerts that share the ``equal`` labels
  (a unit offline suppresses its machines' alerts; a breakdown suppresses that machine's warnings).
- **Silences**: matchers and a time window; maintenance windows create them automatically.

Regular-expression matchers run on RE2 (``google-re2``), whose matching time is linear in the
text, so no pattern can backtrack for minutes; a pattern is at most ``MAX_PATTERN_LENGTH``
characters and must compile within ``PATTERN_MAX_MEMORY``. A member's silence is confined to its
own unit before any of its patterns runs, and one alert's routing spends at most a
:class:`RuleBudget` of CPU time on silences and inhibition rules.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import re2

Labels = Mapping[str, str]
DEFAULT_GROUP_WINDOW = timedelta(minutes=10)
UNIT_OFFLINE_CODE = "unit_offline"
BREAKDOWN_CODE = "breakdown"
MAX_PATTERN_LENGTH = 256
PATTERN_MAX_MEMORY = 1 << 20
DEFAULT_RULE_BUDGET = timedelta(milliseconds=50)


class RoutingError(ValueError):
    """A matcher, silence or rule that cannot be used."""


class RuleBudgetExceeded(Exception):
    """One alert's silences and inhibition rules took longer than their budget."""


@dataclass
class RuleBudget:
    """The time one alert's routing may spend on silences and inhibition rules; started when
    made, checked before each silence and each firing alert an inhibition rule compares. It is
    the thread's CPU time, so a loaded machine that pre-empts the worker does not spend it."""

    limit: timedelta = DEFAULT_RULE_BUDGET
    clock: Callable[[], float] = time.thread_time
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def check(self) -> None:
        spent, limit = self.clock() - self.started, self.limit.total_seconds()
        if spent > limit:
            raise RuleBudgetExceeded(
                f"routing spent {spent * 1000:.0f} ms, over its {limit * 1000:.0f} ms budget"
            )


def fingerprint(network: str, unit: str, asset: str, code: str) -> str:
    """Stable id of an alert across its repeats: the same asset and code give the same one."""
    digest = hashlib.sha256(f"{network}\x00{unit}\x00{asset}\x00{code}".encode()).hexdigest()
    return digest[:16]


class SeverityLevel(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"


def severity_level(severity: int) -> SeverityLevel:
    """Map an OPC UA severity (1 to 1000) onto the five levels people use."""
    if severity >= 800:
        return SeverityLevel.CRITICAL
    if severity >= 600:
        return SeverityLevel.MAJOR
    if severity >= 400:
        return SeverityLevel.MINOR
    if severity >= 200:
        return SeverityLevel.WARNING
    return SeverityLevel.INFO


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """``label op value``; regular expressions are anchored, as in Alertmanager."""

    label: str
    op: MatchOp
    value: str
    _pattern: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``unit="cut-co"``, ``code!=overheat``, ``asset=~"laser-.*"``."""
        found = re.fullmatch(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*', text)
        if not found:
            raise RoutingError(f"cannot parse matcher {text!r}: expected label=value")
        return cls.build(found.group(1), MatchOp(found.group(2)), found.group(3))

    @classmethod
    def build(cls, label: str, op: MatchOp, value: str) -> Matcher:
        pattern = None
        if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            pattern = _compile(value)
        return cls(label, op, value, pattern)

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.label, "")
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        assert self._pattern is not None
        hit = self._pattern.fullmatch(actual) is not None
        return hit if self.op is MatchOp.REGEX else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op.value}"{self.value}"'


def _compile(value: str) -> Any:
    """An RE2 pattern (linear-time matching); Python-only syntax such as look-arounds and
    back-references is refused, as is a pattern too long or too large to compile."""
    if len(value) > MAX_PATTERN_LENGTH:
        raise RoutingError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    options = re2.Options()
    options.max_mem = PATTERN_MAX_MEMORY
    options.log_errors = False
    try:
        return re2.compile(f"(?:{value})", options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise RoutingError(f"bad regular expression {value!r} (RE2 syntax): {reason}") from exc


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


@dataclass(frozen=True)
class Silence:
    """Suppress notifications of matching alerts between ``starts_at`` and ``ends_at``."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = ""
    unit: str | None = None
    """A member's silence covers only its own unit; checked before any matcher runs."""
    silence_id: int | None = None

    def __post_init__(self) -> None:
        if not self.matchers:
            raise RoutingError("a silence needs at least one matcher")
        if self.ends_at <= self.starts_at:
            raise RoutingError("a silence must end after it starts")

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def silences(self, labels: Labels, at: datetime) -> bool:
        if self.unit is not None and labels.get("unit") != self.unit:
            return False
        return self.active(at) and matches_all(self.matchers, labels)


def maintenance_silence(
    *, unit: str, asset: str, starts_at: datetime, ends_at: datetime, reason: str
) -> Silence:
    """The silence a maintenance window of one asset creates automatically."""
    return Silence(
        matchers=(
            Matcher.build("unit", MatchOp.EQUAL, unit),
            Matcher.build("asset", MatchOp.EQUAL, asset),
        ),
        starts_at=starts_at,
        ends_at=ends_at,
        comment=f"maintenance window: {reason}",
        created_by="maintenance-window",
    )


def silenced_by(
    labels: Labels, silences: Iterable[Silence], at: datetime, budget: RuleBudget | None = None
) -> Silence | None:
    for silence in silences:
        if budget is not None:
            budget.check()
        if silence.silences(labels, at):
            return silence
    return None


@dataclass(frozen=True)
class InhibitRule:
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same
    values of the ``equal`` labels are inhibited (kept, but not notified or ticketed)."""

    name: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def inhibits(self, source_labels: Labels, target_labels: Labels) -> bool:
        if source_labels is target_labels:
            return False
        return (
            matches_all(self.source, source_labels)
            and matches_all(self.target, target_labels)
            and all(source_labels.get(k) == target_labels.get(k) for k in self.equal)
        )


DEFAULT_INHIBIT_RULES = (
    InhibitRule(
        name="unit-offline-inhibits-its-assets",
        source=(Matcher.build("code", MatchOp.EQUAL, UNIT_OFFLINE_CODE),),
        target=(Matcher.build("code", MatchOp.NOT_EQUAL, UNIT_OFFLINE_CODE),),
        equal=("network", "unit"),
    ),
    InhibitRule(
        name="breakdown-inhibits-warnings",
        source=(Matcher.build("code", MatchOp.EQUAL, BREAKDOWN_CODE),),
        target=(
            Matcher.build("code", MatchOp.NOT_EQUAL, BREAKDOWN_CODE),
            Matcher.build("severity", MatchOp.REGEX, "warning|minor|info"),
        ),
        equal=("network", "asset"),
    ),
)


def inhibited_by(
    labels: Labels,
    firing: Iterable[Labels],
    rules: Iterable[InhibitRule] = DEFAULT_INHIBIT_RULES,
    budget: RuleBudget | None = None,
) -> InhibitRule | None:
    """The first rule under which one of the ``firing`` alerts inhibits ``labels``."""
    firing_list = list(firing)
    for rule in rules:
        for source in firing_list:
            if budget is not None:
                budget.check()
            if rule.inhibits(source, labels):
                return rule
    return None


def joins_incident(
    last_alert_at: datetime | None, at: datetime, window: timedelta = DEFAULT_GROUP_WINDOW
) -> bool:
    """Whether an alert at ``at`` joins the asset's open incident last fed at ``last_alert_at``."""
    return last_alert_at is not None and timedelta(0) <= at - last_alert_at <= window
