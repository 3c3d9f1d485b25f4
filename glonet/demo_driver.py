"""The people of the demo, through the coordinator's HTTP API: customers co-design and order with
the network's engineer, the coordinator delivers what is completed, a machine breaks, and the
technician the maintenance service assigns acknowledges and resolves its ticket, which makes the
unit's gateway call the machine's ``Repair``.

The network also acts as one enterprise: a public customer's opportunity is offered to the
members (a dynamic network invites them), the members answer as scripted, the selection forms a
consortium with local suppliers to meet the local-content rule, the members accept its terms,
and the consortium's quote is confirmed; once delivered, the order's ledger is printed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cloud.products.models import FieldAssetSet
from glonet.demo_network import (
    COORDINATOR_KEY,
    DemoError,
    DemoOpportunity,
    DemoOrder,
    DemoSpec,
    PlantNetwork,
    call_maintenance,
    technician_key,
)

_LOGGER = logging.getLogger(__name__)
# How long after the breakdown (real seconds) a ticket must be there, and how long after the
# repair is due it must be assigned to a demo technician, before the demo repairs directly.
TICKET_TIMEOUT_S = 30.0
DONE_STATUSES = ("resolved", "closed")


@dataclass
class BrokenMachine:
    """The machine the demo broke, and how far its ticket got."""

    machine: str
    at: float
    ticket: dict[str, Any] | None = None
    warned: bool = False
    resolved_at: float | None = None
    repaired: bool = False


@dataclass
class DemoDriver:
    spec: DemoSpec
    url: str
    keys: dict[str, str]
    plants: PlantNetwork
    started: float = field(default_factory=time.monotonic)
    statuses: dict[str, str] = field(default_factory=dict)
    broken: BrokenMachine | None = None
    first_completion_s: float | None = None
    placed_at: float | None = None
    # The consortium's order, and whether its ledger was shown.
    consortium_order: str | None = None
    ledger_shown: bool = False
    # What each order's product is installed as at its customer's site, by order id.
    installs: dict[str, FieldAssetSet] = field(default_factory=dict)
    # The delivered products (serial) by order id.
    products: dict[str, str] = field(default_factory=dict)

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
        if order.field_asset is not None:
            self.installs[str(placed["id"])] = order.field_asset
        print(
            f"order {placed['id']}: {order.title} for {order.customer}, "
            f"{quote['price']:.0f} {quote['currency']}, promised {quote['promised_at'][11:19]} UTC"
        )
        return str(placed["id"])

    def form_and_quote(self, opportunity: DemoOpportunity) -> str:
        """The opportunity from the customer's configuration to the consortium's confirmed
        quote; return its order."""
        customer = f"Customer {opportunity.customer}"
        network = self.call(
            COORDINATOR_KEY, "PATCH", f"/api/networks/{self.spec.network}", json={"kind": "dynamic"}
        )
        configuration = self.call(
            customer,
            "POST",
            "/api/configurations",
            json={
                "family_id": opportunity.family,
                "title": opportunity.title,
                "values": opportunity.values,
            },
        )
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "title": opportunity.title,
            "configuration_id": configuration["id"],
            "due_at": (now + timedelta(days=opportunity.due_days)).isoformat(),
            "site": opportunity.site,
        }
        if opportunity.local_content is not None:
            body["local_content"] = opportunity.local_content
        found = self.call(COORDINATOR_KEY, "POST", "/api/opportunities", json=body)
        rule = opportunity.local_content or {}
        print(
            f"opportunity {found['id']}: {opportunity.title} for {opportunity.customer} "
            f"({network['kind']} network), {len(found['processes'])} processes"
            + (
                f", at least {rule['min_share']:.0%} of the value within "
                f"{rule['within_km']:g} km of {opportunity.site.get('name', 'the site')}"
                if rule.get("within_km")
                else ""
            )
        )
        self._invite(found["id"], opportunity, now)
        consortium = self.call(
            COORDINATOR_KEY,
            "POST",
            f"/api/opportunities/{found['id']}/consortium",
            json={"terms": opportunity.terms},
        )
        for member in consortium["members"]:
            print(
                f"  consortium {consortium['id']}: {member['party_id']} ({member['role']}) "
                f"{', '.join(member['steps'])} for {member['price']:.0f} {consortium['currency']},"
                f" {member['revenue_share']:.0%} of the revenue"
            )
        if consortium["local_share"] is not None:
            print(f"  local content {consortium['local_share']:.0%}")
        for member in consortium["members"]:
            if member["unit_id"] is not None:
                self.call(
                    f"Plant {member['unit_id']}",
                    "POST",
                    f"/api/consortia/{consortium['id']}/acceptances",
                    json={"revision": consortium["revision"]},
                )
        print(f"  every member accepted the terms of revision {consortium['revision']}")
        quote = self.call(COORDINATOR_KEY, "POST", f"/api/opportunities/{found['id']}/quote")
        placed = self.call(customer, "POST", f"/api/quotes/{quote['id']}/confirm")
        print(
            f"order {placed['id']}: {opportunity.title} for {opportunity.customer} by the "
            f"consortium, {quote['price']:.0f} {quote['currency']}, "
            f"promised {quote['promised_at'][11:19]} UTC; opportunity won"
        )
        self.consortium_order = str(placed["id"])
        if opportunity.field_asset is not None:
            self.installs[self.consortium_order] = opportunity.field_asset
        return self.consortium_order

    def _invite(self, opportunity_id: str, opportunity: DemoOpportunity, now: datetime) -> None:
        """Invite the scripted members to their steps; each answers from its plant's key."""
        candidates = {step: list(units) for step, units in opportunity.answers.items()}
        sent = self.call(
            COORDINATOR_KEY,
            "POST",
            f"/api/opportunities/{opportunity_id}/work-invitations",
            json={"deadline": (now + timedelta(days=2)).isoformat(), "candidates": candidates},
        )
        for invitation in sent:
            answer = opportunity.answers[invitation["step"]][invitation["unit_id"]]
            body: dict[str, Any] = (
                {"answer": "decline", "reason": answer.decline}
                if answer.decline
                else {
                    "answer": "accept",
                    "price": answer.price,
                    "earliest_start": (now + timedelta(hours=1)).isoformat(),
                    "earliest_end": (now + timedelta(days=answer.days)).isoformat(),
                }
            )
            self.call(
                f"Plant {invitation['unit_id']}",
                "POST",
                f"/api/work-invitations/{invitation['id']}/answer",
                json=body,
            )
            said = (
                f"declines: {answer.decline}"
                if answer.decline
                else f"accepts for {answer.price:.0f}, done in {answer.days:g} days"
            )
            print(f"  {invitation['unit_id']} invited to {invitation['step']}: {said}")

    def show_ledger(self, order_id: str) -> None:
        """The delivered consortium order's ledger, as a table (and where to see it)."""
        ledger = self.call(COORDINATOR_KEY, "GET", f"/api/orders/{order_id}/ledger")
        self._say(f"ledger of order {order_id} (page {self.url}/ledger/{order_id}):")
        print(f"    {'member':<28} {'basis':<8} {'share':>7} {'revenue':>14}")
        for entry in ledger["entries"]:
            who = entry["unit_id"] or "network fee"
            # A supplier is paid its purchases, not a share.
            share = "-" if entry["kind"] == "purchase" else f"{entry['share']:.1%}"
            print(
                f"    {who:<28} {entry['basis']:<8} {share:>7} "
                f"{entry['revenue']:>10.2f} {entry['currency']}"
            )
        self.ledger_shown = True

    def follow(self) -> bool:
        """One look at the orders; return True once every order is delivered."""
        orders = self.call(COORDINATOR_KEY, "GET", "/api/orders")
        for order in orders:
            if self.statuses.get(order["id"]) != order["status"]:
                self.statuses[order["id"]] = order["status"]
                self._announce(order)
        self._break_or_repair(orders)
        delivered = {o["id"] for o in orders if o["status"] == "delivered"}
        order = self.consortium_order
        if order is not None and order in delivered and not self.ledger_shown:
            self.show_ledger(order)
        return bool(orders) and len(delivered) == len(orders)

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
            self.deliver(order["id"])

    def deliver(self, order_id: str) -> None:
        """Hand the order over; a product with a field asset is installed (commissioned) as
        it, so that its page shows the asset's live state."""
        installed = self.installs.get(order_id)
        body = {} if installed is None else {"field_asset": installed.model_dump()}
        self.call(COORDINATOR_KEY, "POST", f"/api/orders/{order_id}/deliver", json=body)
        products = self.call(COORDINATOR_KEY, "GET", "/api/products")
        serial = next(p["serial"] for p in products if p["order_id"] == order_id)
        self.products[order_id] = serial
        where = (
            f"installed as {installed.unit_id}/{installed.asset}, live on"
            if installed is not None
            else "(no field gateway reports it) on"
        )
        self._say(
            f"order {order_id} delivered: product {serial} {where} {self.url}/products/{serial}"
        )

    def _say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {text}")

    def _break_or_repair(self, orders: list[dict[str, Any]]) -> None:
        breakdown = self.spec.breakdown
        if breakdown is None:
            return
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
                endpoint = self._endpoint(breakdown.unit)
                asyncio.run(call_maintenance(endpoint, running[0], "InjectFault", "breakdown", 0.0))
                self.broken = BrokenMachine(running[0], time.monotonic())
                self._say(f"{breakdown.unit}/{running[0]} breaks down mid-operation: re-planning")
        elif not self.broken.repaired:
            self._follow_repair(self.broken, breakdown.unit, breakdown.repair_after_s)

    def _endpoint(self, unit: str) -> str:
        return next(p for p in self.plants.plants if p.unit == unit).endpoint()

    def _follow_repair(self, broken: BrokenMachine, unit: str, repair_after_s: float) -> None:
        """Follow the breakdown's ticket; resolve it as its technician once the repair is due."""
        asset = f"{unit}/{broken.machine}"
        if broken.resolved_at is not None:
            machine = self.call(COORDINATOR_KEY, "GET", f"/api/machines/{asset}")
            if machine["available"]:
                broken.repaired = True
                self._say(
                    f"{asset} repaired by its gateway (state {machine['state']}) and back in "
                    f"the plan, {time.monotonic() - broken.resolved_at:.0f} s after the resolve"
                )
            return
        ticket = self._breakdown_ticket(unit, broken)
        waited = time.monotonic() - broken.at
        if ticket is None and waited > TICKET_TIMEOUT_S and not broken.warned:
            broken.warned = True
            self._say(f"!!! no maintenance ticket for {asset} {waited:.0f} s after the breakdown")
        if waited < repair_after_s:
            return
        assignee = ticket["assignee_id"] if ticket else None
        if ticket is not None and assignee is not None and technician_key(assignee) in self.keys:
            self._resolve_as_technician(ticket, assignee)
            broken.resolved_at = time.monotonic()
        elif waited > repair_after_s + TICKET_TIMEOUT_S:
            self._say(
                f"!!! FALLBACK: no ticket for {asset} assigned to a demo technician "
                f"{waited:.0f} s after the breakdown; calling Repair over OPC UA directly"
            )
            _LOGGER.warning("fallback: repairing %s directly, without a technician", asset)
            asyncio.run(call_maintenance(self._endpoint(unit), broken.machine, "Repair"))
            broken.resolved_at = time.monotonic()

    def _breakdown_ticket(self, unit: str, broken: BrokenMachine) -> dict[str, Any] | None:
        """The machine's open ticket (the breakdown opens it or joins one already open)."""
        tickets = self.call(
            COORDINATOR_KEY,
            "GET",
            "/api/maintenance/tickets",
            params={"unit_id": unit, "asset": broken.machine},
        )
        current = [t for t in tickets if t["status"] not in DONE_STATUSES]
        if not current:
            return broken.ticket
        ticket: dict[str, Any] = max(current, key=lambda t: t["id"])
        before = broken.ticket or {}
        if before.get("id") != ticket["id"]:
            self._say(
                f"maintenance ticket {ticket['id']} opened for {unit}/{broken.machine}: "
                f"{ticket['title']} ({ticket['priority']} priority, skill {ticket['skill']})"
            )
            before = {}
        if ticket["assignee_id"] and before.get("assignee_id") != ticket["assignee_id"]:
            self._say(f"ticket {ticket['id']} assigned to technician {ticket['assignee_id']}")
            day = self.call(
                COORDINATOR_KEY, "GET", f"/api/maintenance/technicians/{ticket['assignee_id']}/day"
            )
            if day["next"]:
                self._say(f"technician {ticket['assignee_id']}'s route: {day['next']}")
        broken.ticket = ticket
        return ticket

    def _resolve_as_technician(self, ticket: dict[str, Any], technician: str) -> None:
        who, path = technician_key(technician), f"/api/maintenance/tickets/{ticket['id']}"
        if ticket["status"] == "assigned":
            self.call(who, "POST", f"{path}/acknowledge")
            self._say(f"technician {technician} acknowledges ticket {ticket['id']}")
        resolved = self.call(
            who,
            "POST",
            f"{path}/resolve",
            json={"note": "Fault cleared; machine tested and released to production."},
        )
        self._say(
            f"technician {technician} resolves ticket {ticket['id']} "
            f"(repair time {resolved['repair_minutes']} min): the gateway repairs "
            "the machine"
        )

    def ticket_summary(self) -> str:
        """How many maintenance tickets the run produced, by kind and status."""
        tickets = self.call(COORDINATOR_KEY, "GET", "/api/maintenance/tickets")
        counts: dict[str, int] = {}
        for ticket in tickets:
            label = f"{ticket['kind']} {ticket['status']}"
            counts[label] = counts.get(label, 0) + 1
        detail = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        return f"maintenance tickets this run: {len(tickets)}" + (f" ({detail})" if detail else "")
