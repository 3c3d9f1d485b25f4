"""The opportunity board, an opportunity's page and the partner-search results in headless
Chromium: the coordinator's form with an error next to each field it refused, the life cycle
from the page, ranked candidates with reasons in words, what a customer and a plant see;
axe-core finds no serious or critical violation; screenshots as artifacts.

One coordinator (SQLite, no broker: nothing here is live) and one browser for the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from glonet.broker import free_port
from tests.cloud.opportunities.network import SITE, WELDING, build_members
from tests.cloud.serving import page_settings, serve
from tests.cloud.web.test_accessibility import _axe

pytestmark = pytest.mark.integration


@dataclass
class Site:
    base_url: str
    keys: dict[str, str]
    city: str  # the customer's opportunity, made through the API


def _tender(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Tram brackets",
        "due_at": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "site": SITE,
        "budget": 9000,
        "customer_id": "city",
        "processes": [WELDING],
        **fields,
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("opportunity-pages")
    settings = page_settings(data_dir, f"net-opp-{free_port()}")
    app = create_app(settings)
    keys = build_members(app.state.context)
    with serve(app) as base_url:
        headers = {"Authorization": f"Bearer {keys['coordinator']}"}
        created = httpx.post(f"{base_url}/api/opportunities", json=_tender(), headers=headers)
        assert created.status_code == 201, created.text
        yield Site(base_url, keys, created.json()["id"])


def _signed_in(browser: Browser, site: Site, who: str, path: str) -> Page:
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    page.goto(site.base_url + path)
    page.fill("#api-key", site.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    return page


def test_the_coordinator_enters_moves_and_searches(
    browser: Browser, site: Site, artifacts_dir: Path
) -> None:
    page = _signed_in(browser, site, "coordinator", "/opportunities")
    expect(page.locator('nav.nav a[href="/opportunities"]')).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#status-open tr[data-opportunity]")).to_have_count(1)
    assert _axe(page) == []

    # Refused fields are told next to each, nothing typed is lost.
    page.fill("#f-title", "Gates for the school")
    page.fill("#f-site\\.latitude", "95")
    page.fill("#f-site\\.country", "IT")
    page.click("#create")
    expect(page.locator("#err-due_at")).to_contain_text("valid datetime")
    expect(page.locator("#err-site\\.latitude")).to_contain_text("less than or equal to 90")
    expect(page.locator("#err-site\\.longitude")).to_contain_text("valid number")
    expect(page.locator("#lines [data-part=work_minutes]")).to_contain_text("valid number")
    expect(page.locator("#f-site\\.latitude")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-title")).to_have_text("")
    expect(page.locator("#f-title")).to_have_value("Gates for the school")
    page.screenshot(path=str(artifacts_dir / "opportunities-form-errors.png"), full_page=True)
    assert _axe(page) == []
    # The service's refusal (a due date past) goes next to its field too.
    page.fill("#f-due_at", "2020-01-01T10:00")
    page.fill("#f-site\\.latitude", "44.5")
    page.fill("#f-site\\.longitude", "11.3")
    page.fill("#f-budget", "5000")
    page.fill("#lines [name=work_minutes]", "120")
    page.fill("#lines [name=requirements]", "max_thickness_mm=6")
    page.click("#create")
    expect(page.locator("#err-due_at")).to_contain_text("not in the future")
    expect(page.locator("#err-site\\.latitude")).to_have_text("")

    due = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#f-due_at", due)
    page.fill("#f-local_content\\.min_share", "30")
    page.fill("#f-local_content\\.within_km", "40")
    page.click("#create")
    expect(page.locator("#err-customer_id")).to_contain_text("names its customer")
    page.fill("#f-customer_id", "school-board")
    page.click("#create")
    expect(page.locator("#title")).to_have_text("Gates for the school")
    expect(page.locator("#status")).to_have_text("open")
    expect(page.locator("#processes tbody tr")).to_have_count(1)
    expect(page.locator("#processes")).to_contain_text("max_thickness_mm ≥ 6")
    page.fill("#note", "asking the welders")
    page.click("button.move[data-to=forming]")
    expect(page.locator("#status")).to_have_text("forming")
    expect(page.locator("#trail tbody tr")).to_have_count(2)
    expect(page.locator("#trail")).to_contain_text("asking the welders")
    page.screenshot(path=str(artifacts_dir / "opportunities-detail.png"), full_page=True)
    assert _axe(page) == []

    page.goto(site.base_url + "/opportunities")
    expect(page.locator("#status-forming tr[data-opportunity]")).to_have_count(1)
    expect(page.locator("#status-open tr[data-opportunity]")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "opportunities-board.png"), full_page=True)

    page.goto(f"{site.base_url}/opportunities/{site.city}")
    page.click("#find-partners")
    rows = page.locator("#process-0 table.candidates tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.first).to_have_attribute("data-unit", "busy")  # the cheapest eligible, near
    expect(page.locator("#process-0 tr.eligible")).to_have_count(3)
    expect(page.locator('#process-0 tr[data-unit="cheap"]')).to_contain_text(
        "no ISO3834 certification"
    )
    expect(page.locator('#process-0 tr[data-unit="thin"]')).to_contain_text(
        "1 of 2 capability parameters met: max_thickness_mm 8 < 12"
    )
    expect(page.locator('#process-0 tr[data-unit="painter"]')).to_contain_text(
        "does not offer welding"
    )
    page.screenshot(path=str(artifacts_dir / "opportunities-partners.png"), full_page=True)
    assert _axe(page) == []
    page.context.close()


def test_a_customer_reads_its_own_and_a_plant_sees_its_own_row(
    browser: Browser, site: Site, artifacts_dir: Path
) -> None:
    customer = _signed_in(browser, site, "customer", "/opportunities")
    expect(customer.locator(f'tr[data-opportunity="{site.city}"]')).to_have_count(1)
    expect(customer.locator("#new-opportunity")).to_have_count(0)
    assert _axe(customer) == []
    customer.goto(f"{site.base_url}/opportunities/{site.city}")
    expect(customer.locator("#find-partners")).to_have_count(0)
    expect(customer.locator(".move")).to_have_count(0)
    refused = customer.goto(f"{site.base_url}/opportunities/{site.city}/partners")
    assert refused is not None and refused.status == 403
    expect(customer.locator("#refused")).to_be_visible()
    customer.context.close()

    plant = _signed_in(browser, site, "cheap", f"/opportunities/{site.city}/partners")
    rows = plant.locator("table.candidates tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-unit", "cheap")
    expect(rows.first).to_contain_text("40.00 EUR/h")
    expect(plant.locator("body")).not_to_contain_text("60.00 EUR/h")  # near's rate
    plant.screenshot(path=str(artifacts_dir / "opportunities-partners-plant.png"), full_page=True)
    assert _axe(plant) == []
    board = plant.goto(f"{site.base_url}/opportunities")
    assert board is not None and board.status == 403
    plant.context.close()
