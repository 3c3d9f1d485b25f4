"""A plant's own unit page in headless Chromium, fed by a real gateway against a simulated plant
whose mapping names a node the machine does not have; checked by axe-core, with screenshots at
desktop and phone widths in the artifacts directory."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from edge.config import PROFILE_PACKAGE
from glonet.broker import MosquittoBroker
from tests.cloud.maintenance.conftest import Served
from tests.cloud.web.test_accessibility import _axe
from tests.edge.support import MILL, GatewayProcess, SimPlant, gateway_config
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture
def plant() -> Iterator[SimPlant]:
    sim = SimPlant([MILL], time_scale=1.0)
    sim.start()
    yield sim
    sim.close()


@pytest.fixture
def gateway(
    tmp_path: Path, running_mosquitto: MosquittoBroker, served: Served, plant: SimPlant
) -> Iterator[GatewayProcess]:
    """Cut Co's gateway, its mill mapped by the simulator's profile plus a ``ghost`` metric at a
    node the mill does not have."""
    profile = yaml.safe_load(
        resources.files(PROFILE_PACKAGE).joinpath("firmware-sim.yaml").read_text()
    )
    mapping = copy.deepcopy(profile)
    del mapping["metrics_folder"]
    mapping["metrics"] = {
        "spindle_rpm": {"path": "sim:Monitoring/sim:SpindleSpeed"},
        "ghost": {"path": "sim:Monitoring/sim:Ghost"},
    }
    machines = [{"id": "mill-1", "endpoint": plant.endpoint, "mapping": "ghost-cnc"}]
    config = gateway_config(
        tmp_path,
        running_mosquitto,
        plant,
        network=served.network,
        unit="cut-co",
        mappings={"ghost-cnc": mapping},
        machines=machines,
    )
    process = GatewayProcess(tmp_path, config)
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()


def _signed_in(browser: Browser, served: Served, who: str, width: str) -> Page:
    w, h = WIDTHS[width]
    # bypass_csp: axe is injected as a script tag, which the page's policy rightly refuses.
    page = browser.new_page(viewport={"width": w, "height": h}, bypass_csp=True)
    page.goto(f"{served.base_url}/")
    page.fill("#api-key", served.seeded.keys[who])
    page.click("button[type=submit]")
    return page


def test_the_plant_engineer_sees_a_missing_node_on_the_gateway_health_panel(
    served: Served,
    gateway: GatewayProcess,
    browser: Browser,
    artifacts_dir: Path,
    backend: str,
) -> None:
    wait_until(
        lambda: served.api("GET", "/api/units/cut-co/health", "cut-co").json()["missing_total"],
        30,
        "the gateway's birth at the coordinator",
    )
    # What the gateway itself reports (its birth followed its binding).
    assert list(gateway.health()["machines"]["mill-1"]["missing_nodes"]) == ["metric ghost"]
    ticket = {"unit_id": "cut-co", "asset": "laser-1", "title": "Lens dirty"}
    assert served.api("POST", "/api/maintenance/tickets", "coordinator", json=ticket).is_success

    page = _signed_in(browser, served, "cut-co", "desktop")
    expect(page.locator("#live")).to_have_text("live", timeout=10_000)
    expect(page.locator('nav a[aria-current="page"]')).to_have_text("My unit")
    expect(page.locator("#gateway-status")).to_have_text("online")
    expect(page.locator("#missing-count")).to_have_text("1")
    ghost = page.locator('#missing-nodes tr[data-missing="mill-1/ghost"]')
    expect(ghost).to_contain_text("Ghost")  # the reason names the node that is not there
    machines = page.locator("#machines tr[data-machine]")
    expect(machines).to_have_count(3)  # the mill it announced, and the laser and press
    expect(page.locator('#machines tr[data-machine="mill-1"] .state')).not_to_have_text("\u2013")
    # The outbox depth its capacity reports carry (protocol 1.3), with when it was reported.
    expect(page.locator("#outbox-depth")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#gateway time").first).to_be_visible()
    expect(page.locator("#tickets tr[data-ticket]")).to_contain_text("Lens dirty")
    # Another plant's machines and tickets are not on a plant's page.
    expect(page.locator("main")).not_to_contain_text("weld-1")
    page.screenshot(path=str(artifacts_dir / f"unit-page-desktop-{backend}.png"), full_page=True)
    assert _axe(page) == []  # no serious or critical axe-core violation

    phone = _signed_in(browser, served, "cut-co", "phone")
    expect(phone.locator("#missing-nodes")).to_contain_text("ghost")
    phone.screenshot(path=str(artifacts_dir / f"unit-page-phone-{backend}.png"), full_page=True)
    assert _axe(phone) == []

    # The gateway stops: the panel says so without a reload.
    assert gateway.stop() == 0
    expect(page.locator("#gateway-status")).to_have_text("offline", timeout=15_000)
