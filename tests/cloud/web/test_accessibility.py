"""Every page for every role in Debian's Chromium, checked by axe-core (no serious or critical
violation) and read for raw data (Python reprs, raw enum values, e-notation), and the plan
page's Gantt chart: role scoping, details on hover, zoom and pan, screenshots at desktop and
phone widths, and its render time with 2,000 operations.

One coordinator and one browser for the whole module: a network with a calendar, a maintenance
window, a ticket, a planned order for each of two customers, and a paint booth whose gateway
reports a pressure of 1.36e-25 bar, its idle state and a critical alarm."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from cloud.config import load_settings
from cloud.database import transaction
from cloud.maintenance.tickets.models import TicketStatus
from cloud.orders.models import OperationStatus, OrderStatus
from cloud.registry import service as registry_service
from cloud.web import formats
from glonet.broker import MosquittoBroker, free_port
from protocols import messages, topics
from protocols.enums import JobOrderState, MachineryItemState
from tests.cloud.conftest import Gateway, make_key, mqtt_settings
from tests.cloud.orders.network import ROBOT_CELL, build_network
from tests.cloud.serving import serve
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

AXE = Path(__file__).resolve().parents[2] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
ZONE = "Europe/Rome"  # not the machine's: the page must show the viewer's zone


@dataclass
class Site:
    base_url: str
    keys: dict[str, str]
    orders: dict[str, str]  # customer -> its order id
    ticket: int


def _api(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def _order(base_url: str, key: str) -> str:
    with _api(base_url, key) as http:
        configuration = http.post(
            "/api/configurations", json={"family_id": "robotic-cell", "values": ROBOT_CELL}
        ).json()
        quote = http.post("/api/quotes", json={"configuration_id": configuration["id"]}).json()
        order_id: str = http.post(f"/api/quotes/{quote['id']}/confirm").json()["id"]
        return order_id


def _wait_planned(base_url: str, key: str, order_id: str) -> None:
    with _api(base_url, key) as http:
        # Planning on a loaded 2-core machine can take a while.
        wait_until(
            lambda: http.get(f"/api/orders/{order_id}").json()["status"] == "planned",
            60,
            f"order {order_id} planned",
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("accessibility")
    settings = load_settings(
        None,
        network=f"net-a11y-{free_port()}",
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'coordinator.sqlite'}",
        events={"bus": "off"},
        mqtt=mqtt_settings(mosquitto, f"coord-a11y-{free_port()}"),
        ingest={"enabled": True},
        orders={"time_scale": 600.0, "tick_interval_s": 0.3, "accept_timeout_s": 600.0},
    )
    app = create_app(settings)
    keys = build_network(app.state.context)
    with serve(app) as base_url, _api(base_url, keys["coordinator"]) as http:
        technician = {"id": "tech-metal", "name": "Ada Welder", "employer_unit_id": "metal"}
        assert http.post(
            "/api/technicians", json={**technician, "home_latitude": 44.6, "home_longitude": 10.9}
        ).is_success
        keys["technician"] = make_key(app.state.context, "technician", technician_id="tech-metal")
        # The metal plant works 08:00-16:00 (plant time; 48 s of a demo day's 144 s on the wall
        # clock): any chart of the plan shows some of its closed time.
        shifts = [{"weekday": d, "start": "08:00", "end": "16:00"} for d in range(7)]
        calendar = {"timezone": "Europe/Rome", "shifts": shifts, "lights_out": ["laser-1"]}
        assert http.put("/api/units/metal/calendar", json=calendar).is_success
        now = datetime.now(UTC)
        window = {
            "unit_id": "metal",
            "asset": "weld-2",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "reason": "torch service",
        }
        assert http.post("/api/maintenance/windows", json=window).is_success
        ticket = http.post(
            "/api/maintenance/tickets",
            json={"unit_id": "metal", "asset": "weld-1", "title": "Torch worn"},
        ).json()["id"]
        assign = {"technician_id": "tech-metal"}
        assert http.post(f"/api/maintenance/tickets/{ticket}/assign", json=assign).is_success
        orders = {who: _order(base_url, keys[who]) for who in ("alice", "bob")}
        for who, order_id in orders.items():
            _wait_planned(base_url, keys[who], order_id)
        booth = _paint_booth(app.state.context, mosquitto, settings.network, http)
        yield Site(base_url, keys, orders, ticket)
        booth.close()


BOOTH_METRICS = [
    {"name": "booth_pressure", "unit": "bar"},
    {"name": "booth_temperature", "unit": "°C"},
]


def _paint_booth(context: Any, broker: MosquittoBroker, network: str, http: httpx.Client) -> Any:
    """A machine no plan uses (no capability), whose gateway reports a pressure of
    1.36e-25 bar, its idle state and a critical (1000) alarm: what a page must put in words."""
    with transaction(context.session_factory) as session:
        booth = {"machine": "booth-1", "name": "Paint booth", "metrics": BOOTH_METRICS}
        registry_service.record_birth(session=session, unit_id="metal", machines=[booth])
    gateway = Gateway(broker, "metal", network=network, client_id=f"gw-booth-{free_port()}")
    gateway.capacity("booth-1", state=MachineryItemState.NOT_EXECUTING.value, free=0)
    now = datetime.now(UTC)
    samples = [
        {"machine": "booth-1", "metric": "booth_pressure", "value": 1.36e-25, "source_time": now},
        {"machine": "booth-1", "metric": "booth_temperature", "value": 21.437, "source_time": now},
    ]
    message = gateway.envelope(messages.Telemetry, {"samples": samples})
    gateway.send(topics.telemetry(network, "metal", "booth-1"), message)
    alarm = {
        "asset": "booth-1",
        "alarm_id": "booth-1/breakdown",
        "code": "breakdown",
        "state": "raised",
        "severity": 1000,
        "text": "booth fan stopped",
        "source": "opcua_event",
        "occurred_at": now,
    }
    gateway.send(topics.alarm(network, "metal", "booth-1"), gateway.envelope(messages.Alarm, alarm))
    wait_until(
        lambda: any(
            m["machine"] == "booth-1" and len(m["latest_metrics"]) == 2
            for m in http.get("/api/machines").json()
        ),
        30,
        "the booth's samples",
    )
    wait_until(
        lambda: any(t["asset"] == "booth-1" for t in http.get("/api/maintenance/tickets").json()),
        30,
        "the booth's ticket",
    )
    return gateway


def _signed_in(browser: Browser, site: Site, who: str, width: str = "desktop") -> Page:
    w, h = WIDTHS[width]
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    context = browser.new_context(
        viewport={"width": w, "height": h},
        timezone_id=ZONE,
        bypass_csp=True,
        has_touch=width == "phone",
    )
    page = context.new_page()
    page.goto(f"{site.base_url}/plan")
    page.fill("#api-key", site.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    return page


def _axe(page: Page) -> list[dict[str, Any]]:
    """The page's serious and critical axe violations, each with the elements it found."""
    assert AXE.exists(), f"{AXE} is missing: `make venv` installs it (npm ci in tests/axe)"
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def _settled(page: Page) -> None:
    """Wait until the page's live stream (if it has one) has connected or said why not."""
    live = page.locator("#live")
    if live.count():
        expect(live).not_to_have_text(re.compile(r"^(connecting…)?$"), timeout=10_000)


ROLES = {
    "coordinator": "coordinator",
    "plant": "metal",
    "customer": "alice",
    "technician": "technician",
}


def _pages(site: Site, role: str) -> list[str]:
    with _api(site.base_url, site.keys["alice"]) as http:
        alices = http.get(f"/api/orders/{site.orders['alice']}").json()["configuration_id"]
    extra = {
        "coordinator": [
            f"/orders/{site.orders['alice']}",
            "/machines/metal/weld-1",
            "/machines/metal/booth-1",
            f"/maintenance/tickets/{site.ticket}",
            f"/maintenance/tickets/{_booth_ticket(site)}",
        ],
        "plant": [
            "/machines/metal/weld-1",
            "/machines/metal/booth-1",
            f"/maintenance/tickets/{site.ticket}",
        ],
        "customer": [
            "/",  # the customer's home
            f"/configurator?configuration={alices}",  # a saved configuration reopened
            f"/orders/{site.orders['alice']}",
            "/plan",
        ],
        "technician": [f"/maintenance/tickets/{site.ticket}"],
    }
    return extra[role]


def _booth_ticket(site: Site) -> int:
    with _api(site.base_url, site.keys["coordinator"]) as http:
        tickets = http.get("/api/maintenance/tickets").json()
    return int(next(t["id"] for t in tickets if t["asset"] == "booth-1"))


RAW_ENUMS = {
    value
    for kind in (MachineryItemState, JobOrderState, OrderStatus, OperationStatus, TicketStatus)
    for value in kind
    if formats.word(value) != value and re.search(r"_|[a-z][A-Z]", value)
}
"""Enum values of several words (``NotExecuting``, ``in_production``), which the pages write as
words: none of them may show as it is. (A one-word value such as ``Maintenance`` reads as
prose; process kinds are not listed: the test network's machines are named after them.)"""
RAW_DATA = re.compile(
    r"\b(?:True|False|None)\b(?! of\b)"  # a Python bool or None ("None of your orders" is prose)
    r"|\{'|\['|object at 0x|datetime\.|Decimal\("  # a Python repr
    # A number in e-notation as Python and JavaScript write it: always with the exponent's sign
    # ("1.36e-25", "1e+25"), so a short order id such as "…4e25" is not taken for one.
    r"|\b\d+(?:\.\d+)?[eE][-+]\d+\b"
    # A time as the server writes it, not in the viewer's zone (the pages are read in ZONE,
    # where a time shows as CET or GMT+1): "UTC", or an ISO-like date with its time.
    r"|\bUTC\b|\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"
    r"|\b(?:" + "|".join(sorted(RAW_ENUMS)) + r")\b"
)


def _raw_data(page: Page) -> list[str]:
    """The lines of the page's text that show raw data."""
    return [line for line in page.inner_text("body").splitlines() if RAW_DATA.search(line)]


def test_the_raw_data_check_knows_a_time_not_in_the_viewers_zone() -> None:
    for raw in ("expected 2031-03-14 09:30:00", "due 07 Dec 14:05 UTC", "at 2031-03-14T09:30"):
        assert RAW_DATA.search(raw), raw
    for shown in ("expected 14 Mar, 09:30:00 GMT+1", "due 07/12/2026, 15:05 CET", "2031-03-14"):
        assert not RAW_DATA.search(shown), shown


def test_every_page_for_every_role_passes_axe(browser: Browser, site: Site) -> None:
    """The sign-in page, then every page in each role's navigation and the detail pages it may
    open: no serious or critical axe violation (all of them listed when it fails), and no raw
    data in its text: values in words and with their units, times in the viewer's zone."""
    found: dict[str, list[dict[str, Any]]] = {}
    raw: dict[str, list[str]] = {}
    page = browser.new_page(bypass_csp=True)
    page.goto(site.base_url)
    found["(signed out) /"] = _axe(page)
    checked = 1
    for role, who in ROLES.items():
        page = _signed_in(browser, site, who)
        links = page.locator("nav.nav a")
        paths = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        for path in dict.fromkeys(paths + _pages(site, role)):
            response = page.goto(site.base_url + path)
            assert response is not None and response.ok, (role, path)
            _settled(page)
            found[f"{role} {path}"] = _axe(page)
            raw[f"{role} {path}"] = _raw_data(page)
            checked += 1
            if role == "coordinator" and path == "/":
                _reads_right(page)
        page.context.close()
    print(f"\naxe-core on {checked} pages: " + json.dumps({k: v for k, v in found.items() if v}))
    assert {k: v for k, v in found.items() if v} == {}
    shown_raw = {k: v for k, v in raw.items() if v}
    assert not shown_raw, json.dumps(shown_raw, indent=1, ensure_ascii=False)


def _reads_right(page: Page) -> None:
    """The booth's row on the overview: its state and its values in words, with their units,
    and the board names its alarm's severity; times are shown in the viewer's zone."""
    booth = page.locator('tr[data-machine="metal/booth-1"]')
    expect(booth.locator(".state")).to_have_text("idle")
    expect(booth.locator(".metrics")).to_contain_text("booth_pressure: 0 bar")
    expect(booth.locator(".metrics")).to_contain_text("booth_temperature: 21.4 °C")
    page.goto(page.url.rstrip("/") + "/maintenance")
    expect(page.locator("#alerts")).to_contain_text("critical")
    expect(page.locator("#board time").first).to_have_attribute("data-local", ZONE)
    expect(page.locator("#board time").first).to_contain_text(re.compile(r"GMT\+1|CET"))


def test_the_plan_is_scoped_to_the_viewer_and_readable(
    browser: Browser, site: Site, screenshots: Path
) -> None:
    """The coordinator sees both orders in colour with a legend; a plant only its machines; a
    customer only its own order; a technician has no plan. Hovering a bar names the operation,
    order, machine and times in the viewer's zone; zoom changes the window. Screenshots of each
    role's plan at desktop and phone widths."""
    alice, bob = site.orders["alice"], site.orders["bob"]
    seen: dict[str, set[str]] = {}
    for role, who in ROLES.items():
        if role == "technician":
            continue
        for width in WIDTHS:
            page = _signed_in(browser, site, who, width)
            expect(page.locator("#gantt svg g.bar").first).to_be_visible(timeout=10_000)
            orders = page.locator("#gantt svg g.bar").evaluate_all(
                "bars => bars.map(bar => bar.dataset.order)"
            )
            seen[role] = set(orders)
            machines = page.locator("#gantt svg text.label").all_text_contents()
            if role == "plant":
                assert width == "phone" or all(m.startswith("metal / ") for m in machines)
            expect(page.locator("#zone")).to_have_text(ZONE)
            page.screenshot(path=str(screenshots / f"plan-{role}-{width}.png"), full_page=True)
            if role == "coordinator" and width == "desktop":
                _hover_zoom_and_pan(page, alice)
            if role == "customer" and width == "phone":
                page.locator("#gantt svg g.bar").first.tap()
                expect(page.locator("#gantt-tip")).to_contain_text(alice)
            page.context.close()
    assert seen["coordinator"] == {alice, bob}
    assert seen["customer"] == {alice}
    assert seen["plant"] <= {alice, bob}


def _hover_zoom_and_pan(page: Page, order_id: str) -> None:
    expect(page.locator("#orders-legend li")).to_have_count(2)
    # Bars name their order: the whole id where it fits, else its last four characters.
    expect(page.locator("#gantt svg text.on-bar").first).to_be_visible()
    labels = page.locator("#gantt svg text.on-bar").all_text_contents()
    orders = page.locator("#orders-legend li").all_text_contents()
    assert any(o in label or label == f"…{o[-4:]}" for o in orders for label in labels), labels
    assert page.locator("#gantt svg rect.window").count() == 1  # weld-2's window
    assert page.locator("#gantt svg rect.closed").count() >= 1  # the metal plant's nights
    bar = page.locator(f'#gantt svg g.bar[data-order="{order_id}"]').first
    box = bar.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator("#gantt-tip")
    expect(tip).to_be_visible()
    for words in ("Operation", order_id, "Machine", "Start", "End", ZONE):
        expect(tip).to_contain_text(words)
    before = page.locator("#window").text_content()
    page.click("#zoom-in")
    expect(page.locator("#window")).not_to_have_text(before or "")
    page.locator("#gantt").focus()
    zoomed = page.locator("#window").text_content()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#window")).not_to_have_text(zoomed or "")
    page.keyboard.press("Home")
    expect(page.locator("#window")).to_have_text(before or "")
    # The same details for keyboards and screen readers: a table of the window's operations.
    page.locator("#plan-table summary").focus()
    page.keyboard.press("Enter")
    rows = page.locator("#plan-table tbody tr")
    expect(rows).to_have_count(page.locator("#gantt svg g.bar").count())
    expect(rows.first).to_contain_text("ord-")


def test_a_customer_without_planned_orders_is_told_so(browser: Browser, site: Site) -> None:
    with _api(site.base_url, site.keys["coordinator"]) as http:
        principal = {"name": "carol", "role": "customer", "customer_id": "carol"}
        key = http.post("/api/principals", json=principal).json()["api_key"]
    site.keys["carol"] = key
    page = _signed_in(browser, site, "carol")
    expect(page.locator("#gantt-empty")).to_be_visible(timeout=10_000)
    expect(page.locator("#gantt-empty")).to_contain_text("None of your orders")
    assert page.locator("#gantt svg g.bar").count() == 0
    page.context.close()


def synthetic_plan(operations: int = 2000, machines: int = 40) -> dict[str, Any]:
    """A plan of ``operations`` over ``machines`` and 200 orders across a week."""
    start = datetime(2026, 12, 7, 6, tzinfo=UTC)
    per_machine = operations // machines
    rows = []
    for m in range(machines):
        bars = []
        for k in range(per_machine):
            begin = start + timedelta(hours=3.3 * k + (m % 5) * 0.4)
            bars.append(
                {
                    "order_id": f"order-{(m * 7 + k) % 200:04d}",
                    "step": f"s{k}",
                    "name": "milling",
                    "status": "planned" if k > 3 else "ended",
                    "start": begin.isoformat(),
                    "end": (begin + timedelta(hours=2.5)).isoformat(),
                    "progress": 0.0,
                    "setup_start": (begin - timedelta(minutes=20)).isoformat() if k % 4 else None,
                    "operator": None,
                }
            )
        rows.append(
            {
                "unit_id": f"plant-{m // 8}",
                "machine": f"m{m}",
                "down": False,
                "bars": bars,
                "windows": [],
                "closed": [],
            }
        )
    end = start + timedelta(hours=3.3 * per_machine + 3)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "now": (start + timedelta(hours=10)).isoformat(),
        "rows": rows,
        "extra": {},
    }


def test_the_gantt_with_2000_operations(browser: Browser, site: Site, screenshots: Path) -> None:
    """Render time of the chart with 2,000 operations (printed, not asserted: for the docs)."""
    body = json.dumps(synthetic_plan())
    page = _signed_in(browser, site, "coordinator")
    page.route(
        "**/api/plan/gantt",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    page.reload()
    expect(page.locator("#gantt svg g.bar")).to_have_count(2000, timeout=15_000)
    first = page.evaluate("() => window.ganttRenderMs")
    timings = []
    for control in ["#zoom-in", "#pan-later", "#zoom-out", "#zoom-all"] * 3:
        draws = page.evaluate("() => window.ganttDraws")
        page.click(control)
        page.wait_for_function(f"() => window.ganttDraws > {draws}")
        timings.append(page.evaluate("() => window.ganttRenderMs"))
    page.screenshot(path=str(screenshots / "plan-2000-operations.png"))
    timings.sort()
    print(
        f"\nGantt with 2000 operations: first draw {first:.0f} ms; redraws (zoom/pan) median "
        f"{timings[len(timings) // 2]:.0f} ms, max {timings[-1]:.0f} ms"
    )
    page.context.close()


def test_a_quote_breakdown_by_role_and_its_held_time_on_the_plan(
    browser: Browser, site: Site, screenshots: Path
) -> None:
    """An open quote priced from the members' rates: the coordinator sees every line, a member
    its own, the customer the total and its options, each page passing axe; the time it holds
    is on the plan, drawn as held with its key. (Last in the module: the other plan tests
    count the bars of the two orders.)"""
    with _api(site.base_url, site.keys["coordinator"]) as http:
        for unit, process in (("metal", "laser_cutting"), ("lead", "assembly")):
            rate = {"hourly_rate": 85, "setup_cost": 12}
            assert http.put(f"/api/units/{unit}/rates/{process}", json=rate).is_success
    with _api(site.base_url, site.keys["alice"]) as http:
        configuration = http.post(
            "/api/configurations", json={"family_id": "robotic-cell", "values": ROBOT_CELL}
        ).json()
        quote = http.post("/api/quotes", json={"configuration_id": configuration["id"]}).json()
    with _api(site.base_url, site.keys["coordinator"]) as http:
        lines = http.get(f"/api/quotes/{quote['id']}/breakdown").json()["lines"]
    metal_lines = sum(1 for line in lines if line["unit_id"] == "metal")
    assert metal_lines > 0
    violations, raw = {}, {}
    for role, who, rows in (
        ("coordinator", "coordinator", len(lines)),
        ("plant", "metal", metal_lines),
        ("customer", "alice", 0),
    ):
        page = _signed_in(browser, site, who)
        page.goto(f"{site.base_url}/quotes/{quote['id']}")
        expect(page.locator("#quote-title")).to_contain_text(quote["id"])
        expect(page.locator("#quote-lines tbody tr")).to_have_count(rows)
        if role == "plant":
            expect(page.locator("#quote-total")).to_have_count(0)
        else:
            expect(page.locator("#quote-total")).to_contain_text(f"{quote['price']:.2f}")
            expect(page.locator("#quote-options")).to_contain_text("payload_kg")
        violations[role] = _axe(page)
        raw[role] = _raw_data(page)  # its delivery and validity times in the viewer's zone
        page.screenshot(path=str(screenshots / f"quote-{role}.png"), full_page=True)
        page.context.close()
    assert {k: v for k, v in violations.items() if v} == {}
    assert {k: v for k, v in raw.items() if v} == {}

    page = _signed_in(browser, site, "coordinator")
    held = page.locator(f'#gantt svg g.bar.held[data-order="{quote["id"]}"]')
    expect(held).to_have_count(len(quote["work"]["operations"]), timeout=10_000)
    expect(page.locator("#key .swatch.held")).to_be_visible()
    page.screenshot(path=str(screenshots / "plan-held-quote.png"), full_page=True)
    assert _axe(page) == []
    page.context.close()
