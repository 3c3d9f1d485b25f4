"""From a formed consortium to an order: the opportunity's quote, and what becomes of it.

Once every member unit has accepted the current revision's terms, the coordinator quotes the
opportunity. The quote's work is its required processes: the configured revision's routing for
the opportunity's quantity, or a call for tenders' lines (:func:`tender_work`: one operation per
line, with the materials the line names), each step restricted to the machines of the member
the consortium chose for it (``units`` in the quote's work, which every plan of the order
reads: :func:`cloud.dispatch.planning.can_do`). The quote is for the opportunity's customer
(a tender's buyer). It is planned and holds capacity like any quote, and
its price is what the members agreed: their operation lines at their agreed prices, with the
materials, transport (between the plants, and the delivery to the opportunity's site, whose
road time the promised date includes) and the network's margin as :mod:`cloud.orders.pricing`
makes them (a supplier member's material lines name it, so the confirmation buys them there).
The opportunity moves to quoted.

Confirming the quote (the usual ``POST /api/quotes/{id}/confirm``) wins the opportunity in the
same transaction; refusing it loses the opportunity; withdrawing it, or its expiring unanswered
(the dispatcher's sweep, :func:`cloud.orders.flows.expire_quote`), puts it back to forming. An
opportunity that is no longer quoted (withdrawn, lost, or forming again for another consortium)
refuses the confirmation (409), so no order is made for it. After delivery, the ledger splits
the order by the revenue shares of the revision quoted (suppliers' by their party id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.codesign import service as codesign_service
from cloud.codesign.configure import MaterialLine, PlannedOperation
from cloud.config import OrdersSettings
from cloud.consortia import service
from cloud.consortia.flows import MATERIAL_REQUIREMENT, SUPPLIER_PARTY
from cloud.consortia.models import Consortium, ConsortiumMember, ConsortiumQuote
from cloud.exceptions import Conflict
from cloud.geo import Location
from cloud.ledger import terms as ledger_terms
from cloud.ledger.split import AgreedTerms
from cloud.opportunities import service as opportunities
from cloud.opportunities.models import Opportunity, OpportunityProcess, OpportunityStatus
from cloud.orders import flows as orders_flows
from cloud.orders.models import Order, Quote, QuoteCreate, QuoteStatus

_LOGGER = logging.getLogger(__name__)


def chosen_units(members: Sequence[ConsortiumMember]) -> dict[str, list[str]]:
    """By routing step, the member unit chosen for it."""
    return {step: [m.unit_id] for m in members if m.unit_id is not None for step in m.steps}


def agreed_breakdown(
    members: Sequence[ConsortiumMember], quote: Quote, *, margin: float, note: str
) -> dict[str, Any]:
    """The quote's price breakdown (:mod:`cloud.orders.pricing`) with each member's lines at
    its agreed price: a member unit's operation lines (its price spread over its steps by their
    hours), a supplier member's material lines (spread over its items by what the pricing made
    them); the other materials and transport as the pricing made them (the bill of materials at
    cost when no member had rates), and the network's margin on the whole."""
    stored = quote.breakdown
    lines = [dict(line) for line in stored["lines"] if line["kind"] != "margin"]
    if stored.get("basis") == "family":  # the pricing left out materials and transport
        lines += [_material(line) for line in quote.work["materials"]]
    prices = {m.party_id: m.price for m in members}
    units = {m.unit_id for m in members if m.unit_id is not None}
    supplied = _supplied_items(members)
    agreed: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if line["kind"] == "operation" and line["unit_id"] in units:
            agreed.setdefault(line["unit_id"], []).append(line)
        elif line["kind"] == "material" and line.get("item") in supplied:
            agreed.setdefault(supplied[line["item"]], []).append(line)
    for party, own in agreed.items():
        _at_agreed_price(own, prices[party], party)
    subtotal = round(sum(float(line["amount"] or 0.0) for line in lines), 2)
    fee = round(subtotal * margin, 2)
    lines.append(
        {
            "kind": "margin",
            "description": f"network margin {margin:.0%}",
            "unit_id": None,
            "step": None,
            "process": None,
            "machine": None,
            "quantity": subtotal,
            "unit": quote.currency,
            "rate": margin,
            "setup_cost": 0.0,
            "amount": fee,
        }
    )
    return {
        "basis": "members",
        "note": note,
        "lines": lines,
        "subtotal": subtotal,
        "margin": fee,
        "total": round(subtotal + fee, 2),
    }


def _at_agreed_price(lines: list[dict[str, Any]], price: float, party: str) -> None:
    """``party``'s lines at its agreed ``price`` in all: operation lines shared by their hours,
    material lines by their priced amounts (equally when those are nothing)."""
    weight = "quantity" if lines[0]["kind"] == "operation" else "amount"
    total = sum(float(line[weight] or 0.0) for line in lines)
    for line in lines:
        part = float(line[weight] or 0.0) / total if total > 0 else 1 / len(lines)
        amount = round(price * part, 2)
        quantity = float(line["quantity"])
        line |= {
            "description": f"{line['description'].split(' (')[0]} (agreed by {party})",
            "rate": None if line["kind"] == "operation" or quantity <= 0 else amount / quantity,
            "setup_cost": 0.0,
            "amount": amount,
        }


def _supplied_items(members: Sequence[ConsortiumMember]) -> dict[str, str]:
    """By material item, the supplier member (party) the consortium chose to supply it."""
    return {
        step.removeprefix(MATERIAL_REQUIREMENT): m.party_id
        for m in members
        if m.unit_id is None
        for step in m.steps
        if step.startswith(MATERIAL_REQUIREMENT)
    }


def _material(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "material",
        "item": line["item"],
        "description": f"{line['item']}: {line['description']}"
        if line["description"]
        else line["item"],
        "unit_id": None,
        "step": None,
        "process": None,
        "machine": None,
        "quantity": line["quantity"],
        "unit": line["unit"],
        "rate": line["unit_cost"],
        "setup_cost": 0.0,
        "amount": round(float(line["quantity"]) * float(line["unit_cost"]), 2),
    }


def agreed_unit_prices(
    breakdown: Mapping[str, Any], members: Sequence[ConsortiumMember]
) -> dict[str, float]:
    """By item a supplier member supplies, the unit price its agreed price makes of it in the
    quote's breakdown (:func:`agreed_breakdown`): what the customer is billed for it."""
    supplied = _supplied_items(members)
    amounts: dict[str, float] = {}
    quantities: dict[str, float] = {}
    for line in breakdown["lines"]:
        item = line.get("item")
        if line["kind"] == "material" and item in supplied:
            amounts[item] = amounts.get(item, 0.0) + float(line["amount"] or 0.0)
            quantities[item] = quantities.get(item, 0.0) + float(line["quantity"] or 0.0)
    return {item: amounts[item] / quantities[item] for item in amounts if quantities[item] > 0}


def with_suppliers(
    members: Sequence[ConsortiumMember],
    materials: Sequence[dict[str, Any]],
    agreed: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The material lines, each a supplier member agreed to supply naming it and, in
    ``agreed``, the unit price the customer is billed for it, so that the confirmation buys it
    there at that price (:func:`cloud.suppliers.flows.purchase_materials`) and the ledger pays
    the supplier what the quote charged for its part."""
    agreed = agreed or {}
    chosen = {
        item: party.removeprefix(SUPPLIER_PARTY) for item, party in _supplied_items(members).items()
    }
    return [
        _supplied_by(line, chosen[line["item"]], agreed.get(line["item"]))
        if line["item"] in chosen
        else dict(line)
        for line in materials
    ]


def _supplied_by(
    line: dict[str, Any], supplier_id: str, agreed_unit_price: float | None
) -> dict[str, Any]:
    """The line naming ``supplier_id``; what pricing quoted of another supplier (its price,
    lead time, locality) goes, so the purchase takes the named supplier's own offer, at the
    agreed unit price when there is one."""
    if line.get("supplier_id") == supplier_id:
        named = dict(line)
    else:
        kept = {key: value for key, value in line.items() if key not in orders_flows.QUOTED_MATCH}
        named = {**kept, "supplier_id": supplier_id}
    if agreed_unit_price is not None:
        named["agreed_unit_price"] = round(agreed_unit_price, 6)
    return named


def quote_opportunity(
    *,
    session: Session,
    actor: Actor,
    families: codesign_service.Families,
    settings: OrdersSettings,
    network_id: str,
    opportunity_id: str,
    now: datetime,
) -> Quote:
    """The consortium's quote of ``opportunity_id`` (see the module)."""
    require_role(actor, Role.COORDINATOR)
    opportunity = opportunities.get_opportunity(
        session=session, actor=actor, opportunity_id=opportunity_id
    )
    if opportunity.status is not OpportunityStatus.FORMING:
        raise Conflict(
            f"opportunity {opportunity_id} is {opportunity.status.value}: it is quoted while "
            "forming, once its consortium is formed and its terms accepted"
        )
    consortium = service.consortium_of(session=session, opportunity_id=opportunity_id)
    if consortium is None:
        raise Conflict(f"opportunity {opportunity_id} has no consortium yet: form it first")
    revision = service.revision_of(
        session=session, consortium=consortium, number=consortium.current_revision
    )
    members = service.members_of(session=session, revision=revision)
    accepted = {a.unit_id for a in service.acceptances_of(session=session, revision=revision)}
    waiting = sorted(m.unit_id for m in members if m.unit_id and m.unit_id not in accepted)
    if waiting:
        raise Conflict(
            f"the terms of revision {revision.number} of consortium {consortium.id} are not "
            f"accepted yet by {', '.join(waiting)}"
        )
    units = chosen_units(members)
    required = opportunities.processes_of(session=session, opportunity_id=opportunity_id)
    uncovered = [p.step for p in required if p.step not in units]
    if uncovered:
        raise Conflict(
            f"consortium {consortium.id} has no member for {', '.join(uncovered)}: revise it"
        )
    if opportunity.configuration_id is None:
        work = tender_work(opportunity, required, units)
    else:
        configured = orders_flows.configured_work(
            session=session,
            actor=actor,
            families=families,
            spec=QuoteCreate(
                configuration_id=opportunity.configuration_id, revision=opportunity.revision
            ),
            quantity=opportunity.quantity,
            units=units,
        )
        work = replace(configured, opportunity_id=opportunity.id)
    work = replace(work, site=delivery_site(opportunity))
    if work.currency != revision.currency:
        raise Conflict(
            f"the members agreed prices in {revision.currency}, the product is priced in "
            f"{work.currency}: revise the consortium in {work.currency}"
        )
    quote = orders_flows.quote_work(
        session=session, settings=settings, network_id=network_id, work=work, now=now
    )
    quote.breakdown = agreed_breakdown(
        members,
        quote,
        margin=settings.pricing.margin,
        note=f"at the prices agreed in consortium {consortium.id} revision {revision.number}",
    )
    quote.price = quote.breakdown["total"]
    quote.work = {
        **quote.work,
        "materials": with_suppliers(
            members, quote.work["materials"], agreed_unit_prices(quote.breakdown, members)
        ),
    }
    session.add(
        ConsortiumQuote(
            quote_id=quote.id,
            opportunity_id=opportunity_id,
            consortium_id=consortium.id,
            revision=revision.number,
            created_at=now,
        )
    )
    opportunities.transition(
        session=session,
        actor=actor,
        opportunity_id=opportunity_id,
        to=OpportunityStatus.QUOTED,
        note=f"quote {quote.id}: {quote.price:.2f} {quote.currency} by consortium "
        f"{consortium.id} revision {revision.number}, promised {quote.promised_at:%Y-%m-%d}",
        now=now,
    )
    _LOGGER.info("opportunity %s quoted: %s", opportunity_id, quote.id)
    return quote


def delivery_site(opportunity: Opportunity) -> orders_flows.DeliverySite:
    """The opportunity's site, where its quote delivers (location None when not known)."""
    latitude, longitude = opportunity.site_latitude, opportunity.site_longitude
    known = latitude is not None and longitude is not None
    return orders_flows.DeliverySite(
        name=opportunity.site_name, location=Location(latitude, longitude) if known else None
    )


def tender_work(
    opportunity: Opportunity,
    lines: Sequence[OpportunityProcess],
    units: Mapping[str, Sequence[str]],
) -> orders_flows.QuotedWork:
    """A call for tenders' lines as a quote's work, for its customer: one operation per line
    (its whole machine time, capability parameters, certifications, and the earlier lines it
    follows), whose job order asks for the line's quantity, and each line's materials,
    consumed by that line's operation."""
    if opportunity.customer_id is None:
        raise Conflict(
            f"opportunity {opportunity.id} names no customer: a quote and its order are for "
            "the buyer of the call for tenders"
        )
    return orders_flows.QuotedWork(
        customer_id=opportunity.customer_id,
        currency=opportunity.currency,
        operations=[
            PlannedOperation(
                id=line.step,
                name=line.name,
                process=line.process,
                duration_min=line.work_minutes,
                predecessors=list(line.predecessors),
                capability_requirements=dict(line.requirements),
                certifications=list(line.certifications),
            )
            for line in lines
        ],
        materials=[
            MaterialLine(
                item=str(material["item"]),
                description=str(material.get("description", "")),
                quantity=float(material["quantity"]),
                unit=str(material.get("unit", "pcs")),
                unit_cost=float(material["unit_cost"]),
                steps=[line.step],
            )
            for line in lines
            for material in line.materials
        ],
        quantities={line.step: line.quantity for line in lines},
        units=units,
        opportunity_id=opportunity.id,
    )


def quote_of(*, session: Session, quote_id: str) -> ConsortiumQuote | None:
    return session.get(ConsortiumQuote, quote_id)


def _on_behalf(actor: Actor) -> Actor:
    """The caller who confirmed (a customer, for their own quote) moves the opportunity on as
    the network would: the trail names them."""
    return Actor(principal_id=actor.principal_id, name=actor.name, role=Role.COORDINATOR)


def won(session: Session, quote: Quote, order: Order, actor: Actor, now: datetime) -> None:
    """A consortium's quote became ``order``: its opportunity is won (see the module)."""
    link = quote_of(session=session, quote_id=quote.id)
    if link is None:
        return
    opportunities.transition(
        session=session,
        actor=_on_behalf(actor),
        opportunity_id=link.opportunity_id,
        to=OpportunityStatus.WON,
        note=f"quote {quote.id} confirmed by {actor.name}: order {order.id}",
        now=now,
    )


def agreed_terms(session: Session, order: Order) -> AgreedTerms | None:
    """The revenue shares of the consortium revision that quoted ``order``, if one did."""
    link = quote_of(session=session, quote_id=order.quote_id)
    consortium = None if link is None else session.get(Consortium, link.consortium_id)
    if link is None or consortium is None:
        return None
    revision = service.revision_of(session=session, consortium=consortium, number=link.revision)
    members = service.members_of(session=session, revision=revision)
    return AgreedTerms(shares=ledger_terms.unit_shares(members))


def released(session: Session, quote: Quote, actor: Actor, now: datetime) -> None:
    """A consortium's quote is no longer on offer. Refused by the customer, the opportunity is
    lost; withdrawn by the network or expired unanswered, it is forming again, to be quoted
    anew (the trail says which quote, and when it expired). Only an opportunity still quoted,
    and by no other live quote, moves: the coordinator may have moved it first (to forming and
    quoted again, or lost), and then the quote's release changes nothing of it."""
    link = quote_of(session=session, quote_id=quote.id)
    if link is None or _other_live_quote(session, link, now):
        return
    if quote.status is QuoteStatus.REFUSED:
        to, note = OpportunityStatus.LOST, f"quote {quote.id} refused by {actor.name}"
    elif quote.status is QuoteStatus.EXPIRED:
        to, note = OpportunityStatus.FORMING, f"quote {quote.id} expired at {_when(quote)}"
    else:
        to, note = OpportunityStatus.FORMING, f"quote {quote.id} withdrawn by {actor.name}"
    opportunities.transition_if(
        session=session,
        actor=_on_behalf(actor),
        opportunity_id=link.opportunity_id,
        expected=OpportunityStatus.QUOTED,
        to=to,
        note=note,
        now=now,
    )


def _other_live_quote(session: Session, link: ConsortiumQuote, now: datetime) -> bool:
    """Whether another quote of the opportunity is still open and valid."""
    query = (
        select(Quote.id)
        .join(ConsortiumQuote, ConsortiumQuote.quote_id == Quote.id)
        .where(
            ConsortiumQuote.opportunity_id == link.opportunity_id,
            Quote.id != link.quote_id,
            Quote.status == QuoteStatus.OPEN,
            Quote.valid_until > now,
        )
    )
    return session.scalars(query.limit(1)).first() is not None


def _when(quote: Quote) -> str:
    return f"{quote.valid_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


orders_flows.QUOTE_CONFIRMED.append(won)
orders_flows.QUOTE_RELEASED.append(released)
# Before the ledger's own reader (the opportunity's consortium as it is now): a quote records the
# revision it priced, so a consortium revised after the confirmation does not change the split.
ledger_terms.AGREED_TERMS_SOURCES.insert(0, agreed_terms)
