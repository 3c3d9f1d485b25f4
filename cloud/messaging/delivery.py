"""Delivering the outbox: MQTT messages with the broker's acknowledgement, webhooks by POST,
emails over SMTP (:mod:`cloud.messaging.email`).

Rows are read in one transaction and claimed (``next_attempt_at`` moved ahead, skipping rows
another coordinator process holds), sent outside any transaction, and their outcome written in
another, so that neither the broker nor a slow webhook holds the database.

An MQTT message counts as sent once the broker acknowledged it (QoS 1 PUBACK); until then it
stays pending and is tried again, for as long as the broker is away (backoff capped at
:data:`~cloud.messaging.models.MQTT_RETRY_MAX`). Delivery is at least once: a coordinator killed
between the PUBACK and the commit of "sent" publishes the message again when its claim expires,
with the same message id, which the gateway de-duplicates (a repeated dispatch is harmless by the
contract).
A webhook or an email is given up after the policy's attempts; the row is then ``failed`` and
the domain that wrote it is told (:data:`FailureHook`: maintenance writes the ticket's
timeline). Emails go out after the round's MQTT messages, over one SMTP connection.

:class:`OutboxDelivery` is the background service: it runs a round when woken (a domain wrote
rows in this process) and otherwise every ``poll_s`` (rows written by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.database import transaction, utcnow
from cloud.events import EventBroadcaster
from cloud.exceptions import CloudError
from cloud.messaging import outbox
from cloud.messaging.email import Email, Mailer
from cloud.messaging.models import (
    GIVEN_UP_AFTER_ATTEMPTS,
    Channel,
    DeliveryStatus,
    OutboxMessage,
    RetryPolicy,
)
from cloud.messaging.mqtt import Outbound
from cloud.operations.metrics import Metrics
from cloud.operations.supervision import cancel_all, supervise

_LOGGER = logging.getLogger(__name__)
Event = dict[str, Any]
Publisher = Callable[[Sequence[Outbound]], list[str | None]]
"""Publish messages (QoS 1) and wait for the broker's acknowledgements: per message None when
acknowledged, else why not (broker away, no PUBACK in time)."""
FailureHook = Callable[[Session, OutboxMessage, datetime], list[Event]]
"""What the domain that wrote a message does when it is given up, in the same transaction."""
BATCH = 100
CLAIM = timedelta(minutes=2)
"""How long a claimed row is left to the process that claimed it (more than any attempt)."""
DEFAULT_POLL_S = 1.0
PRUNE_EVERY = timedelta(minutes=1)
PRUNE_BATCH = 500
"""Sent messages deleted per transaction (the write lock is held that long)."""
PRUNE_BATCHES = 20
"""Transactions per round at most: a large backlog of old messages is pruned over several
rounds, between which the delivery goes on."""
WEBHOOK_HEADERS = {"content-type": "application/json", "user-agent": "glonet-coordinator"}


@dataclass(frozen=True)
class _Attempt:
    id: int
    channel: Channel
    target: str
    topic: str | None
    payload: str
    attempts: int


def deliver_due(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    publish: Publisher | None,
    http: httpx.Client,
    policy: RetryPolicy,
    on_failed: Mapping[str, FailureHook] | None = None,
    metrics: Metrics | None = None,
    mailer: Mailer | None = None,
) -> list[Event]:
    """Attempt every message due at ``now``; the live events of messages given up."""
    due = _claim(session_factory, now)
    if not due:
        return []
    published = [a for a in due if a.channel not in (Channel.WEBHOOK, Channel.EMAIL)]
    outcomes = dict(_publish_all(published, publish))
    outcomes.update(_mail_all([a for a in due if a.channel is Channel.EMAIL], mailer))
    for attempt in due:
        if attempt.channel is Channel.WEBHOOK:
            outcomes[attempt.id] = _post(http, attempt.target, attempt.payload)
    if metrics is not None:
        for attempt in due:
            outcome = "sent" if outcomes[attempt.id] is None else "failed"
            metrics.outbox_attempts.inc(1, channel=attempt.channel.value, outcome=outcome)
    with transaction(session_factory) as session:
        return [
            event
            for attempt in due
            for event in _record(session, attempt, outcomes[attempt.id], now, policy, on_failed)
        ]


def _claim(session_factory: sessionmaker[Session], now: datetime) -> list[_Attempt]:
    with transaction(session_factory) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == DeliveryStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        due = []
        for row in rows:
            row.next_attempt_at = now + CLAIM  # another process skips it meanwhile
            due.append(
                _Attempt(row.id, row.channel, row.target, row.topic, row.payload, row.attempts)
            )
        return due


def _publish_all(
    attempts: Sequence[_Attempt], publish: Publisher | None
) -> list[tuple[int, str | None]]:
    """Publish in id order (a unit's commands arrive in the order they were decided)."""
    if not attempts:
        return []
    if publish is None:
        return [(a.id, "no MQTT connection configured") for a in attempts]
    outbound = [Outbound(a.topic or "", a.payload.encode()) for a in attempts]
    errors = publish(outbound)
    return [(a.id, error) for a, error in zip(attempts, errors, strict=True)]


def _mail_all(attempts: Sequence[_Attempt], mailer: Mailer | None) -> list[tuple[int, str | None]]:
    """Send the round's emails over one SMTP connection."""
    if not attempts:
        return []
    if mailer is None:
        return [(a.id, "no SMTP server configured (smtp.host)") for a in attempts]
    emails, readable = [], []
    outcomes: list[tuple[int, str | None]] = []
    for attempt in attempts:
        try:
            emails.append(Email.decode(attempt.payload))
            readable.append(attempt)
        except ValueError as exc:  # a row no sender can send: given up after its attempts
            outcomes.append((attempt.id, f"unreadable email: {exc}"[:500]))
    errors = mailer.send(emails)
    outcomes += [(a.id, error) for a, error in zip(readable, errors, strict=True)]
    return outcomes


def _post(http: httpx.Client, url: str, payload: str) -> str | None:
    try:
        response = http.post(url, content=payload, headers=WEBHOOK_HEADERS)
    except httpx.HTTPError as exc:
        return f"{exc.__class__.__name__}: {exc}"[:500]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


def _record(
    session: Session,
    attempt: _Attempt,
    error: str | None,
    now: datetime,
    policy: RetryPolicy,
    on_failed: Mapping[str, FailureHook] | None,
) -> list[Event]:
    row = session.get(OutboxMessage, attempt.id)
    if row is None:
        return []
    row.attempts = attempt.attempts + 1
    if error is None:
        row.status, row.sent_at, row.last_error = DeliveryStatus.SENT, now, None
        return []
    row.last_error = error[:500]
    if attempt.channel not in GIVEN_UP_AFTER_ATTEMPTS or row.attempts < policy.max_attempts:
        row.next_attempt_at = now + policy.delay(row.attempts, attempt.channel)
        return []
    row.status = DeliveryStatus.FAILED
    hook = (on_failed or {}).get(row.origin)
    return hook(session, row, now) if hook is not None else []


class OutboxDelivery:
    """The background service that delivers the outbox (see the module's docstring)."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        publish: Publisher | None,
        broadcaster: EventBroadcaster | None = None,
        policy: RetryPolicy | None = None,
        on_failed: Mapping[str, FailureHook] | None = None,
        http: httpx.Client | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        poll_s: float = DEFAULT_POLL_S,
        webhook_timeout_s: float = 5.0,
        wake_on: frozenset[str] = frozenset(),
        keep_sent: timedelta | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        """``wake_on``: types of live events after which a round runs at once (a domain that
        wrote rows and broadcast what it did); ``poll_s`` otherwise. ``keep_sent``: how long
        sent messages are kept (pruned every :data:`PRUNE_EVERY`); None: for ever."""
        self._session_factory = session_factory
        self._publish = publish
        self._broadcaster = broadcaster
        self._policy = policy or RetryPolicy()
        self._on_failed = dict(on_failed or {})
        self._http = http or httpx.Client(timeout=webhook_timeout_s)
        self._metrics = metrics
        self._clock = clock
        self._poll_s = poll_s
        self._wake_on = wake_on
        self._keep_sent = keep_sent
        self._next_prune: datetime | None = None
        self._mailer = mailer
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def run_once(self) -> list[Event]:
        """One round (blocking): every message due now."""
        events = deliver_due(
            self._session_factory,
            now=self._clock(),
            publish=self._publish,
            http=self._http,
            policy=self._policy,
            on_failed=self._on_failed,
            metrics=self._metrics,
            mailer=self._mailer,
        )
        if self._metrics is not None:
            with transaction(self._session_factory) as session:
                for status, count in outbox.unsent_counts(session=session).items():
                    self._metrics.outbox_messages.set(count, status=status)
        self._prune_when_due()
        return events

    def _prune_when_due(self) -> None:
        if self._keep_sent is None:
            return
        now = self._clock()
        if self._next_prune is not None and now < self._next_prune:
            return
        pruned = self.prune(now - self._keep_sent)
        # A backlog left over: go on at the next round.
        done = pruned < PRUNE_BATCH * PRUNE_BATCHES
        self._next_prune = now + PRUNE_EVERY if done else now

    def prune(self, before: datetime) -> int:
        """Delete messages sent before ``before``, :data:`PRUNE_BATCH` per transaction and
        :data:`PRUNE_BATCHES` transactions at most; how many (blocking)."""
        pruned = 0
        for _ in range(PRUNE_BATCHES):
            with transaction(self._session_factory) as session:
                count = outbox.prune_sent(session=session, before=before, limit=PRUNE_BATCH)
            pruned += count
            if self._metrics is not None:
                self._metrics.outbox_pruned.inc(count)
            if count < PRUNE_BATCH:
                break
        return pruned

    def wake(self) -> None:
        """Deliver now (rows were just committed); safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(supervise("outbox-delivery", self._run, metrics=self._metrics))
        ]
        if self._wake_on and self._broadcaster is not None:
            self._tasks.append(
                asyncio.create_task(supervise("outbox-listen", self._listen, metrics=self._metrics))
            )

    async def stop(self) -> None:
        await cancel_all(self._tasks, name="outbox delivery")
        self._tasks = []
        self._loop = None
        self._http.close()

    async def _listen(self) -> None:
        assert self._broadcaster is not None
        async with self._broadcaster.subscribe(types=self._wake_on) as queue:
            while True:
                event = await queue.get()
                if event.get("type") in self._wake_on:
                    self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                events = await asyncio.to_thread(self.run_once)
            except CloudError as exc:  # the database away: the next round tries again
                _LOGGER.warning("outbox delivery round failed: %s", exc.message)
                events = []
            for event in events:
                if self._broadcaster is not None:
                    self._broadcaster.publish(event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            self._wake.clear()
