"""Every domain's tables, imported so that ``Base.metadata`` is complete for migrations."""

from cloud.auth.models import Principal
from cloud.database import Base
from cloud.ingest.models import OutgoingSequence, SeenMessage
from cloud.maintenance import models as maintenance_models
from cloud.network.models import ActiveAlarm, JobProgress, MachineState, UnitBirthMark, UnitStatus
from cloud.registry.models import Machine, Network, Technician, TransportTime, Unit
from cloud.telemetry.models import LatestMetric, MetricRollup, TelemetrySample

__all__ = [
    "ActiveAlarm",
    "Base",
    "JobProgress",
    "LatestMetric",
    "Machine",
    "MachineState",
    "MetricRollup",
    "Network",
    "OutgoingSequence",
    "Principal",
    "SeenMessage",
    "Technician",
    "TelemetrySample",
    "TransportTime",
    "Unit",
    "UnitBirthMark",
    "UnitStatus",
    "maintenance_models",
]
