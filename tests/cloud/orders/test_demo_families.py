"""The families the coordinator ships with only ask for what the demo network's machines offer
(glonet/demo/network/), in `make demo` (glonet/demo/demo.yaml) and in docker-compose
(deploy/compose/network.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.codesign.configure import validate, work_breakdown
from cloud.codesign.families import ProductFamily, load_families
from cloud.config import DEFAULT_FAMILIES_DIR
from cloud.dispatch.planning import PlanMachine, PlanOperation, can_do
from glonet.demo import DEMO_SPEC
from glonet.demo_network import load_spec

ROOT = Path(__file__).resolve().parents[3]
SPEC = load_spec(DEMO_SPEC)
COMPOSE_SPEC = load_spec(ROOT / "deploy" / "compose" / "network.yaml")
FAMILIES = load_families(DEFAULT_FAMILIES_DIR)


def _machines(spec: Any) -> list[PlanMachine]:
    from firmware_sim.plant import load_plant

    machines = []
    for path in spec.plants:
        plant = load_plant(path)
        for machine in plant.machines:
            machines.append(
                PlanMachine(
                    plant.unit,
                    machine.id,
                    [c.model_dump(mode="json") for c in machine.capabilities],
                    frozenset(spec.certifications.get(plant.unit, [])),
                )
            )
    return machines


NETWORKS = {"demo": _machines(SPEC), "compose": _machines(COMPOSE_SPEC)}
MACHINES = NETWORKS["demo"]


def _unplannable(
    family: ProductFamily, values: dict[str, Any], machines: list[PlanMachine] = MACHINES
) -> list[str]:
    missing = []
    for op in work_breakdown(family, values).operations:
        plan_op = PlanOperation(
            0,
            op.id,
            op.process,
            op.duration_min * 60,
            (),
            op.capability_requirements,
            tuple(op.certifications),
        )
        if not any(can_do(machine, plan_op) for machine in machines):
            missing.append(op.id)
    return missing


@pytest.mark.parametrize("network", sorted(NETWORKS))
@pytest.mark.parametrize("family_id", sorted(FAMILIES))
def test_the_default_configuration_can_be_made_on_the_demo_network(
    family_id: str, network: str
) -> None:
    family = FAMILIES[family_id]
    assert _unplannable(family, {}, NETWORKS[network]) == []


@pytest.mark.parametrize("order", SPEC.orders, ids=lambda o: o.family)
def test_the_demo_orders_are_valid_once_the_engineer_revised_them(order: Any) -> None:
    family = FAMILIES[order.family]
    values = {**order.values, **order.engineer_changes}
    assert validate(family, values).valid
    assert _unplannable(family, values) == []


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_valid_configuration_can_be_made_on_the_demo_network(data: st.DataObject) -> None:
    family = FAMILIES[data.draw(st.sampled_from(sorted(FAMILIES)))]
    values: dict[str, Any] = {}
    for option in family.options:
        if option.type == "choice":
            values[option.id] = data.draw(st.sampled_from(option.choices))
        elif option.type == "boolean":
            values[option.id] = data.draw(st.booleans())
        elif option.type == "number":
            steps = int((option.max - option.min) / option.step)
            values[option.id] = option.min + data.draw(st.integers(0, steps)) * option.step
    if validate(family, values).valid:
        for machines in NETWORKS.values():
            assert _unplannable(family, values, machines) == []


def test_the_demo_plans_its_operators_on_the_robotic_cell() -> None:
    """The demo's robotic-cell order (as the engineer revised it) on the demo network, with the
    plants' calendars and the operators glonet/demo/demo.yaml registers, their rosters on the wall
    clock as the dispatcher computes them: a welder of imola-welding attends the base weld, and
    the plan passes the independent validator (skills, rosters, nobody attends two operations)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from cloud import scheduling
    from cloud.config import OrdersSettings
    from cloud.dispatch import planning
    from cloud.dispatch.flows import _wall_periods
    from cloud.orders.flows import _candidate_job, _work_json
    from cloud.registry.models import PlantCalendarSet

    settings = OrdersSettings(time_scale=SPEC.time_scale)
    now = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # Monday, before the first shift
    periods = {u: _wall_periods(c, settings, now) for u, c in SPEC.calendars.items()}
    machines = [
        replace(
            m,
            calendar=None
            if m.unit_id not in SPEC.calendars or m.machine in SPEC.calendars[m.unit_id].lights_out
            else periods[m.unit_id],
        )
        for m in MACHINES
    ]
    operators = [
        planning.PlanOperator(
            unit,
            operator_id,
            frozenset(operator.skills),
            _wall_periods(
                PlantCalendarSet(
                    timezone=SPEC.calendars[unit].timezone,
                    shifts=operator.shifts,
                    holidays=SPEC.calendars[unit].holidays,
                ),
                settings,
                now,
            ),
        )
        for unit, staff in SPEC.operators.items()
        for operator_id, operator in staff.items()
    ]
    assert {o.operator_id for o in operators if "welding" in o.skills}, "the demo has welders"
    order = next(o for o in SPEC.orders if o.family == "robotic-cell")
    work = work_breakdown(FAMILIES[order.family], {**order.values, **order.engineer_changes})
    job = _candidate_job("cell", _work_json(work.operations, work.materials))
    job = replace(
        job,
        operations=[
            replace(op, resumable=op.process not in settings.non_resumable_processes)
            for op in job.operations
        ],
    )
    network = planning.Network(machines, time_scale=SPEC.time_scale, operators=operators)
    builder = planning._Builder(network, now)
    builder.add_job(job)
    problem = builder.problem()
    schedule = scheduling.solve(problem, time_limit=0.2)
    scheduling.validate_schedule(problem, schedule)
    plan = planning._read_back(builder, schedule)
    assert not plan.unplanned
    steps = {op.key: op.step for op in job.operations}
    weld = next(a for key, a in plan.assignments.items() if steps[key] == "weld-base")
    welders = {o.operator_id for o in operators if o.unit_id == "imola-welding"}
    assert weld.unit_id == "imola-welding" and weld.operator in welders


def test_the_demo_registers_its_operators_and_suppliers(tmp_path: Path) -> None:
    """``glonet demo`` registers glonet/demo/demo.yaml's operators through the registry, as it does
    the plants' calendars: the dispatcher then finds them with their skills and rosters. Its
    suppliers too, some local to the Bologna area (where a local-content rule can be met)."""
    from cloud.config import load_settings
    from cloud.database import transaction
    from cloud.main import build_context
    from cloud.registry import service as registry_service
    from cloud.suppliers import service as supplier_service
    from cloud.suppliers.matching import LocalRule, MaterialNeed, Site, is_local, match_materials
    from firmware_sim.plant import load_plant
    from glonet.demo_network import coordinator_settings, network_setup, prepare_network

    settings = coordinator_settings(
        SPEC, workdir=tmp_path, mqtt_host="127.0.0.1", mqtt_port=1883, port=8000
    )
    plants = [load_plant(path) for path in SPEC.plants]
    setup = network_setup(SPEC, plants)
    # A network registered before units had a country: bootstrapping it again places them.
    placeless = [unit.model_copy(update={"country": None}) for unit in setup.units]
    prepare_network(settings, setup.model_copy(update={"units": placeless, "principals": []}))
    prepare_network(settings, setup)
    context = build_context(load_settings(None, **settings))
    try:
        with transaction(context.session_factory) as session:
            found = registry_service.network_operators(session=session, network_id=SPEC.network)
            offers = supplier_service.network_offers(session=session, network_id=SPEC.network)
            units = registry_service.network_units(session=session, network_id=SPEC.network)
    finally:
        context.engine.dispose()
    # Each plant in its real country (all the demo's are in Emilia-Romagna).
    assert {u.id: u.country for u in units} == {p.unit: p.location.country for p in plants}
    assert {p.location.country for p in plants} == {"IT"}
    expected = {
        (unit, operator_id, frozenset(operator.skills), len(operator.shifts))
        for unit, staff in SPEC.operators.items()
        for operator_id, operator in staff.items()
    }
    assert {(o.unit_id, o.operator_id, frozenset(o.skills), len(o.shifts)) for o in found} == (
        expected
    )
    assert {"welding", "painting"} <= {skill for o in found for skill in o.skills}
    assert {o.supplier.supplier_id for o in offers} == {s.id for s in SPEC.suppliers}
    bologna = Site(44.494, 11.343, "IT")
    local = {o.item for o in offers if is_local(o.supplier, bologna, LocalRule(within_km=30))}
    assert {"steel-plate", "cabinet", "fence-panel"} <= local
    needs = [
        MaterialNeed(m.item, m.quantity)
        for m in work_breakdown(FAMILIES["robotic-cell"], {}).materials
    ]
    assert all(line.matched for line in match_materials(needs, offers, currency="EUR"))


def test_the_demos_service_levels_run_at_its_time_scale(tmp_path: Path) -> None:
    """The demo compresses people's service-level times (tickets' times to resolve, contracts'
    response times) as its plants compress their work, and keeps the ingest's future-time check
    on: its plants stamp wall-clock times."""
    from datetime import timedelta

    from cloud.config import load_settings
    from glonet.demo_network import coordinator_settings

    settings = load_settings(
        None,
        **coordinator_settings(
            SPEC, workdir=tmp_path, mqtt_host="127.0.0.1", mqtt_port=1883, port=8000
        ),
    )
    assert SPEC.time_scale > 1
    due = settings.maintenance.policy().service_levels["standard"].due["P1"]
    assert due == timedelta(hours=8) / SPEC.time_scale
    for family in FAMILIES:
        terms = settings.products.terms(family)
        assert terms.response_hours == 8 / SPEC.time_scale and terms.months == 24
    assert settings.ingest.max_future_skew_s > 0
