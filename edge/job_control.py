"""OPC 10031-4 job control on one machine: the receiver's methods and what a call's result means.

A mapping's ``jobs: {profile: opc-10031-4, receiver: PATH, results: PATH}`` names the machine's
``ISA95JobOrderReceiverObjectType`` instance (and optionally its ``ISA95JobResponseProvider``).
The gateway finds the standard methods and lists below it by their browse names in the ISA-95 Job
Control namespace, reads the data type of Store's ``JobOrder`` argument from the server and
builds that structure from a dispatch. Every call ends in a :class:`CallOutcome`: accepted,
refused by the machine (ReturnStatus bits), a job control mismatch (the server's method does not
take what the gateway sends: a mapping or protocol problem), or the machine unavailable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from asyncua import Client, Node, ua

from edge.errors import MachineError
from edge.nodes import NETWORK_ERRORS
from protocols.enums import MATERIAL_PRODUCED, JobOrderParameter, ReturnStatus
from protocols.messages import JobOrder

_LOGGER = logging.getLogger(__name__)

JOB_CONTROL_URI = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/"
PROFILE = "opc-10031-4"
METHODS = {
    "store": "Store",
    "store_and_start": "StoreAndStart",
    "start": "Start",
    "cancel": "Cancel",
    "abort": "Abort",
    "clear": "Clear",
}
ORDER_LIST = "JobOrderList"
RESPONSE_LIST = "JobOrderResponseList"
MAX_JOB_ORDERS = "MaxDownloadableJobOrders"
S = ua.StatusCodes
MISMATCH = frozenset(
    {
        S.BadTooManyArguments,
        S.BadArgumentsMissing,
        S.BadInvalidArgument,
        S.BadTypeMismatch,
        S.BadMethodInvalid,
        S.BadNodeIdUnknown,
        S.BadNodeIdInvalid,
        S.BadNotImplemented,
        S.BadNotSupported,
        S.BadServiceUnsupported,
        S.BadStructureMissing,
        S.BadDataEncodingInvalid,
        S.BadDataEncodingUnsupported,
        S.BadDecodingError,
        S.BadEncodingError,
        S.BadDataTypeIdUnknown,
    }
)
"""Bad call results that say the call does not fit the server's method."""
UNAVAILABLE = frozenset(
    {
        S.BadTimeout,
        S.BadCommunicationError,
        S.BadConnectionClosed,
        S.BadServerNotConnected,
        S.BadSessionClosed,
        S.BadSessionIdInvalid,
        S.BadSessionNotActivated,
        S.BadSecureChannelClosed,
        S.BadShutdown,
        S.BadServerHalted,
        S.BadTooManyOperations,
        S.BadResourceUnavailable,
    }
)


class _KnownTypes(logging.Filter):
    """Loading a server's data types re-generates the standard enumerations it defines again;
    asyncua warns about each one (harmless: the generated class is used by node id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Browsename collision")


logging.getLogger("asyncua.ua.uatypes").addFilter(_KnownTypes())


class Category(StrEnum):
    """Why a job control call did not succeed (also the ``reason`` label of the counters)."""

    REFUSED = "return_status"
    """The machine answered with a ReturnStatus other than NoError."""
    MISMATCH = "job_control_mismatch"
    """The call does not fit the server's method or types: a mapping or protocol problem."""
    UNAVAILABLE = "machine_unavailable"
    """No session, a timeout, the network: the machine may take the call later."""
    FAILED = "method_failed"
    """Any other Bad result of the method call (access denied, not executable …)."""


@dataclass(frozen=True)
class CallOutcome:
    """The result of one job control call."""

    status: ReturnStatus | None = None
    category: Category | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.category is None and self.status is not None and self.status.ok

    @property
    def reason(self) -> str:
        """What a ``rejected`` job event says."""
        if self.category is Category.REFUSED and self.status is not None:
            return f"the machine refused: {self.status.describe()}"
        labels = {
            Category.MISMATCH: "job control mismatch (mapping or protocol)",
            Category.UNAVAILABLE: "machine unavailable",
        }
        label = labels.get(self.category or Category.FAILED, "job control call failed")
        return f"{label}: {self.detail}"

    @classmethod
    def of_status(cls, status: ReturnStatus) -> CallOutcome:
        return cls(status, None if status.ok else Category.REFUSED)

    @classmethod
    def unavailable(cls, detail: str) -> CallOutcome:
        return cls(None, Category.UNAVAILABLE, detail)


def outcome_of(result: ua.CallMethodResult) -> CallOutcome:
    """Read a call result: Good or Uncertain with a ReturnStatus (OPC 10031-4 B.2), or Bad."""
    code = result.StatusCode
    if code.is_bad():
        name = code.name
        if code.value in MISMATCH:
            return CallOutcome(None, Category.MISMATCH, f"the server answered {name}")
        if code.value in UNAVAILABLE:
            return CallOutcome.unavailable(f"the server answered {name}")
        return CallOutcome(None, Category.FAILED, f"the server answered {name}")
    outputs = [v.Value for v in result.OutputArguments or []]
    status = return_status(outputs[0] if outputs else None)
    if not outputs or (status is ReturnStatus.INVALID_REQUEST and outputs[0] != int(status)):
        return CallOutcome(
            None, Category.MISMATCH, f"no ReturnStatus in the method's output {outputs!r}"
        )
    return CallOutcome.of_status(status)


def return_status(value: Any) -> ReturnStatus:
    """The OPC 10031-4 ReturnStatus of a method's output (``InvalidRequest`` if unreadable)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
        return ReturnStatus(value)
    return ReturnStatus.INVALID_REQUEST


@dataclass(frozen=True)
class OrderStructures:
    """The generated classes of the server's job order structure and its parts."""

    order: type
    work_master: type | None
    parameter: type | None
    material: type | None

    def build(self, order: JobOrder) -> Any:
        """An ``ISA95JobOrderDataType`` from a dispatched job order (docs/gateway.md)."""
        fields: dict[str, Any] = {
            "JobOrderID": order.job_order_id,
            "Description": [ua.LocalizedText(order.operation)],
        }
        if self.work_master is not None:
            fields["WorkMasterID"] = [
                self.work_master(
                    ID=order.process.value, Description=ua.LocalizedText(order.operation)
                )
            ]
        if order.planned_start is not None:
            fields["StartTime"] = order.planned_start
            fields["EndTime"] = order.planned_start + timedelta(seconds=order.planned_duration_s)
        priority = order.parameters.get("priority")
        if isinstance(priority, int) and not isinstance(priority, bool):
            fields["Priority"] = ua.Int16(max(-32768, min(32767, priority)))
        if self.parameter is not None:
            fields["JobOrderParameters"] = self._parameters(order)
        if self.material is not None:
            fields["MaterialRequirements"] = [
                self.material(
                    MaterialDefinitionID=order.operation,
                    MaterialUse=MATERIAL_PRODUCED,
                    Quantity=str(order.quantity),
                )
            ]
        return self.order(**fields)

    def _parameters(self, order: JobOrder) -> list[Any]:
        assert self.parameter is not None
        param = self.parameter
        parameters = [
            param(
                ID=JobOrderParameter.JOB_NAME.value,
                Value=ua.Variant([ua.LocalizedText(order.operation)], ua.VariantType.LocalizedText),
            ),
            param(
                ID=JobOrderParameter.PLANNED_DURATION.value,
                Value=ua.Variant(float(order.planned_duration_s), ua.VariantType.Double),
            ),
        ]
        if order.order_id:
            parameters.append(
                param(
                    ID=JobOrderParameter.ORDER_NUMBERS.value,
                    Value=ua.Variant([order.order_id], ua.VariantType.String),
                )
            )
        for name, value in order.parameters.items():
            if name != "priority":
                parameters.append(param(ID=name, Value=ua.Variant(value)))
        return parameters


@dataclass
class JobControl:
    """A bound job order receiver: its methods, lists and job order structure."""

    machine: str
    receiver: Node
    methods: dict[str, Node]
    structures: OrderStructures | None
    order_list: Node | None = None
    response_list: Node | None = None
    max_job_orders: Node | None = None

    async def call(self, method: str, target: JobOrder | str) -> CallOutcome:
        """Call ``store``/``store_and_start`` with a job order, the others with its id."""
        node = self.methods.get(method)
        if node is None:
            return CallOutcome(
                None, Category.MISMATCH, f"the receiver has no {METHODS[method]} method"
            )
        if isinstance(target, JobOrder):
            if self.structures is None:
                return CallOutcome(
                    None, Category.MISMATCH, "the server's job order data type is unknown"
                )
            first = ua.Variant(self.structures.build(target))
        else:
            first = ua.Variant(target, ua.VariantType.String)
        comment = ua.Variant([], ua.VariantType.LocalizedText)
        request = ua.CallMethodRequest(
            ObjectId=self.receiver.nodeid, MethodId=node.nodeid, InputArguments=[first, comment]
        )
        try:
            results = await self.receiver.session.call([request])
        except ua.UaStatusCodeError as exc:
            return outcome_of(ua.CallMethodResult(StatusCode=ua.StatusCode(exc.code)))
        except NETWORK_ERRORS as exc:
            return CallOutcome.unavailable(f"{METHODS[method]} call failed: {exc}")
        return outcome_of(results[0])


async def bind_job_control(
    client: Client, machine: str, receiver: Node, results: Node | None, job_control_ns: int
) -> JobControl:
    """Find the standard methods and lists of a receiver; raise MachineError if it has none."""

    async def child(parent: Node, name: str) -> Node | None:
        try:
            return await parent.get_child(ua.QualifiedName(name, job_control_ns))
        except NETWORK_ERRORS:
            return None

    methods = {}
    for key, name in METHODS.items():
        node = await child(receiver, name)
        if node is not None:
            methods[key] = node
    if not methods:
        raise MachineError(f"no OPC 10031-4 job control methods below {receiver.nodeid}")
    store = methods.get("store") or methods.get("store_and_start")
    structures = await _order_structures(client, store)
    return JobControl(
        machine=machine,
        receiver=receiver,
        methods=methods,
        structures=structures,
        order_list=await child(receiver, ORDER_LIST),
        response_list=await child(results, RESPONSE_LIST) if results is not None else None,
        max_job_orders=await child(receiver, MAX_JOB_ORDERS),
    )


async def _order_structures(client: Client, store: Node | None) -> OrderStructures | None:
    """The classes of Store's JobOrder argument type and of its parts, read from the server."""
    if store is None:
        return None
    try:
        arguments = await (await store.get_child("0:InputArguments")).read_value()
        data_type = arguments[0].DataType
        definition = await client.get_node(data_type).read_data_type_definition()
    except (*NETWORK_ERRORS, IndexError, AttributeError) as exc:
        _LOGGER.warning("Cannot read the job order data type of %s: %s", store.nodeid, exc)
        return None
    classes = ua.extension_objects_by_datatype
    if data_type not in classes:
        return None
    fields = {f.Name: f.DataType for f in getattr(definition, "Fields", None) or []}

    def part(name: str) -> type | None:
        return classes.get(fields[name]) if name in fields else None

    return OrderStructures(
        order=classes[data_type],
        work_master=part("WorkMasterID"),
        parameter=part("JobOrderParameters"),
        material=part("MaterialRequirements"),
    )
