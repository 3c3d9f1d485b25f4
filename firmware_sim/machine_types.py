"""Shop-floor machine types of the demo network (profiles driven by job orders)."""

from __future__ import annotations

from firmware_sim.profiles import (
    AssetKind,
    AssetProfile,
    MetricSpec,
    common_metrics,
    parts,
    power,
    register,
    standard_alarms,
    temperature,
    tool_wear_alarm,
    vibration,
)


def _machine(
    type_: str,
    description: str,
    specific: tuple[MetricSpec, ...],
    vib: MetricSpec,
    temp: MetricSpec,
    pwr: MetricSpec,
    wear_rate_per_hour: float = 1 / 400,
) -> AssetProfile:
    return register(
        AssetProfile(
            type=type_,
            kind=AssetKind.MACHINE,
            description=description,
            metrics=(*specific, vib, temp, pwr, parts(), *common_metrics()),
            alarms=(*standard_alarms(vib, temp), tool_wear_alarm()),
            wear_rate_per_hour=wear_rate_per_hour,
        )
    )


def _spindle(loaded: float) -> MetricSpec:
    return MetricSpec("SpindleSpeed", "RPM", "1/min", 0, loaded, 0.01 * loaded, 0, 5, 0, 30_000)


_machine(
    "cnc_mill",
    "5-axis CNC machining centre",
    (_spindle(12_000),),
    vibration(0.4, 2.2, 6.0),
    temperature("SpindleTemperature", 24, 48, 30),
    power(1.5, 18),
)
_machine(
    "cnc_lathe",
    "CNC turning centre",
    (_spindle(3_500),),
    vibration(0.3, 1.8, 5.0),
    temperature("SpindleTemperature", 24, 45, 28),
    power(1.2, 15),
)
_machine(
    "laser_cutter",
    "Fibre laser sheet cutter",
    (MetricSpec("LaserPower", "KWT", "kW", 0, 6, 0.05, 0, 2, 0, 12),),
    vibration(0.2, 0.9, 3.0),
    temperature("ResonatorTemperature", 22, 31, 20),
    power(2.0, 28),
)
_machine(
    "press_brake",
    "CNC press brake",
    (MetricSpec("PressForce", "KNT", "kN", 0, 900, 20, 0, 0, 0, 2_200),),
    vibration(0.2, 1.4, 4.0),
    temperature("HydraulicOilTemperature", 25, 42, 25),
    power(0.8, 11),
)
_machine(
    "welding_robot",
    "Arc welding robot cell",
    (
        MetricSpec("WeldingCurrent", "AMP", "A", 0, 220, 5, 0, 0, 0, 500),
        MetricSpec("WireFeedSpeed", "2X", "m/min", 0, 9, 0.2, 0, 0, 0, 25),
    ),
    vibration(0.2, 0.8, 2.5),
    temperature("TorchTemperature", 25, 70, 60),
    power(0.5, 9),
)
_machine(
    "assembly_station",
    "Semi-automatic assembly station with screwdriving robot",
    (MetricSpec("ScrewTorque", "NU", "N·m", 0, 4.5, 0.1, 0, 0, 0, 20),),
    vibration(0.1, 0.5, 2.0),
    temperature("DriveTemperature", 23, 38, 25),
    power(0.3, 2.5),
)
_machine(
    "paint_booth",
    "Powder coating booth with curing oven",
    (MetricSpec("BoothPressure", "PAL", "Pa", 0, 15, 0.5, -8, 60, -50, 100),),
    vibration(0.3, 0.9, 3.0),
    temperature("OvenTemperature", 30, 190, 40),
    power(3.0, 35),
)
_machine(
    "test_bench",
    "End-of-line functional test bench",
    (MetricSpec("TestVoltage", "VLT", "V", 0, 400, 1.5, 0, 0, 0, 1_000),),
    vibration(0.1, 0.4, 1.5),
    temperature("CabinetTemperature", 24, 34, 20),
    power(0.2, 4),
    wear_rate_per_hour=1 / 800,
)
_machine(
    "pick_and_place",
    "SMT pick-and-place line for control boards",
    (MetricSpec("PlacementRate", "H87", "pcs/h", 0, 25_000, 400, -6_000, 0, 0, 40_000),),
    vibration(0.2, 1.1, 3.0),
    temperature("HeadTemperature", 24, 36, 22),
    power(0.5, 3.5),
)
_machine(
    "reflow_oven",
    "Reflow soldering oven",
    (MetricSpec("ConveyorSpeed", "2X", "m/min", 0, 0.8, 0.01, 0, 0, 0, 2),),
    vibration(0.1, 0.3, 1.0),
    temperature("PeakZoneTemperature", 40, 245, 35),
    power(2.0, 12),
)
_machine(
    "printer_3d",
    "Metal/polymer additive manufacturing printer",
    (MetricSpec("BedTemperature", "CEL", "°C", 22, 90, 0.5, 10, 300, -20, 200),),
    vibration(0.1, 0.6, 2.0),
    temperature("NozzleTemperature", 25, 240, 45),
    power(0.3, 2.2),
)
_machine(
    "cmm",
    "Coordinate measuring machine (inspection)",
    (MetricSpec("ProbeDeflection", "4H", "µm", 0, 2.0, 0.05, 3.0, 0, 0, 50),),
    vibration(0.05, 0.2, 0.8),
    temperature("TableTemperature", 20, 21, 3),
    power(0.2, 1.2),
    wear_rate_per_hour=1 / 1000,
)
