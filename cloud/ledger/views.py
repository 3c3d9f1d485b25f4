"""Ledger endpoints: an order's ledger, the lines and totals per member, and their CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.ledger import service
from cloud.ledger.models import EntryRead, MemberTotal, OrderLedger
from cloud.operations.http import ApiRoute

router = APIRouter(prefix="/api", tags=["ledger"], route_class=ApiRoute)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "the ledger lines as CSV, with a header row",
    }
}
Limit = Annotated[int, Query(ge=1, le=10_000)]


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/ledger")
def list_entries(
    session: DbSession, actor: CurrentActor, unit_id: str | None = None, limit: Limit = 1000
) -> list[EntryRead]:
    """Ledger lines, newest first: a member's own; a coordinator's all, or one unit's."""
    return service.list_entries(session=session, actor=actor, unit_id=unit_id, limit=limit)


@router.get("/ledger.csv", response_class=Response, responses={**_CSV})
def entries_csv(
    session: DbSession, actor: CurrentActor, unit_id: str | None = None, limit: Limit = 10_000
) -> Response:
    entries = service.list_entries(session=session, actor=actor, unit_id=unit_id, limit=limit)
    return _csv(service.as_csv(entries), "ledger")


@router.get("/ledger/members")
def member_totals(session: DbSession, actor: CurrentActor) -> list[MemberTotal]:
    """Each member's delivered orders, cost, revenue and margin (a member: its own)."""
    return service.member_totals(session=session, actor=actor)


@router.get("/orders/{order_id}/ledger")
def order_ledger(order_id: str, session: DbSession, actor: CurrentActor) -> OrderLedger:
    return service.order_ledger(session=session, actor=actor, order_id=order_id)


@router.get("/orders/{order_id}/ledger.csv", response_class=Response, responses={**_CSV})
def order_ledger_csv(order_id: str, session: DbSession, actor: CurrentActor) -> Response:
    ledger = service.order_ledger(session=session, actor=actor, order_id=order_id)
    return _csv(service.as_csv(ledger.entries), f"ledger-{order_id}")
