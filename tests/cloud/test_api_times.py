"""One time convention in the API: every time it answers is ISO 8601 with an explicit zone (UTC,
``Z`` or ``+00:00``), never a naive time a client would read in its own zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cloud.config import Settings
from tests.cloud.orders.network import ROBOT_CELL, auth, served

TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
ZONED = re.compile(r"(Z|[+-]\d\d:\d\d)$")


def _times(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every text in ``value`` that reads as a date and time, with where it was."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value[:50]):
            yield from _times(item, f"{where}[{index}]")
    elif isinstance(value, str) and TIME.match(value):
        yield where, value


def test_every_time_the_api_answers_names_its_zone(settings: Settings) -> None:
    """The GET endpoints without path parameters, and an order's, a ticket's and a unit's
    health, on a network with an order and a ticket: each time ends in a zone."""
    with served(settings) as (client, keys):
        coordinator = auth(keys, "coordinator")
        configuration = client.post(
            "/api/configurations",
            json={"family_id": "robotic-cell", "values": ROBOT_CELL},
            headers=auth(keys, "alice"),
        ).json()
        quote = client.post(
            "/api/quotes",
            json={"configuration_id": configuration["id"]},
            headers=auth(keys, "alice"),
        ).json()
        order = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
        ticket = client.post(
            "/api/maintenance/tickets",
            json={"unit_id": "metal", "asset": "weld-1", "title": "Torch worn"},
            headers=coordinator,
        ).json()
        paths = [
            path
            for path, operations in client.get("/openapi.json").json()["paths"].items()
            if "get" in operations and "{" not in path and not path.endswith("events")
        ]
        paths += [
            f"/api/orders/{order.json()['id']}",
            f"/api/maintenance/tickets/{ticket['id']}",
            f"/api/configurations/{configuration['id']}",
            "/api/units/metal/health",
        ]
        naive: list[tuple[str, str]] = []
        checked = 0
        for path in paths:
            response = client.get(path, headers=coordinator)
            if response.headers.get("content-type", "").startswith("application/json"):
                found = list(_times(response.json(), path))
                checked += len(found)
                naive += [(where, value) for where, value in found if not ZONED.search(value)]
    assert checked > 20, checked  # the order's, the quote's, the ticket's times at least
    assert naive == []
