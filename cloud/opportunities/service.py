"""Opportunities: scoped reads, calls for tenders, and the life cycle with its audit trail.

Coordinators see and change every opportunity; a customer reads its own (there are no rates in
an opportunity); plants and technicians have no access (a plant learns of an opportunity from
its invitations, and sees its own row of a partner search). Creating one from a configured
revision needs the family's work breakdown: :mod:`cloud.opportunities.flows`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import Conflict, InvalidInput, NotFound
from cloud.geo import LocalArea, Location
from cloud.opportunities.models import (
    TENDER_STEP,
    TRANSITIONS,
    EventRead,
    LocalContentRule,
    Opportunity,
    OpportunityCreate,
    OpportunityEvent,
    OpportunityProcess,
    OpportunityRead,
    OpportunitySource,
    OpportunityStatus,
    ProcessRead,
    Site,
)

_LOGGER = logging.getLogger(__name__)
DEFAULT_CURRENCY = "EUR"


def _scoped(actor: Actor) -> Select[Opportunity]:
    require_role(actor, Role.COORDINATOR, Role.CUSTOMER)
    query = select(Opportunity)
    if actor.role is Role.CUSTOMER:
        query = query.where(Opportunity.customer_id == actor.customer_id)
    return query


def get_opportunity(*, session: Session, actor: Actor, opportunity_id: str) -> Opportunity:
    query = _scoped(actor).where(Opportunity.id == opportunity_id)
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"opportunity {opportunity_id!r} does not exist")
    return row


def list_opportunities(
    *, session: Session, actor: Actor, status: OpportunityStatus | None = None
) -> list[Opportunity]:
    query = _scoped(actor).order_by(Opportunity.due_at, Opportunity.id)
    if status is not None:
        query = query.where(Opportunity.status == status)
    return list(session.scalars(query))


def processes_of(*, session: Session, opportunity_id: str) -> Sequence[OpportunityProcess]:
    query = (
        select(OpportunityProcess)
        .where(OpportunityProcess.opportunity_id == opportunity_id)
        .order_by(OpportunityProcess.position)
    )
    return session.scalars(query).all()


def events_of(*, session: Session, opportunity_id: str) -> Sequence[OpportunityEvent]:
    query = (
        select(OpportunityEvent)
        .where(OpportunityEvent.opportunity_id == opportunity_id)
        .order_by(OpportunityEvent.id)
    )
    return session.scalars(query).all()


def local_area(opportunity: Opportunity) -> LocalArea | None:
    """Where the opportunity's local-content rule counts a member or supplier as local
    (:func:`cloud.geo.locality`); ``None`` without a rule."""
    rule = opportunity.local_content
    if rule is None:
        return None
    return LocalArea(
        site=Location(opportunity.site_latitude, opportunity.site_longitude),
        within_km=rule.get("within_km"),
        country=rule.get("country"),
    )


def read_opportunity(*, session: Session, opportunity: Opportunity) -> OpportunityRead:
    rule = opportunity.local_content
    return OpportunityRead(
        id=opportunity.id,
        title=opportunity.title,
        source=opportunity.source,
        customer_id=opportunity.customer_id,
        configuration_id=opportunity.configuration_id,
        revision=opportunity.revision,
        family_id=opportunity.family_id,
        quantity=opportunity.quantity,
        status=opportunity.status,
        due_at=opportunity.due_at,
        site=Site(
            name=opportunity.site_name,
            latitude=opportunity.site_latitude,
            longitude=opportunity.site_longitude,
            country=opportunity.site_country,
        ),
        budget=opportunity.budget,
        currency=opportunity.currency,
        local_content=None if rule is None else LocalContentRule.model_validate(rule),
        description=opportunity.description,
        created_by=opportunity.created_by,
        created_at=opportunity.created_at,
        updated_at=opportunity.updated_at,
        next_statuses=sorted(TRANSITIONS[opportunity.status]),
        processes=[
            ProcessRead.model_validate(p)
            for p in processes_of(session=session, opportunity_id=opportunity.id)
        ],
        events=[
            EventRead.model_validate(e)
            for e in events_of(session=session, opportunity_id=opportunity.id)
        ],
    )


def add_opportunity(
    *,
    session: Session,
    actor: Actor,
    network_id: str,
    spec: OpportunityCreate,
    processes: Sequence[OpportunityProcess],
    now: datetime,
    source: OpportunitySource,
    customer_id: str | None,
    budget: float,
    currency: str,
    configuration: tuple[str, int, str] | None = None,
) -> Opportunity:
    """Store a new open opportunity with its processes and the first entry of its trail.
    ``configuration``: (configuration id, revision, family id) when it comes from one."""
    require_role(actor, Role.COORDINATOR)
    if spec.due_at <= now:
        raise InvalidInput(f"due_at {spec.due_at.isoformat()} is not in the future")
    if source is OpportunitySource.TENDER and customer_id is None:
        raise InvalidInput(
            "customer_id: a call for tenders names its customer, the buyer its quote and order "
            "are for (an identifier; they need no account yet)"
        )
    configuration_id, revision, family_id = configuration or (None, None, None)
    opportunity = Opportunity(
        id=f"opp-{secrets.token_hex(5)}",
        network_id=network_id,
        title=spec.title,
        source=source,
        customer_id=customer_id,
        configuration_id=configuration_id,
        revision=revision,
        family_id=family_id,
        quantity=spec.quantity if configuration is not None else 1,
        status=OpportunityStatus.OPEN,
        due_at=spec.due_at,
        site_name=spec.site.name,
        site_latitude=spec.site.latitude,
        site_longitude=spec.site.longitude,
        site_country=spec.site.country,
        budget=budget,
        currency=currency,
        local_content=None
        if spec.local_content is None
        else spec.local_content.model_dump(exclude_none=True),
        description=spec.description,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    session.add(opportunity)
    session.flush()
    for position, process in enumerate(processes):
        process.opportunity_id = opportunity.id
        process.position = position
        session.add(process)
    session.add(
        OpportunityEvent(
            opportunity_id=opportunity.id,
            at=now,
            principal_id=actor.principal_id,
            actor=actor.name,
            from_status=None,
            to_status=OpportunityStatus.OPEN,
            note=f"created from {source.value}",
        )
    )
    session.flush()
    _LOGGER.info("opportunity %s opened (%s, %d processes)", opportunity.id, source, len(processes))
    return opportunity


def create_tender(
    *, session: Session, actor: Actor, network_id: str, spec: OpportunityCreate, now: datetime
) -> Opportunity:
    """A call for tenders entered by hand: its processes are the lines given (each line ``n``
    the step ``p{n}``), for the customer it names (the buyer; it needs no account yet)."""
    require_role(actor, Role.COORDINATOR)
    assert spec.processes is not None and spec.budget is not None
    lines = [
        OpportunityProcess(
            step=TENDER_STEP.format(position + 1),
            name=line.name or line.process.value.replace("_", " "),
            process=line.process.value,
            requirements=dict(line.requirements),
            certifications=list(dict.fromkeys(line.certifications)),
            quantity=line.quantity,
            work_minutes=line.work_minutes,
            predecessors=list(dict.fromkeys(line.predecessors)),
            materials=[m.model_dump() for m in line.materials],
        )
        for position, line in enumerate(spec.processes)
    ]
    return add_opportunity(
        session=session,
        actor=actor,
        network_id=network_id,
        spec=spec,
        processes=lines,
        now=now,
        source=OpportunitySource.TENDER,
        customer_id=spec.customer_id,
        budget=spec.budget,
        currency=spec.currency or DEFAULT_CURRENCY,
    )


def _names(statuses: frozenset[OpportunityStatus]) -> str:
    names = sorted(s.value for s in statuses)
    if not names:
        return "nowhere: it is final"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def transition(
    *,
    session: Session,
    actor: Actor,
    opportunity_id: str,
    to: OpportunityStatus,
    note: str = "",
    now: datetime,
) -> Opportunity:
    """Move an opportunity along its life cycle, and record who did it, when and why.

    The change is a compare-and-set on the status it was read with, so two concurrent changes
    cannot both pass from the same status: the second gets a 409."""
    require_role(actor, Role.COORDINATOR)
    opportunity = get_opportunity(session=session, actor=actor, opportunity_id=opportunity_id)
    current = opportunity.status
    if to not in TRANSITIONS[current]:
        raise Conflict(
            f"opportunity {opportunity_id} is {current.value}: it can go to "
            f"{_names(TRANSITIONS[current])}, not {to.value}"
        )
    if not _move(session, actor, opportunity_id, current, to, note, now):
        raise Conflict(f"opportunity {opportunity_id} changed meanwhile: read it again")
    session.refresh(opportunity)
    return opportunity


def transition_if(
    *,
    session: Session,
    actor: Actor,
    opportunity_id: str,
    expected: OpportunityStatus,
    to: OpportunityStatus,
    note: str = "",
    now: datetime,
) -> bool:
    """Move an opportunity that is still ``expected`` to ``to`` (with its trail entry), and
    say whether it moved: for the reactions to another domain's events (a quote refused,
    withdrawn, expired), which must neither fail nor move it twice when the coordinator moved it
    first, or another reaction did. A compare-and-set, as :func:`transition`."""
    require_role(actor, Role.COORDINATOR)
    if to not in TRANSITIONS[expected]:
        raise ValueError(f"no move from {expected.value} to {to.value}")
    return _move(session, actor, opportunity_id, expected, to, note, now)


def _move(
    session: Session,
    actor: Actor,
    opportunity_id: str,
    current: OpportunityStatus,
    to: OpportunityStatus,
    note: str,
    now: datetime,
) -> bool:
    changed = session.execute(
        update(Opportunity)
        .where(Opportunity.id == opportunity_id, Opportunity.status == current)
        .values(status=to, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        OpportunityEvent(
            opportunity_id=opportunity_id,
            at=now,
            principal_id=actor.principal_id,
            actor=actor.name,
            from_status=current,
            to_status=to,
            note=note,
        )
    )
    session.flush()
    _LOGGER.info("opportunity %s: %s -> %s", opportunity_id, current.value, to.value)
    return True
