"""Purchasing across domains: a confirmed order buys its materials, and a delivery or a delay
re-plans the operations that wait for them.

A purchase request's expected delivery is the release date of the operations that consume its
material (the family data's ``steps`` of a material, by default the job's first steps): the
plan starts none of them earlier, and the dispatcher sends none of them before. A purchase not
recorded as delivered by its expected date is taken to be on time: record a delay to hold the
operations back, or the delivery to let them start earlier.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.dispatch import service as dispatch_service
from cloud.exceptions import InvalidInput
from cloud.orders.models import Order, Quote
from cloud.suppliers import service
from cloud.suppliers.matching import (
    LocalRule,
    MatchedLine,
    MaterialNeed,
    Offer,
    Site,
    match_materials,
)
from cloud.suppliers.models import (
    DelayRecord,
    DeliveryRecord,
    MatchRequest,
    PurchaseRequest,
)

_LOGGER = logging.getLogger(__name__)


def first_steps(operations: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The steps of a quoted job that wait for nothing (where material enters by default)."""
    return tuple(str(op["step"]) for op in operations if not op.get("predecessors"))


def quoted_lines(work: Mapping[str, Any]) -> list[MaterialNeed]:
    """A quote's material lines (``quote.work``), each with the steps that consume it."""
    default = first_steps(work.get("operations", []))
    needs = []
    for line in work.get("materials", []):
        need = MaterialNeed.from_json(line)
        needs.append(need if need.steps else MaterialNeed(**{**need.__dict__, "steps": default}))
    return needs


def supplied_lines(
    *, session: Session, network_id: str, work: Mapping[str, Any], currency: str
) -> list[MatchedLine]:
    """The material lines of ``work`` that suppliers deliver, each with its supplier: as the
    quote matched it (``supplier_id``: priced from a supplier, local first under the
    opportunity's rule), else the cheapest offer in ``currency``. A line nobody offers is left
    out (taken from stock, as before suppliers)."""
    needs = quoted_lines(work)
    if not needs:
        return []
    offers = service.network_offers(session=session, network_id=network_id)
    matched = match_materials(needs, offers, currency=currency)
    chosen = []
    for line, fresh, need in zip(work.get("materials", []), matched, needs, strict=True):
        line_choice = _as_quoted(line, need, offers, currency) or fresh
        if line_choice.matched:
            chosen.append(line_choice)
        else:
            _LOGGER.info("%s not purchased (%s)", need.item, "; ".join(line_choice.reasons))
    return chosen


def step_releases(
    *,
    session: Session,
    network_id: str,
    work: Mapping[str, Any],
    currency: str,
    now: datetime,
    time_scale: float,
) -> dict[str, datetime]:
    """Per step of a quoted job, when its purchased materials would all be in if ordered now
    (a quote's what-if plan starts no step earlier)."""
    releases: dict[str, datetime] = {}
    for line in supplied_lines(
        session=session, network_id=network_id, work=work, currency=currency
    ):
        at = now + service.lead_time(line, time_scale)
        for step in line.steps:
            releases[step] = max(releases.get(step, at), at)
    return releases


def purchase_materials(
    *,
    session: Session,
    network_id: str,
    order: Order,
    quote: Quote,
    now: datetime,
    time_scale: float,
) -> list[PurchaseRequest]:
    """The confirmation's purchase requests: one per material line a supplier delivers
    (:func:`supplied_lines`), expected after its lead time."""
    purchases = [
        service.add_purchase(
            session=session, order_id=order.id, line=line, now=now, time_scale=time_scale
        )
        for line in supplied_lines(
            session=session, network_id=network_id, work=quote.work, currency=quote.currency
        )
    ]
    session.flush()
    if purchases:
        _LOGGER.info("order %s: %d purchase requests", order.id, len(purchases))
    return purchases


def _as_quoted(
    line: Mapping[str, Any], need: MaterialNeed, offers: Sequence[Offer], currency: str
) -> MatchedLine | None:
    """The quote's own choice of supplier for a line (``supplier_id``, as pricing or a
    consortium's selection wrote it), at the price a consortium agreed with it
    (``agreed_unit_price``), else at the quoted price and lead time where the line has them,
    else at that supplier's current offer; None when the supplier no longer offers it."""
    supplier_id = line.get("supplier_id")
    offer = next(
        (o for o in offers if o.supplier.supplier_id == supplier_id and o.item == need.item), None
    )
    if offer is None:
        return None
    # The line's price, lead time and locality are the quote's only if it quoted this very
    # supplier: a consortium may name another one after pricing matched the cheapest.
    quoted: Mapping[str, Any] = line if line.get("supplier") == offer.company else {}
    try:
        unit_price = float(quoted.get("unit_price", offer.unit_price))
        lead_time_days = float(quoted.get("lead_time_days", offer.lead_time_days))
    except (TypeError, ValueError):
        unit_price, lead_time_days = offer.unit_price, offer.lead_time_days
    agreed = line.get("agreed_unit_price")
    if isinstance(agreed, int | float) and math.isfinite(agreed) and agreed >= 0:
        unit_price = float(agreed)
    return MatchedLine(
        item=need.item,
        description=need.description,
        quantity=need.quantity,
        unit=need.unit,
        steps=need.steps,
        supplier_id=offer.supplier.supplier_id,
        supplier=offer.company,
        unit_price=unit_price,
        price=round(unit_price * need.quantity, 2),
        currency=str(quoted.get("currency") or offer.currency or currency),
        lead_time_days=lead_time_days,
        local=bool(quoted.get("local", offer.supplier.local)),
    )


def match(
    *, session: Session, actor: Actor, network_id: str, spec: MatchRequest
) -> list[MatchedLine]:
    """Match material lines to the network's suppliers (what pricing does for a quote)."""
    require_role(actor, Role.COORDINATOR)
    site = None if spec.site is None else Site(**spec.site.model_dump())
    rule = None if spec.rule is None else LocalRule(**spec.rule.model_dump())
    if rule is not None and rule.within_km is not None and site is None:
        raise InvalidInput("a local rule by distance needs the delivery site")
    needs = [
        MaterialNeed(
            item=m.item,
            quantity=m.quantity,
            description=m.description,
            unit=m.unit,
            steps=tuple(m.steps),
        )
        for m in spec.materials
    ]
    offers = service.network_offers(session=session, network_id=network_id)
    return match_materials(needs, offers, site=site, rule=rule, currency=spec.currency)


def _recorder(actor: Actor) -> str:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    return actor.name


def record_delivery(
    *,
    session: Session,
    actor: Actor,
    network_id: str,
    purchase_id: str,
    spec: DeliveryRecord,
    now: datetime,
) -> PurchaseRequest:
    """The material has arrived: its operations may start now, and the plan is made again."""
    by = _recorder(actor)
    purchase = service.get_purchase(session=session, actor=actor, purchase_id=purchase_id)
    delivered_at = spec.delivered_at or now
    if delivered_at > now:
        raise InvalidInput(f"a delivery cannot be recorded in the future ({delivered_at})")
    service.record_delivery(
        session=session, purchase=purchase, delivered_at=delivered_at, note=spec.note, by=by
    )
    dispatch_service.request_replan(
        session=session, network_id=network_id, reason=f"{purchase.item} delivered ({purchase.id})"
    )
    return purchase


def record_delay(
    *,
    session: Session,
    actor: Actor,
    network_id: str,
    purchase_id: str,
    spec: DelayRecord,
    now: datetime,
) -> PurchaseRequest:
    """The supplier announced a new date: the operations wait for it, and the plan is made
    again."""
    by = _recorder(actor)
    purchase = service.get_purchase(session=session, actor=actor, purchase_id=purchase_id)
    service.record_delay(
        session=session,
        purchase=purchase,
        expected_at=spec.expected_at,
        reason=spec.reason,
        by=by,
        now=now,
    )
    dispatch_service.request_replan(
        session=session, network_id=network_id, reason=f"{purchase.item} delayed ({purchase.id})"
    )
    return purchase
