"""Checking a gateway configuration against its servers, publishing nothing: ``glonet edge check``.

For every configured machine: connect to its endpoint with its security settings, bind its
mapping as the gateway would, and report each mapped node resolved (with its data type, value
and StatusCode) or why not, the job control methods found, and where alarms are subscribed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from asyncua import Client, Node, ua

from edge.alarms import nsu
from edge.binding import MachineBinder, MachineControl
from edge.config import GatewayConfig, MachineConfig
from edge.findings import Findings
from edge.nodes import NETWORK_ERRORS
from edge.session import open_client

JOB_CONTROL_NAMESPACE = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/"
JOB_TYPES = ("ISA95JobOrderDataType", "ISA95JobOrderAndStateDataType", "ISA95JobResponseDataType")


@dataclass
class NodeReport:
    what: str
    node_id: str
    data_type: str
    value: str
    status: str


@dataclass
class MachineReport:
    machine: str
    endpoint: str
    error: str | None = None
    nodes: list[NodeReport] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    job_types: list[str] = field(default_factory=list)
    alarms: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing


async def check_config(config: GatewayConfig) -> list[MachineReport]:
    """One report per machine, in the configuration's order."""
    by_endpoint: dict[tuple[str, str], list[MachineConfig]] = defaultdict(list)
    for machine in config.machines:
        by_endpoint[(machine.endpoint, machine.security.model_dump_json())].append(machine)
    reports: dict[str, MachineReport] = {}
    for machines in by_endpoint.values():
        for report in await _check_endpoint(config, machines):
            reports[report.machine] = report
    return [reports[m.id] for m in config.machines]


async def _check_endpoint(
    config: GatewayConfig, machines: list[MachineConfig]
) -> list[MachineReport]:
    endpoint = machines[0].endpoint
    reports = [MachineReport(m.id, endpoint) for m in machines]
    client = await open_client(endpoint, machines[0].security)
    try:
        await client.connect()
    except (*NETWORK_ERRORS, ValueError) as exc:
        for report in reports:
            report.error = f"cannot connect: {type(exc).__name__}: {exc}"
        return reports
    try:
        namespaces = await client.get_namespace_array()
        missing = Findings([m.id for m in machines])
        missing.binding_started()  # collected, not logged: the report says what is missing
        binder = MachineBinder(client, namespaces, missing)
        job_types = await _job_types(client, namespaces)
        for machine, report in zip(machines, reports, strict=True):
            control = MachineControl(machine.id)
            bound = await binder.bind(machine, config.mapping_for(machine), control)
            if bound is not None:
                for item in bound.monitored:
                    what = f"{item.binding.role.value} {item.binding.metric or ''}".strip()
                    report.nodes.append(await _node_report(what, item.node, namespaces))
                jobs = control.jobs
                report.methods = sorted([*control.methods, *(jobs.methods if jobs else [])])
                report.job_types = job_types if config.mapping_for(machine).jobs else []
                if bound.alarms is not None:
                    source = nsu(bound.alarms.source.nodeid, namespaces)
                    event_type = nsu(bound.alarms.event_type.nodeid, namespaces)
                    report.alarms = f"events of {event_type} on {source}"
            found = missing.by_machine[machine.id].pending
            report.missing = [f"{what}: {found[what]}" for what in sorted(found)]
    finally:
        await client.disconnect()
    return reports


async def _job_types(client: Client, namespaces: list[str]) -> list[str]:
    """The OPC 10031-4 structures the server defines (its data types, by browse name)."""
    if JOB_CONTROL_NAMESPACE not in namespaces:
        return []
    index = namespaces.index(JOB_CONTROL_NAMESPACE)
    structure = client.get_node(ua.NodeId(ua.Int32(ua.ObjectIds.Structure)))
    found = []
    for name in JOB_TYPES:
        try:
            await structure.get_child(ua.QualifiedName(name, index))
        except NETWORK_ERRORS:
            continue
        found.append(name)
    return found


async def _node_report(what: str, node: Node, namespaces: list[str]) -> NodeReport:
    node_id = nsu(node.nodeid, namespaces)
    try:
        data_value = await node.read_attribute(ua.AttributeIds.Value, raise_on_bad_status=False)
        data_type = await node.read_data_type_as_variant_type()
    except NETWORK_ERRORS as exc:
        return NodeReport(what, node_id, "?", "", f"unreadable: {exc}")
    status = data_value.StatusCode or ua.StatusCode()
    value = data_value.Value.Value if data_value.Value is not None else None
    text = getattr(value, "Text", value)
    shown = repr(text) if len(repr(text)) <= 60 else repr(text)[:57] + "..."
    return NodeReport(what, node_id, data_type.name, shown, f"{status.name} (0x{status.value:08X})")


def render(reports: list[MachineReport]) -> str:
    lines = []
    for report in reports:
        lines.append(f"{report.machine} at {report.endpoint}: {_verdict(report)}")
        if report.error:
            continue
        for node in report.nodes:
            lines.append(
                f"  {node.what:<28} {node.data_type:<10} {node.value:<24} {node.status}"
                f"  {node.node_id}"
            )
        for missing in report.missing:
            lines.append(f"  MISSING {missing}")
        lines.append(f"  methods (job control, repair): {', '.join(report.methods) or 'none'}")
        if report.job_types:
            lines.append(f"  job control types: {', '.join(report.job_types)}")
        lines.append(f"  alarms: {report.alarms or 'none'}")
    return "\n".join(lines)


def _verdict(report: MachineReport) -> str:
    if report.error:
        return report.error
    if report.missing:
        return f"connected, {len(report.missing)} missing"
    return "connected, every mapped node found"
