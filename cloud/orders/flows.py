"""Quotes and orders across domains: configuration → work → what-if plan → quote → order.

A quote's promised date is not a fixed lead time: the new order is planned on top of every open
operation of the network (what-if, nothing written), and its end plus a safety margin is the
promise. Confirming a quote creates the order and its operations and asks for a re-plan.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.codesign import service as codesign_service
from cloud.codesign.configure import PlannedOperation, WorkBreakdown, work_breakdown
from cloud.config import OrdersSettings
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import planning
from cloud.dispatch import service as dispatch_service
from cloud.exceptions import Conflict, InvalidInput
from cloud.notifications.models import NotificationEvent
from cloud.orders import notices, service
from cloud.orders.models import Order, OrderOperation, Quote, QuoteCreate
from cloud.suppliers import flows as supplier_flows

_LOGGER = logging.getLogger(__name__)
SECONDS_PER_MINUTE = 60

QuoteConfirmed = Callable[[Session, Quote, Order, Actor, datetime], None]
QUOTE_CONFIRMED: list[QuoteConfirmed] = []
"""Called in the confirming transaction once a quote is an order; a domain that quoted for
something of its own (a consortium's opportunity) adds its reaction here."""


def _work_json(
    work: WorkBreakdown,
    quantity: int = 1,
    units: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, object]:
    """The quote's work: ``quantity`` products made as one batch per step (each step's time
    and materials times the quantity, one setup); ``units``: by step, the only members whose
    machines may do it (a consortium's choice), carried to every plan of the order."""
    units = units or {}
    return {
        "operations": [
            {
                "step": op.id,
                "name": op.name,
                "process": op.process,
                "duration_s": op.duration_min * SECONDS_PER_MINUTE * quantity,
                "predecessors": op.predecessors,
                "requirements": op.capability_requirements,
                "certifications": op.certifications,
                **_machine_work(op, quantity),
                **({"units": list(units[op.id])} if op.id in units else {}),
            }
            for op in work.operations
        ],
        "materials": [m.__dict__ | {"quantity": m.quantity * quantity} for m in work.materials],
        "total_duration_s": work.total_duration_min * SECONDS_PER_MINUTE * quantity,
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


def create_quote(
    *,
    session: Session,
    actor: Actor,
    families: codesign_service.Families,
    settings: OrdersSettings,
    network_id: str,
    spec: QuoteCreate,
    now: datetime,
    quantity: int = 1,
    units: Mapping[str, Sequence[str]] | None = None,
) -> Quote:
    """Price and promised date of a valid revision, from a what-if plan of the network
    (``quantity`` and ``units``: see :func:`_work_json`)."""
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
    work_json = _work_json(work, quantity, units)
    quote_id = f"q-{secrets.token_hex(6)}"
    end = dispatch_flows.what_if(
        session=session,
        network_id=network_id,
        settings=settings,
        job=_candidate_job(
            quote_id,
            work_json,
            supplier_flows.step_releases(
                session=session,
                network_id=network_id,
                work=work_json,
                currency=work.currency,
                now=now,
                time_scale=settings.time_scale,
            ),
        ),
        now=now,
    )
    promised = now + (end - now) * (1 + settings.promise_margin)
    quote = Quote(
        id=quote_id,
        configuration_id=configuration.id,
        revision=number,
        customer_id=configuration.customer_id,
        price=round(work.price * quantity, 2),
        currency=work.currency,
        promised_at=promised,
        valid_until=now + timedelta(seconds=settings.quote_validity_s / settings.time_scale),
        work=work_json,
        created_at=now,
    )
    session.add(quote)
    session.flush()
    _LOGGER.info("quote %s: %.2f %s, promised %s", quote.id, quote.price, quote.currency, promised)
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
    """The customer (or a coordinator for them) accepts a quote: it becomes an order, and its
    materials are requested from suppliers (their deliveries release the steps that need them;
    ``time_scale``: plant seconds per real second, for the suppliers' lead times)."""
    require_role(actor, Role.CUSTOMER, Role.COORDINATOR)
    quote = service.get_quote(session=session, actor=actor, quote_id=quote_id)
    if quote.order_id is not None:
        raise Conflict(f"quote {quote_id} is already order {quote.order_id}")
    if quote.valid_until < now:
        raise Conflict(f"quote {quote_id} expired at {quote.valid_until.isoformat()}: ask again")
    configuration = codesign_service.get_configuration_row(
        session=session, actor=actor, configuration_id=quote.configuration_id
    )
    revision = codesign_service.get_revision(
        session=session, configuration=configuration, number=quote.revision
    )
    order = Order(
        id=f"ord-{secrets.token_hex(5)}",
        quote_id=quote.id,
        configuration_id=configuration.id,
        customer_id=quote.customer_id,
        family_id=configuration.family_id,
        values=dict(revision.values),
        price=quote.price,
        currency=quote.currency,
        promised_at=quote.promised_at,
        created_at=now,
    )
    session.add(order)
    session.flush()
    for position, op in enumerate(quote.work["operations"]):
        session.add(
            OrderOperation(
                order_id=order.id,
                position=position,
                step=op["step"],
                name=op["name"],
                process=op["process"],
                duration_s=op["duration_s"],
                predecessors=op["predecessors"],
                requirements=op["requirements"],
                certifications=op["certifications"],
                excluded=[],
                history=[],
            )
        )
    quote.order_id = order.id
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
