"""The customer's home (``/`` for the customer role): its configurations (reopen, duplicate), its
quotes, its orders with their progress, its delivered products and its service requests — all
read through the domains' services with the customer as the actor, so only its own."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.codesign import service as codesign_service
from cloud.database import utcnow
from cloud.maintenance.tickets import service as ticket_service
from cloud.orders import service as orders_service
from cloud.web.templating import page


def customer_home(request: Request, session: Session, actor: Actor) -> HTMLResponse:
    assert actor.role is Role.CUSTOMER
    families = request.app.state.context.families
    configurations = [
        codesign_service.read_configuration(session=session, families=families, configuration=row)
        for row in codesign_service.list_configurations(session=session, actor=actor)
    ]
    orders = [
        orders_service.read_order(session=session, order=row)
        for row in orders_service.list_orders(session=session, actor=actor)
    ]
    delivered = {o.id: o.delivered_at for o in orders}
    return page(
        request,
        "customer_home.html",
        actor,
        now=utcnow(),
        families=families,
        configurations=configurations,
        quotes=orders_service.list_quotes(session=session, actor=actor),
        orders=orders,
        products=orders_service.list_products(session=session, actor=actor),
        delivered=delivered,
        tickets=ticket_service.list_tickets(session=session, actor=actor, limit=50),
    )
