"""Partner search: every member checked for the process and its parameters (the dispatcher's
matching), certifications, capacity before the due date (a what-if by the scheduling core on
top of the current plan), distance and rate; ranked, with the reasons in words, scoped by role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.auth.models import Actor, Role
from cloud.config import Settings
from cloud.database import transaction
from cloud.dispatch import planning
from cloud.geo import Location
from cloud.main import build_context, create_app
from cloud.opportunities import flows, search, service
from cloud.opportunities.models import OpportunityCreate
from cloud.opportunities.synthetic import synthetic_network
from cloud.scorecards import service as scorecards_service
from tests.cloud.opportunities.network import MEMBERS, SITE, WELDER, WELDING, build_members


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(settings)) as client:
        yield client, build_members(client.app.state.context)  # type: ignore[attr-defined]


def _headers(keys: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[who]}"}


def test_members_are_checked_ranked_and_explained(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, keys = api
    # The members' scorecards rank them too (a newcomer is neutral).
    monkeypatch.setattr(scorecards_service, "partner_scores", lambda **_: {"far": 0.9, "near": 0.2})
    coordinator = _headers(keys, "coordinator")
    now = datetime.now(UTC)
    due = now + timedelta(days=2)
    # The busy member's only machine is in maintenance past the due date.
    window = {
        "unit_id": "busy",
        "asset": "w1",
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat(),
        "reason": "rebuild",
    }
    assert client.post("/api/maintenance/windows", json=window, headers=coordinator).is_success
    tender = {
        "title": "Tram brackets",
        "due_at": due.isoformat(),
        "site": SITE,
        "budget": 9000,
        "customer_id": "city",
        "local_content": {"min_share": 0.5, "within_km": 50},
        "processes": [WELDING],
    }
    opportunity = client.post("/api/opportunities", json=tender, headers=coordinator).json()
    path = f"/api/opportunities/{opportunity['id']}/candidates"
    found = client.get(path, headers=coordinator)
    assert found.status_code == 200, found.text
    result = found.json()
    assert result["members"] == len(MEMBERS)
    (line,) = result["processes"]
    assert line["eligible"] == 2
    rows = {c["unit_id"]: c for c in line["candidates"]}
    # Far, dearer and slower, but with the better record: its scorecard puts it first.
    assert [c["unit_id"] for c in line["candidates"][:2]] == ["far", "near"]
    assert rows["far"]["rank"] == 1 and rows["near"]["rank"] == 2
    assert rows["far"]["scorecard"] == 0.9 and rows["near"]["scorecard"] == 0.2
    assert rows["busy"]["scorecard"] == search.NEUTRAL_SCORE
    assert rows["far"]["score"] > rows["near"]["score"]
    assert rows["near"]["cost"] == 240.0 and rows["near"]["machines"] == ["w1"]
    assert rows["near"]["local"] is True and rows["far"]["local"] is False
    assert rows["near"]["locality"] == "within 50 km of the site"
    assert rows["far"]["locality"] == "beyond 50 km of the site"
    assert rows["far"]["distance_km"] > 100 and rows["far"]["transport_hours"] > 2
    assert datetime.fromisoformat(rows["near"]["delivery_at"]) <= due
    assert rows["cheap"]["reasons"] == ["no ISO3834 certification"]
    assert rows["thin"]["reasons"] == ["1 of 2 capability parameters met: max_thickness_mm 8 < 12"]
    assert (rows["thin"]["parameters_met"], rows["thin"]["parameters_total"]) == (1, 2)
    due_day = f"{due.day} {due:%b}"
    assert rows["busy"]["reasons"][0].startswith(f"no capacity before {due_day}")
    assert datetime.fromisoformat(rows["busy"]["earliest_end"]) > now + timedelta(days=3)
    assert rows["painter"]["reasons"] == ["does not offer welding"]
    assert rows["private"]["reasons"] == ["shares no capacity with the network"]
    assert all(rows[u]["rank"] is None for u in ("cheap", "thin", "busy", "painter", "private"))

    # A plant sees its own row only: its own rate, nothing relative to the others.
    own = client.get(path, headers=_headers(keys, "cheap"))
    assert own.status_code == 200
    (own_line,) = own.json()["processes"]
    assert [c["unit_id"] for c in own_line["candidates"]] == ["cheap"]
    assert own_line["candidates"][0]["hourly_rate"] == 40.0
    assert own_line["candidates"][0]["score"] is None and own_line["candidates"][0]["rank"] is None
    assert own_line["eligible"] is None and own.json()["members"] is None
    assert '"hourly_rate":60' not in own.text and "near" not in own.text
    # The customer is refused: which members lack what is the network's business.
    assert client.get(path, headers=_headers(keys, "customer")).status_code == 403
    missing = client.get("/api/opportunities/opp-nope/candidates", headers=coordinator)
    assert missing.status_code == 404


NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def _member(unit_id: str, **fields: Any) -> search.Member:
    machine = planning.PlanMachine(unit_id, "w1", [WELDER], calendar=fields.pop("calendar", None))
    return search.Member(
        unit_id=unit_id,
        company=unit_id,
        location=Location(44.6, 10.9),
        certifications=frozenset(),
        machines=[machine],
        **fields,
    )


def test_capacity_is_read_from_the_current_plan_and_the_plant_calendar() -> None:
    """The what-if places the work after what the current plan holds, in open time only; lines
    of one member are asked about each alone (they do not queue behind each other)."""
    due = NOW + timedelta(hours=10)
    lines = [
        search.RequiredProcess(
            position=k, step=f"p{k}", name="w", process="welding", work_minutes=120
        )
        for k in range(3)
    ]
    busy = [search.Busy("taken/w1", NOW, NOW + timedelta(hours=9))]
    shifts = [
        (NOW + timedelta(hours=2), NOW + timedelta(hours=3)),  # one open hour before the due
        (NOW + timedelta(hours=20), NOW + timedelta(hours=30)),
    ]
    never = [(NOW, NOW + timedelta(hours=1))]  # its calendar's horizon ends before the work can
    found = search.search_partners(
        search.Search(now=NOW, due=due, site=Location(44.6, 10.9)),
        lines,
        [
            _member("free"),
            _member("taken"),
            _member("closed", calendar=shifts),
            _member("never", calendar=never),
        ],
        busy,
        {"free": 0.9},
    )
    for position in range(3):
        rows = {c.unit_id: c for c in found[position]}
        assert rows["free"].eligible and rows["free"].earliest_end == NOW + timedelta(hours=2)
        assert rows["free"].scorecard == 0.9 and rows["taken"].scorecard == search.NEUTRAL_SCORE
        assert rows["taken"].earliest_end == NOW + timedelta(hours=11)
        assert not rows["taken"].eligible and "no capacity before 1 Mar" in rows["taken"].reasons[0]
        assert rows["closed"].earliest_end == NOW + timedelta(hours=21)
        assert not rows["closed"].eligible
        assert rows["never"].reasons == ["its calendar has no room for this work"]
        assert [c.rank for c in found[position]] == [1, None, None, None]


def test_a_synthetic_network_is_searched_in_full(settings: Settings) -> None:
    """The generator the benchmark uses: members, machines, a current plan and a tender that
    the search answers for every member and every process (small here; 50 x 20 in the bench)."""
    context = build_context(settings)
    now = datetime.now(UTC)
    coordinator = Actor(principal_id=0, name="bench", role=Role.COORDINATOR)
    try:
        with transaction(context.session_factory) as session:
            network = synthetic_network(
                session, network_id=settings.network, now=now, members=6, processes=4
            )
            spec = OpportunityCreate.model_validate(network.tender)
            opportunity = service.create_tender(
                session=session, actor=coordinator, network_id=settings.network, spec=spec, now=now
            )
        with transaction(context.session_factory) as session:
            found = flows.search_partners(
                session=session,
                actor=coordinator,
                settings=settings,
                opportunity_id=opportunity.id,
                now=now,
            )
    finally:
        context.engine.dispose()
    assert network.planned_operations == 6 * 4 * 6
    assert found.members == 6 and len(found.processes) == 4
    for line in found.processes:
        assert sorted(c.unit_id for c in line.candidates) == sorted(network.units)
        assert line.eligible == sum(c.eligible for c in line.candidates)
        for candidate in line.candidates:
            assert candidate.eligible == (candidate.reasons == [])
            if candidate.eligible:
                assert candidate.delivery_at is not None and candidate.delivery_at <= found.due_at
