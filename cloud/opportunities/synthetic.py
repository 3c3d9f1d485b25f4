"""A synthetic network for measuring partner search (and selection after it): many members
with machines, certifications, rates and a current plan, and a call for tenders over many
processes. Seeded, so the same arguments give the same network.

``bench/network.py`` and the tests use :func:`synthetic_network`; nothing in the coordinator
does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cloud.codesign.models import Configuration
from cloud.orders.models import OperationStatus, Order, OrderOperation, Quote
from cloud.registry.models import Machine, Network, Unit
from protocols.enums import ProcessKind

CERTIFICATIONS = ("ISO9001", "ISO3834", "EN1090", "IATF16949", "ISO14001")
PARAMETERS = {
    "milling": "max_workpiece_mm",
    "turning": "max_diameter_mm",
    "laser_cutting": "max_thickness_steel_mm",
    "bending": "max_length_mm",
    "welding": "max_thickness_mm",
    "assembly": "max_payload_kg",
    "painting": "max_part_length_mm",
    "inspection": "max_part_mm",
    "printing_3d": "max_build_mm",
    "electronics": "max_layers",
    "testing": "max_voltage_v",
}
CENTRE = (44.6, 10.9)  # around Emilia, as the demo network


@dataclass(frozen=True)
class SyntheticNetwork:
    network_id: str
    units: list[str]
    tender: dict[str, Any]
    """An :class:`~cloud.opportunities.models.OpportunityCreate` body: the call for tenders."""
    planned_operations: int


def synthetic_network(
    session: Session,
    *,
    network_id: str,
    now: datetime,
    members: int = 50,
    processes: int = 20,
    machines_per_member: int = 4,
    planned_per_machine: int = 6,
    seed: int = 0,
) -> SyntheticNetwork:
    """Write a network of ``members`` units (each with machines of a few processes, some
    certifications and an hourly rate), a current plan of ``planned_per_machine`` operations on
    every machine over the next days, and return a call for tenders of ``processes`` lines.
    The network row is created if missing."""
    rng = random.Random(seed)
    kinds = [k.value for k in ProcessKind]
    if session.get(Network, network_id) is None:
        session.add(Network(id=network_id, name=network_id, kind="dynamic"))
        session.flush()
    units = []
    machines: list[tuple[str, str]] = []
    for index in range(members):
        unit_id = f"{network_id}-m{index:03d}"[:64]
        units.append(unit_id)
        session.add(
            Unit(
                id=unit_id,
                network_id=network_id,
                company=f"Member {index} srl",
                latitude=CENTRE[0] + rng.uniform(-2.0, 2.0),
                longitude=CENTRE[1] + rng.uniform(-2.5, 2.5),
                certifications=rng.sample(CERTIFICATIONS, rng.randint(0, 3)),
                processes=[],
                sharing_policy={
                    "hourly_rate": round(rng.uniform(35, 120), 2),
                    "currency": "EUR",
                    "share_capacity": rng.random() > 0.05,
                },
            )
        )
        session.flush()  # the unit before its machines (no ORM relationship orders them)
        for m in range(machines_per_member):
            offered = rng.sample(kinds, rng.randint(1, 2))
            session.add(
                Machine(
                    unit_id=unit_id,
                    machine=f"mc{m}",
                    name=f"{offered[0]} {m}",
                    capabilities=[
                        {
                            "process": k,
                            "parameters": {PARAMETERS[k]: rng.choice((50, 100, 200, 400))},
                        }
                        for k in offered
                    ],
                    max_job_orders=4,
                    static_data={},
                )
            )
            machines.append((unit_id, f"mc{m}"))
    session.flush()
    planned = _current_plan(session, network_id, machines, planned_per_machine, now, rng)
    lines = []
    for _ in range(processes):
        kind = rng.choice(kinds)
        line: dict[str, Any] = {
            "process": kind,
            "requirements": {PARAMETERS[kind]: rng.choice((50, 100, 200))},
            "quantity": rng.randint(1, 200),
            "work_minutes": rng.choice((60, 120, 240, 480, 960)),
        }
        if rng.random() < 0.3:
            line["certifications"] = [rng.choice(CERTIFICATIONS)]
        lines.append(line)
    tender = {
        "title": f"Synthetic tender over {processes} processes",
        "due_at": (now + timedelta(days=10)).isoformat(),
        "site": {"name": "site", "latitude": CENTRE[0], "longitude": CENTRE[1], "country": "IT"},
        "budget": 250_000,
        "currency": "EUR",
        "customer_id": "synthetic-customer",
        "local_content": {"min_share": 0.3, "within_km": 100},
        "processes": lines,
    }
    return SyntheticNetwork(network_id, units, tender, planned)


def _current_plan(
    session: Session,
    network_id: str,
    machines: list[tuple[str, str]],
    per_machine: int,
    now: datetime,
    rng: random.Random,
) -> int:
    """One planned order whose operations fill every machine now and then over four days."""
    if not per_machine:
        return 0
    configuration = Configuration(
        id=f"cfg-{network_id}"[:32], family_id="synthetic", customer_id="synthetic", title="load"
    )
    quote = Quote(
        id=f"q-{network_id}"[:32],
        configuration_id=configuration.id,
        revision=1,
        customer_id="synthetic",
        price=0.0,
        currency="EUR",
        promised_at=now + timedelta(days=5),
        valid_until=now + timedelta(days=5),
        work={"operations": []},
    )
    order = Order(
        id=f"ord-{network_id}"[:32],
        quote_id=quote.id,
        configuration_id=configuration.id,
        customer_id="synthetic",
        family_id="synthetic",
        values={},
        price=0.0,
        currency="EUR",
        promised_at=now + timedelta(days=5),
    )
    session.add(configuration)
    session.flush()
    session.add(quote)
    session.flush()
    session.add(order)
    session.flush()
    count = 0
    for unit_id, machine in machines:
        start = now + timedelta(minutes=rng.uniform(0, 120))
        for _ in range(per_machine):
            end = start + timedelta(minutes=rng.uniform(60, 600))
            session.add(
                OrderOperation(
                    order_id=order.id,
                    position=count,
                    step=f"s{count}",
                    name="load",
                    process="milling",
                    duration_s=(end - start).total_seconds(),
                    status=OperationStatus.PLANNED,
                    unit_id=unit_id,
                    machine=machine,
                    planned_start=start,
                    planned_end=end,
                    predecessors=[],
                    requirements={},
                    certifications=[],
                    excluded=[],
                    history=[],
                )
            )
            count += 1
            start = end + timedelta(minutes=rng.uniform(0, 240))
    session.flush()
    return count
