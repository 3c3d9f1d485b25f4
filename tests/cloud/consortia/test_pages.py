"""The plant's invitations inbox and the consortium page in Chromium: a member answers its
invitations (refusals shown next to the field they concern), sees the consortium with its own
price only, and accepts the terms; the coordinator sees every price. Screenshots, and axe-core
(no serious or critical violation) on every page.

One coordinator (SQLite) and one browser for the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cloud.conftest import Tenants, populate
from tests.cloud.consortia.network import accept, answer, invite_all, set_kind, tender
from tests.cloud.serving import page_settings, serve
from tests.cloud.web.test_accessibility import ZONE, _axe, _raw_data

pytestmark = pytest.mark.integration


@dataclass
class Site:
    base_url: str
    tenants: Tenants
    http: httpx.Client
    opportunity_id: str
    invitations: dict[tuple[str, str], str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("consortia-pages")
    settings = page_settings(data_dir, "net-consortia-pages")
    app = create_app(settings)
    tenants = populate(app.state.context)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        set_kind(http, tenants, "dynamic")
        opportunity = tender(http, tenants)
        invitations = invite_all(http, tenants, opportunity["id"])
        yield Site(base_url, tenants, http, opportunity["id"], invitations)


def _signed_in(browser: Browser, site: Site, who: str, path: str, width: int = 1280) -> Page:
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    context = browser.new_context(
        viewport={"width": width, "height": 844}, timezone_id=ZONE, bypass_csp=True
    )
    page = context.new_page()
    page.goto(f"{site.base_url}{path}")
    page.fill("#api-key", site.tenants.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    return page


def _day(days: int) -> str:
    """A date input's value, ``days`` from today (the tender is due in 30)."""
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _row(page: Page, invitation_id: str) -> Any:
    return page.locator(f'tr[data-invitation="{invitation_id}"]')


def test_a_member_answers_in_its_inbox_and_accepts_the_consortium_terms(
    browser: Browser, site: Site, artifacts_dir: Path
) -> None:
    welding = site.invitations[("p1", "plant-a")]
    painting = site.invitations[("p2", "plant-a")]
    page = _signed_in(browser, site, "plant-a", "/invitations")
    expect(page.locator("tr[data-invitation]")).to_have_count(2)  # its own two, not plant-b's
    assert _axe(page) == []

    row = _row(page, welding)
    row.locator("button[type=submit]").click()
    expect(row.locator('[data-error="price"]')).to_have_text("Field required")
    row.locator("input[name=price]").fill("700")
    row.locator("input[name=earliest_start]").fill(_day(2))
    row.locator("input[name=earliest_end]").fill(_day(1))
    row.locator("button[type=submit]").click()
    expect(row.locator('[data-error="earliest_end"]')).to_contain_text(
        "must come after the earliest start"
    )
    expect(row.locator('[data-error="price"]')).to_have_text("")
    page.screenshot(path=str(artifacts_dir / "consortia-inbox-errors.png"), full_page=True)
    row.locator("input[name=earliest_end]").fill(_day(10))
    row.locator("button[type=submit]").click()
    expect(_row(page, welding).locator(".status")).to_have_text("accepted")

    row = _row(page, painting)
    row.locator("input[value=decline]").check()
    row.locator("button[type=submit]").click()
    expect(row.locator('[data-error="reason"]')).to_have_text("Field required")
    row.locator("input[name=reason]").fill("the paint line is full in March")
    row.locator("button[type=submit]").click()
    expect(_row(page, painting).locator(".status")).to_have_text("declined")
    page.screenshot(path=str(artifacts_dir / "consortia-inbox.png"), full_page=True)
    assert _axe(page) == []
    assert _raw_data(page) == []  # deadlines and dates in the viewer's zone

    # plant-b answers by the API; the coordinator forms the consortium.
    tenants = site.tenants
    b = site.invitations
    assert answer(site.http, tenants, "plant-b", b[("p1", "plant-b")], accept(800)).is_success
    assert answer(site.http, tenants, "plant-b", b[("p2", "plant-b")], accept(500)).is_success
    formed = site.http.post(
        f"/api/opportunities/{site.opportunity_id}/consortium",
        json={"terms": {"payment_terms": "30 days end of month", "penalties": "1 % a day"}},
        headers=tenants.headers("coordinator"),
    )
    assert formed.status_code == 201, formed.text
    consortium_id = formed.json()["id"]

    page.goto(f"{site.base_url}/consortia")
    page.click(f"a[href='/consortia/{consortium_id}']")
    members = page.locator("#members")
    expect(members.locator('tr[data-member="plant-a"]')).to_contain_text("700.00 EUR")
    expect(members.locator('tr[data-member="plant-b"]')).not_to_contain_text("500")
    assert _axe(page) == []
    page.click("#accept-terms")
    expect(page.locator("#acceptances")).to_contain_text("plant-a: accepted by plant key")
    expect(page.locator("#accept-terms")).to_have_count(0)
    assert _raw_data(page) == []  # the revision's and the acceptance's times
    page.screenshot(path=str(artifacts_dir / "consortia-member.png"), full_page=True)
    page.context.close()

    coordinator = _signed_in(browser, site, "coordinator", f"/consortia/{consortium_id}", 390)
    expect(coordinator.locator('tr[data-member="plant-b"]')).to_contain_text("500.00 EUR")
    expect(coordinator.locator('tr[data-member="plant-a"] .accepted')).to_have_text("accepted")
    expect(coordinator.locator('tr[data-member="plant-b"] .accepted')).to_have_text("not yet")
    coordinator.screenshot(
        path=str(artifacts_dir / "consortia-coordinator-phone.png"), full_page=True
    )
    assert _axe(coordinator) == []
    coordinator.goto(f"{site.base_url}/invitations")
    expect(coordinator.locator("tr[data-invitation]")).to_have_count(4)
    assert _axe(coordinator) == []
    coordinator.context.close()
