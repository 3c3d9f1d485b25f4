"""What maintenance reads of the registry about an asset: where it is, whose it is, and the
service level its customer bought."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.exceptions import NotFound
from cloud.maintenance.config import DEFAULT_POLICY, DEFAULT_SERVICE_LEVEL, MaintenancePolicy
from cloud.registry.models import Machine, Unit


@dataclass(frozen=True)
class AssetInfo:
    """What the registry knows about an asset that maintenance needs."""

    network_id: str
    unit_id: str
    asset: str
    asset_kind: str
    model: str
    customer_id: str | None
    service_level: str
    skill_override: str | None
    latitude: float
    longitude: float


def asset_info(
    *,
    session: Session,
    unit_id: str,
    asset: str,
    policy: MaintenancePolicy = DEFAULT_POLICY,
) -> AssetInfo:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    machine = session.scalars(
        select(Machine).where(Machine.unit_id == unit_id, Machine.machine == asset)
    ).first()
    static: dict[str, Any] = dict(machine.static_data) if machine is not None else {}
    level = str(static.get("service_level", DEFAULT_SERVICE_LEVEL))
    return AssetInfo(
        network_id=unit.network_id,
        unit_id=unit_id,
        asset=asset,
        asset_kind=_asset_kind(machine, unit_id, asset),
        model=machine.model if machine is not None else "",
        customer_id=str(static["customer"]) if static.get("customer") else None,
        service_level=level if level in policy.service_levels else DEFAULT_SERVICE_LEVEL,
        skill_override=str(static["maintenance_skill"])
        if static.get("maintenance_skill")
        else None,
        latitude=float(static.get("latitude", unit.latitude)),
        longitude=float(static.get("longitude", unit.longitude)),
    )


def _asset_kind(machine: Machine | None, unit_id: str, asset: str) -> str:
    if machine is not None:
        return machine.asset_kind
    return "unit" if asset == unit_id else "machine"
