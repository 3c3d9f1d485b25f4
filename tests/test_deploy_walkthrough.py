"""docs/deploy.md, step by step, for real: onboarding a first plant.

The same commands and request bodies as the walkthrough, run as a plant engineer would: the
`glonet` commands as subprocesses, the API over HTTP, Mosquitto started from the files
`glonet cloud broker-config` wrote (through `include_dir`), and a `glonet sim` plant standing in
for the real machine. Each block names the step of docs/deploy.md it follows; when the doc
changes, change this test with it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from glonet.broker import MosquittoBroker, free_port
from glonet.demo_network import ManagedProcess, glonet_command, stop_together
from tests.edge.support import ROOT, GatewayProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

NETWORK = "first-net"
UNIT = "first-plant"
MACHINE = "mill-1"
ENGINEER_PASSWORD = "mill-1 runs at dawn"

# The stand-in machine (docs/deploy.md, "Rehearsing with a simulated machine").
PLANT_FILE = {
    "unit": UNIT,
    "name": "First plant",
    "company": "First Plant S.r.l.",
    "location": {"city": "Modena", "country": "IT", "lat": 44.63, "lon": 10.95},
    "machines": [
        {
            "id": MACHINE,
            "type": "cnc_mill",
            "manufacturer": "DMG MORI",
            "model": "DMU 65 monoBLOCK",
            "capabilities": [{"process": "milling", "parameters": {"axes": 5}}],
            "max_job_orders": 4,
        }
    ],
}

# Step 6: the product family (a file in orders.families_dir, read when the coordinator starts).
FAMILY = {
    "id": "first-part",
    "name": "First part",
    "options": [
        {
            "id": "quantity",
            "label": "Quantity",
            "type": "number",
            "min": 1,
            "max": 10,
            "step": 1,
            "unit": "pcs",
            "default": 1,
        }
    ],
    "routing": [
        {"id": "mill", "name": "Mill the part", "process": "milling", "duration_min": "0.1"}
    ],
    "price": "50 * quantity",
}


def glonet(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        glonet_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"glonet {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


class Api:
    """The coordinator's API as `curl -H "Authorization: Bearer $KEY"` calls it."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        self.keys: dict[str, str] = {}

    def __call__(self, who: str, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.keys[who]}"}
        )
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def healthy(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    yield started
    stop_together(started)


def start(processes: list[ManagedProcess], name: str, log_dir: Path, *args: str) -> None:
    process = ManagedProcess(name, glonet_command(*args, log_level="INFO"), log_dir / f"{name}.log")
    process.start()
    processes.append(process)


def test_onboarding_a_first_plant_as_docs_deploy_md_says(
    tmp_path: Path,
    mosquitto_factory: Callable[..., MosquittoBroker],
    processes: list[ManagedProcess],
    request: pytest.FixtureRequest,
) -> None:
    logs = tmp_path / "logs"
    # The plant's machine is already running (a real one would be); it takes a few seconds.
    opcua_port = free_port()
    plant_file = tmp_path / "first-plant.yaml"
    plant_file.write_text(yaml.safe_dump({**PLANT_FILE, "port": opcua_port}))
    start(processes, "machine", logs, "sim", str(plant_file))
    endpoint = f"opc.tcp://127.0.0.1:{opcua_port}/glonet/{UNIT}"

    # Step 1: the coordinator — its settings, the first coordinator key, its broker listener.
    members_port, coordinator_mqtt_port, api_port = free_port(), free_port(), free_port()
    (tmp_path / "families").mkdir()
    (tmp_path / "families" / "first-part.yaml").write_text(yaml.safe_dump(FAMILY))
    config = tmp_path / "coordinator.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "network": NETWORK,
                "data_dir": str(tmp_path / "coordinator"),
                "database_url": None,  # SQLite in data_dir; the doc shows PostgreSQL's URL
                "listen_host": "127.0.0.1",
                "listen_port": api_port,
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": coordinator_mqtt_port,
                    "username": "coordinator",
                    "password": "coordinator-broker-secret",
                },
                "orders": {"families_dir": str(tmp_path / "families")},
            }
        )
    )
    created = glonet("cloud", "create-key", "--config", str(config))
    key = re.search(r"principal \d+ \(coordinator\): (glo_\S+)", created.stdout)
    assert key, created.stdout
    broker_dir = tmp_path / "mosquitto-glonet"
    broker_config = (
        "cloud",
        "broker-config",
        "--config",
        str(config),
        "--members-port",
        str(members_port),
        str(broker_dir),
    )
    glonet(*broker_config)
    # mosquitto.conf's one line for GloNet; the doc's chown and systemctl are for a system
    # Mosquitto, this private one runs as the test's user and restarts through the fixture.
    broker = mosquitto_factory(
        extra_config=f"include_dir {broker_dir}", own_listener=False, port=members_port
    )
    start(processes, "coordinator", logs, "cloud", "serve", "--config", str(config))
    api = Api(f"http://127.0.0.1:{api_port}")
    api.keys["coordinator"] = key.group(1)
    wait_until(api.healthy, 60, "the coordinator's /healthz (database, broker subscription)")
    assert api("coordinator", "GET", "/api/me")["role"] == "coordinator"

    # Step 2: the unit, its machine, its technician, and a key for each person.
    api(
        "coordinator",
        "POST",
        "/api/units",
        {
            "id": UNIT,
            "network_id": NETWORK,
            "company": "First Plant S.r.l.",
            "site": "Modena",
            "latitude": 44.63,
            "longitude": 10.95,
            "certifications": ["ISO9001"],
            "sharing_policy": {"hourly_rate": 60.0, "currency": "EUR"},
        },
    )
    api(
        "coordinator",
        "POST",
        f"/api/units/{UNIT}/machines",
        {"machine": MACHINE, "name": "DMU 65 monoBLOCK"},
    )
    api(
        "coordinator",
        "POST",
        "/api/technicians",
        {
            "id": "ada",
            "name": "Ada Rossi",
            "employer_unit_id": UNIT,
            "skills": ["mechanical"],
            "home_latitude": 44.64,
            "home_longitude": 10.93,
        },
    )
    people = {
        "plant": {"name": "First Plant engineer", "role": "plant", "unit_id": UNIT},
        "technician": {"name": "Ada Rossi", "role": "technician", "technician_id": "ada"},
        "customer": {"name": "Acme buyer", "role": "customer", "customer_id": "acme"},
    }
    for who, body in people.items():
        api.keys[who] = api("coordinator", "POST", "/api/principals", body)["api_key"]
        assert api(who, "GET", "/api/me")["role"] == who
    # The plant engineer as a person for the pages: invited, sets a password from the link.
    invited = api(
        "coordinator",
        "POST",
        "/api/people",
        {
            "name": "Marco Bianchi",
            "username": "marco",
            "role": "plant",
            "unit_id": UNIT,
            "email": "marco@first-plant.example",
        },
    )
    token = invited["invitation"]["url"].partition("#")[2]
    accepted = api.http.post(
        "/api/invitations/accept", json={"token": token, "password": ENGINEER_PASSWORD}
    )
    assert accepted.status_code == 204

    # Step 3: the gateway's broker credentials, the broker files again, Mosquitto restarted.
    credentials = api("plant", "POST", f"/api/units/{UNIT}/mqtt-credentials")
    assert credentials["username"] == UNIT
    glonet(*broker_config)
    broker.restart()

    # Step 4: map the machine — browse, edit the proposed mapping, check it.
    mapping_file = tmp_path / "mill-1.mapping.yaml"
    browsed = glonet(
        "edge",
        "browse",
        endpoint,
        "--from",
        "/0:Objects/machinery:Machines",
        "--mapping-out",
        str(mapping_file),
    )
    assert "jobs:JobOrderControl  ISA95JobOrderReceiverObjectType" in browsed.stdout
    mapping = yaml.safe_load(mapping_file.read_text())
    assert mapping["root"] == f"/0:Objects/machinery:Machines/sim:{MACHINE}"
    assert {"spindle_speed", "spindle_temperature"} <= set(mapping["metrics"])
    # The edit: state and mode (OPC 40001-1), job control (OPC 10031-4), one metric dropped.
    blocks = "machinery:MachineryBuildingBlocks"
    mapping["namespaces"]["jobs"] = "http://opcfoundation.org/UA/Machinery/Jobs/"
    mapping["state"] = f"{blocks}/machinery:MachineryItemState/0:CurrentState"
    mapping["mode"] = f"{blocks}/machinery:MachineryOperationMode/0:CurrentState"
    mapping["jobs"] = {
        "profile": "opc-10031-4",
        "receiver": f"{blocks}/jobs:JobManagement/jobs:JobOrderControl",
        "results": f"{blocks}/jobs:JobManagement/jobs:JobOrderResults",
    }
    del mapping["metrics"]["normal_value"]
    health_port = free_port()
    gateway = GatewayProcess(
        tmp_path,
        {
            "network": NETWORK,
            "unit": UNIT,
            "broker": {
                "url": f"mqtt://127.0.0.1:{members_port}",
                "username": UNIT,
                "password": credentials["password"],
            },
            "buffer": {"path": str(tmp_path / "edge" / "outbox.sqlite")},
            "health": {"host": "127.0.0.1", "port": health_port},
            "mappings": {"dmu-65": mapping},
            "machines": [
                {
                    "id": MACHINE,
                    "name": "DMU 65 monoBLOCK",
                    "endpoint": endpoint,
                    "mapping": "dmu-65",
                    "capabilities": [{"process": "milling", "parameters": {"axes": 5}}],
                }
            ],
        },
    )
    request.addfinalizer(gateway.kill_if_running)  # stopped cleanly below when the test passes
    checked = glonet("edge", "check", str(gateway.config_path))
    assert f"{MACHINE} at {endpoint}" in checked.stdout
    assert "every mapped node found" in checked.stdout, checked.stdout

    # Step 5: run the gateway; its /healthz, then the machine's first telemetry at the
    # coordinator, as the plant sees it.
    gateway.start()
    assert wait_until(lambda: gateway.health()["status"] == "ok", 20, "the gateway healthy")

    # The gateway's first capacity report may go out before its first read of the machine's
    # state (NotAvailable until then, so nothing is dispatched to it): wait for the state read.
    def reporting() -> dict[str, Any] | None:
        machine = api("plant", "GET", f"/api/machines/{UNIT}/{MACHINE}")
        ready = (
            machine["online"]
            and machine["state"] == "NotExecuting"
            and machine["free_slots"] == 4
            and "spindle_speed" in machine["latest_metrics"]
        )
        return machine if ready else None

    wait_until(
        reporting, 30, "the machine idle with 4 free slots, and its telemetry, at the coordinator"
    )
    overview = api("coordinator", "GET", "/api/overview")
    assert any(u["unit_id"] == UNIT and u["status"] == "online" for u in overview["units"])
    (registered,) = api("coordinator", "GET", f"/api/machines?unit_id={UNIT}")
    assert registered["machine"] == MACHINE
    rollups = api("plant", "GET", f"/api/machines/{UNIT}/{MACHINE}/rollups?metric=spindle_speed")
    assert rollups, "per-minute history of the first telemetry"
    with httpx.Client(base_url=str(api.http.base_url), timeout=10) as browser:
        # The pages: the engineer signs in once, then the session cookie carries the session.
        signed_in = browser.post(
            "/api/session", json={"username": "marco", "password": ENGINEER_PASSWORD}
        )
        assert signed_in.is_success
        page = browser.get(f"/machines/{UNIT}/{MACHINE}")
        assert page.status_code == 200 and "spindle_speed" in page.text

    # Step 6: the first dispatch — configure, quote, confirm; the job reaches the machine's
    # OPC 10031-4 receiver and comes back ended.
    configuration = api(
        "customer",
        "POST",
        "/api/configurations",
        {"family_id": "first-part", "values": {"quantity": 1}, "comment": "first order"},
    )
    quote = api("customer", "POST", "/api/quotes", {"configuration_id": configuration["id"]})
    order = api("customer", "POST", f"/api/quotes/{quote['id']}/confirm")
    assert order["status"] == "confirmed"

    def completed() -> dict[str, Any] | None:
        current = api("coordinator", "GET", f"/api/orders/{order['id']}")
        return current if current["status"] == "completed" else None

    done = wait_until(completed, 60, "the first order completing on the plant's machine")
    (operation,) = done["operations"]
    assert (operation["unit_id"], operation["machine"]) == (UNIT, MACHINE)
    jobs = api("plant", "GET", f"/api/jobs?unit_id={UNIT}")
    ended = [job for job in jobs if job["machine"] == MACHINE and job["event"] == "ended"]
    assert ended and ended[0]["actual_end"], jobs
    assert api("coordinator", "POST", f"/api/orders/{order['id']}/deliver")["status"] == "delivered"
    (product,) = api("customer", "GET", "/api/products")
    assert [step["machine"] for step in product["as_built"]] == [MACHINE]
    gateway.stop()
