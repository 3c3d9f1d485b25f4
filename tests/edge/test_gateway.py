"""End to end: a firmware_sim plant, the gateway as a process, Mosquitto, and a coordinator."""

import copy
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
import yaml
from asyncua import ua

from edge.config import PROFILE_PACKAGE
from firmware_sim.address_space import NAMESPACE_URI
from firmware_sim.companion import ISA95_JOB_CONTROL_URI
from protocols import messages
from tests.edge.support import (
    LASER,
    MILL,
    SimPlant,
    assert_complete_job,
    assert_in_order_per_machine,
    dispatch,
    job_order,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

CLOCK_SKEW = timedelta(seconds=1)
"""How far ahead of the test's clock a reported time may be (the same host's clock)."""


def _samples(coordinator, metric):
    return [
        s
        for m in coordinator.messages(messages.Telemetry)
        for s in m.body.samples
        if s.metric == metric
    ]


def test_machine_values_become_telemetry_and_the_unit_announces_itself(
    plant, coordinator, make_gateway
):
    gateway = make_gateway(plant)
    samples = wait_until(lambda: _samples(coordinator, "spindle_temperature"), what="telemetry")
    assert samples[0].machine == "mill-1" and samples[0].source_time.tzinfo is not None
    online = wait_until(lambda: coordinator.messages(messages.UnitState))
    assert online[0].body.state.value == "online"
    births = wait_until(
        lambda: [b for b in coordinator.messages(messages.UnitBirth) if b.body.machines[0].model]
    )
    mill = births[-1].body.machines[0]
    assert mill.machine == "mill-1" and mill.max_job_orders == 20
    assert mill.capabilities[0].parameters["size_mm"] == "650 x 520"
    assert {"spindle_speed", "spindle_temperature", "power"} <= {m.name for m in mill.metrics}
    capacity = wait_until(
        lambda: [c for c in coordinator.messages(messages.Capacity) if c.body.available]
    )
    assert capacity[-1].body.free_slots == 20
    # The plant runs 60 times as fast, yet its samples carry wall-clock times, never the
    # future (docs/machines.md, "Time").
    later = wait_until(lambda: len(_samples(coordinator, "spindle_temperature")) > len(samples))
    assert later
    times = [s.source_time for s in _samples(coordinator, "spindle_temperature")]
    assert max(times) <= datetime.now(UTC) + CLOCK_SKEW
    health = gateway.health()
    assert health["status"] == "ok" and health["machines"]["mill-1"]["connected"]
    assert gateway.metric("data_changes_total") > 0
    wait_until(lambda: gateway.metric("messages_published_total", kind="telemetry") > 0)
    assert gateway.stop() == 0
    assert coordinator.messages(messages.UnitState)[-1].body.state.value == "offline"


def test_dispatch_runs_the_job_and_reports_it(plant, coordinator, make_gateway):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    coordinator.send(dispatch(job_order("jo-1"), job_order("jo-2", start=False)))
    coordinator.send(dispatch(job_order("jo-2", start=False)))  # a repeat is harmless
    wait_until(lambda: [e for e in coordinator.job_events("jo-1") if e.event.value == "ended"])
    assert_complete_job(coordinator, "jo-1")
    accepted = [e for e in coordinator.job_events("jo-2") if e.event.value == "accepted"]
    assert len(accepted) == 2 and "duplicate" in (accepted[1].reason or "")
    ended = coordinator.job_events("jo-1")[-1]
    assert ended.produced_quantity == 1 and ended.actual_end is not None
    assert ended.actual_start is not None
    assert ended.actual_start <= ended.actual_end <= datetime.now(UTC) + CLOCK_SKEW
    assert plant.server.machines["mill-1"].jobs.find("jo-2") is not None
    coordinator.send(messages.CancelCommand(machine="mill-1", job_order_id="jo-2"))
    wait_until(lambda: [e for e in coordinator.job_events("jo-2") if e.event.value == "aborted"])
    assert_in_order_per_machine(coordinator)

    # The capacity report after the cancel is a message of its own: under load it can arrive
    # after the job event.
    def emptied() -> bool:
        capacity = coordinator.messages(messages.Capacity)[-1].body
        return capacity.stored_job_orders == [] and capacity.running_job_order is None

    wait_until(emptied, what="a capacity report with no job order left")
    births = len(coordinator.messages(messages.UnitBirth))
    reports = len(coordinator.messages(messages.Capacity))
    coordinator.send(messages.RebirthCommand())
    wait_until(lambda: len(coordinator.messages(messages.UnitBirth)) > births, what="rebirth")
    wait_until(lambda: len(coordinator.messages(messages.Capacity)) > reports)


def test_alarm_events_and_local_rules_become_alarms(coordinator, make_gateway):
    plant = SimPlant([MILL, LASER])
    plant.start()
    try:
        rule = {
            "name": "laser-power-on",
            "machine": "laser-1",
            "metric": "power",
            "above": 0.0,
            "clear_at": -1.0,
            "min_duration_s": 0.2,
            "code": "power_on",
            "severity": 100,
        }
        gateway = make_gateway(plant, rules=[rule])
        wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
        plant.inject("alarm_burst", 1.0, "mill-1")
        burst = wait_until(
            lambda: len(_alarms(coordinator, "mill-1")) >= 40 and _alarms(coordinator, "mill-1")
        )
        assert len(burst) == 40
        assert [a.state.value for a in burst[:2]] == ["raised", "cleared"]
        assert all(a.source.value == "opcua_event" for a in burst)
        rule_alarms = wait_until(lambda: _alarms(coordinator, "laser-1"))
        assert rule_alarms[0].source.value == "gateway_rule" and rule_alarms[0].code == "power_on"
        coordinator.send(messages.RepairCommand(machine="mill-1"))
        assert_in_order_per_machine(coordinator)
        wait_until(lambda: gateway.metric("commands_total", kind="repair") == 1)
        assert gateway.metric("commands_rejected_total") == 0
    finally:
        plant.close()


def _alarms(coordinator, machine):
    return [m.body for m in coordinator.messages(messages.Alarm) if m.body.asset == machine]


def test_a_foreign_mapping_by_namespace_uri_with_a_missing_node(plant, coordinator, make_gateway):
    profile = yaml.safe_load(
        resources.files(PROFILE_PACKAGE).joinpath("firmware-sim.yaml").read_text()
    )
    mapping = copy.deepcopy(profile)
    mapping["namespaces"] = {**profile["namespaces"], "vendor": NAMESPACE_URI}
    del mapping["namespaces"]["sim"]
    mapping = yaml.safe_load(yaml.safe_dump(mapping).replace("sim:", "vendor:"))
    del mapping["metrics_folder"]
    mapping["metrics"] = {
        "spindle_rpm": {"path": "vendor:Monitoring/vendor:SpindleSpeed", "sampling_ms": 50},
        "power_kw": {"path": f"nsu={NAMESPACE_URI};s=mill-1.Monitoring.Power"},
        "ghost": {"path": "vendor:Monitoring/vendor:Ghost"},
    }
    machines = [{"id": "mill-1", "endpoint": plant.endpoint, "mapping": "vendor-cnc"}]
    gateway = make_gateway(plant, mappings={"vendor-cnc": mapping}, machines=machines)
    wait_until(lambda: _samples(coordinator, "spindle_rpm") and _samples(coordinator, "power_kw"))
    health = gateway.health()
    assert list(health["machines"]["mill-1"]["missing_nodes"]) == ["metric ghost"]
    assert health["machines"]["mill-1"]["connected"] and health["status"] == "degraded"
    assert health["problems"] == ["machine mill-1: metric ghost missing"]
    coordinator.send(dispatch(job_order("jo-1")))
    wait_until(lambda: [e for e in coordinator.job_events("jo-1") if e.event.value == "ended"])
    assert gateway.log().count("skipping metric ghost") == 1

    # The node appears (a server update): the next connection no longer lists it.
    plant.run(_add_ghost(plant))
    plant.inject("disconnect", 1.0)
    wait_until(lambda: gateway.health()["status"] == "ok", 30, "the ghost found on reconnect")
    assert gateway.health()["machines"]["mill-1"]["missing_nodes"] == {}
    assert "mill-1: metric ghost is back" in gateway.log()
    losses = [line for line in gateway.log().splitlines() if "reconnecting in" in line]
    assert len(losses) == 1 and "WARNING" in losses[0], losses  # one line, no traceback
    assert "Traceback" not in gateway.log()
    wait_until(lambda: _samples(coordinator, "ghost"), 10, "the ghost's samples")


async def _add_ghost(plant):
    server = plant.server.opcua
    index = (await server.get_namespace_array()).index(NAMESPACE_URI)
    monitoring = server.get_node(f"ns={index};s=mill-1.Monitoring")
    await monitoring.add_variable(index, "Ghost", 1.5)


def test_notifications_dropped_in_a_full_queue_are_counted_and_shown(
    plant, coordinator, make_gateway
):
    gateway = make_gateway(plant, telemetry={"subscription_queue": 1})
    wait_until(lambda: gateway.metric("notifications_dropped_total", where="gateway") > 0)
    endpoint = gateway.health()["endpoints"][plant.endpoint]
    assert endpoint["notifications_dropped"]["gateway"] > 0
    assert gateway.log().count("notifications lost") == 1  # then at most one line a minute
    assert "event queue full" not in gateway.log()  # asyncua's line per drop is ours to replace


def test_bad_commands_are_rejected_counted_and_harmless(plant, coordinator, make_gateway):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    for payload in (b"", b"{not json", b'{"schema": "command", "version": "9.0"}', b"\xff" * 10):
        coordinator.send_raw(payload)
    coordinator.send(dispatch(job_order("jo-x", machine="ghost-machine")))
    coordinator.send(messages.CancelCommand(machine="ghost-machine", job_order_id="jo-x"))
    wait_until(lambda: gateway.metric("commands_rejected_total") == 6, what="6 rejects")
    assert gateway.metric("commands_rejected_total", reason="unknown_machine") == 2
    assert gateway.metric("commands_rejected_total", reason="not_json") == 2
    coordinator.send(dispatch(job_order("jo-1")))
    wait_until(lambda: [e for e in coordinator.job_events("jo-1") if e.event.value == "accepted"])
    assert gateway.process.poll() is None


LEGACY_NAMESPACE = "urn:acme:legacy"


async def _add_legacy_receivers(plant):
    """Two receivers that are not OPC 10031-4: methods in a vendor namespace, and methods with
    the standard names but the old JSON-in-Strings arguments."""
    server = plant.server.opcua
    vendor = await server.register_namespace(LEGACY_NAMESPACE)
    job_control = (await server.get_namespace_array()).index(ISA95_JOB_CONTROL_URI)
    string = ua.NodeId(ua.ObjectIds.String)
    arguments = [
        ua.Argument(Name=name, DataType=string, ValueRank=-1) for name in ("JobOrder", "Comment")
    ]

    async def refuse(parent, *args):
        return [ua.Variant(0, ua.VariantType.UInt64)]

    for name, method_ns in (("VendorControl", vendor), ("JsonControl", job_control)):
        receiver = await server.nodes.objects.add_object(vendor, name)
        for method in ("Store", "StoreAndStart"):
            node_id = ua.NodeId(f"{name}.{method}", vendor)
            qualified = ua.QualifiedName(method, method_ns)
            await receiver.add_method(node_id, qualified, refuse, arguments, [])


def test_a_receiver_that_is_not_10031_4_is_a_finding_and_a_mismatch_reject(
    plant, coordinator, make_gateway
):
    plant.run(_add_legacy_receivers(plant))
    profile = yaml.safe_load(
        resources.files(PROFILE_PACKAGE).joinpath("firmware-sim.yaml").read_text()
    )
    mappings, machines = {}, []
    for machine, receiver in (("vendor-jobs", "VendorControl"), ("json-jobs", "JsonControl")):
        mapping = copy.deepcopy(profile)
        mapping["namespaces"]["legacy"] = LEGACY_NAMESPACE
        mapping["jobs"] = {"profile": "opc-10031-4", "receiver": f"/0:Objects/legacy:{receiver}"}
        mappings[machine] = mapping
        machines.append(
            {"id": machine, "endpoint": plant.endpoint, "node_name": "mill-1", "mapping": machine}
        )
    gateway = make_gateway(plant, mappings=mappings, machines=machines)
    wait_until(lambda: all(m["connected"] for m in gateway.health()["machines"].values()))
    health = gateway.health()
    assert health["status"] == "degraded"
    vendor_missing = health["machines"]["vendor-jobs"]["missing_nodes"]
    assert "no OPC 10031-4 job control methods" in vendor_missing["job control"]
    assert "the job order data type" in health["machines"]["json-jobs"]["missing_nodes"]

    coordinator.send(dispatch(job_order("jo-v", "vendor-jobs"), job_order("jo-j", "json-jobs")))
    for job_id in ("jo-v", "jo-j"):
        wait_until(lambda job_id=job_id: coordinator.job_events(job_id), what=job_id)
    vendor, json_ = coordinator.job_events("jo-v")[0], coordinator.job_events("jo-j")[0]
    assert vendor.event.value == json_.event.value == "rejected"
    assert "does not fit OPC 10031-4" in (vendor.reason or "")
    assert "job order data type is unknown" in (json_.reason or "")
    assert gateway.metric("commands_rejected_total", reason="job_control_mismatch") == 2
    assert gateway.metric("commands_rejected_total", reason="machine_unavailable") == 0
