"""Emailing people about what concerns them, in the caller's transaction.

A domain that decides something a person is told about (an order planned, a ticket assigned)
calls :func:`email_customer` or :func:`email_technician` in the decision's transaction: one
outbox row per person who wants that event, to their address. The outbox delivers them with
retries (:mod:`cloud.messaging.delivery`); one that keeps failing is ``failed`` and listed by
:func:`list_emails`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Principal, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import InvalidInput
from cloud.messaging import outbox
from cloud.messaging.email import Email
from cloud.messaging.models import Channel, DeliveryStatus, OutboxMessage
from cloud.notifications.models import (
    ROLE_EVENTS,
    NotificationEvent,
    NotificationPreference,
    PreferencesRead,
    PreferencesSet,
)

SUBJECT_LIMIT = 300


def preferences(*, session: Session, actor: Actor) -> PreferencesRead:
    principal = session.get(Principal, actor.principal_id)
    row = session.get(NotificationPreference, actor.principal_id)
    available = list(ROLE_EVENTS.get(actor.role, ()))
    if row is None:
        address = principal.email if principal is not None else None
        return PreferencesRead(
            enabled=True, address=address, events=available, available_events=available
        )
    address = row.address or (principal.email if principal is not None else None)
    return PreferencesRead(
        enabled=row.enabled,
        address=address,
        events=[NotificationEvent(e) for e in row.events if e in set(available)],
        available_events=available,
    )


def set_preferences(
    *, session: Session, actor: Actor, spec: PreferencesSet, now: datetime
) -> PreferencesRead:
    available = ROLE_EVENTS.get(actor.role, ())
    foreign = [event.value for event in spec.events if event not in available]
    if foreign:
        raise InvalidInput(f"the {actor.role.value} role is not emailed about {foreign}")
    if session.get(Principal, actor.principal_id) is None:
        raise InvalidInput("only a principal of the database has preferences")
    row = session.get(NotificationPreference, actor.principal_id)
    if row is None:
        row = NotificationPreference(principal_id=actor.principal_id)
        session.add(row)
    row.enabled = spec.enabled
    row.address = spec.address
    row.events = sorted({event.value for event in spec.events})
    row.updated_at = now
    session.flush()
    return preferences(session=session, actor=actor)


def email_customer(
    *,
    session: Session,
    customer_id: str,
    event: NotificationEvent,
    subject: str,
    body: str,
    origin: str,
    ref: str,
    now: datetime,
    link: str | None = None,
) -> int:
    """Email the customer's people who want ``event``; how many emails were queued. ``link``:
    the page it is about (a path on the coordinator)."""
    scope = Principal.customer_id == customer_id
    return _email(session, Role.CUSTOMER, scope, event, subject, body, origin, ref, now, link)


def email_technician(
    *,
    session: Session,
    technician_id: str,
    event: NotificationEvent,
    subject: str,
    body: str,
    origin: str,
    ref: str,
    now: datetime,
    link: str | None = None,
) -> int:
    scope = Principal.technician_id == technician_id
    return _email(session, Role.TECHNICIAN, scope, event, subject, body, origin, ref, now, link)


def _email(
    session: Session,
    role: Role,
    scope: ColumnElement[bool],
    event: NotificationEvent,
    subject: str,
    body: str,
    origin: str,
    ref: str,
    now: datetime,
    link: str | None = None,
) -> int:
    rows = session.execute(
        select(Principal.email, NotificationPreference)
        .outerjoin(NotificationPreference, NotificationPreference.principal_id == Principal.id)
        .where(Principal.role == role, Principal.active.is_(True), scope)
    ).all()
    addresses = []
    for account_email, preference in rows:
        if preference is None:
            address = account_email
        elif preference.enabled and event.value in preference.events:
            address = preference.address or account_email
        else:
            address = None
        if address and address not in addresses:
            addresses.append(address)
    # One line: a subject is a header, and a line break there would start another header.
    one_line = " ".join(subject.split())[:SUBJECT_LIMIT]
    for address in addresses:
        outbox.enqueue(
            session,
            origin=origin,
            subject=ref,
            channel=Channel.EMAIL,
            target=address,
            action=event.value,
            payload=Email(to=address, subject=one_line, body=body[:20_000], link=link).encode(),
            now=now,
        )
    return len(addresses)


def list_emails(
    *, session: Session, actor: Actor, status: DeliveryStatus | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """The newest emails (the coordinator's): which went, which wait, which failed and why."""
    require_role(actor, Role.COORDINATOR)
    query = select(OutboxMessage).where(OutboxMessage.channel == Channel.EMAIL)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))
