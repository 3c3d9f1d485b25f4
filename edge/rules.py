"""Local alarm rules: a threshold on a metric, held for a minimum duration, with hysteresis.

A rule above 80 clearing at 75 raises once the value has stayed above 80 for ``min_duration_s``
and clears once it falls to 75 or below; values in between change nothing. Whether a rule's alarm
is active is committed with the alarm message, so a restarted gateway clears what it raised.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime

from edge.config import RuleConfig
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import messages
from protocols.enums import AlarmSource, AlarmState
from protocols.topics import TopicKind

TICK_S = 0.25


class Rule:
    def __init__(self, config: RuleConfig, active: bool) -> None:
        self.config = config
        self.active = active
        self.value: float | None = None
        self._breached_since: float | None = None

    def breached(self, value: float) -> bool:
        if self.config.above is not None:
            return value > self.config.above
        return self.config.below is not None and value < self.config.below

    def cleared(self, value: float) -> bool:
        if self.config.above is not None:
            return value <= self.config.clear_at
        return value >= self.config.clear_at

    def observe(self, value: float, now: float) -> AlarmState | None:
        """Feed a new value; return the transition it causes, if any."""
        self.value = value
        if self.active:
            if self.cleared(value):
                self.active = False
                return AlarmState.CLEARED
            return None
        if not self.breached(value):
            self._breached_since = None
            return None
        if self._breached_since is None:
            self._breached_since = now
        return self.check(now)

    def check(self, now: float) -> AlarmState | None:
        """Raise once the breach has lasted ``min_duration_s`` (also without new values)."""
        if self.active or self._breached_since is None:
            return None
        if now - self._breached_since >= self.config.min_duration_s:
            self.active = True
            self._breached_since = None
            return AlarmState.RAISED
        return None


class RuleEngine:
    def __init__(self, rules: list[RuleConfig], uplink: Uplink, outbox: Outbox) -> None:
        self._uplink = uplink
        self._by_metric: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        self.rules: list[Rule] = []
        for config in rules:
            rule = Rule(config, outbox.get_state(self._key(config)) == "active")
            self.rules.append(rule)
            self._by_metric[(config.machine, config.metric)].append(rule)

    @staticmethod
    def _key(config: RuleConfig) -> str:
        return f"rules/{config.name}"

    def observe(self, machine: str, metric: str, value: object) -> None:
        rules = self._by_metric.get((machine, metric))
        if not rules or isinstance(value, bool) or not isinstance(value, int | float):
            return
        now = time.monotonic()
        for rule in rules:
            transition = rule.observe(float(value), now)
            if transition is not None:
                self._send(rule, transition)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for rule in self.rules:
                if rule.check(now) is not None:
                    self._send(rule, AlarmState.RAISED)

    def _send(self, rule: Rule, state: AlarmState) -> None:
        config = rule.config
        verb = "above" if config.above is not None else "below"
        threshold = config.above if config.above is not None else config.below
        text = config.text or f"{config.metric} {verb} {threshold:g}"
        body = messages.AlarmEvent(
            asset=config.machine,
            alarm_id=f"{config.machine}/rule/{config.name}",
            code=config.code,
            state=state,
            severity=config.severity,
            text=text,
            source=AlarmSource.GATEWAY_RULE,
            metric=config.metric,
            value=rule.value,
            occurred_at=datetime.now(UTC),
        )
        active = "active" if state is AlarmState.RAISED else None
        self._uplink.send(
            TopicKind.ALARM,
            config.machine,
            messages.Alarm,
            body,
            state={self._key(config): active},
        )
