"""Field products: delivered equipment at customer sites, simulated like machines.

A field product has no job control: it runs on its own duty cycle (a robotic cell cycling
through its programme, a solar inverter following daylight on the simulated clock). It has the
same identification, state, monitoring, maintenance methods and alarms as a machine, so the
post-sale maintenance path (alarm → ticket → technician → Repair) works end to end.
"""

from __future__ import annotations

from firmware_sim.profiles import (
    AssetKind,
    AssetProfile,
    MetricKind,
    MetricSpec,
    common_metrics,
    power,
    register,
    standard_alarms,
    temperature,
    vibration,
)

_cell_vibration = vibration(0.2, 1.2, 4.0)
_cell_temperature = temperature("JointTemperature", 25, 52, 30)
ROBOTIC_CELL = register(
    AssetProfile(
        type="robotic_cell",
        kind=AssetKind.PRODUCT,
        description="Delivered robotic work cell (6-axis robot, safety fence, controller)",
        metrics=(
            MetricSpec("CycleTime", "SEC", "s", 0, 42, 0.8, 6, 0, 0, 300),
            _cell_vibration,
            _cell_temperature,
            power(0.4, 5.5),
            MetricSpec("CyclesCompleted", "H87", "pcs", 0, 85, kind=MetricKind.COUNTER, high=1e9),
            *common_metrics(),
        ),
        alarms=standard_alarms(_cell_vibration, _cell_temperature),
        wear_rate_per_hour=1 / 4000,
        duty="cycle",
    )
)

_inverter_vibration = vibration(0.05, 0.3, 1.2)  # fan bearing
_inverter_temperature = temperature("HeatsinkTemperature", 25, 58, 35)
SOLAR_INVERTER = register(
    AssetProfile(
        type="solar_inverter",
        kind=AssetKind.PRODUCT,
        description="Delivered string inverter of a solar power plant",
        metrics=(
            MetricSpec("DcVoltage", "VLT", "V", 0, 720, 4, 0, 0, 0, 1_100),
            MetricSpec("AcPower", "KWT", "kW", 0, 50, 0.5, -8, 0, 0, 60),
            MetricSpec("FanSpeed", "RPM", "1/min", 0, 3_200, 30, 800, 20, 0, 6_000),
            _inverter_vibration,
            _inverter_temperature,
            MetricSpec("EnergyYield", "KWH", "kWh", 0, 50, kind=MetricKind.COUNTER, high=1e9),
            *common_metrics(),
        ),
        alarms=standard_alarms(_inverter_vibration, _inverter_temperature),
        wear_rate_per_hour=1 / 8000,
        duty="solar",
    )
)
