"""Field products run on their own duty cycle and wear with their operating hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firmware_sim.machine import SimMachine
from protocols.enums import MachineryItemState
from tests.firmware_sim.conftest import machine, make_plant

MIDNIGHT = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)


def product(asset_type: str) -> SimMachine:
    spec = make_plant(machine("p-1", asset_type, "assembly")).machines[0]
    return SimMachine(spec, seed=3, now=MIDNIGHT)


def run_until(asset: SimMachine, hours: float) -> None:
    asset.step(MIDNIGHT + timedelta(hours=hours))


def test_solar_inverter_follows_daylight() -> None:
    inverter = product("solar_inverter")
    assert inverter.jobs is None
    run_until(inverter, 3)
    assert inverter.item_state is MachineryItemState.NOT_EXECUTING
    assert inverter.values["AcPower"] == 0
    night_yield = inverter.values["EnergyYield"]
    run_until(inverter, 12)
    assert inverter.item_state is MachineryItemState.EXECUTING
    assert inverter.values["AcPower"] > 40
    assert inverter.values["EnergyYield"] > night_yield
    assert 5 < inverter.values["OperatingHours"] < 7  # daylight from 06:00 to noon


def test_robotic_cell_runs_and_wears_until_repaired() -> None:
    cell = product("robotic_cell")
    run_until(cell, 1)
    assert cell.item_state is MachineryItemState.EXECUTING
    hours = cell.wear.hours_to_breakdown(1.0)
    run_until(cell, 1 + hours + 1)
    assert cell.item_state is MachineryItemState.OUT_OF_SERVICE
    assert cell.alarms.is_active("breakdown")
    cell.repair()
    run_until(cell, 3 + hours)
    assert cell.item_state is MachineryItemState.EXECUTING
    assert not cell.alarms.is_active("breakdown")
