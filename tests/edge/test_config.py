"""The gateway's configuration: valid files load, and every error names the offending key."""

from pathlib import Path

import pytest
import yaml

from edge.config import load_config, load_profile, parse_config
from edge.errors import ConfigError
from firmware_sim.address_space import NAMESPACE_URI
from glonet.cli import main
from tests.edge.fakes import CONFIG

ROOT = Path(__file__).resolve().parents[2]


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return str(info.value)


def test_minimal_configuration_gets_defaults():
    config = parse_config(CONFIG)
    assert config.client_id == "glonet-edge-net-1-plant-a"
    assert config.broker.host == "127.0.0.1" and config.broker.port == 1883
    assert config.mapping_for(config.machines[0]).jobs is not None


def test_shipped_gateway_configurations_are_valid():
    files = sorted((ROOT / "deploy" / "gateways").glob("*.yaml"))
    assert files
    for path in files:
        config = load_config(path)
        for machine in config.machines:
            assert config.mapping_for(machine).root


def test_builtin_profile_maps_the_simulator():
    mapping = load_profile("firmware-sim")
    assert mapping.namespaces["sim"] == NAMESPACE_URI
    assert mapping.namespaces["ma"] == "http://opcfoundation.org/UA/Machinery/"
    assert mapping.alarms is not None and mapping.metrics_folder is not None
    assert mapping.jobs is not None and mapping.jobs.profile == "opc-10031-4"
    assert mapping.jobs.receiver.endswith("mj:JobManagement/mj:JobOrderControl")


def _machine(**fields):
    return {
        "machines": [{"id": "m", "endpoint": "opc.tcp://h", "mapping": "firmware-sim", **fields}]
    }


def _rule(**fields):
    rule = {"name": "r", "machine": "mill-1", "metric": "x", "code": "c", **fields}
    return {"rules": [rule]}


BAD_METRIC = {"x": {"root": "/0:Objects", "metrics": {"t": {"path": "1:T", "deadband": -1}}}}
OLD_JOBS = {"x": {"root": "/0:Objects", "jobs": {"object": "1:Jobs", "store": "1:Store"}}}


def _mapping(**fields):
    mapping = {"namespaces": {"acme": "urn:acme"}, "root": "/0:Objects/acme:Press", **fields}
    return {"mappings": {"x": mapping}}


STATE_MAP = {"path": "acme:State", "map": {"RUNNING": "Executing", "IDLE": "Idle"}}
DERIVED = {
    "variables": {"running": "acme:Running", "fault": "acme:Fault"},
    "rules": [{"when": {"fualt": True}, "value": "OutOfService"}],
}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"broker": {"url": "http://x"}}, "broker.url"),
        ({"broker": {"keepalive_s": 1}}, "broker.keepalive_s"),
        ({"broker": {"tls": {"cert": "c.pem"}}}, "broker.tls"),
        ({"buffer": {"quota_mb": -1}}, "buffer.quota_mb"),
        ({"buffer": {"coordinator_state_grace_s": 0}}, "buffer.coordinator_state_grace_s"),
        ({"unit": "bad unit"}, "unit"),
        ({"unit": "coordinator"}, "unit"),
        ({"machines": []}, "machines"),
        (_machine(endpoint="http://x"), "machines[0].endpoint"),
        (_machine(colour=1), "machines[0].colour"),
        (_machine(mapping="nope"), "machines[0].mapping"),
        (_machine(security={"policy": "Basic256Sha256"}), "machines[0].security"),
        (_rule(above=5, clear_at=9), "rules[0]"),
        (_rule(above=5, clear_at=1, machine="ghost"), "rules[0].machine"),
        ({"mappings": BAD_METRIC}, "mappings.x.metrics.t.deadband"),
        ({"machines": [{"id": "m", "endpoint": "opc.tcp://h"}]}, "machines[0].mapping"),
        ({"opcua": {"reconnect_min_s": 5, "reconnect_max_s": 1}}, "opcua"),
        ({"broker": {"reconnect_jitter": 2}}, "broker.reconnect_jitter"),
        (_mapping(metrics={"t": {"path": "acme:Process/Temp"}}), "mappings.x.metrics.t.path"),
        (_mapping(root="/Objects"), "mappings.x.root"),
        (_mapping(state="acme:Status/vendor:State"), "mappings.x: state:"),
        (_mapping(state=STATE_MAP), "mappings.x.state.map.IDLE"),
        (_mapping(mode={"path": "acme:Mode", "map": {}}), "mappings.x.mode.map"),
        (_mapping(state=DERIVED), "mappings.x.state: rules[0].when: unknown variable(s) fualt"),
        (_mapping(timestamps="device"), "mappings.x.timestamps"),
        ({"mappings": OLD_JOBS}, "mappings.x.jobs: give profile: opc-10031-4 and receiver"),
    ],
)
def test_errors_name_the_key(change, key):
    message = _error({**CONFIG, **change})
    assert f"  {key}" in message, message
    assert message.count("\n") == 1, f"one error, not several:\n{message}"


def test_each_error_names_the_file(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, **_mapping(state="State")}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: invalid configuration\n  mappings.x.state:")
    assert "'State' needs a namespace prefix" in str(info.value)


def test_vendor_state_and_mode_forms_load():
    derived = {**DERIVED, "rules": [{"when": {"fault": True}, "value": "OutOfService"}]}
    config = parse_config(
        {
            **CONFIG,
            **_mapping(
                state={"path": "acme:State", "map": {"RUNNING": "Executing", 3: "NotExecuting"}},
                mode=derived | {"rules": [{"when": {"fault": True}, "value": "Maintenance"}]},
                timestamps="server",
            ),
        }
    )
    mapping = config.mappings["x"]
    assert mapping.state is not None and mapping.timestamps == "server"
    assert mapping.state.map == {"RUNNING": "Executing", 3: "NotExecuting"}  # type: ignore[union-attr]
    assert mapping.mode.rules[0].value == "Maintenance"  # type: ignore[union-attr]


def test_cli_reports_a_config_error_and_exits_2(tmp_path, capsys):
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "health": {"port": "eighty"}}))
    assert main(["edge", str(path)]) == 2
    assert "health.port" in capsys.readouterr().err


def test_unreadable_and_non_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("network: net-1\nunit: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(info.value).startswith(f"{bad}:3:1: not valid YAML: ")
    assert "<unicode string>" not in str(info.value)
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping of keys"):
        load_config(bad)


def test_missing_certificate_files_are_named(tmp_path):
    key = tmp_path / "gw.key"
    key.write_text("not checked here")
    broker = {"url": "mqtts://h:8883", "tls": {"cert": str(tmp_path / "nope.crt"), "key": str(key)}}
    message = _error({**CONFIG, "broker": broker})
    assert "  broker.tls.cert: Path does not point to a file" in message
