"""The dispatcher's live events: what the plan, network and order pages hear after a tick."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import field_serializer

from cloud.events import BroadcastEvent
from cloud.orders.models import OrderStatus


class Replanned(BroadcastEvent):
    """The network's plan was made again."""

    type: Literal["plan"] = "plan"
    planned_at: datetime

    @field_serializer("planned_at")
    def _iso(self, planned_at: datetime) -> str:
        return planned_at.isoformat()  # as the pages have always read it (``+00:00``, not ``Z``)


class Dispatched(BroadcastEvent):
    """An operation was sent to a plant's machine as a job order."""

    type: Literal["dispatch"] = "dispatch"
    unit_id: str
    machine: str | None
    job_order_id: str | None
    order_id: str


class OrderMoved(BroadcastEvent):
    """An order moved on from its operations' states (in production, completed)."""

    type: Literal["order"] = "order"
    order_id: str
    status: OrderStatus
    customer_id: str


TickEvent = Replanned | Dispatched | OrderMoved
