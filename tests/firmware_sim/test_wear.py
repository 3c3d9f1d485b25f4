"""The wear model is deterministic for a seed, grows with hours and load, and resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firmware_sim.machine import SimMachine
from firmware_sim.wear import WearModel
from tests.firmware_sim.conftest import job_order, machine, make_plant

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def wear(seed: int, key: str = "mill-1") -> WearModel:
    return WearModel(rate_per_hour=0.01, seed=seed, key=key)


def test_same_seed_same_wear_however_the_steps_are_cut() -> None:
    coarse, fine = wear(42), wear(42)
    coarse.advance(10, 1.0)
    coarse.advance(5, 0.5)
    for _ in range(1000):
        fine.advance(0.01, 1.0)
    for _ in range(50):
        fine.advance(0.1, 0.5)
    assert coarse.breakdown_level == fine.breakdown_level
    assert abs(coarse.wear - fine.wear) < 1e-9
    assert abs(coarse.hours_to_breakdown(1.0) - fine.hours_to_breakdown(1.0)) < 1e-6


def test_other_seed_or_machine_wears_differently() -> None:
    assert wear(42).rate_per_hour != wear(43).rate_per_hour
    assert wear(42, "mill-1").breakdown_level != wear(42, "mill-2").breakdown_level


def test_load_wears_faster_and_repair_resets() -> None:
    light, heavy = wear(1), wear(1)
    light.advance(10, 0.2)
    heavy.advance(10, 1.2)
    assert 0 < light.wear < heavy.wear
    heavy.advance(heavy.hours_to_breakdown(1.2) + 0.01, 1.2)
    assert heavy.broken
    heavy.reset()
    assert heavy.wear == 0 and not heavy.broken


def run(seed: int) -> list[tuple[str, bool, float]]:
    """A machine running one long job in 3-minute steps: its alarm history (code, raised, hour)."""
    plant = make_plant(machine("mill-1", wear_rate_per_hour=0.02))
    sim = SimMachine(plant.machines[0], seed=seed, now=START)
    assert sim.jobs is not None
    order = job_order("J", "mill-1", quantity=1, planned_duration_s=360000)
    sim.jobs.store(order, start=True, now=START)
    history = []
    for step in range(1, 40 * 20):
        now = START + timedelta(minutes=3 * step)
        for event in sim.step(now):
            history.append((event.code, event.active, (now - START).total_seconds() / 3600))
    return history


def test_machine_alarm_history_is_deterministic_and_warns_before_breakdown() -> None:
    history = run(seed=5)
    assert history == run(seed=5)
    assert history != run(seed=6)
    raised = [code for code, active, _ in history if active]
    assert "breakdown" in raised
    warnings = raised[: raised.index("breakdown")]
    assert {"high_vibration", "tool_wear"} <= set(warnings)
