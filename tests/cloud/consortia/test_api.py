"""Forming a consortium through the API, by network kind: invitations answered by the members
and the selection (dynamic network), direct assignment (stable network), terms accepted per
revision, and bad input answered with a clear 4xx with nothing lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.auth.dependencies import SESSION_COOKIE
from cloud.auth.models import Actor, Role
from cloud.config import Settings
from cloud.consortia import service
from cloud.consortia.models import WorkInvitationAccept
from cloud.database import transaction
from cloud.exceptions import Conflict
from cloud.geo import Location
from cloud.main import create_app
from cloud.registry.service import road_hours
from tests.cloud.conftest import Tenants, populate
from tests.cloud.consortia.network import (
    FAR_SITE,
    accept,
    answer,
    form_dynamic,
    invite_all,
    set_kind,
    soon,
    tender,
)
from tests.cloud.orders.network import ROBOT_CELL


def test_a_dynamic_network_invites_selects_and_its_members_accept_the_terms(
    client: TestClient, tenants: Tenants
) -> None:
    coordinator, plant_a, plant_b = (
        tenants.headers(w) for w in ("coordinator", "plant-a", "plant-b")
    )
    formed = form_dynamic(client, tenants)
    opportunity_id = formed.opportunity["id"]
    opportunity = client.get(f"/api/opportunities/{opportunity_id}", headers=coordinator).json()
    assert opportunity["status"] == "forming"

    # Each member sees its own invitations, answered with their times for the scorecards.
    mine = client.get("/api/work-invitations", headers=plant_a).json()
    assert {(i["step"], i["status"]) for i in mine} == {("p1", "accepted"), ("p2", "accepted")}
    assert all(i["answered_at"] >= i["sent_at"] for i in mine)
    declined = client.get("/api/work-invitations?status=declined", headers=coordinator).json()
    assert [(d["unit_id"], d["decline_reason"]) for d in declined] == [
        ("plant-b", "the paint line is full")
    ]

    # The cheapest cover: plant-b welds (800, 600 min: the lead), plant-a paints (500).
    consortium = formed.consortium
    assert consortium["formed_by"] == "selection" and consortium["revision"] == 1
    assert consortium["total_cost"] == 1300
    members = {m["party_id"]: m for m in consortium["members"]}
    assert members["plant-b"]["steps"] == ["p1"] and members["plant-b"]["role"] == "lead"
    assert members["plant-a"]["steps"] == ["p2"] and members["plant-a"]["role"] == "partner"
    assert members["plant-a"]["revenue_share"] == 500 / 1300
    assert members["plant-b"]["work_share"] == 600 / 900

    # A member sees its own price and revenue share, never the other's nor the total.
    seen = client.get(f"/api/consortia/{consortium['id']}", headers=plant_a).json()
    seen_members = {m["party_id"]: m for m in seen["members"]}
    assert seen_members["plant-a"]["price"] == 500
    assert seen_members["plant-b"]["price"] is None
    assert seen_members["plant-b"]["revenue_share"] is None
    assert seen["total_cost"] is None

    # Terms are accepted per revision: who and when, once.
    url = f"/api/consortia/{consortium['id']}/acceptances"
    first = client.post(url, json={"revision": 1}, headers=plant_a)
    assert first.status_code == 200, first.text
    assert [a["unit_id"] for a in first.json()["acceptances"]] == ["plant-a"]
    assert client.post(url, json={"revision": 1}, headers=plant_a).status_code == 409
    revised = client.post(
        f"/api/consortia/{consortium['id']}/revisions",
        json={
            "base_revision": 1,
            "members": {"plant-a": {"price": 600}},
            "comment": "dearer paint",
        },
        headers=coordinator,
    )
    assert revised.status_code == 201, revised.text
    assert revised.json()["revision"] == 2 and revised.json()["acceptances"] == []
    assert revised.json()["total_cost"] == 1400
    stale = client.post(url, json={"revision": 1}, headers=plant_b)
    assert stale.status_code == 409 and "superseded by revision 2" in stale.json()["message"]
    for headers in (plant_a, plant_b):
        assert client.post(url, json={"revision": 2}, headers=headers).status_code == 200
    final = client.get(f"/api/consortia/{consortium['id']}", headers=coordinator).json()
    assert final["accepted_by_all"] is True
    assert {a["unit_id"] for a in final["acceptances"]} == {"plant-a", "plant-b"}
    stale_edit = client.post(
        f"/api/consortia/{consortium['id']}/revisions",
        json={"base_revision": 1, "terms": {"penalties": "none"}},
        headers=coordinator,
    )
    assert stale_edit.status_code == 409


def test_bad_answers_get_a_clear_4xx_and_lose_nothing(client: TestClient, tenants: Tenants) -> None:
    set_kind(client, tenants, "temporary_joint_venture")
    opportunity = tender(client, tenants)
    invitations = invite_all(client, tenants, opportunity["id"])
    theirs = invitations[("p1", "plant-b")]
    mine = invitations[("p1", "plant-a")]

    # Another member's invitation does not exist for plant-a; the coordinator answers for nobody.
    assert answer(client, tenants, "plant-a", theirs, accept(10)).status_code == 404
    assert answer(client, tenants, "coordinator", mine, accept(10)).status_code == 403
    assert answer(client, tenants, "plant-a", "inv-nope", accept(10)).status_code == 404
    backwards = accept(10, start_days=5, end_days=1)
    assert answer(client, tenants, "plant-a", mine, backwards).status_code == 422
    assert answer(client, tenants, "plant-a", mine, {"answer": "decline"}).status_code == 422
    assert answer(client, tenants, "plant-a", mine, accept(700)).status_code == 200
    twice = answer(client, tenants, "plant-a", mine, {"answer": "decline", "reason": "r"})
    assert twice.status_code == 409 and "already accepted" in twice.json()["message"]

    # After the deadline (the service's clock moved on): refused, the invitation still open.
    context = tenants.context
    with transaction(context.session_factory) as session:
        row = service.get_invitation(session=session, actor=_coordinator(), invitation_id=theirs)
        late = row.deadline + timedelta(seconds=1)
        plant_b = Actor(principal_id=0, name="plant-b key", role=Role.PLANT, unit_id="plant-b")
        try:
            service.answer_invitation(
                session=session,
                actor=plant_b,
                invitation_id=theirs,
                answer=WorkInvitationAccept.model_validate(accept(5)),
                now=late,
            )
        except Conflict as exc:
            assert "answers after the deadline are not taken" in exc.message
        else:
            raise AssertionError("a late answer was taken")
    headers = tenants.headers("coordinator")
    after = {i["id"]: i for i in client.get("/api/work-invitations", headers=headers).json()}
    assert after[theirs]["status"] == "sent" and after[theirs]["answered_at"] is None
    assert after[mine]["status"] == "accepted" and after[mine]["price"] == 700

    # Inviting again, or to a process the opportunity does not have, or someone unknown.
    url = f"/api/opportunities/{opportunity['id']}/work-invitations"
    again = {"deadline": soon(1), "candidates": {"p1": ["plant-a"]}}
    assert client.post(url, json=again, headers=headers).status_code == 409
    unknown = {"deadline": soon(1), "candidates": {"p9": ["plant-a"]}}
    assert client.post(url, json=unknown, headers=headers).status_code == 422
    stranger = {"deadline": soon(1), "candidates": {"p2": ["far-co"]}}
    assert client.post(url, json=stranger, headers=headers).status_code == 422
    past = {"deadline": soon(-1), "candidates": {"p2": ["plant-a"]}}
    assert client.post(url, json=past, headers=headers).status_code == 422

    # Painting has no accepted answer yet: no consortium, and the reason says which.
    formed = client.post(
        f"/api/opportunities/{opportunity['id']}/consortium", json={}, headers=headers
    )
    assert formed.status_code == 409
    assert "no accepted offer for painting" in formed.json()["message"]
    preview = client.get(
        f"/api/opportunities/{opportunity['id']}/selection", headers=headers
    ).json()
    assert preview["feasible"] is False and preview["reasons"] == ["no accepted offer for painting"]


# The due date is for the site: an offer arrives there after the road from its plant --------

PLANTS = Location(45.0, 9.0)  # where tests.cloud.conftest onboards plant-a and plant-b


def _road_to_site() -> timedelta:
    """The road from the plants to FAR_SITE, about 4.3 h, by the registry's estimate."""
    site = Location(FAR_SITE["latitude"], FAR_SITE["longitude"])  # type: ignore[arg-type]
    return timedelta(hours=road_hours(PLANTS, site))


def _answers_against_the_road(
    client: TestClient, tenants: Tenants, ends_before_due: timedelta, *, rival: bool = True
) -> tuple[dict[str, Any], datetime]:
    """A tender due in 30 days whose welding plant-a offers for 800, ending
    ``ends_before_due`` before the due date, and plant-b (the ``rival``, else it declines) for
    1000, ending 10 days before; plant-a paints (500), plant-b declines painting."""
    set_kind(client, tenants, "dynamic")
    opportunity = tender(client, tenants)
    due = datetime.fromisoformat(opportunity["due_at"])
    invitations = invite_all(client, tenants, opportunity["id"])

    def ending(end: datetime, price: float) -> dict[str, Any]:
        return {**accept(price), "earliest_end": end.isoformat()}

    declined = {"answer": "decline", "reason": "the line is full"}
    for (step, unit), body in {
        ("p1", "plant-a"): ending(due - ends_before_due, 800),
        ("p1", "plant-b"): ending(due - timedelta(days=10), 1000) if rival else declined,
        ("p2", "plant-a"): ending(due - timedelta(days=10), 500),
        ("p2", "plant-b"): declined,
    }.items():
        response = answer(client, tenants, unit, invitations[(step, unit)], body)
        assert response.status_code == 200, response.text
    return opportunity, due


def test_an_offer_that_ends_before_the_due_date_but_arrives_after_it_is_not_chosen(
    client: TestClient, tenants: Tenants
) -> None:
    """plant-a's welding ends an hour before the due date, but its road to the Bologna site is
    4.3 h: it would arrive late, so the selection takes plant-b's dearer welding; without
    plant-b's, nothing welds in time, and the reason says why in words."""
    headers = tenants.headers("coordinator")
    road = _road_to_site()
    assert road > timedelta(hours=4)
    opportunity, _due = _answers_against_the_road(client, tenants, timedelta(hours=1))
    url = f"/api/opportunities/{opportunity['id']}"
    preview = client.get(f"{url}/selection", headers=headers).json()
    assert preview["feasible"] is True, preview
    chosen = {o["party_id"]: o for o in preview["offers"]}
    assert {p: o["steps"] for p, o in chosen.items()} == {"plant-a": ["p2"], "plant-b": ["p1"]}
    assert preview["total_cost"] == 1500
    welding = chosen["plant-b"]
    arrives = datetime.fromisoformat(welding["arrives_at"])
    on_the_road = arrives - datetime.fromisoformat(welding["earliest_end"])
    assert on_the_road.total_seconds() == pytest.approx(road.total_seconds())
    formed = client.post(f"{url}/consortium", json={}, headers=headers)
    assert formed.status_code == 201, formed.text
    assert {m["party_id"]: m["steps"] for m in formed.json()["members"]} == {
        "plant-a": ["p2"],
        "plant-b": ["p1"],
    }

    # plant-a's welding alone arrives 3.3 h late: refused, the road named, nothing formed.
    alone, due = _answers_against_the_road(client, tenants, timedelta(hours=1), rival=False)
    url = f"/api/opportunities/{alone['id']}"
    ends = due - timedelta(hours=1)
    reason = (
        f"no accepted offer for welding arrives at the site before {due.day} {due:%b %Y} "
        f"(plant-a ends {ends.day} {ends:%b %Y} {ends:%H:%M}, "
        f"then {road.total_seconds() / 3600:.1f} h on the road)"
    )
    refused = client.post(f"{url}/consortium", json={}, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["message"] == "no consortium: infeasible because " + reason
    assert client.get(f"{url}/selection", headers=headers).json()["reasons"] == [reason]
    listed = client.get(f"/api/consortia?opportunity_id={alone['id']}", headers=headers)
    assert listed.json() == []
    assert client.get(url, headers=headers).json()["status"] == "forming"
    answers = client.get(f"/api/work-invitations?opportunity_id={alone['id']}", headers=headers)
    assert {(i["step"], i["unit_id"]): i["status"] for i in answers.json()} == {
        ("p1", "plant-a"): "accepted",
        ("p1", "plant-b"): "declined",
        ("p2", "plant-a"): "accepted",
        ("p2", "plant-b"): "declined",
    }


def test_the_road_runs_on_the_networks_time_scale(
    settings_factory: Callable[..., Settings],
) -> None:
    """At the plants' time scale (60 plant seconds a second, as partner search takes it), the
    4.3 h road takes 4.3 minutes: plant-a's welding, ending an hour before the due date, is in
    time and, cheaper, chosen."""
    with TestClient(create_app(settings_factory(orders={"time_scale": 60}))) as client:
        tenants = populate(client.app.state.context)  # type: ignore[attr-defined]
        opportunity, _due = _answers_against_the_road(client, tenants, timedelta(hours=1))
        formed = client.post(
            f"/api/opportunities/{opportunity['id']}/consortium",
            json={},
            headers=tenants.headers("coordinator"),
        )
        assert formed.status_code == 201, formed.text
        members = {m["party_id"]: m["steps"] for m in formed.json()["members"]}
        assert members == {"plant-a": ["p1", "p2"]}


def test_a_stable_network_assigns_directly_under_the_same_rules(
    client: TestClient, tenants: Tenants
) -> None:
    headers = tenants.headers("coordinator")
    set_kind(client, tenants, "stable")
    client.patch(
        "/api/units/plant-a",
        json={"sharing_policy": {"hourly_rate": 80.0, "max_order_share": 0.5}},
        headers=headers,
    )
    rule = {"min_share": 0.3, "within_km": 50}
    opportunity = tender(client, tenants, local_content=rule)
    url = f"/api/opportunities/{opportunity['id']}"
    invite = {"deadline": soon(1), "candidates": {"p1": ["plant-a"]}}
    refused = client.post(f"{url}/work-invitations", json=invite, headers=headers)
    assert refused.status_code == 409 and "assigns the work directly" in refused.text
    assert client.post(f"{url}/consortium", json={}, headers=headers).status_code == 422

    both_to_a = {
        "p1": {"unit_id": "plant-a", "price": 900},
        "p2": {"unit_id": "plant-a", "price": 400},
    }
    broken = client.post(f"{url}/consortium", json={"assignments": both_to_a}, headers=headers)
    assert broken.status_code == 409
    message = broken.json()["message"]
    assert message.startswith("no consortium: infeasible because ")
    assert "local content 0 % < required 30 %" in message
    assert "plant-a takes at most 50 %" in message
    missing = client.post(
        f"{url}/consortium", json={"assignments": {"p1": both_to_a["p1"]}}, headers=headers
    )
    assert missing.status_code == 422 and "unassigned p2" in missing.text

    plain = tender(client, tenants)
    split = {"p1": {"unit_id": "plant-b", "price": 900}, "p2": {"unit_id": "plant-a", "price": 400}}
    formed = client.post(
        f"/api/opportunities/{plain['id']}/consortium",
        json={"assignments": split, "terms": {"payment_terms": "60 days"}},
        headers=headers,
    )
    assert formed.status_code == 201, formed.text
    consortium = formed.json()
    assert consortium["formed_by"] == "assignment" and consortium["network_kind"] == "stable"
    assert consortium["terms"]["payment_terms"] == "60 days"
    assert {m["party_id"]: m["price"] for m in consortium["members"]} == {
        "plant-a": 400,
        "plant-b": 900,
    }
    status = client.get(f"/api/opportunities/{plain['id']}", headers=headers).json()["status"]
    assert status == "forming"
    again = client.post(
        f"/api/opportunities/{plain['id']}/consortium",
        json={"assignments": split},
        headers=headers,
    )
    assert again.status_code == 409

    # A rule by country counts the members in it: plant-b is in Italy, plant-a's country is not
    # known, so it never counts (and the reasons and the partner search say so).
    assert client.patch("/api/units/plant-b", json={"country": "IT"}, headers=headers).is_success
    strict = tender(client, tenants, local_content={"min_share": 0.8, "country": "IT"})
    short = client.post(
        f"/api/opportunities/{strict['id']}/consortium",
        json={"assignments": split},
        headers=headers,
    )
    assert short.status_code == 409
    assert short.json()["message"] == (
        "no consortium: infeasible because local content 69 % < required 80 % "
        "(plant-a: country unknown: not counted as in IT)"
    )
    found = client.get(f"/api/opportunities/{strict['id']}/candidates", headers=headers).json()
    where = {c["unit_id"]: (c["local"], c["locality"]) for c in found["processes"][0]["candidates"]}
    assert where == {
        "plant-a": (False, "country unknown: not counted as in IT"),
        "plant-b": (True, "in IT"),
    }
    in_italy = tender(client, tenants, local_content={"min_share": 0.6, "country": "IT"})
    met = client.post(
        f"/api/opportunities/{in_italy['id']}/consortium",
        json={"assignments": split},
        headers=headers,
    )
    assert met.status_code == 201, met.text  # no material lines, no supplier: a member meets it
    assert met.json()["local_share"] == pytest.approx(900 / 1300)
    assert {m["party_id"]: m["local"] for m in met.json()["members"]} == {
        "plant-a": False,
        "plant-b": True,
    }
    # Where the unit is, on its plant's page and the network's.
    assert "IT</p>" in _page(client, tenants, "plant-b").split('id="unit-place">')[1]
    assert "country unknown" in _page(client, tenants, "plant-a").split('id="unit-place">')[1]
    assert "(IT)</td>" in _page(client, tenants, "coordinator")


def _page(client: TestClient, tenants: Tenants, who: str) -> str:
    client.cookies.set(SESSION_COOKIE, tenants.keys[who])
    try:
        response = client.get("/")
    finally:
        client.cookies.clear()
    assert response.status_code == 200, response.text
    return response.text


def _coordinator() -> Actor:
    return Actor(principal_id=0, name="fixture", role=Role.COORDINATOR)


def test_a_local_supplier_joins_to_meet_the_local_content_rule(
    client: TestClient, tenants: Tenants
) -> None:
    """A configured robotic cell delivered in Bologna, 30 % of its value from within 50 km: the
    plants are 190 km away, so the selection takes the Bologna mill's dearer steel plate."""
    formed = _assign_with_local_steel(client, tenants, lead_time_days=3)
    assert formed.status_code == 201, formed.text
    members = {m["party_id"]: m for m in formed.json()["members"]}
    assert set(members) == {"plant-a", "supplier:near-mill"}
    steel = members["supplier:near-mill"]
    assert steel["role"] == "local_supplier" and steel["local"] is True
    assert steel["steps"] == ["material:steel-plate"] and steel["unit_id"] is None
    assert steel["price"] == 200 * 0.4
    assert members["plant-a"]["role"] == "lead" and members["plant-a"]["work_share"] == 1.0
    assert formed.json()["local_share"] >= 0.3


def test_a_material_that_comes_after_the_due_date_cannot_meet_the_rule(
    client: TestClient, tenants: Tenants
) -> None:
    """Steel plate 40 days away cannot be there for a due date in 30 days: the local-content
    rule cannot be met, and the refusal names the material."""
    late = _assign_with_local_steel(client, tenants, lead_time_days=40)
    assert late.status_code == 409, late.text
    assert "steel-plate" in late.json()["message"]


def test_a_materials_lead_time_runs_on_the_networks_time_scale(
    settings_factory: Callable[..., Settings],
) -> None:
    """On a network whose days pass 60 times as fast (the purchase would expect the plate in
    16 hours), the same 40-day offer is in time."""
    with TestClient(create_app(settings_factory(orders={"time_scale": 60}))) as client:
        tenants = populate(client.app.state.context)  # type: ignore[attr-defined]
        formed = _assign_with_local_steel(client, tenants, lead_time_days=40)
        assert formed.status_code == 201, formed.text
        assert "supplier:near-mill" in {m["party_id"] for m in formed.json()["members"]}


def _assign_with_local_steel(client: TestClient, tenants: Tenants, *, lead_time_days: float) -> Any:
    """A stable network's coordinator assigns a robotic cell for Bologna to plant-a, under a
    30 %-within-50-km rule, with two mills offering its steel plate: the answer to forming."""
    headers = tenants.headers("coordinator")
    set_kind(client, tenants, "stable")
    mill = {"latitude": 44.5, "longitude": 11.3, "country": "IT"}
    for supplier, place, price in (
        ("near-mill", mill, 200),
        ("far-mill", {**mill, "latitude": 45.0, "longitude": 9.0}, 150),
    ):
        body = {
            "id": supplier,
            "company": supplier,
            **place,
            "offers": {"steel-plate": {"unit_price": price, "lead_time_days": lead_time_days}},
        }
        assert client.post("/api/suppliers", json=body, headers=headers).status_code == 201
    configuration = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
        headers=tenants.headers("customer"),
    ).json()
    body = {
        "title": "Robotic cell for the depot",
        "configuration_id": configuration["id"],
        "due_at": soon(30),
        "site": FAR_SITE,
        "currency": "EUR",
        "local_content": {"min_share": 0.3, "within_km": 50},
    }
    response = client.post("/api/opportunities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    opportunity = response.json()
    certifications = sorted({c for p in opportunity["processes"] for c in p["certifications"]})
    patched = client.patch(
        "/api/units/plant-a", json={"certifications": certifications}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assignments = {p["step"]: {"unit_id": "plant-a", "price": 10} for p in opportunity["processes"]}
    return client.post(
        f"/api/opportunities/{opportunity['id']}/consortium",
        json={"assignments": assignments},
        headers=headers,
    )


def test_two_answers_at_once_one_is_taken_and_the_other_refused(
    client: TestClient, tenants: Tenants
) -> None:
    """The answer is a compare-and-set on "sent": whichever commits first is kept whole."""
    set_kind(client, tenants, "dynamic")
    opportunity = tender(client, tenants)
    invitation = invite_all(client, tenants, opportunity["id"])[("p1", "plant-a")]
    plant_a = Actor(principal_id=0, name="plant-a key", role=Role.PLANT, unit_id="plant-a")
    start = threading.Barrier(2)

    def answer_with(price: float) -> str:
        start.wait()
        try:
            with transaction(tenants.context.session_factory) as session:
                service.answer_invitation(
                    session=session,
                    actor=plant_a,
                    invitation_id=invitation,
                    answer=WorkInvitationAccept.model_validate(accept(price)),
                    now=datetime.now(UTC),
                )
        except Conflict:
            return "refused"
        return "taken"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(answer_with, (700.0, 900.0)))
    assert sorted(outcomes) == ["refused", "taken"]
    stored = client.get(
        f"/api/work-invitations/{invitation}", headers=tenants.headers("plant-a")
    ).json()
    winner = (700.0, 900.0)[outcomes.index("taken")]
    assert stored["status"] == "accepted" and stored["price"] == winner
