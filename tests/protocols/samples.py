"""One valid example of every message type, for round trips and mutation tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocols import messages as m
from protocols.enums import (
    AlarmSource,
    AlarmState,
    AlertAction,
    JobEventKind,
    JobOrderState,
    MachineryItemState,
    MachineryOperationMode,
    ProcessKind,
    Quality,
    ReplyAction,
    UnitStatus,
)

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def sample_messages() -> list[m.Envelope]:
    unit = "cut-co"
    return [
        m.UnitState.create(unit=unit, seq=1, body=m.Availability(state=UnitStatus.ONLINE)),
        m.UnitBirth.create(
            unit=unit,
            seq=2,
            body=m.UnitDescription(
                gateway_version="0.1.0",
                machines=[
                    m.MachineDescription(
                        machine="laser-1",
                        name="Fiber laser 1",
                        manufacturer="SimWorks",
                        model="FL-3015",
                        serial_number="FL-0001",
                        capabilities=[
                            m.Capability(
                                process=ProcessKind.LASER_CUTTING,
                                parameters={"max_sheet_thickness_mm": 20.0, "material": "steel"},
                            )
                        ],
                        metrics=[
                            m.MetricDescription(name="power", unit="kW"),
                            m.MetricDescription(name="door_open", missing="BadNodeIdUnknown"),
                        ],
                        max_job_orders=10,
                    )
                ],
            ),
        ),
        m.Capacity.create(
            unit=unit,
            seq=3,
            body=m.CapacityReport(
                machine="laser-1",
                available=True,
                state=MachineryItemState.EXECUTING,
                mode=MachineryOperationMode.PROCESSING,
                running_job_order="jo-1",
                stored_job_orders=["jo-2"],
                free_slots=8,
                queue_free_at=T0 + timedelta(hours=2),
                reported_at=T0,
                unmapped_values=[m.UnmappedValue(variable="mode", value="WARMUP")],
            ),
        ),
        m.Telemetry.create(
            unit=unit,
            seq=4,
            body=m.TelemetryBatch(
                samples=[
                    m.Sample(machine="laser-1", metric="power", value=12.5, source_time=T0),
                    m.Sample(
                        machine="laser-1",
                        metric="door_open",
                        value=False,
                        source_time=T0,
                        quality=Quality.UNCERTAIN,
                    ),
                    m.Sample(
                        machine="laser-1",
                        metric="power",
                        value=None,
                        source_time=T0,
                        quality=Quality.BAD,
                        status_code=0x808C0000,
                        status="BadSensorFailure",
                    ),
                ]
            ),
        ),
        m.JobStatus.create(
            unit=unit,
            seq=5,
            body=m.JobEvent(
                machine="laser-1",
                job_order_id="jo-1",
                event=JobEventKind.ENDED,
                state=JobOrderState.ENDED,
                produced_quantity=4,
                actual_start=T0,
                actual_end=T0 + timedelta(minutes=40),
                occurred_at=T0 + timedelta(minutes=40),
            ),
        ),
        m.Alarm.create(
            unit=unit,
            seq=6,
            body=m.AlarmEvent(
                asset="laser-1",
                alarm_id="laser-1/overheat",
                code="overheat",
                state=AlarmState.RAISED,
                severity=700,
                text="Laser source temperature 78 C above 75 C",
                source=AlarmSource.OPCUA_EVENT,
                metric="source_temperature",
                value=78.0,
                occurred_at=T0,
            ),
        ),
        m.Command.create(
            unit="coordinator",
            seq=7,
            body=m.DispatchCommand(
                job_orders=[
                    m.JobOrder(
                        job_order_id="jo-3",
                        machine="laser-1",
                        operation="order-1/cut-frame",
                        process=ProcessKind.LASER_CUTTING,
                        quantity=2,
                        planned_duration_s=2400,
                        parameters={"thickness_mm": 6.0},
                    )
                ]
            ),
        ),
        m.Command.create(
            unit="coordinator", seq=8, body=m.CancelCommand(machine="laser-1", job_order_id="jo-3")
        ),
        m.Command.create(unit="coordinator", seq=9, body=m.RebirthCommand()),
        m.Command.create(unit="coordinator", seq=10, body=m.RepairCommand(machine="laser-1")),
        m.Command.create(
            unit="coordinator",
            seq=10,
            body=m.AcknowledgeCommand(machine="laser-1", codes=["high_temperature"], ticket_id="7"),
        ),
        m.CoordinatorState.create(
            unit="coordinator", seq=11, body=m.Availability(state=UnitStatus.OFFLINE)
        ),
        m.TechnicianAlert.create(
            unit="coordinator",
            seq=12,
            body=m.AlertNotice(
                ticket_id="T-1",
                action=AlertAction.NEW,
                asset="laser-1",
                asset_unit=unit,
                severity=700,
                title="Overheat on laser-1",
                due_at=T0 + timedelta(hours=4),
            ),
        ),
        m.TechnicianReply.create(
            unit="t7",
            seq=1,
            body=m.ReplyNotice(ticket_id="1", action=ReplyAction.ACKNOWLEDGE, note="on my way"),
        ),
    ]
