"""Enumerations shared by machines, gateways and the coordinator.

Names follow the OPC UA companion specifications so that a mapping written for the simulated
machines carries over to real equipment: OPC 40001-1 (Machinery) for machine state and operation
mode, OPC 10031-4 (ISA-95 job control) for job order states and method return status.
"""

from __future__ import annotations

from enum import IntFlag, StrEnum


class MachineryItemState(StrEnum):
    """OPC 40001-1 MachineryItemState."""

    NOT_AVAILABLE = "NotAvailable"
    OUT_OF_SERVICE = "OutOfService"
    NOT_EXECUTING = "NotExecuting"
    EXECUTING = "Executing"


class MachineryOperationMode(StrEnum):
    """OPC 40001-1 MachineryOperationMode."""

    NONE = "None"
    MAINTENANCE = "Maintenance"
    SETUP = "Setup"
    PROCESSING = "Processing"


class JobOrderState(StrEnum):
    """OPC 10031-4 job order states (top level of the job order state machine)."""

    NOT_ALLOWED_TO_START = "NotAllowedToStart"
    ALLOWED_TO_START = "AllowedToStart"
    RUNNING = "Running"
    INTERRUPTED = "Interrupted"
    ENDED = "Ended"
    ABORTED = "Aborted"

    @property
    def number(self) -> int:
        """The state's StateNumber in the ISA95JobOrderStateMachineType (1 … 6)."""
        return list(JobOrderState).index(self) + 1

    @classmethod
    def from_number(cls, number: int) -> JobOrderState | None:
        states = list(cls)
        return states[number - 1] if 1 <= number <= len(states) else None


class JobOrderParameter(StrEnum):
    """IDs of the ISA95ParameterDataType entries a GloNet job order and response carry.

    ``JobName``, ``OrderNumbers`` and ``ProducedQuantity`` are the OPC 40001-3 (Machinery Job
    Management) names; ``PlannedDuration`` (seconds) and ``Progress`` (0 … 1) are GloNet's, and
    so are the change-over before the job (see :func:`protocols.messages.setup_parameters`):
    ``SetupFamily`` (material, colour, fixture…), ``SetupS`` (seconds after any other family)
    and ``SetupS.<family>`` (seconds after that family).
    """

    JOB_NAME = "JobName"
    ORDER_NUMBERS = "OrderNumbers"
    PLANNED_DURATION = "PlannedDuration"
    PRODUCED_QUANTITY = "ProducedQuantity"
    PROGRESS = "Progress"
    SETUP_FAMILY = "SetupFamily"
    SETUP_S = "SetupS"


MATERIAL_PRODUCED = "Produced"
"""ISA95MaterialDataType.MaterialUse of the material a job order produces (its quantity)."""


class ReturnStatus(IntFlag):
    """OPC 10031-4 job control method return status bitmask (UInt64, Table B.2)."""

    NO_ERROR = 1 << 0
    UNKNOWN_JOB_ORDER_ID = 1 << 1
    INVALID_JOB_ORDER_COMMAND = 1 << 2
    INVALID_JOB_ORDER_STATUS = 1 << 3
    UNABLE_TO_ACCEPT_JOB_ORDER = 1 << 4
    INVALID_REQUEST = 1 << 32

    @property
    def ok(self) -> bool:
        return self == ReturnStatus.NO_ERROR

    def describe(self) -> str:
        """Human-readable names of the set bits, e.g. ``"UnableToAcceptJobOrder"``."""
        names = [_RETURN_STATUS_TEXT[flag] for flag in _RETURN_STATUS_TEXT if flag in self]
        unknown = int(self) & ~sum(int(f) for f in _RETURN_STATUS_TEXT)
        if unknown:
            names.append(f"Reserved(0x{unknown:x})")
        return ", ".join(names) or "Undefined"


_RETURN_STATUS_TEXT = {
    ReturnStatus.NO_ERROR: "NoError",
    ReturnStatus.UNKNOWN_JOB_ORDER_ID: "UnknownJobOrderId",
    ReturnStatus.INVALID_JOB_ORDER_COMMAND: "InvalidJobOrderCommand",
    ReturnStatus.INVALID_JOB_ORDER_STATUS: "InvalidJobOrderStatus",
    ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER: "UnableToAcceptJobOrder",
    ReturnStatus.INVALID_REQUEST: "InvalidRequest",
}


class ProcessKind(StrEnum):
    """Manufacturing processes a machine can offer (its capabilities)."""

    MILLING = "milling"
    TURNING = "turning"
    LASER_CUTTING = "laser_cutting"
    BENDING = "bending"
    WELDING = "welding"
    ASSEMBLY = "assembly"
    PAINTING = "painting"
    INSPECTION = "inspection"
    PRINTING_3D = "printing_3d"
    ELECTRONICS = "electronics"
    TESTING = "testing"


class UnitStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class Quality(StrEnum):
    """OPC UA status code class of a sample."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class JobEventKind(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    STARTED = "started"
    PROGRESS = "progress"
    ENDED = "ended"
    ABORTED = "aborted"


class AlarmState(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


class AlarmSource(StrEnum):
    """Where an alarm came from: a machine's OPC UA event, a gateway rule or a coordinator rule."""

    OPCUA_EVENT = "opcua_event"
    GATEWAY_RULE = "gateway_rule"
    COORDINATOR_RULE = "coordinator_rule"


class AlertAction(StrEnum):
    """Why a technician's device receives an alert message."""

    NEW = "new"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    UPDATED = "updated"
    RESOLVED = "resolved"


class ReplyAction(StrEnum):
    """What a technician's device answers about a ticket assigned to them."""

    ACKNOWLEDGE = "acknowledge"
    START = "start"
    RESOLVE = "resolve"
