"""The people pages: the coordinator's list of people and API keys, with the form that invites a
person and the buttons that reset a person's access or revoke a principal (``/people``); and
each signed-in principal's own account with their notification preferences (``/account``).

Server-rendered through the auth and notifications services; the forms and buttons call the
JSON API (``POST /api/people``, ``POST /api/principals/{id}/invitation``,
``DELETE /api/principals/{id}``, ``PUT /api/me/notifications``) with the session cookie, so the
API's checks and answers are the pages' too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth import people as people_service
from cloud.auth import service as auth_service
from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import MIN_PASSWORD, Principal, Role
from cloud.database import utcnow
from cloud.notifications import service as notification_service
from cloud.notifications.models import NotificationEvent
from cloud.registry import service as registry_service
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)
REFUSED = "People and their access are managed by the network's coordinator."
EVENT_LABELS = {
    NotificationEvent.TICKET_ASSIGNED: "a ticket is assigned to me",
    NotificationEvent.TICKET_REMINDER: "a reminder while a ticket waits for my acknowledgement",
    NotificationEvent.TICKET_ESCALATED: "a ticket is escalated to me",
    NotificationEvent.ORDER_CONFIRMED: "an order is confirmed",
    NotificationEvent.ORDER_PLANNED: "an order is planned",
    NotificationEvent.ORDER_COMPLETED: "an order is completed",
    NotificationEvent.ORDER_DELIVERED: "an order is delivered",
    NotificationEvent.SERVICE_REQUEST_UPDATED: "a service request changes",
}


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request, session: DbSession) -> HTMLResponse:
    """People with their role, scope and status; API keys; the invitation form."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role is not Role.COORDINATOR:
        return page(request, "people/list.html", actor, 403, problem=REFUSED)
    keys = [
        p for p in auth_service.list_principals(session=session, actor=actor) if p.username is None
    ]
    return page(
        request,
        "people/list.html",
        actor,
        people=people_service.list_people(session=session, actor=actor, now=utcnow()),
        keys=keys,
        roles=list(Role),
        units=registry_service.list_units(session=session, actor=actor),
        technicians=registry_service.list_technicians(session=session, actor=actor),
        customers=auth_service.known_customers(session=session),
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: DbSession) -> HTMLResponse:
    """Who is signed in, their password (people), and which emails they get, where."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    principal = session.get(Principal, actor.principal_id)
    account_email = principal.email if principal is not None else None
    preferences = notification_service.preferences(session=session, actor=actor)
    other_address = preferences.address if preferences.address != account_email else None
    return page(
        request,
        "people/account.html",
        actor,
        username=principal.username if principal is not None else None,
        min_password=MIN_PASSWORD,
        account_email=account_email,
        preferences=preferences,
        other_address=other_address,
        labels=EVENT_LABELS,
    )
