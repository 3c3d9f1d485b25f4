"""The ledger and scorecard pages in Chromium: the coordinator sees every member's lines, totals
and scorecards with the price and the fee; a member its own lines without them, and its
scorecard against the network's percentiles with no other member named. Screenshots, and
axe-core (no serious or critical violation) on every page.

One coordinator (SQLite) and one browser for the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cloud.ledger.delivered import delivered_order
from tests.cloud.orders.network import build_network
from tests.cloud.serving import page_settings, serve
from tests.cloud.web.test_accessibility import _axe

pytestmark = pytest.mark.integration


@dataclass
class Site:
    base_url: str
    keys: dict[str, str]
    order_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("ledger-pages")
    settings = page_settings(data_dir, "net-ledger-pages")
    app = create_app(settings)
    keys = build_network(app.state.context)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield Site(base_url, keys, delivered_order(http, keys, app.state.context))


def _signed_in(browser: Browser, site: Site, who: str, path: str) -> Page:
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    context = browser.new_context(viewport={"width": 1280, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{site.base_url}{path}")
    page.fill("#api-key", site.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    return page


def test_the_coordinator_sees_every_members_ledger_and_scorecard(
    browser: Browser, site: Site, artifacts_dir: Path
) -> None:
    page = _signed_in(browser, site, "coordinator", "/ledger")
    expect(page.locator("#members tbody tr")).to_have_count(3)
    expect(page.locator(f'section[data-order="{site.order_id}"] tr[data-party]')).to_have_count(4)
    assert _axe(page) == []
    page.screenshot(path=str(artifacts_dir / "ledger-coordinator.png"), full_page=True)

    page.click(f"a[href='/ledger/{site.order_id}']")
    expect(page.locator("#price")).to_contain_text("EUR")
    expect(page.locator('tr[data-party="network"]')).to_contain_text("network fee")
    expect(page.locator("#csv")).to_have_attribute(
        "href", f"/api/orders/{site.order_id}/ledger.csv"
    )
    assert _axe(page) == []
    page.screenshot(path=str(artifacts_dir / "ledger-order.png"), full_page=True)

    page.click("nav a[href='/scorecards']")
    expect(page.locator("#scorecards tbody tr")).to_have_count(3)
    expect(page.locator("#charts svg")).to_have_count(6)
    assert _axe(page) == []
    page.screenshot(path=str(artifacts_dir / "scorecards-coordinator.png"), full_page=True)
    page.context.close()


def test_a_member_sees_its_own_lines_and_its_figures_against_the_network(
    browser: Browser, site: Site, artifacts_dir: Path
) -> None:
    page = _signed_in(browser, site, "metal", "/ledger")
    expect(page.locator("#members tbody tr")).to_have_count(1)
    expect(page.locator('tr[data-member="metal"]')).to_be_visible()
    expect(page.locator('tr[data-party="network"]')).to_have_count(0)
    expect(page.locator("tr[data-party]")).to_have_count(1)
    assert _axe(page) == []
    page.click(f"a[href='/ledger/{site.order_id}']")
    expect(page.locator("tr[data-party]")).to_have_count(1)
    expect(page.locator("#price")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "ledger-member.png"), full_page=True)

    page.goto(f"{site.base_url}/scorecards")
    expect(page.locator("#scorecards tbody tr")).to_have_count(1)
    first = page.locator("#charts svg").first
    expect(first.locator("text", has_text="you")).to_have_count(1)
    expect(first.locator("text", has_text="network median")).to_have_count(1)
    text = page.locator("main").inner_text()
    assert "lead" not in text and "finish" not in text  # no other member named
    assert _axe(page) == []
    page.screenshot(path=str(artifacts_dir / "scorecards-member.png"), full_page=True)
    page.context.close()
