"""The OPC UA servers the conformance scenarios run against, behind one small interface.

A scenario takes the ``server`` fixture (module scope, parametrised over the servers that have
the feature it needs) and reads everything server-specific from it: the gateway's machine entry
(endpoint and mapping), and how to make the machine do something (raise an alarm, fail, restart).
"""

from __future__ import annotations

from typing import Any, Protocol

from tests.opcua_server import MACHINE, NAMESPACE, AcmePress

ACME_MAPPING: dict[str, Any] = {
    "namespaces": {"acme": NAMESPACE, "machinery": "http://opcfoundation.org/UA/Machinery/"},
    "root": "/0:Objects/machinery:Machines/acme:{machine}",
    "identification": {
        "manufacturer": "acme:Nameplate/acme:Vendor",
        "model": "acme:Nameplate/acme:Model",
        "serial_number": "acme:Nameplate/acme:Serial",
    },
    "metrics": {
        "temperature": {"path": "acme:Process/acme:Temperature", "sampling_ms": 50},
        "spindle_speed": {"path": "acme:Process/acme:SpindleSpeed", "sampling_ms": 50},
        "parts_produced": {"path": "acme:Process/acme:PartsProduced", "sampling_ms": 50},
    },
    "alarms": {},
}


class ServerUnderTest(Protocol):
    name: str
    machine: str
    """The gateway's id of the machine."""
    alarm_code: str
    alarm_severity: int

    def machine_configs(self) -> list[dict[str, Any]]: ...

    def raise_alarm(self) -> None: ...

    def clear_alarm(self) -> None: ...

    def alarm_acknowledged(self) -> bool: ...

    def kill(self) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class NodeOpcuaPress:
    """The node-opcua press: a limit alarm "High Temperature" on its Temperature."""

    name = "node-opcua"
    machine = "press-7"
    alarm_code = "high_temperature"
    alarm_severity = 700

    def __init__(self) -> None:
        self.press = AcmePress()

    def machine_configs(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self.machine,
                "endpoint": self.press.endpoint,
                "node_name": MACHINE,
                "mapping": ACME_MAPPING,
            }
        ]

    def raise_alarm(self) -> None:
        self.press.set("Temperature", 95.0)

    def clear_alarm(self) -> None:
        self.press.set("Temperature", 21.0)

    def alarm_acknowledged(self) -> bool:
        return bool(self.press.alarm("HighTemperature")["acked"])

    def set_metric(self, value: float) -> None:
        self.press.set("SpindleSpeed", value)

    def kill(self) -> None:
        self.press.kill()

    def start(self) -> None:
        self.press.start()

    def close(self) -> None:
        self.press.stop()


SERVERS: dict[str, type[ServerUnderTest]] = {NodeOpcuaPress.name: NodeOpcuaPress}
"""Every server a scenario may name, by name."""
