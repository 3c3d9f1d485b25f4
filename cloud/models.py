"""Every domain's tables, imported so that ``Base.metadata`` is complete for migrations."""

from cloud.auth.models import Invitation, Principal, SignInFailure, WebSession
from cloud.codesign.models import Configuration, ConfigurationRevision
from cloud.consortia.models import (
    Consortium,
    ConsortiumMember,
    ConsortiumQuote,
    ConsortiumRevision,
    TermsAcceptance,
    WorkInvitation,
)
from cloud.database import Base
from cloud.dispatch.models import SchedulerState
from cloud.ingest.models import SeenMessage
from cloud.ledger.models import LedgerEntry
from cloud.maintenance.alerts.models import MaintenanceAlert, SilenceRow
from cloud.maintenance.plans.models import MaintenancePlan
from cloud.maintenance.tickets.models import MaintenanceTicket, ServiceArea, TicketEvent
from cloud.maintenance.visits.models import RouteStop
from cloud.maintenance.webhooks.models import Webhook
from cloud.maintenance.windows.models import MaintenanceWindow
from cloud.messaging.models import OutgoingSequence
from cloud.network.models import ActiveAlarm, JobProgress, MachineState, UnitBirthMark, UnitPresence
from cloud.notifications.models import NotificationPreference
from cloud.opportunities.models import Opportunity, OpportunityEvent, OpportunityProcess
from cloud.orders.models import DeliveredProduct, Order, OrderOperation, Quote
from cloud.products.models import ServiceContract
from cloud.registry.models import Machine, Network, Technician, TransportTime, Unit
from cloud.suppliers.models import PurchaseRequest, Supplier, SupplierOffer
from cloud.telemetry.models import LatestMetric, MetricRollup, TelemetryChunk

__all__ = [
    "ActiveAlarm",
    "Base",
    "Configuration",
    "ConfigurationRevision",
    "Consortium",
    "ConsortiumMember",
    "ConsortiumQuote",
    "ConsortiumRevision",
    "DeliveredProduct",
    "Invitation",
    "JobProgress",
    "LatestMetric",
    "LedgerEntry",
    "Machine",
    "MachineState",
    "MaintenanceAlert",
    "MaintenancePlan",
    "MaintenanceTicket",
    "MaintenanceWindow",
    "MetricRollup",
    "Network",
    "NotificationPreference",
    "Opportunity",
    "OpportunityEvent",
    "OpportunityProcess",
    "Order",
    "OrderOperation",
    "OutgoingSequence",
    "Principal",
    "PurchaseRequest",
    "Quote",
    "RouteStop",
    "SchedulerState",
    "SeenMessage",
    "ServiceArea",
    "ServiceContract",
    "SignInFailure",
    "SilenceRow",
    "Supplier",
    "SupplierOffer",
    "Technician",
    "TelemetryChunk",
    "TermsAcceptance",
    "TicketEvent",
    "TransportTime",
    "Unit",
    "UnitBirthMark",
    "UnitPresence",
    "WebSession",
    "Webhook",
    "WorkInvitation",
]
