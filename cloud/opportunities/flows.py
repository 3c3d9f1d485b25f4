"""Opportunities across domains: a configured revision's work breakdown becomes the required
processes (as a quote reads it, :func:`cloud.orders.flows.create_quote`); the partner search
reads the registry, the current plan and the planner's view of the machines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.codesign import service as codesign_service
from cloud.codesign.configure import InvalidConfiguration, WorkBreakdown, work_breakdown
from cloud.config import Settings
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import planning
from cloud.dispatch import service as dispatch_service
from cloud.exceptions import InvalidInput, NotFound
from cloud.geo import Location
from cloud.opportunities import search, service
from cloud.opportunities.models import (
    CandidateRead,
    Opportunity,
    OpportunityCreate,
    OpportunityProcess,
    OpportunitySource,
    PartnerSearchRead,
    ProcessCandidates,
)
from cloud.orders.models import OPEN_STATUSES, OrderOperation
from cloud.registry import service as registry_service
from cloud.registry.models import Machine, Unit
from cloud.scorecards import service as scorecards_service


def required_processes(work: WorkBreakdown, quantity: int) -> list[OpportunityProcess]:
    """One required process per routing step, its minutes times the products ordered."""
    return [
        OpportunityProcess(
            step=op.id,
            name=op.name,
            process=op.process,
            requirements=dict(op.capability_requirements),
            certifications=list(op.certifications),
            quantity=quantity,
            work_minutes=op.duration_min * quantity,
            predecessors=list(op.predecessors),
        )
        for op in work.operations
    ]


def create_opportunity(
    *,
    session: Session,
    actor: Actor,
    families: codesign_service.Families,
    network_id: str,
    spec: OpportunityCreate,
    now: datetime,
) -> Opportunity:
    """An opportunity from a customer's configured revision, or a call for tenders."""
    require_role(actor, Role.COORDINATOR)
    if spec.configuration_id is None:
        return service.create_tender(
            session=session, actor=actor, network_id=network_id, spec=spec, now=now
        )
    if spec.customer_id is not None:
        raise InvalidInput("a configuration's opportunity is for its own customer: no customer_id")
    configuration = codesign_service.get_configuration_row(
        session=session, actor=actor, configuration_id=spec.configuration_id
    )
    number = spec.revision or configuration.current_revision
    revision = codesign_service.get_revision(
        session=session, configuration=configuration, number=number
    )
    if not revision.valid:
        reasons = "; ".join(p["message"] for p in revision.problems)
        raise InvalidInput(f"revision {number} is not valid: {reasons}")
    family = codesign_service.get_family(families=families, family_id=configuration.family_id)
    try:
        work = work_breakdown(family, revision.values)
    except InvalidConfiguration as exc:
        raise InvalidInput(f"revision {number} cannot be turned into work: {exc}") from exc
    return service.add_opportunity(
        session=session,
        actor=actor,
        network_id=network_id,
        spec=spec,
        processes=required_processes(work, spec.quantity),
        now=now,
        source=OpportunitySource.CONFIGURATION,
        customer_id=configuration.customer_id,
        budget=spec.budget if spec.budget is not None else round(work.price * spec.quantity, 2),
        currency=spec.currency or work.currency,
        configuration=(configuration.id, number, configuration.family_id),
    )


# Partner search -----------------------------------------------------------------------------


def _members(
    session: Session, units: Sequence[Unit], network: planning.Network, site: Location
) -> list[search.Member]:
    planned: dict[str, list[planning.PlanMachine]] = {}
    for machine in network.machines:
        planned.setdefault(machine.unit_id, []).append(machine)
    withheld = [u.id for u in units if u.sharing_policy.get("share_capacity", True) is False]
    for row in session.scalars(
        select(Machine).where(Machine.unit_id.in_(withheld)).order_by(Machine.machine)
    ):
        # Not planned on (it shares no capacity), but its capabilities still explain the rest.
        planned.setdefault(row.unit_id, []).append(
            planning.PlanMachine(row.unit_id, row.machine, row.capabilities)
        )
    members = []
    for unit in units:
        location = Location(unit.latitude, unit.longitude)
        policy = unit.sharing_policy
        rate = policy.get("hourly_rate")
        members.append(
            search.Member(
                unit_id=unit.id,
                company=unit.company,
                location=location,
                certifications=frozenset(unit.certifications),
                machines=planned.get(unit.id, []),
                shares_capacity=policy.get("share_capacity", True) is not False,
                hourly_rate=None if rate is None else float(rate),
                currency=str(policy.get("currency", "EUR")),
                transport_hours=registry_service.road_hours(location, site),
                country=unit.country,
            )
        )
    return members


def _busy(session: Session, network: planning.Network, now: datetime) -> list[search.Busy]:
    """The machine time the current plan takes from now, and the maintenance windows."""
    rows = session.execute(
        select(
            OrderOperation.unit_id,
            OrderOperation.machine,
            OrderOperation.planned_setup_start,
            OrderOperation.planned_start,
            OrderOperation.planned_end,
        ).where(
            OrderOperation.status.in_(OPEN_STATUSES),
            OrderOperation.unit_id.is_not(None),
            OrderOperation.machine.is_not(None),
            OrderOperation.planned_end > now,
        )
    )
    busy = [
        search.Busy(
            dispatch_service.machine_key(unit_id or "", machine or ""),
            max(now, setup or start or now),
            end,
        )
        for unit_id, machine, setup, start, end in rows
        if end is not None
    ]
    busy += [search.Busy(w.machine_key, w.start, w.end) for w in network.windows]
    return busy


def search_partners(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    opportunity_id: str,
    now: datetime,
    scores: Mapping[str, float] | None = None,
) -> PartnerSearchRead:
    """Every member for every required process of the opportunity, checked and ranked.

    The coordinator sees every member; a plant its own rows only (its own rate, no score or
    rank, which are relative to the others). Customers get 403: which members lack a
    certification or capacity is the network's business, and a customer sees the consortium
    and the quote instead. ``scores``: the members' scores (0..1); by default
    their scorecards' (:func:`cloud.scorecards.service.partner_scores`)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None:
        raise NotFound(f"opportunity {opportunity_id!r} does not exist")
    network_id = opportunity.network_id
    network = dispatch_flows.network_model(
        session=session, network_id=network_id, settings=settings.orders, now=now, transport=False
    )
    if scores is None:
        scores = scorecards_service.partner_scores(session=session, settings=settings, now=now)
    site = Location(opportunity.site_latitude, opportunity.site_longitude)
    units = registry_service.network_units(session=session, network_id=network_id)
    lines = [
        search.RequiredProcess(
            position=p.position,
            step=p.step,
            name=p.name,
            process=p.process,
            work_minutes=p.work_minutes,
            requirements=p.requirements,
            certifications=p.certifications,
        )
        for p in service.processes_of(session=session, opportunity_id=opportunity.id)
    ]
    found = search.search_partners(
        search.Search(
            now=now,
            due=opportunity.due_at,
            site=site,
            time_scale=settings.orders.time_scale,
            overhead_s=settings.orders.dispatch_overhead_s,
            local_area=service.local_area(opportunity),
        ),
        lines,
        _members(session, units, network, site),
        _busy(session, network, now),
        scores,
    )
    coordinator = actor.role is Role.COORDINATOR
    return PartnerSearchRead(
        opportunity_id=opportunity.id,
        due_at=opportunity.due_at,
        searched_at=now,
        members=len(units) if coordinator else None,
        processes=[
            ProcessCandidates(
                position=line.position,
                step=line.step,
                name=line.name,
                process=line.process,
                work_minutes=line.work_minutes,
                requirements=dict(line.requirements),
                certifications=list(line.certifications),
                eligible=sum(c.eligible for c in found[line.position]) if coordinator else None,
                candidates=[
                    _candidate_read(c, coordinator)
                    for c in found[line.position]
                    if coordinator or c.unit_id == actor.unit_id
                ],
            )
            for line in lines
        ],
    )


def _candidate_read(candidate: search.Candidate, coordinator: bool) -> CandidateRead:
    fields = {f: getattr(candidate, f) for f in CandidateRead.model_fields}
    if not coordinator:
        fields.update(score=None, rank=None)
    return CandidateRead(**fields)
