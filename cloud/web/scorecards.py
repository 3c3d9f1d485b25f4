"""The scorecards page: each figure as a bar chart of the member's value against the network's
p25, median and p75 (a member sees its own bar and no other member's; a coordinator every
member's), and the figures in a table."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Role
from cloud.database import utcnow
from cloud.maintenance import charts
from cloud.scorecards import service as scorecards_service
from cloud.scorecards.models import Percentiles, Scorecard, ScorecardsRead
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)

FIGURES = (
    # (field, title, unit, in percent, the chart's maximum)
    ("score", "Score (partner search ranks by it)", "", False, 1.0),
    ("on_time", "Operations on time (%)", "%", True, 100.0),
    ("rejection_rate", "Dispatches rejected (%)", "%", True, 100.0),
    ("availability", "Availability (%)", "%", True, 100.0),
    ("quantity_ratio", "Quantity produced / ordered", "", False, None),
    ("response_hours", "Hours to answer an invitation", " h", False, None),
)


@router.get("/scorecards", response_class=HTMLResponse)
def scorecards_page(request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role not in (Role.COORDINATOR, Role.PLANT):
        problem = "Scorecards are for the network's coordinator and its member plants."
        return page(request, "scorecards.html", actor, 403, problem=problem)
    read = scorecards_service.scorecards(
        session=session, actor=actor, settings=request.app.state.context.settings, now=utcnow()
    )
    return page(
        request, "scorecards.html", actor, read=read, charts=_charts(read, own=actor.unit_id)
    )


def _charts(read: ScorecardsRead, *, own: str | None) -> list[charts.BarChart]:
    drawn = []
    for field, title, unit, percent, maximum in FIGURES:
        bars = [
            charts.Bar(
                "you" if card.unit_id == own else card.unit_id,
                _value(card, field, percent),
                highlight=card.unit_id == own,
            )
            for card in read.members
        ]
        bars += _network_bars(read.network[field], percent)
        drawn.append(charts.bar_chart(title, bars, unit=unit, maximum=maximum))
    return drawn


def _value(card: Scorecard, field: str, percent: bool) -> float | None:
    value = getattr(card, field)
    return None if value is None else round(value * 100 if percent else value, 2)


def _network_bars(found: Percentiles, percent: bool) -> list[charts.Bar]:
    scale = 100 if percent else 1
    return [
        charts.Bar(f"network {name}", None if value is None else round(value * scale, 2))
        for name, value in (("p25", found.p25), ("median", found.p50), ("p75", found.p75))
    ]
