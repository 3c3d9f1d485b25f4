"""The OPC UA servers the conformance scenarios run against, behind one small interface.

A scenario takes the ``server`` fixture (module scope, parametrised over the servers that have
the feature it needs) and reads everything server-specific from it: the gateway's machine entry
(endpoint and mapping), and how to make the machine do something (raise an alarm, fail, restart).
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Protocol

import yaml
from asyncua import Node, Server, ua

from edge.config import PROFILE_PACKAGE
from firmware_sim.address_space import NAMESPACE_URI
from tests.edge.support import MILL, SimPlant
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
    "jobs": {
        "profile": "opc-10031-4",
        "receiver": "acme:JobOrderControl",
        "results": "acme:JobOrderResults",
    },
}


class ServerUnderTest(Protocol):
    name: str
    machine: str
    """The gateway's id of the machine."""
    alarm_code: str
    alarm_severity: int
    metric: str
    """A metric the tests can set with :meth:`set_metric`."""

    def machine_configs(self) -> list[dict[str, Any]]: ...

    def set_metric(self, value: float) -> None: ...

    def raise_alarm(self) -> None: ...

    def clear_alarm(self) -> None: ...

    def alarm_acknowledged(self) -> bool: ...

    def kill(self) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class VendorServer(Protocol):
    """A server with a vendor's press: its values (:mod:`test_values`) are set from the test.

    Under ``root`` (a browse path from the Root node, prefixes declared in ``namespaces``), the
    press has ``Status/State`` (a String: IDLE, RUNNING, SETUP…), ``Status/Running`` and
    ``Status/Fault`` (Booleans), ``Process/Temperature`` (a Double in °C with EngineeringUnits and
    a Description), ``Process/SpindleSpeed`` (a Double) and ``Process/PartsProduced`` (a UInt32),
    each in the vendor namespace ``v``.
    """

    name: str
    namespaces: dict[str, str]
    root: str
    endpoint: str
    source_clock_offset_s: float
    """How far the press's own clock (its values' SourceTimestamp) is from the server's."""
    nulls_bad_values: bool
    """Whether the server sends a Bad value as null, as OPC 10000-4 7.7.1 asks."""

    def set_vendor(self, name: str, value: Any, status: str = "Good") -> None:
        """Set a variable's value (None: no value) and StatusCode (its symbolic name)."""
        ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class NodeOpcuaPress:
    """The node-opcua press: a limit alarm "High Temperature" on its Temperature."""

    name = "node-opcua"
    machine = "press-7"
    alarm_code = "high_temperature"
    alarm_severity = 700
    metric = "spindle_speed"

    namespaces = {"v": NAMESPACE, "machinery": "http://opcfoundation.org/UA/Machinery/"}
    root = f"/0:Objects/machinery:Machines/v:{MACHINE}"
    source_clock_offset_s = 0.0
    nulls_bad_values = False

    def __init__(self) -> None:
        self.press = AcmePress()

    @property
    def endpoint(self) -> str:
        return self.press.endpoint

    def set_vendor(self, name: str, value: Any, status: str = "Good") -> None:
        self.press.set(name, value, status)

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


VENDOR_NAMESPACE = "urn:glonet:conformance:press"
VARIABLES: dict[str, tuple[str, Any, ua.VariantType]] = {
    "State": ("Status", "IDLE", ua.VariantType.String),
    "Running": ("Status", False, ua.VariantType.Boolean),
    "Fault": ("Status", False, ua.VariantType.Boolean),
    "Temperature": ("Process", 21.5, ua.VariantType.Double),
    "SpindleSpeed": ("Process", 0.0, ua.VariantType.Double),
    "PartsProduced": ("Process", 0, ua.VariantType.UInt32),
}


class FirmwareSimPress:
    """A firmware_sim plant server (a real asyncua server) with a vendor's press added next to
    its machines, in a namespace of its own, as a machine builder would have it.

    As a :class:`ServerUnderTest`, the machine is the plant's mill, mapped by the built-in
    ``firmware-sim`` profile (standard conditions, ``alarms: {}``) plus the press's spindle
    speed as the metric the tests set; its alarm is the mill's emergency stop, an
    ``OffNormalAlarmType``.
    """

    name = "firmware-sim"
    namespaces = {"v": VENDOR_NAMESPACE}
    root = "/0:Objects/v:Press7"
    source_clock_offset_s = -3600.0  # a device clock an hour behind
    nulls_bad_values = True  # asyncua's server does
    machine = "mill-1"
    alarm_code = "emergency_stop"
    alarm_severity = 900
    metric = "press_speed"

    def __init__(self) -> None:
        self.plant = SimPlant([MILL])
        self.plant.server.extend(self._add_press)
        self._nodes: dict[str, Node] = {}

    @property
    def endpoint(self) -> str:
        return self.plant.endpoint

    def start(self) -> None:
        self.plant.start()

    async def _add_press(self, server: Server) -> None:
        idx = await server.register_namespace(VENDOR_NAMESPACE)
        press = await server.nodes.objects.add_object(idx, "Press7")
        folders = {name: await press.add_object(idx, name) for name in ("Status", "Process")}
        for name, (folder, initial, variant) in VARIABLES.items():
            node = await folders[folder].add_variable(idx, name, initial, variant)
            self._nodes[name] = node
        temperature = self._nodes["Temperature"]
        unit = ua.EUInformation(
            NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
            UnitId=4408652,
            DisplayName=ua.LocalizedText("°C"),
            Description=ua.LocalizedText("degree Celsius"),
        )
        await temperature.add_property(0, "EngineeringUnits", unit)
        description = ua.DataValue(ua.Variant(ua.LocalizedText("Ram temperature")))
        await temperature.write_attribute(ua.AttributeIds.Description, description)

    def set_vendor(self, name: str, value: Any, status: str = "Good") -> None:
        self.plant.run(self._set(name, value, status))

    async def _set(self, name: str, value: Any, status: str) -> None:
        server = self.plant.server.opcua
        assert server is not None
        variant = ua.Variant() if value is None else ua.Variant(value, VARIABLES[name][2])
        now = datetime.now(UTC)
        data = ua.DataValue(
            Value=variant,
            StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
            SourceTimestamp=now + timedelta(seconds=self.source_clock_offset_s),
            ServerTimestamp=now,
        )
        await server.write_attribute_value(self._nodes[name].nodeid, data)
        await asyncio.sleep(0)

    # ServerUnderTest ------------------------------------------------------------------------

    def machine_configs(self) -> list[dict[str, Any]]:
        mapping = copy.deepcopy(firmware_sim_mapping())
        mapping["namespaces"]["v"] = VENDOR_NAMESPACE
        mapping["metrics"] = {
            self.metric: {"path": f"{self.root}/v:Process/v:SpindleSpeed", "sampling_ms": 50}
        }
        return [{"id": self.machine, "endpoint": self.endpoint, "mapping": mapping}]

    def set_metric(self, value: float) -> None:
        self.set_vendor("SpindleSpeed", value)

    def raise_alarm(self) -> None:
        self.plant.inject("emergency_stop", 0, self.machine)  # until released

    def clear_alarm(self) -> None:
        self.plant.run(self._release())

    async def _release(self) -> None:
        self.plant.server.machines[self.machine].repair()

    def alarm_acknowledged(self) -> bool:
        return bool(self.plant.run(self._acked()))

    async def _acked(self) -> bool:
        server = self.plant.server.opcua
        if server is None:
            return False
        idx = await server.get_namespace_index(NAMESPACE_URI)
        acked = ua.NodeId(ua.String(f"{self.machine}.Alarms.EmergencyStop.AckedState.Id"), idx)
        return bool(await server.get_node(acked).read_value())

    def kill(self) -> None:
        """The server goes away; meanwhile the mill's emergency stop is released."""
        self.plant.stop()
        self.plant.run(self._release())

    def close(self) -> None:
        self.plant.close()


def firmware_sim_mapping() -> dict[str, Any]:
    profile = resources.files(PROFILE_PACKAGE).joinpath("firmware-sim.yaml").read_text()
    mapping: dict[str, Any] = yaml.safe_load(profile)
    return mapping


class JobServer(Protocol):
    """What the job control scenarios need of a server."""

    name: str
    machine: str
    process: str
    """A process the machine accepts job orders for."""
    max_job_orders: int

    def machine_configs(self) -> list[dict[str, Any]]: ...

    def hold_jobs(self, hold: bool) -> None:
        """While held, a started job order keeps running until it is cancelled."""

    def start(self) -> None: ...

    def close(self) -> None: ...


class FirmwareSim:
    """A firmware_sim plant with one mill, mapped by the built-in ``firmware-sim`` profile."""

    name = "firmware-sim-mill"
    machine = "mill-1"
    process = "milling"
    max_job_orders = 3

    def __init__(self) -> None:
        self.plant = SimPlant([{**MILL, "max_job_orders": self.max_job_orders}], time_scale=60)

    def machine_configs(self) -> list[dict[str, Any]]:
        return self.plant.machine_configs()

    def hold_jobs(self, hold: bool) -> None:
        """Nothing to do: the scenarios' long job order runs 10 simulated hours."""

    def start(self) -> None:
        self.plant.start()

    def close(self) -> None:
        self.plant.close()


class NodeOpcuaJobPress(NodeOpcuaPress):
    """The node-opcua press as a job order receiver (its jobs take one second unless held)."""

    process = "milling"  # the press takes any work master
    max_job_orders = 4

    def hold_jobs(self, hold: bool) -> None:
        self.press.request("configure", job_seconds=0 if hold else 1.0)


SERVERS: dict[str, type[ServerUnderTest] | type[VendorServer] | type[JobServer]] = {
    NodeOpcuaPress.name: NodeOpcuaPress,
    FirmwareSimPress.name: FirmwareSimPress,
    FirmwareSim.name: FirmwareSim,
    f"{NodeOpcuaPress.name}-jobs": NodeOpcuaJobPress,
}
"""Every server a scenario may name, by name."""
JOB_SERVERS = [FirmwareSim.name, f"{NodeOpcuaPress.name}-jobs"]
"""The servers the job control scenarios run on."""
