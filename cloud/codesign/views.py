"""Co-design endpoints: product families, live checks, configurations and their revisions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.codesign import service
from cloud.codesign.models import (
    CheckResult,
    ConfigurationCreate,
    ConfigurationDuplicate,
    ConfigurationRead,
    RevisionCreate,
    RevisionRead,
    Values,
)
from cloud.operations.http import ApiRoute, answers

router = APIRouter(prefix="/api", tags=["co-design"], route_class=ApiRoute)


def get_families(request: Request) -> service.Families:
    families: service.Families = request.app.state.context.families
    return families


FamilyRegistry = Annotated[service.Families, Depends(get_families)]


@router.get("/families")
def list_families(families: FamilyRegistry, _actor: CurrentActor) -> list[dict[str, Any]]:
    return [
        {"id": f.id, "name": f.name, "description": f.description, "currency": f.currency}
        for f in families.values()
    ]


@router.get("/families/{family_id}")
def get_family(family_id: str, families: FamilyRegistry, _actor: CurrentActor) -> dict[str, Any]:
    family = service.get_family(families=families, family_id=family_id)
    return family.model_dump(
        mode="json",
        by_alias=True,
        include={"id", "name", "description", "currency", "options", "rules"},
    )


@router.post("/families/{family_id}/check")
def check_values(
    family_id: str, values: Values, families: FamilyRegistry, _actor: CurrentActor
) -> CheckResult:
    family = service.get_family(families=families, family_id=family_id)
    return service.check(family=family, values=values)


@router.post("/configurations", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_configuration(
    spec: ConfigurationCreate, session: DbSession, actor: CurrentActor, families: FamilyRegistry
) -> ConfigurationRead:
    row = service.create_configuration(session=session, actor=actor, families=families, spec=spec)
    return service.read_configuration(session=session, families=families, configuration=row)


@router.get("/configurations")
def list_configurations(
    session: DbSession, actor: CurrentActor, families: FamilyRegistry
) -> list[ConfigurationRead]:
    return [
        service.read_configuration(session=session, families=families, configuration=row)
        for row in service.list_configurations(session=session, actor=actor)
    ]


@router.get("/configurations/{configuration_id}")
def get_configuration(
    configuration_id: str, session: DbSession, actor: CurrentActor, families: FamilyRegistry
) -> ConfigurationRead:
    row = service.get_configuration_row(
        session=session, actor=actor, configuration_id=configuration_id
    )
    return service.read_configuration(session=session, families=families, configuration=row)


@router.post("/configurations/{configuration_id}/duplicate", status_code=status.HTTP_201_CREATED)
def duplicate_configuration(
    configuration_id: str,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
    spec: ConfigurationDuplicate | None = None,
) -> ConfigurationRead:
    """A new configuration (same customer and family) from a saved one's values."""
    row = service.duplicate_configuration(
        session=session,
        actor=actor,
        families=families,
        configuration_id=configuration_id,
        spec=spec or ConfigurationDuplicate(),
    )
    return service.read_configuration(session=session, families=families, configuration=row)


@router.post(
    "/configurations/{configuration_id}/revisions",
    status_code=status.HTTP_201_CREATED,
    responses=answers(409),
)
def revise_configuration(
    configuration_id: str,
    spec: RevisionCreate,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
) -> ConfigurationRead:
    row = service.revise_configuration(
        session=session,
        actor=actor,
        families=families,
        configuration_id=configuration_id,
        spec=spec,
    )
    return service.read_configuration(session=session, families=families, configuration=row)


@router.get("/configurations/{configuration_id}/revisions")
def list_revisions(
    configuration_id: str, session: DbSession, actor: CurrentActor
) -> list[RevisionRead]:
    rows = service.list_revisions(session=session, actor=actor, configuration_id=configuration_id)
    return [RevisionRead.model_validate(row) for row in rows]
