"""The whole loop with real processes: Mosquitto, firmware_sim plants, edge gateways, coordinator.

configure → quote → confirm → operations dispatched to two plants → completed → delivered with
its as-built record; a breakdown mid-order moves the remaining work and the order still
completes; with nothing broken, the promised date is met; with the demo's plant calendars, work
on the plants' shift machines happens in their shifts, and the order still completes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml

from cloud.config import OrdersSettings
from cloud.dispatch.planning import PlantClock
from cloud.registry.calendars import open_periods
from cloud.registry.models import PlantCalendarSet
from firmware_sim.address_space import NAMESPACE_URI
from glonet.broker import free_port
from glonet.demo import DEMO_SPEC
from glonet.demo_network import (
    Coordinator,
    DemoSpec,
    PlantNetwork,
    call_maintenance,
    coordinator_settings,
    load_spec,
    network_setup,
    prepare_network,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
NETWORK = "loop-test"
TIME_SCALE = 1500.0
FAMILY = {
    "id": "bracket",
    "name": "Welded bracket",
    "options": [
        {
            "id": "size_mm",
            "label": "Size",
            "type": "number",
            "min": 100,
            "max": 900,
            "step": 100,
            "unit": "mm",
            "default": 300,
        },
        {
            "id": "finish",
            "label": "Finish",
            "type": "choice",
            "choices": ["raw", "brushed"],
            "default": "raw",
        },
    ],
    "rules": [
        {
            "id": "big-brushed",
            "if": "size_mm > 600",
            "requires": "finish == 'raw'",
            "message": "Brackets above 600 mm are not brushed.",
        },
    ],
    "routing": [
        {
            "id": "cut",
            "name": "Cut the plates",
            "process": "laser_cutting",
            "duration_min": "20 + size_mm / 50",
        },
        {
            "id": "weld",
            "name": "Weld the bracket",
            "process": "welding",
            "duration_min": "30 + size_mm / 20",
            "after": ["cut"],
        },
        {
            "id": "assemble",
            "name": "Fit the hardware",
            "process": "assembly",
            "duration_min": 25,
            "after": ["weld"],
        },
        {
            "id": "test",
            "name": "Load test",
            "process": "testing",
            "duration_min": 20,
            "after": ["assemble"],
            "certifications": ["ISO9001"],
        },
    ],
    "price": "120 + size_mm * 0.4",
}


def _plant(unit: str, machines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "unit": unit,
        "name": f"{unit} works",
        "company": f"{unit} S.r.l.",
        "location": {"lat": 44.5, "lon": 11.3},
        "port": free_port(),
        "update_interval_s": 0.2,
        "machines": machines,
    }


def _machine(machine_id: str, kind: str, process: str) -> dict[str, Any]:
    return {
        "id": machine_id,
        "type": kind,
        "capabilities": [{"process": process, "parameters": {}}],
        "max_job_orders": 4,
    }


PLANTS = {
    "metal-works": [
        _machine("laser-1", "laser_cutter", "laser_cutting"),
        _machine("weld-1", "welding_robot", "welding"),
        _machine("weld-2", "welding_robot", "welding"),
    ],
    "assembly-works": [
        _machine("asm-1", "assembly_station", "assembly"),
        _machine("test-1", "test_bench", "testing"),
    ],
}


class Loop:
    def __init__(self, coordinator: Coordinator, keys: dict[str, str], plants: PlantNetwork):
        self.http = httpx.Client(base_url=coordinator.url, timeout=10)
        self.settings = coordinator.settings
        self.keys = keys
        self.plants = plants

    def call(self, who: str, method: str, url: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method, url, headers={"Authorization": f"Bearer {self.keys[who]}"}, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()

    def until(self, check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
        """``check``'s first truthy result; fails at once if a plant's process died."""

        def done() -> Any:
            result = check()
            assert result or not self.plants.dead(), f"processes died: {self.plants.dead()}"
            return result

        return wait_until(done, timeout, what)

    def order(self, **values: Any) -> dict[str, Any]:
        customer = "Customer acme"
        configuration = self.call(
            customer,
            "POST",
            "/api/configurations",
            json={"family_id": "bracket", "values": values, "comment": "our bracket"},
        )
        quote = self.call(
            customer, "POST", "/api/quotes", json={"configuration_id": configuration["id"]}
        )
        return self.call(customer, "POST", f"/api/quotes/{quote['id']}/confirm")

    def machines_reporting(self) -> int:
        machines = self.call("Network coordinator", "GET", "/api/machines")
        return sum(1 for machine in machines if machine["state"] is not None)

    def get_order(self, order_id: str) -> dict[str, Any]:
        return self.call("Network coordinator", "GET", f"/api/orders/{order_id}")

    def completed(self, order_id: str, timeout: float = 90.0) -> dict[str, Any]:
        return self.until(
            lambda: (o := self.get_order(order_id))["status"] == "completed" and o,
            f"order {order_id} completing",
            timeout,
        )


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    workdir = tmp_path_factory.mktemp("loop")
    families = workdir / "families"
    families.mkdir()
    (families / "bracket.yaml").write_text(yaml.safe_dump(FAMILY))
    plant_files = []
    for unit, machines in PLANTS.items():
        path = workdir / f"{unit}.yaml"
        path.write_text(yaml.safe_dump(_plant(unit, machines)))
        plant_files.append(path)
    spec = DemoSpec(
        network=NETWORK,
        plants=plant_files,
        families_dir=families,
        time_scale=TIME_SCALE,
        certifications={"assembly-works": ["ISO9001"]},
        orders=[{"customer": "acme", "family": "bracket", "title": "Bracket"}],
        coordinator={"orders": {"tick_interval_s": 0.3, "accept_timeout_s": 15.0}},
    )
    plants = PlantNetwork(workdir, plant_files, NETWORK, TIME_SCALE)
    settings = coordinator_settings(
        spec,
        workdir=workdir,
        mqtt_host=plants.broker.host,
        mqtt_port=plants.broker.port,
        port=free_port(),
    )
    coordinator = Coordinator(workdir, settings)
    try:
        # The simulated plants read the coordinator's plant clock, as `glonet demo` starts them.
        # Inside the try: a plant that fails to start must not leave the others running.
        plants.start(clock_origin=settings["orders"]["plant_clock_origin"])
        keys = prepare_network(settings, network_setup(spec, plants.plants)).api_keys
        coordinator.start()
        loop = Loop(coordinator, keys, plants)
        loop.until(lambda: loop.machines_reporting() == 5, "the gateways' machines reporting", 60)
        yield loop
    finally:
        coordinator.stop()
        plants.stop()


def test_an_order_flows_through_two_plants_and_is_delivered_on_time(loop: Loop) -> None:
    order = loop.order(size_mm=300)
    assert order["status"] == "confirmed"
    done = loop.completed(order["id"])
    operations = done["operations"]
    assert {op["unit_id"] for op in operations} == {"metal-works", "assembly-works"}
    assert next(op for op in operations if op["step"] == "test")["unit_id"] == "assembly-works"
    assert datetime.fromisoformat(done["completed_at"]) <= datetime.fromisoformat(
        done["promised_at"]
    ), "nothing broke: the promised date holds"

    delivered = loop.call("Network coordinator", "POST", f"/api/orders/{order['id']}/deliver")
    assert delivered["status"] == "delivered"
    products = loop.call("Customer acme", "GET", "/api/products")
    product = next(p for p in products if p["order_id"] == order["id"])
    assert [step["step"] for step in product["as_built"]] == ["cut", "weld", "assemble", "test"]
    assert all(step["machine_actual_end"] for step in product["as_built"])
    # The plants run 1500 times as fast, but what they report is wall-clock time, none of it in
    # the future (docs/machines.md, "Time"): the machines' ends, and the jobs they reported.
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert all(_aware(step["machine_actual_end"]) <= now for step in product["as_built"])
    jobs = loop.call("Network coordinator", "GET", "/api/jobs")
    assert jobs and all(_aware(job["occurred_at"]) <= now for job in jobs)

    seen = loop.call("Plant metal-works", "GET", "/api/dispatched-operations")
    assert seen and {op["unit_id"] for op in seen} == {"metal-works"}


# A call for tenders of the loop's customer: 40 brackets cut at the metal works, then fitted at
# the assembly works, delivered to a depot about 80 km south of both.
TENDER_LINES = {
    "p1": ("laser_cutting", "metal-works", 40),
    "p2": ("assembly", "assembly-works", 40),
}
DEPOT = {"name": "Florence depot", "latitude": 43.77, "longitude": 11.25, "country": "IT"}


def _tender_order(loop: Loop) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tender formed by direct assignment (a stable network), its consortium's terms
    accepted by its members, quoted and confirmed by the customer: (quote, order)."""
    coordinator, customer = "Network coordinator", "Customer acme"
    loop.call(coordinator, "PATCH", f"/api/networks/{NETWORK}", json={"kind": "stable"})
    try:
        opportunity = loop.call(
            coordinator,
            "POST",
            "/api/opportunities",
            json={
                "title": "Brackets for the depot",
                "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                "site": DEPOT,
                "budget": 10_000,
                "currency": "EUR",
                "customer_id": "acme",
                "processes": [
                    {"process": process, "quantity": quantity, "work_minutes": 60}
                    | ({"predecessors": ["p1"]} if step == "p2" else {})
                    for step, (process, _unit, quantity) in TENDER_LINES.items()
                ],
            },
        )
        consortium = loop.call(
            coordinator,
            "POST",
            f"/api/opportunities/{opportunity['id']}/consortium",
            json={
                "assignments": {
                    step: {"unit_id": unit, "price": 500.0}
                    for step, (_process, unit, _quantity) in TENDER_LINES.items()
                }
            },
        )
    finally:
        loop.call(coordinator, "PATCH", f"/api/networks/{NETWORK}", json={"kind": "dynamic"})
    for unit in {unit for _process, unit, _quantity in TENDER_LINES.values()}:
        loop.call(
            f"Plant {unit}",
            "POST",
            f"/api/consortia/{consortium['id']}/acceptances",
            json={"revision": 1},
        )
    quote = loop.call(coordinator, "POST", f"/api/opportunities/{opportunity['id']}/quote")
    return quote, loop.call(customer, "POST", f"/api/quotes/{quote['id']}/confirm")


def test_a_tender_lines_quantity_reaches_the_machine_and_its_scorecard(loop: Loop) -> None:
    """Each line's job order asks its machine for the line's 40 parts, the machine counts to
    40, and the members' scorecards compare the 40 made with the 40 ordered."""
    quote, order = _tender_order(loop)
    # The fitted brackets go from the assembly works to the depot: a priced leg of the promise.
    (leg,) = quote["work"]["delivery"]
    assert (leg["unit_id"], leg["steps"], leg["site"]) == ("assembly-works", ["p2"], DEPOT["name"])
    assert 80 < leg["km"] < 120 and leg["hours"] > 1
    done = loop.completed(order["id"])
    operations = {op["step"]: op for op in done["operations"]}
    assert {step: (op["unit_id"], op["quantity"]) for step, op in operations.items()} == {
        step: (unit, quantity) for step, (_process, unit, quantity) in TENDER_LINES.items()
    }
    jobs = {
        job["job_order_id"]: job for job in loop.call("Network coordinator", "GET", "/api/jobs")
    }
    for op in operations.values():
        job = jobs[op["job_order_id"]]
        assert (job["event"], job["produced_quantity"]) == ("ended", 40), job
    # Every operation the module ended made what its job order asked: 40 of 40 here, 1 of 1
    # for the configured brackets (a count of 1 asked would make this 40 / 1).
    for unit in ("metal-works", "assembly-works"):
        card = loop.call("Network coordinator", "GET", f"/api/scorecards/{unit}")
        assert card["quantity_ratio"] == 1.0, card


def test_a_breakdown_mid_order_moves_the_work_and_the_order_completes(loop: Loop) -> None:
    order = loop.order(size_mm=900)

    def welding() -> dict[str, Any] | None:
        ops = loop.get_order(order["id"])["operations"]
        weld = next(op for op in ops if op["step"] == "weld")
        return weld if weld["status"] == "running" else None

    weld = loop.until(welding, "the welding step running", 60)
    broken = weld["machine"]
    plant = next(p for p in loop.plants.plants if p.unit == "metal-works")
    asyncio.run(call_maintenance(plant.endpoint(), broken, "InjectFault", "breakdown", 0.0))

    done = loop.completed(order["id"])
    weld_done = next(op for op in done["operations"] if op["step"] == "weld")
    assert weld_done["machine"] != broken
    product = next(
        p
        for p in loop.call("Network coordinator", "GET", "/api/products")
        if p["order_id"] == order["id"]
    )
    as_built = next(step for step in product["as_built"] if step["step"] == "weld")
    assert as_built["machine"] != broken and as_built["attempts"] >= 2
    asyncio.run(call_maintenance(plant.endpoint(), broken, "Repair"))


# The demo's calendars (glonet/demo/demo.yaml, read as `glonet demo` reads it), given to the loop's
# plants: the sheet-metal plant's (two shifts in Europe/Rome, its laser-1 lights-out) to the metal
# works, the welding plant's (two shifts, Saturday morning) to the assembly works.
DEMO_CALENDARS = {"metal-works": "reggio-sheet-metal", "assembly-works": "imola-welding"}


def _plant_clock(loop: Loop) -> PlantClock:
    orders = loop.settings["orders"]
    return PlantClock(orders["time_scale"], orders["plant_clock_origin"])


def _closed_for(calendar: PlantCalendarSet, at: datetime) -> timedelta:
    """How long the plant stays closed from ``at`` (zero while it is open)."""
    periods = open_periods(calendar, at, at + timedelta(days=7))
    return periods[0][0] - at if periods else timedelta(days=7)


async def _sim_clock_offset(endpoint: str, machine: str, clock: PlantClock) -> timedelta:
    """How far a simulated plant's clock is from the coordinator's plant clock: a machine's
    SimulationTime, read as soon as it moves, against the coordinator's plant time then."""
    from asyncua import Client, ua

    async with Client(endpoint, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        node = client.get_node(ua.NodeId(f"{machine}.SimulationTime", ns))
        first = await node.read_value()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            value = await node.read_value()
            now = datetime.now(UTC)
            if value != first:
                return value.replace(tzinfo=UTC) - clock.plant(now)
        raise AssertionError(f"the simulated clock of {machine} did not move")


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_with_the_demos_calendars_the_work_happens_in_the_plants_shifts(loop: Loop) -> None:
    """An order confirmed at night: the lights-out laser cuts at once, the welders and the
    assembly plant wait for the morning shift. Every operation on a shift machine starts, as the
    plant itself reports it (on the plant clock), in its plant's open time, and works inside one
    open period unless it is resumable and its plan pauses it over closed time; the order
    completes."""
    demo = load_spec(DEMO_SPEC).calendars
    calendars = {unit: demo[source] for unit, source in DEMO_CALENDARS.items()}
    clock = _plant_clock(loop)
    coordinator = "Network coordinator"
    try:
        for unit, calendar in calendars.items():
            loop.call(
                coordinator,
                "PUT",
                f"/api/units/{unit}/calendar",
                json=calendar.model_dump(mode="json"),
            )
        metal = calendars["metal-works"]
        # Wait for a weeknight at the metal works with at least four hours of it ahead: the
        # laser cuts at night, and the weld is ready hours before the morning shift.
        loop.until(
            lambda: (
                timedelta(hours=4)
                <= _closed_for(metal, clock.plant(datetime.now(UTC)))
                <= timedelta(hours=9)
            ),
            "a night at the metal works",
            timeout=3 * 86400 / clock.time_scale,
        )
        order = loop.order(size_mm=300)
        done = loop.completed(order["id"])
        loop.call(coordinator, "POST", f"/api/orders/{order['id']}/deliver")
        product = next(
            p
            for p in loop.call(coordinator, "GET", "/api/products")
            if p["order_id"] == order["id"]
        )
    finally:
        for unit in calendars:
            removed = loop.http.delete(
                f"/api/units/{unit}/calendar",
                headers={"Authorization": f"Bearer {loop.keys[coordinator]}"},
            )
            assert removed.status_code == 204, removed.text

    planned = {op["step"]: op for op in done["operations"]}
    non_resumable = OrdersSettings().non_resumable_processes
    # The dispatcher sends a shift machine's operation within one of its ticks of the planned
    # start, and a simulated machine starts it at its next update: that much early is on time.
    orders = loop.settings["orders"]
    slack = timedelta(seconds=(orders["tick_interval_s"] + 0.3) * clock.time_scale)
    # The simulated plants started on the coordinator's plant clock: they read its plant time
    # (to within the moment their value was last updated), not the wall clock.
    offsets = {
        plant.unit: asyncio.run(_sim_clock_offset(plant.endpoint(), plant.machines[0].id, clock))
        for plant in loop.plants.plants
    }
    assert all(abs(offset) <= slack for offset in offsets.values()), offsets
    tick = timedelta(seconds=0.1 * clock.time_scale)  # the plan's grain (0.1 s, wall clock)
    on_shift = 0
    actual: dict[str, tuple[datetime, datetime]] = {}
    for step in product["as_built"]:
        calendar = calendars[step["unit_id"]]
        # The plant reports wall-clock times (docs/machines.md, "Time"): its calendar is in
        # plant time, where they fall on the coordinator's plant clock.
        start = clock.plant(_aware(step["machine_actual_start"]))
        end = clock.plant(_aware(step["machine_actual_end"]))
        periods = open_periods(calendar, start - timedelta(days=3), end + timedelta(days=3))
        period = next((p for p in periods if p[0] - slack <= start < p[1]), None)
        actual[step["step"]] = (start, end)
        if step["machine"] in calendar.lights_out:
            if step["step"] == "cut":
                assert period is None, f"the lights-out laser should cut at night, not at {start}"
            continue
        on_shift += 1
        where = f"{step['step']} on {step['unit_id']}/{step['machine']} ({start} to {end})"
        assert period is not None, f"{where} started while its plant was closed"
        plan = planned[step["step"]]
        plan_start = clock.plant(_aware(plan["planned_start"]))
        plan_end = clock.plant(_aware(plan["planned_end"]))
        plan_period = next((p for p in periods if p[0] - tick <= plan_start < p[1]), None)
        assert plan_period is not None, f"{where} planned in closed time"
        if end > period[1] + slack:
            # A simulated machine runs on once started; the plan must have paused the work.
            assert step["process"] not in non_resumable, f"{where} is not resumable"
            assert plan_end > plan_period[1] + tick, (
                f"{where} ran past closing without a pause in the plan"
            )
    assert on_shift == 3, "weld, assemble and test run on shift machines"
    assert actual["weld"][0] - actual["cut"][1] > timedelta(hours=1), (
        "the weld was ready at night and waited for the morning shift"
    )
    assert done["status"] == "completed"
