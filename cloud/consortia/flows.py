"""Forming an opportunity's consortium, by the kind of network.

- A *stable* network (and a *shared-service centre*, whose members are the centre's own
  departments) keeps direct assignment: the coordinator names the member of each required
  process and its price, and the consortium is formed from that.
- A *dynamic* network or a *temporary joint venture* invites candidate members to each required
  process; members accept (price, earliest start and end) or decline by the deadline, and the
  selection (:mod:`.selection`) picks the cheapest consortium among the accepted answers.

Under a local-content rule, a member counts as local when it is within the rule's distance of
the site, or in the rule's country (a unit whose country is not known never is, and the
reasons say so when the rule is not met). The opportunity's material lines (a configured
product's bill of materials, or those a call for tenders' lines name) that the network's
suppliers offer join the selection too (each supplier's offer of a line is an offer, local by
the same rule), so that a local supplier can bring the share the rule asks for; a chosen
supplier is a member with the role local supplier (or supplier), whose terms nobody accepts in
its name.
Lines no supplier offers stay out (the quote prices them).

Both paths check the same rules through the selection (the due date, certifications, the
local-content rule, each member's ``max_order_share``), so a direct assignment that breaks one
is refused with the same words. Sending invitations, or forming by assignment, moves the
opportunity from open to forming.

A member's offer is in time when its work *arrives at the site* by the due date: its earliest
end plus the road from its plant to the site (:func:`cloud.registry.service.road_hours`, run
``time_scale`` times as fast on a simulated network), as partner search and the quote's
delivery leg count it. A supplier's material line counts its lead time alone: it is delivered
to the plant that uses it, not to the site.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.codesign import service as codesign
from cloud.codesign.configure import InvalidConfiguration, work_breakdown
from cloud.codesign.models import ConfigurationRevision
from cloud.consortia import selection, service
from cloud.consortia.models import (
    SUPPLIER_PARTY,
    Consortium,
    ConsortiumCreate,
    ConsortiumMember,
    FormedBy,
    MemberRole,
    SelectedOfferRead,
    SelectionRead,
    WorkInvitation,
    WorkInvitationsCreate,
)
from cloud.exceptions import Conflict, InvalidInput
from cloud.geo import LocalArea, Locality, Location, locality
from cloud.opportunities import service as opportunities
from cloud.opportunities.models import Opportunity, OpportunityProcess, OpportunityStatus
from cloud.registry import service as registry_service
from cloud.registry.models import Network, NetworkKind, Unit
from cloud.suppliers import matching
from cloud.suppliers import service as suppliers

_LOGGER = logging.getLogger(__name__)
ASSIGNING_KINDS = frozenset({NetworkKind.STABLE, NetworkKind.SHARED_SERVICE_CENTRE})
"""The kinds of network whose coordinator assigns the work directly, inviting nobody."""
FORMABLE = frozenset({OpportunityStatus.OPEN, OpportunityStatus.FORMING})
MATERIAL_REQUIREMENT = "material:"
"""A material item the selection covers is named apart from the required processes' steps."""


def network_kind(*, session: Session, opportunity: Opportunity) -> NetworkKind:
    network = session.get(Network, opportunity.network_id)
    if network is None:
        raise Conflict(f"opportunity {opportunity.id}'s network {opportunity.network_id} is gone")
    return NetworkKind(network.kind)


def _formable(opportunity: Opportunity) -> None:
    if opportunity.status not in FORMABLE:
        raise Conflict(
            f"opportunity {opportunity.id} is {opportunity.status.value}: a consortium is formed "
            "while it is open or forming"
        )


def _to_forming(
    session: Session, actor: Actor, opportunity: Opportunity, note: str, now: datetime
) -> None:
    if opportunity.status is OpportunityStatus.OPEN:
        opportunities.transition(
            session=session,
            actor=actor,
            opportunity_id=opportunity.id,
            to=OpportunityStatus.FORMING,
            note=note,
            now=now,
        )


def _steps(session: Session, opportunity: Opportunity) -> dict[str, OpportunityProcess]:
    rows = opportunities.processes_of(session=session, opportunity_id=opportunity.id)
    return {p.step: p for p in rows}


def _network_units(
    session: Session, opportunity: Opportunity, unit_ids: set[str]
) -> dict[str, Unit]:
    rows = session.scalars(
        select(Unit).where(Unit.id.in_(unit_ids), Unit.network_id == opportunity.network_id)
    )
    units = {u.id: u for u in rows}
    missing = sorted(unit_ids - units.keys())
    if missing:
        raise InvalidInput(f"not members of network {opportunity.network_id}: {', '.join(missing)}")
    return units


# Invitations --------------------------------------------------------------------------------


def send_invitations(
    *,
    session: Session,
    actor: Actor,
    opportunity_id: str,
    spec: WorkInvitationsCreate,
    now: datetime,
) -> list[WorkInvitation]:
    require_role(actor, Role.COORDINATOR)
    opportunity = opportunities.get_opportunity(
        session=session, actor=actor, opportunity_id=opportunity_id
    )
    kind = network_kind(session=session, opportunity=opportunity)
    if kind in ASSIGNING_KINDS:
        raise Conflict(
            f"a {kind.value.replace('_', ' ')} network assigns the work directly: "
            "form the consortium with assignments instead of inviting"
        )
    _formable(opportunity)
    if service.consortium_of(session=session, opportunity_id=opportunity_id) is not None:
        raise Conflict(f"opportunity {opportunity_id} already has its consortium")
    if spec.deadline <= now:
        raise InvalidInput("the deadline must be in the future")
    steps = _steps(session, opportunity)
    unknown = sorted(set(spec.candidates) - steps.keys())
    if unknown:
        raise InvalidInput(
            f"opportunity {opportunity_id} requires no process {', '.join(unknown)}; "
            f"its processes are {', '.join(steps)}"
        )
    _network_units(session, opportunity, {u for units in spec.candidates.values() for u in units})
    query = select(WorkInvitation.step, WorkInvitation.unit_id).where(
        WorkInvitation.opportunity_id == opportunity_id
    )
    already = {(step, unit_id) for step, unit_id in session.execute(query)}
    sent = []
    for step, unit_ids in spec.candidates.items():
        for unit_id in dict.fromkeys(unit_ids):
            if (step, unit_id) in already:
                raise Conflict(f"{unit_id} is already invited to {step}")
            process = steps[step]
            sent.append(
                WorkInvitation(
                    id=f"inv-{secrets.token_hex(6)}",
                    opportunity_id=opportunity_id,
                    step=step,
                    process=process.process,
                    work_minutes=process.work_minutes,
                    unit_id=unit_id,
                    deadline=spec.deadline,
                    sent_by=actor.name,
                    sent_at=now,
                    currency=opportunity.currency,
                )
            )
    session.add_all(sent)
    session.flush()
    _to_forming(session, actor, opportunity, f"{len(sent)} invitations sent", now)
    _LOGGER.info("opportunity %s: %d invitations sent", opportunity_id, len(sent))
    return sent


# Selection ----------------------------------------------------------------------------------


def unit_locality(unit: Unit, area: LocalArea | None) -> Locality:
    """A member by the rule: within its distance of the site, or in its country. A unit with
    no country is never in the rule's country, and the words say so."""
    if area is None:
        return Locality(False, "")
    return locality(area, Location(unit.latitude, unit.longitude), unit.country)


def _problem(
    opportunity: Opportunity,
    steps: Mapping[str, OpportunityProcess],
    offers: Sequence[selection.Offer],
    units: Mapping[str, Unit],
    materials: tuple[list[selection.Requirement], list[selection.Offer]] = ([], []),
) -> selection.SelectionProblem:
    rule = opportunity.local_content
    area = opportunities.local_area(opportunity)
    return selection.SelectionProblem(
        requirements=tuple(
            selection.Requirement(
                item=step,
                certifications=frozenset(p.certifications),
                label=p.name or p.process,
            )
            for step, p in steps.items()
        )
        + tuple(materials[0]),
        offers=tuple(offers) + tuple(materials[1]),
        due=opportunity.due_at,
        min_local_share=None if rule is None else float(rule["min_share"]),
        max_share={
            unit.id: float(unit.sharing_policy["max_order_share"])
            for unit in units.values()
            if unit.sharing_policy.get("max_order_share") is not None
        },
        locality_notes={
            unit.id: unit_locality(unit, area).words
            for unit in units.values()
            if area is not None and area.country is not None and unit.country is None
        },
    )


def road_to_site(unit: Unit, opportunity: Opportunity, time_scale: float) -> timedelta:
    """The road from ``unit``'s plant to the opportunity's site on the network's clock (plant
    hours pass ``time_scale`` times as fast), as partner search counts it."""
    hours = registry_service.road_hours(
        Location(unit.latitude, unit.longitude),
        Location(opportunity.site_latitude, opportunity.site_longitude),
    )
    return timedelta(hours=hours / time_scale)


def _unit_offer(
    offer_id: str,
    unit: Unit,
    step: OpportunityProcess,
    opportunity: Opportunity,
    price: float,
    earliest_end: datetime | None,
    time_scale: float,
) -> selection.Offer:
    return selection.Offer(
        id=offer_id,
        party=unit.id,
        covers=frozenset({step.step}),
        cost=price,
        local=unit_locality(unit, opportunities.local_area(opportunity)).local,
        earliest_end=earliest_end,
        certifications=frozenset(unit.certifications),
        work=step.work_minutes,
        road=road_to_site(unit, opportunity, time_scale),
    )


def invited_problem(
    *,
    session: Session,
    opportunity: Opportunity,
    families: codesign.Families | None = None,
    now: datetime,
    time_scale: float,
) -> selection.SelectionProblem:
    """The selection among the accepted invitations of ``opportunity`` (and its suppliers'
    material lines under a local-content rule, given the product ``families``); ``time_scale``:
    plant seconds per real second, as partner search takes it from ``settings.orders``."""
    steps = _steps(session, opportunity)
    answers = service.accepted_invitations(session=session, opportunity_id=opportunity.id)
    units = {
        u.id: u
        for u in session.scalars(select(Unit).where(Unit.id.in_(a.unit_id for a in answers)))
    }
    offers = [
        _unit_offer(
            a.id,
            units[a.unit_id],
            steps[a.step],
            opportunity,
            a.price or 0.0,
            a.earliest_end,
            time_scale,
        )
        for a in answers
        if a.step in steps
    ]
    materials = _material_lines(session, opportunity, families, now, time_scale)
    return _problem(opportunity, steps, offers, units, materials)


def _assigned_problem(
    session: Session,
    opportunity: Opportunity,
    spec: ConsortiumCreate,
    families: codesign.Families | None,
    now: datetime,
    time_scale: float,
) -> selection.SelectionProblem:
    assert spec.assignments is not None
    steps = _steps(session, opportunity)
    unknown = sorted(spec.assignments.keys() - steps.keys())
    missing = sorted(steps.keys() - spec.assignments.keys())
    if unknown or missing:
        raise InvalidInput(
            "assign every required process once: "
            + "; ".join(
                part
                for part in (
                    f"unknown {', '.join(unknown)}" if unknown else "",
                    f"unassigned {', '.join(missing)}" if missing else "",
                )
                if part
            )
        )
    units = _network_units(session, opportunity, {a.unit_id for a in spec.assignments.values()})
    offers = [
        _unit_offer(
            step, units[a.unit_id], steps[step], opportunity, a.price, a.earliest_end, time_scale
        )
        for step, a in spec.assignments.items()
    ]
    materials = _material_lines(session, opportunity, families, now, time_scale)
    return _problem(opportunity, steps, offers, units, materials)


def _material_lines(
    session: Session,
    opportunity: Opportunity,
    families: codesign.Families | None,
    now: datetime,
    time_scale: float,
) -> tuple[list[selection.Requirement], list[selection.Offer]]:
    """Under a local-content rule, the opportunity's material items that suppliers offer (in
    the opportunity's currency), and each supplier's offer of each, there after its lead time
    on the coordinator's clock (as the purchase will expect it: ``time_scale``)."""
    rule = opportunity.local_content
    if rule is None:
        return [], []
    site = matching.Site(
        opportunity.site_latitude, opportunity.site_longitude, opportunity.site_country
    )
    locality = matching.LocalRule(within_km=rule.get("within_km"), country=rule.get("country"))
    available = suppliers.network_offers(session=session, network_id=opportunity.network_id)
    requirements, offers = [], []
    for item, quantity in _bill_of_materials(session, opportunity, families).items():
        requirement = f"{MATERIAL_REQUIREMENT}{item}"
        offered = [
            selection.Offer(
                id=f"{o.supplier.supplier_id}/{item}",
                party=SUPPLIER_PARTY + o.supplier.supplier_id,
                covers=frozenset({requirement}),
                cost=round(o.unit_price * quantity, 2),
                local=matching.is_local(o.supplier, site, locality),
                earliest_end=now + timedelta(days=o.lead_time_days / time_scale),
                work=0.0,
            )
            for o in available
            if o.item == item and o.currency == opportunity.currency
        ]
        if offered:
            requirements.append(selection.Requirement(item=requirement, label=f"material {item}"))
            offers.extend(offered)
    return requirements, offers


def _bill_of_materials(
    session: Session, opportunity: Opportunity, families: codesign.Families | None
) -> dict[str, float]:
    """The opportunity's material quantities by item: a call for tenders' from its lines, a
    configured product's from its family's work breakdown for the opportunity's quantity
    (nothing when the family or the revision is gone, or no longer makes work)."""
    if opportunity.configuration_id is None:
        lines = [
            (str(m["item"]), float(m["quantity"]))
            for p in _steps(session, opportunity).values()
            for m in p.materials
        ]
    else:
        lines = _configured_materials(session, opportunity, families)
    quantities: dict[str, float] = {}
    for item, quantity in lines:
        quantities[item] = quantities.get(item, 0.0) + quantity
    return quantities


def _configured_materials(
    session: Session, opportunity: Opportunity, families: codesign.Families | None
) -> list[tuple[str, float]]:
    family = None if families is None else families.get(opportunity.family_id or "")
    revision = session.scalars(
        select(ConfigurationRevision).where(
            ConfigurationRevision.configuration_id == opportunity.configuration_id,
            ConfigurationRevision.number == opportunity.revision,
        )
    ).first()
    if family is None or revision is None:
        return []
    try:
        lines = work_breakdown(family, revision.values).materials
    except InvalidConfiguration:
        return []
    return [(line.item, line.quantity * opportunity.quantity) for line in lines]


def preview_selection(
    *,
    session: Session,
    actor: Actor,
    families: codesign.Families | None,
    opportunity_id: str,
    now: datetime,
    time_scale: float,
) -> SelectionRead:
    """What the selection would choose among the answers so far (nothing is stored)."""
    require_role(actor, Role.COORDINATOR)
    opportunity = opportunities.get_opportunity(
        session=session, actor=actor, opportunity_id=opportunity_id
    )
    problem = invited_problem(
        session=session, opportunity=opportunity, families=families, now=now, time_scale=time_scale
    )
    found = selection.select(problem)
    return SelectionRead(
        feasible=found.feasible,
        reasons=list(found.reasons),
        offers=[
            SelectedOfferRead(
                party_id=o.party,
                steps=sorted(o.covers),
                cost=o.cost,
                local=o.local,
                earliest_end=o.earliest_end,
                arrives_at=o.arrival,
            )
            for o in found.offers
        ],
        total_cost=found.total_cost if found.feasible else None,
        local_share=found.local_share,
        optimal=found.optimal,
    )


# The consortium -----------------------------------------------------------------------------


def form_consortium(
    *,
    session: Session,
    actor: Actor,
    opportunity_id: str,
    spec: ConsortiumCreate,
    families: codesign.Families | None = None,
    now: datetime,
    time_scale: float,
) -> Consortium:
    require_role(actor, Role.COORDINATOR)
    opportunity = opportunities.get_opportunity(
        session=session, actor=actor, opportunity_id=opportunity_id
    )
    _formable(opportunity)
    if service.consortium_of(session=session, opportunity_id=opportunity_id) is not None:
        raise Conflict(f"opportunity {opportunity_id} already has its consortium: revise it")
    kind = network_kind(session=session, opportunity=opportunity)
    assigning = kind in ASSIGNING_KINDS
    if assigning and spec.assignments is None:
        raise InvalidInput(
            f"a {kind.value.replace('_', ' ')} network names its members: send assignments"
        )
    if not assigning and spec.assignments is not None:
        raise InvalidInput(
            f"a {kind.value.replace('_', ' ')} network selects among accepted invitations: "
            "send no assignments"
        )
    problem = (
        _assigned_problem(session, opportunity, spec, families, now, time_scale)
        if assigning
        else invited_problem(
            session=session,
            opportunity=opportunity,
            families=families,
            now=now,
            time_scale=time_scale,
        )
    )
    if not problem.requirements:
        raise Conflict(f"opportunity {opportunity_id} requires no process: nobody to choose")
    found = selection.select(problem)
    if not found.feasible:
        raise Conflict("no consortium: infeasible because " + "; ".join(found.reasons))
    consortium = Consortium(
        id=f"con-{secrets.token_hex(6)}",
        opportunity_id=opportunity_id,
        network_kind=kind.value,
        formed_by=FormedBy.ASSIGNMENT if assigning else FormedBy.SELECTION,
        current_revision=1,
    )
    session.add(consortium)
    session.flush()
    service.add_revision(
        session=session,
        consortium=consortium,
        number=1,
        terms=spec.terms,
        members=_members(found),
        currency=opportunity.currency,
        local_share=found.local_share if problem.min_local_share is not None else None,
        author=actor.name,
        comment=spec.comment or f"formed by {consortium.formed_by.value}",
    )
    _to_forming(session, actor, opportunity, f"consortium {consortium.id} formed", now)
    return consortium


def _members(found: selection.Selection) -> list[ConsortiumMember]:
    """One member per party of the selection; the lead is the member unit with the largest
    share of the work, suppliers are (local) suppliers."""
    by_party: dict[str, list[selection.Offer]] = {}
    for offer in found.offers:
        by_party.setdefault(offer.party, []).append(offer)
    units = sorted(p for p in by_party if not p.startswith(SUPPLIER_PARTY))
    lead = max(units, key=lambda party: found.work_shares.get(party, 0.0), default=None)
    return [
        ConsortiumMember(
            party_id=party,
            unit_id=None if party.startswith(SUPPLIER_PARTY) else party,
            role=_role(party, lead, any(o.local for o in offers)),
            steps=sorted(step for o in offers for step in o.covers),
            price=sum(o.cost for o in offers),
            work_share=found.work_shares.get(party, 0.0),
            local=any(o.local for o in offers),
        )
        for party, offers in sorted(by_party.items())
    ]


def _role(party: str, lead: str | None, local: bool) -> MemberRole:
    if party.startswith(SUPPLIER_PARTY):
        return MemberRole.LOCAL_SUPPLIER if local else MemberRole.SUPPLIER
    return MemberRole.LEAD if party == lead else MemberRole.PARTNER
