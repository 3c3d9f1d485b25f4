"""People in Debian's Chromium: the coordinator invites a person on the people page (bad input
refused next to its field, nothing typed lost), the person sets a password from the link,
the coordinator resets their access and revokes them; a person chooses the emails they get on
their account page, and changes their password there; and the technician's journey: a
machine's breakdown alarm over the broker opens a ticket, the technician gets its email (a real
SMTP server, aiosmtpd) and its MQTT alert, signs in on a phone, acknowledges in the inbox,
resolves with a note, and the coordinator sees it resolved. axe-core finds no serious or
critical violation at desktop and phone widths; screenshots go to test-artifacts/screenshots/.

One coordinator for the module (two plants with a technician each, a key per role; ingest and
maintenance running on the module's Mosquitto, email to the module's SMTP server), one
browser."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from cloud.auth.dependencies import SESSION_COOKIE
from glonet.broker import MosquittoBroker, free_port
from protocols import messages, topics
from protocols.enums import AlertAction
from protocols.topics import TopicKind
from tests.cloud.conftest import Gateway, Tenants, mqtt_settings, populate
from tests.cloud.maintenance.test_end_to_end import Device
from tests.cloud.notifications.test_email import SmtpServer
from tests.cloud.serving import page_settings, serve
from tests.cloud.web.test_accessibility import AXE, BLOCKING, WIDTHS
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
PASSWORD = "a long enough secret"


@dataclass
class Site:
    base_url: str
    tenants: Tenants
    network: str
    broker: MosquittoBroker
    smtp: SmtpServer

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
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker, smtp: SmtpServer
) -> Iterator[Site]:
    from cloud.main import create_app

    network = f"net-people-{free_port()}"
    settings = page_settings(
        tmp_path_factory.mktemp("people"),
        network,
        mqtt=mqtt_settings(mosquitto, f"coord-{network}"),
        # The ingest in a thread: a child process would cost the module seconds to start.
        ingest={"enabled": True, "isolation": "thread"},
        maintenance={"tick_seconds": 0.2},
        orders={"dispatch_enabled": False},
        # The coordinator's public address: the emails' links are absolute on it.
        smtp=smtp.settings().model_dump() | {"link_base": "https://glonet.example.org/"},
    )
    app = create_app(settings)
    tenants = populate(app.state.context)
    with serve(app) as base_url:
        yield Site(base_url, tenants, network, mosquitto, smtp)


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

    # A role that is emailed about nothing is told so (the page as served: no browser needed).
    cookies = {SESSION_COOKIE: site.tenants.keys["coordinator"]}
    account = httpx.get(f"{site.base_url}/account", cookies=cookies, timeout=10)
    assert account.status_code == 200
    assert 'id="no-events"' in account.text and 'id="notifications"' not in account.text


def test_a_person_changes_their_password_on_the_account_page(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    site.person("pia", role="customer", customer_id="cust-1")
    with httpx.Client(base_url=site.base_url, timeout=10) as elsewhere:  # another browser
        assert elsewhere.post(
            "/api/session", json={"username": "pia", "password": PASSWORD}
        ).is_success
        phone = _with_password(browser, site, "pia", "phone")
        phone.get_by_role("link", name="Account").click()
        new = "the successor secret"

        # Refusals next to their field; nothing changes.
        phone.fill("#f-current", "not the password")
        phone.fill("#f-new", new)
        phone.fill("#f-repeat", new + "!")
        phone.click("#change-password")
        expect(phone.locator("#err-repeat")).to_have_text("the two new passwords differ")
        phone.fill("#f-repeat", new)
        phone.click("#change-password")
        expect(phone.locator("#err-current_password")).to_have_text("the present password is wrong")
        expect(phone.locator("#err-repeat")).to_have_text("")
        phone.fill("#f-current", PASSWORD)
        phone.fill("#f-new", "short")
        phone.fill("#f-repeat", "short")
        phone.click("#change-password")
        expect(phone.locator("#err-new_password")).to_contain_text("at least 10 characters")
        expect(phone.locator("#f-new")).to_have_attribute("aria-invalid", "true")
        phone.screenshot(
            path=str(screenshots / "account-password-refused-phone.png"), full_page=True
        )
        violations = _axe(phone)
        assert elsewhere.get("/api/me").status_code == 200

        phone.fill("#f-new", new)
        phone.fill("#f-repeat", new)
        phone.click("#change-password")
        expect(phone.locator("#password-changed")).to_have_text(
            "Password changed. Your other sessions are signed out."
        )
        expect(phone.locator("#f-current")).to_have_value("")
        phone.reload()  # this session goes on
        expect(phone.locator("#who")).to_contain_text("Pia")
        phone.context.close()
        assert elsewhere.get("/api/me").status_code == 401  # the other one ended
    assert _sign_in(site, "pia") == 401
    body = {"username": "pia", "password": new}
    assert httpx.post(f"{site.base_url}/api/session", json=body, timeout=10).status_code == 204
    assert violations == []


JOURNEY_NOTE = "Replaced the spindle drive belt; ran 20 minutes without a fault."


def test_the_technician_gets_a_breakdown_on_the_phone_and_resolves_it(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    """Alarm → ticket → email and MQTT alert → phone inbox → acknowledge → resolve with a note →
    resolved for the coordinator."""
    with site.api("coordinator") as http:
        tess = {
            "id": "tess",
            "name": "Tess Field",
            "employer_unit_id": "plant-a",
            "skills": ["mechanical"],
            "home_latitude": 45.01,
            "home_longitude": 9.01,
        }
        assert http.post("/api/technicians", json=tess).is_success
    site.person("tess", role="technician", technician_id="tess", email="tess@plant-a.example")
    device = Device(
        site.broker, f"phone-tess-{site.network}", topics.technician_alerts(site.network, "tess")
    )
    device.connect()  # Tess's phone listens on her alert topic

    # plant-a's mill breaks down: its gateway's alarm over the broker opens a ticket for Tess.
    gateway = Gateway(site.broker, "plant-a", network=site.network, client_id=f"gw-{site.network}")
    gateway.online()
    breakdown = {
        "asset": "m1",
        "alarm_id": "m1/breakdown",
        "code": "breakdown",
        "state": "raised",
        "severity": 1000,
        "text": "spindle drive stopped",
        "source": "opcua_event",
        "occurred_at": datetime.now(UTC),
    }
    gateway.send(
        topics.alarm(site.network, "plant-a", "m1"), gateway.envelope(messages.Alarm, breakdown)
    )
    alert = device.next(TopicKind.TECHNICIAN_ALERTS)
    assert isinstance(alert, messages.TechnicianAlert)
    assert alert.body.action is AlertAction.NEW and alert.body.asset == "m1"
    ticket = alert.body.ticket_id
    [(to, email)] = wait_until(lambda: site.smtp.inbox.received, what="Tess's email")
    assert to == ["tess@plant-a.example"]
    assert email["Subject"].startswith(f"GloNet ticket {ticket} assigned to you")
    assert "Asset: m1 (plant-a)" in email.get_content()
    link = f"https://glonet.example.org/maintenance/tickets/{ticket}"
    assert email.get_content().rstrip().endswith(f"Open it: {link}")
    device.disconnect()
    gateway.close()

    # On her phone: signs in, the inbox lists the ticket; she acknowledges it.
    phone = _with_password(browser, site, "tess", "phone")
    expect(phone).to_have_url(f"{site.base_url}/maintenance/inbox")
    row = phone.locator(f'#inbox tr[data-ticket="{ticket}"]')
    expect(row.locator(".status")).to_have_text("assigned")
    phone.screenshot(path=str(screenshots / "journey-technician-inbox-phone.png"), full_page=True)
    violations = {"inbox": _axe(phone)}
    row.locator("button.ack").tap()
    expect(row.locator(".status")).to_have_text("acknowledged", timeout=10_000)
    phone.screenshot(
        path=str(screenshots / "journey-technician-acknowledged-phone.png"), full_page=True
    )

    # Opens the ticket and resolves it with a note.
    row.get_by_role("link").tap()
    expect(phone.locator("#status")).to_have_text("acknowledged")
    phone.fill("#resolve-note", JOURNEY_NOTE)
    phone.screenshot(
        path=str(screenshots / "journey-technician-resolving-phone.png"), full_page=True
    )
    phone.locator("#resolve").tap()
    expect(phone.locator("#status")).to_have_text("resolved", timeout=10_000)
    expect(phone.locator("#timeline")).to_contain_text(JOURNEY_NOTE)
    phone.screenshot(
        path=str(screenshots / "journey-technician-resolved-phone.png"), full_page=True
    )
    violations["ticket"] = _axe(phone)
    phone.context.close()
    assert violations == {"inbox": [], "ticket": []}

    # The coordinator sees it resolved, with her note and the email and alert that went out.
    board = _with_key(browser, site, "coordinator")
    board.goto(f"{site.base_url}/maintenance")
    resolved = board.locator(f'.column[data-status="resolved"] .ticket[data-ticket="{ticket}"]')
    expect(resolved).to_have_count(1)
    resolved.click()
    expect(board.locator("#status")).to_have_text("resolved")
    expect(board.locator("#timeline")).to_contain_text(JOURNEY_NOTE)
    sent = board.locator("#notifications tr", has_text="tess@plant-a.example")
    expect(sent).to_contain_text("sent")
    board.screenshot(
        path=str(screenshots / "journey-technician-coordinator-desktop.png"), full_page=True
    )
    board.context.close()
