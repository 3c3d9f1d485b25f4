"""A small test network whose machines cover every step of the demo product families."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from cloud.config import Settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.main import create_app
from cloud.registry import service as registry_service
from tests.cloud.conftest import make_key, onboard


def machine(machine_id: str, process: str, **parameters: Any) -> dict[str, Any]:
    return {
        "machine": machine_id,
        "name": f"{process} {machine_id}",
        "capabilities": [{"process": process, "parameters": parameters}],
        "max_job_orders": 4,
    }


UNITS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "lead": (
        {"certifications": ["ISO9001"], "latitude": 44.5, "longitude": 11.35},
        [
            machine("asm-1", "assembly", max_payload_kg=400),
            machine("asm-2", "assembly", max_payload_kg=400),
            machine("test-1", "testing", max_voltage_v=690),
        ],
    ),
    "metal": (
        {"latitude": 44.65, "longitude": 10.92},
        [
            machine("mill-1", "milling", max_workpiece_mm=800),
            machine("laser-1", "laser_cutting", max_thickness_steel_mm=20),
            machine("bend-1", "bending", max_length_mm=3000),
            machine("weld-1", "welding"),
            machine("weld-2", "welding"),
        ],
    ),
    "finish": (
        {"latitude": 44.8, "longitude": 10.33},
        [
            machine("paint-1", "painting"),
            machine("elec-1", "electronics"),
            machine("laser-2", "laser_cutting", max_thickness_steel_mm=8),
        ],
    ),
}


def build_network(context: AppContext) -> dict[str, str]:
    """Onboard the units with their machines; return API keys by role name."""
    for unit_id, (fields, machines) in UNITS.items():
        onboard(context, unit_id, **fields)
        with transaction(context.session_factory) as session:
            registry_service.record_birth(session=session, unit_id=unit_id, machines=machines)
    keys = {
        "coordinator": make_key(context, "coordinator"),
        "alice": make_key(context, "customer", customer_id="alice"),
        "bob": make_key(context, "customer", customer_id="bob"),
    }
    for unit_id in UNITS:
        keys[unit_id] = make_key(context, "plant", unit_id=unit_id)
    return keys


@contextmanager
def served(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The coordinator's app over this network, and the API keys by role name."""
    with TestClient(create_app(settings)) as client:
        yield client, build_network(client.app.state.context)  # type: ignore[attr-defined]


def auth(keys: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[who]}"}


ROBOT_CELL = {"payload_kg": 12, "reach_mm": 1200, "base": "standard", "safety": "fence"}
