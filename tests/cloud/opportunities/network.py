"""Members for partner-search tests: welders that differ in one thing each (certification,
capability parameter, capacity, distance, sharing), a painter, and their keys."""

from __future__ import annotations

from typing import Any

from cloud.context import AppContext
from cloud.database import transaction
from cloud.registry import service as registry_service
from tests.cloud.conftest import make_key, onboard

SITE = {"name": "Modena depot", "latitude": 44.65, "longitude": 10.92, "country": "IT"}
WELDER = {"process": "welding", "parameters": {"max_thickness_mm": 20, "max_length_mm": 3000}}
THIN = {"process": "welding", "parameters": {"max_thickness_mm": 8, "max_length_mm": 3000}}
MEMBERS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    # unit: (registry fields, capabilities of its one machine)
    "near": ({"certifications": ["ISO3834"], "hourly_rate": 60.0, "at": (44.66, 10.93)}, [WELDER]),
    "cheap": ({"certifications": [], "hourly_rate": 40.0, "at": (44.7, 10.9)}, [WELDER]),
    "thin": ({"certifications": ["ISO3834"], "hourly_rate": 50.0, "at": (44.6, 10.8)}, [THIN]),
    "busy": ({"certifications": ["ISO3834"], "hourly_rate": 45.0, "at": (44.6, 11.0)}, [WELDER]),
    "far": ({"certifications": ["ISO3834"], "hourly_rate": 55.0, "at": (45.46, 9.19)}, [WELDER]),
    "painter": ({"certifications": ["ISO3834"], "at": (44.6, 10.9)}, [{"process": "painting"}]),
    "private": (
        {"certifications": ["ISO3834"], "share_capacity": False, "at": (44.6, 10.9)},
        [WELDER],
    ),
}
WELDING = {
    "process": "welding",
    "requirements": {"max_thickness_mm": 12, "max_length_mm": 2000},
    "certifications": ["ISO3834"],
    "quantity": 100,
    "work_minutes": 240,
}


def build_members(context: AppContext) -> dict[str, str]:
    """Onboard :data:`MEMBERS` with their machines; API keys of the coordinator, the plant
    "cheap" and the customer "city"."""
    for unit_id, (fields, capabilities) in MEMBERS.items():
        policy = {k: fields[k] for k in ("hourly_rate", "share_capacity") if k in fields}
        latitude, longitude = fields["at"]
        onboard(
            context,
            unit_id,
            certifications=fields["certifications"],
            latitude=latitude,
            longitude=longitude,
            sharing_policy=policy,
        )
        with transaction(context.session_factory) as session:
            registry_service.record_birth(
                session=session,
                unit_id=unit_id,
                machines=[{"machine": "w1", "name": "Cell", "capabilities": capabilities}],
            )
    return {
        "coordinator": make_key(context, "coordinator"),
        "cheap": make_key(context, "plant", unit_id="cheap"),
        "customer": make_key(context, "customer", customer_id="city"),
    }
