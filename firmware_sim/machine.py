"""One simulated asset (machine or field product), independent of OPC UA.

:meth:`SimMachine.step` advances it to a simulated time: job execution, wear, monitoring
values, alarm conditions and state. The server reads the results and publishes them; methods
called by clients land here too (job control, Repair, machine-level fault injection).
"""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta

from firmware_sim.alarms import BREAKDOWN_TEXT, EMERGENCY_STOP_TEXT, AlarmBook, AlarmEvent
from firmware_sim.faults import ALARM_BURST_SIZE, SERVER_FAULTS, ActiveFaults, FaultKind
from firmware_sim.jobs import JobList
from firmware_sim.plant import MachineSpec
from firmware_sim.profiles import SEVERITY, AssetKind, MetricKind, MetricSpec, get_profile
from firmware_sim.wear import WearModel
from protocols.enums import MachineryItemState, MachineryOperationMode

_LOGGER = logging.getLogger(__name__)

BURST_CODES = ("overheat", "high_vibration", "tool_wear")
MAX_STEP_S = 300.0  # simulated seconds


class SimMachine:
    def __init__(self, spec: MachineSpec, *, seed: int, now: datetime) -> None:
        self.spec = spec
        self.id = spec.id
        self.profile = get_profile(spec.type)
        rate = spec.wear_rate_per_hour or self.profile.wear_rate_per_hour
        self.wear = WearModel(rate_per_hour=rate, seed=seed, key=spec.id, initial=spec.initial_wear)
        self.jobs: JobList | None = None
        if self.profile.kind is AssetKind.MACHINE:
            self.jobs = JobList(
                machine_id=spec.id,
                processes=spec.processes,
                max_orders=spec.max_job_orders,
                speed_factor=spec.speed_factor,
                rng=random.Random(f"{seed}:{spec.id}:jobs"),
            )
        self.alarms = AlarmBook(spec.id, self.profile.alarms)
        self.faults = ActiveFaults()
        self._noise = random.Random(f"{seed}:{spec.id}:noise")
        self._levels = {m.name: m.at(0.0, 0.0) for m in self.profile.metrics}
        self.values = dict(self._levels)
        self.item_state = MachineryItemState.NOT_EXECUTING
        self.mode = MachineryOperationMode.PROCESSING
        self.time = now
        self._pending: list[AlarmEvent] = []

    # Simulation -------------------------------------------------------------------------------

    def step(self, now: datetime) -> list[AlarmEvent]:
        """Advance to simulated ``now``; return the alarm events raised or cleared meanwhile.

        Long steps (a high time scale, a late tick) are cut into steps of at most MAX_STEP_S,
        so wear cannot jump past its alarm thresholds straight into a breakdown.
        """
        events = []
        while (now - self.time).total_seconds() > MAX_STEP_S:
            events += self._step_to(self.time + timedelta(seconds=MAX_STEP_S))
        return events + self._step_to(now)

    def _step_to(self, now: datetime) -> list[AlarmEvent]:
        dt_s = max((now - self.time).total_seconds(), 0.0)
        start, self.time = self.time, now
        events, self._pending = self._pending, []
        events += self._expire_emergency_stop(now)
        available = self._available()
        if self.jobs is not None:
            job_step = self.jobs.advance(start=start, dt_s=dt_s, can_run=available)
            for transition in job_step.transitions:
                _LOGGER.info(
                    "%s: job order %s %s", self.id, transition.job_order_id, transition.state
                )
            busy_s, load, produced = job_step.busy_s, job_step.mean_load, job_step.produced
            running = self.jobs.running()
            load_now = running.load if running is not None else 0.0
        else:
            load = load_now = self.profile.field_load(now) if available else 0.0
            busy_s, produced = (dt_s if load > 0 else 0.0), 0
        self.wear.advance(busy_s / 3600, load)
        if self.wear.broken:
            events += self.alarms.set(
                "breakdown", True, BREAKDOWN_TEXT, now, "ToolWear", self._wear_percent()
            )
        self._update_values(dt_s, busy_s, load_now, produced)
        events += self.alarms.evaluate(self.values, now)
        self._update_state(load_now)
        return events

    def _available(self) -> bool:
        return not self.wear.broken and not self.alarms.is_active("emergency_stop")

    def _expire_emergency_stop(self, now: datetime) -> list[AlarmEvent]:
        if self.alarms.is_active("emergency_stop") and not self.faults.active(
            FaultKind.EMERGENCY_STOP
        ):
            return self.alarms.set("emergency_stop", False, EMERGENCY_STOP_TEXT, now)
        return []

    def _update_values(self, dt_s: float, busy_s: float, load: float, produced: int) -> None:
        for spec in self.profile.metrics:
            self.values[spec.name] = self._next_value(spec, dt_s, busy_s, load, produced)

    def _next_value(
        self, spec: MetricSpec, dt_s: float, busy_s: float, load: float, produced: int
    ) -> float:
        current = self.values[spec.name]
        if spec.kind is MetricKind.WEAR:
            return self._wear_percent()
        if spec.kind is MetricKind.HOURS:
            return current + busy_s / 3600
        if spec.kind is MetricKind.PARTS:
            return current + produced
        if spec.kind is MetricKind.COUNTER:
            return current + spec.loaded * load * dt_s / 3600
        target = spec.at(load, self.wear.wear)
        level = self._levels[spec.name]
        if spec.tau_s > 0:
            level += (target - level) * (1 - math.exp(-dt_s / spec.tau_s))
        else:
            level = target
        self._levels[spec.name] = level
        # A gauge that reads 0 when idle (spindle speed, welding current) is off then: no noise.
        noise = spec.noise * (min(load, 1.0) if spec.idle == 0 else 1.0)
        return min(max(level + self._noise.gauss(0.0, noise), spec.low), spec.high)

    def _wear_percent(self) -> float:
        return min(self.wear.wear * 100, 100.0)

    def _update_state(self, load: float) -> None:
        if self.wear.broken:
            state, mode = MachineryItemState.OUT_OF_SERVICE, MachineryOperationMode.MAINTENANCE
        elif self.alarms.is_active("emergency_stop"):
            state, mode = MachineryItemState.NOT_AVAILABLE, MachineryOperationMode.PROCESSING
        elif load > 0:
            state, mode = MachineryItemState.EXECUTING, MachineryOperationMode.PROCESSING
        else:
            state, mode = MachineryItemState.NOT_EXECUTING, MachineryOperationMode.PROCESSING
        if state is not self.item_state:
            _LOGGER.info("%s: %s → %s", self.id, self.item_state, state)
        self.item_state, self.mode = state, mode

    # What clients see -------------------------------------------------------------------------

    def published_values(self) -> dict[str, float] | None:
        """The values to publish now: None while frozen, garbage while out of range."""
        if self.faults.active(FaultKind.FREEZE):
            return None
        if self.faults.active(FaultKind.OUT_OF_RANGE):
            return {m.name: m.high + 10 * (m.high - m.low) for m in self.profile.metrics}
        return dict(self.values)

    # Methods ----------------------------------------------------------------------------------

    def repair(self) -> None:
        """Maintenance done: wear reset, e-stop released, every alarm cleared."""
        _LOGGER.info("%s: repaired (wear was %.2f)", self.id, self.wear.wear)
        self.wear.reset()
        self.faults.clear(FaultKind.EMERGENCY_STOP)
        self._pending += self.alarms.clear_all(self.time)

    def inject(self, kind: FaultKind, duration_s: float) -> None:
        """Inject a machine-level fault (server-level kinds are the server's business)."""
        if kind in SERVER_FAULTS:
            raise ValueError(f"{kind} is a server-level fault")
        _LOGGER.warning("%s: fault injected: %s for %.1f s", self.id, kind, duration_s)
        if kind is FaultKind.BREAKDOWN:
            self.wear.break_now()
        elif kind is FaultKind.ALARM_BURST:
            self._pending += self._alarm_burst()
        elif kind is FaultKind.EMERGENCY_STOP:
            self.faults.activate(kind, duration_s or math.inf)
            self._pending += self.alarms.set("emergency_stop", True, EMERGENCY_STOP_TEXT, self.time)
        else:
            self.faults.activate(kind, duration_s)

    def _alarm_burst(self) -> list[AlarmEvent]:
        """Raise and clear the asset's threshold alarms in turn (those not active now: a burst
        must not clear a real alarm)."""
        rules = {rule.code for rule in self.profile.alarms}
        codes = [c for c in BURST_CODES if c in rules and not self.alarms.is_active(c)]
        if not codes:
            _LOGGER.warning("%s: no inactive alarm to burst", self.id)
            return []
        events = []
        for index in range(ALARM_BURST_SIZE):
            code = codes[index % len(codes)]
            text = f"Injected alarm burst {index + 1}/{ALARM_BURST_SIZE}"
            for active in (True, False):
                events.append(
                    AlarmEvent(self.id, code, active, SEVERITY[code], text, "", 0.0, self.time)
                )
        return events
