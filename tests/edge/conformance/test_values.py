"""A vendor's values on any OPC UA server: quality and StatusCodes, vendor state maps, units
from the nodes, a missing node, timestamps, and what a gateway restart finds again.

Two gateway machines read the same vendor press: ``press-map`` takes its state from a value map
of the vendor's ``State`` string, ``press-flags`` derives it from the ``Running`` and ``Fault``
flags. Each server of :data:`SERVERS` that is a :class:`VendorServer` can run this module: add
its name to the ``parametrize`` below.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from glonet.broker import MosquittoBroker
from protocols import messages
from tests.edge.conformance.servers import VendorServer
from tests.edge.support import Coordinator, GatewayProcess, gateway_config
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", ["firmware-sim", "node-opcua"], indirect=True),
]

STATE_MAP = {"RUNNING": "Executing", "IDLE": "NotExecuting", "SETUP": "NotExecuting"}
FLAGS = {
    "variables": {"running": "v:Status/v:Running", "fault": "v:Status/v:Fault"},
    "rules": [
        {"when": {"fault": True}, "value": "OutOfService"},
        {"when": {"running": True}, "value": "Executing"},
    ],
    "otherwise": "NotExecuting",
}
TEMPERATURE = "v:Process/v:Temperature"
SPEED = "v:Process/v:SpindleSpeed"
SENSOR_FAILURE = 0x808C0000


def mappings(server: VendorServer) -> dict[str, Any]:
    base = {"namespaces": server.namespaces, "root": server.root}
    return {
        "press-map": {
            **base,
            "state": {"path": "v:Status/v:State", "map": STATE_MAP},
            "metrics": {
                "temperature": {"path": TEMPERATURE, "sampling_ms": 50},
                "spindle_speed": {"path": SPEED, "sampling_ms": 50},
                "parts_produced": {"path": "v:Process/v:PartsProduced", "sampling_ms": 50},
                "ghost": {"path": "v:Process/v:Ghost"},
            },
        },
        "press-flags": {
            **base,
            "timestamps": "server",
            "state": FLAGS,
            "metrics": {
                "temperature": {"path": TEMPERATURE, "sampling_ms": 50, "unit": "degC"},
                "spindle_speed": {"path": SPEED, "sampling_ms": 50},
            },
        },
    }


class Press:
    """The machines of the module's gateway, all on the server's one press."""

    def __init__(self, server: VendorServer) -> None:
        self.server = server

    def machine_configs(self) -> list[dict[str, Any]]:
        return [
            {"id": name, "endpoint": self.server.endpoint, "mapping": name}
            for name in mappings(self.server)
        ]


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    mosquitto: MosquittoBroker,
    server: VendorServer,
    observer: Coordinator,
) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("gateway")
    config = gateway_config(
        workdir, mosquitto, Press(server), unit=unit_of(server), mappings=mappings(server)
    )
    config["opcua"] = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0}
    process = GatewayProcess(workdir, config)
    process.start()
    yield process
    process.stop()


def unit_of(server: VendorServer) -> str:
    """A unit per server: the broker (and its retained messages) serves the whole module."""
    return f"vendor-{server.name}"


def samples(
    observer: Coordinator, server: VendorServer, machine: str, metric: str
) -> list[messages.Sample]:
    return [
        s
        for m in observer.messages(messages.Telemetry)
        if m.unit == unit_of(server)
        for s in m.body.samples
        if s.machine == machine and s.metric == metric
    ]


def capacity(
    observer: Coordinator, server: VendorServer, machine: str
) -> messages.CapacityReport | None:
    reports = [
        m.body
        for m in observer.messages(messages.Capacity)
        if m.unit == unit_of(server) and m.body.machine == machine
    ]
    return reports[-1] if reports else None


def state_becomes(
    observer: Coordinator, server: VendorServer, machine: str, state: str
) -> messages.CapacityReport:
    def reached() -> messages.CapacityReport | None:
        report = capacity(observer, server, machine)
        return report if report is not None and report.state.value == state else None

    return wait_until(reached, 15, f"{machine} {state}")  # type: ignore[no-any-return]


def test_the_birth_has_units_descriptions_and_the_missing_metric(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    def described() -> dict[str, dict[str, messages.MetricDescription]] | None:
        births = [b for b in observer.messages(messages.UnitBirth) if b.unit == unit_of(server)]
        for birth in reversed(births):
            machines = {m.machine: {d.name: d for d in m.metrics} for m in birth.body.machines}
            if machines.get("press-map") and machines.get("press-flags"):
                return machines
        return None

    machines = wait_until(described, 30, "a birth with the press's metrics")
    temperature = machines["press-map"]["temperature"]
    assert (temperature.unit, temperature.description) == ("°C", "Ram temperature")
    assert temperature.missing is None and machines["press-map"]["parts_produced"].missing is None
    assert machines["press-map"]["ghost"].missing  # announced, with the server's reason
    assert machines["press-flags"]["temperature"].unit == "degC"  # the mapping's unit wins


def test_a_missing_node_degrades_health_while_the_rest_flows(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server.set_vendor("SpindleSpeed", 30.5)
    wait_until(
        lambda: any(
            s.value == 30.5 for s in samples(observer, server, "press-map", "spindle_speed")
        )
    )
    health = gateway.health()
    assert health["status"] == "degraded"
    assert health["problems"] == ["machine press-map: metric ghost missing"]
    assert list(health["machines"]["press-map"]["missing_nodes"]) == ["metric ghost"]
    assert health["machines"]["press-flags"]["missing_nodes"] == {}
    assert gateway.log().count("skipping metric ghost") == 1


def test_bad_samples_with_and_without_a_value_keep_their_status_code(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server.set_vendor("SpindleSpeed", None, "BadSensorFailure")
    bad = wait_until(
        lambda: [
            s for s in samples(observer, server, "press-map", "spindle_speed") if s.value is None
        ]
    )[-1]
    assert (bad.quality.value, bad.status, bad.status_code) == (
        "bad",
        "BadSensorFailure",
        SENSOR_FAILURE,
    )
    node_status = gateway.health()["machines"]["press-map"]["node_status"]
    assert node_status == {"spindle_speed": "BadSensorFailure"}

    server.set_vendor("SpindleSpeed", 88.5, "BadOutOfService")
    out_of_service = wait_until(
        lambda: [
            s
            for s in samples(observer, server, "press-map", "spindle_speed")
            if s.status == "BadOutOfService"
        ]
    )[-1]
    # OPC 10000-4 7.7.1: a server shall send a Bad value as null; one that sends it anyway
    # has it published, with the bad quality.
    assert out_of_service.value == (None if server.nulls_bad_values else 88.5)
    assert out_of_service.quality.value == "bad"

    server.set_vendor("SpindleSpeed", 77.25, "UncertainLastUsableValue")
    uncertain = wait_until(
        lambda: [
            s for s in samples(observer, server, "press-map", "spindle_speed") if s.value == 77.25
        ]
    )[-1]
    assert (uncertain.quality.value, uncertain.status) == ("uncertain", "UncertainLastUsableValue")

    server.set_vendor("SpindleSpeed", 22.0)
    good = wait_until(
        lambda: [
            s for s in samples(observer, server, "press-map", "spindle_speed") if s.value == 22.0
        ]
    )[-1]
    assert (good.quality.value, good.status, good.status_code) == ("good", None, None)
    wait_until(lambda: gateway.health()["machines"]["press-map"]["node_status"] == {})
    assert gateway.metric("samples_invalid_total") == 0


def test_vendor_states_are_mapped_and_an_unmapped_one_is_reported_once(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server.set_vendor("State", "RUNNING")
    state_becomes(observer, server, "press-map", "Executing")
    server.set_vendor("State", "SETUP")
    state_becomes(observer, server, "press-map", "NotExecuting")
    for value in ("WARMUP", "RUNNING", "WARMUP"):
        server.set_vendor("State", value)
        state_becomes(
            observer, server, "press-map", "NotAvailable" if value == "WARMUP" else "Executing"
        )
    report = capacity(observer, server, "press-map")
    assert report is not None and not report.available
    assert report.unmapped_values == [messages.UnmappedValue(variable="state", value="'WARMUP'")]
    health = gateway.health()
    assert health["machines"]["press-map"]["unmapped_values"] == {"state": "'WARMUP'"}
    assert "machine press-map: state value 'WARMUP' not mapped" in health["problems"]
    assert gateway.log().count("state value 'WARMUP' is not in the mapping") == 1

    server.set_vendor("State", "IDLE")
    report = state_becomes(observer, server, "press-map", "NotExecuting")
    assert report.unmapped_values == []
    assert gateway.health()["machines"]["press-map"]["unmapped_values"] == {}


def test_a_state_derived_from_a_running_and_a_fault_flag(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    state_becomes(observer, server, "press-flags", "NotExecuting")
    server.set_vendor("Running", True)
    state_becomes(observer, server, "press-flags", "Executing")
    server.set_vendor("Fault", True)
    state_becomes(observer, server, "press-flags", "OutOfService")
    server.set_vendor("Running", False)
    server.set_vendor("Fault", False)
    state_becomes(observer, server, "press-flags", "NotExecuting")


def test_each_mapping_chooses_source_or_server_timestamps(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server.set_vendor("SpindleSpeed", 41.25)
    for machine in ("press-map", "press-flags"):
        wait_until(
            lambda m=machine: [
                s for s in samples(observer, server, m, "spindle_speed") if s.value == 41.25
            ]
        )
    source = next(
        s for s in samples(observer, server, "press-map", "spindle_speed") if s.value == 41.25
    )
    served = next(
        s for s in samples(observer, server, "press-flags", "spindle_speed") if s.value == 41.25
    )
    now = datetime.now(UTC)
    assert abs(served.source_time - now) < timedelta(seconds=30)
    expected = now + timedelta(seconds=server.source_clock_offset_s)
    assert abs(source.source_time - expected) < timedelta(seconds=30)


def test_a_restarted_gateway_finds_the_missing_node_and_unmapped_value_again(
    server: VendorServer, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server.set_vendor("State", "WARMUP")
    wait_until(lambda: gateway.health()["machines"]["press-map"]["unmapped_values"])
    assert gateway.stop() == 0
    gateway.start()
    health = wait_until(
        lambda: (h := gateway.health())["machines"]["press-map"]["unmapped_values"] and h,
        30,
        "the unmapped value found again",
    )
    assert list(health["machines"]["press-map"]["missing_nodes"]) == ["metric ghost"]
    assert health["status"] == "degraded"
    server.set_vendor("State", "IDLE")
    state_becomes(observer, server, "press-map", "NotExecuting")
