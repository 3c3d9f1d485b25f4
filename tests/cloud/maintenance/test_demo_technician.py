"""The demo's technician: ``glonet demo``'s driver acknowledges and resolves the breakdown's ticket
through the coordinator's real HTTP API with the assigned technician's key, never over OPC UA."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from glonet.demo_driver import COORDINATOR_KEY, BrokenMachine, DemoDriver
from glonet.demo_network import Breakdown, DemoSpec, PlantNetwork, technician_key
from tests.cloud.maintenance.conftest import NETWORK, Harness, alarm


def driver_for(harness: Harness, tmp_path: Path, repair_after_s: float) -> DemoDriver:
    keys = harness.seeded.keys
    spec = DemoSpec(
        network=NETWORK,
        plants=[],
        breakdown=Breakdown(unit="weld-co", machines=["weld-1"], repair_after_s=repair_after_s),
    )
    driver = DemoDriver(
        spec,
        str(harness.client.base_url),
        {COORDINATOR_KEY: keys["coordinator"], technician_key("marco"): keys["marco"]},
        PlantNetwork(tmp_path, [], NETWORK, 1.0),
    )
    driver.http = harness.client
    return driver


def test_the_assigned_technician_resolves_the_breakdown_ticket(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = driver_for(harness, tmp_path, repair_after_s=60)
    driver.broken = BrokenMachine("weld-1", at=time.monotonic())
    driver.follow()
    assert "no maintenance ticket" not in capsys.readouterr().out

    harness.ingest(alarm("weld-1", "breakdown", unit="weld-co", severity=900))
    driver.follow()
    out = capsys.readouterr().out
    assert "maintenance ticket 1 opened for weld-co/weld-1" in out
    assert "ticket 1 assigned to technician marco" in out
    assert "technician marco's route: next: weld-co at " in out  # the visit got a route
    assert driver.broken.resolved_at is None  # the repair is not due yet

    driver.broken.at -= 61
    driver.follow()
    out = capsys.readouterr().out
    assert "technician marco acknowledges ticket 1" in out
    assert "technician marco resolves ticket 1" in out
    assert "FALLBACK" not in out and driver.broken.resolved_at is not None

    detail = harness.client.get(
        "/api/maintenance/tickets/1", headers=harness.seeded.headers("coordinator")
    ).json()
    assert detail["status"] == "resolved"
    done = [(e["kind"], e["actor"]) for e in detail["timeline"]]
    assert ("acknowledged", "technician marco") in done
    assert ("resolved", "technician marco") in done
    assert any(kind == "repair_command" for kind, _ in done)
    assert "1 corrective resolved" in driver.ticket_summary()


def test_a_missing_ticket_is_reported_loudly(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = driver_for(harness, tmp_path, repair_after_s=60)
    driver.broken = BrokenMachine("weld-1", at=time.monotonic() - 31)
    driver.follow()
    assert "!!! no maintenance ticket for weld-co/weld-1" in capsys.readouterr().out
    assert driver.ticket_summary() == "maintenance tickets this run: 0"
