"""The scheduler tick without MQTT: plan, dispatch, follow job events, take work back, complete.

Job events are fed to the same hook the ingest calls; the outbound commands are decoded with the
protocols codec, as a gateway would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from cloud.auth.models import Actor, Principal, Role
from cloud.codesign import service as codesign_service
from cloud.codesign.models import ConfigurationCreate, ConfigurationRevision
from cloud.config import Settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.dispatch import flows, gantt, service
from cloud.dispatch.events import OrderMoved
from cloud.main import build_context
from cloud.maintenance.windows import service as window_service
from cloud.maintenance.windows.models import WindowCreate
from cloud.messaging.models import Channel, DeliveryStatus, OutboxMessage
from cloud.network import service as network_service
from cloud.network.models import MachineState, UnitPresence
from cloud.orders import flows as order_flows
from cloud.orders.models import (
    DeliveredProduct,
    OperationStatus,
    Order,
    OrderOperation,
    OrderStatus,
    QuoteCreate,
)
from cloud.registry import service as registry_service
from cloud.registry.models import (
    SPEED_FACTOR,
    MachineStatic,
    OperatorSet,
    PlantCalendarSet,
    Shift,
    TransportTimeSet,
)
from protocols import codec, messages, topics
from protocols.enums import UnitStatus as Availability
from protocols.messages import JobEvent
from tests.cloud.orders.network import ROBOT_CELL, build_network

ALICE = Actor(principal_id=1, name="Alice", role=Role.CUSTOMER, customer_id="alice")


@pytest.fixture
def context(settings_factory: Any) -> Iterator[AppContext]:
    settings: Settings = settings_factory(
        orders={"time_scale": 600.0, "accept_timeout_s": 5.0, "plan_time_limit_s": 0.05}
    )
    context = build_context(settings)
    build_network(context)
    yield context
    context.engine.dispose()


class Plants:
    """Run ticks at a chosen time and answer the commands like gateways would."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.now = datetime.now(UTC)
        self.commands: list[tuple[str, Any]] = []

    def order(self, **values: Any) -> str:
        with transaction(self.context.session_factory) as session:
            configuration = codesign_service.create_configuration(
                session=session,
                actor=ALICE,
                families=self.context.families,
                spec=ConfigurationCreate(family_id="robotic-cell", values={**ROBOT_CELL, **values}),
            )
            quote = order_flows.create_quote(
                session=session,
                actor=ALICE,
                families=self.context.families,
                settings=self.context.settings.orders,
                network_id=self.context.settings.network,
                spec=QuoteCreate(configuration_id=configuration.id),
                now=self.now,
            )
            order = order_flows.confirm_quote(
                session=session,
                actor=ALICE,
                network_id=self.context.settings.network,
                quote_id=quote.id,
                now=self.now,
            )
            return order.id

    def tick(self, seconds: float = 0.0) -> list[tuple[str, Any]]:
        self.now += timedelta(seconds=seconds)
        with transaction(self.context.session_factory) as session:
            result = flows.tick(
                session=session,
                network_id=self.context.settings.network,
                settings=self.context.settings.orders,
                now=self.now,
            )
        sent = []
        for outbound in result.outbound:
            unit = topics.parse(outbound.topic).unit
            body = codec.decode(outbound.payload, expected=messages.Command).body
            sent.append((unit, body))
        self.commands += sent
        return sent

    def replan(self) -> None:
        with transaction(self.context.session_factory) as session:
            flows.replan(
                session=session,
                network_id=self.context.settings.network,
                settings=self.context.settings.orders,
                now=self.now,
            )

    def event(self, unit: str, machine: str, job: str, kind: str, **extra: Any) -> None:
        event = JobEvent(
            machine=machine, job_order_id=job, event=kind, occurred_at=self.now, **extra
        )
        with transaction(self.context.session_factory) as session:
            service.record_job_event(
                session=session,
                network_id=self.context.settings.network,
                unit_id=unit,
                event=event,
                now=self.now,
            )

    def run(self, sent: list[tuple[str, Any]], skip: str = "~") -> None:
        """Accept, start and end every dispatched job order (but on machines named ``skip*``)."""
        for unit, body in sent:
            if body.kind != "dispatch":
                continue
            for job in body.job_orders:
                if job.machine.startswith(skip):
                    continue
                self.event(unit, job.machine, job.job_order_id, "accepted")
                self.event(unit, job.machine, job.job_order_id, "started")
                self.event(unit, job.machine, job.job_order_id, "ended", state="Ended")

    def operations(self, order_id: str) -> list[OrderOperation]:
        with self.context.session_factory() as session:
            query = select(OrderOperation).where(OrderOperation.order_id == order_id)
            return list(session.scalars(query.order_by(OrderOperation.position)))

    def break_down(self, unit: str, machine: str) -> None:
        with transaction(self.context.session_factory) as session:
            session.merge(
                MachineState(
                    unit_id=unit,
                    machine=machine,
                    available=False,
                    state="OutOfService",
                    mode="Processing",
                    stored_job_orders=[],
                    free_slots=0,
                    queue_free_at=self.now,
                    reported_at=self.now,
                    seq=1,
                )
            )


def finish(plants: Plants, order_id: str, *, limit: int = 40) -> None:
    for _ in range(limit):
        plants.run(plants.tick(seconds=30))
        if all(op.status == "ended" for op in plants.operations(order_id)):
            plants.tick()
            return
    raise AssertionError("the order did not finish")


def test_an_order_is_planned_dispatched_across_plants_and_completed(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order()
    first = plants.tick()
    assert first, "the first tick dispatches the operations without predecessors"
    jobs = [job for _unit, body in first for job in body.job_orders]
    assert all(job.order_id == order_id for job in jobs)
    per_machine: dict[str, int] = {}
    for job in jobs:
        per_machine[job.machine] = per_machine.get(job.machine, 0) + 1
    assert max(per_machine.values()) <= context.settings.orders.max_outstanding

    plants.run(first)
    finish(plants, order_id)
    operations = plants.operations(order_id)
    assert len({op.unit_id for op in operations}) >= 2
    steps = {op.step: op for op in operations}
    assert steps["test"].unit_id == "lead", "only the ISO 9001 plant may test"
    assert steps["machine-flange"].machine == "mill-1"
    for op in operations:
        for before in op.predecessors:
            assert steps[before].ended_at <= op.started_at
    with context.session_factory() as session:
        product = session.scalars(select(DeliveredProduct)).one()
    assert product.order_id == order_id
    assert {step["step"] for step in product.as_built} == set(steps)
    assert all(step["unit_id"] and step["machine"] for step in product.as_built)


def test_a_rejected_operation_goes_to_another_machine(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order()
    unit, job = next(
        (unit, job)
        for unit, body in plants.tick()
        for job in body.job_orders
        if job.machine.startswith("laser")  # two lasers: the other one can take it
    )
    plants.event(unit, job.machine, job.job_order_id, "rejected", reason="UnableToAcceptJobOrder")
    plants.tick()
    op = next(o for o in plants.operations(order_id) if o.history)
    assert f"{unit}/{job.machine}" in op.excluded
    assert op.job_order_id != job.job_order_id
    assert (op.unit_id, op.machine) != (unit, job.machine)


def test_work_refused_by_the_only_machine_that_can_do_it_goes_back_after_a_growing_wait(
    context: AppContext,
) -> None:
    """Without a wait, an operation that one machine alone can do (the flange: mill-1) and that
    machine rejects went back to it at every tick, for ever."""
    plants = Plants(context)
    order_id = plants.order()

    def flange() -> OrderOperation:
        return next(o for o in plants.operations(order_id) if o.step == "machine-flange")

    plants.tick()
    op = flange()
    assert (op.machine, op.status, op.attempt) == ("mill-1", "dispatched", 1)
    plants.event(op.unit_id or "", "mill-1", op.job_order_id or "", "rejected", reason="busy")
    for seconds, attempt in ((0.5, 1), (1.0, 1), (1.0, 2)):  # back 2 s after the refusal
        plants.tick(seconds=seconds)
        assert flange().attempt == attempt, seconds
    op = flange()
    assert (op.machine, op.status) == ("mill-1", "dispatched")
    plants.event(op.unit_id or "", "mill-1", op.job_order_id or "", "rejected", reason="busy")
    for seconds, attempt in ((3.0, 2), (1.5, 3)):  # twice in a row: 4 s
        plants.tick(seconds=seconds)
        assert flange().attempt == attempt, seconds
    assert [entry.get("refused") for entry in flange().history] == [True, True]


def test_unanswered_dispatches_time_out_and_are_cancelled(context: AppContext) -> None:
    plants = Plants(context)
    plants.order()
    sent = plants.tick()
    job = sent[0][1].job_orders[0]
    later = plants.tick(seconds=10)
    cancels = [b for _u, b in later if b.kind == "cancel"]
    assert any(c.job_order_id == job.job_order_id for c in cancels)


def test_a_breakdown_moves_the_remaining_work_to_another_machine(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order(base="reinforced", payload_kg=22)
    plants.run(plants.tick())
    for _ in range(20):
        welding = next(op for op in plants.operations(order_id) if op.step == "weld-base")
        if welding.status in ("dispatched", "accepted"):
            break
        plants.run(plants.tick(seconds=1), skip="weld")
    assert welding.status in ("dispatched", "accepted"), welding.status
    broken = welding.machine
    plants.event("metal", broken, welding.job_order_id, "started")
    plants.break_down("metal", broken)
    sent = plants.tick(seconds=1)
    assert any(b.kind == "cancel" and b.machine == broken for _u, b in sent)
    moved = next(op for op in plants.operations(order_id) if op.step == "weld-base")
    assert moved.machine != broken and moved.unit_id == "metal"
    assert any(entry["what"] == "machine down" for entry in moved.history)
    plants.run(sent)
    finish(plants, order_id)
    with context.session_factory() as session:
        product = session.scalars(select(DeliveredProduct)).one()
    weld = next(step for step in product.as_built if step["step"] == "weld-base")
    assert weld["machine"] != broken and weld["attempts"] >= 2


def test_a_maintenance_window_makes_a_new_plan_that_avoids_it(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order()
    plants.tick()
    with context.session_factory() as session:
        plans = service.get_state(session=session, network_id=context.settings.network).plans
    start, end = plants.now + timedelta(seconds=5), plants.now + timedelta(hours=1)
    with transaction(context.session_factory) as session:
        window_service.create_window(
            session=session,
            actor=Actor(principal_id=0, name="c", role=Role.COORDINATOR),
            spec=WindowCreate(
                unit_id="lead", asset="test-1", starts_at=start, ends_at=end, reason="calibration"
            ),
        )
    plants.tick()
    with context.session_factory() as session:
        state = service.get_state(session=session, network_id=context.settings.network)
        assert state.plans == plans + 1, "the new window asked for a re-plan"
    test = next(op for op in plants.operations(order_id) if op.step == "test")
    assert test.planned_start >= end


def test_a_late_operation_and_an_offline_unit_ask_for_new_plans(context: AppContext) -> None:
    plants = Plants(context)
    plants.order()
    sent = plants.tick()
    for sent_unit, sent_body in sent:  # accepted in time: no dispatch timeout
        for sent_job in sent_body.job_orders:
            plants.event(sent_unit, sent_job.machine, sent_job.job_order_id, "accepted")
    unit, body = sent[0]
    job = body.job_orders[0]
    plants.event(unit, job.machine, job.job_order_id, "started")
    plans = _plans(context)
    overrun = job.planned_duration_s + context.settings.orders.late_tolerance_s
    plants.tick(seconds=overrun / context.settings.orders.time_scale + 1)
    assert _plans(context) == plans + 1, "late beyond the tolerance: one re-plan"
    plants.tick(seconds=1)
    assert _plans(context) == plans + 1, "and only one for the same lateness"

    with transaction(context.session_factory) as session:
        session.merge(
            UnitPresence(
                unit_id=unit, status="offline", reason="lost", seq=1, changed_at=plants.now
            )
        )
    cancels = [b for _u, b in plants.tick(seconds=1) if b.kind == "cancel"]
    assert any(c.job_order_id == job.job_order_id for c in cancels)
    assert _plans(context) == plans + 2


def test_a_plant_sees_only_the_operations_dispatched_to_it(context: AppContext) -> None:
    plants = Plants(context)
    plants.order()
    sent = plants.tick()
    units = {unit for unit, _body in sent}
    assert len(units) >= 2
    for unit in units:
        plant = Actor(principal_id=9, name=unit, role=Role.PLANT, unit_id=unit)
        with context.session_factory() as session:
            seen = service.plant_operations(session=session, actor=plant)
            chart = gantt.build(
                session=session, actor=plant, network_id=context.settings.network, now=plants.now
            )
        assert seen and {op.unit_id for op in seen} == {unit}
        assert {row.unit_id for row in chart.rows} == {unit}


def test_a_customer_sees_only_its_own_orders_in_the_gantt(context: AppContext) -> None:
    """The data endpoint scopes the chart: the orders' customer sees its operations on the
    machines that run them (and no plant's windows or calendar), another customer nothing."""
    plants = Plants(context)
    order_id = plants.order()
    plants.tick()
    bob = Actor(principal_id=8, name="bob", role=Role.CUSTOMER, customer_id="bob")
    with context.session_factory() as session:
        charts = {
            actor.name: gantt.build(
                session=session, actor=actor, network_id=context.settings.network, now=plants.now
            )
            for actor in (ALICE, bob, flows.SCHEDULER)
        }
    own = charts[ALICE.name]
    assert own.rows and all(row.bars for row in own.rows)
    assert {bar.order_id for row in own.rows for bar in row.bars} == {order_id}
    assert not any(row.windows or row.closed or row.down for row in own.rows)
    everything = sum(len(row.bars) for row in charts[flows.SCHEDULER.name].rows)
    assert sum(len(row.bars) for row in own.rows) == everything
    assert charts["bob"].rows == []


def test_work_ended_a_day_before_is_left_out_of_the_gantt(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order()
    plants.tick()
    with transaction(context.session_factory) as session:
        ops = list(
            session.scalars(select(OrderOperation).where(OrderOperation.order_id == order_id))
        )
        old, recent = ops[0], ops[1]
        for op, ago in ((old, timedelta(days=2)), (recent, timedelta(hours=2))):
            op.status = OperationStatus.ENDED
            op.started_at, op.ended_at = plants.now - ago, plants.now - ago + timedelta(minutes=5)
        steps = (old.step, recent.step)
    with context.session_factory() as session:
        chart = gantt.build(
            session=session,
            actor=flows.SCHEDULER,
            network_id=context.settings.network,
            now=plants.now,
        )
    shown = {bar.step for row in chart.rows for bar in row.bars}
    assert steps[0] not in shown and steps[1] in shown


def _plans(context: AppContext) -> int:
    with context.session_factory() as session:
        return service.get_state(session=session, network_id=context.settings.network).plans


def test_work_waiting_for_a_machine_still_down_is_planned_again(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order()
    plants.tick()
    for unit, machine in (("metal", "weld-1"), ("metal", "weld-2")):
        plants.break_down(unit, machine)
    plants.tick(seconds=1)
    weld = next(op for op in plants.operations(order_id) if op.step == "weld-base")
    assert weld.machine in ("weld-1", "weld-2"), "no other welder: planned after the estimate"
    first = weld.planned_start
    estimate = context.settings.orders.down_estimate_s / context.settings.orders.time_scale
    plants.tick(seconds=estimate + 1)
    weld = next(op for op in plants.operations(order_id) if op.step == "weld-base")
    assert weld.status == "planned" and weld.planned_start > first, "pushed out, not dispatched"


def run_to_the_end(plants: Plants, order_id: str) -> dict[str, tuple[datetime, datetime]]:
    """Tick every 6 s (an hour of plant time at 600x) and run what is sent until the order ends;
    per job order, when it was sent and the start the plan gave it."""
    sent_at: dict[str, tuple[datetime, datetime]] = {}
    for _ in range(300):
        sent = plants.tick(seconds=6)
        for _unit, body in sent:
            for job in getattr(body, "job_orders", []):
                sent_at[job.job_order_id] = (plants.now, job.planned_start)
        plants.run(sent)
        if all(op.status == "ended" for op in plants.operations(order_id)):
            return sent_at
    raise AssertionError("the order did not finish")


def planned_transport(context: AppContext) -> dict[tuple[str, str], float]:
    """The transport hours the planner reads (every pair at once), checked against what the
    registry answers for each pair, given or estimated from the distance."""
    network_id = context.settings.network
    with transaction(context.session_factory) as session:
        network = flows.network_model(
            session=session,
            network_id=network_id,
            settings=context.settings.orders,
            now=datetime.now(UTC),
        )
        units = registry_service.network_units(session=session, network_id=network_id)
        expected = {
            (a.id, b.id): registry_service.transport_time(
                session=session, actor=flows.SCHEDULER, from_unit_id=a.id, to_unit_id=b.id
            ).hours
            for a in units
            for b in units
            if a != b
        }
    assert len(expected) >= 6
    assert network.transport_hours == expected
    return dict(network.transport_hours)


def test_an_operation_waits_for_its_material_from_another_plant(context: AppContext) -> None:
    """Ten hours of transport between plants (60 s at this time scale): the plan starts a step
    no earlier than its material arrives, and the dispatcher sends it no earlier either, although
    its horizon would let it send it 24 s ahead."""
    hours = 10.0
    estimated = planned_transport(context)
    assert estimated[("lead", "metal")] != hours
    with transaction(context.session_factory) as session:
        for a in ("lead", "metal", "finish"):
            for b in ("lead", "metal", "finish"):
                if a != b:
                    registry_service.set_transport_time(
                        session=session,
                        actor=flows.SCHEDULER,
                        spec=TransportTimeSet(from_unit_id=a, to_unit_id=b, hours=hours),
                    )
    assert set(planned_transport(context).values()) == {hours}
    transport = timedelta(seconds=hours * 3600 / context.settings.orders.time_scale)
    plants = Plants(context)
    order_id = plants.order()
    sent_at = run_to_the_end(plants, order_id)
    operations = plants.operations(order_id)
    steps = {op.step: op for op in operations}
    crossings = 0
    for op in operations:
        dispatched, planned = sent_at[op.job_order_id or ""]
        for before in op.predecessors:
            pred = steps[before]
            if pred.unit_id == op.unit_id:
                continue
            crossings += 1
            assert pred.ended_at is not None
            arrival = pred.ended_at + transport
            assert dispatched >= arrival, f"{op.step} dispatched before its material arrived"
            assert planned >= arrival - timedelta(seconds=0.2), f"{op.step} planned too early"
    assert crossings >= 1, "the order should change plants at least once"


def test_the_plan_and_the_dispatcher_respect_a_plants_shifts(context: AppContext) -> None:
    """The metal plant works 06:00-14:00 (UTC) every day, its laser lights-out: every operation
    on its other machines is planned to start, and is sent, in those hours of plant time."""
    calendar = PlantCalendarSet(
        timezone="UTC",
        shifts=[Shift(weekday=day, start="06:00", end="14:00") for day in range(7)],
        lights_out=["laser-1"],
    )
    with transaction(context.session_factory) as session:
        registry_service.set_calendar(
            session=session, actor=flows.SCHEDULER, unit_id="metal", spec=calendar
        )
    clock = flows.plant_clock(context.settings.orders)
    plants = Plants(context)
    order_id = plants.order()
    sent_at = run_to_the_end(plants, order_id)
    operations = plants.operations(order_id)
    on_shift = [op for op in operations if op.unit_id == "metal" and op.machine != "laser-1"]
    assert on_shift, "some of the order's work should be done by the metal plant"
    lead = timedelta(seconds=context.settings.orders.tick_interval_s)
    for op in on_shift:
        dispatched, planned = sent_at[op.job_order_id or ""]
        assert 6 <= clock.plant(planned).hour < 14, f"{op.step} planned at night"
        assert dispatched >= planned - lead, f"{op.step} sent before its shift"


def test_the_plan_uses_each_machines_speed_factor(context: AppContext) -> None:
    with transaction(context.session_factory) as session:
        for welder in ("weld-1", "weld-2"):
            registry_service.update_machine(
                session=session,
                actor=flows.SCHEDULER,
                unit_id="metal",
                machine=welder,
                changes=MachineStatic(static_data={SPEED_FACTOR: 2.0}),
            )
    plants = Plants(context)
    order_id = plants.order()
    plants.tick()
    settings = context.settings.orders
    welds = [op for op in plants.operations(order_id) if op.process == "welding"]
    assert welds
    for op in welds:
        assert op.planned_start is not None and op.planned_end is not None
        planned = (op.planned_end - op.planned_start).total_seconds()
        expected = 2.0 * op.duration_s / settings.time_scale + settings.dispatch_overhead_s
        assert planned == pytest.approx(expected, abs=0.2)


def test_colour_changes_are_planned_and_drawn_in_the_gantt(context: AppContext) -> None:
    """Two cells in different colours share the one paint booth: the second one's change-over
    (30 or 45 minutes of plant time, from the family data) comes before its painting."""
    plants = Plants(context)
    for colour in ("ral2004", "ral5015"):
        plants.order(colour=colour)
    plants.tick()
    with context.session_factory() as session:
        paints = list(
            session.scalars(select(OrderOperation).where(OrderOperation.process == "painting"))
        )
        chart = gantt.build(
            session=session,
            actor=flows.SCHEDULER,
            network_id=context.settings.network,
            now=plants.now,
        )
    changed = [op for op in paints if op.planned_setup_start is not None]
    assert len(paints) == 2 and len(changed) == 1
    (op,) = changed
    assert op.planned_start is not None and op.planned_setup_start is not None
    setup = (op.planned_start - op.planned_setup_start).total_seconds()
    # 45 minutes from orange to blue, 30 from blue to orange: either order may be best.
    assert round(setup * context.settings.orders.time_scale / 60) in (30, 45)
    bars = [bar for row in chart.rows for bar in row.bars if bar.setup_start is not None]
    assert [bar.step for bar in bars] == ["paint"]


def test_a_paint_job_order_tells_the_booth_its_colour_change(context: AppContext) -> None:
    """The booth changes over when the colour changes, as the plan counts it: each paint job
    order carries its colour and the family data's change-over rules (plant seconds)."""
    plants = Plants(context)
    colours = {plants.order(colour=colour): colour for colour in ("ral2004", "ral5015")}
    for order_id in colours:
        finish(plants, order_id)
    paints = [
        job
        for _unit, body in plants.commands
        if body.kind == "dispatch"
        for job in body.job_orders
        if job.process == "painting"
    ]
    assert {job.order_id: job.parameters["SetupFamily"] for job in paints} == colours
    for job in paints:
        assert job.parameters["SetupS"] == 30 * 60 and job.parameters["SetupS.ral2004"] == 45 * 60
        after_orange = messages.setup_after(job.parameters, "ral2004")
        assert after_orange == (0 if colours[job.order_id] == "ral2004" else 45 * 60)


def test_a_dispatched_and_a_running_colour_change_are_kept_at_the_replan(
    context: AppContext,
) -> None:
    """The booth's second paint, dispatched with its colour change still ahead, keeps that
    change-over before its work through a re-plan; once it runs, the re-plan still counts the
    change-over from its actual start (the plant runs it first) and leaves its planned start."""
    plants = Plants(context)
    orders = [plants.order(colour=colour) for colour in ("ral2004", "ral5015")]

    def paints() -> list[OrderOperation]:
        return [op for o in orders for op in plants.operations(o) if op.step == "paint"]

    for _ in range(60):
        if all(op.status == "dispatched" for op in paints()):
            break
        plants.run(plants.tick(seconds=30), skip="paint")
    first, second = sorted(paints(), key=lambda op: op.planned_start or plants.now)
    assert first.status == second.status == "dispatched", [op.status for op in paints()]
    assert second.planned_setup_start is not None and second.planned_start is not None
    setup = second.planned_start - second.planned_setup_start
    assert setup > timedelta(0)

    def replan() -> OrderOperation:
        plants.replan()
        return next(op for op in paints() if op.id == second.id)

    plants.now += timedelta(seconds=1)
    again = replan()
    assert again.planned_setup_start is not None and again.planned_start is not None
    assert again.planned_start - again.planned_setup_start == setup, "the change-over is kept"
    for kind in ("accepted", "started", "ended"):
        plants.event("finish", "paint-1", first.job_order_id or "", kind, state="Ended")
    plants.event("finish", "paint-1", second.job_order_id or "", "accepted")
    plants.event("finish", "paint-1", second.job_order_id or "", "started")
    started = plants.now
    planned = (again.planned_setup_start, again.planned_start)
    plants.now += setup / 3
    running = replan()
    assert running.status == "running"
    assert (running.planned_setup_start, running.planned_start) == planned
    work = timedelta(seconds=second.duration_s / context.settings.orders.time_scale)
    assert running.planned_end is not None
    assert abs(running.planned_end - (started + setup + work)) <= timedelta(seconds=0.2)


def test_the_booth_changes_over_from_the_colour_it_ran_last(context: AppContext) -> None:
    """An orange cell is painted and done; the next order, blue, is planned with the change-over
    from orange (45 minutes of plant time), as the booth will take it, although nothing is
    frozen on the booth to say what it ran."""
    plants = Plants(context)
    finish(plants, plants.order(colour="ral2004"))
    blue = plants.order(colour="ral5015")
    plants.tick()
    (paint,) = [op for op in plants.operations(blue) if op.step == "paint"]
    assert paint.planned_setup_start is not None and paint.planned_start is not None
    setup = (paint.planned_start - paint.planned_setup_start).total_seconds()
    assert round(setup * context.settings.orders.time_scale / 60) == 45


def register_welder(context: AppContext) -> None:
    """The metal plant's one welder, Luca."""
    with transaction(context.session_factory) as session:
        registry_service.set_operator(
            session=session,
            actor=flows.SCHEDULER,
            unit_id="metal",
            operator_id="luca",
            spec=OperatorSet(name="Luca", skills=["welding"]),
        )


def test_a_plants_welder_is_planned_on_its_welds(context: AppContext) -> None:
    """The metal plant registers one welder: both cells' welds are attended by her, one after
    the other, and the plan names her on each."""
    register_welder(context)
    plants = Plants(context)
    orders = [plants.order(), plants.order()]
    plants.tick()
    welds = [op for order in orders for op in plants.operations(order) if op.step == "weld-base"]
    assert len(welds) == 2 and {op.planned_operator for op in welds} == {"luca"}
    first, second = sorted(welds, key=lambda op: op.planned_start or plants.now)
    assert first.planned_end is not None and second.planned_start is not None
    assert second.planned_start >= first.planned_end


def test_a_running_welds_welder_is_kept_for_it_at_the_replan(context: AppContext) -> None:
    """One welder, two orders: once her first weld runs, the re-plan keeps naming her on it and
    gives her the other weld only after it, although the other cell is free."""
    register_welder(context)
    plants = Plants(context)
    orders = [plants.order(), plants.order()]
    plants.run(plants.tick(), skip="weld")

    def welds() -> list[OrderOperation]:
        return [op for o in orders for op in plants.operations(o) if op.step == "weld-base"]

    for _ in range(20):
        sent = [op for op in welds() if op.status in ("dispatched", "accepted")]
        if sent:
            break
        plants.run(plants.tick(seconds=1), skip="weld")
    assert sent, [op.status for op in welds()]
    running = sent[0]
    plants.event("metal", running.machine or "", running.job_order_id or "", "started")
    plants.replan()
    now_running = next(op for op in welds() if op.id == running.id)
    other = next(op for op in welds() if op.id != running.id)
    assert now_running.status == "running" and now_running.planned_operator == "luca"
    assert other.planned_operator == "luca"
    assert now_running.planned_end is not None and other.planned_start is not None
    assert other.planned_start >= now_running.planned_end


def test_status_columns_read_back_as_enums_and_store_their_values(context: AppContext) -> None:
    """An order's and its operations' status, a revision's author role, an outbox message's
    channel and status, a principal's role and a unit's availability are typed columns over
    the same strings as before."""
    plants = Plants(context)
    order_id = plants.order()
    assert plants.tick(), "the tick dispatches (and writes the commands to the outbox)"
    with transaction(context.session_factory) as session:
        network_service.apply_unit_state(
            session=session,
            unit_id="metal",
            status=Availability.OFFLINE,
            reason="lost",
            seq=1,
            at=plants.now,
        )
    with context.session_factory() as session:
        order = session.get_one(Order, order_id)
        operations = session.scalars(select(OrderOperation)).all()
        [revision] = session.scalars(select(ConfigurationRevision))
        message = session.scalars(select(OutboxMessage)).first()
        customers = session.scalars(select(Principal).where(Principal.role == Role.CUSTOMER))
        unit = session.get_one(UnitPresence, "metal")
        assert order.status is OrderStatus.PLANNED
        assert {op.status for op in operations} == {
            OperationStatus.DISPATCHED,
            OperationStatus.PLANNED,
        }
        assert revision.author_role is Role.CUSTOMER
        assert message is not None
        assert (message.channel, message.status) == (Channel.COMMAND, DeliveryStatus.PENDING)
        assert {principal.role for principal in customers} == {Role.CUSTOMER}
        assert unit.status is Availability.OFFLINE
        stored = {
            "SELECT status FROM orders": {"planned"},
            "SELECT status FROM order_operations": {"dispatched", "planned"},
            "SELECT author_role FROM configuration_revisions": {"customer"},
            "SELECT channel FROM outbox": {"command"},
            "SELECT status FROM outbox": {"pending"},
            "SELECT role FROM principals": {"coordinator", "customer", "plant"},
            "SELECT status FROM unit_status": {"offline"},
        }
        for query, values in stored.items():
            assert set(session.scalars(text(query))) == values, query


def test_a_status_outside_its_enum_is_refused_on_write(context: AppContext) -> None:
    plants = Plants(context)
    order_id = plants.order()
    with context.session_factory() as session:
        order = session.get_one(Order, order_id)
        order.status = "lost"  # type: ignore[assignment]
        with pytest.raises(StatementError, match="'lost' is not a valid OrderStatus"):
            session.flush()


def test_a_ticks_live_events_on_the_wire(context: AppContext) -> None:
    """Typed in the dispatcher, a tick's events reach the pages as they always have."""
    plants = Plants(context)
    order_id = plants.order()
    with transaction(context.session_factory) as session:
        result = flows.tick(
            session=session,
            network_id=context.settings.network,
            settings=context.settings.orders,
            now=plants.now,
        )
    with context.session_factory() as session:
        dispatched = session.scalars(
            select(OrderOperation)
            .where(OrderOperation.status == OperationStatus.DISPATCHED)
            .order_by(OrderOperation.id)
        ).all()
    [plan, *sent] = [event.wire() for event in result.events]
    assert plan == {"type": "plan", "planned_at": plants.now.isoformat()}
    assert sorted(sent, key=lambda event: event["job_order_id"]) == sorted(
        (
            {
                "type": "dispatch",
                "unit_id": op.unit_id,
                "machine": op.machine,
                "job_order_id": op.job_order_id,
                "order_id": order_id,
            }
            for op in dispatched
        ),
        key=lambda event: event["job_order_id"],
    )
    assert [list(event) for event in sent[:1]] == [
        ["type", "unit_id", "machine", "job_order_id", "order_id"]
    ]
    moved = OrderMoved(order_id=order_id, status=OrderStatus.COMPLETED, customer_id="alice")
    assert json.dumps(moved.wire()) == json.dumps(
        {"type": "order", "order_id": order_id, "status": "completed", "customer_id": "alice"}
    )
