"""The people of the demo, through the coordinator's HTTP API: customers co-design and order with
the network's engineer, the coordinator delivers what is completed, and a machine breaks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from glonet.demo_network import DemoError, DemoOrder, DemoSpec, PlantNetwork, call_maintenance

_LOGGER = logging.getLogger(__name__)
COORDINATOR_KEY = "Network coordinator"


@dataclass
class DemoDriver:
    spec: DemoSpec
    url: str
    keys: dict[str, str]
    plants: PlantNetwork
    started: float = field(default_factory=time.monotonic)
    statuses: dict[str, str] = field(default_factory=dict)
    broken: tuple[str, float] | None = None
    repaired: bool = False
    first_completion_s: float | None = None
    placed_at: float | None = None

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.keys[who]}"}, **kwargs
        )
        if response.status_code >= 300:
            raise DemoError(f"{method} {path} as {who}: {response.status_code} {response.text}")
        return response.json()

    def wait_for_machines(self, timeout: float = 60.0) -> None:
        expected = sum(len(p.machines) for p in self.plants.plants)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            machines = self.call(COORDINATOR_KEY, "GET", "/api/machines")
            if sum(1 for m in machines if m["state"] is not None) >= expected:
                return
            time.sleep(0.5)
        raise DemoError("the gateways did not report every machine; see the logs")

    def submit(self, order: DemoOrder) -> str:
        """Customer configures, engineer revises, customer asks a quote and confirms."""
        customer = f"Customer {order.customer}"
        configuration = self.call(
            customer,
            "POST",
            "/api/configurations",
            json={
                "family_id": order.family,
                "title": order.title,
                "values": order.values,
                "comment": "first draft",
            },
        )
        revision = configuration["revision"]
        for problem in revision["problems"]:
            print(f"  {order.customer}: {problem['message']}")
        if order.engineer_changes:
            configuration = self.call(
                COORDINATOR_KEY,
                "POST",
                f"/api/configurations/{configuration['id']}/revisions",
                json={
                    "values": order.engineer_changes,
                    "comment": order.engineer_comment,
                    "base_revision": revision["number"],
                },
            )
            print(f"  engineer: {order.engineer_comment}")
        quote = self.call(
            customer, "POST", "/api/quotes", json={"configuration_id": configuration["id"]}
        )
        placed = self.call(customer, "POST", f"/api/quotes/{quote['id']}/confirm")
        self.placed_at = self.placed_at or time.monotonic() - self.started
        print(
            f"order {placed['id']}: {order.title} for {order.customer}, "
            f"{quote['price']:.0f} {quote['currency']}, promised {quote['promised_at'][11:19]} UTC"
        )
        return str(placed["id"])

    def follow(self) -> bool:
        """One look at the orders; return True once every order is delivered."""
        orders = self.call(COORDINATOR_KEY, "GET", "/api/orders")
        for order in orders:
            if self.statuses.get(order["id"]) != order["status"]:
                self.statuses[order["id"]] = order["status"]
                self._announce(order)
        self._break_or_repair(orders)
        return bool(orders) and all(o["status"] == "delivered" for o in orders)

    def _announce(self, order: dict[str, Any]) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:6.1f} s] order {order['id']} is {order['status']}")
        if order["status"] == "completed":
            if self.first_completion_s is None:
                self.first_completion_s = elapsed
                placed = elapsed - (self.placed_at or 0.0)
                print(
                    f"first order completed {elapsed:.0f} s after the demo started,"
                    f" {placed:.0f} s after the orders were placed"
                )
            self.call(COORDINATOR_KEY, "POST", f"/api/orders/{order['id']}/deliver")

    def _break_or_repair(self, orders: list[dict[str, Any]]) -> None:
        breakdown = self.spec.breakdown
        if breakdown is None:
            return
        plant = next(p for p in self.plants.plants if p.unit == breakdown.unit)
        if self.broken is None:
            running = [
                op["machine"]
                for order in orders
                for op in order["operations"]
                if op["status"] == "running"
                and op["unit_id"] == breakdown.unit
                and op["machine"] in breakdown.machines
            ]
            if running:
                asyncio.run(
                    call_maintenance(plant.endpoint(), running[0], "InjectFault", "breakdown", 0.0)
                )
                self.broken = (running[0], time.monotonic())
                print(f"{breakdown.unit}/{running[0]} breaks down mid-operation: re-planning")
        elif not self.repaired and time.monotonic() - self.broken[1] > breakdown.repair_after_s:
            asyncio.run(call_maintenance(plant.endpoint(), self.broken[0], "Repair"))
            self.repaired = True
            print(f"{breakdown.unit}/{self.broken[0]} repaired and back in the plan")
