"""``glonet edge browse`` and ``glonet edge check`` on a third-party server and firmware_sim."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.edge.conformance.servers import ACME_MAPPING
from tests.edge.support import MILL, ROOT, SimPlant
from tests.opcua_server import MACHINE, AcmePress

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[SimPlant]:
    plant = SimPlant([MILL])
    plant.start()
    yield plant
    plant.close()


def glonet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glonet", "edge", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_browse_lists_a_third_party_machine_and_proposes_a_mapping(
    acme_press: AcmePress, tmp_path: Path
) -> None:
    out = tmp_path / "mapping.yaml"
    result = glonet("browse", acme_press.endpoint, "--mapping-out", str(out))
    assert result.returncode == 0, result.stderr
    tree = result.stdout
    assert 'press:Temperature  Double  [°C]  "Ram temperature"' in tree
    assert "press:HighTemperature  ExclusiveLimitAlarmType  condition" in tree
    assert "press:JobOrderControl  ISA95JobOrderReceiverObjectType" in tree
    assert "jobcontrol:StoreAndStart()  method" in tree
    assert "press:Press7  BaseObjectType  events" in tree
    mapping = yaml.safe_load(out.read_text())
    assert mapping["root"] == "/0:Objects/machinery:Machines/press:Press7"
    assert mapping["namespaces"]["press"] == "urn:acme-machines:press"
    assert mapping["metrics"]["temperature"] == {
        "path": "press:Process/press:Temperature",
        "unit": "°C",
        "description": "Ram temperature",
    }
    assert mapping["alarms"] == {}
    assert "active_state" not in mapping["metrics"]  # conditions' own variables are no metrics


def test_the_proposed_mapping_checks_clean(acme_press: AcmePress, tmp_path: Path) -> None:
    out = tmp_path / "mapping.yaml"
    assert glonet("browse", acme_press.endpoint, "--mapping-out", str(out)).returncode == 0
    mapping = yaml.safe_load(out.read_text())
    config = write_config(tmp_path, acme_press.endpoint, {"id": "press-7", "mapping": mapping})
    result = glonet("check", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "press-7 at opc.tcp://" in result.stdout and "every mapped node found" in result.stdout


def test_check_reports_types_quality_job_control_and_what_is_missing(
    acme_press: AcmePress, tmp_path: Path
) -> None:
    acme_press.set("SpindleSpeed", 1200.0, "BadSensorFailure")
    mapping = {
        **ACME_MAPPING,
        "metrics": {
            **ACME_MAPPING["metrics"],
            "oil_pressure": {"path": "acme:Process/acme:OilPressure"},
        },
    }
    machine = {"id": "press-7", "node_name": MACHINE, "mapping": mapping}
    result = glonet("check", str(write_config(tmp_path, acme_press.endpoint, machine)))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("connected, 1 missing")
    temperature = next(line for line in lines if "metric temperature" in line)
    assert "Double" in temperature and "Good (0x00000000)" in temperature
    speed = next(line for line in lines if "metric spindle_speed" in line)
    assert "BadSensorFailure (0x808C0000)" in speed
    missing = next(line for line in lines if "MISSING" in line)
    assert "metric oil_pressure" in missing and "acme:Process/acme:OilPressure" in missing
    assert "alarms: events of i=2782 on nsu=urn:acme-machines:press" in result.stdout


def test_check_against_firmware_sim_and_an_endpoint_that_is_down(
    sim: SimPlant, tmp_path: Path
) -> None:
    machines = [
        {"id": "mill-1", "endpoint": sim.endpoint, "mapping": "firmware-sim"},
        {"id": "ghost-1", "endpoint": "opc.tcp://127.0.0.1:9", "mapping": "firmware-sim"},
    ]
    result = glonet("check", str(write_config(tmp_path, None, *machines)))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "mill-1 at opc.tcp://" in out and "every mapped node found" in out
    assert "metric spindle_speed" in out and "state" in out
    methods = next(line for line in out.splitlines() if "methods (job control" in line)
    assert {"store", "store_and_start", "cancel"} <= set(methods.split(": ")[1].split(", "))
    assert "job control types: ISA95JobOrderDataType" in out
    assert "ghost-1 at opc.tcp://127.0.0.1:9: cannot connect" in out


def test_browse_finds_the_simulated_mill(sim: SimPlant) -> None:
    result = glonet("browse", sim.endpoint, "--from", "/0:Objects/sim:Machines", "--depth", "3")
    assert result.returncode == 0, result.stderr
    assert "sim:mill-1" in result.stdout
    assert "root: /0:Objects/sim:Machines/sim:mill-1" in result.stdout
    assert "sim:Overheat  ExclusiveLimitAlarmType  condition" in result.stdout
    assert "sim:EmergencyStop  OffNormalAlarmType  condition" in result.stdout
    assert "alarms: {}" in result.stdout


def test_browse_of_a_server_that_is_down_says_so() -> None:
    result = glonet("browse", "opc.tcp://127.0.0.1:9")
    assert result.returncode == 2 and "cannot connect to opc.tcp://127.0.0.1:9" in result.stderr


def write_config(tmp_path: Path, endpoint: str | None, *machines: dict) -> Path:
    config = {
        "network": "testnet",
        "unit": "plant-a",
        "broker": {"url": "mqtt://127.0.0.1:9"},
        "buffer": {"path": str(tmp_path / "outbox.sqlite")},
        "machines": [{"endpoint": endpoint, **m} for m in machines],
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path
