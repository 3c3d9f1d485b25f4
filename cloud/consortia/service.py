"""Invitations and consortia: scoped reads, answers, revisions and acceptances of terms.

Scope: the coordinator sees everything; a plant sees only the invitations to its own unit and
the consortia whose current revision it is a member of, and never another member's price nor
its share of the revenue (which, with the plant's own price and share, would give it away).
Other roles are refused (403); another tenant's invitation or consortium is a 404.
Sending invitations and forming a consortium need the opportunity: see :mod:`.flows`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import own_unit_only, require_role
from cloud.consortia.models import (
    AcceptanceRead,
    Consortium,
    ConsortiumMember,
    ConsortiumRead,
    ConsortiumRevision,
    ConsortiumRevisionCreate,
    MemberRead,
    Terms,
    TermsAcceptance,
    WorkInvitation,
    WorkInvitationAccept,
    WorkInvitationAnswer,
    WorkInvitationStatus,
)
from cloud.exceptions import Conflict, InvalidInput, NotFound

_LOGGER = logging.getLogger(__name__)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# Invitations --------------------------------------------------------------------------------


def _invitations(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    return own_unit_only(select(WorkInvitation), WorkInvitation.unit_id, actor)


def get_invitation(*, session: Session, actor: Actor, invitation_id: str) -> WorkInvitation:
    row = session.scalars(_invitations(actor).where(WorkInvitation.id == invitation_id)).first()
    if row is None:
        raise NotFound(f"invitation {invitation_id!r} does not exist")
    return row


def list_invitations(
    *,
    session: Session,
    actor: Actor,
    opportunity_id: str | None = None,
    status: WorkInvitationStatus | None = None,
) -> list[WorkInvitation]:
    query = _invitations(actor).order_by(WorkInvitation.sent_at.desc(), WorkInvitation.id)
    if opportunity_id is not None:
        query = query.where(WorkInvitation.opportunity_id == opportunity_id)
    if status is not None:
        query = query.where(WorkInvitation.status == status)
    return list(session.scalars(query))


def accepted_invitations(*, session: Session, opportunity_id: str) -> Sequence[WorkInvitation]:
    query = select(WorkInvitation).where(
        WorkInvitation.opportunity_id == opportunity_id,
        WorkInvitation.status == WorkInvitationStatus.ACCEPTED,
    )
    return session.scalars(query.order_by(WorkInvitation.step, WorkInvitation.unit_id)).all()


def answer_invitation(
    *,
    session: Session,
    actor: Actor,
    invitation_id: str,
    answer: WorkInvitationAnswer,
    now: datetime,
) -> WorkInvitation:
    """The member's answer, once, before the deadline: a compare-and-set on "sent", so that two
    concurrent answers cannot both pass (the second gets a 409)."""
    require_role(actor, Role.PLANT)  # the coordinator does not answer in a member's name
    invitation = get_invitation(session=session, actor=actor, invitation_id=invitation_id)
    if invitation.status is not WorkInvitationStatus.SENT:
        assert invitation.answered_at is not None
        raise Conflict(
            f"invitation {invitation_id} was already {invitation.status.value} "
            f"at {_when(invitation.answered_at)}"
        )
    if now > invitation.deadline:
        raise Conflict(
            f"invitation {invitation_id} closed at {_when(invitation.deadline)}: "
            "answers after the deadline are not taken"
        )
    values: dict[str, object] = {"answered_at": now, "answered_by": actor.name}
    if isinstance(answer, WorkInvitationAccept):
        values.update(
            status=WorkInvitationStatus.ACCEPTED,
            price=answer.price,
            earliest_start=answer.earliest_start,
            earliest_end=answer.earliest_end,
        )
    else:
        values.update(status=WorkInvitationStatus.DECLINED, decline_reason=answer.reason)
    changed = session.execute(
        update(WorkInvitation)
        .where(
            WorkInvitation.id == invitation_id, WorkInvitation.status == WorkInvitationStatus.SENT
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"invitation {invitation_id} was answered meanwhile")
    session.flush()
    session.refresh(invitation)
    _LOGGER.info(
        "invitation %s %s by %s", invitation_id, invitation.status.value, invitation.unit_id
    )
    return invitation


# Consortia ----------------------------------------------------------------------------------


def _consortia(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = select(Consortium)
    if actor.role is Role.PLANT:
        member = (
            select(ConsortiumMember.id)
            .join(ConsortiumRevision, ConsortiumRevision.id == ConsortiumMember.revision_id)
            .where(
                ConsortiumRevision.consortium_id == Consortium.id,
                ConsortiumRevision.number == Consortium.current_revision,
                ConsortiumMember.unit_id == actor.unit_id,
            )
        )
        query = query.where(member.exists())
    return query


def get_consortium(*, session: Session, actor: Actor, consortium_id: str) -> Consortium:
    row = session.scalars(_consortia(actor).where(Consortium.id == consortium_id)).first()
    if row is None:
        raise NotFound(f"consortium {consortium_id!r} does not exist")
    return row


def list_consortia(
    *, session: Session, actor: Actor, opportunity_id: str | None = None
) -> list[Consortium]:
    query = _consortia(actor).order_by(Consortium.created_at.desc(), Consortium.id)
    if opportunity_id is not None:
        query = query.where(Consortium.opportunity_id == opportunity_id)
    return list(session.scalars(query))


def consortium_of(*, session: Session, opportunity_id: str) -> Consortium | None:
    query = select(Consortium).where(Consortium.opportunity_id == opportunity_id)
    return session.scalars(query).first()


def revision_of(*, session: Session, consortium: Consortium, number: int) -> ConsortiumRevision:
    row = session.scalars(
        select(ConsortiumRevision).where(
            ConsortiumRevision.consortium_id == consortium.id, ConsortiumRevision.number == number
        )
    ).first()
    if row is None:
        raise NotFound(f"consortium {consortium.id} has no revision {number}")
    return row


def members_of(*, session: Session, revision: ConsortiumRevision) -> Sequence[ConsortiumMember]:
    query = select(ConsortiumMember).where(ConsortiumMember.revision_id == revision.id)
    return session.scalars(query.order_by(ConsortiumMember.party_id)).all()


def acceptances_of(*, session: Session, revision: ConsortiumRevision) -> Sequence[TermsAcceptance]:
    query = select(TermsAcceptance).where(TermsAcceptance.revision_id == revision.id)
    return session.scalars(query.order_by(TermsAcceptance.accepted_at)).all()


def read_consortium(*, session: Session, actor: Actor, consortium: Consortium) -> ConsortiumRead:
    revision = revision_of(
        session=session, consortium=consortium, number=consortium.current_revision
    )
    members = members_of(session=session, revision=revision)
    acceptances = acceptances_of(session=session, revision=revision)
    accepted = {a.unit_id for a in acceptances}
    return ConsortiumRead(
        id=consortium.id,
        opportunity_id=consortium.opportunity_id,
        network_kind=consortium.network_kind,
        formed_by=consortium.formed_by,
        revision=revision.number,
        terms=Terms(
            payment_terms=revision.payment_terms,
            penalties=revision.penalties,
            valid_until=revision.valid_until,
        ),
        total_cost=revision.total_cost if actor.is_coordinator else None,
        currency=revision.currency,
        local_share=revision.local_share,
        author=revision.author,
        comment=revision.comment,
        created_at=consortium.created_at,
        revised_at=revision.created_at,
        members=[_member_read(m, actor) for m in members],
        acceptances=[
            AcceptanceRead.model_validate(a)
            for a in acceptances
            if actor.is_coordinator or a.unit_id == actor.unit_id
        ],
        accepted_by_all=all(m.unit_id in accepted for m in members if m.unit_id is not None),
    )


def _member_read(member: ConsortiumMember, actor: Actor) -> MemberRead:
    visible = actor.is_coordinator or member.unit_id == actor.unit_id
    return MemberRead(
        party_id=member.party_id,
        unit_id=member.unit_id,
        role=member.role,
        steps=list(member.steps),
        work_share=member.work_share,
        revenue_share=member.revenue_share if visible else None,
        local=member.local,
        price=member.price if visible else None,
    )


def add_revision(
    *,
    session: Session,
    consortium: Consortium,
    number: int,
    terms: Terms,
    members: Sequence[ConsortiumMember],
    currency: str,
    local_share: float | None,
    author: str,
    comment: str,
) -> ConsortiumRevision:
    """Store revision ``number`` with ``members`` (new rows), the units' revenue shares from
    their prices."""
    total = sum(m.price for m in members)
    revision = ConsortiumRevision(
        consortium_id=consortium.id,
        number=number,
        payment_terms=terms.payment_terms,
        penalties=terms.penalties,
        valid_until=terms.valid_until,
        total_cost=total,
        currency=currency,
        local_share=local_share,
        author=author,
        comment=comment,
    )
    session.add(revision)
    session.flush()
    # A supplier is paid for the materials bought from it (the order's purchases); the member
    # units share the revenue in proportion to their prices.
    units_total = sum(m.price for m in members if m.unit_id is not None)
    for member in members:
        member.revision_id = revision.id
        member.revenue_share = (
            member.price / units_total if member.unit_id is not None and units_total else 0.0
        )
        session.add(member)
    consortium.current_revision = number
    session.flush()
    _LOGGER.info("consortium %s revision %d by %s", consortium.id, number, author)
    return revision


def revise_consortium(
    *, session: Session, actor: Actor, consortium_id: str, spec: ConsortiumRevisionCreate
) -> Consortium:
    """A new revision with changed terms, member prices or roles; acceptances start afresh."""
    require_role(actor, Role.COORDINATOR)
    consortium = get_consortium(session=session, actor=actor, consortium_id=consortium_id)
    current = consortium.current_revision
    if spec.base_revision != current:
        raise Conflict(
            f"revision {current} was written since revision {spec.base_revision}: reload first"
        )
    previous = revision_of(session=session, consortium=consortium, number=current)
    old_members = members_of(session=session, revision=previous)
    unknown = sorted(set(spec.members) - {m.party_id for m in old_members})
    if unknown:
        raise InvalidInput(f"not members of consortium {consortium_id}: {', '.join(unknown)}")
    if spec.terms is None and not spec.members:
        raise InvalidInput("a revision changes the terms or a member")
    members = []
    for old in old_members:
        change = spec.members.get(old.party_id)
        members.append(
            ConsortiumMember(
                party_id=old.party_id,
                unit_id=old.unit_id,
                role=change.role if change and change.role else old.role,
                steps=list(old.steps),
                price=change.price if change and change.price is not None else old.price,
                work_share=old.work_share,
                local=old.local,
            )
        )
    terms = spec.terms or Terms(
        payment_terms=previous.payment_terms,
        penalties=previous.penalties,
        valid_until=previous.valid_until,
    )
    add_revision(
        session=session,
        consortium=consortium,
        number=current + 1,
        terms=terms,
        members=members,
        currency=previous.currency,
        local_share=_local_share(members, previous),
        author=actor.name,
        comment=spec.comment,
    )
    return consortium


def _local_share(members: Sequence[ConsortiumMember], previous: ConsortiumRevision) -> float | None:
    if previous.local_share is None:
        return None
    total = sum(m.price for m in members)
    return sum(m.price for m in members if m.local) / total if total else None


def accept_terms(
    *, session: Session, actor: Actor, consortium_id: str, revision: int, now: datetime
) -> Consortium:
    """The calling member accepts the terms of ``revision`` (the current one), once."""
    require_role(actor, Role.PLANT)
    consortium = get_consortium(session=session, actor=actor, consortium_id=consortium_id)
    if revision != consortium.current_revision:
        raise Conflict(
            f"revision {revision} of consortium {consortium_id} is superseded by revision "
            f"{consortium.current_revision}: read its terms and accept those"
        )
    row = revision_of(session=session, consortium=consortium, number=revision)
    for acceptance in acceptances_of(session=session, revision=row):
        if acceptance.unit_id == actor.unit_id:
            raise Conflict(
                f"{actor.unit_id} already accepted revision {revision} "
                f"at {_when(acceptance.accepted_at)}"
            )
    assert actor.unit_id is not None
    session.add(
        TermsAcceptance(
            revision_id=row.id,
            unit_id=actor.unit_id,
            principal_id=actor.principal_id,
            accepted_by=actor.name,
            accepted_at=now,
        )
    )
    session.flush()
    _LOGGER.info("consortium %s revision %d accepted by %s", consortium_id, revision, actor.unit_id)
    return consortium
