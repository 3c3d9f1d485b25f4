"""The demo families only ask for what the demo network's machines offer (deploy/network/), in
`make demo` (deploy/demo.yaml) and in docker-compose (deploy/compose/network.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.codesign.configure import validate, work_breakdown
from cloud.codesign.families import ProductFamily, load_families
from cloud.dispatch.planning import PlanMachine, PlanOperation, can_do
from glonet.demo_network import load_spec

ROOT = Path(__file__).resolve().parents[3]
SPEC = load_spec(ROOT / "deploy" / "demo.yaml")
COMPOSE_SPEC = load_spec(ROOT / "deploy" / "compose" / "network.yaml")
FAMILIES = load_families(SPEC.families_dir)


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
