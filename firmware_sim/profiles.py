"""Asset types: which monitoring variables a machine or field product has, and its alarm rules.

A profile is data. Each gauge follows its load (idle value → loaded value), drifts up with wear
(``wear_gain`` is the extra at wear 1.0, at full load), lags with a thermal time constant and
carries Gaussian noise. Alarm thresholds sit between the loaded value and the value at
breakdown, so that a rising trend crosses them well before the machine breaks down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from firmware_sim.errors import SimError


class MetricKind(StrEnum):
    GAUGE = "gauge"  # follows load and wear, with noise and lag
    WEAR = "wear"  # the wear model's state in percent (tool or component wear)
    HOURS = "hours"  # operating hours: time spent executing
    PARTS = "parts"  # parts produced by job orders
    COUNTER = "counter"  # integrates ``loaded`` per hour * load (e.g. energy yield)


class AssetKind(StrEnum):
    MACHINE = "machine"
    PRODUCT = "product"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str  # UNECE common code, e.g. CEL, RPM, KWT
    symbol: str
    idle: float = 0.0
    loaded: float = 0.0
    noise: float = 0.0  # standard deviation, in the metric's unit
    wear_gain: float = 0.0
    tau_s: float = 0.0  # first-order lag (simulated seconds); 0 = follows at once
    low: float = 0.0  # physical range, published as EURange
    high: float = 100.0
    kind: MetricKind = MetricKind.GAUGE

    def at(self, load: float, wear: float) -> float:
        """The noiseless value this gauge settles to at ``load`` (0..1.5) and ``wear``."""
        return self.idle + (self.loaded - self.idle) * load + self.wear_gain * wear * load


@dataclass(frozen=True)
class AlarmRule:
    """Raise ``code`` when ``metric`` goes above ``raise_above``; clear below ``clear_below``."""

    code: str
    metric: str
    raise_above: float
    clear_below: float
    severity: int
    text: str


@dataclass(frozen=True)
class AssetProfile:
    type: str
    kind: AssetKind
    description: str
    metrics: tuple[MetricSpec, ...]
    alarms: tuple[AlarmRule, ...] = ()
    wear_rate_per_hour: float = 1 / 400  # wear 1.0 ≈ breakdown after 400 h at full load
    duty: str = "jobs"  # "jobs": load comes from job orders; "cycle"/"solar": field duty
    metric_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric_names", tuple(m.name for m in self.metrics))

    def field_load(self, now: datetime) -> float:
        """Load of a field product that runs on its own (no job orders) at simulated ``now``."""
        if self.duty == "solar":
            hour = now.hour + now.minute / 60
            return max(0.0, math.sin(math.pi * (hour - 6) / 12))
        if self.duty == "cycle":
            return 1.0
        return 0.0


# Alarm severities (OPC UA 1..1000) and texts shared by all profiles.
SEVERITY = {
    "tool_wear": 400,
    "high_vibration": 600,
    "overheat": 700,
    "emergency_stop": 900,
    "breakdown": 1000,
}
# Wear levels at which a gauge at full load crosses its alarm threshold; breakdown comes at ~1.0.
VIBRATION_ALARM_WEAR = 0.7
OVERHEAT_ALARM_WEAR = 0.8
TOOL_WEAR_ALARM_PERCENT = 80.0


def _threshold_rule(code: str, spec: MetricSpec, wear: float, text: str) -> AlarmRule:
    raise_above = spec.at(1.0, wear)
    clear_below = spec.at(1.0, wear * 0.8)
    return AlarmRule(code, spec.name, raise_above, clear_below, SEVERITY[code], text)


def standard_alarms(vibration: MetricSpec, temperature: MetricSpec) -> tuple[AlarmRule, ...]:
    return (
        _threshold_rule("high_vibration", vibration, VIBRATION_ALARM_WEAR, "Vibration above limit"),
        _threshold_rule("overheat", temperature, OVERHEAT_ALARM_WEAR, "Temperature above limit"),
    )


def tool_wear_alarm() -> AlarmRule:
    return AlarmRule(
        "tool_wear",
        "ToolWear",
        TOOL_WEAR_ALARM_PERCENT,
        TOOL_WEAR_ALARM_PERCENT - 10,
        SEVERITY["tool_wear"],
        "Tool worn, replace before breakage",
    )


def common_metrics() -> tuple[MetricSpec, ...]:
    return (
        MetricSpec("OperatingHours", "HUR", "h", high=200_000, kind=MetricKind.HOURS),
        MetricSpec("ToolWear", "P1", "%", high=100, kind=MetricKind.WEAR),
    )


def vibration(idle: float, loaded: float, gain: float) -> MetricSpec:
    return MetricSpec("VibrationRms", "C16", "mm/s", idle, loaded, 0.05 * loaded, gain, 0, 0, 50)


def temperature(name: str, idle: float, loaded: float, gain: float) -> MetricSpec:
    return MetricSpec(name, "CEL", "°C", idle, loaded, 0.3, gain, 600, -20, 400)


def power(idle: float, loaded: float) -> MetricSpec:
    return MetricSpec("Power", "KWT", "kW", idle, loaded, 0.02 * loaded, 0.1 * loaded, 30, 0, 500)


def parts() -> MetricSpec:
    return MetricSpec("PartsProduced", "H87", "pcs", high=1e9, kind=MetricKind.PARTS)


_REGISTRY: dict[str, AssetProfile] = {}


def register(profile: AssetProfile) -> AssetProfile:
    _REGISTRY[profile.type] = profile
    return profile


def get_profile(asset_type: str) -> AssetProfile:
    try:
        return _REGISTRY[asset_type]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise SimError(f"unknown asset type {asset_type!r} (known: {known})") from None


def known_types() -> list[str]:
    return sorted(_REGISTRY)
