"""Scorecards from the recorded events of a delivered order, the benchmarks' percentiles, and the
score partner search ranks by."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.config import Settings
from cloud.consortia.models import WorkInvitation
from cloud.context import AppContext
from cloud.database import transaction
from cloud.scorecards import scoring, service
from tests.cloud.ledger.delivered import context_of, delivered_order
from tests.cloud.orders.network import auth, served


def test_the_score_weighs_the_figures_a_member_has() -> None:
    perfect = scoring.score(on_time=1, rejection_rate=0, availability=1, quantity_ratio=1.2)
    assert perfect == 1.0
    assert (
        scoring.score(on_time=None, rejection_rate=None, availability=None, quantity_ratio=None)
        == 0.5
    )
    # on time only half the time, nothing else known: the score is that figure
    assert (
        scoring.score(on_time=0.5, rejection_rate=None, availability=None, quantity_ratio=None)
        == 0.5
    )
    mixed = scoring.score(on_time=1.0, rejection_rate=0.5, availability=None, quantity_ratio=None)
    weights = scoring.WEIGHTS
    assert mixed == round(
        (weights["on_time"] + weights["reliability"] * 0.5)
        / (weights["on_time"] + weights["reliability"]),
        4,
    )


def test_percentiles_name_no_member_and_skip_the_unknown() -> None:
    found = scoring.percentiles([0.2, None, 0.4, 0.6, 0.8])
    assert (found.members, found.p25, found.p50, found.p75) == (4, 0.35, 0.5, 0.65)
    assert scoring.percentiles([None]).p50 is None
    assert scoring.percentiles([0.7]).p25 == 0.7


@pytest.fixture
def delivered(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with served(settings) as (client, keys):
        shares = {"lead": 0.5, "metal": 0.3, "finish": 0.2}
        delivered_order(
            client, keys, context_of(client), {"shares": shares, "accepted": set(shares)}
        )
        _invite(context_of(client))
        yield client, keys


def _invite(context: AppContext) -> None:
    """metal answers after 2 of its 4 hours, lead after 1, finish never (its deadline passed)."""
    sent = datetime.now(UTC) - timedelta(hours=6)
    answers = {"metal": 2.0, "lead": 1.0, "finish": None}
    with transaction(context.session_factory) as session:
        for unit_id, hours in answers.items():
            session.add(
                WorkInvitation(
                    id=f"inv-{unit_id}",
                    opportunity_id="opp-1",
                    step="weld",
                    process="welding",
                    work_minutes=60,
                    unit_id=unit_id,
                    deadline=sent + timedelta(hours=4),
                    status="accepted" if hours else "sent",
                    sent_by="fixture",
                    sent_at=sent,
                    answered_at=None if hours is None else sent + timedelta(hours=hours),
                )
            )


def test_scorecards_from_the_events_each_member_its_own(
    delivered: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = delivered
    everyone = client.get("/api/scorecards", headers=auth(keys, "coordinator"))
    assert everyone.status_code == 200, everyone.text
    cards = {card["unit_id"]: card for card in everyone.json()["members"]}
    assert sorted(cards) == ["finish", "lead", "metal"]
    metal, lead, finish = cards["metal"], cards["lead"], cards["finish"]
    assert metal["rejected"] == 1 and metal["dispatches"] == metal["operations_ended"] + 1
    assert metal["rejection_rate"] == round(1 / metal["dispatches"], 4)
    assert lead["on_time"] == round((lead["operations_ended"] - 1) / lead["operations_ended"], 4)
    assert (finish["on_time"], finish["rejection_rate"]) == (1.0, 0.0)
    assert {card["quantity_ratio"] for card in cards.values()} == {1.0}
    assert {card["availability"] for card in cards.values()} == {1.0}  # no breakdown recorded
    assert [
        (c["invitations"], c["response_hours"], c["responsiveness"]) for c in cards.values()
    ] == [
        (1, None, 0.0),  # finish: no answer by the deadline
        (1, 1.0, 0.75),
        (1, 2.0, 0.5),
    ]
    for card in cards.values():
        figures = ("on_time", "rejection_rate", "availability", "quantity_ratio", "responsiveness")
        assert card["score"] == scoring.score(**{name: card[name] for name in figures}) < 1.0
    network = everyone.json()["network"]
    assert network["rejection_rate"]["members"] == 3
    assert network["on_time"]["p50"] == 1.0

    own = client.get("/api/scorecards", headers=auth(keys, "metal")).json()
    assert [card["unit_id"] for card in own["members"]] == ["metal"]
    assert own["network"] == network  # the same percentiles, no one named
    assert "lead" not in str(own["network"])
    one = client.get("/api/scorecards/metal", headers=auth(keys, "metal"))
    assert one.json() == metal
    assert client.get("/api/scorecards/lead", headers=auth(keys, "metal")).status_code == 404
    assert client.get("/api/scorecards", headers=auth(keys, "alice")).status_code == 403

    context: Any = client.app.state.context  # type: ignore[attr-defined]
    with transaction(context.session_factory) as session:
        scores = service.partner_scores(
            session=session, settings=context.settings, now=datetime.now(UTC)
        )
    assert scores == {unit: card["score"] for unit, card in cards.items()}
