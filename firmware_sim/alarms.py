"""The alarms of one asset: raised and cleared with hysteresis (the OPC UA conditions that
report them are in conditions.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from firmware_sim.profiles import SEVERITY, AlarmRule

_LOGGER = logging.getLogger(__name__)

BREAKDOWN_TEXT = "Machine breakdown: out of service until repaired"
EMERGENCY_STOP_TEXT = "Emergency stop pressed"


@dataclass(frozen=True)
class AlarmEvent:
    """One raise or clear of an alarm (its OPC UA condition changes state, see conditions.py)."""

    machine_id: str
    code: str
    active: bool
    severity: int
    message: str
    metric: str
    value: float
    time: datetime

    @property
    def condition_id(self) -> str:
        return f"{self.machine_id}/{self.code}"


class AlarmBook:
    def __init__(self, machine_id: str, rules: Iterable[AlarmRule]) -> None:
        self.machine_id = machine_id
        self.rules = tuple(rules)
        self._active: dict[str, AlarmEvent] = {}

    def evaluate(self, values: Mapping[str, float], now: datetime) -> list[AlarmEvent]:
        """Raise or clear the threshold alarms for the current metric values."""
        events = []
        for rule in self.rules:
            value = values[rule.metric]
            if rule.code not in self._active and value > rule.raise_above:
                events.append(self._event(rule.code, True, rule.text, rule.metric, value, now))
            elif rule.code in self._active and value < rule.clear_below:
                events.append(self._event(rule.code, False, rule.text, rule.metric, value, now))
        return events

    def set(
        self, code: str, active: bool, text: str, now: datetime, metric: str = "", value: float = 0
    ) -> list[AlarmEvent]:
        """Raise or clear a condition that no threshold drives (breakdown, emergency stop)."""
        if active == (code in self._active):
            return []
        return [self._event(code, active, text, metric, value, now)]

    def clear_all(self, now: datetime) -> list[AlarmEvent]:
        return [
            self._event(e.code, False, e.message, e.metric, e.value, now)
            for e in list(self._active.values())
        ]

    def is_active(self, code: str) -> bool:
        return code in self._active

    def active(self) -> list[AlarmEvent]:
        """The raise events of the alarms active now."""
        return list(self._active.values())

    def _event(
        self, code: str, active: bool, text: str, metric: str, value: float, now: datetime
    ) -> AlarmEvent:
        severity = SEVERITY.get(code, 500)
        message = text if active else f"Cleared: {text}"
        event = AlarmEvent(self.machine_id, code, active, severity, message, metric, value, now)
        if active:
            self._active[code] = event
            _LOGGER.warning("%s: alarm %s raised (%s=%.3g)", self.machine_id, code, metric, value)
        else:
            self._active.pop(code, None)
            _LOGGER.info("%s: alarm %s cleared", self.machine_id, code)
        return event
