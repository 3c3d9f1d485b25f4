"""Quotes and orders across domains: work → what-if plan → quote → order.

The work is a customer's configured revision (its family's work breakdown), or an opportunity's
work as a consortium quotes it (a configured revision, or a call for tenders' lines):
:class:`QuotedWork` says which, and the order keeps it (configuration and option values, or
none of them and the opportunity).

A quote's promised date is not a fixed lead time: the new order is planned on top of every open
operation of the network and every machine time other open quotes hold (what-if), and its end
(its arrival at the customer's site, for work that has one: the road time from the plant of
each last operation, :func:`delivery_legs`) plus a safety margin is the promise. The quote then
holds the machine time of its plan until it expires (:class:`CapacityHold`), and is priced from
the members that plan puts it on (:mod:`cloud.orders.pricing`). Quotes are made one at a time
per network (:func:`cloud.dispatch.service.lock_promises`), so two of them never promise the
same time.
Confirming a quote turns its holds into the order's operations and asks for a re-plan; refusing
or withdrawing it releases them. A quote nobody answered stops holding at its ``valid_until``,
and the dispatcher's next tick marks it expired (:func:`expire_quote`), which releases it the
same way.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.codesign import service as codesign_service
from cloud.codesign.configure import MaterialLine, PlannedOperation, work_breakdown
from cloud.config import OrdersSettings
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import planning
from cloud.dispatch import service as dispatch_service
from cloud.exceptions import Conflict, InvalidInput
from cloud.geo import Location, distance_km
from cloud.notifications.models import NotificationEvent
from cloud.orders import notices, pricing, service
from cloud.orders.models import (
    CapacityHold,
    OperationStatus,
    Order,
    OrderOperation,
    PriceLine,
    Quote,
    QuoteBreakdown,
    QuoteCreate,
    QuoteRead,
    QuoteStatus,
)
from cloud.registry import service as registry_service
from cloud.suppliers import flows as supplier_flows
from cloud.suppliers import service as supplier_service
from cloud.suppliers.matching import MaterialNeed, match_materials

_LOGGER = logging.getLogger(__name__)
SECONDS_PER_MINUTE = 60

QuoteConfirmed = Callable[[Session, Quote, Order, Actor, datetime], None]
QUOTE_CONFIRMED: list[QuoteConfirmed] = []
"""Called in the confirming transaction once a quote is an order; a domain that quoted for
something of its own (a consortium's opportunity) adds its reaction here."""
QuoteReleased = Callable[[Session, Quote, Actor, datetime], None]
QUOTE_RELEASED: list[QuoteReleased] = []
"""Called in the same transaction once a quote is refused, withdrawn or expired (its
``status``); for an expiry the actor is :data:`QUOTE_EXPIRY`."""


@dataclass(frozen=True)
class DeliverySite:
    """Where the finished work goes (an opportunity's site); ``location`` None: not known."""

    name: str
    location: Location | None


@dataclass(frozen=True)
class QuotedWork:
    """What a quote is for, and the work it plans.

    Either a customer's configured revision (``configuration_id`` and ``revision``; its
    family's price ``formula`` is the fallback when no member of the plan has rates), or an
    opportunity's (``opportunity_id``): a consortium's quote, of a configured revision or of a
    call for tenders' lines. Lines have no formula: members without rates are priced at the
    network's default rate. ``quantity``, ``quantities`` and ``units``: see
    :func:`_work_json`; ``site``: where it is delivered (none: a customer's own quote, which
    names no site, is priced and promised at the plants)."""

    customer_id: str
    currency: str
    operations: Sequence[PlannedOperation]
    materials: Sequence[MaterialLine]
    quantity: int = 1
    quantities: Mapping[str, int] = field(default_factory=dict)
    units: Mapping[str, Sequence[str]] = field(default_factory=dict)
    configuration_id: str | None = None
    revision: int | None = None
    opportunity_id: str | None = None
    formula: tuple[str, float] | None = None
    """The family's name and its price for the quantity."""
    site: DeliverySite | None = None


def _work_json(
    operations: Sequence[PlannedOperation],
    materials: Sequence[MaterialLine],
    quantity: int = 1,
    units: Mapping[str, Sequence[str]] | None = None,
    quantities: Mapping[str, int] | None = None,
) -> dict[str, object]:
    """The quote's work: ``quantity`` products made as one batch per step (each step's time
    and materials times the quantity, one setup); ``units``: by step, the only members whose
    machines may do it (a consortium's choice), carried to every plan of the order.

    Each step's ``quantity`` is the parts its job order asks the machine for: ``quantity``, or
    the step's own in ``quantities`` (a call for tenders' line, whose time is the whole line's
    already)."""
    units = units or {}
    quantities = quantities or {}
    return {
        "operations": [
            {
                "step": op.id,
                "name": op.name,
                "process": op.process,
                "quantity": quantities.get(op.id, quantity),
                "duration_s": op.duration_min * SECONDS_PER_MINUTE * quantity,
                "predecessors": op.predecessors,
                "requirements": op.capability_requirements,
                "certifications": op.certifications,
                **_machine_work(op, quantity),
                **({"units": list(units[op.id])} if op.id in units else {}),
            }
            for op in operations
        ],
        "materials": [m.__dict__ | {"quantity": m.quantity * quantity} for m in materials],
        "total_duration_s": sum(op.duration_min for op in operations)
        * SECONDS_PER_MINUTE
        * quantity,
    }


def _machine_work(op: PlannedOperation, quantity: int = 1) -> dict[str, object]:
    """A step's own times on given machines and its setup, in seconds, when it has them."""
    found: dict[str, object] = {}
    if op.duration_min_on:
        found["machine_durations_s"] = {
            key: minutes * SECONDS_PER_MINUTE * quantity
            for key, minutes in op.duration_min_on.items()
        }
    if op.operator_skill is not None:
        found["operator_skill"] = op.operator_skill
        found["attended"] = op.attended
    if op.setup_family is not None:
        found["setup_family"] = op.setup_family
        found["setup_s"] = {
            name: minutes * SECONDS_PER_MINUTE for name, minutes in op.setup_min.items()
        }
    return found


def _candidate_job(
    order_id: str, work: dict[str, object], releases: dict[str, datetime] | None = None
) -> planning.PlanJob:
    """``releases``: when each step's purchased materials would be in (none: in stock)."""
    operations = work["operations"]
    releases = releases or {}
    assert isinstance(operations, list)
    return planning.PlanJob(
        order_id,
        [
            planning.PlanOperation(
                key=-index - 1,
                step=op["step"],
                process=op["process"],
                duration_s=op["duration_s"],
                predecessors=op["predecessors"],
                requirements=op["requirements"],
                certifications=op["certifications"],
                **planning.machine_work(op),
                release=releases.get(op["step"]),
            )
            for index, op in enumerate(operations)
        ],
    )


def configured_work(
    *,
    session: Session,
    actor: Actor,
    families: codesign_service.Families,
    spec: QuoteCreate,
    quantity: int = 1,
    units: Mapping[str, Sequence[str]] | None = None,
) -> QuotedWork:
    """The work of a valid configured revision the caller may read (422 when invalid)."""
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
    work = work_breakdown(family, revision.values)
    return QuotedWork(
        customer_id=configuration.customer_id,
        currency=work.currency,
        operations=work.operations,
        materials=work.materials,
        quantity=quantity,
        units=units or {},
        configuration_id=configuration.id,
        revision=number,
        formula=(family.name, work.price * quantity),
    )


def create_quote(
    *,
    session: Session,
    actor: Actor,
    families: codesign_service.Families,
    settings: OrdersSettings,
    network_id: str,
    spec: QuoteCreate,
    now: datetime,
) -> Quote:
    """The quote of a valid configured revision (see :func:`quote_work`)."""
    work = configured_work(session=session, actor=actor, families=families, spec=spec)
    return quote_work(session=session, settings=settings, network_id=network_id, work=work, now=now)


def quote_work(
    *,
    session: Session,
    settings: OrdersSettings,
    network_id: str,
    work: QuotedWork,
    now: datetime,
) -> Quote:
    """Price, promised date and held machine time of ``work``, from a what-if plan of the
    network."""
    work_json = _work_json(
        work.operations, work.materials, work.quantity, work.units, work.quantities
    )
    quote_id = f"q-{secrets.token_hex(6)}"
    releases = supplier_flows.step_releases(
        session=session,
        network_id=network_id,
        work=work_json,
        currency=work.currency,
        now=now,
        time_scale=settings.time_scale,
    )
    job = _candidate_job(quote_id, work_json, releases)
    dispatch_service.lock_promises(session=session, network_id=network_id)
    session.execute(delete(CapacityHold).where(CapacityHold.valid_until <= now))
    plan = dispatch_flows.what_if(
        session=session, network_id=network_id, settings=settings, job=job, now=now
    )
    legs = delivery_legs(session=session, site=work.site, job=job, plan=plan)
    arrival = max([plan.end, *(leg.arrives(settings.time_scale) for leg in legs)])
    promised = now + (arrival - now) * (1 + settings.promise_margin)
    valid_until = now + timedelta(seconds=settings.quote_validity_s / settings.time_scale)
    steps = _planned_steps(job, plan, work_json)
    breakdown = pricing.price(
        steps=steps,
        materials=_supplied_materials(session, network_id, work_json, work.currency),
        rates=_member_rates(session, network_id),
        distance_km=_road_km(session),
        settings=settings.pricing,
        currency=work.currency,
        formula=work.formula,
        deliveries=[leg.delivery for leg in legs],
    )
    if legs:
        work_json["delivery"] = [leg.as_json() for leg in legs]
    quote = Quote(
        id=quote_id,
        configuration_id=work.configuration_id,
        revision=work.revision,
        opportunity_id=work.opportunity_id,
        customer_id=work.customer_id,
        price=breakdown["total"],
        currency=work.currency,
        promised_at=promised,
        valid_until=valid_until,
        work=work_json,
        created_at=now,
        status=QuoteStatus.OPEN,
        breakdown=breakdown,
    )
    session.add(quote)
    session.flush()
    session.add_all(_holds(quote, job, plan))
    # A plan running meanwhile did not see these holds: it must not clear the request.
    dispatch_service.request_replan(
        session=session, network_id=network_id, reason=f"quote {quote.id} holds machine time"
    )
    _LOGGER.info(
        "quote %s: %.2f %s (%s), promised %s",
        quote.id,
        quote.price,
        quote.currency,
        breakdown["basis"],
        promised,
    )
    return quote


@dataclass(frozen=True)
class DeliveryLeg:
    """The work of the last ``delivery.steps`` leaving its plant at ``ready`` (wall clock)."""

    delivery: pricing.Delivery
    ready: datetime

    def arrives(self, time_scale: float) -> datetime:
        """At the site, the road time (plant hours) later on the wall clock."""
        return self.ready + timedelta(seconds=self.delivery.hours * 3600 / time_scale)

    def as_json(self) -> dict[str, object]:
        return {
            "unit_id": self.delivery.unit_id,
            "steps": list(self.delivery.steps),
            "site": self.delivery.site,
            "km": round(self.delivery.km, 1),
            "hours": round(self.delivery.hours, 3),
        }


def delivery_legs(
    *,
    session: Session,
    site: DeliverySite | None,
    job: planning.PlanJob,
    plan: dispatch_flows.WhatIf,
) -> list[DeliveryLeg]:
    """The legs from the plants of the work's last operations (those no other one follows) to
    ``site``, one per plant, leaving when its last of them ends: by road, as between two
    plants (great-circle km x the detour factor, at the registry's road speed). None without
    a site; a site of unknown location is a 409 that says so (nothing is held or quoted)."""
    if site is None:
        return []
    if site.location is None:
        raise Conflict(
            f"the delivery site {site.name or '(unnamed)'} has no known location: its transport "
            "can be neither priced nor added to the promised date; give its latitude and longitude"
        )
    followed = {before for op in job.operations for before in op.predecessors}
    ends: dict[str, list[tuple[str, datetime]]] = {}
    for op in job.operations:
        if op.step not in followed:
            placed = plan.assignments[op.key]
            ends.setdefault(placed.unit_id, []).append((op.step, placed.end))
    legs = []
    for unit_id, last in sorted(ends.items()):
        unit = registry_service.get_unit_row(session=session, unit_id=unit_id)
        plant = Location(unit.latitude, unit.longitude)
        km = distance_km(plant, site.location) * registry_service.ROAD_DETOUR_FACTOR
        hours = registry_service.road_hours(plant, site.location)
        delivery = pricing.Delivery(
            unit_id=unit_id,
            steps=tuple(step for step, _end in last),
            site=site.name or "the site",
            km=km,
            hours=hours,
        )
        legs.append(DeliveryLeg(delivery, max(end for _step, end in last)))
    return legs


def _planned_steps(
    job: planning.PlanJob, plan: dispatch_flows.WhatIf, work: dict[str, Any]
) -> list[pricing.PlannedStep]:
    names = {op["step"]: op["name"] for op in work["operations"]}
    steps = []
    for op in job.operations:
        placed = plan.assignments[op.key]
        machine = plan.machines[dispatch_service.machine_key(placed.unit_id, placed.machine)]
        steps.append(
            pricing.PlannedStep(
                step=op.step,
                name=names[op.step],
                process=op.process,
                unit_id=placed.unit_id,
                machine=placed.machine,
                machine_hours=planning.true_duration_s(op, machine) / 3600,
                predecessors=tuple(op.predecessors),
            )
        )
    return steps


QUOTED_MATCH = (
    "supplier_id",
    "supplier",
    "unit_price",
    "price",
    "currency",
    "lead_time_days",
    "local",
)
"""What a quote keeps of a material line's supplier: its confirmation buys from that one."""


def _supplied_materials(
    session: Session, network_id: str, work: dict[str, Any], currency: str
) -> list[pricing.Material]:
    """The bill of materials priced by the network's suppliers: each line at the cheapest offer
    in the quote's currency (recorded in ``work`` for the purchase on confirmation), a line
    nobody offers at its bill-of-materials cost (the line says why)."""
    lines = work["materials"]
    matched = match_materials(
        [MaterialNeed.from_json(line) for line in lines],
        supplier_service.network_offers(session=session, network_id=network_id),
        currency=currency,
    )
    priced = []
    for line, match in zip(lines, matched, strict=True):
        if match.matched and match.unit_price is not None:
            line.update({key: getattr(match, key) for key in QUOTED_MATCH})
            source = f"from {match.supplier}" + (", local" if match.local else "")
            priced.append(
                pricing.Material(
                    line["item"],
                    line["description"],
                    match.quantity,
                    match.unit,
                    match.unit_price,
                    source,
                )
            )
        else:
            source = f"bill-of-materials cost: {'; '.join(match.reasons)}"
            priced.append(
                pricing.Material(
                    line["item"],
                    line["description"],
                    line["quantity"],
                    line["unit"],
                    line["unit_cost"],
                    source,
                )
            )
    return priced


def _holds(quote: Quote, job: planning.PlanJob, plan: dispatch_flows.WhatIf) -> list[CapacityHold]:
    holds = []
    for op in job.operations:
        placed = plan.assignments[op.key]
        holds.append(
            CapacityHold(
                quote_id=quote.id,
                step=op.step,
                unit_id=placed.unit_id,
                machine=placed.machine,
                starts_at=placed.setup_start or placed.start,
                work_starts_at=placed.start,
                ends_at=placed.end,
                valid_until=quote.valid_until,
            )
        )
    return holds


def _member_rates(session: Session, network_id: str) -> dict[str, pricing.MemberRates]:
    by_process = registry_service.network_rates(session=session, network_id=network_id)
    found = {}
    for unit in registry_service.network_units(session=session, network_id=network_id):
        hourly = unit.sharing_policy.get("hourly_rate")
        found[unit.id] = pricing.MemberRates(
            by_process={
                process: pricing.Rate(row.hourly_rate, row.setup_cost)
                for process, row in by_process.get(unit.id, {}).items()
            },
            hourly_rate=None if hourly is None else float(hourly),
        )
    return found


def _road_km(session: Session) -> Callable[[str, str], float]:
    def distance(from_unit: str, to_unit: str) -> float:
        a = registry_service.get_unit_row(session=session, unit_id=from_unit)
        b = registry_service.get_unit_row(session=session, unit_id=to_unit)
        km = distance_km(Location(a.latitude, a.longitude), Location(b.latitude, b.longitude))
        return km * registry_service.ROAD_DETOUR_FACTOR

    return distance


CUSTOMER_MATERIAL_FIELDS = frozenset({"item", "description", "quantity", "unit", "steps"})
"""What a customer's view of its quote's materials keeps: what the work needs. Who supplies
each, at what price (quoted or agreed), and the bill of materials' cost stay out, whatever
other fields a line gains (the breakdown shows a customer the total only)."""


def read_quote(*, actor: Actor, quote: Quote) -> QuoteRead:
    """A quote as ``actor`` may see it: a customer its work without what the network pays for
    it (each material's supplier, price and cost; the delivery legs, priced by the km), as
    :func:`breakdown` keeps the lines from it; a coordinator everything."""
    read = QuoteRead.model_validate(quote)
    if actor.role is Role.CUSTOMER:
        work = {key: value for key, value in read.work.items() if key != "delivery"}
        work["materials"] = [
            {key: value for key, value in line.items() if key in CUSTOMER_MATERIAL_FIELDS}
            for line in read.work.get("materials", [])
        ]
        read.work = work
    return read


def breakdown(*, session: Session, actor: Actor, quote_id: str) -> QuoteBreakdown:
    """A quote's price as ``actor`` may see it: the customer the total and the options it
    chose, a member (plant) its own lines only, the coordinator everything."""
    require_role(actor, Role.COORDINATOR, Role.CUSTOMER, Role.PLANT)
    quote = service.get_priced_quote(session=session, actor=actor, quote_id=quote_id)
    stored = quote.breakdown
    lines = [PriceLine.model_validate(line) for line in stored.get("lines", [])]
    if actor.role is Role.PLANT:
        return QuoteBreakdown(
            quote_id=quote.id,
            currency=quote.currency,
            lines=[line for line in lines if line.unit_id == actor.unit_id],
        )
    configured = _configured(session, actor, quote)
    shown = QuoteBreakdown(
        quote_id=quote.id,
        currency=quote.currency,
        opportunity_id=quote.opportunity_id,
        options=None if configured is None else configured[1],
        total=quote.price,
    )
    if actor.role is Role.COORDINATOR:
        shown.basis = stored.get("basis")
        shown.note = stored.get("note")
        shown.lines = lines
        shown.subtotal = stored.get("subtotal")
        shown.margin = stored.get("margin")
    return shown


def _configured(session: Session, actor: Actor, quote: Quote) -> tuple[str, dict[str, Any]] | None:
    """The family and option values of a quote's configured revision; None for a call for
    tenders' (no configuration)."""
    if quote.configuration_id is None or quote.revision is None:
        return None
    configuration = codesign_service.get_configuration_row(
        session=session, actor=actor, configuration_id=quote.configuration_id
    )
    revision = codesign_service.get_revision(
        session=session, configuration=configuration, number=quote.revision
    )
    return configuration.family_id, dict(revision.values)


def _open_quote(session: Session, actor: Actor, quote_id: str, now: datetime) -> Quote:
    """The caller's quote, still open and valid, with the promises locked (see module)."""
    quote = service.get_quote(session=session, actor=actor, quote_id=quote_id)
    if quote.order_id is not None:
        raise Conflict(f"quote {quote_id} is already order {quote.order_id}")
    if quote.status is QuoteStatus.EXPIRED or (
        quote.status is QuoteStatus.OPEN and quote.valid_until < now
    ):
        raise Conflict(f"quote {quote_id} expired at {quote.valid_until.isoformat()}: ask again")
    if quote.status is not QuoteStatus.OPEN:
        raise Conflict(f"quote {quote_id} was {quote.status.value}")
    return quote


def confirm_quote(
    *,
    session: Session,
    actor: Actor,
    network_id: str,
    quote_id: str,
    now: datetime,
    time_scale: float = 1.0,
) -> Order:
    """The customer (or a coordinator for them) accepts a quote: it becomes an order, whose
    operations start where the quote held their machine time, and its materials are requested
    from suppliers (their deliveries release the steps that need them; ``time_scale``: plant
    seconds per real second, for the suppliers' lead times)."""
    require_role(actor, Role.CUSTOMER, Role.COORDINATOR)
    dispatch_service.lock_promises(session=session, network_id=network_id)
    quote = _open_quote(session, actor, quote_id, now)
    family_id, values = _configured(session, actor, quote) or (None, {})
    order = Order(
        id=f"ord-{secrets.token_hex(5)}",
        quote_id=quote.id,
        configuration_id=quote.configuration_id,
        opportunity_id=quote.opportunity_id,
        customer_id=quote.customer_id,
        family_id=family_id,
        values=values,
        price=quote.price,
        currency=quote.currency,
        promised_at=quote.promised_at,
        created_at=now,
    )
    session.add(order)
    session.flush()
    holds = {hold.step: hold for hold in service.holds_of(session=session, quote_id=quote.id)}
    for position, op in enumerate(quote.work["operations"]):
        operation = OrderOperation(
            order_id=order.id,
            position=position,
            step=op["step"],
            name=op["name"],
            process=op["process"],
            quantity=op.get("quantity", 1),
            duration_s=op["duration_s"],
            predecessors=op["predecessors"],
            requirements=op["requirements"],
            certifications=op["certifications"],
            excluded=[],
            history=[],
        )
        hold = holds.get(op["step"])
        if hold is not None:
            operation.status = OperationStatus.PLANNED
            operation.unit_id, operation.machine = hold.unit_id, hold.machine
            operation.planned_setup_start = (
                hold.starts_at if hold.starts_at < hold.work_starts_at else None
            )
            operation.planned_start, operation.planned_end = hold.work_starts_at, hold.ends_at
        session.add(operation)
    session.execute(delete(CapacityHold).where(CapacityHold.quote_id == quote.id))
    quote.order_id = order.id
    quote.status = QuoteStatus.CONFIRMED
    supplier_flows.purchase_materials(
        session=session,
        network_id=network_id,
        order=order,
        quote=quote,
        now=now,
        time_scale=time_scale,
    )
    for react in QUOTE_CONFIRMED:
        react(session, quote, order, actor, now)
    notices.tell_customer(session, order, NotificationEvent.ORDER_CONFIRMED, now)
    dispatch_service.request_replan(
        session=session, network_id=network_id, reason=f"new order {order.id}"
    )
    _LOGGER.info("order %s confirmed from quote %s", order.id, quote.id)
    return order


def release_quote(
    *,
    session: Session,
    actor: Actor,
    network_id: str,
    quote_id: str,
    status: QuoteStatus,
    now: datetime,
) -> Quote:
    """The customer refuses a quote (or a coordinator for them), or the network withdraws it
    (a coordinator): its held machine time is free again."""
    if status is QuoteStatus.WITHDRAWN:
        require_role(actor, Role.COORDINATOR)
    else:
        require_role(actor, Role.CUSTOMER, Role.COORDINATOR)
    dispatch_service.lock_promises(session=session, network_id=network_id)
    quote = _open_quote(session, actor, quote_id, now)
    quote.status = status
    session.execute(delete(CapacityHold).where(CapacityHold.quote_id == quote.id))
    for react in QUOTE_RELEASED:
        react(session, quote, actor, now)
    dispatch_service.request_replan(
        session=session, network_id=network_id, reason=f"quote {quote.id} {status.value}"
    )
    _LOGGER.info("quote %s %s", quote.id, status.value)
    return quote


QUOTE_EXPIRY = Actor(principal_id=0, name="quote expiry", role=Role.COORDINATOR)
"""Who expires quotes, in the trails their reactions write."""


def expired_quotes(*, session: Session, now: datetime) -> list[str]:
    """The open quotes past their ``valid_until`` at ``now``, oldest first."""
    query = select(Quote.id).where(Quote.status == QuoteStatus.OPEN, Quote.valid_until <= now)
    return list(session.scalars(query.order_by(Quote.valid_until, Quote.id)))


def expire_quote(
    *, session: Session, network_id: str, quote_id: str, now: datetime
) -> Quote | None:
    """Mark an open quote past its ``valid_until`` expired: its holds go (plans stopped counting
    them at ``valid_until`` already), the reactions of :data:`QUOTE_RELEASED` run (a
    consortium's opportunity goes back to forming), and the plan is made again.

    The change is a conditional update from "open" under the promises' lock, as confirming,
    refusing and withdrawing are: of a sweep and a confirmation, or of two sweeps (two
    coordinators, a lock handed over), exactly one acts and the other finds nothing to do.
    ``None``: the quote was not open and expired (any more)."""
    dispatch_service.lock_promises(session=session, network_id=network_id)
    changed = session.execute(
        update(Quote)
        .where(
            Quote.id == quote_id,
            Quote.status == QuoteStatus.OPEN,
            Quote.valid_until <= now,
        )
        .values(status=QuoteStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    quote = session.get_one(Quote, quote_id)
    session.refresh(quote)
    session.execute(delete(CapacityHold).where(CapacityHold.quote_id == quote.id))
    for react in QUOTE_RELEASED:
        react(session, quote, QUOTE_EXPIRY, now)
    dispatch_service.request_replan(
        session=session, network_id=network_id, reason=f"quote {quote.id} expired"
    )
    _LOGGER.info("quote %s expired at %s", quote.id, quote.valid_until.isoformat())
    return quote
