"""The opportunity board, an opportunity's page and the partner-search results in headless
Chromium: the coordinator's form with an error next to each field it refused, a tender's lines
with what each follows and its materials (at desktop and phone widths), the life cycle from the
page, ranked candidates with reasons in words, what a customer and a plant see; axe-core finds
no serious or critical violation; screenshots as artifacts.

One coordinator (SQLite, no broker: nothing here is live) and one browser for the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

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
        assert httpx.post(f"{base_url}/api/suppliers", json=STEEL_MILL, headers=headers).is_success
        yield Site(base_url, keys, created.json()["id"])


STEEL_MILL = {
    "id": "steel-mill",
    "company": "Acciaierie Emiliane",
    "latitude": 44.7,
    "longitude": 10.6,
    "country": "IT",
    "offers": {"steel-sheet": {"description": "S235 sheet", "unit_price": 17, "lead_time_days": 5}},
}
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def _signed_in(browser: Browser, site: Site, who: str, path: str, width: str = "desktop") -> Page:
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    w, h = WIDTHS[width]
    context = browser.new_context(
        viewport={"width": w, "height": h}, bypass_csp=True, has_touch=width == "phone"
    )
    page = context.new_page()
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


def _tender_header(page: Page, title: str) -> None:
    """The form's fields other than the lines, valid."""
    page.fill("#f-title", title)
    page.fill("#f-customer_id", "city")
    page.fill("#f-due_at", (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#f-site\\.latitude", "44.65")
    page.fill("#f-site\\.longitude", "10.92")
    page.fill("#f-site\\.country", "IT")
    page.fill("#f-budget", "12000")


def _line(page: Page, number: int, process: str, work_minutes: str) -> Locator:
    """Line ``number`` (from 1; added when the form has fewer), its process and work."""
    if page.locator("#lines > li").count() < number:
        page.click("#add-line")
    line = page.locator("#lines > li").nth(number - 1)
    expect(line.locator("legend").first).to_have_text(f"Line p{number}")
    line.locator("[name=process]").select_option(process)
    line.locator(".cells [name=work_minutes]").fill(work_minutes)
    return line


def _processes(site: Site, opportunity_id: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {site.keys['coordinator']}"}
    read = httpx.get(f"{site.base_url}/api/opportunities/{opportunity_id}", headers=headers)
    processes: list[dict[str, Any]] = read.json()["processes"]
    return processes


def test_a_tender_line_follows_earlier_lines_and_lists_its_materials(
    browser: Browser, site: Site, screenshots: Path
) -> None:
    """Per line, the earlier lines it follows (boxes named by step and process in words) and
    its materials (item as the suppliers offer it, description, quantity, unit, estimated
    cost). A negative quantity, then a line following a later one, are told next to their
    fields with everything typed kept; corrected, the tender is created with both."""
    page = _signed_in(browser, site, "coordinator", "/opportunities")
    _tender_header(page, "Tram shelters")
    cutting = _line(page, 1, "laser_cutting", "90")
    welding = _line(page, 2, "welding", "240")
    cutting.get_by_label("p2 · welding").check()  # a later line: refused below
    expect(welding.get_by_label("p1 · laser cutting")).not_to_be_checked()
    welding.locator(".add-material").click()
    material = welding.locator(".material").first
    expect(material.locator("[name=item]")).to_be_focused()
    expect(page.locator("#offered-items option[value=steel-sheet]")).to_have_text(
        "S235 sheet · offered by Acciaierie Emiliane"
    )
    material.locator("[name=item]").fill("steel-sheet")
    material.locator("[name=description]").fill("3 mm, for the roofs")
    material.locator("[name=quantity]").fill("-3")
    material.locator("[name=unit]").fill("m2")
    material.locator("[name=unit_cost]").fill("18.5")

    page.click("#create")
    quantity_error = material.locator("[data-material-part=quantity]")
    expect(quantity_error).to_have_text("Input should be greater than 0")
    expect(material.locator("[name=quantity]")).to_have_attribute("aria-invalid", "true")
    expect(material.locator("[name=item]")).not_to_have_attribute("aria-invalid", "true")
    expect(material.locator("[name=quantity]")).to_have_value("-3")
    expect(material.locator("[name=description]")).to_have_value("3 mm, for the roofs")
    expect(page.locator("#f-title")).to_have_value("Tram shelters")
    assert _axe(page) == []

    material.locator("[name=quantity]").fill("3")
    page.click("#create")
    follows_error = cutting.locator("[data-part=predecessors]")
    expect(follows_error).to_have_text("line p1 can follow only earlier lines (none), not p2")
    expect(cutting.get_by_label("p2 · welding")).to_have_attribute("aria-invalid", "true")
    expect(cutting.get_by_label("p2 · welding")).to_be_checked()
    expect(quantity_error).to_have_text("")
    expect(material.locator("[name=quantity]")).to_have_value("3")
    expect(page).to_have_url(f"{site.base_url}/opportunities")
    page.screenshot(
        path=str(screenshots / "opportunities-tender-lines-desktop.png"), full_page=True
    )
    assert _axe(page) == []

    cutting.get_by_label("p2 · welding").uncheck()
    welding.get_by_label("p1 · laser cutting").check()
    page.click("#create")
    expect(page.locator("#title")).to_have_text("Tram shelters")
    rows = page.locator("#processes tbody tr")
    expect(rows.nth(1)).to_contain_text("p1")
    expect(rows.nth(1)).to_contain_text("3 m2 steel-sheet")
    opportunity_id = page.url.rsplit("/", 1)[-1]
    lines = _processes(site, opportunity_id)
    assert [(line["step"], line["predecessors"]) for line in lines] == [("p1", []), ("p2", ["p1"])]
    assert lines[0]["materials"] == []
    assert lines[1]["materials"] == [
        {
            "item": "steel-sheet",
            "description": "3 mm, for the roofs",
            "quantity": 3.0,
            "unit": "m2",
            "unit_cost": 18.5,
        }
    ]
    page.context.close()


def test_the_tender_form_at_phone_width_keeps_what_lines_follow_when_one_goes(
    browser: Browser, site: Site, screenshots: Path
) -> None:
    """At 390 px the lines and their materials fit the screen (nothing scrolls sideways) and
    pass axe. A line follows another line, not its number: removing the first line renumbers
    the others, and the third (now p2) still follows the second (now p1)."""
    page = _signed_in(browser, site, "coordinator", "/opportunities", "phone")
    _tender_header(page, "Bus stop canopies")
    _line(page, 1, "laser_cutting", "60")
    _line(page, 2, "welding", "120")
    painting = _line(page, 3, "painting", "45")
    painting.get_by_label("p2 · welding").check()
    painting.locator(".add-material").click()
    material = painting.locator(".material").first
    material.locator("[name=item]").fill("primer-grey")
    material.locator("[name=quantity]").fill("4")
    material.locator("[name=unit]").fill("l")
    material.locator("[name=unit_cost]").fill("9.9")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the form is {width} px wide at 390 px"
    page.screenshot(path=str(screenshots / "opportunities-tender-lines-phone.png"), full_page=True)
    assert _axe(page) == []

    page.locator("#lines > li").first.locator(".remove-line").click()
    lines = page.locator("#lines > li")
    expect(lines).to_have_count(2)
    expect(lines.nth(1).locator("legend").first).to_have_text("Line p2")
    expect(lines.nth(1).get_by_label("p1 · welding")).to_be_checked()
    expect(lines.nth(1).locator(".options label")).to_have_count(1)
    expect(lines.nth(0).locator(".options label")).to_have_text(["p2 · painting"])
    page.click("#create")
    expect(page.locator("#title")).to_have_text("Bus stop canopies")
    created = _processes(site, page.url.rsplit("/", 1)[-1])
    assert [(line["process"], line["predecessors"]) for line in created] == [
        ("welding", []),
        ("painting", ["p1"]),
    ]
    assert [m["item"] for m in created[1]["materials"]] == ["primer-grey"]
    page.context.close()
