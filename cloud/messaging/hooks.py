"""How domains react to what the ingest applied, without the ingest knowing them.

The ingest calls each hook with a batch's fresh (de-duplicated, registered) messages in the
batch's own transaction; a hook returns live events. Dispatch follows its operations' job
events, maintenance turns alarms, unit states and technicians' replies into alerts and tickets.
The process that wires the coordinator together registers them in an :class:`IngestHooks`;
neither side imports the other.

An :class:`IngestHooks` holds *factories*, not hooks: a batch may be applied in a child process
(``ingest.isolation: process``), which builds its own hooks from the registry it was sent, so a
factory must be picklable (a module-level function or a ``functools.partial`` of one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cloud.events import Event
from protocols import messages, topics


@dataclass(frozen=True, slots=True)
class Decoded:
    """An inbound message that passed validation, with its parsed topic."""

    topic: topics.Topic
    message: messages.Envelope
    clock_ahead_s: float | None = None
    """Set when the sender's clock ran ahead (an alarm, a job event or a capacity report with a
    time beyond the allowed skew): by how much; its times were moved back by as much."""


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    """What a hook sees of a batch: its fresh messages in arrival order, and the job events
    that were newer than the stored state (``(unit_id, event)``), in order."""

    fresh: Sequence[Decoded]
    job_events: Sequence[tuple[str, messages.JobEvent]] = ()


BatchHook = Callable[[Session, AppliedBatch], list[Event]]
"""A domain's reaction to a batch, in the batch's transaction; its live events."""
HookFactory = Callable[[], BatchHook]


@dataclass
class IngestHooks:
    """The registry of the domains' batch hooks, called in the order they were registered."""

    factories: list[HookFactory] = field(default_factory=list)

    def register(self, factory: HookFactory) -> None:
        self.factories.append(factory)

    def build(self) -> list[BatchHook]:
        return [factory() for factory in self.factories]


def run(hooks: Sequence[BatchHook], session: Session, batch: AppliedBatch) -> list[Event]:
    """Every hook on ``batch``, in order; their events together."""
    return [event for hook in hooks for event in hook(session, batch)]
