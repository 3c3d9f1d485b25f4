"""The overview page in headless Chromium: sign in, watch a live update arrive by SSE, then open
a machine's page with its telemetry chart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from cloud.config import Settings
from glonet.broker import MosquittoBroker, free_port
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.cloud.conftest import Gateway, Tenants, mqtt_settings, populate
from tests.cloud.serving import capacity_events_for_plant_a, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def served(
    settings_factory: Callable[..., Settings], running_mosquitto: MosquittoBroker
) -> Iterator[tuple[str, Tenants]]:
    from cloud.main import create_app

    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"coord-page-{free_port()}"),
        ingest={"enabled": True},
    )
    app = create_app(settings)
    tenants = populate(app.state.context)
    with serve(app) as base_url:
        yield base_url, tenants


def test_overview_page_updates_live(
    served: tuple[str, Tenants],
    gateways: Callable[[str], Gateway],
    artifacts_dir: Path,
    backend: str,
) -> None:
    base_url, tenants = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(base_url)
            page.fill("#api-key", tenants.keys["coordinator"])
            page.click("button[type=submit]")
            expect(page.locator("#live")).to_have_text("live", timeout=10_000)
            machine = page.locator('tr[data-machine="plant-a/m1"]')
            expect(machine.locator(".state")).to_have_text("\u2013")  # nothing reported yet

            gateway = gateways("plant-a")
            gateway.online()
            gateway.capacity("m1", state="Executing", free=3)
            gateway.telemetry("m1", [1234.0])

            expect(machine.locator(".state")).to_have_text("executing", timeout=10_000)
            expect(machine.locator(".free")).to_have_text("3")
            expect(page.locator("#machines-executing")).to_have_text("1")
            expect(machine.locator(".metrics")).to_have_text("spindle_rpm: 1,234", timeout=10_000)
            unit = page.locator('tr[data-unit="plant-a"] .status')
            expect(unit).to_have_text("online")
            page.screenshot(path=str(artifacts_dir / f"cloud-overview-{backend}.png"))

            # The machine's page: a chart of its telemetry and the latest raw samples.
            machine.locator("a.machine-link").click()
            expect(page).to_have_url(f"{base_url}/machines/plant-a/m1")
            chart = page.locator('svg[data-metric="spindle_rpm"]')
            expect(chart).to_be_visible()
            expect(chart.locator("circle")).to_have_count(1)  # one minute, one point
            expect(page.locator("#samples td").nth(2)).to_have_text("1,234")
            page.screenshot(
                path=str(artifacts_dir / f"cloud-machine-{backend}.png"), full_page=True
            )
        finally:
            browser.close()


def test_a_plant_sees_only_its_own_unit_on_the_page(served: tuple[str, Tenants]) -> None:
    base_url, tenants = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(base_url)
            page.fill("#api-key", tenants.keys["plant-a"])
            page.click("button[type=submit]")
            expect(page.locator("#live")).to_have_text("live", timeout=10_000)
            # A plant's home is its own unit's page: its machine, nothing of plant B.
            expect(page.locator("header")).to_contain_text("unit plant-a")
            expect(page.locator("#machines tr[data-machine]")).to_have_count(1)
            expect(page.locator('#machines a[href="/machines/plant-a/m1"]')).to_have_count(1)
            expect(page.locator("main")).not_to_contain_text("plant-b")
        finally:
            browser.close()


def test_event_stream_carries_only_the_callers_units(
    served: tuple[str, Tenants], gateways: Callable[[str], Gateway]
) -> None:
    base_url, tenants = served
    pool = tenants.context.engine.pool
    # Connections held for good before the stream opens (on PostgreSQL the scheduler's advisory
    # lock keeps one); the open stream must not add to them.
    held = _settled_checkouts(pool)

    def stream_holds_no_connection() -> None:
        assert _settled_checkouts(pool) == held

    seen = capacity_events_for_plant_a(
        base_url, tenants.headers("plant-a"), gateways, before=stream_holds_no_connection
    )
    assert [event["unit_id"] for event in seen] == ["plant-a"]
    assert seen[0]["type"] == "capacity" and seen[0]["state"] == "NotExecuting"


def _settled_checkouts(pool: Any, window: float = 1.0) -> int:
    """The fewest connections checked out over ``window`` seconds: what is held, not borrowed
    briefly by background workers."""
    deadline = time.monotonic() + window
    fewest = pool.checkedout()
    while time.monotonic() < deadline and fewest:
        time.sleep(0.01)
        fewest = min(fewest, pool.checkedout())
    return int(fewest)


NETWORK_BUSINESS = ["Invitations", "Consortia"]
FIGURES = ["Maintenance", "Figures", "Ledger", "Scorecards"]
ROLE_PAGES = [
    (
        "coordinator",
        "/",
        [
            "Network",
            "Configurator",
            "Orders",
            "Opportunities",
            *NETWORK_BUSINESS,
            "Plan",
            *FIGURES,
            "People",
            "Account",
        ],
    ),
    ("plant-a", "/", ["My unit", *NETWORK_BUSINESS, "Plan", *FIGURES, "Account"]),
    ("technician", "/maintenance/inbox", ["Inbox", "Board", "Account"]),
    ("customer", "/", ["Home", "My orders", "Opportunities", "Plan", "Configurator", "Account"]),
]


def test_every_role_lands_on_its_own_page_with_its_navigation(served: tuple[str, Tenants]) -> None:
    """Signing in on ``/`` takes each role to its start page, whose navigation shows only that
    role's pages; a stream the role may not open says so instead of "reconnecting…" forever."""
    base_url, tenants = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for who, home, links in ROLE_PAGES:
                page = browser.new_context().new_page()
                page.goto(base_url)
                page.fill("#api-key", tenants.keys[who])
                page.click("button[type=submit]")
                expect(page).to_have_url(f"{base_url}{home}", timeout=10_000)
                nav = page.locator("nav.nav a")
                expect(nav).to_have_text(links)
                expect(nav.first).to_have_attribute("aria-current", "page")
                if page.locator("#live").count():
                    expect(page.locator("#live")).to_have_text("live", timeout=10_000)
                for href in [nav.nth(i).get_attribute("href") for i in range(nav.count())]:
                    assert page.request.get(f"{base_url}{href}").status == 200, (who, href)
            # The network's event stream is the coordinator's and the plants': on the customer's
            # page (the last one), opening it shows why it can't, and stops.
            page.evaluate(
                """() => { const status = document.createElement("span");
                status.id = "probe"; document.body.append(status);
                liveStream("/api/events", status); }"""
            )
            expect(page.locator("#probe")).to_have_text(
                "no live updates for your role", timeout=10_000
            )
        finally:
            browser.close()
