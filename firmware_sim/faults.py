"""Fault injection: the kinds, their scope, and the ``--fault`` command-line form.

Durations are wall-clock seconds (not simulated time): faults exercise how a gateway copes with
a misbehaving device, which happens in real time whatever the time scale.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum

from firmware_sim.errors import FaultSpecError


class FaultKind(StrEnum):
    FREEZE = "freeze"  # monitoring values stop changing
    OUT_OF_RANGE = "out_of_range"  # monitoring values far outside their EURange
    ALARM_BURST = "alarm_burst"  # a burst of raise/clear alarm events
    EMERGENCY_STOP = "emergency_stop"  # e-stop alarm, job interrupted, machine NotAvailable
    BREAKDOWN = "breakdown"  # immediate breakdown: OutOfService until Repair
    DISCONNECT = "disconnect"  # the server drops every client connection
    HANG = "hang"  # the server stops answering (connections stay open)
    CRASH = "crash"  # the server goes away and comes back on the same port


SERVER_FAULTS = frozenset({FaultKind.DISCONNECT, FaultKind.HANG, FaultKind.CRASH})
ALARM_BURST_SIZE = 20  # raise/clear pairs per burst
DEFAULT_DURATION_S = 5.0


@dataclass(frozen=True)
class FaultSpec:
    """A fault to inject ``after_s`` wall-clock seconds after start (``--fault``)."""

    kind: FaultKind
    after_s: float = 0.0
    duration_s: float = DEFAULT_DURATION_S
    machine: str | None = None  # None: every machine (machine-level kinds)


def parse_kind(text: str) -> FaultKind:
    try:
        return FaultKind(text)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(f"unknown fault kind {text!r} (known: {known})") from None


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse ``KIND[:AFTER_S[:DURATION_S[:MACHINE]]]``, e.g. ``crash:10:3``."""
    parts = text.split(":")
    if len(parts) > 4 or not parts[0]:
        raise FaultSpecError(f"bad fault {text!r}: expected KIND[:AFTER_S[:DURATION_S[:MACHINE]]]")
    kind = parse_kind(parts[0])
    after = _seconds(parts[1], "AFTER_S", text) if len(parts) > 1 else 0.0
    duration = _seconds(parts[2], "DURATION_S", text) if len(parts) > 2 else DEFAULT_DURATION_S
    machine = parts[3] if len(parts) > 3 and parts[3] else None
    return FaultSpec(kind, after, duration, machine)


def check_duration(duration_s: object) -> float:
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
        raise FaultSpecError(f"fault duration must be a number, got {duration_s!r}")
    if not math.isfinite(duration_s) or duration_s < 0:
        raise FaultSpecError(f"fault duration must be finite and >= 0, got {duration_s}")
    return float(duration_s)


def _seconds(text: str, name: str, spec: str) -> float:
    try:
        return check_duration(float(text))
    except (ValueError, FaultSpecError):
        raise FaultSpecError(f"bad {name} {text!r} in fault {spec!r}") from None


@dataclass
class ActiveFaults:
    """Time-limited faults of one machine, by kind, with their wall-clock end."""

    until: dict[FaultKind, float] = field(default_factory=dict)

    def activate(self, kind: FaultKind, duration_s: float) -> None:
        """Activate ``kind`` for ``duration_s`` wall-clock seconds (``math.inf``: until cleared)."""
        self.until[kind] = time.monotonic() + duration_s

    def active(self, kind: FaultKind) -> bool:
        end = self.until.get(kind)
        if end is None:
            return False
        if time.monotonic() < end:
            return True
        del self.until[kind]
        return False

    def clear(self, kind: FaultKind) -> None:
        self.until.pop(kind, None)
