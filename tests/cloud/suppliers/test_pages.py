"""The order page's materials in Chromium: the coordinator records a supplier's delay and then
the delivery there, and the customer sees the materials without suppliers or prices.
Screenshots, and axe-core (no serious or critical violation).

One coordinator (SQLite) and one browser for the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cloud.orders.network import ROBOT_CELL, build_network
from tests.cloud.serving import page_settings, serve
from tests.cloud.suppliers.test_api import FAR, LOCAL
from tests.cloud.web.test_accessibility import ZONE, _axe, _raw_data

pytestmark = pytest.mark.integration


@dataclass
class Site:
    base_url: str
    keys: dict[str, str]
    order: dict[str, Any]
    purchases: list[dict[str, Any]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("supplier-pages")
    settings = page_settings(data_dir, "net-supplier-pages", orders={"dispatch_enabled": False})
    app = create_app(settings)
    keys = build_network(app.state.context)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:

        def as_(who: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {keys[who]}"}

        for supplier in (LOCAL, FAR):
            http.post("/api/suppliers", json=supplier, headers=as_("coordinator"))
        configuration = http.post(
            "/api/configurations",
            json={"family_id": "robotic-cell", "values": ROBOT_CELL},
            headers=as_("alice"),
        ).json()
        quote = http.post(
            "/api/quotes", json={"configuration_id": configuration["id"]}, headers=as_("alice")
        ).json()
        order = http.post(f"/api/quotes/{quote['id']}/confirm", headers=as_("alice")).json()
        purchases = http.get(
            f"/api/purchases?order_id={order['id']}", headers=as_("coordinator")
        ).json()
        yield Site(base_url, keys, order, purchases)


def _signed_in(browser: Browser, site: Site, who: str) -> Page:
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    page = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id=ZONE, bypass_csp=True
    ).new_page()
    page.goto(f"{site.base_url}/orders/{site.order['id']}")
    page.fill("#api-key", site.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    page.goto(f"{site.base_url}/orders/{site.order['id']}")
    return page


def test_the_coordinator_records_a_delay_then_the_delivery(
    browser: Browser, site: Site, artifacts_dir: Path
) -> None:
    arm = next(p for p in site.purchases if p["item"] == "robot-arm")
    page = _signed_in(browser, site, "coordinator")
    row = page.locator(f'#purchases tr[data-purchase="{arm["id"]}"]')
    expect(row.locator(".status")).to_have_text("requested")
    page.screenshot(path=str(artifacts_dir / "order-materials.png"), full_page=True)
    assert _axe(page) == []
    assert _raw_data(page) == []  # the expected dates in the viewer's zone

    row.locator("button[value=delay]").click()  # no date: the API's refusal is shown
    expect(row.locator("[data-error=form]")).not_to_be_empty()
    row.locator("input[name=expected_at]").fill("2031-03-14T09:30:00")  # the viewer's time
    row.locator("input[name=reason]").fill("strike at the port")
    row.locator("button[value=delay]").click()
    expected = row.locator(".expected time")
    expect(expected).to_have_attribute("datetime", "2031-03-14T08:30:00Z")  # CET is UTC+1
    expect(expected).to_contain_text("09:30:00")
    expect(expected).to_have_attribute("data-local", ZONE)

    row.locator("button[value=delivery]").click()
    expect(row.locator(".status")).to_contain_text("delivered")
    expect(row.locator("form")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "order-materials-delivered.png"), full_page=True)


def test_the_customer_sees_materials_without_suppliers_or_prices(
    browser: Browser, site: Site
) -> None:
    page = _signed_in(browser, site, "alice")
    expect(page.locator("#purchases tbody tr")).to_have_count(len(site.purchases))
    expect(page.locator("#purchases form")).to_have_count(0)
    assert "ruhr-stahl" not in page.content() and "Unit price" not in page.content()
    assert _axe(page) == []
    assert _raw_data(page) == []
