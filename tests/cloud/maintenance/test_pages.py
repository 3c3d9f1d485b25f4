"""The maintenance pages in headless Chromium: board, live technician inbox with acknowledge and
resolve buttons, ticket timeline, figures charts; screenshots go to the artifacts directory."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from playwright.sync_api import Browser, Page, expect

from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from protocols.enums import AlarmSource, AlarmState
from tests.cloud.maintenance.conftest import Served
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


CSP_VIOLATIONS: list[str] = []


def sign_in(browser: Browser, served: Served, who: str, path: str) -> Page:
    """A page signed in as ``who``; anything its Content-Security-Policy blocks is recorded."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on(
        "console",
        lambda message: (
            CSP_VIOLATIONS.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto(f"{served.base_url}{path}")
    page.fill("#api-key", served.seeded.keys[who])
    page.click("button[type=submit]")
    return page


def raise_alarm(
    broker: MosquittoBroker, served: Served, asset: str, code: str, seq: int, severity: int = 700
) -> None:
    """Publish an alarm as the cut-co gateway would."""
    message = messages.Alarm.create(
        unit="cut-co",
        seq=seq,
        body=messages.AlarmEvent(
            asset=asset,
            alarm_id=f"{asset}/{code}",
            code=code,
            state=AlarmState.RAISED,
            severity=severity,
            text=f"{code} on {asset}",
            source=AlarmSource.OPCUA_EVENT,
            occurred_at=datetime.now(UTC),
        ),
    )
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"gw-{served.network}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    topic = topics.alarm(served.network, "cut-co", asset)
    client.publish(topic, codec.encode(message), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_board_inbox_ticket_and_figures_pages(
    served: Served,
    browser: Browser,
    running_mosquitto: MosquittoBroker,
    artifacts_dir: Path,
    backend: str,
) -> None:
    raise_alarm(running_mosquitto, served, "laser-1", "overheat", 1)

    inbox = sign_in(browser, served, "tina", "/maintenance/inbox")
    expect(inbox.locator("#live")).to_have_text("live", timeout=10_000)
    rows = inbox.locator("#inbox tr[data-ticket]")
    expect(rows).to_have_count(1, timeout=10_000)
    raise_alarm(running_mosquitto, served, "press-1", "high_vibration", 2)
    expect(rows).to_have_count(2, timeout=10_000)  # arrived live, by server-sent events
    first = inbox.locator('#inbox tr[data-ticket="1"]')
    first.locator("button.ack").click()
    expect(first.locator(".status")).to_have_text("acknowledged", timeout=10_000)
    inbox.screenshot(path=str(artifacts_dir / f"maintenance-inbox-{backend}.png"))
    inbox.locator('#inbox tr[data-ticket="1"] button.resolve').click()
    expect(rows).to_have_count(1, timeout=10_000)

    board = sign_in(browser, served, "coordinator", "/maintenance")
    expect(board.locator("#live")).to_have_text("live", timeout=10_000)
    expect(board.locator('.column[data-status="resolved"] .ticket')).to_have_count(1)
    expect(board.locator('.column[data-status="assigned"] .ticket')).to_have_count(1)
    board.fill("#matchers", 'asset="press-1", code=~"high_.*"')
    board.fill("#comment", "bearing swap")
    board.click("#silence button[type=submit]")
    silence = board.locator("#silences tr[data-silence]")
    expect(silence).to_have_count(1, timeout=10_000)
    expect(silence).to_contain_text('asset="press-1", code=~"high_.*"')
    board.screenshot(path=str(artifacts_dir / f"maintenance-board-{backend}.png"), full_page=True)
    silence.locator("button.expire").click()
    expect(silence).to_have_count(0, timeout=10_000)

    board.goto(f"{served.base_url}/maintenance/tickets/1")
    timeline = board.locator("#timeline")
    for kind in ("opened", "assigned", "acknowledged", "resolved", "repair command"):
        expect(timeline).to_contain_text(kind)
    expect(board.locator("#status")).to_have_text("resolved")
    board.locator("#close").click()
    expect(board.locator("#status")).to_have_text("closed", timeout=10_000)
    board.screenshot(path=str(artifacts_dir / f"maintenance-ticket-{backend}.png"), full_page=True)

    board.goto(f"{served.base_url}/maintenance/figures")
    expect(board.locator("svg.chart")).to_have_count(4)
    expect(board.locator("#summary")).to_contain_text("MTTR")
    breakdowns = board.locator("#summary .card", has_text="breakdowns").locator("b")
    expect(breakdowns).to_have_text("0")  # an overheat and a vibration warning: nothing stopped
    expect(board.locator("#definitions")).to_contain_text("Warnings (tool wear")
    # press-1 breaks down (still on its open vibration ticket): over the last hour it shows down.
    raise_alarm(running_mosquitto, served, "press-1", "breakdown", 3, severity=1000)
    wait_until(
        lambda: served.api("GET", "/api/maintenance/figures", "coordinator").json()["failures"],
        what="the breakdown to be ingested",
    )
    board.select_option("#period select", "1h")
    board.click("#period button[type=submit]")
    expect(board).to_have_url(re.compile(r"period=1h"))
    expect(breakdowns).to_have_text("1")
    press = board.locator("svg.chart").first.locator("text", has_text="cut-co/press-1")
    expect(press).to_have_count(1)
    availability = board.locator("#summary .card").nth(2).locator("b").inner_text()
    assert float(availability.rstrip(" %")) < 100, availability
    board.screenshot(path=str(artifacts_dir / f"maintenance-figures-{backend}.png"), full_page=True)

    other = sign_in(browser, served, "marco", "/maintenance/tickets/1")
    expect(other.locator("body")).to_contain_text("does not exist")
    assert CSP_VIOLATIONS == []
