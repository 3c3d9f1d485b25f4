"""Configurator, order and plan pages in headless Chromium, with screenshots as artifacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from cloud.config import Settings
from glonet.broker import MosquittoBroker, free_port
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.cloud.conftest import mqtt_settings
from tests.cloud.orders.network import ROBOT_CELL, build_network
from tests.cloud.serving import serve

pytestmark = pytest.mark.integration


@pytest.fixture
def served(
    settings_factory: Callable[..., Settings], running_mosquitto: MosquittoBroker
) -> Iterator[tuple[str, dict[str, str]]]:
    from cloud.main import create_app

    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"coord-orders-page-{free_port()}"),
        ingest={"enabled": True},
        orders={"time_scale": 600.0, "tick_interval_s": 0.3, "accept_timeout_s": 600.0},
    )
    app = create_app(settings)
    keys = build_network(app.state.context)
    with serve(app) as base_url:
        yield base_url, keys


def _sign_in(page: Page, base_url: str, path: str, key: str) -> None:
    page.goto(base_url + path)
    page.fill("#api-key", key)
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)


def _order_via_api(base_url: str, key: str) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers) as http:
        configuration = http.post(
            "/api/configurations", json={"family_id": "robotic-cell", "values": ROBOT_CELL}
        ).json()
        quote = http.post("/api/quotes", json={"configuration_id": configuration["id"]}).json()
        return http.post(f"/api/quotes/{quote['id']}/confirm").json()


def test_configure_quote_confirm_and_watch_the_plan(
    served: tuple[str, dict[str, str]], artifacts_dir: Path
) -> None:
    base_url, keys = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            customer = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(customer, base_url, "/configurator?family=robotic-cell", keys["alice"])
            expect(customer.locator("#validity")).to_have_text("Valid configuration")
            customer.fill("[name=payload_kg]", "30")
            expect(customer.locator("#validity")).to_have_text("Not valid yet")
            expect(customer.locator("#problems")).to_contain_text("reinforced base")
            expect(customer.locator("[name=base] option[value=standard]")).to_be_disabled()
            customer.select_option("[name=base]", "reinforced")
            expect(customer.locator("#validity")).to_have_text("Valid configuration")
            customer.fill("#comment", "heavier parts, reinforced base")
            customer.click("#save")
            expect(customer.locator("#configuration")).to_contain_text("revision 1")
            customer.click("#quote")
            expect(customer.locator("#quote-summary")).to_contain_text("EUR")
            customer.screenshot(path=str(artifacts_dir / "orders-configurator.png"))
            customer.click("#confirm")
            expect(customer.locator("#order-status")).to_be_visible(timeout=10_000)
            expect(customer.locator("#operations tbody tr")).to_have_count(9)
            expect(customer.locator("#order-status")).to_have_text("planned", timeout=10_000)
            customer.screenshot(path=str(artifacts_dir / "orders-order-detail.png"))

            coordinator = browser.new_page(viewport={"width": 1280, "height": 720})
            _sign_in(coordinator, base_url, "/plan", keys["coordinator"])
            bars = coordinator.locator("#gantt svg g.bar")
            expect(bars).to_have_count(9, timeout=10_000)
            _order_via_api(base_url, keys["bob"])
            expect(bars).to_have_count(18, timeout=15_000)  # live: no reload
            coordinator.screenshot(path=str(artifacts_dir / "orders-gantt.png"))

            coordinator.goto(base_url + "/orders")
            expect(coordinator.locator("#orders tbody tr")).to_have_count(2)
            customer.goto(base_url + "/orders")
            expect(customer.locator("#orders tbody tr")).to_have_count(1)
        finally:
            browser.close()


def test_the_customer_home_reopens_and_duplicates_and_get_quote_saves_first(
    served: tuple[str, dict[str, str]], artifacts_dir: Path
) -> None:
    """A customer gets a quote without saving first (Get quote saves), finds the configuration on
    its home, reopens it with its values and duplicates it; the coordinator must choose a known
    customer, told so next to the field with nothing typed lost. Screenshots of the home at
    desktop and phone widths."""
    base_url, keys = served
    other = _order_via_api(base_url, keys["bob"])  # bob's: never on alice's home
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            customer = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(customer, base_url, "/configurator?family=robotic-cell", keys["alice"])
            expect(customer.locator("#quote-hint")).to_contain_text("saves your changes")
            expect(customer.locator("#quote")).to_be_enabled()
            customer.fill("[name=reach_mm]", "1400")
            expect(customer.locator("#validity")).to_have_text("Valid configuration")
            customer.click("#quote")  # no "Save revision" first
            expect(customer.locator("#quote-summary")).to_contain_text("EUR")
            expect(customer.locator("#configuration")).to_contain_text("revision 1")

            customer.goto(base_url + "/")
            rows = customer.locator("#configuration-list tbody tr[data-configuration]")
            expect(rows).to_have_count(1)
            configuration = rows.first.get_attribute("data-configuration")
            expect(customer.locator("#quote-list tbody tr[data-quote]")).to_have_count(1)
            expect(customer.locator("#order-list tbody tr[data-order]")).to_have_count(0)
            expect(customer.locator("body")).not_to_contain_text(other["id"])
            customer.screenshot(path=str(artifacts_dir / "customer-home.png"), full_page=True)
            customer.set_viewport_size({"width": 390, "height": 844})
            # Usable at phone width: the tables scroll inside the page, the page does not.
            assert customer.evaluate("document.documentElement.scrollWidth") <= 390
            customer.screenshot(path=str(artifacts_dir / "customer-home-phone.png"), full_page=True)
            customer.set_viewport_size({"width": 1280, "height": 900})

            customer.click(f'tr[data-configuration="{configuration}"] a.reopen')
            expect(customer.locator("#saved")).to_contain_text(f"{configuration}")
            expect(customer.locator("[name=reach_mm]")).to_have_value("1400")
            customer.fill("[name=payload_kg]", "14")
            customer.fill("#comment", "a little heavier")
            customer.click("#save")
            expect(customer.locator("#configuration")).to_contain_text("revision 2")

            customer.goto(base_url + "/")
            customer.click(f'button.duplicate[data-configuration="{configuration}"]')
            expect(customer.locator("#saved")).to_contain_text("Copy of")
            expect(customer.locator("[name=payload_kg]")).to_have_value("14")
            expect(customer.locator("[name=reach_mm]")).to_have_value("1400")
            assert configuration not in customer.url
            customer.goto(base_url + "/")
            expect(rows).to_have_count(2)

            coordinator = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(
                coordinator, base_url, "/configurator?family=robotic-cell", keys["coordinator"]
            )
            expect(coordinator.locator("#customer")).to_have_value("")
            options = coordinator.locator("#customer option").all_text_contents()
            assert options[1:] == ["alice", "bob"], options
            coordinator.fill("[name=reach_mm]", "1300")
            coordinator.fill("#comment", "for a known customer")
            coordinator.click("#quote")
            expect(coordinator.locator("#customer-error")).to_contain_text("Choose the customer")
            expect(coordinator.locator("#customer")).to_be_focused()
            expect(coordinator.locator("[name=reach_mm]")).to_have_value("1300")  # nothing lost
            expect(coordinator.locator("#comment")).to_have_value("for a known customer")
            coordinator.screenshot(path=str(artifacts_dir / "configurator-customer-required.png"))
            coordinator.select_option("#customer", "bob")
            expect(coordinator.locator("#customer-error")).to_have_text("")
            coordinator.click("#quote")
            expect(coordinator.locator("#quote-summary")).to_contain_text("EUR")
        finally:
            browser.close()
