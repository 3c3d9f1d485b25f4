"""People in Debian's Chromium: the coordinator invites a person on the people page (bad input
refused next to its field, nothing typed lost), the person sets a password from the link,
the coordinator resets their access and revokes them; a person chooses the emails they get on
their account page. axe-core finds no serious or critical violation at desktop and phone
widths; screenshots go to test-artifacts/screenshots/.

One coordinator (two plants with a technician each, a key per role) and one browser for the
module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from glonet.broker import free_port
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.cloud.conftest import Tenants, populate
from tests.cloud.serving import page_settings, serve
from tests.cloud.web.test_accessibility import AXE, BLOCKING, WIDTHS

pytestmark = pytest.mark.integration
PASSWORD = "a long enough secret"


@dataclass
class Site:
    base_url: str
    tenants: Tenants

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.tenants.headers(who), timeout=10)

    def person(self, username: str, **spec: Any) -> int:
        """A person invited by the coordinator, with their password set."""
        with self.api("coordinator") as http:
            invited = http.post(
                "/api/people", json={"name": username.title(), "username": username, **spec}
            )
            assert invited.status_code == 201, invited.text
            token = invited.json()["invitation"]["token"]
            accept = {"token": token, "password": PASSWORD}
            assert http.post("/api/invitations/accept", json=accept).is_success
        return int(invited.json()["id"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from cloud.main import create_app

    data_dir = tmp_path_factory.mktemp("people")
    app = create_app(page_settings(data_dir, f"net-people-{free_port()}"))
    tenants = populate(app.state.context)
    with serve(app) as base_url:
        yield Site(base_url, tenants)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    from tests.conftest import ARTIFACTS

    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser: Browser, width: str) -> Page:
    w, h = WIDTHS[width]
    # bypass_csp: axe is injected as a script tag, which the pages' policy rightly refuses.
    context = browser.new_context(
        viewport={"width": w, "height": h}, bypass_csp=True, has_touch=width == "phone"
    )
    return context.new_page()


def _resize(page: Page, width: str) -> None:
    w, h = WIDTHS[width]
    page.set_viewport_size({"width": w, "height": h})


def _with_key(browser: Browser, site: Site, who: str, width: str = "desktop") -> Page:
    page = _page(browser, width)
    page.goto(site.base_url + "/")
    page.fill("#api-key", site.tenants.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_be_visible(timeout=10_000)
    return page


def _with_password(browser: Browser, site: Site, username: str, width: str) -> Page:
    page = _page(browser, width)
    page.goto(site.base_url + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in [type=submit]")
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


def _row(page: Page, username: str) -> Any:
    return page.locator(f'#people tr[data-username="{username}"]')


def test_the_coordinator_invites_resets_and_revokes_a_person(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    page = _with_key(browser, site, "coordinator")
    page.get_by_role("link", name="People").click()
    expect(page.locator("h2")).to_have_text("People and keys")
    expect(page.locator("#keys tr[data-key]")).to_have_count(len(site.tenants.keys))

    # Bad input: each refusal next to its field, and everything typed still there.
    page.fill("#f-name", "Tom Technician")
    page.fill("#f-username", "tom smith")
    page.fill("#f-email", "tom@")
    page.select_option("#f-role", "technician")
    page.click("#invite")
    expect(page.locator("#err-username")).to_contain_text("2 to 64 of a-z")
    expect(page.locator("#err-email")).to_have_text("is not an email address")
    expect(page.locator("#f-username")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-name")).to_have_value("Tom Technician")
    expect(page.locator("#f-email")).to_have_value("tom@")
    page.screenshot(path=str(screenshots / "people-bad-input-desktop.png"), full_page=True)
    page.fill("#f-username", "tom")
    page.fill("#f-email", "tom@plant-a.example")
    page.click("#invite")
    expect(page.locator("#err-technician_id")).to_have_text(
        "a technician principal needs technician_id"
    )
    expect(page.locator("#err-username")).to_have_text("")
    page.select_option("#f-technician_id", "tech-plant-a")
    page.click("#invite")

    # Invited: the link is shown once, the person is listed as invited.
    expect(page.locator("#invitation")).to_be_visible()
    expect(page.locator("#invitation-name")).to_have_text("Tom Technician")
    link = page.locator("#invitation-url").input_value()
    assert link.startswith(f"{site.base_url}/invite#inv_")
    tom = _row(page, "tom")
    expect(tom.locator(".status")).to_contain_text("invited until")
    expect(tom).to_contain_text("technician tech-plant-a")
    expect(page.locator("#f-name")).to_have_value("")  # the form is ready for the next one

    # The username is taken now; an unknown unit is refused next to the unit.
    page.fill("#f-name", "Another Tom")
    page.fill("#f-username", "tom")
    page.select_option("#f-technician_id", "tech-plant-a")
    page.click("#invite")
    expect(page.locator("#err-username")).to_have_text("the username 'tom' is taken")
    page.select_option("#f-role", "plant")
    page.evaluate(
        """() => { const option = new Option("ghost", "ghost");
        document.getElementById("f-unit_id").add(option); }"""
    )
    page.fill("#f-username", "tom2")
    page.select_option("#f-unit_id", "ghost")
    page.click("#invite")
    expect(page.locator("#err-unit_id")).to_contain_text("ghost")
    expect(page.locator("#f-name")).to_have_value("Another Tom")

    # Tom sets his password from the link (on his phone) and is active.
    phone = _page(browser, "phone")
    phone.goto(link)
    phone.fill("#password", PASSWORD)
    phone.fill("#confirm", PASSWORD)
    phone.click("button[type=submit]")
    expect(phone.locator("#done")).to_be_visible()
    phone.context.close()
    page.reload()
    expect(_row(page, "tom").locator(".status")).to_have_text("active")
    assert _sign_in(site, "tom") == 204

    # Reset: a new link, his password no longer works until he sets another.
    page.once("dialog", lambda dialog: dialog.accept())
    _row(page, "tom").locator("button.reset").click()
    expect(_row(page, "tom").locator(".status")).to_contain_text("invited until")
    expect(page.locator("#invitation-url")).not_to_have_value(link)
    assert _sign_in(site, "tom") == 401

    # Revoke, after a refused confirmation first: nothing happens until the coordinator agrees.
    page.once("dialog", lambda dialog: dialog.dismiss())
    _row(page, "tom").locator("button.revoke").click()
    expect(_row(page, "tom").locator(".status")).to_contain_text("invited")
    page.once("dialog", lambda dialog: dialog.accept())
    _row(page, "tom").locator("button.revoke").click()
    expect(_row(page, "tom").locator(".status")).to_have_text("revoked")
    expect(_row(page, "tom").locator("button.reset")).to_have_text("Restore access")
    expect(_row(page, "tom").locator("button.revoke")).to_have_count(0)
    with site.api("coordinator") as http:
        listed = {p["username"]: p["status"] for p in http.get("/api/people").json()}
    assert listed["tom"] == "revoked"

    # Both widths on the same page, with the invitation shown: axe finds nothing serious.
    violations = {}
    for width in ("desktop", "phone"):
        _resize(page, width)
        expect(_row(page, "tom")).to_be_visible()
        page.screenshot(path=str(screenshots / f"people-{width}.png"), full_page=True)
        violations[width] = _axe(page)
    page.context.close()
    assert violations == {"desktop": [], "phone": []}


def _sign_in(site: Site, username: str) -> int:
    body = {"username": username, "password": PASSWORD}
    return httpx.post(f"{site.base_url}/api/session", json=body, timeout=10).status_code


def test_a_person_chooses_the_emails_they_get(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    site.person("ann", role="customer", customer_id="cust-1", email="ann@cust.example")
    phone = _with_password(browser, site, "ann", "phone")
    phone.get_by_role("link", name="Account").click()
    expect(phone.locator("#account-email")).to_have_text("ann@cust.example")
    events = phone.locator("#notifications [name=events]")
    expect(events).to_have_count(5)  # a customer's events, all chosen until they choose
    for i in range(5):
        expect(events.nth(i)).to_be_checked()
    expect(phone.locator("#effective-address")).to_have_text("ann@cust.example")

    # A bad address is refused next to it; the choices made stay as they were.
    phone.get_by_label("an order is planned").uncheck()
    phone.fill("#f-address", "buyer at cust")
    phone.click("#save")
    expect(phone.locator("#err-address")).to_have_text("is not an email address")
    expect(phone.locator("#f-address")).to_have_value("buyer at cust")
    expect(phone.get_by_label("an order is planned")).not_to_be_checked()
    expect(phone.get_by_label("an order is delivered")).to_be_checked()
    phone.screenshot(path=str(screenshots / "account-bad-input-phone.png"), full_page=True)

    phone.fill("#f-address", "buyer@cust.example")
    phone.click("#save")
    expect(phone.locator("#saved")).to_have_text("Saved.")
    expect(phone.locator("#err-address")).to_have_text("")
    expect(phone.locator("#effective-address")).to_have_text("buyer@cust.example")
    chosen = phone.request.get(f"{site.base_url}/api/me/notifications").json()
    assert chosen["address"] == "buyer@cust.example" and chosen["enabled"]
    assert "order_planned" not in chosen["events"] and len(chosen["events"]) == 4

    phone.reload()  # what was saved is what the page shows
    expect(phone.locator("#f-address")).to_have_value("buyer@cust.example")
    expect(phone.get_by_label("an order is planned")).not_to_be_checked()
    phone.get_by_label("Email me").uncheck()
    phone.click("#save")
    expect(phone.locator("#effective-address")).to_have_text("nowhere")
    phone.screenshot(path=str(screenshots / "account-phone.png"), full_page=True)
    violations = {"phone": _axe(phone)}
    _resize(phone, "desktop")
    phone.screenshot(path=str(screenshots / "account-desktop.png"), full_page=True)
    violations["desktop"] = _axe(phone)
    phone.context.close()
    assert violations == {"phone": [], "desktop": []}

    # A role that is emailed about nothing is told so.
    coordinator = _with_key(browser, site, "coordinator")
    coordinator.get_by_role("link", name="Account").click()
    expect(coordinator.locator("#no-events")).to_be_visible()
    expect(coordinator.locator("#notifications")).to_have_count(0)
    coordinator.context.close()
