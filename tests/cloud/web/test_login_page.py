"""The sign-in and invitation pages in headless Chromium: a person sets a password from the
invitation link, signs in, lands on their role's page and signs out; bad input is shown next to
the field it is about."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from cloud.config import Settings
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.cloud.conftest import Tenants, populate
from tests.cloud.serving import serve

pytestmark = pytest.mark.integration
PASSWORD = "a long enough secret"


@pytest.fixture
def served(settings_factory: Callable[..., Settings]) -> Iterator[tuple[str, Tenants]]:
    from cloud.main import create_app

    app = create_app(settings_factory())
    tenants = populate(app.state.context)
    with serve(app) as base_url:
        yield base_url, tenants


def test_a_person_is_invited_signs_in_and_out_in_the_browser(
    served: tuple[str, Tenants], artifacts_dir: Path
) -> None:
    base_url, tenants = served
    invited = httpx.post(
        f"{base_url}/api/people",
        json={
            "name": "Tom Technician",
            "username": "tom",
            "role": "technician",
            "technician_id": "tech-plant-a",
        },
        headers=tenants.headers("coordinator"),
    )
    assert invited.status_code == 201, invited.text
    link = invited.json()["invitation"]["url"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(link)
            page.fill("#password", "short")
            page.fill("#confirm", "other")
            page.click("button[type=submit]")
            expect(page.locator("#confirm-error")).to_have_text("the two passwords differ")
            page.fill("#confirm", "short")
            page.click("button[type=submit]")
            expect(page.locator("#password-error")).to_contain_text("at least 10 characters")
            expect(page.locator("#confirm-error")).to_have_text("")
            page.screenshot(path=str(artifacts_dir / "invite-bad-password-phone.png"))
            page.fill("#password", PASSWORD)
            page.fill("#confirm", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#done")).to_be_visible()

            page.goto(base_url)
            page.fill("#username", "tom")
            page.fill("#password", "not the password")
            page.click("#sign-in [type=submit]")
            expect(page.locator("#password-error")).to_have_text("wrong username or password")
            page.fill("#username", "")
            page.click("#sign-in [type=submit]")
            expect(page.locator("#username-error")).to_contain_text("at least 1 character")
            expect(page.locator("#password-error")).to_have_text("")
            page.screenshot(path=str(artifacts_dir / "login-bad-input-phone.png"))
            page.fill("#username", "tom")
            page.fill("#password", PASSWORD)
            page.click("#sign-in [type=submit]")
            expect(page).to_have_url(f"{base_url}/maintenance/inbox", timeout=10_000)
            expect(page.locator("#who")).to_have_text("Tom Technician (technician)")
            cookie = next(c for c in page.context.cookies() if c["name"] == "glonet_key")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            page.screenshot(path=str(artifacts_dir / "login-technician-inbox-phone.png"))

            page.click("#sign-out")
            expect(page.locator("#sign-in")).to_be_visible(timeout=10_000)
            assert page.request.get(f"{base_url}/api/me").status == 401
        finally:
            browser.close()
