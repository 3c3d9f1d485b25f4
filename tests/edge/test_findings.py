"""StatusCodes to quality and names, and what the gateway's findings show in /healthz."""

import logging
from datetime import UTC, datetime

from edge.binding import Binding, Role
from edge.config import parse_config
from edge.findings import MachineFindings
from edge.gateway import Gateway
from edge.opcua import OVERFLOW, sample_status
from protocols.enums import Quality
from tests.edge.fakes import CONFIG


def test_status_codes_keep_their_number_and_are_named_without_their_info_bits():
    assert sample_status(0) == (Quality.GOOD, None)
    assert sample_status(0x808C0000) == (Quality.BAD, (0x808C0000, "BadSensorFailure"))
    overflowed = 0x808C0000 | OVERFLOW
    assert sample_status(overflowed) == (Quality.BAD, (overflowed, "BadSensorFailure"))
    assert sample_status(0x408F0000)[0] is Quality.UNCERTAIN
    assert sample_status(0x00A20000) == (Quality.GOOD, (0x00A20000, "GoodEntryInserted"))
    assert sample_status(0xC0000000)[0] is Quality.BAD  # reserved severity: treated as Bad


def test_a_binding_replaces_the_missing_nodes_of_the_last_one(caplog):
    findings = MachineFindings("mill-1")
    caplog.set_level(logging.INFO)
    for _ in range(2):  # two connections, the same node missing: logged once
        findings.binding_started()
        findings.missing_node("metric ghost", "BadNoMatch")
        assert findings.pending == {"metric ghost": "BadNoMatch"}
        findings.binding_done()
    assert findings.missing == {"metric ghost": "BadNoMatch"}
    findings.binding_started()
    findings.binding_done()
    assert findings.missing == {} and findings.problems == []
    assert caplog.text.count("skipping metric ghost") == 1
    assert "mill-1: metric ghost is back" in caplog.text


def test_a_rejected_value_and_a_bad_status_show_in_health_until_a_good_sample(tmp_path, caplog):
    config = parse_config({**CONFIG, "buffer": {"path": str(tmp_path / "outbox.sqlite")}})
    gateway = Gateway(config)
    gateway.capacity.statuses["mill-1"].connected = True
    profile = Binding("mill-1", Role.METRIC, "profile")
    now = datetime.now(UTC)
    for _ in range(3):
        gateway.value_changed(profile, [1.0, 2.0], now, Quality.GOOD, None)
    failure = (0x808C0000, "BadSensorFailure")
    gateway.value_changed(Binding("mill-1", Role.METRIC, "power"), None, now, Quality.BAD, failure)
    health = gateway.status()
    machine = health["machines"]["mill-1"]
    assert machine["rejected_values"] == {
        "profile": "an array cannot be carried (booleans, numbers and texts can)"
    }
    assert machine["node_status"] == {"power": "BadSensorFailure"}
    assert "machine mill-1: metric profile rejected: an array" in " ".join(health["problems"])
    assert caplog.text.count("metric profile: value rejected") == 1
    assert gateway.metrics.value("samples_invalid_total", reason="type") == 3
    gateway.value_changed(profile, 4.5, now, Quality.GOOD, None)
    gateway.value_changed(Binding("mill-1", Role.METRIC, "power"), 7.0, now, Quality.GOOD, None)
    machine = gateway.status()["machines"]["mill-1"]
    assert machine["rejected_values"] == {} and machine["node_status"] == {}
    gateway.outbox.close()
