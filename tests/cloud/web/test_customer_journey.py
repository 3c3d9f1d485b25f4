"""The customer's journey in Debian's Chromium, on the real API and the real scheduling core:
sign in → configure → quote → order → follow it → receive it (delivered) → open the product →
request service (a refused field first) → see the ticket change as a technician acknowledges
and resolves it through the API. Screenshots at desktop and phone widths; axe-core finds no
serious or critical violation on the product page.

One coordinator (no broker: the test runs the dispatcher's ticks itself, answering its
dispatches as the plants' gateways would, with the dispatch tests' helpers) and one browser
for the module."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from cloud.context import AppContext
from glonet.broker import free_port
from tests.cloud.conftest import make_key
from tests.cloud.dispatch.test_flows import Plants, finish
from tests.cloud.orders.network import build_network
from tests.cloud.serving import page_settings, serve
from tests.cloud.web.test_accessibility import AXE, BLOCKING, WIDTHS

pytestmark = pytest.mark.integration

RESOLUTION = "Replaced the worn vacuum cup and tested 50 cycles."
ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]


@dataclass
class Site:
    base_url: str
    keys: dict[str, str]
    context: AppContext

    def api(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("journey")
    settings = page_settings(
        data_dir,
        f"net-journey-{free_port()}",
        orders={"time_scale": 600.0, "accept_timeout_s": 600.0, "plan_time_limit_s": 0.05},
        products={"families": {"robotic-cell": {"service_level": "premium", "response_hours": 4}}},
    )
    app = create_app(settings)
    context = app.state.context
    keys = build_network(context)
    with serve(app) as base_url:
        site = Site(base_url, keys, context)
        technician = {
            "id": "tess",
            "name": "Tess Field",
            "employer_unit_id": "lead",
            "skills": ["mechanical"],
            "home_latitude": 44.5,
            "home_longitude": 11.35,
            "working_hours": ALL_WEEK,
        }
        with site.api("coordinator") as http:
            assert http.post("/api/technicians", json=technician).is_success
        keys["technician"] = make_key(context, "technician", technician_id="tess")
        yield site


def _signed_in(browser: Browser, site: Site, who: str, width: str = "desktop") -> Page:
    w, h = WIDTHS[width]
    context = browser.new_context(
        viewport={"width": w, "height": h}, bypass_csp=True, has_touch=width == "phone"
    )
    page = context.new_page()
    page.goto(site.base_url + "/")
    page.fill("#api-key", site.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    return page


def _axe(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"rule": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def _shoot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"journey-{name}.png"), full_page=True)


def test_configure_order_receive_and_get_service(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    """The browser closes before the coordinator stops (``site`` first): its open live stream
    would otherwise hold the server's shutdown."""
    customer = _signed_in(browser, site, "alice")
    expect(customer.locator("h2")).to_contain_text("Welcome")

    # Configures, asks a quote, orders.
    customer.goto(site.base_url + "/configurator?family=robotic-cell")
    expect(customer.locator("#validity")).to_have_text("Valid configuration")
    customer.click("#save")
    expect(customer.locator("#configuration")).to_contain_text("revision 1")
    customer.click("#quote")
    expect(customer.locator("#quote-summary")).to_contain_text("EUR")
    customer.click("#confirm")
    expect(customer.locator("#order-status")).to_be_visible(timeout=10_000)
    order_id = re.sub(r".*/orders/", "", customer.url)

    # Follows it: the scheduling core plans it, the plants make it.
    plants = Plants(site.context)
    dispatched = plants.tick()
    customer.reload()
    expect(customer.locator("#order-status")).to_have_text(re.compile("planned|in.production"))
    _shoot(customer, screenshots, "order-planned-desktop")
    plants.run(dispatched)
    finish(plants, order_id)
    customer.reload()
    expect(customer.locator("#order-status")).to_have_text(re.compile("completed"))

    # Receives it: the coordinator hands it over; the home lists the product.
    with site.api("coordinator") as http:
        assert http.post(f"/api/orders/{order_id}/deliver").is_success
    customer.goto(site.base_url + "/")
    product_link = customer.locator("#product-list a[href^='/products/']")
    expect(product_link).to_have_count(1)
    product_link.click()
    expect(customer.locator("#contract-level")).to_have_text("premium")
    expect(customer.locator("#contract-response")).to_have_text("4 hours")
    expect(customer.locator("#no-live-data")).to_be_visible()
    expect(customer.locator("#as-built tbody tr")).to_have_count(9)
    expect(customer.locator("#live")).to_have_text("live", timeout=10_000)
    serial = customer.url.rsplit("/", 1)[1]

    # Requests service: a title too short is refused next to its field, nothing typed is lost.
    customer.fill("#request-title", " x ")
    customer.fill("#request-description", "The gripper drops every tenth box.")
    customer.click("#request-service button[type=submit]")
    expect(customer.locator("#request-title-error")).to_contain_text("3 characters")
    expect(customer.locator("#request-title")).to_have_attribute("aria-invalid", "true")
    expect(customer.locator("#request-description")).to_have_value(
        "The gripper drops every tenth box."
    )
    customer.fill("#request-title", "Gripper drops boxes")
    customer.click("#request-service button[type=submit]")
    request = customer.locator("#requests article.request")
    expect(request).to_have_count(1)
    expect(request).to_contain_text("Gripper drops boxes")
    ticket = int(request.get_attribute("data-ticket") or 0)
    _shoot(customer, screenshots, "product-requested-desktop")

    # A technician acknowledges, then resolves, through the API; the page follows live.
    with site.api("coordinator") as http:
        detail = http.get(f"/api/maintenance/tickets/{ticket}").json()
        assert detail["asset"] == serial and detail["customer_id"] == "alice"
        if detail["assignee_id"] != "tess":
            assign = {"technician_id": "tess"}
            assert http.post(f"/api/maintenance/tickets/{ticket}/assign", json=assign).is_success
        note = {"text": "Internal: charge the second trip to the warranty budget."}
        assert http.post(f"/api/maintenance/tickets/{ticket}/notes", json=note).is_success
    with site.api("technician") as http:
        assert http.post(f"/api/maintenance/tickets/{ticket}/acknowledge").is_success
        expect(request.locator(".status")).to_have_text("acknowledged", timeout=10_000)
        assert http.post(f"/api/maintenance/tickets/{ticket}/start").is_success
        expect(request.locator(".visit")).to_contain_text("arrived", timeout=10_000)
        resolved = http.post(
            f"/api/maintenance/tickets/{ticket}/resolve", json={"note": RESOLUTION}
        )
        assert resolved.is_success
    expect(request.locator(".status")).to_have_text("resolved", timeout=10_000)
    expect(request.locator(".resolution")).to_contain_text(RESOLUTION)
    expect(customer.locator("body")).not_to_contain_text("warranty budget")
    _shoot(customer, screenshots, "product-resolved-desktop")
    assert _axe(customer) == []
    customer.context.close()

    phone = _signed_in(browser, site, "alice", "phone")
    phone.goto(f"{site.base_url}/products/{serial}")
    expect(phone.locator("#requests .status")).to_have_text("resolved")
    _shoot(phone, screenshots, "product-resolved-phone")
    assert _axe(phone) == []
    phone.context.close()
