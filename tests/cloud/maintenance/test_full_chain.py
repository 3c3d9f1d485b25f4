"""The whole chain with real parts: a firmware_sim mill wears until its vibration alarm fires, the
real edge gateway forwards it over Mosquitto, the coordinator opens and assigns a ticket, the
technician resolves it, the gateway runs the machine's Repair method, the wear resets, the
alarms clear and the repair time is recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from cloud.database import transaction
from cloud.registry.models import Unit
from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from protocols.enums import ProcessKind
from tests.edge.support import MILL, UNIT, GatewayProcess, SimPlant, gateway_config
from tests.waiting import wait_until

from .conftest import Served

pytestmark = pytest.mark.integration
API = "/api/maintenance"
TIME_SCALE = 72_000  # one second of test time is twenty operating hours


@pytest.fixture
def worn_mill() -> Iterator[SimPlant]:
    """A mill just below the wear at which its vibration alarm fires."""
    plant = SimPlant([{**MILL, "initial_wear": 0.66}], time_scale=TIME_SCALE)
    plant.start()
    yield plant
    plant.close()


def test_wear_to_repair_with_firmware_sim_and_the_real_gateway(
    served: Served, worn_mill: SimPlant, running_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    with transaction(served.seeded.session_factory) as session:
        session.add(
            Unit(
                id=UNIT, network_id=served.network, company="Plant A", latitude=44.6, longitude=10.9
            )
        )
    config = gateway_config(tmp_path, running_mosquitto, worn_mill, network=served.network)
    gateway = GatewayProcess(tmp_path, config)
    gateway.start()
    try:
        wait_until(lambda: _announced(served), timeout=30)
        wait_until(lambda: _working(served, running_mosquitto), timeout=30)  # wear needs work
        ticket = wait_until(lambda: _ticket(served), timeout=60)
        # The technician resolves once the mill has stopped (job done or broken down), so no
        # further alarm of this failure can arrive after the ticket is resolved.
        wait_until(lambda: not _working_now(served), timeout=60)
        assert ticket["asset"] == "mill-1" and ticket["assignee_id"] in ("tina", "marco")
        technician = ticket["assignee_id"]
        resolved = served.api(
            "POST", f"{API}/tickets/{ticket['id']}/resolve", technician, json={"note": "spindle"}
        ).json()
        assert resolved["status"] == "resolved" and resolved["repair_minutes"] is not None
        wait_until(lambda: gateway.metric("commands_total", kind="repair") == 1, timeout=30)
        machine = worn_mill.server.machines["mill-1"]
        # The gateway counts the command when it takes it; the OPC UA Repair call follows.
        wait_until(lambda: machine.wear.wear < 0.66, timeout=30)  # the Repair method reset it
        wait_until(lambda: _all_alarms_cleared(served), timeout=30)
    finally:
        gateway.stop()
    figures = served.api("GET", f"{API}/figures?unit_id={UNIT}", "coordinator").json()
    tickets = served.api("GET", f"{API}/tickets?unit_id={UNIT}", "coordinator").json()
    assert figures["failures"] == 1 and figures["mttr_minutes"] is not None, tickets


def _dispatch_a_long_job(broker: MosquittoBroker, network: str) -> None:
    """Send the mill a job as the dispatcher would (the coordinator's command topic)."""
    job = messages.JobOrder(
        job_order_id="jo-wear",
        machine="mill-1",
        operation="roughing",
        process=ProcessKind.MILLING,
        planned_duration_s=100 * 3600,
    )
    command = messages.Command.create(
        unit=topics.COORDINATOR, seq=1, body=messages.DispatchCommand(job_orders=[job])
    )
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"dispatch-{network}")
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert connected.wait(5)
    client.publish(topics.command(network, UNIT), codec.encode(command), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _working(served: Served, broker: MosquittoBroker) -> bool:
    """Dispatch the job (again) until the mill runs it: the gateway may still be subscribing."""
    machines = served.api("GET", f"/api/machines?unit_id={UNIT}", "coordinator").json()
    if any(m["running_job_order"] == "jo-wear" for m in machines):
        return True
    _dispatch_a_long_job(broker, served.network)
    time.sleep(1)  # a re-send cadence, not a settle: a dispatch a second until one is taken
    return False


def _working_now(served: Served) -> bool:
    machines = served.api("GET", f"/api/machines?unit_id={UNIT}", "coordinator").json()
    return any(m["state"] == "Executing" for m in machines)


def _announced(served: Served) -> bool:
    machines = served.api("GET", f"/api/machines?unit_id={UNIT}", "coordinator").json()
    return any(m["machine"] == "mill-1" and m["online"] for m in machines)


def _ticket(served: Served) -> dict | None:
    tickets = served.api("GET", f"{API}/tickets?unit_id={UNIT}", "coordinator").json()
    return tickets[0] if tickets and tickets[0]["status"] == "assigned" else None


def _all_alarms_cleared(served: Served) -> bool:
    alerts = served.api("GET", f"{API}/alerts", "coordinator").json()
    mill = [a for a in alerts if a["unit_id"] == UNIT and a["asset"] == "mill-1"]
    return bool(mill) and all(a["state"] == "resolved" for a in mill)
